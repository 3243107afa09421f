/*
 * store_sqlite_stmt: how the SQLite backend runs its SQL: the statements, prepared once and
 * cached (the stakeholders' built from sh_field_names), every value bound with its length
 * (never put into SQL text), rows read, and the transactions (the caller's, and the
 * savepoints that make an operation of several statements atomic).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* ---- statements ---- */

static const char *const fixed_sql[ST__N] = {
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
	                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_SHF_DEL] = "DELETE FROM stakeholder_fields WHERE stakeholder_id = ?1",
	[ST_SHF_PUT] = "INSERT INTO stakeholder_fields(stakeholder_id, name, value, ord) VALUES(?1, ?2, ?3, ?4) "
	               "ON CONFLICT(stakeholder_id, name) DO UPDATE SET value = excluded.value, ord = excluded.ord",
	[ST_SHF_GET] = "SELECT name, value FROM stakeholder_fields WHERE stakeholder_id = ?1 ORDER BY ord, name",
	[ST_SHF_ALL] = "SELECT stakeholder_id, name, value FROM stakeholder_fields ORDER BY stakeholder_id, ord, name",
	[ST_SHF_NAMES] = "SELECT DISTINCT name FROM stakeholder_fields ORDER BY name",
	[ST_EV_PUT] = "INSERT INTO events(stakeholder_id, kind, date, title, details) VALUES(?1, ?2, ?3, ?4, ?5) "
	              "ON CONFLICT(stakeholder_id, kind, date) DO UPDATE SET title = excluded.title, "
	              "details = excluded.details",
	[ST_EV_ALL] = "SELECT stakeholder_id, kind, date, title, details FROM events ORDER BY stakeholder_id, date, kind, id",
	[ST_EV_OF] = "SELECT stakeholder_id, kind, date, title, details FROM events WHERE stakeholder_id = ?1 "
	             "ORDER BY date, kind, id",
	[ST_DS_CLAIM] = "INSERT INTO dispatches(" DS_MUTABLE ", rule, stakeholder, occasion_date, created_at, updated_at, "
	                "handled_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
	                "?17, ?18, ?19, ?20, ?20, ?21) ON CONFLICT(rule, stakeholder, occasion_date) DO NOTHING",
	[ST_DS_UPDATE] = "UPDATE dispatches SET fire_date = ?1, fire_at = ?2, channel = ?3, status = ?4, reason = ?5, "
	                 "attempts = ?6, error = ?7, artifact = ?8, page = ?9, message_id = ?10, signer = ?11, "
	                 "cost_cents = ?12, template = ?13, next_attempt_at = ?14, data_sent = ?15, "
	                 "last_reply = ?16, updated_at = ?17 WHERE id = ?18",
	[ST_DS_DELETE] = "DELETE FROM dispatches WHERE id = ?1",
	[ST_DS_GET] = "SELECT " DS_COLS " FROM dispatches WHERE id = ?1",
	/* The ids one import has written so far (temp.import_ids exists while it runs). */
	[ST_IMP_SEEN] = "INSERT INTO temp.import_ids(id, line) VALUES(?1, ?2) ON CONFLICT(id) DO NOTHING",
	[ST_IMP_LINE] = "SELECT line FROM temp.import_ids WHERE id = ?1",
	[ST_IMP_SAVE] = "SAVEPOINT import_row",
	[ST_IMP_RELEASE] = "RELEASE import_row",
	[ST_IMP_UNDO] = "ROLLBACK TO import_row",
};

const char *sqi_db_msg(const struct store_be *st)
{
	return sqlite3_errmsg(st->db);
}

/* stakeholder_sql: the statements over the standard columns, built from sh_field_names. */
static char *stakeholder_sql(enum stmt_id id)
{
	struct strbuf sb = {0};
	int i;
	if (id == ST_SH_PUT) {
		/*
		 * ?1..?24 the fields, ?25 updated_at, ?26 the mask of columns to write on update:
		 * a partial CSV leaves the stored values of its absent columns alone.
		 */
		sb_adds(&sb, "INSERT INTO stakeholders(");
		for (i = 0; i < SH_NFIELDS; i++)
			sb_addf(&sb, "%s, ", sh_field_names[i]);
		sb_adds(&sb, "updated_at) VALUES(");
		for (i = 1; i <= SH_NFIELDS + 1; i++)
			sb_addf(&sb, "?%d%s", i, i <= SH_NFIELDS ? ", " : ")");
		sb_adds(&sb, " ON CONFLICT(id) DO UPDATE SET ");
		for (i = 1; i < SH_NFIELDS; i++)
			sb_addf(&sb, "%s = CASE WHEN ?%d & %lu THEN excluded.%s ELSE %s END, ", sh_field_names[i],
			        SH_NFIELDS + 2, 1ul << i, sh_field_names[i], sh_field_names[i]);
		sb_adds(&sb, "updated_at = excluded.updated_at");
	} else {
		sb_adds(&sb, "SELECT ");
		for (i = 0; i < SH_NFIELDS; i++)
			sb_addf(&sb, "%s%s", sh_field_names[i], i + 1 < SH_NFIELDS ? ", " : "");
		sb_adds(&sb, id == ST_SH_GET ? " FROM stakeholders WHERE id = ?1" : " FROM stakeholders ORDER BY id");
	}
	return sb_detach(&sb);
}

int sqi_prepare(struct store_be *st, const char *sql, sqlite3_stmt **out, char why[ERR_LEN])
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return err_set(why, "cannot prepare a statement: %s", sqi_db_msg(st));
	return 0;
}

/* sqi_stmt: the cached statement id, prepared on first use; NULL with the reason in why. */
sqlite3_stmt *sqi_stmt(struct store_be *st, enum stmt_id id, char why[ERR_LEN])
{
	if (!st->stmts[id]) {
		char *built = NULL;
		const char *sql = fixed_sql[id];
		int rc;
		if (!sql)
			sql = built = stakeholder_sql(id);
		rc = sqi_prepare(st, sql, &st->stmts[id], why);
		free(built);
		if (rc < 0)
			return NULL;
	}
	return st->stmts[id];
}

/* sqi_stmt_done: makes a statement ready for its next use (and releases its read snapshot). */
void sqi_stmt_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* ---- binding, rows ---- */

struct binder sqi_binder(sqlite3_stmt *s)
{
	return (struct binder){s, SQLITE_OK};
}

void sqi_bind_text(struct binder *b, int i, const char *v)
{
	size_t n;
	if (b->rc != SQLITE_OK)
		return;
	if (!v)
		v = "";
	n = strlen(v);
	b->rc = n > INT_MAX ? SQLITE_TOOBIG : sqlite3_bind_text(b->s, i, v, (int)n, SQLITE_STATIC);
}

void sqi_bind_int(struct binder *b, int i, int64_t v)
{
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->s, i, v);
}

/* sqi_run: executes a statement that returns no rows, then resets it. */
int sqi_run(struct store_be *st, struct binder *b, char why[ERR_LEN])
{
	int rc = b->rc;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(b->s);
		if (rc != SQLITE_DONE)
			util_strlcpy(why, sqi_db_msg(st), ERR_LEN);
	} else {
		util_strlcpy(why, sqlite3_errstr(rc), ERR_LEN);
	}
	sqi_stmt_done(b->s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* sqi_next_row: 1 for a row, 0 at the end (statement reset), -1 with why (statement reset). */
int sqi_next_row(struct store_be *st, struct binder *b, char why[ERR_LEN])
{
	int rc = b->rc;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(b->s);
		if (rc == SQLITE_ROW)
			return 1;
		if (rc != SQLITE_DONE)
			util_strlcpy(why, sqi_db_msg(st), ERR_LEN);
	} else {
		util_strlcpy(why, sqlite3_errstr(rc), ERR_LEN);
		b->rc = SQLITE_OK;
	}
	sqi_stmt_done(b->s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int sqi_exec(struct store_be *st, const char *sql, char why[ERR_LEN])
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return err_set(why, "%s", sqi_db_msg(st));
	return 0;
}

/* sqi_col_dup: a text column as a new string; "" for NULL. */
char *sqi_col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return xstrndup(t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(s, i) : 0);
}

/* sqi_grow: makes room for one more element of size in *v (holding n of *cap). */
void *sqi_grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 32;
	return xreallocarray(v, *cap, size);
}

/* sqi_pragma_int: the integer a one-row query returns. */
int sqi_pragma_int(struct store_be *st, const char *sql, int *out, char why[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	else
		err_set(why, "%s", sqi_db_msg(st));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- transactions ---- */

int sqi_tx_enter(struct store_be *st, enum tx_mode *mode, char why[ERR_LEN])
{
	*mode = sqlite3_get_autocommit(st->db) ? TX_OWN : TX_SAVEPOINT;
	return sqi_exec(st, *mode == TX_OWN ? "BEGIN IMMEDIATE" : "SAVEPOINT store_op", why);
}

/* sqi_tx_leave: commits when ok, else rolls back (inside a caller's transaction: only this operation). */
int sqi_tx_leave(struct store_be *st, enum tx_mode mode, int ok, char why[ERR_LEN])
{
	if (ok && sqi_exec(st, mode == TX_OWN ? "COMMIT" : "RELEASE store_op", why) == 0)
		return 0;
	/* After some errors SQLite has already rolled the whole transaction back: ignore failures here. */
	if (mode == TX_SAVEPOINT)
		sqlite3_exec(st->db, "ROLLBACK TO store_op; RELEASE store_op", NULL, NULL, NULL);
	else
		sqi_rollback(st);
	return -1;
}

int sqi_begin(struct store_be *st, char why[ERR_LEN])
{
	return sqi_exec(st, "BEGIN IMMEDIATE", why);
}

void sqi_rollback(struct store_be *st)
{
	if (st && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int sqi_commit(struct store_be *st, char why[ERR_LEN])
{
	if (sqi_exec(st, "COMMIT", why) == 0)
		return 0;
	/* A failed COMMIT can leave the transaction open: close it, so that nothing half-done lingers. */
	sqi_rollback(st);
	return -1;
}
