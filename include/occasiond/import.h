/*
 * import: stakeholders and events into the store, all or nothing: each row is validated and
 * written inside one transaction that is committed only when no row was bad (unless
 * skip_invalid). Stakeholders may come from an export in its own columns through a map
 * (import_map.h) or a shipped preset, or from a vCard file.
 */
#ifndef OCCASIOND_IMPORT_H
#define OCCASIOND_IMPORT_H

#include <stddef.h>
#include <stdio.h>

#include "occasiond/store.h"
#include "occasiond/util.h"

struct import_stats {
	size_t rows;       /* data rows (or cards) read */
	size_t written;    /* rows inserted or updated */
	size_t invalid;    /* rows reported */
};

struct import_opts {
	int events;              /* events CSV (no map, no vCard) */
	int skip_invalid;        /* write the good rows, report the bad */
	int dry_run;             /* show how the first rows map, validate all, write nothing */
	const char *map;         /* a map file, or NULL */
	const char *preset;      /* a shipped map's name (hubspot, ...), or NULL */
	const char *format;      /* "csv", "vcard", or NULL: by the file's name and start */
	const char *encoding;    /* NULL: the map's, else detected */
	int delimiter;           /* 0: the map's, else detected */
	FILE *out;               /* where --dry-run prints (stdout when NULL) */
};

/*
 * import_file: reads path as o says, reports each bad row in d as "FILE:LINE: error:
 * MESSAGE" (notes as warnings), and writes in one transaction. Returns 0 when it wrote (with
 * skip_invalid, even if some rows were bad; with dry_run, when no row was bad), -1 when
 * nothing was written.
 */
int import_file(struct store *st, const char *path, const struct import_opts *o, struct import_stats *stats,
                struct diags *d);
/* import_csv: import_file of a CSV in our own columns. */
int import_csv(struct store *st, const char *path, int events, int skip_invalid, struct import_stats *stats,
               struct diags *d);
/* import_preset_path: the map file of a shipped preset (caller frees), or NULL with err. */
char *import_preset_path(const char *name, char err[ERR_LEN]);

#endif
