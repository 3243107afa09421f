/*
 * store_sqlite_int: what the SQLite backend's files share (the table of primitives and open,
 * schema, migration, meta, integrity, the pass lock: store_sqlite.c; statements, binding,
 * transactions: store_sqlite_stmt.c; stakeholders, events, opt-out: store_sqlite_sh.c;
 * dispatch records: store_sqlite_ds.c; the scan: store_sqlite_scan.c; the bulk import:
 * store_sqlite_import.c; the change watch: store_sqlite_watch.c). Not a public header; only
 * these files include it, and so sqlite3.h.
 */
#ifndef OCCASIOND_STORE_SQLITE_INT_H
#define OCCASIOND_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store_backend.h"

/*
 * How long a statement waits for another process's lock (an import, a backup, sqlite3 held
 * open in a shell) before it gives up: long enough that a busy minute delays a pass instead of
 * failing it.
 */
#define STORE_BUSY_MS 60000

/* The cached statements (store_sqlite_stmt.c; those of the standard columns built from sh_field_names). */
enum stmt_id {
	ST_META_GET, ST_META_PUT,
	ST_SH_PUT, ST_SH_GET, ST_SH_ALL, ST_SHF_DEL, ST_SHF_PUT, ST_SHF_GET, ST_SHF_ALL, ST_SHF_NAMES,
	ST_EV_PUT, ST_EV_ALL, ST_EV_OF,
	ST_DS_CLAIM, ST_DS_UPDATE, ST_DS_DELETE, ST_DS_GET,
	ST_IMP_SEEN, ST_IMP_LINE, ST_IMP_SAVE, ST_IMP_RELEASE, ST_IMP_UNDO,
	ST__N
};

/* The columns a dispatch record is read from, and those a write sets. */
#define DS_COLS "id, rule, stakeholder, occasion_date, fire_date, fire_at, channel, status, reason, " \
	"attempts, error, artifact, page, message_id, signer, cost_cents, template, next_attempt_at, " \
	"data_sent, last_reply, created_at, updated_at, handled_by"
/* The fields store_update_dispatch writes, bound as ?1..?16 (see bind_mutable). */
#define DS_MUTABLE "fire_date, fire_at, channel, status, reason, attempts, error, artifact, page, " \
	"message_id, signer, cost_cents, template, next_attempt_at, data_sent, last_reply"
#define DS_NMUTABLE 16

/* The filters of store_list_dispatches, one bit each; a statement is cached per combination. */
enum { F_SINCE, F_STATUS, F_RULE, F_STAKEHOLDER, F_FIRE_DATE, F_SIGNER, F_CHANNEL, F__N };

struct store_be {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[ST__N];
	sqlite3_stmt *list_stmts[1 << F__N];
	int64_t created;     /* the instant creation stamps (install's created_at) */
	int ready;           /* opened and migrated */
	int lock_fd;         /* the pass lock's DATABASE.lock while held, else -1 */
	int ino, wd;         /* the change watch: inotify on the database's directory, -1 until asked */
	char *base;          /* the database's file name, for the watch's events */
	int64_t mark;        /* data_version at watch_mark */
	int pending;         /* the watch saw the files move without a visible commit */
	int seen;            /* a commit of another process seen since the mark */
	int importing;       /* between import_begin and import_end: 1, or 2 with a savepoint per row */
	struct sqi_seen *imp; /* the import's ids not yet in its temporary table (store_sqlite_import.c) */
};

/*
 * A binder keeps the first failure, so a run of binds is checked once, by sqi_run() or
 * sqi_next_row(). Every helper puts only the reason into why; the public functions
 * make the message ("store: cannot WHAT: why").
 */
struct binder {
	sqlite3_stmt *s;
	int rc;
};

/* Internal operations of several statements are atomic on their own, and nest in a caller's transaction. */
enum tx_mode { TX_OWN, TX_SAVEPOINT };

/* store_sqlite_stmt.c */
/* sqi_db_msg: the connection's last error message (SQLite's; valid until its next call). */
const char *sqi_db_msg(const struct store_be *st);
/* sqi_prepare: sql prepared to be kept into *out (sqlite3_finalize). 0, or -1 with why. */
int sqi_prepare(struct store_be *st, const char *sql, sqlite3_stmt **out, char why[ERR_LEN]);
/* sqi_stmt: the cached statement id, prepared on first use (the store's); NULL with the reason in why. */
sqlite3_stmt *sqi_stmt(struct store_be *st, enum stmt_id id, char why[ERR_LEN]);
/* sqi_stmt_done: makes a statement ready for its next use (and releases its read snapshot). */
void sqi_stmt_done(sqlite3_stmt *s);
/* sqi_binder: a binder for s (NULL is fine: sqi_run and sqi_next_row then fail). */
struct binder sqi_binder(sqlite3_stmt *s);
/* sqi_bind_text: v (NULL: "") as parameter i, not copied: it must outlive the statement's run. */
void sqi_bind_text(struct binder *b, int i, const char *v);
void sqi_bind_int(struct binder *b, int i, int64_t v);
/* sqi_run: executes a statement that returns no rows, then resets it. 0, or -1 with why. */
int sqi_run(struct store_be *st, struct binder *b, char why[ERR_LEN]);
/* sqi_next_row: 1 for a row, 0 at the end (statement reset), -1 with why (statement reset). */
int sqi_next_row(struct store_be *st, struct binder *b, char why[ERR_LEN]);
/* sqi_exec: sql (one or more statements without parameters). 0, or -1 with why. */
int sqi_exec(struct store_be *st, const char *sql, char why[ERR_LEN]);
/* sqi_col_dup: a text column as a new string (caller frees); "" for NULL. */
char *sqi_col_dup(sqlite3_stmt *s, int i);
/* sqi_grow: makes room for one more element of size in v (holding n of *cap); returns v, maybe moved. */
void *sqi_grow(void *v, size_t n, size_t *cap, size_t size);
/* sqi_pragma_int: the integer a one-row query returns into *out. 0, or -1 with why. */
int sqi_pragma_int(struct store_be *st, const char *sql, int *out, char why[ERR_LEN]);
/* The caller's write transaction (the table's begin, commit, rollback). */
int sqi_begin(struct store_be *st, char why[ERR_LEN]);
int sqi_commit(struct store_be *st, char why[ERR_LEN]);
void sqi_rollback(struct store_be *st);
/* sqi_tx_enter: a write transaction, or inside the caller's a savepoint (*mode says which). 0, -1. */
int sqi_tx_enter(struct store_be *st, enum tx_mode *mode, char why[ERR_LEN]);
/* sqi_tx_leave: commits when ok, else rolls back (inside a caller's transaction: only this operation). */
int sqi_tx_leave(struct store_be *st, enum tx_mode mode, int ok, char why[ERR_LEN]);

/* store_sqlite_sh.c: the table's entries (src/store_backend.h), and: */
/* sqi_put_rows: a stakeholder's row and its custom fields, inside the caller's transaction. */
int sqi_put_rows(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN]);
int sqi_sh_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN]);
int sqi_sh_get(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN]);
int sqi_sh_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN]);
int sqi_custom_columns(struct store_be *st, char ***out, size_t *n, char why[ERR_LEN]);
int sqi_ev_put(struct store_be *st, const struct event *ev, char why[ERR_LEN]);
int sqi_ev_all(struct store_be *st, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN]);
int sqi_optout(struct store_be *st, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN]);

/* store_sqlite_ds.c: the table's entries. */
int sqi_ds_claim(struct store_be *st, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN]);
int sqi_ds_update(struct store_be *st, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN]);
int sqi_ds_delete(struct store_be *st, int64_t id, char why[ERR_LEN]);
int sqi_ds_get(struct store_be *st, int64_t id, struct dispatch_rec *out, char why[ERR_LEN]);
int sqi_ds_list(struct store_be *st, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
                char why[ERR_LEN]);
int sqi_ds_each(struct store_be *st, const struct dispatch_filter *f,
                int (*fn)(void *arg, const struct dispatch_rec *rec), void *arg, char why[ERR_LEN]);
int sqi_ds_next_retry(struct store_be *st, int64_t *at, char why[ERR_LEN]);

/* store_sqlite_scan.c: the table's entries. */
int sqi_scan_open(struct store_be *st, uint32_t fields, int custom, int events, int quick,
                  struct store_be_scan **out, char why[ERR_LEN]);
int sqi_scan_next(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN]);
void sqi_scan_close(struct store_be_scan *sc);

/* store_sqlite_import.c: the table's entries. */
int sqi_import_begin(struct store_be *st, int per_row, int dry, char why[ERR_LEN]);
int sqi_import_seen(struct store_be *st, const char *id, long line, long *first_line, char why[ERR_LEN]);
/* sqi_import_free: what an import keeps aside (at close, when an import was left open). */
void sqi_import_free(struct store_be *st);
int sqi_import_put(struct store_be *st, const struct stakeholder *sh, const struct event *ev, int64_t now,
                   char why[ERR_LEN]);
int sqi_import_end(struct store_be *st, int commit, char why[ERR_LEN]);

/* store_sqlite_watch.c: the table's entries, and: */
int sqi_watch_fd(struct store_be *st, char why[ERR_LEN]);
void sqi_watch_mark(struct store_be *st);
int sqi_changed(struct store_be *st);
/* sqi_watch_free: the watch's inotify descriptor closed, at close. */
void sqi_watch_free(struct store_be *st);

#endif
