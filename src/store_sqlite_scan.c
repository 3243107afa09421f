/*
 * store_sqlite_scan: the SQLite backend's scan: every stakeholder with its custom fields,
 * events and dispatch history, one at a time, on a read-only connection of its own in one
 * read transaction, the side tables merged in by id as the scan goes (memory does not grow
 * with the table).
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/*
 * A side table read in step with the stakeholders: its rows ordered by the stakeholder's id
 * (BINARY, the order of strcmp, like stakeholders.id), merged in as the scan goes.
 */
struct side {
	sqlite3_stmt *s;
	int state;              /* 0 not started, 1 a row is pending, 2 at the end */
};

struct store_be_scan {
	struct store_be *st;
	sqlite3 *db;            /* its own read-only connection, else st->db */
	int own;
	sqlite3_stmt *sh;
	int col[SH_NFIELDS];    /* the result column of each field, -1 when not read */
	struct side custom, ev, hist;
	struct store_sh_row row;
	struct strbuf text;     /* the side rows' strings of the current stakeholder */
	size_t cap_custom, cap_ev, cap_hist;
	int in_tx;
};

static int side_open(struct store_be_scan *sc, struct side *sd, const char *sql, char why[ERR_LEN])
{
	if (sqlite3_prepare_v2(sc->db, sql, -1, &sd->s, NULL) != SQLITE_OK)
		return err_set(why, "%s", sqlite3_errmsg(sc->db));
	return 0;
}

/* side_step: the next row of a side table: 1, 0 at its end, -1 with why. */
static int side_step(struct store_be_scan *sc, struct side *sd, char why[ERR_LEN])
{
	int rc = sqlite3_step(sd->s);
	sd->state = rc == SQLITE_ROW ? 1 : 2;
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return err_set(why, "%s", sqlite3_errmsg(sc->db));
	return 0;
}

/*
 * side_seek: skips the rows of stakeholders before id (records of deleted stakeholders);
 * 1 when the pending row is id's, 0 when not, -1 with why.
 */
static int side_seek(struct store_be_scan *sc, struct side *sd, const char *id, char why[ERR_LEN])
{
	int rc;
	if (!sd->s || sd->state == 2)
		return 0;
	if (sd->state == 0 && (rc = side_step(sc, sd, why)) <= 0)
		return rc;
	for (;;) {
		const char *k = (const char *)sqlite3_column_text(sd->s, 0);
		int c = strcmp(k ? k : "", id);
		if (c >= 0)
			return c == 0;
		if ((rc = side_step(sc, sd, why)) <= 0)
			return rc;
	}
}

/*
 * text_add: a copy of column i at the end of sc->text; returns its offset, turned into a
 * pointer (text_ptr) once the stakeholder's side rows are read and the buffer stops moving.
 */
static char *text_add(struct store_be_scan *sc, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t off = sc->text.len;
	sb_addn(&sc->text, t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(s, i) : 0);
	sb_addc(&sc->text, '\0');
	return (char *)(uintptr_t)off;
}

static char *text_ptr(struct store_be_scan *sc, char *off)
{
	return sc->text.s + (uintptr_t)off;
}

void sqi_scan_close(struct store_be_scan *sc)
{
	if (!sc)
		return;
	sqlite3_finalize(sc->sh);
	sqlite3_finalize(sc->custom.s);
	sqlite3_finalize(sc->ev.s);
	sqlite3_finalize(sc->hist.s);
	if (sc->in_tx)
		sqlite3_exec(sc->db, sc->own ? "COMMIT" : "RELEASE store_scan", NULL, NULL, NULL);
	if (sc->own)
		sqlite3_close(sc->db);
	free(sc->row.sh.custom);
	free(sc->row.ev);
	free(sc->row.hist);
	sb_free(&sc->text);
	free(sc);
}

int sqi_scan_open(struct store_be *st, uint32_t fields, int custom, int events, int quick,
                        struct store_be_scan **out, char why[ERR_LEN])
{
	struct store_be_scan *sc = xcalloc(1, sizeof *sc);
	struct strbuf sql = {0};
	int ncol = 0;

	*out = NULL;
	sc->st = st;
	sc->db = st->db;
	/*
	 * A connection of its own, without SQLite's mutexes (they cost a lock per column read:
	 * about 10% of a scan); an in-memory database has only the one.
	 */
	if (strcmp(st->path, ":memory:") != 0) {
		if (sqlite3_open_v2(st->path, &sc->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
			err_set(why, "%s", sc->db ? sqlite3_errmsg(sc->db) : "out of memory");
			sqlite3_close(sc->db);
			sc->db = NULL;
			goto fail;
		}
		sc->own = 1;
		sqlite3_busy_timeout(sc->db, STORE_BUSY_MS);
		sqlite3_db_config(sc->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
		sqlite3_db_config(sc->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	}
	/* One read transaction: the stakeholders and their side rows come from the same snapshot. */
	if (sqlite3_exec(sc->db, sc->own ? "BEGIN" : "SAVEPOINT store_scan", NULL, NULL, NULL) != SQLITE_OK) {
		err_set(why, "%s", sqlite3_errmsg(sc->db));
		goto fail;
	}
	sc->in_tx = 1;
	fields |= 1u << SH_ID;
	sb_adds(&sql, "SELECT ");
	for (int i = 0; i < SH_NFIELDS; i++) {
		sc->col[i] = -1;
		if (fields & (1u << i)) {
			sb_addf(&sql, "%s%s", ncol ? ", " : "", sh_field_names[i]);
			sc->col[i] = ncol++;
		}
	}
	/*
	 * Table order skips a lookup through the id index per row (about 15% of the scan); a
	 * table filled by one sorted import is in id order already.
	 */
	sb_adds(&sql, quick ? " FROM stakeholders" : " FROM stakeholders ORDER BY id");
	if (sqlite3_prepare_v2(sc->db, sql.s, -1, &sc->sh, NULL) != SQLITE_OK) {
		err_set(why, "%s", sqlite3_errmsg(sc->db));
		goto fail;
	}
	/* The orders of their keys (no sorting): the planner needs no order within a stakeholder. */
	if ((custom && side_open(sc, &sc->custom, "SELECT stakeholder_id, name, value FROM stakeholder_fields "
	                         "ORDER BY stakeholder_id, name", why) < 0) ||
	    (events && side_open(sc, &sc->ev, "SELECT stakeholder_id, kind, date FROM events "
	                         "ORDER BY stakeholder_id, kind, date", why) < 0) ||
	    side_open(sc, &sc->hist, "SELECT stakeholder, rule, occasion_date, fire_date, status, cost_cents, "
	              "fire_at, id FROM dispatches ORDER BY stakeholder", why) < 0)
		goto fail;
	for (int i = 0; i < SH_NFIELDS; i++)
		sc->row.sh.f[i] = "";   /* fields not read stay empty */
	sb_free(&sql);
	*out = sc;
	return 0;
fail:
	sb_free(&sql);
	sqi_scan_close(sc);
	return -1;
}

/* read_sides: the current stakeholder's custom fields, events and records into sc->row. */
static int read_sides(struct store_be_scan *sc, char *id, char why[ERR_LEN])
{
	struct store_sh_row *r = &sc->row;
	int rc;

	sb_reset(&sc->text);
	r->sh.ncustom = r->nev = r->nhist = 0;
	while ((rc = side_seek(sc, &sc->custom, id, why)) == 1) {
		r->sh.custom = sqi_grow(r->sh.custom, r->sh.ncustom, &sc->cap_custom, sizeof *r->sh.custom);
		r->sh.custom[r->sh.ncustom].key = text_add(sc, sc->custom.s, 1);
		r->sh.custom[r->sh.ncustom++].value = text_add(sc, sc->custom.s, 2);
		if (side_step(sc, &sc->custom, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = side_seek(sc, &sc->ev, id, why)) == 1) {
		struct event *e;
		r->ev = sqi_grow(r->ev, r->nev, &sc->cap_ev, sizeof *r->ev);
		e = &r->ev[r->nev++];
		e->stakeholder_id = id;
		e->kind = text_add(sc, sc->ev.s, 1);
		e->date = text_add(sc, sc->ev.s, 2);
		e->title = e->details = "";
		if (side_step(sc, &sc->ev, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = side_seek(sc, &sc->hist, id, why)) == 1) {
		struct dispatch_rec *h;
		const char *status = (const char *)sqlite3_column_text(sc->hist.s, 4);
		int k = dispatch_status_parse(status ? status : "");
		r->hist = sqi_grow(r->hist, r->nhist, &sc->cap_hist, sizeof *r->hist);
		h = &r->hist[r->nhist++];
		memset(h, 0, sizeof *h);
		h->stakeholder = id;
		h->rule = text_add(sc, sc->hist.s, 1);
		h->occasion_date = text_add(sc, sc->hist.s, 2);
		h->fire_date = text_add(sc, sc->hist.s, 3);
		h->status = k < 0 ? DS_SKIPPED : (enum dispatch_status)k;
		h->cost_cents = sqlite3_column_int64(sc->hist.s, 5);
		h->fire_at = sqlite3_column_int64(sc->hist.s, 6);
		h->id = sqlite3_column_int64(sc->hist.s, 7);
		if (side_step(sc, &sc->hist, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	for (size_t i = 0; i < r->sh.ncustom; i++) {
		r->sh.custom[i].key = text_ptr(sc, r->sh.custom[i].key);
		r->sh.custom[i].value = text_ptr(sc, r->sh.custom[i].value);
	}
	for (size_t i = 0; i < r->nev; i++) {
		r->ev[i].kind = text_ptr(sc, r->ev[i].kind);
		r->ev[i].date = text_ptr(sc, r->ev[i].date);
	}
	for (size_t i = 0; i < r->nhist; i++) {
		r->hist[i].rule = text_ptr(sc, r->hist[i].rule);
		r->hist[i].occasion_date = text_ptr(sc, r->hist[i].occasion_date);
		r->hist[i].fire_date = text_ptr(sc, r->hist[i].fire_date);
	}
	return 0;
}

int sqi_scan_next(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN])
{
	int rc = sqlite3_step(sc->sh);

	*row = NULL;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return err_set(why, "%s", sqlite3_errmsg(sc->db));
	for (int i = 0; i < SH_NFIELDS; i++)
		if (sc->col[i] >= 0) {
			const unsigned char *t = sqlite3_column_text(sc->sh, sc->col[i]);
			sc->row.sh.f[i] = t ? (char *)t : "";
		}
	if (read_sides(sc, sc->row.sh.f[SH_ID], why) < 0)
		return -1;
	*row = &sc->row;
	return 1;
}

