/*
 * store_pg_conn: how the PostgreSQL backend talks to the server: connections with the
 * store's session settings, the statements (cached per connection, values only as
 * parameters), libpq's results and messages made one line, and the transactions (the
 * caller's, and the savepoints that make an operation of several statements atomic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* ---- statements ---- */

static const char *const fixed_sql[ST__N] = {
	[ST_META_GET] = "SELECT value FROM meta WHERE key = $1",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_SH_GET] = "SELECT " SH_COLS " FROM stakeholders WHERE id = $1",
	[ST_SHF_DEL] = "DELETE FROM stakeholder_fields WHERE stakeholder_id = $1",
	[ST_SHF_PUT] = "INSERT INTO stakeholder_fields(stakeholder_id, name, value, ord) VALUES($1, $2, $3, $4) "
	               "ON CONFLICT(stakeholder_id, name) DO UPDATE SET value = excluded.value, ord = excluded.ord",
	[ST_SHF_GET] = "SELECT name, value FROM stakeholder_fields WHERE stakeholder_id = $1 ORDER BY ord, name",
	/* Unknown stakeholder: no row, not an error (which would abort the caller's transaction). */
	[ST_EV_PUT] = "INSERT INTO events(stakeholder_id, kind, date, title, details) "
	              "SELECT $1::text, $2::text, $3::text, $4::text, $5::text "
	              "WHERE EXISTS (SELECT 1 FROM stakeholders WHERE id = $1::text) "
	              "ON CONFLICT(stakeholder_id, kind, date) DO UPDATE SET title = excluded.title, "
	              "details = excluded.details",
	[ST_EV_OF] = "SELECT stakeholder_id, kind, date, title, details FROM events WHERE stakeholder_id = $1 "
	             "ORDER BY date, kind, id",
	/* A claim is its owner's until its lease runs out ($22 seconds from the server's clock). */
	[ST_DS_CLAIM] = "INSERT INTO dispatches(" DS_MUTABLE ", rule, stakeholder, occasion_date, created_at, updated_at, "
	                "handled_by, lease_until) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
	                "$15, $16, $17, $18, $19, $20, $20, $21, clock_timestamp() + $22::float8 * interval '1 second') "
	                "ON CONFLICT(rule, stakeholder, occasion_date) DO NOTHING RETURNING id",
	[ST_DS_UPDATE] = "UPDATE dispatches SET fire_date = $1, fire_at = $2, channel = $3, status = $4, reason = $5, "
	                 "attempts = $6, error = $7, artifact = $8, page = $9, message_id = $10, signer = $11, "
	                 "cost_cents = $12, template = $13, next_attempt_at = $14, data_sent = $15, "
	                 "last_reply = $16, updated_at = $17 WHERE id = $18",
	[ST_DS_DELETE] = "DELETE FROM dispatches WHERE id = $1",
	[ST_DS_GET] = "SELECT " DS_COLS " FROM dispatches WHERE id = $1",
	[ST_IMP_SEEN] = "INSERT INTO pg_temp.import_ids(id, line) VALUES($1, $2) ON CONFLICT(id) DO NOTHING",
	[ST_IMP_LINE] = "SELECT line FROM pg_temp.import_ids WHERE id = $1",
	[ST_IMP_SEEN_BULK] = "INSERT INTO pg_temp.import_ids(id, line) SELECT * FROM unnest($1::text[], $2::bigint[])",
	[ST_IMP_BULK_F] = "INSERT INTO stakeholder_fields(stakeholder_id, name, value, ord) "
	                  "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[]) "
	                  "ON CONFLICT(stakeholder_id, name) DO UPDATE SET value = excluded.value, ord = excluded.ord",
};

/*
 * sh_put_sql: the upsert of one stakeholder ($1..$24 the fields), or with bulk of many ($1..$24
 * arrays of the fields, one element a stakeholder); $25 updated_at, $26 the mask of the
 * columns an update writes (a partial CSV leaves the others alone).
 */
static char *sh_put_sql(int bulk)
{
	struct strbuf sb = {0};
	int i;
	sb_adds(&sb, "INSERT INTO stakeholders(" SH_COLS ", updated_at) ");
	sb_adds(&sb, bulk ? "SELECT u.*, $25::bigint FROM unnest(" : "VALUES(");
	for (i = 1; i <= SH_NFIELDS; i++)
		sb_addf(&sb, "%s$%d%s", i > 1 ? ", " : "", i, bulk ? "::text[]" : "");
	sb_adds(&sb, bulk ? ") AS u" : ", $25)");
	sb_adds(&sb, " ON CONFLICT(id) DO UPDATE SET ");
	for (i = 1; i < SH_NFIELDS; i++)
		sb_addf(&sb, "%s = CASE WHEN ($%d::bigint & %lu) <> 0 THEN excluded.%s ELSE stakeholders.%s END, ",
		        sh_field_names[i], SH_NFIELDS + 2, 1ul << i, sh_field_names[i], sh_field_names[i]);
	sb_adds(&sb, "updated_at = excluded.updated_at");
	return sb_detach(&sb);
}

/* ---- results and messages ---- */

/* pgi_one_line: libpq's message (which may span lines, end in one) as one line into why. */
int pgi_one_line(char why[ERR_LEN], const char *msg)
{
	size_t j = 0;
	int space = 0;
	if (!msg || !*msg)
		msg = "unknown error";
	for (const char *p = msg; *p && j + 1 < ERR_LEN; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
			space = j > 0;
			continue;
		}
		if (space && j + 2 < ERR_LEN)
			why[j++] = ' ';
		space = 0;
		why[j++] = *p;
	}
	why[j] = '\0';
	/* "ERROR:  " and "FATAL:  " add nothing a user needs. */
	if (strncmp(why, "ERROR: ", 7) == 0 || strncmp(why, "FATAL: ", 7) == 0)
		memmove(why, why + 7, strlen(why + 7) + 1);
	return -1;
}

int pgi_conn_err(PGconn *c, char why[ERR_LEN])
{
	return pgi_one_line(why, PQerrorMessage(c));
}

/* pgi_ok: whether r succeeded (PGRES_COMMAND_OK or TUPLES_OK); else why, and r is cleared. */
int pgi_ok(PGconn *c, PGresult *r, char why[ERR_LEN])
{
	ExecStatusType s = PQresultStatus(r);
	if (r && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK))
		return 1;
	/* The primary message alone: the rest (LINE 1: ..., a caret) does not fit one line. */
	if (r && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
		pgi_one_line(why, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	else
		pgi_conn_err(c, why);
	PQclear(r);
	return 0;
}

/* ---- running statements ---- */

int pgi_exec(struct store_be *st, const char *sql, char why[ERR_LEN])
{
	PGresult *r = PQexec(st->conn, sql);
	if (!pgi_ok(st->conn, r, why))
		return -1;
	PQclear(r);
	return 0;
}

/* pgi_q: runs the cached statement id with n text parameters; the result (caller clears) or NULL with why. */
PGresult *pgi_q(struct store_be *st, enum stmt_id id, int n, const char *const *vals, char why[ERR_LEN])
{
	char name[16];
	PGresult *r;
	snprintf(name, sizeof name, "occ%d", (int)id);
	if (!st->prepared[id]) {
		char *built = fixed_sql[id] ? NULL : sh_put_sql(id == ST_IMP_BULK);
		r = PQprepare(st->conn, name, built ? built : fixed_sql[id], 0, NULL);
		free(built);
		if (!pgi_ok(st->conn, r, why))
			return NULL;
		PQclear(r);
		st->prepared[id] = 1;
	}
	r = PQexecPrepared(st->conn, name, n, vals, NULL, NULL, 0);
	return pgi_ok(st->conn, r, why) ? r : NULL;
}

/* pgi_qv: runs sql (not cached) with n text parameters. */
PGresult *pgi_qv(struct store_be *st, const char *sql, int n, const char *const *vals, char why[ERR_LEN])
{
	PGresult *r = PQexecParams(st->conn, sql, n, NULL, vals, NULL, NULL, 0);
	return pgi_ok(st->conn, r, why) ? r : NULL;
}

char *pgi_val_dup(const PGresult *r, int row, int col)
{
	return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t pgi_val_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pgi_changed_rows(PGresult *r)
{
	return (int)strtol(PQcmdTuples(r), NULL, 10);
}

/* ---- transactions ---- */

int pgi_in_tx(const struct store_be *st)
{
	return PQtransactionStatus(st->conn) != PQTRANS_IDLE;
}

/* pgi_wrote: a write succeeded: others hear of it at its commit (now, when it committed on its own). */
void pgi_wrote(struct store_be *st)
{
	if (pgi_in_tx(st)) {
		st->notify = 1;
	} else {
		PGresult *r = PQexec(st->conn, "NOTIFY " PG_CHANNEL);
		PQclear(r);
	}
}

int pgi_begin(struct store_be *st, char why[ERR_LEN])
{
	st->notify = 0;
	return pgi_exec(st, "BEGIN", why);
}

void pgi_rollback(struct store_be *st)
{
	if (st && st->conn && pgi_in_tx(st)) {
		PGresult *r = PQexec(st->conn, "ROLLBACK");
		PQclear(r);
	}
	if (st)
		st->notify = 0;
}

int pgi_commit(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r;
	if (st->notify && pgi_exec(st, "NOTIFY " PG_CHANNEL, why) < 0) {
		pgi_rollback(st);
		return -1;
	}
	st->notify = 0;
	r = PQexec(st->conn, "COMMIT");
	if (!pgi_ok(st->conn, r, why)) {
		pgi_rollback(st);
		return -1;
	}
	/* COMMIT of a transaction that an earlier error aborted answers ROLLBACK, without an error. */
	if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		PQclear(r);
		return err_set(why, "the transaction was rolled back after an earlier error");
	}
	PQclear(r);
	return 0;
}

int pgi_tx_enter(struct store_be *st, enum tx_mode *mode, char why[ERR_LEN])
{
	*mode = pgi_in_tx(st) ? TX_SAVEPOINT : TX_OWN;
	if (*mode == TX_OWN)
		return pgi_begin(st, why);
	return pgi_exec(st, "SAVEPOINT store_op", why);
}

int pgi_tx_leave(struct store_be *st, enum tx_mode mode, int good, char why[ERR_LEN])
{
	if (good && mode == TX_OWN)
		return pgi_commit(st, why);
	if (good && pgi_exec(st, "RELEASE store_op", why) == 0)
		return 0;
	if (mode == TX_SAVEPOINT) {
		PGresult *r = PQexec(st->conn, "ROLLBACK TO store_op");
		PQclear(r);
		r = PQexec(st->conn, "RELEASE store_op");
		PQclear(r);
	} else {
		pgi_rollback(st);
	}
	return -1;
}

/* ---- connections ---- */

static void quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* pgi_connect: a new connection to uri with the store's session settings, or NULL with why. */
PGconn *pgi_connect(const char *uri, const char *name, char why[ERR_LEN])
{
	/*
	 * Unless the URI says otherwise: a server that does not answer is given up after 10 s,
	 * and a TCP peer gone silent (a cut network) is found out within about a minute, so that
	 * the daemon's watch and its next pass notice.
	 */
	const char *const keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
	                            "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"10", "30", "10", "3", "occasiond", uri, NULL};
	char msg[ERR_LEN];
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	PGresult *r;

	if (!c) {
		err_set(why, "cannot connect to %s: out of memory", name);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pgi_conn_err(c, msg);
		err_set(why, "cannot connect to %s: %s", name, msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet_notices, NULL);
	r = PQexec(c, "SET search_path = " PG_SCHEMA "; SET client_min_messages = warning; SET TIME ZONE 'UTC'");
	if (!pgi_ok(c, r, msg)) {
		err_set(why, "cannot set up the session on %s: %s", name, msg);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}
