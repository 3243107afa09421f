/*
 * import: rows -> validated records -> one store transaction, streamed: each row is read,
 * mapped, validated and written before the next is read, so memory does not grow with the
 * file. All or nothing still holds: the transaction is committed only when no row was bad
 * (or with skip_invalid), and a duplicate id is found through the store's table of the ids
 * this import has seen.
 */
#include "occasiond/import.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "occasiond/csv.h"
#include "occasiond/import_map.h"
#include "occasiond/model.h"
#include "occasiond/vcard.h"

/* Past this many reported rows, the rest are counted, not listed (a wrong file must not fill memory). */
#define IMPORT_MAX_REPORTED 1000
#define IMPORT_DRY_ROWS 3

struct importer {
	struct store *st;
	const char *path;
	const struct import_opts *o;
	struct import_stats *stats;
	struct diags *d;
	struct imap *map;          /* stakeholders: from the source's columns to ours */
	char *const *header;       /* events: the file's own header */
	size_t nheader;
	size_t unreported;
	struct model_cols *cols;   /* stakeholders: the map's header (our columns), resolved once */
	int writing;               /* 0 once a bad row makes the import fail: the rest is only validated */
	FILE *out;
};

/* bad_row: reports one bad row (the first IMPORT_MAX_REPORTED of them). */
static void bad_row(struct importer *im, long line, const char *msg)
{
	im->stats->invalid++;
	if (!im->o->skip_invalid)
		im->writing = 0;
	if (im->d->nerrors >= IMPORT_MAX_REPORTED) {
		im->unreported++;
		return;
	}
	diags_add(im->d, 0, "%s:%ld: error: %s", im->path, line, msg);
}

/* source_named: model.c names our column; a mapped import names the source's column behind it. */
static void source_named(const struct importer *im, char err[ERR_LEN])
{
	char field[MODEL_MAX_COLUMN_NAME + 1], rest[ERR_LEN];
	const char *colon, *src;
	size_t n;
	if (!im->map || strncmp(err, "column ", 7) != 0 || !(colon = strchr(err + 7, ':')))
		return;
	n = (size_t)(colon - (err + 7));
	if (n >= sizeof field)
		return;
	memcpy(field, err + 7, n);
	field[n] = '\0';
	src = imap_source_name(im->map, field);
	if (strcmp(src, field) == 0)
		return;
	util_strlcpy(rest, colon, 400);
	snprintf(err, ERR_LEN, "column %.100s%.400s", src, rest);
}

/* take_row: maps, validates and writes one record. 0, or -1 when the store failed (the import ends). */
static int take_row(struct importer *im, const struct csv_record *rec, struct stakeholder *sh, struct event *ev)
{
	char err[ERR_LEN];
	long first;
	int bad;

	if (im->o->events) {
		bad = model_event_from_row(im->header, im->nheader, rec->fields, rec->lens, rec->n, ev, err);
	} else {
		char *const *vals;
		const size_t *lens;
		size_t n;
		imap_header(im->map, &n);
		bad = imap_row(im->map, rec->fields, rec->lens, rec->n, &vals, &lens, err);
		if (!bad) {
			bad = model_stakeholder_from_cols(im->cols, vals, lens, n, sh, err);
			if (bad)
				source_named(im, err);
		}
		if (im->o->dry_run && im->stats->rows <= IMPORT_DRY_ROWS) {
			fprintf(im->out, "%s:%ld:%s\n", im->path, rec->line, bad ? " (not imported: see the error)" : "");
			if (!bad)
				imap_print_row(im->map, im->out);
		}
	}
	if (bad) {
		if (strstr(err, "not valid UTF-8") && !im->o->encoding && !im->o->events)
			util_strlcpy(err + strlen(err), " (an export in windows-1252 or ISO-8859-1? --encoding says which)",
			             ERR_LEN - strlen(err));
		bad_row(im, rec->line, err);
		return 0;
	}
	if (!im->o->events) {
		if (store_import_seen(im->st, sh->f[SH_ID], rec->line, &first, err) < 0)
			goto store_failed;
		if (first) {
			char msg[ERR_LEN];
			snprintf(msg, sizeof msg, "duplicate id '%s' (also on line %ld)", sh->f[SH_ID], first);
			bad_row(im, rec->line, msg);
			return 0;
		}
	}
	if (!im->writing || im->o->dry_run)
		return 0;
	if (store_import_put(im->st, im->o->events ? NULL : sh, ev, err) < 0) {
		bad_row(im, rec->line, err);
		return 0;
	}
	im->stats->written++;
	return 0;
store_failed:
	diags_add(im->d, 0, "%s:%ld: error: %s", im->path, rec->line, err);
	return -1;
}

/* A source of records: a CSV file or a vCard file. */
struct source {
	struct csv_reader *csv;
	struct vcard_reader *vc;
};

static int source_next(struct source *s, struct csv_record *rec, char err[ERR_LEN])
{
	return s->csv ? csv_next(s->csv, rec, err) : vcard_next(s->vc, rec, err);
}

static void source_close(struct source *s)
{
	csv_close(s->csv);
	vcard_close(s->vc);
}

/* is_vcard: by --format, else by the name's ending or the file's first line. */
static int is_vcard(const char *path, const char *format)
{
	size_t n = strlen(path);
	char head[16] = "";
	FILE *fp;
	if (format)
		return strcmp(format, "vcard") == 0;
	if ((n > 4 && strcasecmp(path + n - 4, ".vcf") == 0) || (n > 6 && strcasecmp(path + n - 6, ".vcard") == 0))
		return 1;
	if ((fp = fopen(path, "rbe"))) {
		size_t got = fread(head, 1, sizeof head - 1, fp);
		head[got] = '\0';
		fclose(fp);
	}
	return strncasecmp(head + (strncmp(head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0), "BEGIN:VCARD", 11) == 0;
}

char *import_preset_path(const char *name, char err[ERR_LEN])
{
	char exe[4096], *path;
	ssize_t n;
	for (const char *p = name; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-') {
			err_set(err, "unknown preset '%.40s' (hubspot, salesforce, google, outlook)", name);
			return NULL;
		}
	path = xasprintf("%s/maps/%s.yaml", OCCASIOND_DATADIR, name);
	if (*name && util_file_exists(path))
		return path;
	free(path);
	/* Run from the source tree (build/occasiond, build/san/occasiond): the maps up the tree. */
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0 && *name) {
		char *dir;
		exe[n] = '\0';
		dir = util_dirname(exe);
		for (int up = 0; up < 2; up++) {
			char *parent = util_dirname(dir);
			free(dir);
			dir = parent;
			path = xasprintf("%s/maps/%s.yaml", dir, name);
			if (util_file_exists(path)) {
				free(dir);
				return path;
			}
			free(path);
		}
		free(dir);
	}
	err_set(err, "unknown preset '%.40s' (hubspot, salesforce, google, outlook; the maps are in %s/maps)", name,
	        OCCASIOND_DATADIR);
	return NULL;
}

/* open_source: the reader, the map bound to its header (stakeholders) or the header checked (events). */
static int open_source(struct importer *im, struct source *src, char ***header, size_t *nheader)
{
	const struct import_opts *o = im->o;
	struct csv_record head;
	char err[ERR_LEN];
	int more;

	if (!o->events && is_vcard(im->path, o->format)) {
		if (vcard_open(im->path, &src->vc, err) != 0) {
			diags_add(im->d, 0, "%s", err);
			return -1;
		}
		im->map = vcard_map(im->map);
		head.fields = (char **)vcard_header(&head.n);
		head.line = 1;
	} else {
		struct csv_opts co = {o->delimiter, o->encoding};
		if (!co.delimiter && im->map)
			co.delimiter = imap_delimiter(im->map);
		if (!co.encoding && im->map)
			co.encoding = imap_encoding(im->map);
		if (o->events && !co.encoding)
			co.encoding = "UTF-8";
		if (csv_open_opts(im->path, &co, &src->csv, err) != 0) {
			diags_add(im->d, 0, "%s", err);
			return -1;
		}
		if (csv_note(src->csv))
			diags_add(im->d, 1, "%s", csv_note(src->csv));
		more = csv_next(src->csv, &head, err);
		if (more < 0) {
			diags_add(im->d, 0, "%s", err);
			return -1;
		}
		if (more == 0) {
			diags_add(im->d, 0, "%s:1: error: the file is empty (a header line is needed)", im->path);
			return -1;
		}
	}
	*nheader = head.n;
	*header = xcalloc(head.n ? head.n : 1, sizeof **header);
	for (size_t i = 0; i < head.n; i++) {
		(*header)[i] = xstrdup(head.fields[i]);
		util_trim((*header)[i]);
	}
	if (o->events) {
		if (model_check_header(*header, *nheader, 1, err) != 0) {
			diags_add(im->d, 0, "%s:%ld: error: %s", im->path, head.line, err);
			return -1;
		}
		im->header = *header;
		im->nheader = *nheader;
		return 0;
	}
	if (!im->map)
		im->map = imap_identity();
	if (imap_bind(im->map, *header, *nheader, im->path, head.line, im->d) != 0)
		return -1;
	{
		size_t n;
		char *const *names = imap_header(im->map, &n);
		if (model_check_header(names, n, 0, err) != 0) {
			diags_add(im->d, 0, "%s:%ld: error: %s", im->path, head.line, err);
			return -1;
		}
		im->cols = model_cols_new(names, n);
	}
	return 0;
}

int import_file(struct store *st, const char *path, const struct import_opts *o, struct import_stats *stats,
                struct diags *d)
{
	struct importer im = {st, path, o, stats, d, NULL, NULL, 0, 0, NULL, 1, o->out ? o->out : stdout};
	struct source src = {NULL, NULL};
	struct csv_record rec;
	struct stakeholder sh = {0};
	struct event ev = {0};
	char **header = NULL;
	size_t nheader = 0;
	char err[ERR_LEN];
	int rc = -1, more = -1, begun = 0;

	memset(stats, 0, sizeof *stats);
	if (o->events && (o->map || o->preset || (o->format && strcmp(o->format, "csv") != 0))) {
		diags_add(d, 0, "%s: error: events come as CSV in their own columns (no map, preset or vCard)", path);
		return -1;
	}
	if (o->preset || o->map) {
		char *mp = o->map ? xstrdup(o->map) : import_preset_path(o->preset, err);
		if (!mp) {
			diags_add(d, 0, "occasiond: %s", err);
			return -1;
		}
		rc = imap_load(mp, &im.map, d);
		free(mp);
		if (rc != 0)
			return -1;
		rc = -1;
	}
	if (open_source(&im, &src, &header, &nheader) != 0)
		goto out;
	if (store_import_begin(st, (o->skip_invalid ? STORE_IMPORT_PER_ROW : 0) | (o->dry_run ? STORE_IMPORT_DRY : 0),
	                       err) != 0) {
		diags_add(d, 0, "%s", err);
		goto out;
	}
	begun = 1;
	while ((more = source_next(&src, &rec, err)) > 0) {
		stats->rows++;
		if (take_row(&im, &rec, &sh, &ev) < 0)
			goto out;
	}
	if (more < 0) {
		/* A broken quote or card makes the rest of the file unreadable: nothing is written. */
		diags_add(d, 0, "%s", err);
		goto out;
	}
	if (o->dry_run && im.map) {
		fprintf(im.out, "columns of %s:\n", path);
		imap_print_columns(im.map, im.out);
		fprintf(im.out, "%zu row%s read, %zu invalid; nothing written (--dry-run)\n", stats->rows,
		        stats->rows == 1 ? "" : "s", stats->invalid);
	}
	if (im.unreported)
		diags_add(d, 0, "%s: error: %zu more bad rows not listed", path, im.unreported);
	if (!im.writing || o->dry_run)
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
	if (o->dry_run && stats->invalid == 0 && more == 0)
		rc = 0;
	if (rc != 0 || o->dry_run)
		stats->written = 0;
	stakeholder_clear(&sh);
	event_clear(&ev);
	for (size_t i = 0; i < nheader; i++)
		free(header[i]);
	free(header);
	imap_free(im.map);
	model_cols_free(im.cols);
	source_close(&src);
	return rc;
}

int import_csv(struct store *st, const char *path, int events, int skip_invalid, struct import_stats *stats,
               struct diags *d)
{
	struct import_opts o = {0};
	o.events = events;
	o.skip_invalid = skip_invalid;
	o.format = "csv";
	o.encoding = "UTF-8";
	o.delimiter = ',';
	return import_file(st, path, &o, stats, d);
}
