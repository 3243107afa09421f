/*
 * store: stakeholders with their custom fields, events and dispatch records, wherever they
 * live. A front (store.c: which backend, validation, the dispatch record's states, the
 * messages) and backends behind a table of primitives (src/store_backend.h): SQLite
 * (store_sqlite.c) for a file path, PostgreSQL (store_pg.c) for a postgresql:// URI. The
 * schema is versioned and migrated forward on open.
 *
 * Conventions: functions taking err return 0 on success and -1 with a one-line message in err
 * ("store: cannot WHAT: why"); strings and arrays handed out are the caller's to free (with
 * the free function named), unless said otherwise; a struct store is used by one thread.
 */
#ifndef OCCASIOND_STORE_H
#define OCCASIOND_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/model.h"
#include "occasiond/util.h"

#define STORE_SCHEMA_VERSION 2

struct store;

/*
 * store_open: opens the database that database names (the config's `database:` value): a
 * file path is an SQLite database, created with its directory and schema when new, migrated
 * when older; a postgresql:// or postgres:// URI is a PostgreSQL database (its schema
 * "occasiond" made or migrated likewise), refused when the URI holds a password, when the
 * server cannot be reached or takes no writes; any other SCHEME:// is refused, never taken
 * for a file. A database newer than this program, or not one of ours, is refused. 0 with
 * *out (close with store_close) or -1 with a one-line err naming the database (never its
 * password).
 */
int store_open(const char *database, struct store **out, char err[ERR_LEN]);
/* store_close: ends what is open (an unfinished write transaction is rolled back, the pass lock released). NULL is fine. */
void store_close(struct store *st);
/* store_schema_version: the database's schema version, -1 when it cannot be read. */
int store_schema_version(struct store *st);
/*
 * store_safe_name: database as a message or log line may show it: a file path as is, a URI
 * without its user, password and parameters. Never NULL; caller frees.
 */
char *store_safe_name(const char *database);
/*
 * store_present: 1 when database names something that exists (an existing file, or a server
 * database, which is only found out at store_open), 0 when the file is not there yet.
 */
int store_present(const char *database);

/*
 * Write transactions: what the caller writes between store_begin and store_commit is kept
 * whole or not at all, and other processes' writes wait meanwhile (keep them short). A
 * failed store_commit has rolled back. store_rollback with none open does nothing.
 */
int store_begin(struct store *st, char err[ERR_LEN]);
int store_commit(struct store *st, char err[ERR_LEN]);
void store_rollback(struct store *st);

/*
 * store_put_stakeholder: inserts or replaces by id. sh->present 0: every column and the whole
 * custom set (the old one is replaced); else only the columns whose bits are set and the
 * custom fields given. Atomic; joins an open write transaction.
 */
int store_put_stakeholder(struct store *st, const struct stakeholder *sh, char err[ERR_LEN]);
/* store_put_event: inserts, or updates title/details of the same (stakeholder, kind, date). Unknown stakeholder: error. */
int store_put_event(struct store *st, const struct event *ev, char err[ERR_LEN]);
/* store_load_stakeholders: all, with custom fields, in id order (bytewise); free with stakeholders_free. */
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
/* store_get_stakeholder: one by id with its custom fields; *found 0 when absent. Clear *out with stakeholder_clear. */
int store_get_stakeholder(struct store *st, const char *id, struct stakeholder *out, int *found, char err[ERR_LEN]);
/* store_load_events: all, ordered by stakeholder, date; free with events_free. */
int store_load_events(struct store *st, struct event **out, size_t *n, char err[ERR_LEN]);
/* store_get_events: one stakeholder's events, title and details too, by date; free with events_free. 0 or -1. */
int store_get_events(struct store *st, const char *sh_id, struct event **out, size_t *n, char err[ERR_LEN]);
/* store_custom_columns: the distinct custom column names in use; free each and the array. */
int store_custom_columns(struct store *st, char ***out, size_t *n, char err[ERR_LEN]);

/*
 * store_claim: inserts rec (its id, created_at and updated_at are set) unless a record with
 * the same (rule, stakeholder, occasion_date) exists: then *claimed is 0 and nothing changes.
 * Atomic; joins an open write transaction. rec's rule, stakeholder, occasion date, channel
 * and status are checked first.
 */
int store_claim(struct store *st, struct dispatch_rec *rec, int *claimed, char err[ERR_LEN]);
/* store_update_dispatch: writes every mutable field of rec (by id) and sets rec->updated_at; an unknown id is an error. */
int store_update_dispatch(struct store *st, struct dispatch_rec *rec, char err[ERR_LEN]);
/* store_delete_dispatch: removes a claim that never went anywhere (a card batch that failed to save). */
int store_delete_dispatch(struct store *st, int64_t id, char err[ERR_LEN]);
/* store_get_dispatch: by id; *found 0 when absent. Clear *out with dispatch_rec_clear. */
int store_get_dispatch(struct store *st, int64_t id, struct dispatch_rec *out, int *found, char err[ERR_LEN]);
/*
 * store_mark_dispatch: the hand work's step on a dispatch, checked and written in one write
 * transaction: a card moves forward only (rendered < printed < signed < mailed); any card not
 * yet mailed, and any failed dispatch, may become cancelled. to: DS_PRINTED, DS_SIGNED,
 * DS_MAILED or DS_CANCELLED. 0, or -1 with err saying why not ("no dispatch with that id",
 * "dispatch 7 is sent; it cannot become printed", ...) or what failed ("store: ...").
 */
int store_mark_dispatch(struct store *st, int64_t id, enum dispatch_status to, char err[ERR_LEN]);

struct dispatch_filter {
	const char *since_date;   /* occasion or fire date >= (YYYY-MM-DD), or NULL */
	const char *status;       /* a status name, or NULL */
	const char *rule;         /* or NULL */
	const char *stakeholder;  /* or NULL */
	const char *fire_date;    /* exact, or NULL */
	const char *signer;       /* exact, or NULL */
	int channel;              /* CH_CARD, CH_EMAIL, or -1 for any */
};
/* store_list_dispatches: matching records (f NULL: all) ordered by fire_at, id; free with dispatch_recs_free. */
int store_list_dispatches(struct store *st, const struct dispatch_filter *f,
                          struct dispatch_rec **out, size_t *n, char err[ERR_LEN]);
/*
 * store_each_dispatch: the records store_list_dispatches would give (f NULL: all), in its
 * order, handed to fn one at a time: what fn gets is valid during the call only (copy what
 * is kept), and fn must not call the store. fn returns 0 to go on, non-zero to stop. 0 when
 * every record was handed over, 1 when fn stopped it, -1 with err.
 */
int store_each_dispatch(struct store *st, const struct dispatch_filter *f,
                        int (*fn)(void *arg, const struct dispatch_rec *rec), void *arg, char err[ERR_LEN]);
/* store_next_retry: *at is the earliest next attempt of the records in retry (INT64_MAX: none). */
int store_next_retry(struct store *st, int64_t *at, char err[ERR_LEN]);

/*
 * store_meta_get: a value of the store's own key/value table (e.g. "install_id", made at
 * creation; "reminder:..." for reminders sent). 0 with *value (caller frees), 1 when the key
 * is absent (*value NULL), -1 with err when the database could not say: a caller must not
 * take an error for "absent" (e.g. send a reminder again).
 */
int store_meta_get(struct store *st, const char *key, char **value, char err[ERR_LEN]);
/* store_meta_set: sets (or replaces) a value. Joins an open write transaction. */
int store_meta_set(struct store *st, const char *key, const char *value, char err[ERR_LEN]);

/*
 * store_quick_check: the integrity check of what a pass writes (the dispatch records and the
 * store's own values), run once when a pass or the daemon starts: a damaged database is
 * refused with a message rather than written to. The rest a pass reads whole through the
 * scan, which fails on a damaged part before anything is written.
 */
int store_quick_check(struct store *st, char err[ERR_LEN]);

/* store_set_clock: overrides the clock used for created_at/updated_at (tests, run --at); 0 restores time(). */
void store_set_clock(struct store *st, int64_t now);

/*
 * The pass lock: one pass at a time per database, across processes and machines (serve and
 * a `run --once` beside it), released when its holder ends or dies. store_pass_lock waits
 * while another holder has it (logging once that it waits, feeding util_keepalive) and gives
 * up with -1 when stop (may be NULL) returns non-zero. store_pass_unlock: NULL-safe, and
 * nothing when not held.
 */
int store_pass_lock(struct store *st, int (*stop)(void), char err[ERR_LEN]);
void store_pass_unlock(struct store *st);

/*
 * Several daemons on one database (PostgreSQL). Every claim carries its owner, store_owner
 * ("HOST:PID" of this process, as `log` shows it in handled_by), and on a shared database a
 * lease (store_set_lease) that the owner renews (store_keepalive) while it works; a claim
 * whose lease ran out is taken over by another process (store_take_over). Every write that
 * acts on a claim checks in the same statement that the claim is still this process's
 * (fencing). On SQLite (one machine, the pass lock serialises passes) there is no lease: the
 * calls below act as plain writes and reads, and the batch lock is always granted.
 *
 * store_shared: 1 when several processes may dispatch from the database at once (PostgreSQL).
 */
int store_shared(const struct store *st);
/* store_owner: "HOST:PID" of this process (owned by the store). */
const char *store_owner(const struct store *st);
/*
 * store_set_lease: claims made from now on are held secs seconds unless renewed; on
 * PostgreSQL, a transaction left idle that long is ended by the server (a frozen process
 * releases what it blocks). Also feeds store_keepalive from util_keepalive.
 */
void store_set_lease(struct store *st, int64_t secs);
/* store_keepalive: renews this process's claims when a third of the lease has passed. Cheap otherwise. */
void store_keepalive(struct store *st);
/*
 * store_update_claim: store_update_dispatch of a record this process claimed, written only
 * while the claim is still its own (owner and unexpired lease, checked in the same
 * statement; a queued record's lease is renewed with it). 0 written; 1 the claim was lost
 * (err: "dispatch N is no longer claimed by HOST:PID"): write nothing more, send nothing for
 * it; -1 error.
 */
int store_update_claim(struct store *st, struct dispatch_rec *rec, char err[ERR_LEN]);
/* store_withdraw_claim: removes a claim of this process that never went anywhere, fenced as store_update_claim. */
int store_withdraw_claim(struct store *st, int64_t id, char err[ERR_LEN]);
/*
 * store_tx_fresh: 1 while what the open write transaction's writes locked is certainly still
 * held, so that a step outside the database (a batch file put in place) may rely on the
 * claims a fenced write just found this process's: on a shared database the server ends a
 * transaction idle for a lease, so 1 only when its last write was sent less than half a lease
 * ago; always 1 on SQLite (no lease). Call just before that step.
 */
int store_tx_fresh(const struct store *st);
/*
 * store_take_over: the queued records of channel left by a process that died (SQLite: every
 * queued one, the pass lock being held; PostgreSQL: those whose lease ran out, not locked by
 * another process taking them, now claimed by this one). Free with dispatch_recs_free.
 */
int store_take_over(struct store *st, enum channel channel, struct dispatch_rec **out, size_t *n, char err[ERR_LEN]);
/*
 * store_claim_retry: claims a record in retry whose time has come at now (the pass's instant:
 * `run --at` may differ from the clock) (status queued, this
 * process's, its lease begun) so that no other process tries it at the same time; *claimed
 * 0 when another one did. SQLite: nothing to do, *claimed 1.
 */
int store_claim_retry(struct store *st, struct dispatch_rec *rec, int64_t now, int *claimed, char err[ERR_LEN]);
/*
 * store_batch_lock: one (fire date, signer) batch is built by one process at a time: 0 taken
 * (held until store_batch_unlock_all), 1 another process builds it now, -1 error. On a shared
 * database a process that holds batch locks and stays silent for two leases (frozen: its
 * renewals stopped) loses its session and with it the locks, so that another can build them.
 */
int store_batch_lock(struct store *st, const char *fire_date, const char *signer, char err[ERR_LEN]);
void store_batch_unlock_all(struct store *st);
/* store_next_takeover: *at the instant the first lease of a queued claim runs out (INT64_MAX: none). */
int store_next_takeover(struct store *st, int64_t *at, char err[ERR_LEN]);
/*
 * store_ping: a round trip to the database, connecting again when the connection was lost
 * (and the change watch with it). 0, or -1 with err when the database cannot be reached.
 * store_lost: 1 when the connection is known to be gone (a pass stops at the next item).
 */
int store_ping(struct store *st, char err[ERR_LEN]);
int store_lost(struct store *st);

/*
 * The change watch, for the daemon: learn cheaply that another process (an import, a mark)
 * has committed. store_watch_fd: a descriptor to poll for POLLIN (owned by the store, closed
 * by store_close), or -1 with err when the store cannot be watched (then changes are seen at
 * the next pass). store_watch_mark: commits of others count from now (call as a pass starts;
 * the store's own commits never count). store_changed: drains the descriptor; 1 when another
 * process has committed since the mark (or the store cannot tell: a pass will find out), 2
 * when something moved but no commit is visible yet (call again a moment later), 0 nothing.
 */
int store_watch_fd(struct store *st, char err[ERR_LEN]);
void store_watch_mark(struct store *st);
int store_changed(struct store *st);

/* store_trim: keeps at most cache_kib KiB of cache and gives back what it holds unused (between passes). */
void store_trim(struct store *st, int cache_kib);

/*
 * The stakeholders one at a time, in id order (bytewise, as strcmp), each with its own custom
 * fields, events and dispatch records, all from one read snapshot: what the streamed plan
 * reads, in memory that does not grow with the table.
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
	struct dispatch_rec *hist;    /* id, stakeholder, rule, occasion_date, fire_date, fire_at, status, cost_cents */
	size_t nhist;
};
/*
 * store_scan_open: fields is a mask of (1u << enum sh_field) to read (id is always read);
 * custom and events: also read those (else none). quick: let the store read in the order
 * cheapest for it, which is usually id order (see store_scan_next). Holds a read snapshot
 * until store_scan_close; close with store_scan_close.
 */
int store_scan_open(struct store *st, uint32_t fields, int custom, int events, int quick,
                    struct store_scan **out, char err[ERR_LEN]);
/*
 * store_scan_next: 1 with *row (owned by the scan), 0 at the end, -1 with err; 2 when a quick
 * scan meets an id out of order: close it and start again without quick.
 */
int store_scan_next(struct store_scan *sc, const struct store_sh_row **row, char err[ERR_LEN]);
void store_scan_close(struct store_scan *sc);   /* NULL is fine */

/*
 * store_optout: marks opted out (opted_out "1") the stakeholder whose id is key and, when
 * key holds an '@', every stakeholder with that email (any case), at once. *ids (malloc'd,
 * each freed by the caller) receives the ids marked, *n how many (0: none matched). 0 or -1.
 */
int store_optout(struct store *st, const char *key, char ***ids, size_t *n, char err[ERR_LEN]);

#endif
