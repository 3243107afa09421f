/*
 * store_sqlite_import: the SQLite backend's bulk import, one write transaction for a file,
 * with a savepoint per row when a failed row is to be undone alone.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/*
 * The ids an import has seen live in a temporary table (SQLite's temp database spills to a
 * file when its cache is full), so a duplicate is found in memory that does not grow with the
 * file. A Bloom filter says when an id is new for certain (all but about 1% of the new ones
 * at 1,000,000 ids): those wait and go to the table SEEN_BATCH to a statement; the table is
 * asked only when the filter says an id may have been seen, after what waits went in.
 */
#define SEEN_BATCH 128

struct sqi_seen {
	unsigned char *bloom;
	sqlite3_stmt *bulk;     /* SEEN_BATCH rows at once */
	char *ids;              /* the waiting ids, each NUL-ended */
	size_t len, cap;
	size_t off[SEEN_BATCH];
	long line[SEEN_BATCH];
	size_t n;
};

void sqi_import_free(struct store_be *st)
{
	if (!st->imp)
		return;
	sqlite3_finalize(st->imp->bulk);
	free(st->imp->bloom);
	free(st->imp->ids);
	free(st->imp);
	st->imp = NULL;
}

/* flush_seen: the waiting ids into the table (a full batch in one statement, else one by one). */
static int flush_seen(struct store_be *st, char why[ERR_LEN])
{
	struct sqi_seen *q = st->imp;
	struct binder b;
	if (!q->n)
		return 0;
	if (q->n == SEEN_BATCH) {
		if (!q->bulk) {
			struct strbuf sql = {0};
			int rc;
			sb_adds(&sql, "INSERT INTO temp.import_ids(id, line) VALUES");
			for (int i = 0; i < SEEN_BATCH; i++)
				sb_adds(&sql, i ? ",(?,?)" : "(?,?)");
			rc = sqi_prepare(st, sql.s, &q->bulk, why);
			sb_free(&sql);
			if (rc < 0)
				return -1;
		}
		b = sqi_binder(q->bulk);
		for (size_t i = 0; i < q->n; i++) {
			sqi_bind_text(&b, (int)(2 * i + 1), q->ids + q->off[i]);
			sqi_bind_int(&b, (int)(2 * i + 2), q->line[i]);
		}
		if (sqi_run(st, &b, why) < 0)
			return -1;
	} else {
		sqlite3_stmt *s = sqi_stmt(st, ST_IMP_SEEN, why);
		if (!s)
			return -1;
		for (size_t i = 0; i < q->n; i++) {
			b = sqi_binder(s);
			sqi_bind_text(&b, 1, q->ids + q->off[i]);
			sqi_bind_int(&b, 2, q->line[i]);
			if (sqi_run(st, &b, why) < 0)
				return -1;
		}
	}
	q->n = 0;
	q->len = 0;
	return 0;
}
int sqi_import_begin(struct store_be *st, int per_row, int dry, char why[ERR_LEN])
{
	/* A dry run writes only to the temporary table: it takes no write lock from a running daemon. */
	if (sqi_exec(st, dry ? "BEGIN" : "BEGIN IMMEDIATE", why) < 0)
		return -1;
	if (sqi_exec(st, "CREATE TEMP TABLE IF NOT EXISTS import_ids(id TEXT PRIMARY KEY, line INTEGER NOT NULL) "
	             "WITHOUT ROWID; DELETE FROM temp.import_ids", why) < 0) {
		sqi_rollback(st);
		return -1;
	}
	sqi_import_free(st);
	st->imp = xcalloc(1, sizeof *st->imp);
	st->imp->bloom = util_bloom_new();
	st->importing = per_row ? 2 : 1;
	return 0;
}

int sqi_import_seen(struct store_be *st, const char *id, long line, long *first_line, char why[ERR_LEN])
{
	sqlite3_stmt *s;
	struct binder b;
	int rc;

	*first_line = 0;
	if (st->imp && !util_bloom_test_set(st->imp->bloom, id)) {
		struct sqi_seen *q = st->imp;
		size_t n = strlen(id) + 1;
		if (q->len + n > q->cap) {
			while (q->len + n > q->cap)
				q->cap = q->cap ? 2 * q->cap : 4096;
			q->ids = xrealloc(q->ids, q->cap);
		}
		memcpy(q->ids + q->len, id, n);
		q->off[q->n] = q->len;
		q->line[q->n++] = line;
		q->len += n;
		return q->n == SEEN_BATCH ? flush_seen(st, why) : 0;
	}
	if (st->imp && flush_seen(st, why) < 0)
		return -1;
	if (!(s = sqi_stmt(st, ST_IMP_SEEN, why)))
		return -1;
	b = sqi_binder(s);
	sqi_bind_text(&b, 1, id);
	sqi_bind_int(&b, 2, line);
	if (sqi_run(st, &b, why) < 0)
		return -1;
	if (sqlite3_changes(st->db) > 0)
		return 0;
	if (!(s = sqi_stmt(st, ST_IMP_LINE, why)))
		return -1;
	b = sqi_binder(s);
	sqi_bind_text(&b, 1, id);
	if ((rc = sqi_next_row(st, &b, why)) < 0)
		return -1;
	*first_line = rc == 1 ? (long)sqlite3_column_int64(s, 0) : -1;
	sqi_stmt_done(s);
	return 0;
}

/* step_fixed: runs one of the statements without parameters. */
static int step_fixed(struct store_be *st, enum stmt_id id, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, id, why);
	struct binder b = sqi_binder(s);
	return s ? sqi_run(st, &b, why) : -1;
}

int sqi_import_put(struct store_be *st, const struct stakeholder *sh, const struct event *ev, int64_t now,
                         char why[ERR_LEN])
{
	int rc;
	/*
	 * All or nothing: a failure rolls back the whole import, so the row needs no savepoint of
	 * its own. With skip_invalid the good rows stay: a failed row is undone alone.
	 */
	if (st->importing == 2 && step_fixed(st, ST_IMP_SAVE, why) < 0)
		return -1;
	rc = sh ? sqi_put_rows(st, sh, now, why) : sqi_ev_put(st, ev, why);
	if (st->importing == 2) {
		char why2[ERR_LEN];
		if (rc != 0)
			step_fixed(st, ST_IMP_UNDO, why2);
		if (step_fixed(st, ST_IMP_RELEASE, rc == 0 ? why : why2) < 0 && rc == 0)
			return -1;
	}
	return rc;
}

int sqi_import_end(struct store_be *st, int commit, char why[ERR_LEN])
{
	st->importing = 0;
	sqi_import_free(st);   /* the ids waiting go nowhere: nothing asks any more */
	sqlite3_exec(st->db, "DELETE FROM temp.import_ids", NULL, NULL, NULL);
	if (!commit) {
		sqi_rollback(st);
		return 0;
	}
	if (sqi_exec(st, "COMMIT", why) == 0)
		return 0;
	sqi_rollback(st);
	return -1;
}

