/*
 * store_pg_scan: the PostgreSQL backend's scan: every stakeholder with its custom fields,
 * events and dispatch history, one at a time, read on a connection of its own in one
 * REPEATABLE READ snapshot through server-side cursors fetched in batches (the next
 * stakeholders' batch asked for ahead, so that the server works while the planner does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* Rows per FETCH of the scan's cursors: memory stays bounded, round trips few. */
#define PG_FETCH 2000

/* A cursor read PG_FETCH rows at a time. */
struct cursor {
	const char *name;
	PGresult *r;
	PGresult *next;      /* the batch after r, fetched ahead (the stakeholders' cursor) */
	int has_next;
	int row, nrows;
	int state;           /* 0 not started, 1 a row is pending, 2 at the end */
};

struct store_be_scan {
	PGconn *conn;        /* its own connection: one snapshot, whatever the main one does meanwhile */
	struct cursor sh, custom, ev, hist;
	struct cursor *ahead;   /* the cursor whose next batch is on its way, or NULL */
	int col[SH_NFIELDS];
	struct store_sh_row row;
	struct strbuf text;
	size_t cap_custom, cap_ev, cap_hist;
};

/* collect: the batch fetched ahead, into its cursor's next; the connection is free after. */
static void collect(struct store_be_scan *sc)
{
	PGresult *r, *last = NULL;
	if (!sc->ahead)
		return;
	while ((r = PQgetResult(sc->conn))) {
		PQclear(last);
		last = r;
	}
	sc->ahead->next = last;
	sc->ahead->has_next = 1;
	sc->ahead = NULL;
}

/*
 * cur_step: moves to the next row: 1, 0 at the end, -1 with why. The stakeholders' cursor
 * asks for its next batch before its rows are used, so the server produces it while the
 * planner works: the two take turns otherwise.
 */
static int cur_step(struct store_be_scan *sc, struct cursor *c, char why[ERR_LEN])
{
	char sql[64];
	if (c->state == 2)
		return 0;
	if (c->state == 1 && ++c->row < c->nrows)
		return 1;
	if (c->state == 1 && c->nrows < PG_FETCH) {
		c->state = 2;
		return 0;
	}
	snprintf(sql, sizeof sql, "FETCH %d FROM %s", PG_FETCH, c->name);
	PQclear(c->r);
	collect(sc);
	if (c->has_next) {
		c->r = c->next;
		c->next = NULL;
		c->has_next = 0;
	} else {
		c->r = PQexec(sc->conn, sql);
	}
	if (!pgi_ok(sc->conn, c->r, why)) {
		c->r = NULL;
		c->state = 2;
		return -1;
	}
	c->row = 0;
	c->nrows = PQntuples(c->r);
	c->state = c->nrows > 0 ? 1 : 2;
	/* A failed send is left to the next batch's own FETCH, which then says why. */
	if (c == &sc->sh && c->nrows == PG_FETCH && PQsendQuery(sc->conn, sql))
		sc->ahead = c;
	return c->state == 1;
}

static const char *cur_val(const struct cursor *c, int col)
{
	return PQgetvalue(c->r, c->row, col);
}

/* cur_seek: skips the rows of ids before id: 1 when the pending row is id's, 0 not, -1. */
static int cur_seek(struct store_be_scan *sc, struct cursor *c, const char *id, char why[ERR_LEN])
{
	int rc;
	if (!c->name || c->state == 2)
		return 0;
	if (c->state == 0 && (rc = cur_step(sc, c, why)) <= 0)
		return rc;
	for (;;) {
		int cmp = strcmp(cur_val(c, 0), id);
		if (cmp >= 0)
			return cmp == 0;
		if ((rc = cur_step(sc, c, why)) <= 0)
			return rc;
	}
}

static char *text_add(struct store_be_scan *sc, const struct cursor *c, int col)
{
	size_t off = sc->text.len;
	sb_addn(&sc->text, cur_val(c, col), (size_t)PQgetlength(c->r, c->row, col));
	sb_addc(&sc->text, '\0');
	return (char *)(uintptr_t)off;
}

static char *text_ptr(struct store_be_scan *sc, char *off)
{
	return sc->text.s + (uintptr_t)off;
}

static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 32;
	return xreallocarray(v, *cap, size);
}

void pgi_scan_close(struct store_be_scan *sc)
{
	if (!sc)
		return;
	collect(sc);
	PQclear(sc->sh.r);
	PQclear(sc->sh.next);
	PQclear(sc->custom.r);
	PQclear(sc->ev.r);
	PQclear(sc->hist.r);
	PQfinish(sc->conn);   /* the read transaction and its cursors end with it */
	free(sc->row.sh.custom);
	free(sc->row.ev);
	free(sc->row.hist);
	sb_free(&sc->text);
	free(sc);
}

static int declare(struct store_be_scan *sc, struct cursor *c, const char *name, const char *sql, char why[ERR_LEN])
{
	char *full = xasprintf("DECLARE %s NO SCROLL CURSOR FOR %s", name, sql);
	PGresult *r = PQexec(sc->conn, full);
	free(full);
	if (!pgi_ok(sc->conn, r, why))
		return -1;
	PQclear(r);
	c->name = name;
	return 0;
}

int pgi_scan_open(struct store_be *st, uint32_t fields, int custom, int events, int quick,
                        struct store_be_scan **out, char why[ERR_LEN])
{
	struct store_be_scan *sc = xcalloc(1, sizeof *sc);
	struct strbuf sql = {0};
	PGresult *r;
	int ncol = 0;

	*out = NULL;
	if (!(sc->conn = pgi_connect(st->uri, st->name, why)))
		goto fail;
	r = PQexec(sc->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (!pgi_ok(sc->conn, r, why))
		goto fail;
	PQclear(r);
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
	 * quick: the table's own order, which a table filled by one sorted import keeps, saves
	 * the index (the front checks the order and asks again without quick when it is not).
	 */
	sb_adds(&sql, quick ? " FROM stakeholders" : " FROM stakeholders ORDER BY id");
	if (declare(sc, &sc->sh, "occ_sh", sql.s, why) < 0 ||
	    (custom && declare(sc, &sc->custom, "occ_custom", "SELECT stakeholder_id, name, value FROM stakeholder_fields "
	                       "ORDER BY stakeholder_id, name", why) < 0) ||
	    (events && declare(sc, &sc->ev, "occ_ev", "SELECT stakeholder_id, kind, date FROM events "
	                       "ORDER BY stakeholder_id, kind, date", why) < 0) ||
	    declare(sc, &sc->hist, "occ_hist", "SELECT stakeholder, rule, occasion_date, fire_date, status, cost_cents, "
	            "fire_at, id FROM dispatches ORDER BY stakeholder", why) < 0)
		goto fail;
	for (int i = 0; i < SH_NFIELDS; i++)
		sc->row.sh.f[i] = "";
	sb_free(&sql);
	*out = sc;
	return 0;
fail:
	sb_free(&sql);
	pgi_scan_close(sc);
	return -1;
}

static int read_sides(struct store_be_scan *sc, char *id, char why[ERR_LEN])
{
	struct store_sh_row *r = &sc->row;
	int rc;

	sb_reset(&sc->text);
	r->sh.ncustom = r->nev = r->nhist = 0;
	while ((rc = cur_seek(sc, &sc->custom, id, why)) == 1) {
		r->sh.custom = grow(r->sh.custom, r->sh.ncustom, &sc->cap_custom, sizeof *r->sh.custom);
		r->sh.custom[r->sh.ncustom].key = text_add(sc, &sc->custom, 1);
		r->sh.custom[r->sh.ncustom++].value = text_add(sc, &sc->custom, 2);
		if (cur_step(sc, &sc->custom, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = cur_seek(sc, &sc->ev, id, why)) == 1) {
		struct event *e;
		r->ev = grow(r->ev, r->nev, &sc->cap_ev, sizeof *r->ev);
		e = &r->ev[r->nev++];
		e->stakeholder_id = id;
		e->kind = text_add(sc, &sc->ev, 1);
		e->date = text_add(sc, &sc->ev, 2);
		e->title = e->details = "";
		if (cur_step(sc, &sc->ev, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = cur_seek(sc, &sc->hist, id, why)) == 1) {
		struct dispatch_rec *h;
		int k = dispatch_status_parse(cur_val(&sc->hist, 4));
		r->hist = grow(r->hist, r->nhist, &sc->cap_hist, sizeof *r->hist);
		h = &r->hist[r->nhist++];
		memset(h, 0, sizeof *h);
		h->stakeholder = id;
		h->rule = text_add(sc, &sc->hist, 1);
		h->occasion_date = text_add(sc, &sc->hist, 2);
		h->fire_date = text_add(sc, &sc->hist, 3);
		h->status = k < 0 ? DS_SKIPPED : (enum dispatch_status)k;
		h->cost_cents = strtoll(cur_val(&sc->hist, 5), NULL, 10);
		h->fire_at = strtoll(cur_val(&sc->hist, 6), NULL, 10);
		h->id = strtoll(cur_val(&sc->hist, 7), NULL, 10);
		if (cur_step(sc, &sc->hist, why) < 0)
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

int pgi_scan_next(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN])
{
	int rc = cur_step(sc, &sc->sh, why);
	*row = NULL;
	if (rc <= 0)
		return rc;
	for (int i = 0; i < SH_NFIELDS; i++)
		if (sc->col[i] >= 0)
			sc->row.sh.f[i] = (char *)cur_val(&sc->sh, sc->col[i]);
	if (read_sides(sc, sc->row.sh.f[SH_ID], why) < 0)
		return -1;
	*row = &sc->row;
	return 1;
}

