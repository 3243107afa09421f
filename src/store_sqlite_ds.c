/*
 * store_sqlite_ds: the SQLite backend's dispatch records: claim (the INSERT that makes a
 * dispatch at most once), update, delete, read, and the lists by filter (a statement cached
 * per combination of filters), whole or one record at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

static const char *const filter_sql[F__N] = {
	"(occasion_date >= ?1 OR fire_date >= ?1)", "status = ?2", "rule = ?3", "stakeholder = ?4",
	"fire_date = ?5", "signer = ?6", "channel = ?7",
};

/* bind_mutable: the DS_MUTABLE fields as ?1..?16. */
static void bind_mutable(struct binder *b, const struct dispatch_rec *r)
{
	sqi_bind_text(b, 1, r->fire_date);
	sqi_bind_int(b, 2, r->fire_at);
	sqi_bind_text(b, 3, channel_names[r->channel]);
	sqi_bind_text(b, 4, dispatch_status_names[r->status]);
	sqi_bind_text(b, 5, r->reason);
	sqi_bind_int(b, 6, r->attempts);
	sqi_bind_text(b, 7, r->error);
	sqi_bind_text(b, 8, r->artifact);
	sqi_bind_int(b, 9, r->page);
	sqi_bind_text(b, 10, r->message_id);
	sqi_bind_text(b, 11, r->signer);
	sqi_bind_int(b, 12, r->cost_cents);
	sqi_bind_text(b, 13, r->template_name);
	sqi_bind_int(b, 14, r->next_attempt_at);
	sqi_bind_int(b, 15, r->data_sent ? 1 : 0);
	sqi_bind_text(b, 16, r->last_reply);
}

int sqi_ds_claim(struct store_be *st, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_DS_CLAIM, why);
	struct binder b = sqi_binder(s);

	if (!s)
		return -1;
	bind_mutable(&b, rec);
	sqi_bind_text(&b, DS_NMUTABLE + 1, rec->rule);
	sqi_bind_text(&b, DS_NMUTABLE + 2, rec->stakeholder);
	sqi_bind_text(&b, DS_NMUTABLE + 3, rec->occasion_date);
	sqi_bind_int(&b, DS_NMUTABLE + 4, now);
	sqi_bind_text(&b, DS_NMUTABLE + 5, rec->handled_by);
	/* One statement is atomic on its own; inside a caller's transaction it joins it. */
	if (sqi_run(st, &b, why) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return 1;
	rec->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int sqi_ds_update(struct store_be *st, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_DS_UPDATE, why);
	struct binder b = sqi_binder(s);

	if (!s)
		return -1;
	bind_mutable(&b, rec);
	sqi_bind_int(&b, DS_NMUTABLE + 1, now);
	sqi_bind_int(&b, DS_NMUTABLE + 2, rec->id);
	if (sqi_run(st, &b, why) < 0)
		return -1;
	return sqlite3_changes(st->db) == 1 ? 0 : 1;
}

int sqi_ds_delete(struct store_be *st, int64_t id, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_DS_DELETE, why);
	struct binder b = sqi_binder(s);
	if (!s)
		return -1;
	sqi_bind_int(&b, 1, id);
	return sqi_run(st, &b, why);
}

/* read_dispatch: a row of DS_COLS. 0, or -1 when a stored name is unknown. */
static int read_dispatch(sqlite3_stmt *s, struct dispatch_rec *r, char why[ERR_LEN])
{
	int ch = channel_parse((const char *)sqlite3_column_text(s, 6));
	int status = dispatch_status_parse((const char *)sqlite3_column_text(s, 7));

	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	if ((ch != CH_CARD && ch != CH_EMAIL) || status < 0)
		return err_set(why, "dispatch %lld has an unknown channel or status", (long long)r->id);
	r->rule = sqi_col_dup(s, 1);
	r->stakeholder = sqi_col_dup(s, 2);
	r->occasion_date = sqi_col_dup(s, 3);
	r->fire_date = sqi_col_dup(s, 4);
	r->fire_at = sqlite3_column_int64(s, 5);
	r->channel = (enum channel)ch;
	r->status = (enum dispatch_status)status;
	r->reason = sqi_col_dup(s, 8);
	r->attempts = sqlite3_column_int(s, 9);
	r->error = sqi_col_dup(s, 10);
	r->artifact = sqi_col_dup(s, 11);
	r->page = sqlite3_column_int(s, 12);
	r->message_id = sqi_col_dup(s, 13);
	r->signer = sqi_col_dup(s, 14);
	r->cost_cents = sqlite3_column_int64(s, 15);
	r->template_name = sqi_col_dup(s, 16);
	r->next_attempt_at = sqlite3_column_int64(s, 17);
	r->data_sent = sqlite3_column_int(s, 18) != 0;
	r->last_reply = sqi_col_dup(s, 19);
	r->created_at = sqlite3_column_int64(s, 20);
	r->updated_at = sqlite3_column_int64(s, 21);
	r->handled_by = sqi_col_dup(s, 22);
	return 0;
}

int sqi_ds_get(struct store_be *st, int64_t id, struct dispatch_rec *out, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_DS_GET, why);
	struct binder b = sqi_binder(s);
	int rc;

	memset(out, 0, sizeof *out);
	if (!s)
		return -1;
	sqi_bind_int(&b, 1, id);
	rc = sqi_next_row(st, &b, why);
	if (rc == 1) {
		rc = read_dispatch(s, out, why);
		sqi_stmt_done(s);
		if (rc < 0)
			dispatch_rec_clear(out);
		return rc;
	}
	return rc == 0 ? 1 : -1;
}

/* list_stmt: the cached statement for one combination of filters. */
static sqlite3_stmt *list_stmt(struct store_be *st, unsigned mask, char why[ERR_LEN])
{
	if (!st->list_stmts[mask]) {
		struct strbuf sb = {0};
		const char *sep = " WHERE ";
		int rc;
		sb_adds(&sb, "SELECT " DS_COLS " FROM dispatches");
		for (int i = 0; i < F__N; i++) {
			if (mask & (1u << i)) {
				sb_addf(&sb, "%s%s", sep, filter_sql[i]);
				sep = " AND ";
			}
		}
		sb_adds(&sb, " ORDER BY fire_at, id");
		rc = sqi_prepare(st, sb.s, &st->list_stmts[mask], why);
		sb_free(&sb);
		if (rc < 0)
			return NULL;
	}
	return st->list_stmts[mask];
}

/* filter_values: the value of each filter in use (NULL: not used); f is validated by the front. */
static void filter_values(const struct dispatch_filter *f, const char *vals[F__N])
{
	vals[F_SINCE] = f->since_date;
	vals[F_STATUS] = f->status;
	vals[F_RULE] = f->rule;
	vals[F_STAKEHOLDER] = f->stakeholder;
	vals[F_FIRE_DATE] = f->fire_date;
	vals[F_SIGNER] = f->signer;
	vals[F_CHANNEL] = f->channel >= 0 ? channel_names[f->channel] : NULL;
}

int sqi_ds_list(struct store_be *st, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
                      char why[ERR_LEN])
{
	const char *vals[F__N];
	sqlite3_stmt *s;
	struct binder b;
	unsigned mask = 0;
	size_t cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	filter_values(f, vals);
	for (int i = 0; i < F__N; i++)
		if (vals[i])
			mask |= 1u << i;
	if ((s = list_stmt(st, mask, why))) {
		b = sqi_binder(s);
		for (int i = 0; i < F__N; i++)
			if (vals[i])
				sqi_bind_text(&b, i + 1, vals[i]);
		while ((rc = sqi_next_row(st, &b, why)) == 1) {
			*out = sqi_grow(*out, *n, &cap, sizeof **out);
			if (read_dispatch(s, &(*out)[*n], why) < 0) {
				sqi_stmt_done(s);
				rc = -1;
				break;
			}
			(*n)++;
		}
	}
	if (rc < 0) {
		dispatch_recs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* sqi_ds_each: as sqi_ds_list, one record at a time: memory does not grow with the table. */
int sqi_ds_each(struct store_be *st, const struct dispatch_filter *f,
                      int (*fn)(void *arg, const struct dispatch_rec *rec), void *arg, char why[ERR_LEN])
{
	const char *vals[F__N];
	sqlite3_stmt *s;
	struct binder b;
	unsigned mask = 0;
	int rc = -1;

	filter_values(f, vals);
	for (int i = 0; i < F__N; i++)
		if (vals[i])
			mask |= 1u << i;
	if (!(s = list_stmt(st, mask, why)))
		return -1;
	b = sqi_binder(s);
	for (int i = 0; i < F__N; i++)
		if (vals[i])
			sqi_bind_text(&b, i + 1, vals[i]);
	while ((rc = sqi_next_row(st, &b, why)) == 1) {
		struct dispatch_rec r;
		int stop;
		if (read_dispatch(s, &r, why) < 0) {
			sqi_stmt_done(s);
			return -1;
		}
		stop = fn(arg, &r);
		dispatch_rec_clear(&r);
		if (stop) {
			sqi_stmt_done(s);
			return 1;
		}
	}
	return rc;
}

int sqi_ds_next_retry(struct store_be *st, int64_t *at, char why[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "SELECT min(next_attempt_at) FROM dispatches WHERE status = 'retry'", -1, &s,
	                            NULL);
	*at = INT64_MAX;
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		*at = sqlite3_column_int64(s, 0);
	if (rc != SQLITE_ROW)
		err_set(why, "%s", sqi_db_msg(st));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}
