/*
 * store_pg_claim: several serve daemons on one PostgreSQL database, as one daemon.
 *
 * There is no pass lock: every claim is a row of dispatches (the UNIQUE key makes each
 * dispatch at most once) carrying its owner (handled_by, HOST:PID) and a lease
 * (lease_until, the server's clock) that the owner renews while it works. A queued record
 * whose lease ran out was left by a daemon that died, froze or lost the database; another
 * takes it over (FOR UPDATE SKIP LOCKED: two never take the same) under the crash rules of
 * the dispatch paths. Every write that acts on a claim is fenced: one statement that writes
 * only while handled_by is the writer and its lease has not run out, so a daemon that wakes
 * after losing a claim writes nothing for it, and the dispatch paths then send nothing.
 * A (fire date, signer) batch is built by one daemon at a time: a session advisory lock.
 * The server's clock decides every lease, never the daemons' clocks. The connection's health
 * is here too: a round trip (ping) makes a lost connection again, with the lease's settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* The batches' advisory locks: (this, hashtext(DATE/SIGNER)), apart from the bigint keys. */
#define PG_KEY_BATCH "1329808196"   /* 0x4f434344: "OCCD" */

#define LEASE_END "clock_timestamp() + $%d::float8 * interval '1 second'"

/* session: the main connection's settings for several daemons (idle transactions bounded by the lease). */
static int session(struct store_be *st, char why[ERR_LEN])
{
	char sql[96];
	if (!st->leased)
		return 0;
	/* A frozen daemon's open transaction would hold up the others' claims: the server ends it. */
	snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout = %lld", (long long)st->lease * 1000);
	return pgi_exec(st, sql, why);
}

void pgc_lease_set(struct store_be *st, int64_t secs)
{
	char why[ERR_LEN];
	st->lease = secs;
	st->leased = 1;
	(void)session(st, why);   /* a lost connection gets it when made again */
}

static void num(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%lld", (long long)v);
}

/* fenced: the end of a write conditioned on the claim being ours: 1 when it was not (no row). */
static int fenced(struct store_be *st, PGresult *r)
{
	int n;
	if (!r)
		return -1;
	n = (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if (n != 1)
		return 1;
	pgi_wrote(st);
	return 0;
}

int pgc_renew(struct store_be *st, const char *owner, char why[ERR_LEN])
{
	char lease[24];
	const char *v[2] = {owner, lease};
	PGresult *r;
	num(lease, sizeof lease, st->lease);
	/* An expired lease is not revived: another daemon may be taking it over. */
	r = pgi_qv(st, "UPDATE dispatches SET lease_until = clock_timestamp() + $2::float8 * interval '1 second' "
	               "WHERE handled_by = $1 AND status = 'queued' AND lease_until > clock_timestamp()", 2, v, why);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int pgc_ds_update_claim(struct store_be *st, const struct dispatch_rec *rec, const char *owner, int64_t now,
                        char why[ERR_LEN])
{
	struct ds_params p;
	char lease[24];
	PGresult *r;

	pgi_ds_mutable(&p, rec);
	num(p.num[6], sizeof p.num[6], now);
	num(p.num[7], sizeof p.num[7], rec->id);
	num(lease, sizeof lease, st->lease);
	p.v[16] = p.num[6];
	p.v[17] = p.num[7];
	p.v[18] = owner;
	p.v[19] = lease;
	/* A record still queued (its data_sent mark) keeps its lease fresh with the write. */
	r = pgi_qv(st, "UPDATE dispatches SET fire_date = $1, fire_at = $2, channel = $3, status = $4, reason = $5, "
	               "attempts = $6, error = $7, artifact = $8, page = $9, message_id = $10, signer = $11, "
	               "cost_cents = $12, template = $13, next_attempt_at = $14, data_sent = $15, "
	               "last_reply = $16, updated_at = $17, lease_until = CASE WHEN $4 = 'queued' "
	               "THEN clock_timestamp() + $20::float8 * interval '1 second' ELSE lease_until END "
	               "WHERE id = $18 AND handled_by = $19 AND lease_until > clock_timestamp()",
	           20, p.v, why);
	return fenced(st, r);
}

int pgc_ds_withdraw_claim(struct store_be *st, int64_t id, const char *owner, char why[ERR_LEN])
{
	char ids[24];
	const char *v[2] = {ids, owner};
	PGresult *r;
	num(ids, sizeof ids, id);
	r = pgi_qv(st, "DELETE FROM dispatches WHERE id = $1 AND handled_by = $2 AND lease_until > clock_timestamp()",
	           2, v, why);
	return fenced(st, r);
}

int pgc_take_over(struct store_be *st, int channel, const char *owner, struct dispatch_rec **out, size_t *n,
                  char why[ERR_LEN])
{
	char lease[24];
	const char *v[3] = {channel_names[channel], owner, lease};
	PGresult *r;

	*out = NULL;
	*n = 0;
	num(lease, sizeof lease, st->lease);
	/*
	 * One statement: the rows are locked as they are taken (a daemon taking the same ones at
	 * once skips them), made ours with a fresh lease, and handed back as they now are.
	 * A record of schema 1 (no lease) was left by a pass that died before several daemons.
	 */
	r = pgi_qv(st, "WITH t AS (SELECT id FROM dispatches WHERE status = 'queued' AND channel = $1 "
	               "AND (lease_until IS NULL OR lease_until < clock_timestamp()) ORDER BY id "
	               "FOR UPDATE SKIP LOCKED) "
	               "UPDATE dispatches d SET handled_by = $2, "
	               "lease_until = clock_timestamp() + $3::float8 * interval '1 second' "
	               "FROM t WHERE d.id = t.id RETURNING d." DS_COLS, 3, v, why);
	if (!r)
		return -1;
	return pgi_read_dispatches(r, out, n, why);
}

int pgc_claim_retry(struct store_be *st, struct dispatch_rec *rec, const char *owner, int64_t now, char why[ERR_LEN])
{
	char ids[24], lease[24], at[24];
	const char *v[4] = {ids, owner, lease, at};
	PGresult *r;
	int got;
	num(ids, sizeof ids, rec->id);
	num(lease, sizeof lease, st->lease);
	num(at, sizeof at, now);
	r = pgi_qv(st, "UPDATE dispatches SET status = 'queued', handled_by = $2, "
	               "lease_until = clock_timestamp() + $3::float8 * interval '1 second' "
	               "WHERE id = $1 AND status = 'retry' AND next_attempt_at <= $4 RETURNING id", 4, v, why);
	if (!r)
		return -1;
	got = PQntuples(r) == 1;
	PQclear(r);
	return got ? 0 : 1;
}

int pgc_batch_lock(struct store_be *st, const char *key, char why[ERR_LEN])
{
	const char *v[1] = {key};
	PGresult *r = pgi_qv(st, "SELECT pg_try_advisory_lock(" PG_KEY_BATCH ", hashtext($1))", 1, v, why);
	char sql[96];
	int got;
	if (!r)
		return -1;
	got = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	st->batch_locks += got;
	/*
	 * A session lock outlives a frozen daemon's claims: with it, no other daemon could build
	 * the batch until the frozen one woke. So while batch locks are held, a session silent
	 * for two leases (a live daemon renews every third of one) is ended by the server and
	 * the locks go with it; the frozen daemon then finds its connection gone and writes
	 * nothing. Servers before 14 have no such limit: the locks wait for the wake-up there.
	 */
	if (got && st->leased && !st->idle_bound && PQserverVersion(st->conn) >= 140000) {
		snprintf(sql, sizeof sql, "SET idle_session_timeout = %lld", (long long)st->lease * 2000);
		if (pgi_exec(st, sql, why) != 0)
			return -1;
		st->idle_bound = 1;
	}
	return got ? 0 : 1;
}

void pgc_batch_unlock_all(struct store_be *st)
{
	char why[ERR_LEN];
	if (st->batch_locks && PQstatus(st->conn) == CONNECTION_OK)
		(void)pgi_exec(st, "SELECT pg_advisory_unlock_all()", why);
	/* An idle daemon's session is not ended: it waits between passes. */
	if (st->idle_bound && PQstatus(st->conn) == CONNECTION_OK)
		(void)pgi_exec(st, "SET idle_session_timeout = 0", why);
	st->batch_locks = 0;
	st->idle_bound = 0;
}

int pgc_next_takeover(struct store_be *st, const char *owner, int64_t *at, char why[ERR_LEN])
{
	const char *v[1] = {owner};
	/*
	 * Our own count too: a claim left queued when our connection broke in the middle of a
	 * pass is taken back, under the crash rules, once its lease has run out.
	 */
	PGresult *r = pgi_qv(st, "SELECT ceil(extract(epoch FROM min(lease_until)))::bigint FROM dispatches "
	                         "WHERE status = 'queued' AND $1::text IS NOT NULL", 1, v, why);
	*at = INT64_MAX;
	if (!r)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*at = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/*
 * reconnect: the main connection is gone (the server restarted, the network broke): a
 * new session with the same settings; prepared statements and session locks went with the old.
 */
static int reconnect(struct store_be *st, char why[ERR_LEN])
{
	PGconn *c = pgi_connect(st->uri, st->name, why);
	if (!c)
		return -1;
	PQfinish(st->conn);
	st->conn = c;
	memset(st->prepared, 0, sizeof st->prepared);
	st->locked = 0;
	st->notify = 0;
	st->batch_locks = 0;
	st->idle_bound = 0;
	return session(st, why);
}

int pgc_ping(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r;
	if (PQstatus(st->conn) == CONNECTION_OK) {
		if (pgi_in_tx(st))
			(void)pgi_exec(st, "ROLLBACK", why);
		r = PQexec(st->conn, "SELECT 1");
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			PQclear(r);
			return 0;
		}
		PQclear(r);
	}
	/* Gone (a restart, the network): a new session, and the change watch with it. */
	if (reconnect(st, why) < 0)
		return -1;
	pgi_watch_restart(st);
	return 0;
}

int pgc_lost(struct store_be *st)
{
	return PQstatus(st->conn) != CONNECTION_OK;
}

int pgc_release(struct store_be *st, const char *owner, char why[ERR_LEN])
{
	const char *v[1] = {owner};
	/*
	 * A pass is starting, so no claim of ours is in hand: one still queued was left by a pass
	 * whose connection broke. Its lease ends now (renewing it would keep it forever), and the
	 * pass's recovery takes it back under the crash rules.
	 */
	PGresult *r = pgi_qv(st, "UPDATE dispatches SET lease_until = clock_timestamp() "
	                         "WHERE handled_by = $1 AND status = 'queued' AND lease_until > clock_timestamp()",
	                     1, v, why);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}
