/*
 * import: rows -> validated records -> one store transaction, streamed: each row is read,
 * validated and written before the next is read, so memory does not grow with the file.
 * All or nothing still holds: the transaction is committed only when no row was bad
 * (or with skip_invalid), and a duplicate id is found through the store's table of the ids
 * this import has seen.
 */
#include "occasiond/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/csv.h"
#include "occasiond/model.h"

/* Past this many reported rows, the rest are counted, not listed (a wrong file must not fill memory). */
#define IMPORT_MAX_REPORTED 1000

struct importer {
	struct store *st;
	const char *path;
	int events, skip_invalid;
	struct import_stats *stats;
	struct diags *d;
	size_t unreported;
	int writing;      /* 0 once a bad row makes the import fail: the rest is only validated */
};

/* bad_row: reports one bad row (the first IMPORT_MAX_REPORTED of them). */
static void bad_row(struct importer *im, long line, const char *msg)
{
	im->stats->invalid++;
	if (!im->skip_invalid)
		im->writing = 0;
	if (im->d->nerrors >= IMPORT_MAX_REPORTED) {
		im->unreported++;
		return;
	}
	diags_add(im->d, 0, "%s:%ld: error: %s", im->path, line, msg);
}

/* take_row: validates one record and writes it. 0, or -1 when the store failed (the import ends). */
static int take_row(struct importer *im, char *const *header, size_t nheader, const struct csv_record *rec,
                    struct stakeholder *sh, struct event *ev)
{
	char err[ERR_LEN];
	long first;
	int bad = im->events ? model_event_from_row(header, nheader, rec->fields, rec->lens, rec->n, ev, err)
	                     : model_stakeholder_from_row(header, nheader, rec->fields, rec->lens, rec->n, sh, err);
	if (bad) {
		bad_row(im, rec->line, err);
		return 0;
	}
	if (!im->events) {
		if (store_import_seen(im->st, sh->f[SH_ID], rec->line, &first, err) < 0)
			goto store_failed;
		if (first) {
			char msg[ERR_LEN];
			snprintf(msg, sizeof msg, "duplicate id '%s' (also on line %ld)", sh->f[SH_ID], first);
			bad_row(im, rec->line, msg);
			return 0;
		}
	}
	if (!im->writing)
		return 0;
	if (store_import_put(im->st, im->events ? NULL : sh, ev, err) < 0) {
		bad_row(im, rec->line, err);
		return 0;
	}
	im->stats->written++;
	return 0;
store_failed:
	diags_add(im->d, 0, "%s:%ld: error: %s", im->path, rec->line, err);
	return -1;
}

int import_csv(struct store *st, const char *path, int events, int skip_invalid, struct import_stats *stats,
               struct diags *d)
{
	struct importer im = {st, path, events, skip_invalid, stats, d, 0, 1};
	struct csv_reader *r = NULL;
	struct csv_record rec, head;
	struct stakeholder sh = {0};
	struct event ev = {0};
	char **header = NULL;
	size_t nheader = 0;
	char err[ERR_LEN];
	int rc = -1, more, begun = 0;

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
	if (store_import_begin(st, skip_invalid, err) != 0) {
		diags_add(d, 0, "%s", err);
		goto out;
	}
	begun = 1;
	while ((more = csv_next(r, &rec, err)) > 0) {
		stats->rows++;
		if (take_row(&im, header, nheader, &rec, &sh, &ev) < 0)
			goto out;
	}
	if (more < 0) {
		/* A broken quote makes the rest of the file unreadable: nothing is written. */
		diags_add(d, 0, "%s", err);
		goto out;
	}
	if (im.unreported)
		diags_add(d, 0, "%s: error: %zu more bad rows not listed", path, im.unreported);
	if (!im.writing)
		goto out;
	begun = 0;
	if (store_import_end(st, 1, err) != 0) {
		diags_add(d, 0, "%s", err);
		goto out;
	}
	rc = 0;
out:
	if (begun)
		store_import_end(st, 0, err);
	if (rc != 0)
		stats->written = 0;
	stakeholder_clear(&sh);
	event_clear(&ev);
	for (size_t i = 0; i < nheader; i++)
		free(header[i]);
	free(header);
	csv_close(r);
	return rc;
}
