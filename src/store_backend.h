/*
 * store_backend: the table of primitives a store backend registers (store_sqlite.c for a
 * file path, store_pg.c for a postgresql:// URI). The front, store.c, does the backend-independent work once:
 * picking the backend from the `database:` value, validating what is written, the dispatch
 * record state machine, the clock, the pass lock's waiting and every message a user sees
 * ("store: cannot WHAT: why"). A backend only moves data and says why it could not:
 *
 *   - each primitive returns 0 on success, -1 with the reason in why (no "store: " prefix,
 *     no name of the call: the front adds those); where a call has an expected "no" it is a
 *     positive return, documented below, never -1;
 *   - a primitive that writes is atomic on its own and, inside an open write transaction
 *     (begin), joins it;
 *   - strings handed out (out-params) are the caller's to free, unless said otherwise;
 *   - ids compare bytewise (strcmp): every ordered read returns them in that order (SQLite's
 *     BINARY collation; PostgreSQL needs COLLATE "C"), since the front and the planner merge
 *     by it.
 *
 * Several daemons on one server database: claims carry their owner (rec->handled_by, which
 * ds_claim writes) and a lease the owner renews; every step that acts on a claim is fenced.
 * Those primitives (the block "several daemons" below) are NULL in a backend without them
 * (SQLite: one machine, the pass lock serialises), and the front then does plain writes.
 */
#ifndef OCCASIOND_STORE_BACKEND_H
#define OCCASIOND_STORE_BACKEND_H

#include <stdint.h>

#include "occasiond/store.h"

struct store_be;        /* a backend's open database */
struct store_be_scan;   /* a backend's scan */

struct store_backend {
	const char *name;

	/*
	 * open: opens where (the `database:` value as given), creating and migrating the schema;
	 * now stamps what creation writes. why: the whole message (e.g. "cannot open PATH:
	 * reason"), which the front prefixes with "store: ".
	 */
	int (*open)(const char *where, int64_t now, struct store_be **out, char why[ERR_LEN]);
	void (*close)(struct store_be *b);                /* NULL is fine; rolls back an open transaction */
	int (*schema_version)(struct store_be *b);        /* -1 when unreadable */

	/* The caller's write transaction. commit rolls back itself when it fails. */
	int (*begin)(struct store_be *b, char why[ERR_LEN]);
	int (*commit)(struct store_be *b, char why[ERR_LEN]);
	void (*rollback)(struct store_be *b);             /* no transaction open: nothing */

	/* meta_get: 0 with *value (caller frees), 1 when the key is absent, -1 on error. */
	int (*meta_get)(struct store_be *b, const char *key, char **value, char why[ERR_LEN]);
	int (*meta_set)(struct store_be *b, const char *key, const char *value, char why[ERR_LEN]);

	/* sh_put: sh is validated (an id); sh->present 0 writes every column, else those bits. */
	int (*sh_put)(struct store_be *b, const struct stakeholder *sh, int64_t now, char why[ERR_LEN]);
	/* sh_get: 0 with *out filled (clear with stakeholder_clear), 1 when absent, -1. */
	int (*sh_get)(struct store_be *b, const char *id, struct stakeholder *out, char why[ERR_LEN]);
	int (*sh_all)(struct store_be *b, struct stakeholder **out, size_t *n, char why[ERR_LEN]);
	int (*custom_columns)(struct store_be *b, char ***out, size_t *n, char why[ERR_LEN]);
	/* ev_put: 0, 1 when its stakeholder does not exist, -1. */
	int (*ev_put)(struct store_be *b, const struct event *ev, char why[ERR_LEN]);
	/* ev_all: every event by stakeholder and date, or sh_id's alone when not NULL. */
	int (*ev_all)(struct store_be *b, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN]);

	/*
	 * Dispatch records, validated by the front. ds_claim: 0 when inserted (rec->id set), 1
	 * when (rule, stakeholder, occasion_date) exists already (nothing written), -1.
	 * ds_update: every mutable field by rec->id, updated_at = now; 1 when no such record.
	 * ds_get: 0 with *out, 1 when absent. ds_list: f is validated and never NULL.
	 */
	int (*ds_claim)(struct store_be *b, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN]);
	int (*ds_update)(struct store_be *b, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN]);
	int (*ds_delete)(struct store_be *b, int64_t id, char why[ERR_LEN]);
	int (*ds_get)(struct store_be *b, int64_t id, struct dispatch_rec *out, char why[ERR_LEN]);
	int (*ds_list)(struct store_be *b, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
	               char why[ERR_LEN]);
	/*
	 * ds_each: the records ds_list would give, in its order, handed to fn one at a time (rec
	 * valid during the call only), in memory that does not grow with the table; fn must not
	 * call the backend. 0 at the end, 1 when fn returned non-zero (stop), -1. May be NULL:
	 * the front then goes through ds_list (which holds every record at once).
	 */
	int (*ds_each)(struct store_be *b, const struct dispatch_filter *f,
	               int (*fn)(void *arg, const struct dispatch_rec *rec), void *arg, char why[ERR_LEN]);
	int (*ds_next_retry)(struct store_be *b, int64_t *at, char why[ERR_LEN]);

	/*
	 * The scan (see store_scan_open): one read snapshot until scan_close. quick: the
	 * backend may return the stakeholders in whatever order is cheapest for it, hoping it is
	 * id order (the front checks and asks again); else strictly in bytewise id order.
	 * scan_next: 1 with *row (owned by the scan, valid until the next call), 0 at the end, -1.
	 */
	int (*scan_open)(struct store_be *b, uint32_t fields, int custom, int events, int quick,
	                 struct store_be_scan **out, char why[ERR_LEN]);
	int (*scan_next)(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN]);
	void (*scan_close)(struct store_be_scan *sc);    /* NULL is fine */

	/*
	 * check: the integrity check of what a pass writes (dispatch records, meta; see
	 * store_quick_check); 0 sound, 1 damaged (why says how), -1 could not check.
	 */
	int (*check)(struct store_be *b, char why[ERR_LEN]);
	/* trim: keep at most cache_kib KiB of cache and give back what is unused. */
	void (*trim)(struct store_be *b, int cache_kib);

	/*
	 * The pass lock, across processes and dropped when its holder dies: lock_try takes it
	 * without waiting: 0 taken, 1 another holder has it, -1. unlock: NULL-safe, idempotent.
	 */
	int (*lock_try)(struct store_be *b, char why[ERR_LEN]);
	void (*unlock)(struct store_be *b);

	/*
	 * The change watch. watch_fd: a descriptor that becomes readable when another process
	 * may have committed (made on first call, owned by the backend), or -1 with why.
	 * watch_mark: from now on, commits of others count. changed: drains the descriptor; 1
	 * when another process committed since the mark, 2 when something moved but no commit
	 * is visible yet (ask again a moment later), 0 nothing.
	 */
	int (*watch_fd)(struct store_be *b, char why[ERR_LEN]);
	void (*watch_mark)(struct store_be *b);
	int (*changed)(struct store_be *b);

	/*
	 * Several daemons (NULL on SQLite; see store.h). owner is store_owner's "HOST:PID".
	 * lease_set: the lease of claims from now on (seconds); also the server's limit on an
	 * idle transaction of this connection. renew: every unexpired lease of owner's queued
	 * records starts again. ds_update_claim / ds_withdraw_claim: ds_update / ds_delete only
	 * while the record is owner's and its lease has not run out (one statement); 1 when not.
	 * take_over: queued records of channel whose lease ran out, not locked by another
	 * process, made owner's (lease begun); *out as ds_list's. claim_retry: rec (in retry, due
	 * at now) becomes queued and owner's: 0, 1 when it is no longer in retry. batch_lock: 0
	 * taken, 1 held by another session; while any is held, the session ends when it stays
	 * idle for two leases (renew keeps a live one going). next_takeover: the first lease of a
	 * queued record to run out, owner's own included (INT64_MAX: none). ping: a round trip,
	 * connecting again when the connection was lost (the listen connection too). lost: 1 when
	 * the connection is known to be gone.
	 */
	void (*lease_set)(struct store_be *b, int64_t secs);
	int (*renew)(struct store_be *b, const char *owner, char why[ERR_LEN]);
	int (*ds_update_claim)(struct store_be *b, const struct dispatch_rec *rec, const char *owner, int64_t now,
	                       char why[ERR_LEN]);
	int (*ds_withdraw_claim)(struct store_be *b, int64_t id, const char *owner, char why[ERR_LEN]);
	int (*take_over)(struct store_be *b, int channel, const char *owner, struct dispatch_rec **out, size_t *n,
	                 char why[ERR_LEN]);
	int (*claim_retry)(struct store_be *b, struct dispatch_rec *rec, const char *owner, int64_t now,
	                   char why[ERR_LEN]);
	int (*batch_lock)(struct store_be *b, const char *key, char why[ERR_LEN]);
	void (*batch_unlock_all)(struct store_be *b);
	int (*next_takeover)(struct store_be *b, const char *owner, int64_t *at, char why[ERR_LEN]);
	int (*ping)(struct store_be *b, char why[ERR_LEN]);
	int (*lost)(struct store_be *b);
	/* release: owner's queued claims left by an earlier pass (none is running) run out now. */
	int (*release)(struct store_be *b, const char *owner, char why[ERR_LEN]);

	/*
	 * optout: opted_out "1" (updated_at now) for the stakeholder whose id is key and, when key
	 * holds an '@', every one with that email in any case; *ids the ids marked (malloc'd). 0, -1.
	 */
	int (*optout)(struct store_be *b, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN]);

	/*
	 * Bulk import (see store_import_begin): one write transaction for a file. import_begin:
	 * per_row: a failed row is undone alone; dry: nothing will be put, take no write lock.
	 * import_seen: *first_line 0 when id is new, else the line it was first seen on.
	 * import_put: a stakeholder (sh), or ev when sh is NULL; 0, 1 (an event's stakeholder does
	 * not exist), -1. import_end: commits (commit 1) or rolls back.
	 */
	int (*import_begin)(struct store_be *b, int per_row, int dry, char why[ERR_LEN]);
	int (*import_seen)(struct store_be *b, const char *id, long line, long *first_line, char why[ERR_LEN]);
	int (*import_put)(struct store_be *b, const struct stakeholder *sh, const struct event *ev, int64_t now,
	                  char why[ERR_LEN]);
	int (*import_end)(struct store_be *b, int commit, char why[ERR_LEN]);
};

extern const struct store_backend store_backend_sqlite;   /* store_sqlite.c: a file path */
/*
 * store_pg.c: a postgresql:// or postgres:// URI. open refuses a URI holding a password and
 * a server that takes no writes; the scan and the change watch use connections of their own
 * (made by scan_open and the first watch_fd, closed by scan_close and close).
 */
extern const struct store_backend store_backend_pg;

#endif
