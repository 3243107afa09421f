/*
 * store_pg_import: the PostgreSQL backend's bulk import, one transaction for a file. Round
 * trips are what costs: an all-or-nothing import sends its stakeholders and the ids it has
 * seen in batches (array literals through unnest); with a savepoint per row each row goes
 * alone. Duplicate ids are found through a temporary table of the ids seen, asked only when
 * a Bloom filter says an id may have been seen before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* An import's stakeholders (and new ids) go IMPORT_BATCH to a statement, not a round trip each. */
#define IMPORT_BATCH 1000


int pgi_import_begin(struct store_be *st, int per_row, int dry, char why[ERR_LEN])
{
	(void)dry;   /* PostgreSQL's writers never block readers: a dry run needs no care of its own */
	if (pgi_begin(st, why) < 0)
		return -1;
	if (pgi_exec(st, "CREATE TEMP TABLE IF NOT EXISTS import_ids(id text COLLATE \"C\" PRIMARY KEY, "
	             "line bigint NOT NULL); DELETE FROM pg_temp.import_ids", why) < 0) {
		pgi_rollback(st);
		return -1;
	}
	free(st->bloom);
	st->bloom = util_bloom_new();
	st->importing = per_row ? 2 : 1;
	return 0;
}

static void arr_add(struct strbuf *sb, const char *v);

/* flush_seen: the new ids kept back go to import_ids. */
static int flush_seen(struct store_be *st, char why[ERR_LEN])
{
	const char *v[2];
	PGresult *r;
	if (!st->nseen)
		return 0;
	sb_addc(&st->seen_ids, '}');
	sb_addc(&st->seen_lines, '}');
	v[0] = st->seen_ids.s;
	v[1] = st->seen_lines.s;
	r = pgi_q(st, ST_IMP_SEEN_BULK, 2, v, why);
	sb_reset(&st->seen_ids);
	sb_reset(&st->seen_lines);
	st->nseen = 0;
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int pgi_import_seen(struct store_be *st, const char *id, long line, long *first_line, char why[ERR_LEN])
{
	char num[24];
	const char *v[2] = {id, num};
	PGresult *r;
	int n;

	*first_line = 0;
	snprintf(num, sizeof num, "%ld", line);
	if (!util_bloom_test_set(st->bloom, id)) {
		arr_add(&st->seen_ids, id);
		arr_add(&st->seen_lines, num);
		return ++st->nseen >= IMPORT_BATCH ? flush_seen(st, why) : 0;
	}
	/* Maybe seen: the table answers, once it has every id so far. */
	if (flush_seen(st, why) < 0 || !(r = pgi_q(st, ST_IMP_SEEN, 2, v, why)))
		return -1;
	n = pgi_changed_rows(r);
	PQclear(r);
	if (n > 0)
		return 0;
	if (!(r = pgi_q(st, ST_IMP_LINE, 1, v, why)))
		return -1;
	*first_line = PQntuples(r) == 1 ? (long)pgi_val_int(r, 0, 0) : -1;
	PQclear(r);
	return 0;
}

/* arr_add: v as one element of the array literal being built in sb. */
static void arr_add(struct strbuf *sb, const char *v)
{
	sb_adds(sb, sb->len ? ",\"" : "{\"");
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_addc(sb, '\\');
		sb_addc(sb, *p);
	}
	sb_addc(sb, '"');
}

static void batch_reset(struct batch *bt)
{
	for (int i = 0; i < SH_NFIELDS; i++)
		sb_reset(&bt->col[i]);
	for (int i = 0; i < 4; i++)
		sb_reset(&bt->custom[i]);
	bt->n = bt->ncustom = 0;
}

static void batch_free(struct batch *bt)
{
	for (int i = 0; i < SH_NFIELDS; i++)
		sb_free(&bt->col[i]);
	for (int i = 0; i < 4; i++)
		sb_free(&bt->custom[i]);
	bt->n = bt->ncustom = 0;
}

/* flush: the batched stakeholders in two statements (their rows, then their custom fields). */
static int flush(struct store_be *st, char why[ERR_LEN])
{
	struct batch *bt = &st->batch;
	const char *v[SH_NFIELDS + 2];
	char nowbuf[24], maskbuf[24];
	PGresult *r;
	int rc = -1;

	if (!bt->n)
		return 0;
	for (int i = 0; i < SH_NFIELDS; i++) {
		sb_addc(&bt->col[i], '}');
		v[i] = bt->col[i].s;
	}
	snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)bt->now);
	snprintf(maskbuf, sizeof maskbuf, "%lld", (long long)bt->mask);
	v[SH_NFIELDS] = nowbuf;
	v[SH_NFIELDS + 1] = maskbuf;
	if (!(r = pgi_q(st, ST_IMP_BULK, SH_NFIELDS + 2, v, why)))
		goto out;
	PQclear(r);
	if (bt->ncustom) {
		for (int i = 0; i < 4; i++) {
			sb_addc(&bt->custom[i], '}');
			v[i] = bt->custom[i].s;
		}
		if (!(r = pgi_q(st, ST_IMP_BULK_F, 4, v, why)))
			goto out;
		PQclear(r);
	}
	rc = 0;
out:
	batch_reset(bt);
	return rc;
}

static int batch_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	struct batch *bt = &st->batch;
	char ord[24];
	if (bt->n && (bt->mask != sh->present || bt->now != now) && flush(st, why) < 0)
		return -1;
	bt->mask = sh->present;
	bt->now = now;
	for (int i = 0; i < SH_NFIELDS; i++)
		arr_add(&bt->col[i], sh->f[i]);
	for (size_t i = 0; i < sh->ncustom; i++) {
		snprintf(ord, sizeof ord, "%zu", i);
		arr_add(&bt->custom[0], sh->f[SH_ID]);
		arr_add(&bt->custom[1], sh->custom[i].key);
		arr_add(&bt->custom[2], sh->custom[i].value);
		arr_add(&bt->custom[3], ord);
		bt->ncustom++;
	}
	return ++bt->n >= IMPORT_BATCH ? flush(st, why) : 0;
}

int pgi_import_put(struct store_be *st, const struct stakeholder *sh, const struct event *ev, int64_t now,
                         char why[ERR_LEN])
{
	int rc;
	/*
	 * All or nothing: stakeholders that replace only the columns the file has are batched
	 * (a failure fails the whole import anyway), and need no savepoint. With skip_invalid
	 * each row is written alone, and a failed one undone alone.
	 */
	if (st->importing == 1 && sh && sh->present)
		return batch_put(st, sh, now, why);
	/* Before a row's savepoint: its undoing must not take the ids seen with it. */
	if (flush_seen(st, why) < 0 || flush(st, why) < 0)
		return -1;
	if (st->importing == 2 && pgi_exec(st, "SAVEPOINT import_row", why) < 0)
		return -1;
	rc = sh ? pgi_put_rows(st, sh, now, why) : pgi_ev_put(st, ev, why);
	if (st->importing == 2) {
		char why2[ERR_LEN];
		if (rc != 0)
			pgi_exec(st, "ROLLBACK TO import_row", why2);
		if (pgi_exec(st, "RELEASE import_row", rc == 0 ? why : why2) < 0 && rc == 0)
			return -1;
	}
	return rc;
}

static void seen_free(struct store_be *st)
{
	free(st->bloom);
	st->bloom = NULL;
	sb_free(&st->seen_ids);
	sb_free(&st->seen_lines);
	st->nseen = 0;
}

int pgi_import_end(struct store_be *st, int commit, char why[ERR_LEN])
{
	int rc = commit ? flush(st, why) : 0;
	batch_free(&st->batch);
	seen_free(st);
	st->importing = 0;
	if (!commit || rc < 0) {
		pgi_rollback(st);
		return rc;
	}
	st->notify = 1;
	return pgi_commit(st, why);
}

void pgi_import_free(struct store_be *st)
{
	batch_free(&st->batch);
	seen_free(st);
}
