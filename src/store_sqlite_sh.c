/*
 * store_sqlite_sh: the SQLite backend's stakeholders (with their custom fields), their events
 * and the opt-out, one call at a time (the bulk import: store_sqlite_import.c; the scan:
 * store_sqlite_scan.c).
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* ---- stakeholders ---- */

/* put_custom: the custom fields of sh. */
static int put_custom(struct store_be *st, const struct stakeholder *sh, char why[ERR_LEN])
{
	sqlite3_stmt *s;
	struct binder b;
	if (!sh->present) {
		/* A whole stakeholder: its custom set replaces the stored one. */
		if (!(s = sqi_stmt(st, ST_SHF_DEL, why)))
			return -1;
		b = sqi_binder(s);
		sqi_bind_text(&b, 1, sh->f[SH_ID]);
		if (sqi_run(st, &b, why) < 0)
			return -1;
	}
	if (!(s = sqi_stmt(st, ST_SHF_PUT, why)))
		return -1;
	for (size_t i = 0; i < sh->ncustom; i++) {
		b = sqi_binder(s);
		sqi_bind_text(&b, 1, sh->f[SH_ID]);
		sqi_bind_text(&b, 2, sh->custom[i].key);
		sqi_bind_text(&b, 3, sh->custom[i].value);
		sqi_bind_int(&b, 4, (int64_t)i);
		if (sqi_run(st, &b, why) < 0)
			return -1;
	}
	return 0;
}

/* sqi_put_rows: the stakeholder's row and its custom fields, inside the caller's transaction. */
int sqi_put_rows(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	/* Columns written on update: those the row had, or all of them. */
	int64_t mask = sh->present ? (int64_t)sh->present : (int64_t)((1ul << SH_NFIELDS) - 1);
	sqlite3_stmt *s = sqi_stmt(st, ST_SH_PUT, why);
	struct binder b;
	if (!s)
		return -1;
	b = sqi_binder(s);
	for (int i = 0; i < SH_NFIELDS; i++)
		sqi_bind_text(&b, i + 1, sh->f[i]);
	sqi_bind_int(&b, SH_NFIELDS + 1, now);
	sqi_bind_int(&b, SH_NFIELDS + 2, mask);
	return sqi_run(st, &b, why) == 0 && put_custom(st, sh, why) == 0 ? 0 : -1;
}

int sqi_sh_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	enum tx_mode mode;
	if (sqi_tx_enter(st, &mode, why) < 0)
		return -1;
	return sqi_tx_leave(st, mode, sqi_put_rows(st, sh, now, why) == 0, why);
}

static void read_stakeholder(sqlite3_stmt *s, struct stakeholder *sh)
{
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh->f[i] = sqi_col_dup(s, i);
}

static void add_custom(struct stakeholder *sh, size_t *cap, sqlite3_stmt *s, int col)
{
	sh->custom = sqi_grow(sh->custom, sh->ncustom, cap, sizeof *sh->custom);
	sh->custom[sh->ncustom].key = sqi_col_dup(s, col);
	sh->custom[sh->ncustom].value = sqi_col_dup(s, col + 1);
	sh->ncustom++;
}

/* load_all: every stakeholder with its custom fields (inside a read transaction). */
static int load_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_SH_ALL, why), *f = s ? sqi_stmt(st, ST_SHF_ALL, why) : NULL;
	struct binder bs = sqi_binder(s), bf = sqi_binder(f);
	size_t cap = 0, i = 0, ccap = 0;
	int rc;

	if (!f)
		return -1;
	while ((rc = sqi_next_row(st, &bs, why)) == 1) {
		*out = sqi_grow(*out, *n, &cap, sizeof **out);
		read_stakeholder(s, &(*out)[(*n)++]);
	}
	if (rc < 0)
		return -1;
	/* Both are ordered by id (BINARY collation: the order of strcmp): merge the custom fields in. */
	while ((rc = sqi_next_row(st, &bf, why)) == 1) {
		const char *id = (const char *)sqlite3_column_text(f, 0);
		int c = 1;
		while (i < *n && id && (c = strcmp((*out)[i].f[SH_ID], id)) < 0)
			i++, ccap = 0;
		if (i < *n && c == 0)
			add_custom(&(*out)[i], &ccap, f, 1);
	}
	return rc;
}

/* On an error, sh_all, custom_columns and ev_all free what they read and leave *out NULL. */
int sqi_sh_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN])
{
	int rc;

	*out = NULL;
	*n = 0;
	/* One read transaction, so that both queries see the same snapshot. */
	if (sqi_exec(st, "SAVEPOINT store_load", why) < 0)
		return -1;
	rc = load_all(st, out, n, why);
	sqlite3_exec(st->db, "RELEASE store_load", NULL, NULL, NULL);
	if (rc < 0) {
		stakeholders_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* load_one: 1 found, 0 absent, -1. */
static int load_one(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_SH_GET, why), *f = s ? sqi_stmt(st, ST_SHF_GET, why) : NULL;
	struct binder bs = sqi_binder(s), bf = sqi_binder(f);
	size_t ccap = 0;
	int rc;

	if (!f)
		return -1;
	sqi_bind_text(&bs, 1, id);
	if ((rc = sqi_next_row(st, &bs, why)) != 1)
		return rc;
	read_stakeholder(s, out);
	sqi_stmt_done(s);
	sqi_bind_text(&bf, 1, id);
	while ((rc = sqi_next_row(st, &bf, why)) == 1)
		add_custom(out, &ccap, f, 0);
	return rc < 0 ? -1 : 1;
}

int sqi_sh_get(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN])
{
	int rc;

	memset(out, 0, sizeof *out);
	if (sqi_exec(st, "SAVEPOINT store_load", why) < 0)
		return -1;
	rc = load_one(st, id, out, why);
	sqlite3_exec(st->db, "RELEASE store_load", NULL, NULL, NULL);
	if (rc < 0)
		stakeholder_clear(out);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int sqi_custom_columns(struct store_be *st, char ***out, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_SHF_NAMES, why);
	struct binder b = sqi_binder(s);
	size_t cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (s) {
		while ((rc = sqi_next_row(st, &b, why)) == 1) {
			*out = sqi_grow(*out, *n, &cap, sizeof **out);
			(*out)[(*n)++] = sqi_col_dup(s, 0);
		}
	}
	if (rc < 0) {
		while (*n)
			free((*out)[--*n]);
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* ---- events ---- */

int sqi_ev_put(struct store_be *st, const struct event *ev, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_EV_PUT, why);
	struct binder b = sqi_binder(s);

	if (!s)
		return -1;
	sqi_bind_text(&b, 1, ev->stakeholder_id);
	sqi_bind_text(&b, 2, ev->kind);
	sqi_bind_text(&b, 3, ev->date);
	sqi_bind_text(&b, 4, ev->title);
	sqi_bind_text(&b, 5, ev->details);
	if (sqi_run(st, &b, why) == 0)
		return 0;
	return sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY ? 1 : -1;
}

int sqi_ev_all(struct store_be *st, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, sh_id ? ST_EV_OF : ST_EV_ALL, why);
	struct binder b = sqi_binder(s);
	size_t cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (s && sh_id)
		sqi_bind_text(&b, 1, sh_id);
	while (s && (rc = sqi_next_row(st, &b, why)) == 1) {
		struct event *e;
		*out = sqi_grow(*out, *n, &cap, sizeof **out);
		e = &(*out)[(*n)++];
		e->stakeholder_id = sqi_col_dup(s, 0);
		e->kind = sqi_col_dup(s, 1);
		e->date = sqi_col_dup(s, 2);
		e->title = sqi_col_dup(s, 3);
		e->details = sqi_col_dup(s, 4);
	}
	if (rc < 0) {
		events_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* ---- opt-out ---- */

int sqi_optout(struct store_be *st, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc;
	*ids = NULL;
	*n = 0;
	/* An id, or an email in any case: every stakeholder with that address. */
	rc = sqlite3_prepare_v2(st->db,
	                        "UPDATE stakeholders SET opted_out = '1', updated_at = ?2 "
	                        "WHERE id = ?1 OR (instr(?1, '@') > 0 AND lower(email) = lower(?1)) RETURNING id",
	                        -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			*ids = xreallocarray(*ids, *n + 1, sizeof **ids);
			(*ids)[(*n)++] = xstrdup((const char *)sqlite3_column_text(s, 0));
		}
	}
	if (rc != SQLITE_DONE) {
		err_set(why, "%s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		for (size_t i = 0; i < *n; i++)
			free((*ids)[i]);
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

