/*
 * store_pg_int: what the PostgreSQL backend's files share (store_pg.c: schema, records,
 * scan, import; store_pg_claim.c: claims of several daemons, leases, fencing, the batch lock,
 * the connection's health). Not a public header; only these two files include libpq-fe.h.
 */
#ifndef OCCASIOND_STORE_PG_INT_H
#define OCCASIOND_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store_backend.h"

#define PG_SCHEMA "occasiond"
#define PG_CHANNEL "occasiond"
/* Rows per FETCH of the scan's cursors: memory stays bounded, round trips few. */
#define PG_FETCH 2000
/* An import's stakeholders (and new ids) go IMPORT_BATCH to a statement, not a round trip each. */
#define IMPORT_BATCH 1000

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

/* pgi_ds_mutable: rec's mutable fields as $1..$16 (DS_MUTABLE's order). */
void pgi_ds_mutable(struct ds_params *p, const struct dispatch_rec *rec);
/* pgi_read_dispatch: a row of DS_COLS into *r (dispatch_rec_clear). 0, or -1 with why. */
int pgi_read_dispatch(const PGresult *s, int row, struct dispatch_rec *r, char why[ERR_LEN]);
/* pgi_read_dispatches: every row of r (which it clears) into a new array *out of *n (caller frees
 * with dispatch_recs_free). 0, or -1 with why and nothing left allocated. */
int pgi_read_dispatches(PGresult *r, struct dispatch_rec **out, size_t *n, char why[ERR_LEN]);
/* pgi_qv: sql (not cached) with n text parameters: the result (PQclear) or NULL with why. */
PGresult *pgi_qv(struct store_be *st, const char *sql, int n, const char *const *vals, char why[ERR_LEN]);
/* pgi_exec: sql without parameters, its result dropped. 0 or -1 with why. */
int pgi_exec(struct store_be *st, const char *sql, char why[ERR_LEN]);
/* pgi_wrote: a write succeeded: others hear of it (NOTIFY) at its commit. */
void pgi_wrote(struct store_be *st);
/* pgi_in_tx: a transaction is open on the main connection. */
int pgi_in_tx(const struct store_be *st);
/* pgi_reconnect: a new main connection (lease settings applied). 0 or -1 with why. */
int pgi_reconnect(struct store_be *st, char why[ERR_LEN]);
/* pgi_watch_restart: the change watch's connection made again when it is gone (LISTEN re-issued). */
void pgi_watch_restart(struct store_be *st);
/* pgi_session: the main connection's settings for several daemons (idle transactions bounded by the lease). */
int pgi_session(struct store_be *st, char why[ERR_LEN]);

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
