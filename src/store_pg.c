/*
 * store_pg: the PostgreSQL backend of the store (src/store_backend.h): open, the schema and
 * its migration, close, meta, the integrity check, and the table of primitives. Its files,
 * the only users of libpq, share src/store_pg_int.h: store_pg_conn.c (connections,
 * statements, transactions), store_pg_sh.c (stakeholders, events, opt-out), store_pg_ds.c
 * (dispatch records), store_pg_claim.c (claims of several daemons), store_pg_scan.c,
 * store_pg_import.c and store_pg_watch.c. A postgresql:// or postgres:// URI in
 * `database:`, any libpq URI, without a password (that comes from libpq's password file or
 * a client certificate).
 *
 * Everything lives in the schema "occasiond" (the connection's search_path), so the tables
 * sit beside a business's own. Its version is the meta key schema_version; migration steps
 * run under an advisory transaction lock, so daemons starting together migrate once. Every
 * text column is COLLATE "C": ids order bytewise, as strcmp and the front expect. Values go
 * only as statement parameters, never into SQL text.
 *
 * Beside the main connection: the scan reads on a connection of its own (one REPEATABLE
 * READ snapshot, server-side cursors fetched in batches, the next stakeholders' batch asked
 * for ahead); the change watch LISTENs on another. Every commit that wrote something sends
 * NOTIFY occasiond; the watch ignores the notifications of its own main connection. Round
 * trips are what costs: an import sends its rows and its new ids in batches through unnest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store_pg_int.h"

_Static_assert(SH_NFIELDS == 24, "stakeholders table has 24 standard columns");
_Static_assert(DS__N == 11, "dispatches.status CHECK lists 11 statuses");

/* The migration's advisory lock key (per database); the batches' keys: store_pg_claim.c. */
#define PG_KEY_MIGRATE "22314500202692609"   /* 0x4f434344000001: "OCCD" 1 */

/* ---- schema ---- */

#define T " text COLLATE \"C\" NOT NULL DEFAULT ''"
static const char schema_v1[] =
	"CREATE SCHEMA IF NOT EXISTS " PG_SCHEMA ";\n"
	"CREATE TABLE meta(key text COLLATE \"C\" PRIMARY KEY, value text NOT NULL);\n"
	"CREATE TABLE stakeholders(id text COLLATE \"C\" PRIMARY KEY,\n"
	"  first_name" T ", last_name" T ", nickname" T ", organization" T ", title" T ", type" T ",\n"
	"  tier" T ", email" T ", preferred_channel" T ", owner" T ", owner_email" T ", timezone" T ",\n"
	"  street" T ", city" T ", region" T ", postal_code" T ", country" T ", birthday" T ",\n"
	"  hire_date" T ", customer_since" T ", contract_renewal" T ", consent_personal" T ",\n"
	"  opted_out" T ", updated_at bigint NOT NULL DEFAULT 0);\n"
	"CREATE TABLE stakeholder_fields(\n"
	"  stakeholder_id text COLLATE \"C\" NOT NULL REFERENCES stakeholders(id) ON DELETE CASCADE,\n"
	"  name text COLLATE \"C\" NOT NULL, value text NOT NULL, ord integer NOT NULL,\n"
	"  PRIMARY KEY(stakeholder_id, name));\n"
	"CREATE TABLE events(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"  stakeholder_id text COLLATE \"C\" NOT NULL REFERENCES stakeholders(id) ON DELETE CASCADE,\n"
	"  kind text COLLATE \"C\" NOT NULL, date text COLLATE \"C\" NOT NULL,\n"
	"  title text NOT NULL DEFAULT '', details text NOT NULL DEFAULT '',\n"
	"  UNIQUE(stakeholder_id, kind, date));\n"
	/* No foreign key to stakeholders: the dispatch history outlives a deleted stakeholder. */
	"CREATE TABLE dispatches(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"  rule text COLLATE \"C\" NOT NULL CHECK(rule <> ''),\n"
	"  stakeholder text COLLATE \"C\" NOT NULL CHECK(stakeholder <> ''),\n"
	"  occasion_date text COLLATE \"C\" NOT NULL CHECK(occasion_date <> ''), fire_date" T ",\n"
	"  fire_at bigint NOT NULL,\n"
	"  channel text NOT NULL CHECK(channel IN ('card', 'email')),\n"
	"  status text NOT NULL CHECK(status IN ('queued', 'rendered', 'printed', 'signed', 'mailed',\n"
	"    'cancelled', 'sent', 'retry', 'unknown', 'failed', 'skipped')),\n"
	"  reason" T ", attempts integer NOT NULL DEFAULT 0, error" T ", artifact" T ",\n"
	"  page integer NOT NULL DEFAULT 0, message_id" T ", signer" T ",\n"
	"  cost_cents bigint NOT NULL DEFAULT 0, template" T ", next_attempt_at bigint NOT NULL DEFAULT 0,\n"
	"  data_sent integer NOT NULL DEFAULT 0, last_reply" T ",\n"
	"  created_at bigint NOT NULL, updated_at bigint NOT NULL,\n"
	"  UNIQUE(rule, stakeholder, occasion_date));\n"
	"CREATE INDEX dispatches_status ON dispatches(status);\n"
	"CREATE INDEX dispatches_fire_signer ON dispatches(fire_date, signer);\n"
	"CREATE INDEX dispatches_stakeholder ON dispatches(stakeholder);\n";
#undef T

/*
 * 2: claims of several daemons: the owner (HOST:PID, which `log` shows) and the lease it
 * renews; a queued record whose lease ran out is another daemon's to take over.
 */
static const char schema_v2[] =
	"ALTER TABLE dispatches ADD COLUMN handled_by text COLLATE \"C\" NOT NULL DEFAULT '',\n"
	"  ADD COLUMN lease_until timestamptz;\n"
	"CREATE INDEX dispatches_queued ON dispatches(lease_until) WHERE status = 'queued';\n";

static int init_meta_v1(struct store_be *st, char why[ERR_LEN]);

/* migrations[v] takes a database from version v-1 to v (and sets meta schema_version to v). */
static const struct migration {
	const char *sql;
	int (*after)(struct store_be *st, char why[ERR_LEN]);
} migrations[STORE_SCHEMA_VERSION + 1] = {
	[1] = {schema_v1, init_meta_v1},
	[2] = {schema_v2, NULL},
};

/* ---- open, migrate, close ---- */

static int random_hex(char *out, size_t nbytes, char why[ERR_LEN])
{
	unsigned char buf[32];
	size_t got = 0;
	if (nbytes > sizeof buf)
		nbytes = sizeof buf;
	while (got < nbytes) {
		ssize_t n = getrandom(buf + got, nbytes - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(why, "cannot get random bytes: %s", strerror(errno));
		got += (size_t)n;
	}
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[i]);
	return 0;
}

static int meta_put(struct store_be *st, const char *key, const char *value, char why[ERR_LEN])
{
	const char *v[2] = {key, value};
	PGresult *r = pgi_q(st, ST_META_PUT, 2, v, why);
	if (!r)
		return -1;
	PQclear(r);
	pgi_wrote(st);
	return 0;
}

static int init_meta_v1(struct store_be *st, char why[ERR_LEN])
{
	char id[17], created[32];
	snprintf(created, sizeof created, "%lld", (long long)st->created);
	if (random_hex(id, 8, why) < 0 || meta_put(st, "install_id", id, why) < 0 ||
	    meta_put(st, "created_at", created, why) < 0)
		return -1;
	return 0;
}

/*
 * read_version: 0 when the schema has no meta table yet, else its schema_version; -1 with
 * why when it cannot be read, or the schema is not ours: tables but no meta table (as SQLite's
 * file with tables but no user_version is refused), or a meta table with no version in it.
 */
static int read_version(struct store_be *st, int *version, char why[ERR_LEN])
{
	PGresult *r = pgi_qv(st, "SELECT to_regclass('" PG_SCHEMA ".meta') IS NOT NULL, EXISTS (SELECT 1 FROM "
	                 "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	                 "WHERE n.nspname = '" PG_SCHEMA "' AND c.relkind IN ('r', 'p'))", 0, NULL, why);
	int has, tables;
	if (!r)
		return -1;
	has = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	tables = PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	*version = 0;
	if (!has && tables)
		return err_set(why, "schema " PG_SCHEMA " has tables but no meta table (no schema version): "
		               "it is not occasiond's");
	if (!has)
		return 0;
	if (!(r = pgi_qv(st, "SELECT value FROM meta WHERE key = 'schema_version'", 0, NULL, why)))
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return err_set(why, "schema " PG_SCHEMA " has a meta table without a schema version: "
		               "it is not occasiond's");
	}
	*version = (int)pgi_val_int(r, 0, 0);
	PQclear(r);
	return 0;
}

/* migrate: every step the database lacks, each in one transaction under the migration lock. */
static int migrate(struct store_be *st, char why[ERR_LEN])
{
	int cur;
	for (int v = 1; v <= STORE_SCHEMA_VERSION; v++) {
		char num[16];
		if (pgi_begin(st, why) < 0 || pgi_exec(st, "SELECT pg_advisory_xact_lock(" PG_KEY_MIGRATE ")", why) < 0)
			goto fail;
		/* Read under the lock: another process may have migrated meanwhile. */
		if (read_version(st, &cur, why) < 0)
			goto fail;
		if (cur < v) {
			snprintf(num, sizeof num, "%d", v);
			if (pgi_exec(st, migrations[v].sql, why) < 0 ||
			    (migrations[v].after && migrations[v].after(st, why) < 0) ||
			    meta_put(st, "schema_version", num, why) < 0)
				goto fail;
		}
		if (pgi_commit(st, why) < 0)
			return -1;
		continue;
fail:
		pgi_rollback(st);
		return -1;
	}
	return 0;
}

/* writable: 0 when the server takes writes, else -1 with why (a standby, a read-only default). */
static int writable(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r = pgi_qv(st, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')", 0, NULL, why);
	int ro;
	if (!r)
		return -1;
	ro = PQgetvalue(r, 0, 0)[0] == 't' || strcmp(PQgetvalue(r, 0, 1), "on") == 0;
	PQclear(r);
	if (ro)
		return err_set(why, "the server takes no writes (a standby, or default_transaction_read_only): "
		               "point database: at the primary");
	return 0;
}

static void pg_close(struct store_be *st);

static int pg_open(const char *uri, int64_t now, struct store_be **out, char err[ERR_LEN])
{
	PQconninfoOption *opts;
	struct store_be *st;
	char *perr = NULL, why[ERR_LEN];
	char *name = store_safe_name(uri);
	int version, pw = 0;

	*out = NULL;
	/* The password lives in libpq's password file, never in the config: refuse one here. */
	if (!(opts = PQconninfoParse(uri, &perr))) {
		pgi_one_line(why, perr ? perr : "out of memory");
		PQfreemem(perr);
		err_set(err, "%s is not a valid PostgreSQL URI: %s", name, why);
		free(name);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			pw = 1;
	PQconninfoFree(opts);
	if (pw) {
		err_set(err, "%s: the URI holds a password: put it in the password file (~/.pgpass or PGPASSFILE) "
		        "instead", name);
		free(name);
		return -1;
	}
	st = xcalloc(1, sizeof *st);
	st->uri = xstrdup(uri);
	st->name = name;
	st->created = now;
	st->watch = st->quiet[0] = st->quiet[1] = -1;
	st->lease = 30;
	if (!(st->conn = pgi_connect(uri, name, err)))
		goto fail;
	if (writable(st, why) < 0 || read_version(st, &version, why) < 0) {
		err_set(err, "%s: %s", name, why);
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		err_set(err, "%s has schema version %d, newer than this program's %d: use a newer occasiond", name,
		        version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < STORE_SCHEMA_VERSION && migrate(st, why) < 0) {
		err_set(err, "cannot migrate %s to schema version %d: %s", name, STORE_SCHEMA_VERSION, why);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	pg_close(st);
	return -1;
}

static void pg_unlock(struct store_be *st);

static void pg_close(struct store_be *st)
{
	if (!st)
		return;
	pgi_rollback(st);
	pg_unlock(st);
	PQfinish(st->conn);
	pgi_watch_free(st);
	pgi_import_free(st);
	free(st->uri);
	free(st->name);
	free(st);
}

static int pg_schema_version(struct store_be *st)
{
	char why[ERR_LEN];
	int v;
	return read_version(st, &v, why) < 0 ? -1 : v;
}

static int pg_meta_get(struct store_be *st, const char *key, char **value, char why[ERR_LEN])
{
	const char *v[1] = {key};
	PGresult *r = pgi_q(st, ST_META_GET, 1, v, why);
	*value = NULL;
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	*value = pgi_val_dup(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_meta_set(struct store_be *st, const char *key, const char *value, char why[ERR_LEN])
{
	return meta_put(st, key, value, why);
}

/* ---- integrity, memory ---- */

/*
 * check: PostgreSQL looks after its own pages; what can be wrong on our side is an index
 * left invalid (a failed concurrent build) or a server that went read-only.
 */
static int pg_check(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r = pgi_qv(st, "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
	                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
	                     "WHERE n.nspname = '" PG_SCHEMA "' AND NOT (i.indisvalid AND i.indisready) LIMIT 1",
	                 0, NULL, why);
	if (!r)
		return -1;
	if (PQntuples(r) > 0) {
		err_set(why, "index %.100s is invalid: REINDEX it", PQgetvalue(r, 0, 0));
		PQclear(r);
		return 1;
	}
	PQclear(r);
	return writable(st, why) < 0 ? 1 : 0;
}

static void pg_trim(struct store_be *st, int cache_kib)
{
	/* The server keeps the cache; the client holds no result between calls. */
	(void)st;
	(void)cache_kib;
}

/* ---- the pass: none on PostgreSQL (several daemons work at once), but a round trip first ---- */

/*
 * lock_try: claims with leases let several daemons work at once (store_pg_claim.c), so the
 * pass takes no lock here; it begins with a round trip, so a dead connection is found (and
 * made again) before any work.
 */
static int pg_lock_try(struct store_be *st, char why[ERR_LEN])
{
	return pgc_ping(st, why) < 0 ? -1 : 0;
}

static void pg_unlock(struct store_be *st)
{
	(void)st;
}

const struct store_backend store_backend_pg = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.begin = pgi_begin,
	.commit = pgi_commit,
	.rollback = pgi_rollback,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.sh_put = pgi_sh_put,
	.sh_get = pgi_sh_get,
	.sh_all = pgi_sh_all,
	.custom_columns = pgi_custom_columns,
	.ev_put = pgi_ev_put,
	.ev_all = pgi_ev_all,
	.ds_claim = pgi_ds_claim,
	.ds_update = pgi_ds_update,
	.ds_delete = pgi_ds_delete,
	.ds_get = pgi_ds_get,
	.ds_list = pgi_ds_list,
	.ds_next_retry = pgi_ds_next_retry,
	.scan_open = pgi_scan_open,
	.scan_next = pgi_scan_next,
	.scan_close = pgi_scan_close,
	.check = pg_check,
	.trim = pg_trim,
	.lock_try = pg_lock_try,
	.unlock = pg_unlock,
	.watch_fd = pgi_watch_fd,
	.watch_mark = pgi_watch_mark,
	.changed = pgi_changed,
	.optout = pgi_optout,
	.lease_set = pgc_lease_set,
	.renew = pgc_renew,
	.ds_update_claim = pgc_ds_update_claim,
	.ds_withdraw_claim = pgc_ds_withdraw_claim,
	.take_over = pgc_take_over,
	.claim_retry = pgc_claim_retry,
	.batch_lock = pgc_batch_lock,
	.batch_unlock_all = pgc_batch_unlock_all,
	.next_takeover = pgc_next_takeover,
	.ping = pgc_ping,
	.lost = pgc_lost,
	.release = pgc_release,
	.import_begin = pgi_import_begin,
	.import_seen = pgi_import_seen,
	.import_put = pgi_import_put,
	.import_end = pgi_import_end,
};
