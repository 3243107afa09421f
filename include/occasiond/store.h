/*
 * store: the only SQLite user. Schema (versioned with PRAGMA user_version and migrated
 * forward on open), stakeholders with their custom fields, events, dispatch records.
 * Kept narrow so that another backend can stand behind the same calls.
 */
#ifndef OCCASIOND_STORE_H
#define OCCASIOND_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/model.h"
#include "occasiond/util.h"

#define STORE_SCHEMA_VERSION 1

struct store;

/*
 * store_open: opens (creating the file and its directory's schema when new) and migrates.
 * WAL mode, foreign keys, busy timeout 60 s. 0 or -1 with err. A database newer than this
 * program is refused.
 */
int store_open(const char *path, struct store **out, char err[ERR_LEN]);
void store_close(struct store *st);       /* NULL is fine */
int store_schema_version(struct store *st);

/* Write transactions (BEGIN IMMEDIATE). */
int store_begin(struct store *st, char err[ERR_LEN]);
int store_commit(struct store *st, char err[ERR_LEN]);
void store_rollback(struct store *st);

/* store_put_stakeholder: inserts or replaces by id, custom fields included (the old custom set is replaced). */
int store_put_stakeholder(struct store *st, const struct stakeholder *sh, char err[ERR_LEN]);
/* store_put_event: inserts, or updates title/details of the same (stakeholder, kind, date). Unknown stakeholder: error. */
int store_put_event(struct store *st, const struct event *ev, char err[ERR_LEN]);
/*
 * Bulk import: one write transaction for a whole file, written row by row. store_import_begin
 * opens it; flags: STORE_IMPORT_PER_ROW: a row that fails is undone alone (--skip-invalid;
 * else any failure is meant to end in store_import_end(st, 0)); STORE_IMPORT_DRY: nothing
 * will be put, so no write lock is taken (--dry-run still finds duplicates). store_import_seen records id at line
 * and sets *first_line to the line it was first seen on when it is a duplicate (0 when new),
 * in memory that does not grow with the file. store_import_put writes a stakeholder (sh) or an
 * event (ev, when sh is NULL) as store_put_stakeholder/store_put_event. store_import_end
 * commits (commit 1) or rolls everything back (commit 0). Each returns 0, or -1 with err.
 */
#define STORE_IMPORT_PER_ROW 1
#define STORE_IMPORT_DRY 2
int store_import_begin(struct store *st, int flags, char err[ERR_LEN]);
int store_import_seen(struct store *st, const char *id, long line, long *first_line, char err[ERR_LEN]);
int store_import_put(struct store *st, const struct stakeholder *sh, const struct event *ev, char err[ERR_LEN]);
int store_import_end(struct store *st, int commit, char err[ERR_LEN]);
/* store_load_stakeholders: all, ordered by id; free with stakeholders_free. */
int store_load_stakeholders(struct store *st, struct stakeholder **out, size_t *n, char err[ERR_LEN]);
/* store_get_stakeholder: one by id; *found 0 when absent. Clear with stakeholder_clear. */
int store_get_stakeholder(struct store *st, const char *id, struct stakeholder *out, int *found, char err[ERR_LEN]);
/* store_load_events: all, ordered by stakeholder, date; free with events_free. */
int store_load_events(struct store *st, struct event **out, size_t *n, char err[ERR_LEN]);
/* store_custom_columns: the distinct custom column names in use; free each and the array. */
int store_custom_columns(struct store *st, char ***out, size_t *n, char err[ERR_LEN]);

/*
 * store_claim: inserts rec (its id, created_at and updated_at are set) unless a record with
 * the same (rule, stakeholder, occasion_date) exists: then *claimed is 0 and nothing changes.
 * Runs in its own transaction unless one is open. 0 or -1.
 */
int store_claim(struct store *st, struct dispatch_rec *rec, int *claimed, char err[ERR_LEN]);
/* store_update_dispatch: writes every mutable field of rec (by id) and sets updated_at. */
int store_update_dispatch(struct store *st, struct dispatch_rec *rec, char err[ERR_LEN]);
/* store_delete_dispatch: removes a claim that never went anywhere (a card batch that failed to save). */
int store_delete_dispatch(struct store *st, int64_t id, char err[ERR_LEN]);
/* store_get_dispatch: by id; *found 0 when absent. */
int store_get_dispatch(struct store *st, int64_t id, struct dispatch_rec *out, int *found, char err[ERR_LEN]);

struct dispatch_filter {
	const char *since_date;   /* occasion or fire date >= (YYYY-MM-DD), or NULL */
	const char *status;       /* or NULL */
	const char *rule;         /* or NULL */
	const char *stakeholder;  /* or NULL */
	const char *fire_date;    /* exact, or NULL */
	const char *signer;       /* exact, or NULL */
	int channel;              /* -1 for any */
};
/* store_list_dispatches: matching records ordered by fire_at, id; free with dispatch_recs_free. */
int store_list_dispatches(struct store *st, const struct dispatch_filter *f,
                          struct dispatch_rec **out, size_t *n, char err[ERR_LEN]);

/* store_meta_get: a value of the meta table (e.g. "install_id", made at creation); caller frees; NULL when absent. */
char *store_meta_get(struct store *st, const char *key);
/* store_meta_set: sets (or replaces) a value of the meta table. 0 or -1. */
int store_meta_set(struct store *st, const char *key, const char *value, char err[ERR_LEN]);

/*
 * store_quick_check: PRAGMA quick_check, run once when a pass or the daemon starts: a damaged
 * database is refused with a message rather than written to. 0 or -1.
 */
int store_quick_check(struct store *st, char err[ERR_LEN]);

/* store_set_clock: overrides the clock used for created_at/updated_at (tests, run --at); 0 restores time(). */
void store_set_clock(struct store *st, int64_t now);

/*
 * For the daemon. store_data_version: PRAGMA data_version, a number that changes when
 * another connection (an import, a mark) has committed since this one last looked; -1 on error.
 */
int64_t store_data_version(struct store *st);
/* store_next_retry: *at is the earliest next_attempt_at of the records in retry (INT64_MAX: none). 0 or -1. */
int store_next_retry(struct store *st, int64_t *at, char err[ERR_LEN]);
/* store_trim: caps SQLite's page cache at cache_kib KiB and gives back what it holds unused (between passes). */
void store_trim(struct store *st, int cache_kib);

/*
 * The stakeholders one at a time, in id order (strcmp), each with its own custom fields,
 * events and dispatch records, all from one read snapshot: what the streamed plan reads,
 * in memory that does not grow with the table.
 */
struct store_scan;
struct store_sh_row {
	/*
	 * The stakeholder: the fields asked for, the others "". Every string points into the
	 * scan and is valid until the next store_scan_next; never free or keep one.
	 */
	struct stakeholder sh;        /* custom fields by name */
	struct event *ev;             /* stakeholder_id, kind, date (title and details are ""), by kind and date */
	size_t nev;
	struct dispatch_rec *hist;    /* stakeholder, rule, occasion_date, fire_date, status, cost_cents */
	size_t nhist;
};
/*
 * store_scan_open: fields is a mask of (1u << enum sh_field) to read (id is always read);
 * custom and events: also read those (else none). table_order: read the table in storage
 * order, faster, as long as that is id order (see store_scan_next). Holds a read
 * transaction until store_scan_close. 0 or -1 with err.
 */
int store_scan_open(struct store *st, uint32_t fields, int custom, int events, int table_order,
                    struct store_scan **out, char err[ERR_LEN]);
/*
 * store_scan_next: 1 with *row (owned by the scan), 0 at the end, -1 with err; 2 when a scan
 * in table order meets an id out of order: close it and start again without table_order.
 */
int store_scan_next(struct store_scan *sc, const struct store_sh_row **row, char err[ERR_LEN]);
void store_scan_close(struct store_scan *sc);   /* NULL is fine */

#endif
