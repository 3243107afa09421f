/*
 * store_pg_ds: the PostgreSQL backend's dispatch records: claim (the INSERT that makes a
 * dispatch at most once, with its owner and lease), update, delete, read and list; the
 * fenced writes of several daemons build on these in store_pg_claim.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

void pgi_ds_mutable(struct ds_params *p, const struct dispatch_rec *r)
{
	int64_t nums[6] = {r->fire_at, r->attempts, r->page, r->cost_cents, r->next_attempt_at, r->data_sent ? 1 : 0};
	for (int i = 0; i < 6; i++)
		snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)nums[i]);
	p->v[0] = r->fire_date ? r->fire_date : "";
	p->v[1] = p->num[0];
	p->v[2] = channel_names[r->channel];
	p->v[3] = dispatch_status_names[r->status];
	p->v[4] = r->reason ? r->reason : "";
	p->v[5] = p->num[1];
	p->v[6] = r->error ? r->error : "";
	p->v[7] = r->artifact ? r->artifact : "";
	p->v[8] = p->num[2];
	p->v[9] = r->message_id ? r->message_id : "";
	p->v[10] = r->signer ? r->signer : "";
	p->v[11] = p->num[3];
	p->v[12] = r->template_name ? r->template_name : "";
	p->v[13] = p->num[4];
	p->v[14] = p->num[5];
	p->v[15] = r->last_reply ? r->last_reply : "";
}

int pgi_ds_claim(struct store_be *st, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	struct ds_params p;
	PGresult *r;
	pgi_ds_mutable(&p, rec);
	snprintf(p.num[6], sizeof p.num[6], "%lld", (long long)now);
	p.v[16] = rec->rule;
	p.v[17] = rec->stakeholder;
	p.v[18] = rec->occasion_date;
	p.v[19] = p.num[6];
	p.v[20] = rec->handled_by ? rec->handled_by : "";
	snprintf(p.num[7], sizeof p.num[7], "%lld", (long long)st->lease);
	p.v[21] = p.num[7];
	if (!(r = pgi_q(st, ST_DS_CLAIM, 22, p.v, why)))
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 1;
	}
	rec->id = pgi_val_int(r, 0, 0);
	PQclear(r);
	pgi_wrote(st);
	return 0;
}

int pgi_ds_update(struct store_be *st, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	struct ds_params p;
	PGresult *r;
	int n;
	pgi_ds_mutable(&p, rec);
	snprintf(p.num[6], sizeof p.num[6], "%lld", (long long)now);
	snprintf(p.num[7], sizeof p.num[7], "%lld", (long long)rec->id);
	p.v[16] = p.num[6];
	p.v[17] = p.num[7];
	if (!(r = pgi_q(st, ST_DS_UPDATE, 18, p.v, why)))
		return -1;
	n = pgi_changed_rows(r);
	PQclear(r);
	if (n != 1)
		return 1;
	pgi_wrote(st);
	return 0;
}

int pgi_ds_delete(struct store_be *st, int64_t id, char why[ERR_LEN])
{
	char num[24];
	const char *v[1] = {num};
	PGresult *r;
	snprintf(num, sizeof num, "%lld", (long long)id);
	if (!(r = pgi_q(st, ST_DS_DELETE, 1, v, why)))
		return -1;
	PQclear(r);
	pgi_wrote(st);
	return 0;
}

int pgi_read_dispatch(const PGresult *s, int row, struct dispatch_rec *r, char why[ERR_LEN])
{
	int ch = channel_parse(PQgetvalue(s, row, 6));
	int status = dispatch_status_parse(PQgetvalue(s, row, 7));

	memset(r, 0, sizeof *r);
	r->id = pgi_val_int(s, row, 0);
	if ((ch != CH_CARD && ch != CH_EMAIL) || status < 0)
		return err_set(why, "dispatch %lld has an unknown channel or status", (long long)r->id);
	r->rule = pgi_val_dup(s, row, 1);
	r->stakeholder = pgi_val_dup(s, row, 2);
	r->occasion_date = pgi_val_dup(s, row, 3);
	r->fire_date = pgi_val_dup(s, row, 4);
	r->fire_at = pgi_val_int(s, row, 5);
	r->channel = (enum channel)ch;
	r->status = (enum dispatch_status)status;
	r->reason = pgi_val_dup(s, row, 8);
	r->attempts = (int)pgi_val_int(s, row, 9);
	r->error = pgi_val_dup(s, row, 10);
	r->artifact = pgi_val_dup(s, row, 11);
	r->page = (int)pgi_val_int(s, row, 12);
	r->message_id = pgi_val_dup(s, row, 13);
	r->signer = pgi_val_dup(s, row, 14);
	r->cost_cents = pgi_val_int(s, row, 15);
	r->template_name = pgi_val_dup(s, row, 16);
	r->next_attempt_at = pgi_val_int(s, row, 17);
	r->data_sent = pgi_val_int(s, row, 18) != 0;
	r->last_reply = pgi_val_dup(s, row, 19);
	r->created_at = pgi_val_int(s, row, 20);
	r->updated_at = pgi_val_int(s, row, 21);
	r->handled_by = pgi_val_dup(s, row, 22);
	return 0;
}

int pgi_read_dispatches(PGresult *r, struct dispatch_rec **out, size_t *n, char why[ERR_LEN])
{
	int rc = 0;
	*out = xcalloc(PQntuples(r) ? (size_t)PQntuples(r) : 1, sizeof **out);
	*n = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		if ((rc = pgi_read_dispatch(r, i, &(*out)[*n], why)) == 0)
			(*n)++;
	PQclear(r);
	if (rc < 0) {
		dispatch_recs_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int pgi_ds_get(struct store_be *st, int64_t id, struct dispatch_rec *out, char why[ERR_LEN])
{
	char num[24];
	const char *v[1] = {num};
	PGresult *r;
	int rc;

	memset(out, 0, sizeof *out);
	snprintf(num, sizeof num, "%lld", (long long)id);
	if (!(r = pgi_q(st, ST_DS_GET, 1, v, why)))
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	rc = pgi_read_dispatch(r, 0, out, why);
	PQclear(r);
	if (rc < 0)
		dispatch_rec_clear(out);
	return rc;
}

int pgi_ds_list(struct store_be *st, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
                      char why[ERR_LEN])
{
	/* Each filter in use adds its condition with the next parameter number. */
	static const char *const col[] = {NULL, "status", "rule", "stakeholder", "fire_date", "signer", "channel"};
	const char *vals[7] = {f->since_date, f->status, f->rule, f->stakeholder, f->fire_date, f->signer,
	                       f->channel >= 0 ? channel_names[f->channel] : NULL};
	const char *params[7];
	struct strbuf sql = {0};
	const char *sep = " WHERE ";
	PGresult *r;
	int np = 0;

	*out = NULL;
	*n = 0;
	sb_adds(&sql, "SELECT " DS_COLS " FROM dispatches");
	for (int i = 0; i < 7; i++) {
		if (!vals[i])
			continue;
		params[np++] = vals[i];
		sb_adds(&sql, sep);
		if (i == 0)
			sb_addf(&sql, "(occasion_date >= $%d OR fire_date >= $%d)", np, np);
		else
			sb_addf(&sql, "%s = $%d", col[i], np);
		sep = " AND ";
	}
	sb_adds(&sql, " ORDER BY fire_at, id");
	r = pgi_qv(st, sql.s, np, params, why);
	sb_free(&sql);
	if (!r)
		return -1;
	return pgi_read_dispatches(r, out, n, why);
}

int pgi_ds_next_retry(struct store_be *st, int64_t *at, char why[ERR_LEN])
{
	PGresult *r = pgi_qv(st, "SELECT min(next_attempt_at) FROM dispatches WHERE status = 'retry'", 0, NULL, why);
	*at = INT64_MAX;
	if (!r)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*at = pgi_val_int(r, 0, 0);
	PQclear(r);
	return 0;
}
