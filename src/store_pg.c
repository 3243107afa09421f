/*
 * store_pg: the PostgreSQL backend of the store (src/store_backend.h); the only file that
 * includes libpq-fe.h. A postgresql:// or postgres:// URI in `database:`, any libpq URI,
 * without a password (that comes from libpq's password file or a client certificate).
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
#include "store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <libpq-fe.h>

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

/* ---- statements ---- */


#define SH_COLS "id, first_name, last_name, nickname, organization, title, type, tier, email, " \
	"preferred_channel, owner, owner_email, timezone, street, city, region, postal_code, country, " \
	"birthday, hire_date, customer_since, contract_renewal, consent_personal, opted_out"

static const char *const fixed_sql[ST__N] = {
	[ST_META_GET] = "SELECT value FROM meta WHERE key = $1",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_SH_GET] = "SELECT " SH_COLS " FROM stakeholders WHERE id = $1",
	[ST_SHF_DEL] = "DELETE FROM stakeholder_fields WHERE stakeholder_id = $1",
	[ST_SHF_PUT] = "INSERT INTO stakeholder_fields(stakeholder_id, name, value, ord) VALUES($1, $2, $3, $4) "
	               "ON CONFLICT(stakeholder_id, name) DO UPDATE SET value = excluded.value, ord = excluded.ord",
	[ST_SHF_GET] = "SELECT name, value FROM stakeholder_fields WHERE stakeholder_id = $1 ORDER BY ord, name",
	/* Unknown stakeholder: no row, not an error (which would abort the caller's transaction). */
	[ST_EV_PUT] = "INSERT INTO events(stakeholder_id, kind, date, title, details) "
	              "SELECT $1::text, $2::text, $3::text, $4::text, $5::text "
	              "WHERE EXISTS (SELECT 1 FROM stakeholders WHERE id = $1::text) "
	              "ON CONFLICT(stakeholder_id, kind, date) DO UPDATE SET title = excluded.title, "
	              "details = excluded.details",
	[ST_EV_OF] = "SELECT stakeholder_id, kind, date, title, details FROM events WHERE stakeholder_id = $1 "
	             "ORDER BY date, kind, id",
	/* A claim is its owner's until its lease runs out ($22 seconds from the server's clock). */
	[ST_DS_CLAIM] = "INSERT INTO dispatches(" DS_MUTABLE ", rule, stakeholder, occasion_date, created_at, updated_at, "
	                "handled_by, lease_until) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
	                "$15, $16, $17, $18, $19, $20, $20, $21, clock_timestamp() + $22::float8 * interval '1 second') "
	                "ON CONFLICT(rule, stakeholder, occasion_date) DO NOTHING RETURNING id",
	[ST_DS_UPDATE] = "UPDATE dispatches SET fire_date = $1, fire_at = $2, channel = $3, status = $4, reason = $5, "
	                 "attempts = $6, error = $7, artifact = $8, page = $9, message_id = $10, signer = $11, "
	                 "cost_cents = $12, template = $13, next_attempt_at = $14, data_sent = $15, "
	                 "last_reply = $16, updated_at = $17 WHERE id = $18",
	[ST_DS_DELETE] = "DELETE FROM dispatches WHERE id = $1",
	[ST_DS_GET] = "SELECT " DS_COLS " FROM dispatches WHERE id = $1",
	[ST_IMP_SEEN] = "INSERT INTO pg_temp.import_ids(id, line) VALUES($1, $2) ON CONFLICT(id) DO NOTHING",
	[ST_IMP_LINE] = "SELECT line FROM pg_temp.import_ids WHERE id = $1",
	[ST_IMP_SEEN_BULK] = "INSERT INTO pg_temp.import_ids(id, line) SELECT * FROM unnest($1::text[], $2::bigint[])",
	[ST_IMP_BULK_F] = "INSERT INTO stakeholder_fields(stakeholder_id, name, value, ord) "
	                  "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[]) "
	                  "ON CONFLICT(stakeholder_id, name) DO UPDATE SET value = excluded.value, ord = excluded.ord",
};


/* one_line: libpq's message (which may span lines, end in one) as one line into why. */
static int one_line(char why[ERR_LEN], const char *msg)
{
	size_t j = 0;
	int space = 0;
	if (!msg || !*msg)
		msg = "unknown error";
	for (const char *p = msg; *p && j + 1 < ERR_LEN; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
			space = j > 0;
			continue;
		}
		if (space && j + 2 < ERR_LEN)
			why[j++] = ' ';
		space = 0;
		why[j++] = *p;
	}
	why[j] = '\0';
	/* "ERROR:  " and "FATAL:  " add nothing a user needs. */
	if (strncmp(why, "ERROR: ", 7) == 0 || strncmp(why, "FATAL: ", 7) == 0)
		memmove(why, why + 7, strlen(why + 7) + 1);
	return -1;
}

static int conn_err(PGconn *c, char why[ERR_LEN])
{
	return one_line(why, PQerrorMessage(c));
}

/* ok: whether r succeeded (PGRES_COMMAND_OK or TUPLES_OK); else why, and r is cleared. */
static int ok(PGconn *c, PGresult *r, char why[ERR_LEN])
{
	ExecStatusType s = PQresultStatus(r);
	if (r && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK))
		return 1;
	/* The primary message alone: the rest (LINE 1: ..., a caret) does not fit one line. */
	if (r && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
		one_line(why, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	else
		conn_err(c, why);
	PQclear(r);
	return 0;
}

static int exec(struct store_be *st, const char *sql, char why[ERR_LEN])
{
	PGresult *r = PQexec(st->conn, sql);
	if (!ok(st->conn, r, why))
		return -1;
	PQclear(r);
	return 0;
}

static char *sh_put_sql(int bulk);

/* q: runs the cached statement id with n text parameters; the result (caller clears) or NULL with why. */
static PGresult *q(struct store_be *st, enum stmt_id id, int n, const char *const *vals, char why[ERR_LEN])
{
	char name[16];
	PGresult *r;
	snprintf(name, sizeof name, "occ%d", (int)id);
	if (!st->prepared[id]) {
		char *built = fixed_sql[id] ? NULL : sh_put_sql(id == ST_IMP_BULK);
		r = PQprepare(st->conn, name, built ? built : fixed_sql[id], 0, NULL);
		free(built);
		if (!ok(st->conn, r, why))
			return NULL;
		PQclear(r);
		st->prepared[id] = 1;
	}
	r = PQexecPrepared(st->conn, name, n, vals, NULL, NULL, 0);
	return ok(st->conn, r, why) ? r : NULL;
}

/* qv: runs sql (not cached) with n text parameters. */
static PGresult *qv(struct store_be *st, const char *sql, int n, const char *const *vals, char why[ERR_LEN])
{
	PGresult *r = PQexecParams(st->conn, sql, n, NULL, vals, NULL, NULL, 0);
	return ok(st->conn, r, why) ? r : NULL;
}

static char *val_dup(const PGresult *r, int row, int col)
{
	return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static int64_t val_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int changed_rows(PGresult *r)
{
	return (int)strtol(PQcmdTuples(r), NULL, 10);
}

/* ---- transactions ---- */

static int in_tx(const struct store_be *st)
{
	return PQtransactionStatus(st->conn) != PQTRANS_IDLE;
}

/* wrote: a write succeeded: others hear of it at its commit (now, when it committed on its own). */
static void wrote(struct store_be *st)
{
	if (in_tx(st)) {
		st->notify = 1;
	} else {
		PGresult *r = PQexec(st->conn, "NOTIFY " PG_CHANNEL);
		PQclear(r);
	}
}

static int pg_begin(struct store_be *st, char why[ERR_LEN])
{
	st->notify = 0;
	return exec(st, "BEGIN", why);
}

static void pg_rollback(struct store_be *st)
{
	if (st && st->conn && in_tx(st)) {
		PGresult *r = PQexec(st->conn, "ROLLBACK");
		PQclear(r);
	}
	if (st)
		st->notify = 0;
}

static int pg_commit(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r;
	if (st->notify && exec(st, "NOTIFY " PG_CHANNEL, why) < 0) {
		pg_rollback(st);
		return -1;
	}
	st->notify = 0;
	r = PQexec(st->conn, "COMMIT");
	if (!ok(st->conn, r, why)) {
		pg_rollback(st);
		return -1;
	}
	/* COMMIT of a transaction that an earlier error aborted answers ROLLBACK, without an error. */
	if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		PQclear(r);
		return err_set(why, "the transaction was rolled back after an earlier error");
	}
	PQclear(r);
	return 0;
}

/* Operations of several statements are atomic on their own and nest in a caller's transaction. */
enum tx_mode { TX_OWN, TX_SAVEPOINT };

static int tx_enter(struct store_be *st, enum tx_mode *mode, char why[ERR_LEN])
{
	*mode = in_tx(st) ? TX_SAVEPOINT : TX_OWN;
	if (*mode == TX_OWN)
		return pg_begin(st, why);
	return exec(st, "SAVEPOINT store_op", why);
}

static int tx_leave(struct store_be *st, enum tx_mode mode, int good, char why[ERR_LEN])
{
	if (good && mode == TX_OWN)
		return pg_commit(st, why);
	if (good && exec(st, "RELEASE store_op", why) == 0)
		return 0;
	if (mode == TX_SAVEPOINT) {
		PGresult *r = PQexec(st->conn, "ROLLBACK TO store_op");
		PQclear(r);
		r = PQexec(st->conn, "RELEASE store_op");
		PQclear(r);
	} else {
		pg_rollback(st);
	}
	return -1;
}

/* ---- open, migrate, close ---- */

static void quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* connect_to: a new connection to uri with the store's session settings, or NULL with why. */
static PGconn *connect_to(const char *uri, const char *name, char why[ERR_LEN])
{
	/*
	 * Unless the URI says otherwise: a server that does not answer is given up after 10 s,
	 * and a TCP peer gone silent (a cut network) is found out within about a minute, so that
	 * the daemon's watch and its next pass notice.
	 */
	const char *const keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
	                            "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"10", "30", "10", "3", "occasiond", uri, NULL};
	char msg[ERR_LEN];
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	PGresult *r;

	if (!c) {
		err_set(why, "cannot connect to %s: out of memory", name);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		conn_err(c, msg);
		err_set(why, "cannot connect to %s: %s", name, msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet_notices, NULL);
	r = PQexec(c, "SET search_path = " PG_SCHEMA "; SET client_min_messages = warning; SET TIME ZONE 'UTC'");
	if (!ok(c, r, msg)) {
		err_set(why, "cannot set up the session on %s: %s", name, msg);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}

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
	PGresult *r = q(st, ST_META_PUT, 2, v, why);
	if (!r)
		return -1;
	PQclear(r);
	wrote(st);
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
	PGresult *r = qv(st, "SELECT to_regclass('" PG_SCHEMA ".meta') IS NOT NULL, EXISTS (SELECT 1 FROM "
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
	if (!(r = qv(st, "SELECT value FROM meta WHERE key = 'schema_version'", 0, NULL, why)))
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return err_set(why, "schema " PG_SCHEMA " has a meta table without a schema version: "
		               "it is not occasiond's");
	}
	*version = (int)val_int(r, 0, 0);
	PQclear(r);
	return 0;
}

/* migrate: every step the database lacks, each in one transaction under the migration lock. */
static int migrate(struct store_be *st, char why[ERR_LEN])
{
	int cur;
	for (int v = 1; v <= STORE_SCHEMA_VERSION; v++) {
		char num[16];
		if (pg_begin(st, why) < 0 || exec(st, "SELECT pg_advisory_xact_lock(" PG_KEY_MIGRATE ")", why) < 0)
			goto fail;
		/* Read under the lock: another process may have migrated meanwhile. */
		if (read_version(st, &cur, why) < 0)
			goto fail;
		if (cur < v) {
			snprintf(num, sizeof num, "%d", v);
			if (exec(st, migrations[v].sql, why) < 0 ||
			    (migrations[v].after && migrations[v].after(st, why) < 0) ||
			    meta_put(st, "schema_version", num, why) < 0)
				goto fail;
		}
		if (pg_commit(st, why) < 0)
			return -1;
		continue;
fail:
		pg_rollback(st);
		return -1;
	}
	return 0;
}

/* writable: 0 when the server takes writes, else -1 with why (a standby, a read-only default). */
static int writable(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r = qv(st, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')", 0, NULL, why);
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
		one_line(why, perr ? perr : "out of memory");
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
	if (!(st->conn = connect_to(uri, name, err)))
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
static void batch_free(struct batch *bt);
static void seen_free(struct store_be *st);

static void pg_close(struct store_be *st)
{
	if (!st)
		return;
	pg_rollback(st);
	pg_unlock(st);
	PQfinish(st->conn);
	PQfinish(st->listen);
	if (st->watch >= 0)
		close(st->watch);
	for (int i = 0; i < 2; i++)
		if (st->quiet[i] >= 0)
			close(st->quiet[i]);
	batch_free(&st->batch);
	seen_free(st);
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
	PGresult *r = q(st, ST_META_GET, 1, v, why);
	*value = NULL;
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	*value = val_dup(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_meta_set(struct store_be *st, const char *key, const char *value, char why[ERR_LEN])
{
	return meta_put(st, key, value, why);
}

/* ---- stakeholders ---- */

/*
 * sh_put_sql: the upsert of one stakeholder ($1..$24 the fields), or with bulk of many ($1..$24
 * arrays of the fields, one element a stakeholder); $25 updated_at, $26 the mask of the
 * columns an update writes (a partial CSV leaves the others alone).
 */
static char *sh_put_sql(int bulk)
{
	struct strbuf sb = {0};
	int i;
	sb_adds(&sb, "INSERT INTO stakeholders(" SH_COLS ", updated_at) ");
	sb_adds(&sb, bulk ? "SELECT u.*, $25::bigint FROM unnest(" : "VALUES(");
	for (i = 1; i <= SH_NFIELDS; i++)
		sb_addf(&sb, "%s$%d%s", i > 1 ? ", " : "", i, bulk ? "::text[]" : "");
	sb_adds(&sb, bulk ? ") AS u" : ", $25)");
	sb_adds(&sb, " ON CONFLICT(id) DO UPDATE SET ");
	for (i = 1; i < SH_NFIELDS; i++)
		sb_addf(&sb, "%s = CASE WHEN ($%d::bigint & %lu) <> 0 THEN excluded.%s ELSE stakeholders.%s END, ",
		        sh_field_names[i], SH_NFIELDS + 2, 1ul << i, sh_field_names[i], sh_field_names[i]);
	sb_adds(&sb, "updated_at = excluded.updated_at");
	return sb_detach(&sb);
}

static int put_custom(struct store_be *st, const struct stakeholder *sh, char why[ERR_LEN])
{
	PGresult *r;
	char ord[24];
	if (!sh->present) {
		const char *v[1] = {sh->f[SH_ID]};
		if (!(r = q(st, ST_SHF_DEL, 1, v, why)))
			return -1;
		PQclear(r);
	}
	for (size_t i = 0; i < sh->ncustom; i++) {
		const char *v[4] = {sh->f[SH_ID], sh->custom[i].key, sh->custom[i].value ? sh->custom[i].value : "", ord};
		snprintf(ord, sizeof ord, "%zu", i);
		if (!(r = q(st, ST_SHF_PUT, 4, v, why)))
			return -1;
		PQclear(r);
	}
	return 0;
}

static int put_rows(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	int64_t mask = sh->present ? (int64_t)sh->present : (int64_t)((1ul << SH_NFIELDS) - 1);
	const char *v[SH_NFIELDS + 2];
	char nowbuf[24], maskbuf[24];
	PGresult *r;

	for (int i = 0; i < SH_NFIELDS; i++)
		v[i] = sh->f[i] ? sh->f[i] : "";
	snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
	snprintf(maskbuf, sizeof maskbuf, "%lld", (long long)mask);
	v[SH_NFIELDS] = nowbuf;
	v[SH_NFIELDS + 1] = maskbuf;
	if (!(r = q(st, ST_SH_PUT, SH_NFIELDS + 2, v, why)))
		return -1;
	PQclear(r);
	return put_custom(st, sh, why);
}

static int pg_sh_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	enum tx_mode mode;
	if (tx_enter(st, &mode, why) < 0)
		return -1;
	st->notify = 1;
	return tx_leave(st, mode, put_rows(st, sh, now, why) == 0, why);
}

static void read_stakeholder(const PGresult *r, int row, struct stakeholder *sh)
{
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh->f[i] = val_dup(r, row, i);
}

static void add_custom(struct stakeholder *sh, const PGresult *r, int row, int col)
{
	sh->custom = xreallocarray(sh->custom, sh->ncustom + 1, sizeof *sh->custom);
	sh->custom[sh->ncustom].key = val_dup(r, row, col);
	sh->custom[sh->ncustom].value = val_dup(r, row, col + 1);
	sh->ncustom++;
}

static int pg_sh_get(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN])
{
	const char *v[1] = {id};
	PGresult *r, *f;

	memset(out, 0, sizeof *out);
	if (!(r = q(st, ST_SH_GET, 1, v, why)))
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	read_stakeholder(r, 0, out);
	PQclear(r);
	if (!(f = q(st, ST_SHF_GET, 1, v, why))) {
		stakeholder_clear(out);
		return -1;
	}
	for (int i = 0; i < PQntuples(f); i++)
		add_custom(out, f, i, 0);
	PQclear(f);
	return 0;
}

static int pg_sh_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN])
{
	PGresult *r = NULL, *f = NULL;
	int own = !in_tx(st), rc = -1, j = 0;

	*out = NULL;
	*n = 0;
	/* One snapshot for both queries. */
	if (own && exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", why) < 0)
		return -1;
	if (!(r = qv(st, "SELECT " SH_COLS " FROM stakeholders ORDER BY id", 0, NULL, why)) ||
	    !(f = qv(st, "SELECT stakeholder_id, name, value FROM stakeholder_fields ORDER BY stakeholder_id, ord, name",
	             0, NULL, why)))
		goto out;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++)
		read_stakeholder(r, (int)i, &(*out)[i]);
	/* Both in id order (COLLATE "C", the order of strcmp): merge the custom fields in. */
	for (size_t i = 0; j < PQntuples(f);) {
		const char *id = PQgetvalue(f, j, 0);
		int c = i < *n ? strcmp((*out)[i].f[SH_ID], id) : 1;
		if (c < 0)
			i++;
		else if (c == 0)
			add_custom(&(*out)[i], f, j++, 1);
		else
			j++;
	}
	rc = 0;
out:
	PQclear(r);
	PQclear(f);
	if (own)
		pg_rollback(st);
	return rc;
}

static int pg_custom_columns(struct store_be *st, char ***out, size_t *n, char why[ERR_LEN])
{
	PGresult *r = qv(st, "SELECT DISTINCT name FROM stakeholder_fields ORDER BY name", 0, NULL, why);
	*out = NULL;
	*n = 0;
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = val_dup(r, (int)i, 0);
	PQclear(r);
	return 0;
}

/* ---- events ---- */

static int pg_ev_put(struct store_be *st, const struct event *ev, char why[ERR_LEN])
{
	const char *v[5] = {ev->stakeholder_id, ev->kind, ev->date, ev->title ? ev->title : "",
	                    ev->details ? ev->details : ""};
	PGresult *r = q(st, ST_EV_PUT, 5, v, why);
	int n;
	if (!r)
		return -1;
	n = changed_rows(r);
	PQclear(r);
	if (n == 0)
		return 1;
	wrote(st);
	return 0;
}

static int pg_ev_all(struct store_be *st, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN])
{
	const char *v[1] = {sh_id};
	PGresult *r = sh_id ? q(st, ST_EV_OF, 1, v, why)
	                    : qv(st, "SELECT stakeholder_id, kind, date, title, details FROM events "
	                             "ORDER BY stakeholder_id, date, kind, id", 0, NULL, why);
	*out = NULL;
	*n = 0;
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		struct event *e = &(*out)[i];
		e->stakeholder_id = val_dup(r, (int)i, 0);
		e->kind = val_dup(r, (int)i, 1);
		e->date = val_dup(r, (int)i, 2);
		e->title = val_dup(r, (int)i, 3);
		e->details = val_dup(r, (int)i, 4);
	}
	PQclear(r);
	return 0;
}

/* ---- dispatch records ---- */


void pgi_ds_mutable(struct ds_params *p, const struct dispatch_rec *r)
{
	int64_t nums[6] = {r->fire_at, r->attempts, r->page, r->cost_cents, r->next_attempt_at, r->data_sent ? 1 : 0};
	for (int i = 0; i < 6; i++)
		snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)nums[i]);
	p->v[0] = r->fire_date ? r->fire_date : "";
	p->v[1] = p->num[0];
	p->v[2] = channel_names[r->channel];
	p->v[3] = dispatch_status_names[r->status];
	p->v[4] = r->reason ? r->reason : "";
	p->v[5] = p->num[1];
	p->v[6] = r->error ? r->error : "";
	p->v[7] = r->artifact ? r->artifact : "";
	p->v[8] = p->num[2];
	p->v[9] = r->message_id ? r->message_id : "";
	p->v[10] = r->signer ? r->signer : "";
	p->v[11] = p->num[3];
	p->v[12] = r->template_name ? r->template_name : "";
	p->v[13] = p->num[4];
	p->v[14] = p->num[5];
	p->v[15] = r->last_reply ? r->last_reply : "";
}

static int pg_ds_claim(struct store_be *st, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	struct ds_params p;
	PGresult *r;
	pgi_ds_mutable(&p, rec);
	snprintf(p.num[6], sizeof p.num[6], "%lld", (long long)now);
	p.v[16] = rec->rule;
	p.v[17] = rec->stakeholder;
	p.v[18] = rec->occasion_date;
	p.v[19] = p.num[6];
	p.v[20] = rec->handled_by ? rec->handled_by : "";
	snprintf(p.num[7], sizeof p.num[7], "%lld", (long long)st->lease);
	p.v[21] = p.num[7];
	if (!(r = q(st, ST_DS_CLAIM, 22, p.v, why)))
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 1;
	}
	rec->id = val_int(r, 0, 0);
	PQclear(r);
	wrote(st);
	return 0;
}

static int pg_ds_update(struct store_be *st, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	struct ds_params p;
	PGresult *r;
	int n;
	pgi_ds_mutable(&p, rec);
	snprintf(p.num[6], sizeof p.num[6], "%lld", (long long)now);
	snprintf(p.num[7], sizeof p.num[7], "%lld", (long long)rec->id);
	p.v[16] = p.num[6];
	p.v[17] = p.num[7];
	if (!(r = q(st, ST_DS_UPDATE, 18, p.v, why)))
		return -1;
	n = changed_rows(r);
	PQclear(r);
	if (n != 1)
		return 1;
	wrote(st);
	return 0;
}

static int pg_ds_delete(struct store_be *st, int64_t id, char why[ERR_LEN])
{
	char num[24];
	const char *v[1] = {num};
	PGresult *r;
	snprintf(num, sizeof num, "%lld", (long long)id);
	if (!(r = q(st, ST_DS_DELETE, 1, v, why)))
		return -1;
	PQclear(r);
	wrote(st);
	return 0;
}

int pgi_read_dispatch(const PGresult *s, int row, struct dispatch_rec *r, char why[ERR_LEN])
{
	int ch = channel_parse(PQgetvalue(s, row, 6));
	int status = dispatch_status_parse(PQgetvalue(s, row, 7));

	memset(r, 0, sizeof *r);
	r->id = val_int(s, row, 0);
	if ((ch != CH_CARD && ch != CH_EMAIL) || status < 0)
		return err_set(why, "dispatch %lld has an unknown channel or status", (long long)r->id);
	r->rule = val_dup(s, row, 1);
	r->stakeholder = val_dup(s, row, 2);
	r->occasion_date = val_dup(s, row, 3);
	r->fire_date = val_dup(s, row, 4);
	r->fire_at = val_int(s, row, 5);
	r->channel = (enum channel)ch;
	r->status = (enum dispatch_status)status;
	r->reason = val_dup(s, row, 8);
	r->attempts = (int)val_int(s, row, 9);
	r->error = val_dup(s, row, 10);
	r->artifact = val_dup(s, row, 11);
	r->page = (int)val_int(s, row, 12);
	r->message_id = val_dup(s, row, 13);
	r->signer = val_dup(s, row, 14);
	r->cost_cents = val_int(s, row, 15);
	r->template_name = val_dup(s, row, 16);
	r->next_attempt_at = val_int(s, row, 17);
	r->data_sent = val_int(s, row, 18) != 0;
	r->last_reply = val_dup(s, row, 19);
	r->created_at = val_int(s, row, 20);
	r->updated_at = val_int(s, row, 21);
	r->handled_by = val_dup(s, row, 22);
	return 0;
}

int pgi_read_dispatches(PGresult *r, struct dispatch_rec **out, size_t *n, char why[ERR_LEN])
{
	int rc = 0;
	*out = xcalloc(PQntuples(r) ? (size_t)PQntuples(r) : 1, sizeof **out);
	*n = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		if ((rc = pgi_read_dispatch(r, i, &(*out)[*n], why)) == 0)
			(*n)++;
	PQclear(r);
	if (rc < 0) {
		dispatch_recs_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int pg_ds_get(struct store_be *st, int64_t id, struct dispatch_rec *out, char why[ERR_LEN])
{
	char num[24];
	const char *v[1] = {num};
	PGresult *r;
	int rc;

	memset(out, 0, sizeof *out);
	snprintf(num, sizeof num, "%lld", (long long)id);
	if (!(r = q(st, ST_DS_GET, 1, v, why)))
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	rc = pgi_read_dispatch(r, 0, out, why);
	PQclear(r);
	if (rc < 0)
		dispatch_rec_clear(out);
	return rc;
}

static int pg_ds_list(struct store_be *st, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
                      char why[ERR_LEN])
{
	/* Each filter in use adds its condition with the next parameter number. */
	static const char *const col[] = {NULL, "status", "rule", "stakeholder", "fire_date", "signer", "channel"};
	const char *vals[7] = {f->since_date, f->status, f->rule, f->stakeholder, f->fire_date, f->signer,
	                       f->channel >= 0 ? channel_names[f->channel] : NULL};
	const char *params[7];
	struct strbuf sql = {0};
	const char *sep = " WHERE ";
	PGresult *r;
	int np = 0;

	*out = NULL;
	*n = 0;
	sb_adds(&sql, "SELECT " DS_COLS " FROM dispatches");
	for (int i = 0; i < 7; i++) {
		if (!vals[i])
			continue;
		params[np++] = vals[i];
		sb_adds(&sql, sep);
		if (i == 0)
			sb_addf(&sql, "(occasion_date >= $%d OR fire_date >= $%d)", np, np);
		else
			sb_addf(&sql, "%s = $%d", col[i], np);
		sep = " AND ";
	}
	sb_adds(&sql, " ORDER BY fire_at, id");
	r = qv(st, sql.s, np, params, why);
	sb_free(&sql);
	if (!r)
		return -1;
	return pgi_read_dispatches(r, out, n, why);
}

static int pg_ds_next_retry(struct store_be *st, int64_t *at, char why[ERR_LEN])
{
	PGresult *r = qv(st, "SELECT min(next_attempt_at) FROM dispatches WHERE status = 'retry'", 0, NULL, why);
	*at = INT64_MAX;
	if (!r)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*at = val_int(r, 0, 0);
	PQclear(r);
	return 0;
}

/* ---- integrity, memory ---- */

/*
 * check: PostgreSQL looks after its own pages; what can be wrong on our side is an index
 * left invalid (a failed concurrent build) or a server that went read-only.
 */
static int pg_check(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r = qv(st, "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
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
 * pgi_reconnect: the main connection is gone (the server restarted, the network broke): a
 * new session with the same settings; prepared statements and session locks went with the old.
 */
int pgi_reconnect(struct store_be *st, char why[ERR_LEN])
{
	PGconn *c = connect_to(st->uri, st->name, why);
	if (!c)
		return -1;
	PQfinish(st->conn);
	st->conn = c;
	memset(st->prepared, 0, sizeof st->prepared);
	st->locked = 0;
	st->notify = 0;
	st->batch_locks = 0;
	st->idle_bound = 0;
	return pgi_session(st, why);
}

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

/* ---- the change watch: LISTEN on a connection of its own ---- */

/*
 * listen_start: (re)connects the watch's connection and puts its socket at st->watch, the
 * number handed out, which stays the same across reconnections. 0, or -1 with why.
 */
static int listen_start(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r;
	PQfinish(st->listen);
	if (!(st->listen = connect_to(st->uri, st->name, why)))
		return -1;
	r = PQexec(st->listen, "LISTEN " PG_CHANNEL);
	if (!ok(st->listen, r, why))
		goto fail;
	PQclear(r);
	if (PQsetnonblocking(st->listen, 1) != 0) {
		conn_err(st->listen, why);
		goto fail;
	}
	if (st->watch < 0)
		st->watch = fcntl(PQsocket(st->listen), F_DUPFD_CLOEXEC, 0);
	else if (dup3(PQsocket(st->listen), st->watch, O_CLOEXEC) < 0)
		st->watch = -1;
	if (st->watch < 0) {
		err_set(why, "cannot watch for changes: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	PQfinish(st->listen);
	st->listen = NULL;
	return -1;
}

static int pg_watch_fd(struct store_be *st, char why[ERR_LEN])
{
	if (st->watch >= 0)
		return st->watch;
	return listen_start(st, why) < 0 ? -1 : st->watch;
}

/* drain: reads the notifications that arrived; 1 when one came from another session, -1 when the watch is lost. */
static int drain(struct store_be *st)
{
	PGnotify *n;
	int foreign = 0, me = PQbackendPID(st->conn);
	if (!st->listen)
		return -1;   /* lost earlier, and not back yet */
	if (!PQconsumeInput(st->listen) || PQstatus(st->listen) != CONNECTION_OK)
		return -1;
	while ((n = PQnotifies(st->listen))) {
		if (n->be_pid != me)
			foreign = 1;
		PQfreemem(n);
	}
	return foreign;
}

/*
 * watch_lost: the listen connection broke (the server restarted, the network went). The
 * handed-out descriptor then holds a pipe that stays quiet (a dead socket would spin the
 * daemon's poll) until a new connection takes its place: 0 when one did, -1.
 */
static int watch_lost(struct store_be *st)
{
	char why[ERR_LEN];
	PQfinish(st->listen);
	st->listen = NULL;
	if (st->quiet[0] < 0 && pipe2(st->quiet, O_CLOEXEC) != 0)
		return -1;
	dup3(st->quiet[0], st->watch, O_CLOEXEC);
	return listen_start(st, why);
}

void pgi_watch_restart(struct store_be *st)
{
	if (st->watch >= 0 && drain(st) < 0)
		watch_lost(st);
}

static void pg_watch_mark(struct store_be *st)
{
	if (st->watch >= 0 && drain(st) < 0)
		watch_lost(st);
	st->seen = 0;
}

static int pg_changed(struct store_be *st)
{
	int rc;
	if (st->watch < 0)
		return 0;
	rc = drain(st);
	/*
	 * The watch lost: commits may have gone unheard, so a pass (1) once it is back; until
	 * then 2, which makes the daemon ask again a moment later.
	 */
	if (rc < 0)
		return watch_lost(st) == 0 ? 1 : 2;
	if (rc > 0)
		st->seen = 1;
	return st->seen;
}

/* ---- the stakeholders one at a time ---- */

/* A cursor read PG_FETCH rows at a time. */
struct cursor {
	const char *name;
	PGresult *r;
	PGresult *next;      /* the batch after r, fetched ahead (the stakeholders' cursor) */
	int has_next;
	int row, nrows;
	int state;           /* 0 not started, 1 a row is pending, 2 at the end */
};

struct store_be_scan {
	PGconn *conn;        /* its own connection: one snapshot, whatever the main one does meanwhile */
	struct cursor sh, custom, ev, hist;
	struct cursor *ahead;   /* the cursor whose next batch is on its way, or NULL */
	int col[SH_NFIELDS];
	struct store_sh_row row;
	struct strbuf text;
	size_t cap_custom, cap_ev, cap_hist;
};

/* collect: the batch fetched ahead, into its cursor's next; the connection is free after. */
static void collect(struct store_be_scan *sc)
{
	PGresult *r, *last = NULL;
	if (!sc->ahead)
		return;
	while ((r = PQgetResult(sc->conn))) {
		PQclear(last);
		last = r;
	}
	sc->ahead->next = last;
	sc->ahead->has_next = 1;
	sc->ahead = NULL;
}

/*
 * cur_step: moves to the next row: 1, 0 at the end, -1 with why. The stakeholders' cursor
 * asks for its next batch before its rows are used, so the server produces it while the
 * planner works: the two take turns otherwise.
 */
static int cur_step(struct store_be_scan *sc, struct cursor *c, char why[ERR_LEN])
{
	char sql[64];
	if (c->state == 2)
		return 0;
	if (c->state == 1 && ++c->row < c->nrows)
		return 1;
	if (c->state == 1 && c->nrows < PG_FETCH) {
		c->state = 2;
		return 0;
	}
	snprintf(sql, sizeof sql, "FETCH %d FROM %s", PG_FETCH, c->name);
	PQclear(c->r);
	collect(sc);
	if (c->has_next) {
		c->r = c->next;
		c->next = NULL;
		c->has_next = 0;
	} else {
		c->r = PQexec(sc->conn, sql);
	}
	if (!ok(sc->conn, c->r, why)) {
		c->r = NULL;
		c->state = 2;
		return -1;
	}
	c->row = 0;
	c->nrows = PQntuples(c->r);
	c->state = c->nrows > 0 ? 1 : 2;
	/* A failed send is left to the next batch's own FETCH, which then says why. */
	if (c == &sc->sh && c->nrows == PG_FETCH && PQsendQuery(sc->conn, sql))
		sc->ahead = c;
	return c->state == 1;
}

static const char *cur_val(const struct cursor *c, int col)
{
	return PQgetvalue(c->r, c->row, col);
}

/* cur_seek: skips the rows of ids before id: 1 when the pending row is id's, 0 not, -1. */
static int cur_seek(struct store_be_scan *sc, struct cursor *c, const char *id, char why[ERR_LEN])
{
	int rc;
	if (!c->name || c->state == 2)
		return 0;
	if (c->state == 0 && (rc = cur_step(sc, c, why)) <= 0)
		return rc;
	for (;;) {
		int cmp = strcmp(cur_val(c, 0), id);
		if (cmp >= 0)
			return cmp == 0;
		if ((rc = cur_step(sc, c, why)) <= 0)
			return rc;
	}
}

static char *text_add(struct store_be_scan *sc, const struct cursor *c, int col)
{
	size_t off = sc->text.len;
	sb_addn(&sc->text, cur_val(c, col), (size_t)PQgetlength(c->r, c->row, col));
	sb_addc(&sc->text, '\0');
	return (char *)(uintptr_t)off;
}

static char *text_ptr(struct store_be_scan *sc, char *off)
{
	return sc->text.s + (uintptr_t)off;
}

static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 32;
	return xreallocarray(v, *cap, size);
}

static void pg_scan_close(struct store_be_scan *sc)
{
	if (!sc)
		return;
	collect(sc);
	PQclear(sc->sh.r);
	PQclear(sc->sh.next);
	PQclear(sc->custom.r);
	PQclear(sc->ev.r);
	PQclear(sc->hist.r);
	PQfinish(sc->conn);   /* the read transaction and its cursors end with it */
	free(sc->row.sh.custom);
	free(sc->row.ev);
	free(sc->row.hist);
	sb_free(&sc->text);
	free(sc);
}

static int declare(struct store_be_scan *sc, struct cursor *c, const char *name, const char *sql, char why[ERR_LEN])
{
	char *full = xasprintf("DECLARE %s NO SCROLL CURSOR FOR %s", name, sql);
	PGresult *r = PQexec(sc->conn, full);
	free(full);
	if (!ok(sc->conn, r, why))
		return -1;
	PQclear(r);
	c->name = name;
	return 0;
}

static int pg_scan_open(struct store_be *st, uint32_t fields, int custom, int events, int quick,
                        struct store_be_scan **out, char why[ERR_LEN])
{
	struct store_be_scan *sc = xcalloc(1, sizeof *sc);
	struct strbuf sql = {0};
	PGresult *r;
	int ncol = 0;

	*out = NULL;
	if (!(sc->conn = connect_to(st->uri, st->name, why)))
		goto fail;
	r = PQexec(sc->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (!ok(sc->conn, r, why))
		goto fail;
	PQclear(r);
	fields |= 1u << SH_ID;
	sb_adds(&sql, "SELECT ");
	for (int i = 0; i < SH_NFIELDS; i++) {
		sc->col[i] = -1;
		if (fields & (1u << i)) {
			sb_addf(&sql, "%s%s", ncol ? ", " : "", sh_field_names[i]);
			sc->col[i] = ncol++;
		}
	}
	/*
	 * quick: the table's own order, which a table filled by one sorted import keeps, saves
	 * the index (the front checks the order and asks again without quick when it is not).
	 */
	sb_adds(&sql, quick ? " FROM stakeholders" : " FROM stakeholders ORDER BY id");
	if (declare(sc, &sc->sh, "occ_sh", sql.s, why) < 0 ||
	    (custom && declare(sc, &sc->custom, "occ_custom", "SELECT stakeholder_id, name, value FROM stakeholder_fields "
	                       "ORDER BY stakeholder_id, name", why) < 0) ||
	    (events && declare(sc, &sc->ev, "occ_ev", "SELECT stakeholder_id, kind, date FROM events "
	                       "ORDER BY stakeholder_id, kind, date", why) < 0) ||
	    declare(sc, &sc->hist, "occ_hist", "SELECT stakeholder, rule, occasion_date, fire_date, status, cost_cents, "
	            "fire_at, id FROM dispatches ORDER BY stakeholder", why) < 0)
		goto fail;
	for (int i = 0; i < SH_NFIELDS; i++)
		sc->row.sh.f[i] = "";
	sb_free(&sql);
	*out = sc;
	return 0;
fail:
	sb_free(&sql);
	pg_scan_close(sc);
	return -1;
}

static int read_sides(struct store_be_scan *sc, char *id, char why[ERR_LEN])
{
	struct store_sh_row *r = &sc->row;
	int rc;

	sb_reset(&sc->text);
	r->sh.ncustom = r->nev = r->nhist = 0;
	while ((rc = cur_seek(sc, &sc->custom, id, why)) == 1) {
		r->sh.custom = grow(r->sh.custom, r->sh.ncustom, &sc->cap_custom, sizeof *r->sh.custom);
		r->sh.custom[r->sh.ncustom].key = text_add(sc, &sc->custom, 1);
		r->sh.custom[r->sh.ncustom++].value = text_add(sc, &sc->custom, 2);
		if (cur_step(sc, &sc->custom, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = cur_seek(sc, &sc->ev, id, why)) == 1) {
		struct event *e;
		r->ev = grow(r->ev, r->nev, &sc->cap_ev, sizeof *r->ev);
		e = &r->ev[r->nev++];
		e->stakeholder_id = id;
		e->kind = text_add(sc, &sc->ev, 1);
		e->date = text_add(sc, &sc->ev, 2);
		e->title = e->details = "";
		if (cur_step(sc, &sc->ev, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = cur_seek(sc, &sc->hist, id, why)) == 1) {
		struct dispatch_rec *h;
		int k = dispatch_status_parse(cur_val(&sc->hist, 4));
		r->hist = grow(r->hist, r->nhist, &sc->cap_hist, sizeof *r->hist);
		h = &r->hist[r->nhist++];
		memset(h, 0, sizeof *h);
		h->stakeholder = id;
		h->rule = text_add(sc, &sc->hist, 1);
		h->occasion_date = text_add(sc, &sc->hist, 2);
		h->fire_date = text_add(sc, &sc->hist, 3);
		h->status = k < 0 ? DS_SKIPPED : (enum dispatch_status)k;
		h->cost_cents = strtoll(cur_val(&sc->hist, 5), NULL, 10);
		h->fire_at = strtoll(cur_val(&sc->hist, 6), NULL, 10);
		h->id = strtoll(cur_val(&sc->hist, 7), NULL, 10);
		if (cur_step(sc, &sc->hist, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	for (size_t i = 0; i < r->sh.ncustom; i++) {
		r->sh.custom[i].key = text_ptr(sc, r->sh.custom[i].key);
		r->sh.custom[i].value = text_ptr(sc, r->sh.custom[i].value);
	}
	for (size_t i = 0; i < r->nev; i++) {
		r->ev[i].kind = text_ptr(sc, r->ev[i].kind);
		r->ev[i].date = text_ptr(sc, r->ev[i].date);
	}
	for (size_t i = 0; i < r->nhist; i++) {
		r->hist[i].rule = text_ptr(sc, r->hist[i].rule);
		r->hist[i].occasion_date = text_ptr(sc, r->hist[i].occasion_date);
		r->hist[i].fire_date = text_ptr(sc, r->hist[i].fire_date);
	}
	return 0;
}

static int pg_scan_next(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN])
{
	int rc = cur_step(sc, &sc->sh, why);
	*row = NULL;
	if (rc <= 0)
		return rc;
	for (int i = 0; i < SH_NFIELDS; i++)
		if (sc->col[i] >= 0)
			sc->row.sh.f[i] = (char *)cur_val(&sc->sh, sc->col[i]);
	if (read_sides(sc, sc->row.sh.f[SH_ID], why) < 0)
		return -1;
	*row = &sc->row;
	return 1;
}

/* ---- bulk import ---- */

#define BLOOM_BITS (1u << 23)   /* 1 MiB: about 1% false "maybe" at 1,000,000 ids, never a false "new" */

static int pg_import_begin(struct store_be *st, int per_row, int dry, char why[ERR_LEN])
{
	(void)dry;   /* PostgreSQL's writers never block readers: a dry run needs no care of its own */
	if (pg_begin(st, why) < 0)
		return -1;
	if (exec(st, "CREATE TEMP TABLE IF NOT EXISTS import_ids(id text COLLATE \"C\" PRIMARY KEY, "
	             "line bigint NOT NULL); DELETE FROM pg_temp.import_ids", why) < 0) {
		pg_rollback(st);
		return -1;
	}
	free(st->bloom);
	st->bloom = xcalloc(BLOOM_BITS / 8, 1);
	st->importing = per_row ? 2 : 1;
	return 0;
}

/* bloom_test_set: sets id's bits; 1 when they were all set already (id may have been seen). */
static int bloom_test_set(unsigned char *bloom, const char *id)
{
	uint64_t h = 1469598103934665603ull, h2;
	int all = 1;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h2 = (h >> 29 | h << 35) * 0x9e3779b97f4a7c15ull | 1;
	for (int k = 0; k < 4; k++) {
		uint32_t bit = (uint32_t)((h + (uint64_t)k * h2) >> 20) & (BLOOM_BITS - 1);
		if (!(bloom[bit >> 3] & (1u << (bit & 7))))
			all = 0;
		bloom[bit >> 3] |= (unsigned char)(1u << (bit & 7));
	}
	return all;
}

static void arr_add(struct strbuf *sb, const char *v);

/* flush_seen: the new ids kept back go to import_ids. */
static int flush_seen(struct store_be *st, char why[ERR_LEN])
{
	const char *v[2];
	PGresult *r;
	if (!st->nseen)
		return 0;
	sb_addc(&st->seen_ids, '}');
	sb_addc(&st->seen_lines, '}');
	v[0] = st->seen_ids.s;
	v[1] = st->seen_lines.s;
	r = q(st, ST_IMP_SEEN_BULK, 2, v, why);
	sb_reset(&st->seen_ids);
	sb_reset(&st->seen_lines);
	st->nseen = 0;
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

static int pg_import_seen(struct store_be *st, const char *id, long line, long *first_line, char why[ERR_LEN])
{
	char num[24];
	const char *v[2] = {id, num};
	PGresult *r;
	int n;

	*first_line = 0;
	snprintf(num, sizeof num, "%ld", line);
	if (!bloom_test_set(st->bloom, id)) {
		arr_add(&st->seen_ids, id);
		arr_add(&st->seen_lines, num);
		return ++st->nseen >= IMPORT_BATCH ? flush_seen(st, why) : 0;
	}
	/* Maybe seen: the table answers, once it has every id so far. */
	if (flush_seen(st, why) < 0 || !(r = q(st, ST_IMP_SEEN, 2, v, why)))
		return -1;
	n = changed_rows(r);
	PQclear(r);
	if (n > 0)
		return 0;
	if (!(r = q(st, ST_IMP_LINE, 1, v, why)))
		return -1;
	*first_line = PQntuples(r) == 1 ? (long)val_int(r, 0, 0) : -1;
	PQclear(r);
	return 0;
}

/* arr_add: v as one element of the array literal being built in sb. */
static void arr_add(struct strbuf *sb, const char *v)
{
	sb_adds(sb, sb->len ? ",\"" : "{\"");
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_addc(sb, '\\');
		sb_addc(sb, *p);
	}
	sb_addc(sb, '"');
}

static void batch_reset(struct batch *bt)
{
	for (int i = 0; i < SH_NFIELDS; i++)
		sb_reset(&bt->col[i]);
	for (int i = 0; i < 4; i++)
		sb_reset(&bt->custom[i]);
	bt->n = bt->ncustom = 0;
}

static void batch_free(struct batch *bt)
{
	for (int i = 0; i < SH_NFIELDS; i++)
		sb_free(&bt->col[i]);
	for (int i = 0; i < 4; i++)
		sb_free(&bt->custom[i]);
	bt->n = bt->ncustom = 0;
}

/* flush: the batched stakeholders in two statements (their rows, then their custom fields). */
static int flush(struct store_be *st, char why[ERR_LEN])
{
	struct batch *bt = &st->batch;
	const char *v[SH_NFIELDS + 2];
	char nowbuf[24], maskbuf[24];
	PGresult *r;
	int rc = -1;

	if (!bt->n)
		return 0;
	for (int i = 0; i < SH_NFIELDS; i++) {
		sb_addc(&bt->col[i], '}');
		v[i] = bt->col[i].s;
	}
	snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)bt->now);
	snprintf(maskbuf, sizeof maskbuf, "%lld", (long long)bt->mask);
	v[SH_NFIELDS] = nowbuf;
	v[SH_NFIELDS + 1] = maskbuf;
	if (!(r = q(st, ST_IMP_BULK, SH_NFIELDS + 2, v, why)))
		goto out;
	PQclear(r);
	if (bt->ncustom) {
		for (int i = 0; i < 4; i++) {
			sb_addc(&bt->custom[i], '}');
			v[i] = bt->custom[i].s;
		}
		if (!(r = q(st, ST_IMP_BULK_F, 4, v, why)))
			goto out;
		PQclear(r);
	}
	rc = 0;
out:
	batch_reset(bt);
	return rc;
}


static int batch_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	struct batch *bt = &st->batch;
	char ord[24];
	if (bt->n && (bt->mask != sh->present || bt->now != now) && flush(st, why) < 0)
		return -1;
	bt->mask = sh->present;
	bt->now = now;
	for (int i = 0; i < SH_NFIELDS; i++)
		arr_add(&bt->col[i], sh->f[i]);
	for (size_t i = 0; i < sh->ncustom; i++) {
		snprintf(ord, sizeof ord, "%zu", i);
		arr_add(&bt->custom[0], sh->f[SH_ID]);
		arr_add(&bt->custom[1], sh->custom[i].key);
		arr_add(&bt->custom[2], sh->custom[i].value);
		arr_add(&bt->custom[3], ord);
		bt->ncustom++;
	}
	return ++bt->n >= IMPORT_BATCH ? flush(st, why) : 0;
}

static int pg_import_put(struct store_be *st, const struct stakeholder *sh, const struct event *ev, int64_t now,
                         char why[ERR_LEN])
{
	int rc;
	/*
	 * All or nothing: stakeholders that replace only the columns the file has are batched
	 * (a failure fails the whole import anyway), and need no savepoint. With skip_invalid
	 * each row is written alone, and a failed one undone alone.
	 */
	if (st->importing == 1 && sh && sh->present)
		return batch_put(st, sh, now, why);
	/* Before a row's savepoint: its undoing must not take the ids seen with it. */
	if (flush_seen(st, why) < 0 || flush(st, why) < 0)
		return -1;
	if (st->importing == 2 && exec(st, "SAVEPOINT import_row", why) < 0)
		return -1;
	rc = sh ? put_rows(st, sh, now, why) : pg_ev_put(st, ev, why);
	if (st->importing == 2) {
		char why2[ERR_LEN];
		if (rc != 0)
			exec(st, "ROLLBACK TO import_row", why2);
		if (exec(st, "RELEASE import_row", rc == 0 ? why : why2) < 0 && rc == 0)
			return -1;
	}
	return rc;
}

static void seen_free(struct store_be *st)
{
	free(st->bloom);
	st->bloom = NULL;
	sb_free(&st->seen_ids);
	sb_free(&st->seen_lines);
	st->nseen = 0;
}

static int pg_import_end(struct store_be *st, int commit, char why[ERR_LEN])
{
	int rc = commit ? flush(st, why) : 0;
	batch_free(&st->batch);
	seen_free(st);
	st->importing = 0;
	if (!commit || rc < 0) {
		pg_rollback(st);
		return rc;
	}
	st->notify = 1;
	return pg_commit(st, why);
}

/* ---- opt-out ---- */

static int pg_optout(struct store_be *st, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN])
{
	char num[24];
	const char *v[2] = {key, num};
	PGresult *r;

	*ids = NULL;
	*n = 0;
	snprintf(num, sizeof num, "%lld", (long long)now);
	r = qv(st, "UPDATE stakeholders SET opted_out = '1', updated_at = $2::bigint "
	           "WHERE id = $1::text OR (strpos($1::text, '@') > 0 AND lower(email) = lower($1::text)) RETURNING id",
	       2, v, why);
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*ids = xcalloc(*n ? *n : 1, sizeof **ids);
	for (size_t i = 0; i < *n; i++)
		(*ids)[i] = val_dup(r, (int)i, 0);
	PQclear(r);
	if (*n)
		wrote(st);
	return 0;
}

/* ---- for store_pg_claim.c ---- */

PGresult *pgi_qv(struct store_be *st, const char *sql, int n, const char *const *vals, char why[ERR_LEN])
{
	return qv(st, sql, n, vals, why);
}

int pgi_exec(struct store_be *st, const char *sql, char why[ERR_LEN])
{
	return exec(st, sql, why);
}

void pgi_wrote(struct store_be *st)
{
	wrote(st);
}

int pgi_in_tx(const struct store_be *st)
{
	return in_tx(st);
}

const struct store_backend store_backend_pg = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.sh_put = pg_sh_put,
	.sh_get = pg_sh_get,
	.sh_all = pg_sh_all,
	.custom_columns = pg_custom_columns,
	.ev_put = pg_ev_put,
	.ev_all = pg_ev_all,
	.ds_claim = pg_ds_claim,
	.ds_update = pg_ds_update,
	.ds_delete = pg_ds_delete,
	.ds_get = pg_ds_get,
	.ds_list = pg_ds_list,
	.ds_next_retry = pg_ds_next_retry,
	.scan_open = pg_scan_open,
	.scan_next = pg_scan_next,
	.scan_close = pg_scan_close,
	.check = pg_check,
	.trim = pg_trim,
	.lock_try = pg_lock_try,
	.unlock = pg_unlock,
	.watch_fd = pg_watch_fd,
	.watch_mark = pg_watch_mark,
	.changed = pg_changed,
	.optout = pg_optout,
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
	.import_begin = pg_import_begin,
	.import_seen = pg_import_seen,
	.import_put = pg_import_put,
	.import_end = pg_import_end,
};
