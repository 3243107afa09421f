/*
 * store_pg_sh: the PostgreSQL backend's stakeholders (with their custom fields), their
 * events and the opt-out, one call at a time (the bulk import: store_pg_import.c; the scan:
 * store_pg_scan.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* ---- stakeholders ---- */

static int put_custom(struct store_be *st, const struct stakeholder *sh, char why[ERR_LEN])
{
	PGresult *r;
	char ord[24];
	if (!sh->present) {
		const char *v[1] = {sh->f[SH_ID]};
		if (!(r = pgi_q(st, ST_SHF_DEL, 1, v, why)))
			return -1;
		PQclear(r);
	}
	for (size_t i = 0; i < sh->ncustom; i++) {
		const char *v[4] = {sh->f[SH_ID], sh->custom[i].key, sh->custom[i].value ? sh->custom[i].value : "", ord};
		snprintf(ord, sizeof ord, "%zu", i);
		if (!(r = pgi_q(st, ST_SHF_PUT, 4, v, why)))
			return -1;
		PQclear(r);
	}
	return 0;
}

int pgi_put_rows(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	int64_t mask = sh->present ? (int64_t)sh->present : (int64_t)((1ul << SH_NFIELDS) - 1);
	const char *v[SH_NFIELDS + 2];
	char nowbuf[24], maskbuf[24];
	PGresult *r;

	for (int i = 0; i < SH_NFIELDS; i++)
		v[i] = sh->f[i] ? sh->f[i] : "";
	snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
	snprintf(maskbuf, sizeof maskbuf, "%lld", (long long)mask);
	v[SH_NFIELDS] = nowbuf;
	v[SH_NFIELDS + 1] = maskbuf;
	if (!(r = pgi_q(st, ST_SH_PUT, SH_NFIELDS + 2, v, why)))
		return -1;
	PQclear(r);
	return put_custom(st, sh, why);
}

int pgi_sh_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	enum tx_mode mode;
	if (pgi_tx_enter(st, &mode, why) < 0)
		return -1;
	st->notify = 1;
	return pgi_tx_leave(st, mode, pgi_put_rows(st, sh, now, why) == 0, why);
}

static void read_stakeholder(const PGresult *r, int row, struct stakeholder *sh)
{
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh->f[i] = pgi_val_dup(r, row, i);
}

static void add_custom(struct stakeholder *sh, const PGresult *r, int row, int col)
{
	sh->custom = xreallocarray(sh->custom, sh->ncustom + 1, sizeof *sh->custom);
	sh->custom[sh->ncustom].key = pgi_val_dup(r, row, col);
	sh->custom[sh->ncustom].value = pgi_val_dup(r, row, col + 1);
	sh->ncustom++;
}

int pgi_sh_get(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN])
{
	const char *v[1] = {id};
	PGresult *r, *f;

	memset(out, 0, sizeof *out);
	if (!(r = pgi_q(st, ST_SH_GET, 1, v, why)))
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	read_stakeholder(r, 0, out);
	PQclear(r);
	if (!(f = pgi_q(st, ST_SHF_GET, 1, v, why))) {
		stakeholder_clear(out);
		return -1;
	}
	for (int i = 0; i < PQntuples(f); i++)
		add_custom(out, f, i, 0);
	PQclear(f);
	return 0;
}

int pgi_sh_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN])
{
	PGresult *r = NULL, *f = NULL;
	int own = !pgi_in_tx(st), rc = -1, j = 0;

	*out = NULL;
	*n = 0;
	/* One snapshot for both queries. */
	if (own && pgi_exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", why) < 0)
		return -1;
	if (!(r = pgi_qv(st, "SELECT " SH_COLS " FROM stakeholders ORDER BY id", 0, NULL, why)) ||
	    !(f = pgi_qv(st, "SELECT stakeholder_id, name, value FROM stakeholder_fields ORDER BY stakeholder_id, ord, name",
	             0, NULL, why)))
		goto out;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++)
		read_stakeholder(r, (int)i, &(*out)[i]);
	/* Both in id order (COLLATE "C", the order of strcmp): merge the custom fields in. */
	for (size_t i = 0; j < PQntuples(f);) {
		const char *id = PQgetvalue(f, j, 0);
		int c = i < *n ? strcmp((*out)[i].f[SH_ID], id) : 1;
		if (c < 0)
			i++;
		else if (c == 0)
			add_custom(&(*out)[i], f, j++, 1);
		else
			j++;
	}
	rc = 0;
out:
	PQclear(r);
	PQclear(f);
	if (own)
		pgi_rollback(st);
	return rc;
}

int pgi_custom_columns(struct store_be *st, char ***out, size_t *n, char why[ERR_LEN])
{
	PGresult *r = pgi_qv(st, "SELECT DISTINCT name FROM stakeholder_fields ORDER BY name", 0, NULL, why);
	*out = NULL;
	*n = 0;
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = pgi_val_dup(r, (int)i, 0);
	PQclear(r);
	return 0;
}

/* ---- events ---- */

int pgi_ev_put(struct store_be *st, const struct event *ev, char why[ERR_LEN])
{
	const char *v[5] = {ev->stakeholder_id, ev->kind, ev->date, ev->title ? ev->title : "",
	                    ev->details ? ev->details : ""};
	PGresult *r = pgi_q(st, ST_EV_PUT, 5, v, why);
	int n;
	if (!r)
		return -1;
	n = pgi_changed_rows(r);
	PQclear(r);
	if (n == 0)
		return 1;
	pgi_wrote(st);
	return 0;
}

int pgi_ev_all(struct store_be *st, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN])
{
	const char *v[1] = {sh_id};
	PGresult *r = sh_id ? pgi_q(st, ST_EV_OF, 1, v, why)
	                    : pgi_qv(st, "SELECT stakeholder_id, kind, date, title, details FROM events "
	                             "ORDER BY stakeholder_id, date, kind, id", 0, NULL, why);
	*out = NULL;
	*n = 0;
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		struct event *e = &(*out)[i];
		e->stakeholder_id = pgi_val_dup(r, (int)i, 0);
		e->kind = pgi_val_dup(r, (int)i, 1);
		e->date = pgi_val_dup(r, (int)i, 2);
		e->title = pgi_val_dup(r, (int)i, 3);
		e->details = pgi_val_dup(r, (int)i, 4);
	}
	PQclear(r);
	return 0;
}

/* ---- opt-out ---- */

int pgi_optout(struct store_be *st, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN])
{
	char num[24];
	const char *v[2] = {key, num};
	PGresult *r;

	*ids = NULL;
	*n = 0;
	snprintf(num, sizeof num, "%lld", (long long)now);
	r = pgi_qv(st, "UPDATE stakeholders SET opted_out = '1', updated_at = $2::bigint "
	           "WHERE id = $1::text OR (strpos($1::text, '@') > 0 AND lower(email) = lower($1::text)) RETURNING id",
	       2, v, why);
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*ids = xcalloc(*n ? *n : 1, sizeof **ids);
	for (size_t i = 0; i < *n; i++)
		(*ids)[i] = pgi_val_dup(r, (int)i, 0);
	PQclear(r);
	if (*n)
		pgi_wrote(st);
	return 0;
}
