/* import: CSV rows -> validated records -> one store transaction. */
#include "occasiond/import.h"

#include <stdlib.h>
#include <string.h>

#include "occasiond/csv.h"
#include "occasiond/model.h"

#define IMPORT_MAX_ROWS 5000000

struct row {
	long line;
	struct stakeholder sh;
	struct event ev;
};

static void rows_free(struct row *rows, size_t n, int events)
{
	for (size_t i = 0; i < n; i++) {
		if (events)
			event_clear(&rows[i].ev);
		else
			stakeholder_clear(&rows[i].sh);
	}
	free(rows);
}

/* A sorted index of ids, to report a stakeholder given twice in one file. */
struct seen {
	const char *id;
	long line;
};

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

int import_csv(struct store *st, const char *path, int events, int skip_invalid, struct import_stats *stats,
               struct diags *d)
{
	struct csv_reader *r = NULL;
	struct csv_record rec, head;
	struct row *rows = NULL;
	char **header = NULL;
	size_t nheader = 0, nrows = 0;
	char err[ERR_LEN];
	int rc = -1, more;
	size_t before = d->nerrors;

	memset(stats, 0, sizeof *stats);
	if (csv_open(path, &r, err) != 0) {
		diags_add(d, 0, "%s", err);
		return -1;
	}
	more = csv_next(r, &head, err);
	if (more < 0) {
		diags_add(d, 0, "%s", err);
		goto out;
	}
	if (more == 0) {
		diags_add(d, 0, "%s:1: error: the file is empty (a header line is needed)", path);
		goto out;
	}
	nheader = head.n;
	header = xcalloc(nheader, sizeof *header);
	for (size_t i = 0; i < nheader; i++) {
		header[i] = xstrdup(head.fields[i]);
		util_trim(header[i]);
	}
	if (model_check_header(header, nheader, events, err) != 0) {
		diags_add(d, 0, "%s:%ld: error: %s", path, head.line, err);
		goto out;
	}
	while ((more = csv_next(r, &rec, err)) > 0) {
		struct row *row;
		int bad;
		stats->rows++;
		if (nrows >= IMPORT_MAX_ROWS) {
			diags_add(d, 0, "%s:%ld: error: more than %d rows", path, rec.line, IMPORT_MAX_ROWS);
			goto out;
		}
		if (rec.n != nheader) {
			diags_add(d, 0, "%s:%ld: error: %zu fields, the header has %zu", path, rec.line, rec.n, nheader);
			stats->invalid++;
			continue;
		}
		rows = xreallocarray(rows, nrows + 1, sizeof *rows);
		row = &rows[nrows];
		memset(row, 0, sizeof *row);
		row->line = rec.line;
		bad = events ? model_event_from_row(header, nheader, rec.fields, rec.lens, rec.n, &row->ev, err)
		             : model_stakeholder_from_row(header, nheader, rec.fields, rec.lens, rec.n, &row->sh, err);
		if (bad) {
			diags_add(d, 0, "%s:%ld: error: %s", path, rec.line, err);
			stats->invalid++;
			if (events)
				event_clear(&row->ev);
			else
				stakeholder_clear(&row->sh);
			continue;
		}
		nrows++;
	}
	if (more < 0) {
		/* A broken quote makes the rest of the file unreadable: nothing is written. */
		diags_add(d, 0, "%s", err);
		goto out;
	}
	if (!events && nrows > 1) {
		struct seen *s = xcalloc(nrows, sizeof *s);
		for (size_t i = 0; i < nrows; i++)
			s[i] = (struct seen){rows[i].sh.f[SH_ID], rows[i].line};
		qsort(s, nrows, sizeof *s, seen_cmp);
		for (size_t i = 1; i < nrows; i++)
			if (strcmp(s[i].id, s[i - 1].id) == 0) {
				diags_add(d, 0, "%s:%ld: error: duplicate id '%s' (also on line %ld)", path, s[i].line, s[i].id,
				          s[i - 1].line);
				stats->invalid++;
			}
		free(s);
	}
	if (d->nerrors != before && !skip_invalid)
		goto out;

	if (store_begin(st, err) != 0) {
		diags_add(d, 0, "%s", err);
		goto out;
	}
	for (size_t i = 0; i < nrows; i++) {
		int bad = events ? store_put_event(st, &rows[i].ev, err) : store_put_stakeholder(st, &rows[i].sh, err);
		if (bad) {
			diags_add(d, 0, "%s:%ld: error: %s", path, rows[i].line, err);
			stats->invalid++;
			if (!skip_invalid) {
				store_rollback(st);
				stats->written = 0;
				goto out;
			}
			continue;
		}
		stats->written++;
	}
	if (store_commit(st, err) != 0) {
		diags_add(d, 0, "%s", err);
		stats->written = 0;
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nheader; i++)
		free(header[i]);
	free(header);
	rows_free(rows, nrows, events);
	csv_close(r);
	return rc;
}
