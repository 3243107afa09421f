/*
 * store_pg_int: what the PostgreSQL backend's files share (the table of primitives and
 * open, schema, migration, meta, integrity: store_pg.c; connections, statements,
 * transactions: store_pg_conn.c; stakeholders, events, opt-out: store_pg_sh.c; dispatch
 * records: store_pg_ds.c; claims of several daemons, leases, fencing, the batch lock, the
 * connection's health: store_pg_claim.c; the scan: store_pg_scan.c; the bulk import:
 * store_pg_import.c; the change watch: store_pg_watch.c). Not a public header; only these
 * files include it, and so libpq-fe.h.
 */
#ifndef OCCASIOND_STORE_PG_INT_H
#define OCCASIOND_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store_backend.h"

#define PG_SCHEMA "occasiond"
#define PG_CHANNEL "occasiond"

/* The stakeholders' standard columns (sh_field_names's order). */
#define SH_COLS "id, first_name, last_name, nickname, organization, title, type, tier, email, " \
	"preferred_channel, owner, owner_email, timezone, street, city, region, postal_code, country, " \
	"birthday, hire_date, customer_since, contract_renewal, consent_personal, opted_out"

/* The columns a dispatch record is read from (pgi_read_dispatch), and those a write sets. */
#define DS_COLS "id, rule, stakeholder, occasion_date, fire_date, fire_at, channel, status, reason, " \
	"attempts, error, artifact, page, message_id, signer, cost_cents, template, next_attempt_at, " \
	"data_sent, last_reply, created_at, updated_at, handled_by"
#define DS_MUTABLE "fire_date, fire_at, channel, status, reason, attempts, error, artifact, page, " \
	"message_id, signer, cost_cents, template, next_attempt_at, data_sent, last_reply"
#define DS_NMUTABLE 16

enum stmt_id {
	ST_META_GET, ST_META_PUT, ST_SH_PUT, ST_SH_GET, ST_SHF_DEL, ST_SHF_PUT, ST_SHF_GET,
	ST_EV_PUT, ST_EV_OF, ST_DS_CLAIM, ST_DS_UPDATE, ST_DS_DELETE, ST_DS_GET,
	ST_IMP_SEEN, ST_IMP_LINE, ST_IMP_BULK, ST_IMP_BULK_F, ST_IMP_SEEN_BULK,
	ST__N
};

struct store_be {
	PGconn *conn;
	char *uri;           /* as given (no password: refused at open) */
	char *name;          /* store_safe_name(uri), for messages */
	int prepared[ST__N];
	int64_t created;
	int notify;          /* a write since the transaction began: NOTIFY at its commit */
	int locked;          /* the pass lock is held */
	int importing;       /* 1, or 2 with a savepoint per row */
	struct batch {       /* an all-or-nothing import's stakeholders not yet sent (import_put) */
		struct strbuf col[SH_NFIELDS];       /* each an array literal being built */
		struct strbuf custom[4];             /* stakeholder_id, name, value, ord */
		size_t n, ncustom;
		uint32_t mask;
		int64_t now;
	} batch;
	/*
	 * The ids an import has seen: all in the temporary table import_ids, and a Bloom filter
	 * of them here (fixed size), so that a new id, nearly every one, is known new without
	 * asking the server; new ids go to the table in batches (seen_ids, seen_lines).
	 */
	unsigned char *bloom;
	struct strbuf seen_ids, seen_lines;
	size_t nseen;
	PGconn *listen;      /* the change watch's connection, NULL until asked */
	int watch;           /* the descriptor handed out (a dup of the listen socket), -1 */
	int quiet[2];        /* a pipe never written: put in place of a lost listen socket */
	int seen;            /* a foreign commit since the mark */
	int64_t lease;       /* seconds a claim holds without renewal (store_set_lease), 30 until set */
	int leased;          /* store_set_lease was called: the session bounds idle transactions */
	int batch_locks;     /* batch locks held (session advisory locks) */
	int idle_bound;      /* idle_session_timeout set while batch locks are held */
};

/* The mutable fields as text parameters $1..$16; num holds their numbers' text. */
struct ds_params {
	const char *v[DS_NMUTABLE + 6];
	char num[8][24];
};

/* Operations of several statements are atomic on their own and nest in a caller's transaction. */
enum tx_mode { TX_OWN, TX_SAVEPOINT };

/* store_pg_conn.c */
/* pgi_connect: a new connection to uri (name: for messages) with the store's session settings
 * (PQfinish), or NULL with why. */
PGconn *pgi_connect(const char *uri, const char *name, char why[ERR_LEN]);
/* pgi_one_line: libpq's message msg (which may span lines) as one line into why. Returns -1. */
int pgi_one_line(char why[ERR_LEN], const char *msg);
/* pgi_conn_err: c's last error as one line into why. Returns -1. */
int pgi_conn_err(PGconn *c, char why[ERR_LEN]);
/* pgi_ok: 1 when r succeeded (a command or rows); else 0 with why, and r is cleared. */
int pgi_ok(PGconn *c, PGresult *r, char why[ERR_LEN]);
/* pgi_q: the cached statement id with n text parameters: the result (PQclear) or NULL with why. */
PGresult *pgi_q(struct store_be *st, enum stmt_id id, int n, const char *const *vals, char why[ERR_LEN]);
/* pgi_qv: sql (not cached) with n text parameters: the result (PQclear) or NULL with why. */
PGresult *pgi_qv(struct store_be *st, const char *sql, int n, const char *const *vals, char why[ERR_LEN]);
/* pgi_exec: sql without parameters, its result dropped. 0 or -1 with why. */
int pgi_exec(struct store_be *st, const char *sql, char why[ERR_LEN]);
/* pgi_val_dup: a value as a new string (caller frees); pgi_val_int: as a number, 0 for NULL. */
char *pgi_val_dup(const PGresult *r, int row, int col);
int64_t pgi_val_int(const PGresult *r, int row, int col);
/* pgi_changed_rows: the rows a command wrote. */
int pgi_changed_rows(PGresult *r);
/* pgi_in_tx: a transaction is open on the main connection. */
int pgi_in_tx(const struct store_be *st);
/* pgi_wrote: a write succeeded: others hear of it (NOTIFY) at its commit. */
void pgi_wrote(struct store_be *st);
/* The caller's write transaction (the table's begin, commit, rollback). */
int pgi_begin(struct store_be *st, char why[ERR_LEN]);
int pgi_commit(struct store_be *st, char why[ERR_LEN]);
void pgi_rollback(struct store_be *st);
/* pgi_tx_enter: a transaction, or inside the caller's a savepoint (*mode says which). 0, -1. */
int pgi_tx_enter(struct store_be *st, enum tx_mode *mode, char why[ERR_LEN]);
/* pgi_tx_leave: commits when good, else rolls back (inside a caller's transaction: only this operation). */
int pgi_tx_leave(struct store_be *st, enum tx_mode mode, int good, char why[ERR_LEN]);

/* store_pg_sh.c: the table's entries (src/store_backend.h), and: */
/* pgi_put_rows: a stakeholder's row and its custom fields, inside the caller's transaction. */
int pgi_put_rows(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN]);
int pgi_sh_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN]);
int pgi_sh_get(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN]);
int pgi_sh_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN]);
int pgi_custom_columns(struct store_be *st, char ***out, size_t *n, char why[ERR_LEN]);
int pgi_ev_put(struct store_be *st, const struct event *ev, char why[ERR_LEN]);
int pgi_ev_all(struct store_be *st, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN]);
int pgi_optout(struct store_be *st, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN]);

/* store_pg_ds.c: the table's entries, and: */
/* pgi_ds_mutable: rec's mutable fields as $1..$16 (DS_MUTABLE's order). */
void pgi_ds_mutable(struct ds_params *p, const struct dispatch_rec *rec);
/* pgi_read_dispatch: a row of DS_COLS into *r (dispatch_rec_clear). 0, or -1 with why. */
int pgi_read_dispatch(const PGresult *s, int row, struct dispatch_rec *r, char why[ERR_LEN]);
/* pgi_read_dispatches: every row of r (which it clears) into a new array *out of *n (caller frees
 * with dispatch_recs_free). 0, or -1 with why and nothing left allocated. */
int pgi_read_dispatches(PGresult *r, struct dispatch_rec **out, size_t *n, char why[ERR_LEN]);
int pgi_ds_claim(struct store_be *st, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN]);
int pgi_ds_update(struct store_be *st, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN]);
int pgi_ds_delete(struct store_be *st, int64_t id, char why[ERR_LEN]);
int pgi_ds_get(struct store_be *st, int64_t id, struct dispatch_rec *out, char why[ERR_LEN]);
int pgi_ds_list(struct store_be *st, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
                char why[ERR_LEN]);
int pgi_ds_next_retry(struct store_be *st, int64_t *at, char why[ERR_LEN]);

/* store_pg_scan.c: the table's entries. */
int pgi_scan_open(struct store_be *st, uint32_t fields, int custom, int events, int quick,
                  struct store_be_scan **out, char why[ERR_LEN]);
int pgi_scan_next(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN]);
void pgi_scan_close(struct store_be_scan *sc);

/* store_pg_import.c: the table's entries, and: */
int pgi_import_begin(struct store_be *st, int per_row, int dry, char why[ERR_LEN]);
int pgi_import_seen(struct store_be *st, const char *id, long line, long *first_line, char why[ERR_LEN]);
int pgi_import_put(struct store_be *st, const struct stakeholder *sh, const struct event *ev, int64_t now,
                   char why[ERR_LEN]);
int pgi_import_end(struct store_be *st, int commit, char why[ERR_LEN]);
/* pgi_import_free: what an import left in st (its batch, the ids seen), at close. */
void pgi_import_free(struct store_be *st);

/* store_pg_watch.c: the table's entries, and: */
int pgi_watch_fd(struct store_be *st, char why[ERR_LEN]);
void pgi_watch_mark(struct store_be *st);
int pgi_changed(struct store_be *st);
/* pgi_watch_restart: the change watch's connection made again when it is gone (LISTEN re-issued). */
void pgi_watch_restart(struct store_be *st);
/* pgi_watch_free: the watch's connection and descriptors closed, at close. */
void pgi_watch_free(struct store_be *st);

/* store_pg_claim.c: the table entries of several daemons (src/store_backend.h). */
void pgc_lease_set(struct store_be *b, int64_t secs);
int pgc_renew(struct store_be *b, const char *owner, char why[ERR_LEN]);
int pgc_ds_update_claim(struct store_be *b, const struct dispatch_rec *rec, const char *owner, int64_t now,
                        char why[ERR_LEN]);
int pgc_ds_withdraw_claim(struct store_be *b, int64_t id, const char *owner, char why[ERR_LEN]);
int pgc_take_over(struct store_be *b, int channel, const char *owner, struct dispatch_rec **out, size_t *n,
                  char why[ERR_LEN]);
int pgc_claim_retry(struct store_be *b, struct dispatch_rec *rec, const char *owner, int64_t now, char why[ERR_LEN]);
int pgc_batch_lock(struct store_be *b, const char *key, char why[ERR_LEN]);
void pgc_batch_unlock_all(struct store_be *b);
int pgc_next_takeover(struct store_be *b, const char *owner, int64_t *at, char why[ERR_LEN]);
int pgc_ping(struct store_be *b, char why[ERR_LEN]);
int pgc_lost(struct store_be *b);
int pgc_release(struct store_be *b, const char *owner, char why[ERR_LEN]);

#endif
