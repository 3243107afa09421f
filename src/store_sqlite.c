/*
 * store_sqlite: the SQLite backend of the store (src/store_backend.h); the only file that
 * includes sqlite3.h. A file path in `database:`.
 *
 * Schema changes are migration steps indexed by version; each runs in its own write
 * transaction together with the PRAGMA user_version bump, so a crash leaves either the old
 * or the new schema. Statements are prepared once and cached; every text goes through
 * sqlite3_bind_text with its length, never into SQL text.
 */
#include "store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define STORE_APP_ID 0x4f434344   /* "OCCD" in PRAGMA application_id: our files, not someone else's */
/*
 * How long a statement waits for another process's lock (an import, a backup, sqlite3 held
 * open in a shell) before it gives up: long enough that a busy minute delays a pass instead of
 * failing it.
 */
#define STORE_BUSY_MS 60000

/* Adding a standard field or a status needs a migration step (and a look at the SQL below). */
_Static_assert(SH_NFIELDS == 24, "stakeholders table has 24 standard columns");
_Static_assert(DS__N == 11, "dispatches.status CHECK lists 11 statuses");

/* ---- schema ---- */

static const char schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
	"CREATE TABLE stakeholders(id TEXT PRIMARY KEY NOT NULL,\n"
	"  first_name TEXT NOT NULL DEFAULT '', last_name TEXT NOT NULL DEFAULT '', nickname TEXT NOT NULL DEFAULT '',\n"
	"  organization TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', type TEXT NOT NULL DEFAULT '',\n"
	"  tier TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '', preferred_channel TEXT NOT NULL DEFAULT '',\n"
	"  owner TEXT NOT NULL DEFAULT '', owner_email TEXT NOT NULL DEFAULT '', timezone TEXT NOT NULL DEFAULT '',\n"
	"  street TEXT NOT NULL DEFAULT '', city TEXT NOT NULL DEFAULT '', region TEXT NOT NULL DEFAULT '',\n"
	"  postal_code TEXT NOT NULL DEFAULT '', country TEXT NOT NULL DEFAULT '', birthday TEXT NOT NULL DEFAULT '',\n"
	"  hire_date TEXT NOT NULL DEFAULT '', customer_since TEXT NOT NULL DEFAULT '',\n"
	"  contract_renewal TEXT NOT NULL DEFAULT '', consent_personal TEXT NOT NULL DEFAULT '',\n"
	"  opted_out TEXT NOT NULL DEFAULT '', updated_at INTEGER NOT NULL DEFAULT 0);\n"
	"CREATE TABLE stakeholder_fields(\n"
	"  stakeholder_id TEXT NOT NULL REFERENCES stakeholders(id) ON DELETE CASCADE,\n"
	"  name TEXT NOT NULL, value TEXT NOT NULL, ord INTEGER NOT NULL,\n"
	"  PRIMARY KEY(stakeholder_id, name)) WITHOUT ROWID;\n"
	"CREATE TABLE events(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  stakeholder_id TEXT NOT NULL REFERENCES stakeholders(id) ON DELETE CASCADE,\n"
	"  kind TEXT NOT NULL, date TEXT NOT NULL,\n"
	"  title TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '',\n"
	"  UNIQUE(stakeholder_id, kind, date));\n"
	/* No foreign key to stakeholders: the dispatch history outlives a deleted stakeholder. */
	"CREATE TABLE dispatches(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  rule TEXT NOT NULL CHECK(rule <> ''), stakeholder TEXT NOT NULL CHECK(stakeholder <> ''),\n"
	"  occasion_date TEXT NOT NULL CHECK(occasion_date <> ''), fire_date TEXT NOT NULL,\n"
	"  fire_at INTEGER NOT NULL,\n"
	"  channel TEXT NOT NULL CHECK(channel IN ('card', 'email')),\n"
	"  status TEXT NOT NULL CHECK(status IN ('queued', 'rendered', 'printed', 'signed', 'mailed',\n"
	"    'cancelled', 'sent', 'retry', 'unknown', 'failed', 'skipped')),\n"
	"  reason TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,\n"
	"  error TEXT NOT NULL DEFAULT '', artifact TEXT NOT NULL DEFAULT '',\n"
	"  page INTEGER NOT NULL DEFAULT 0, message_id TEXT NOT NULL DEFAULT '',\n"
	"  signer TEXT NOT NULL DEFAULT '', cost_cents INTEGER NOT NULL DEFAULT 0,\n"
	"  template TEXT NOT NULL DEFAULT '', next_attempt_at INTEGER NOT NULL DEFAULT 0,\n"
	"  data_sent INTEGER NOT NULL DEFAULT 0, last_reply TEXT NOT NULL DEFAULT '',\n"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,\n"
	"  UNIQUE(rule, stakeholder, occasion_date));\n"
	"CREATE INDEX dispatches_status ON dispatches(status);\n"
	"CREATE INDEX dispatches_fire_signer ON dispatches(fire_date, signer);\n"
	"CREATE INDEX dispatches_stakeholder ON dispatches(stakeholder);\n";

/* 2: the claim's owner (HOST:PID), which `log` shows; SQLite needs no lease (one machine). */
static const char schema_v2[] =
	"ALTER TABLE dispatches ADD COLUMN handled_by TEXT NOT NULL DEFAULT '';\n";

static int init_meta_v1(struct store_be *st, char err[ERR_LEN]);

/* migrations[v] takes a database from version v-1 to v. */
static const struct migration {
	const char *sql;
	int (*after)(struct store_be *st, char err[ERR_LEN]);
} migrations[STORE_SCHEMA_VERSION + 1] = {
	[1] = {schema_v1, init_meta_v1},
	[2] = {schema_v2, NULL},
};

/* ---- statements ---- */

enum stmt_id {
	ST_META_GET, ST_META_PUT,
	ST_SH_PUT, ST_SH_GET, ST_SH_ALL, ST_SHF_DEL, ST_SHF_PUT, ST_SHF_GET, ST_SHF_ALL, ST_SHF_NAMES,
	ST_EV_PUT, ST_EV_ALL, ST_EV_OF,
	ST_DS_CLAIM, ST_DS_UPDATE, ST_DS_DELETE, ST_DS_GET,
	ST_IMP_SEEN, ST_IMP_LINE, ST_IMP_SAVE, ST_IMP_RELEASE, ST_IMP_UNDO,
	ST__N
};

#define DS_COLS "id, rule, stakeholder, occasion_date, fire_date, fire_at, channel, status, reason, " \
	"attempts, error, artifact, page, message_id, signer, cost_cents, template, next_attempt_at, " \
	"data_sent, last_reply, created_at, updated_at, handled_by"
/* The fields store_update_dispatch writes, bound as ?1..?16 (see bind_mutable). */
#define DS_MUTABLE "fire_date, fire_at, channel, status, reason, attempts, error, artifact, page, " \
	"message_id, signer, cost_cents, template, next_attempt_at, data_sent, last_reply"
#define DS_NMUTABLE 16

static const char *const fixed_sql[ST__N] = {
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
	                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_SHF_DEL] = "DELETE FROM stakeholder_fields WHERE stakeholder_id = ?1",
	[ST_SHF_PUT] = "INSERT INTO stakeholder_fields(stakeholder_id, name, value, ord) VALUES(?1, ?2, ?3, ?4) "
	               "ON CONFLICT(stakeholder_id, name) DO UPDATE SET value = excluded.value, ord = excluded.ord",
	[ST_SHF_GET] = "SELECT name, value FROM stakeholder_fields WHERE stakeholder_id = ?1 ORDER BY ord, name",
	[ST_SHF_ALL] = "SELECT stakeholder_id, name, value FROM stakeholder_fields ORDER BY stakeholder_id, ord, name",
	[ST_SHF_NAMES] = "SELECT DISTINCT name FROM stakeholder_fields ORDER BY name",
	[ST_EV_PUT] = "INSERT INTO events(stakeholder_id, kind, date, title, details) VALUES(?1, ?2, ?3, ?4, ?5) "
	              "ON CONFLICT(stakeholder_id, kind, date) DO UPDATE SET title = excluded.title, "
	              "details = excluded.details",
	[ST_EV_ALL] = "SELECT stakeholder_id, kind, date, title, details FROM events ORDER BY stakeholder_id, date, kind, id",
	[ST_EV_OF] = "SELECT stakeholder_id, kind, date, title, details FROM events WHERE stakeholder_id = ?1 "
	             "ORDER BY date, kind, id",
	[ST_DS_CLAIM] = "INSERT INTO dispatches(" DS_MUTABLE ", rule, stakeholder, occasion_date, created_at, updated_at, "
	                "handled_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
	                "?17, ?18, ?19, ?20, ?20, ?21) ON CONFLICT(rule, stakeholder, occasion_date) DO NOTHING",
	[ST_DS_UPDATE] = "UPDATE dispatches SET fire_date = ?1, fire_at = ?2, channel = ?3, status = ?4, reason = ?5, "
	                 "attempts = ?6, error = ?7, artifact = ?8, page = ?9, message_id = ?10, signer = ?11, "
	                 "cost_cents = ?12, template = ?13, next_attempt_at = ?14, data_sent = ?15, "
	                 "last_reply = ?16, updated_at = ?17 WHERE id = ?18",
	[ST_DS_DELETE] = "DELETE FROM dispatches WHERE id = ?1",
	[ST_DS_GET] = "SELECT " DS_COLS " FROM dispatches WHERE id = ?1",
	/* The ids one import has written so far (temp.import_ids exists while it runs). */
	[ST_IMP_SEEN] = "INSERT INTO temp.import_ids(id, line) VALUES(?1, ?2) ON CONFLICT(id) DO NOTHING",
	[ST_IMP_LINE] = "SELECT line FROM temp.import_ids WHERE id = ?1",
	[ST_IMP_SAVE] = "SAVEPOINT import_row",
	[ST_IMP_RELEASE] = "RELEASE import_row",
	[ST_IMP_UNDO] = "ROLLBACK TO import_row",
};

/* The filters of store_list_dispatches, one bit each; a statement is cached per combination. */
enum { F_SINCE, F_STATUS, F_RULE, F_STAKEHOLDER, F_FIRE_DATE, F_SIGNER, F_CHANNEL, F__N };
static const char *const filter_sql[F__N] = {
	"(occasion_date >= ?1 OR fire_date >= ?1)", "status = ?2", "rule = ?3", "stakeholder = ?4",
	"fire_date = ?5", "signer = ?6", "channel = ?7",
};

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
};

static const char *db_msg(const struct store_be *st)
{
	return sqlite3_errmsg(st->db);
}

/* stakeholder_sql: the statements over the standard columns, built from sh_field_names. */
static char *stakeholder_sql(enum stmt_id id)
{
	struct strbuf sb = {0};
	int i;
	if (id == ST_SH_PUT) {
		/*
		 * ?1..?24 the fields, ?25 updated_at, ?26 the mask of columns to write on update:
		 * a partial CSV leaves the stored values of its absent columns alone.
		 */
		sb_adds(&sb, "INSERT INTO stakeholders(");
		for (i = 0; i < SH_NFIELDS; i++)
			sb_addf(&sb, "%s, ", sh_field_names[i]);
		sb_adds(&sb, "updated_at) VALUES(");
		for (i = 1; i <= SH_NFIELDS + 1; i++)
			sb_addf(&sb, "?%d%s", i, i <= SH_NFIELDS ? ", " : ")");
		sb_adds(&sb, " ON CONFLICT(id) DO UPDATE SET ");
		for (i = 1; i < SH_NFIELDS; i++)
			sb_addf(&sb, "%s = CASE WHEN ?%d & %lu THEN excluded.%s ELSE %s END, ", sh_field_names[i],
			        SH_NFIELDS + 2, 1ul << i, sh_field_names[i], sh_field_names[i]);
		sb_adds(&sb, "updated_at = excluded.updated_at");
	} else {
		sb_adds(&sb, "SELECT ");
		for (i = 0; i < SH_NFIELDS; i++)
			sb_addf(&sb, "%s%s", sh_field_names[i], i + 1 < SH_NFIELDS ? ", " : "");
		sb_adds(&sb, id == ST_SH_GET ? " FROM stakeholders WHERE id = ?1" : " FROM stakeholders ORDER BY id");
	}
	return sb_detach(&sb);
}

static int prepare(struct store_be *st, const char *sql, sqlite3_stmt **out, char why[ERR_LEN])
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return err_set(why, "cannot prepare a statement: %s", db_msg(st));
	return 0;
}

/* stmt: the cached statement id, prepared on first use; NULL with the reason in why. */
static sqlite3_stmt *stmt(struct store_be *st, enum stmt_id id, char why[ERR_LEN])
{
	if (!st->stmts[id]) {
		char *built = NULL;
		const char *sql = fixed_sql[id];
		int rc;
		if (!sql)
			sql = built = stakeholder_sql(id);
		rc = prepare(st, sql, &st->stmts[id], why);
		free(built);
		if (rc < 0)
			return NULL;
	}
	return st->stmts[id];
}

/* stmt_done: makes a statement ready for its next use (and releases its read snapshot). */
static void stmt_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/*
 * A binder keeps the first failure, so a run of binds is checked once, by run() or
 * next_row(). Every helper below puts only the reason into why; the public functions
 * make the message ("store: cannot WHAT: why").
 */
struct binder {
	sqlite3_stmt *s;
	int rc;
};

static struct binder bind_to(sqlite3_stmt *s)
{
	return (struct binder){s, SQLITE_OK};
}

static void b_text(struct binder *b, int i, const char *v)
{
	size_t n;
	if (b->rc != SQLITE_OK)
		return;
	if (!v)
		v = "";
	n = strlen(v);
	b->rc = n > INT_MAX ? SQLITE_TOOBIG : sqlite3_bind_text(b->s, i, v, (int)n, SQLITE_STATIC);
}

static void b_int(struct binder *b, int i, int64_t v)
{
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->s, i, v);
}

/* run: executes a statement that returns no rows, then resets it. */
static int run(struct store_be *st, struct binder *b, char why[ERR_LEN])
{
	int rc = b->rc;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(b->s);
		if (rc != SQLITE_DONE)
			util_strlcpy(why, db_msg(st), ERR_LEN);
	} else {
		util_strlcpy(why, sqlite3_errstr(rc), ERR_LEN);
	}
	stmt_done(b->s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* next_row: 1 for a row, 0 at the end (statement reset), -1 with why (statement reset). */
static int next_row(struct store_be *st, struct binder *b, char why[ERR_LEN])
{
	int rc = b->rc;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(b->s);
		if (rc == SQLITE_ROW)
			return 1;
		if (rc != SQLITE_DONE)
			util_strlcpy(why, db_msg(st), ERR_LEN);
	} else {
		util_strlcpy(why, sqlite3_errstr(rc), ERR_LEN);
		b->rc = SQLITE_OK;
	}
	stmt_done(b->s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int exec(struct store_be *st, const char *sql, char why[ERR_LEN])
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return err_set(why, "%s", db_msg(st));
	return 0;
}

/* col_dup: a text column as a new string; "" for NULL. */
static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return xstrndup(t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(s, i) : 0);
}

/* grow: makes room for one more element of size in *v (holding n of *cap). */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 32;
	return xreallocarray(v, *cap, size);
}

/* pragma_int: the integer a one-row query returns. */
static int pragma_int(struct store_be *st, const char *sql, int *out, char why[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	else
		err_set(why, "%s", db_msg(st));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- transactions ---- */

static void sq_rollback(struct store_be *st);

/* Internal operations of several statements are atomic on their own, and nest in a caller's transaction. */
enum tx_mode { TX_OWN, TX_SAVEPOINT };

static int tx_enter(struct store_be *st, enum tx_mode *mode, char why[ERR_LEN])
{
	*mode = sqlite3_get_autocommit(st->db) ? TX_OWN : TX_SAVEPOINT;
	return exec(st, *mode == TX_OWN ? "BEGIN IMMEDIATE" : "SAVEPOINT store_op", why);
}

/* tx_leave: commits when ok, else rolls back (inside a caller's transaction: only this operation). */
static int tx_leave(struct store_be *st, enum tx_mode mode, int ok, char why[ERR_LEN])
{
	if (ok && exec(st, mode == TX_OWN ? "COMMIT" : "RELEASE store_op", why) == 0)
		return 0;
	/* After some errors SQLite has already rolled the whole transaction back: ignore failures here. */
	if (mode == TX_SAVEPOINT)
		sqlite3_exec(st->db, "ROLLBACK TO store_op; RELEASE store_op", NULL, NULL, NULL);
	else
		sq_rollback(st);
	return -1;
}

static int sq_begin(struct store_be *st, char why[ERR_LEN])
{
	return exec(st, "BEGIN IMMEDIATE", why);
}

static void sq_rollback(struct store_be *st)
{
	if (st && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_commit(struct store_be *st, char why[ERR_LEN])
{
	if (exec(st, "COMMIT", why) == 0)
		return 0;
	/* A failed COMMIT can leave the transaction open: close it, so that nothing half-done lingers. */
	sq_rollback(st);
	return -1;
}

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
	sqlite3_stmt *s = stmt(st, ST_META_PUT, why);
	struct binder b = bind_to(s);
	if (!s)
		return -1;
	b_text(&b, 1, key);
	b_text(&b, 2, value);
	return run(st, &b, why);
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

/* migrate_one: applies step v unless the database has it already. */
static int migrate_one(struct store_be *st, int v, char why[ERR_LEN])
{
	char sql[96];
	int cur;
	if (exec(st, "BEGIN IMMEDIATE", why) < 0)
		return -1;
	/* Read under the write lock: another process may have migrated meanwhile. */
	if (pragma_int(st, "PRAGMA user_version", &cur, why) < 0)
		goto fail;
	if (cur < v) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", v, STORE_APP_ID);
		if (exec(st, migrations[v].sql, why) < 0 || (migrations[v].after && migrations[v].after(st, why) < 0) ||
		    exec(st, sql, why) < 0)
			goto fail;
	}
	if (exec(st, "COMMIT", why) == 0)
		return 0;
fail:
	sq_rollback(st);
	return -1;
}

/* precreate: the database holds personal data: make its file (and the WAL's, which copy its mode) 0640. */
static int precreate(const char *path, char err[ERR_LEN])
{
	char *dir = util_dirname(path);
	int fd, rc = 0;
	if (access(dir, F_OK) != 0 && util_mkdirs(dir, err) < 0) {
		free(dir);
		return -1;
	}
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST)
		rc = err_set(err, "cannot create %s: %s", path, strerror(errno));
	return rc;
}

/* check_file: refuses a database that is not ours or is newer than this program. */
static int check_file(struct store_be *st, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int version, app, ntables;
	if (pragma_int(st, "PRAGMA user_version", &version, why) < 0 ||
	    pragma_int(st, "PRAGMA application_id", &app, why) < 0 ||
	    pragma_int(st, "SELECT count(*) FROM sqlite_schema", &ntables, why) < 0)
		return err_set(err, "cannot read %s: %s", st->path, why);
	if (app != 0 && app != STORE_APP_ID)
		return err_set(err, "%s is not an occasiond database (application id %d)", st->path, app);
	if (version == 0 && ntables > 0)
		return err_set(err, "%s is not an occasiond database (it has tables but no schema version)", st->path);
	if (version > STORE_SCHEMA_VERSION)
		return err_set(err, "%s has schema version %d, newer than this program's %d: "
		               "use a newer occasiond", st->path, version, STORE_SCHEMA_VERSION);
	return 0;
}

static int set_pragmas(struct store_be *st, char err[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	const char *mode = NULL;
	char why[ERR_LEN];
	int ok = 0;
	/* journal_mode answers with the mode it got: WAL can fail (e.g. on some network file systems). */
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		mode = (const char *)sqlite3_column_text(s, 0);
		ok = util_strcaseeq(mode, "wal") || util_strcaseeq(mode, "memory");
		if (!ok)
			err_set(err, "cannot use the WAL journal mode for %s (got %s)", st->path, mode ? mode : "?");
	} else {
		err_set(err, "cannot set the journal mode of %s: %s", st->path, db_msg(st));
	}
	sqlite3_finalize(s);
	if (!ok)
		return -1;
	if (exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", why) < 0)
		return err_set(err, "cannot set pragmas of %s: %s", st->path, why);
	return 0;
}

static void sq_close(struct store_be *st);

static int sq_open(const char *path, int64_t now, struct store_be **out, char err[ERR_LEN])
{
	struct store_be *st;
	char why[ERR_LEN];

	*out = NULL;
	if (strcmp(path, ":memory:") != 0 && precreate(path, err) < 0)
		return -1;
	st = xcalloc(1, sizeof *st);
	st->path = xstrdup(path);
	st->created = now;
	st->lock_fd = st->ino = st->wd = -1;
	/* No mutex: a connection is used by one thread (the daemon has one), and SQLite's
	 * serialized mode took a tenth of an import's instructions locking and unlocking. */
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		err_set(err, "cannot open %s: %s", path, st->db ? db_msg(st) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	/* Hardening: no writes to the schema by SQL tricks, no functions run from schema text. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (check_file(st, err) < 0 || set_pragmas(st, err) < 0)
		goto fail;
	for (int v = 1; v <= STORE_SCHEMA_VERSION; v++) {
		if (migrate_one(st, v, why) < 0) {
			err_set(err, "cannot migrate %s to schema version %d: %s", path, v, why);
			goto fail;
		}
	}
	st->ready = 1;
	*out = st;
	return 0;
fail:
	sq_close(st);
	return -1;
}

static void sq_unlock(struct store_be *st);

static void sq_close(struct store_be *st)
{
	if (!st)
		return;
	sq_unlock(st);
	if (st->ino >= 0)
		close(st->ino);
	free(st->base);
	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(st->stmts[i]);
	for (int i = 0; i < 1 << F__N; i++)
		sqlite3_finalize(st->list_stmts[i]);
	if (st->db) {
		sq_rollback(st);
		/* Only on our own, migrated database: optimize may write statistics. */
		if (st->ready)
			sqlite3_exec(st->db, "PRAGMA optimize", NULL, NULL, NULL);
		sqlite3_close_v2(st->db);
	}
	free(st->path);
	free(st);
}

static int sq_schema_version(struct store_be *st)
{
	char why[ERR_LEN];
	int v;
	return pragma_int(st, "PRAGMA user_version", &v, why) < 0 ? -1 : v;
}

static int sq_meta_get(struct store_be *st, const char *key, char **value, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_META_GET, why);
	struct binder b = bind_to(s);
	int rc;
	*value = NULL;
	if (!s)
		return -1;
	b_text(&b, 1, key);
	rc = next_row(st, &b, why);
	if (rc == 1) {
		*value = col_dup(s, 0);
		stmt_done(s);
		return 0;
	}
	return rc == 0 ? 1 : -1;
}

static int sq_meta_set(struct store_be *st, const char *key, const char *value, char why[ERR_LEN])
{
	return meta_put(st, key, value, why);
}

/* ---- stakeholders ---- */

/* put_custom: the custom fields of sh. */
static int put_custom(struct store_be *st, const struct stakeholder *sh, char why[ERR_LEN])
{
	sqlite3_stmt *s;
	struct binder b;
	if (!sh->present) {
		/* A whole stakeholder: its custom set replaces the stored one. */
		if (!(s = stmt(st, ST_SHF_DEL, why)))
			return -1;
		b = bind_to(s);
		b_text(&b, 1, sh->f[SH_ID]);
		if (run(st, &b, why) < 0)
			return -1;
	}
	if (!(s = stmt(st, ST_SHF_PUT, why)))
		return -1;
	for (size_t i = 0; i < sh->ncustom; i++) {
		b = bind_to(s);
		b_text(&b, 1, sh->f[SH_ID]);
		b_text(&b, 2, sh->custom[i].key);
		b_text(&b, 3, sh->custom[i].value);
		b_int(&b, 4, (int64_t)i);
		if (run(st, &b, why) < 0)
			return -1;
	}
	return 0;
}

/* put_rows: the stakeholder's row and its custom fields, inside the caller's transaction. */
static int put_rows(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	/* Columns written on update: those the row had, or all of them. */
	int64_t mask = sh->present ? (int64_t)sh->present : (int64_t)((1ul << SH_NFIELDS) - 1);
	sqlite3_stmt *s = stmt(st, ST_SH_PUT, why);
	struct binder b;
	if (!s)
		return -1;
	b = bind_to(s);
	for (int i = 0; i < SH_NFIELDS; i++)
		b_text(&b, i + 1, sh->f[i]);
	b_int(&b, SH_NFIELDS + 1, now);
	b_int(&b, SH_NFIELDS + 2, mask);
	return run(st, &b, why) == 0 && put_custom(st, sh, why) == 0 ? 0 : -1;
}

static int sq_sh_put(struct store_be *st, const struct stakeholder *sh, int64_t now, char why[ERR_LEN])
{
	enum tx_mode mode;
	if (tx_enter(st, &mode, why) < 0)
		return -1;
	return tx_leave(st, mode, put_rows(st, sh, now, why) == 0, why);
}

static void read_stakeholder(sqlite3_stmt *s, struct stakeholder *sh)
{
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh->f[i] = col_dup(s, i);
}

static void add_custom(struct stakeholder *sh, size_t *cap, sqlite3_stmt *s, int col)
{
	sh->custom = grow(sh->custom, sh->ncustom, cap, sizeof *sh->custom);
	sh->custom[sh->ncustom].key = col_dup(s, col);
	sh->custom[sh->ncustom].value = col_dup(s, col + 1);
	sh->ncustom++;
}

/* load_all: every stakeholder with its custom fields (inside a read transaction). */
static int load_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_SH_ALL, why), *f = s ? stmt(st, ST_SHF_ALL, why) : NULL;
	struct binder bs = bind_to(s), bf = bind_to(f);
	size_t cap = 0, i = 0, ccap = 0;
	int rc;

	if (!f)
		return -1;
	while ((rc = next_row(st, &bs, why)) == 1) {
		*out = grow(*out, *n, &cap, sizeof **out);
		read_stakeholder(s, &(*out)[(*n)++]);
	}
	if (rc < 0)
		return -1;
	/* Both are ordered by id (BINARY collation: the order of strcmp): merge the custom fields in. */
	while ((rc = next_row(st, &bf, why)) == 1) {
		const char *id = (const char *)sqlite3_column_text(f, 0);
		int c = 1;
		while (i < *n && id && (c = strcmp((*out)[i].f[SH_ID], id)) < 0)
			i++, ccap = 0;
		if (i < *n && c == 0)
			add_custom(&(*out)[i], &ccap, f, 1);
	}
	return rc;
}

/* On an error, sh_all, custom_columns and ev_all free what they read and leave *out NULL. */
static int sq_sh_all(struct store_be *st, struct stakeholder **out, size_t *n, char why[ERR_LEN])
{
	int rc;

	*out = NULL;
	*n = 0;
	/* One read transaction, so that both queries see the same snapshot. */
	if (exec(st, "SAVEPOINT store_load", why) < 0)
		return -1;
	rc = load_all(st, out, n, why);
	sqlite3_exec(st->db, "RELEASE store_load", NULL, NULL, NULL);
	if (rc < 0) {
		stakeholders_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* load_one: 1 found, 0 absent, -1. */
static int load_one(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_SH_GET, why), *f = s ? stmt(st, ST_SHF_GET, why) : NULL;
	struct binder bs = bind_to(s), bf = bind_to(f);
	size_t ccap = 0;
	int rc;

	if (!f)
		return -1;
	b_text(&bs, 1, id);
	if ((rc = next_row(st, &bs, why)) != 1)
		return rc;
	read_stakeholder(s, out);
	stmt_done(s);
	b_text(&bf, 1, id);
	while ((rc = next_row(st, &bf, why)) == 1)
		add_custom(out, &ccap, f, 0);
	return rc < 0 ? -1 : 1;
}

static int sq_sh_get(struct store_be *st, const char *id, struct stakeholder *out, char why[ERR_LEN])
{
	int rc;

	memset(out, 0, sizeof *out);
	if (exec(st, "SAVEPOINT store_load", why) < 0)
		return -1;
	rc = load_one(st, id, out, why);
	sqlite3_exec(st->db, "RELEASE store_load", NULL, NULL, NULL);
	if (rc < 0)
		stakeholder_clear(out);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

static int sq_custom_columns(struct store_be *st, char ***out, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_SHF_NAMES, why);
	struct binder b = bind_to(s);
	size_t cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (s) {
		while ((rc = next_row(st, &b, why)) == 1) {
			*out = grow(*out, *n, &cap, sizeof **out);
			(*out)[(*n)++] = col_dup(s, 0);
		}
	}
	if (rc < 0) {
		while (*n)
			free((*out)[--*n]);
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* ---- events ---- */

static int sq_ev_put(struct store_be *st, const struct event *ev, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_EV_PUT, why);
	struct binder b = bind_to(s);

	if (!s)
		return -1;
	b_text(&b, 1, ev->stakeholder_id);
	b_text(&b, 2, ev->kind);
	b_text(&b, 3, ev->date);
	b_text(&b, 4, ev->title);
	b_text(&b, 5, ev->details);
	if (run(st, &b, why) == 0)
		return 0;
	return sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY ? 1 : -1;
}

static int sq_ev_all(struct store_be *st, const char *sh_id, struct event **out, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, sh_id ? ST_EV_OF : ST_EV_ALL, why);
	struct binder b = bind_to(s);
	size_t cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (s && sh_id)
		b_text(&b, 1, sh_id);
	while (s && (rc = next_row(st, &b, why)) == 1) {
		struct event *e;
		*out = grow(*out, *n, &cap, sizeof **out);
		e = &(*out)[(*n)++];
		e->stakeholder_id = col_dup(s, 0);
		e->kind = col_dup(s, 1);
		e->date = col_dup(s, 2);
		e->title = col_dup(s, 3);
		e->details = col_dup(s, 4);
	}
	if (rc < 0) {
		events_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* ---- dispatch records ---- */

/* bind_mutable: the DS_MUTABLE fields as ?1..?16. */
static void bind_mutable(struct binder *b, const struct dispatch_rec *r)
{
	b_text(b, 1, r->fire_date);
	b_int(b, 2, r->fire_at);
	b_text(b, 3, channel_names[r->channel]);
	b_text(b, 4, dispatch_status_names[r->status]);
	b_text(b, 5, r->reason);
	b_int(b, 6, r->attempts);
	b_text(b, 7, r->error);
	b_text(b, 8, r->artifact);
	b_int(b, 9, r->page);
	b_text(b, 10, r->message_id);
	b_text(b, 11, r->signer);
	b_int(b, 12, r->cost_cents);
	b_text(b, 13, r->template_name);
	b_int(b, 14, r->next_attempt_at);
	b_int(b, 15, r->data_sent ? 1 : 0);
	b_text(b, 16, r->last_reply);
}

static int sq_ds_claim(struct store_be *st, struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_DS_CLAIM, why);
	struct binder b = bind_to(s);

	if (!s)
		return -1;
	bind_mutable(&b, rec);
	b_text(&b, DS_NMUTABLE + 1, rec->rule);
	b_text(&b, DS_NMUTABLE + 2, rec->stakeholder);
	b_text(&b, DS_NMUTABLE + 3, rec->occasion_date);
	b_int(&b, DS_NMUTABLE + 4, now);
	b_text(&b, DS_NMUTABLE + 5, rec->handled_by);
	/* One statement is atomic on its own; inside a caller's transaction it joins it. */
	if (run(st, &b, why) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return 1;
	rec->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static int sq_ds_update(struct store_be *st, const struct dispatch_rec *rec, int64_t now, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_DS_UPDATE, why);
	struct binder b = bind_to(s);

	if (!s)
		return -1;
	bind_mutable(&b, rec);
	b_int(&b, DS_NMUTABLE + 1, now);
	b_int(&b, DS_NMUTABLE + 2, rec->id);
	if (run(st, &b, why) < 0)
		return -1;
	return sqlite3_changes(st->db) == 1 ? 0 : 1;
}

static int sq_ds_delete(struct store_be *st, int64_t id, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_DS_DELETE, why);
	struct binder b = bind_to(s);
	if (!s)
		return -1;
	b_int(&b, 1, id);
	return run(st, &b, why);
}

/* read_dispatch: a row of DS_COLS. 0, or -1 when a stored name is unknown. */
static int read_dispatch(sqlite3_stmt *s, struct dispatch_rec *r, char why[ERR_LEN])
{
	int ch = channel_parse((const char *)sqlite3_column_text(s, 6));
	int status = dispatch_status_parse((const char *)sqlite3_column_text(s, 7));

	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	if ((ch != CH_CARD && ch != CH_EMAIL) || status < 0)
		return err_set(why, "dispatch %lld has an unknown channel or status", (long long)r->id);
	r->rule = col_dup(s, 1);
	r->stakeholder = col_dup(s, 2);
	r->occasion_date = col_dup(s, 3);
	r->fire_date = col_dup(s, 4);
	r->fire_at = sqlite3_column_int64(s, 5);
	r->channel = (enum channel)ch;
	r->status = (enum dispatch_status)status;
	r->reason = col_dup(s, 8);
	r->attempts = sqlite3_column_int(s, 9);
	r->error = col_dup(s, 10);
	r->artifact = col_dup(s, 11);
	r->page = sqlite3_column_int(s, 12);
	r->message_id = col_dup(s, 13);
	r->signer = col_dup(s, 14);
	r->cost_cents = sqlite3_column_int64(s, 15);
	r->template_name = col_dup(s, 16);
	r->next_attempt_at = sqlite3_column_int64(s, 17);
	r->data_sent = sqlite3_column_int(s, 18) != 0;
	r->last_reply = col_dup(s, 19);
	r->created_at = sqlite3_column_int64(s, 20);
	r->updated_at = sqlite3_column_int64(s, 21);
	r->handled_by = col_dup(s, 22);
	return 0;
}

static int sq_ds_get(struct store_be *st, int64_t id, struct dispatch_rec *out, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_DS_GET, why);
	struct binder b = bind_to(s);
	int rc;

	memset(out, 0, sizeof *out);
	if (!s)
		return -1;
	b_int(&b, 1, id);
	rc = next_row(st, &b, why);
	if (rc == 1) {
		rc = read_dispatch(s, out, why);
		stmt_done(s);
		if (rc < 0)
			dispatch_rec_clear(out);
		return rc;
	}
	return rc == 0 ? 1 : -1;
}

/* list_stmt: the cached statement for one combination of filters. */
static sqlite3_stmt *list_stmt(struct store_be *st, unsigned mask, char why[ERR_LEN])
{
	if (!st->list_stmts[mask]) {
		struct strbuf sb = {0};
		const char *sep = " WHERE ";
		int rc;
		sb_adds(&sb, "SELECT " DS_COLS " FROM dispatches");
		for (int i = 0; i < F__N; i++) {
			if (mask & (1u << i)) {
				sb_addf(&sb, "%s%s", sep, filter_sql[i]);
				sep = " AND ";
			}
		}
		sb_adds(&sb, " ORDER BY fire_at, id");
		rc = prepare(st, sb.s, &st->list_stmts[mask], why);
		sb_free(&sb);
		if (rc < 0)
			return NULL;
	}
	return st->list_stmts[mask];
}

/* filter_values: the value of each filter in use (NULL: not used); f is validated by the front. */
static void filter_values(const struct dispatch_filter *f, const char *vals[F__N])
{
	vals[F_SINCE] = f->since_date;
	vals[F_STATUS] = f->status;
	vals[F_RULE] = f->rule;
	vals[F_STAKEHOLDER] = f->stakeholder;
	vals[F_FIRE_DATE] = f->fire_date;
	vals[F_SIGNER] = f->signer;
	vals[F_CHANNEL] = f->channel >= 0 ? channel_names[f->channel] : NULL;
}

static int sq_ds_list(struct store_be *st, const struct dispatch_filter *f, struct dispatch_rec **out, size_t *n,
                      char why[ERR_LEN])
{
	const char *vals[F__N];
	sqlite3_stmt *s;
	struct binder b;
	unsigned mask = 0;
	size_t cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	filter_values(f, vals);
	for (int i = 0; i < F__N; i++)
		if (vals[i])
			mask |= 1u << i;
	if ((s = list_stmt(st, mask, why))) {
		b = bind_to(s);
		for (int i = 0; i < F__N; i++)
			if (vals[i])
				b_text(&b, i + 1, vals[i]);
		while ((rc = next_row(st, &b, why)) == 1) {
			*out = grow(*out, *n, &cap, sizeof **out);
			if (read_dispatch(s, &(*out)[*n], why) < 0) {
				stmt_done(s);
				rc = -1;
				break;
			}
			(*n)++;
		}
	}
	if (rc < 0) {
		dispatch_recs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* sq_ds_each: as sq_ds_list, one record at a time: memory does not grow with the table. */
static int sq_ds_each(struct store_be *st, const struct dispatch_filter *f,
                      int (*fn)(void *arg, const struct dispatch_rec *rec), void *arg, char why[ERR_LEN])
{
	const char *vals[F__N];
	sqlite3_stmt *s;
	struct binder b;
	unsigned mask = 0;
	int rc = -1;

	filter_values(f, vals);
	for (int i = 0; i < F__N; i++)
		if (vals[i])
			mask |= 1u << i;
	if (!(s = list_stmt(st, mask, why)))
		return -1;
	b = bind_to(s);
	for (int i = 0; i < F__N; i++)
		if (vals[i])
			b_text(&b, i + 1, vals[i]);
	while ((rc = next_row(st, &b, why)) == 1) {
		struct dispatch_rec r;
		int stop;
		if (read_dispatch(s, &r, why) < 0) {
			stmt_done(s);
			return -1;
		}
		stop = fn(arg, &r);
		dispatch_rec_clear(&r);
		if (stop) {
			stmt_done(s);
			return 1;
		}
	}
	return rc;
}

static int sq_ds_next_retry(struct store_be *st, int64_t *at, char why[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "SELECT min(next_attempt_at) FROM dispatches WHERE status = 'retry'", -1, &s,
	                            NULL);
	*at = INT64_MAX;
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		*at = sqlite3_column_int64(s, 0);
	if (rc != SQLITE_ROW)
		err_set(why, "%s", db_msg(st));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- integrity, memory ---- */

/*
 * The check covers what a pass writes: the dispatch records and meta, with their indexes.
 * The stakeholders, their fields and events (most of the file) a pass reads whole through
 * its scan before it writes anything, and SQLite refuses a damaged page as the scan meets
 * it; checking them first as well cost about as much again as the pass itself (1,000,000
 * stakeholders: 0.7 s of a 2 s pass).
 */
static int sq_check(struct store_be *st, char why[ERR_LEN])
{
	static const char *const sql[] = {"PRAGMA quick_check(dispatches)", "PRAGMA quick_check(meta)"};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof sql / sizeof *sql; i++) {
		sqlite3_stmt *s = NULL;
		const char *res;
		if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
			err_set(why, "%s", db_msg(st));
			rc = -1;
		} else {
			res = (const char *)sqlite3_column_text(s, 0);
			rc = res && strcmp(res, "ok") == 0 ? 0 : 1;
			if (rc)
				err_set(why, "%s", res ? res : "no answer");
		}
		sqlite3_finalize(s);
	}
	return rc;
}

static void sq_trim(struct store_be *st, int cache_kib)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", cache_kib > 0 ? cache_kib : 1);
	sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	sqlite3_db_release_memory(st->db);
}

/* ---- the pass lock ---- */

/*
 * An flock on DATABASE.lock, which the kernel drops when its holder dies. Opened read-only:
 * closing it then raises no IN_CLOSE_WRITE for a daemon's watch on this directory. An
 * in-memory database has one connection: nothing to lock against.
 */
static int sq_lock_try(struct store_be *st, char why[ERR_LEN])
{
	char *path;
	int busy;
	if (st->lock_fd >= 0 || strcmp(st->path, ":memory:") == 0)
		return 0;
	path = xasprintf("%s.lock", st->path);
	st->lock_fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (st->lock_fd < 0) {
		err_set(why, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		free(path);
		return 0;
	}
	busy = errno == EWOULDBLOCK || errno == EINTR;
	if (!busy)
		err_set(why, "cannot lock %s: %s", path, strerror(errno));
	free(path);
	close(st->lock_fd);
	st->lock_fd = -1;
	return busy ? 1 : -1;
}

static void sq_unlock(struct store_be *st)
{
	if (st && st->lock_fd >= 0) {
		close(st->lock_fd);   /* releases the flock */
		st->lock_fd = -1;
	}
}

/* ---- the change watch ---- */

/*
 * inotify on the database's directory: another process's commit writes the database or its
 * -wal file (created and removed there), and PRAGMA data_version, which moves only for
 * other connections' commits, tells a foreign commit from our own writes.
 */
static int64_t data_version(struct store_be *st)
{
	char why[ERR_LEN];
	int v = 0;
	return pragma_int(st, "PRAGMA data_version", &v, why) == 0 ? v : -1;
}

static int sq_watch_fd(struct store_be *st, char why[ERR_LEN])
{
	const char *slash;
	char *dir;
	if (st->wd >= 0)
		return st->ino;
	if (strcmp(st->path, ":memory:") == 0) {
		err_set(why, "an in-memory database has no other writers to watch");
		return -1;
	}
	if (st->ino < 0 && (st->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		err_set(why, "cannot watch for changes: %s", strerror(errno));
		return -1;
	}
	slash = strrchr(st->path, '/');
	dir = slash ? xstrndup(st->path, slash == st->path ? 1 : (size_t)(slash - st->path)) : xstrdup(".");
	free(st->base);
	st->base = xstrdup(slash ? slash + 1 : st->path);
	st->wd = inotify_add_watch(st->ino, dir, IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
	if (st->wd < 0)
		err_set(why, "cannot watch %s for changes: %s", dir, strerror(errno));
	free(dir);
	return st->wd < 0 ? -1 : st->ino;
}

static void sq_watch_mark(struct store_be *st)
{
	st->mark = data_version(st);
	st->pending = st->seen = 0;
}

/* drain: reads every queued event; 1 when one concerned the database or its -wal/-journal. */
static int drain(struct store_be *st)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t blen;
	int hit = 0;
	ssize_t n;
	if (st->wd < 0)
		return 0;
	blen = strlen(st->base);
	while ((n = read(st->ino, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len && strncmp(ev->name, st->base, blen) == 0 &&
			     (ev->name[blen] == '\0' || ev->name[blen] == '-')))
				hit = 1;
			p += sizeof *ev + ev->len;
		}
	}
	return hit;
}

static int sq_changed(struct store_be *st)
{
	int hit = drain(st);
	if (st->seen)
		return 1;
	if (!hit && !st->pending)
		return 0;
	if (data_version(st) != st->mark) {
		st->pending = 0;
		st->seen = 1;
		return 1;
	}
	/* The -wal write can precede the visible commit by a moment: worth one more look. */
	st->pending = hit;
	return hit ? 2 : 0;
}

/* ---- the stakeholders one at a time ---- */

/*
 * A side table read in step with the stakeholders: its rows ordered by the stakeholder's id
 * (BINARY, the order of strcmp, like stakeholders.id), merged in as the scan goes.
 */
struct side {
	sqlite3_stmt *s;
	int state;              /* 0 not started, 1 a row is pending, 2 at the end */
};

struct store_be_scan {
	struct store_be *st;
	sqlite3 *db;            /* its own read-only connection, else st->db */
	int own;
	sqlite3_stmt *sh;
	int col[SH_NFIELDS];    /* the result column of each field, -1 when not read */
	struct side custom, ev, hist;
	struct store_sh_row row;
	struct strbuf text;     /* the side rows' strings of the current stakeholder */
	size_t cap_custom, cap_ev, cap_hist;
	int in_tx;
};

static int side_open(struct store_be_scan *sc, struct side *sd, const char *sql, char why[ERR_LEN])
{
	if (sqlite3_prepare_v2(sc->db, sql, -1, &sd->s, NULL) != SQLITE_OK)
		return err_set(why, "%s", sqlite3_errmsg(sc->db));
	return 0;
}

/* side_step: the next row of a side table: 1, 0 at its end, -1 with why. */
static int side_step(struct store_be_scan *sc, struct side *sd, char why[ERR_LEN])
{
	int rc = sqlite3_step(sd->s);
	sd->state = rc == SQLITE_ROW ? 1 : 2;
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return err_set(why, "%s", sqlite3_errmsg(sc->db));
	return 0;
}

/*
 * side_seek: skips the rows of stakeholders before id (records of deleted stakeholders);
 * 1 when the pending row is id's, 0 when not, -1 with why.
 */
static int side_seek(struct store_be_scan *sc, struct side *sd, const char *id, char why[ERR_LEN])
{
	int rc;
	if (!sd->s || sd->state == 2)
		return 0;
	if (sd->state == 0 && (rc = side_step(sc, sd, why)) <= 0)
		return rc;
	for (;;) {
		const char *k = (const char *)sqlite3_column_text(sd->s, 0);
		int c = strcmp(k ? k : "", id);
		if (c >= 0)
			return c == 0;
		if ((rc = side_step(sc, sd, why)) <= 0)
			return rc;
	}
}

/*
 * text_add: a copy of column i at the end of sc->text; returns its offset, turned into a
 * pointer (text_ptr) once the stakeholder's side rows are read and the buffer stops moving.
 */
static char *text_add(struct store_be_scan *sc, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t off = sc->text.len;
	sb_addn(&sc->text, t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(s, i) : 0);
	sb_addc(&sc->text, '\0');
	return (char *)(uintptr_t)off;
}

static char *text_ptr(struct store_be_scan *sc, char *off)
{
	return sc->text.s + (uintptr_t)off;
}

static void sq_scan_close(struct store_be_scan *sc)
{
	if (!sc)
		return;
	sqlite3_finalize(sc->sh);
	sqlite3_finalize(sc->custom.s);
	sqlite3_finalize(sc->ev.s);
	sqlite3_finalize(sc->hist.s);
	if (sc->in_tx)
		sqlite3_exec(sc->db, sc->own ? "COMMIT" : "RELEASE store_scan", NULL, NULL, NULL);
	if (sc->own)
		sqlite3_close(sc->db);
	free(sc->row.sh.custom);
	free(sc->row.ev);
	free(sc->row.hist);
	sb_free(&sc->text);
	free(sc);
}

static int sq_scan_open(struct store_be *st, uint32_t fields, int custom, int events, int quick,
                        struct store_be_scan **out, char why[ERR_LEN])
{
	struct store_be_scan *sc = xcalloc(1, sizeof *sc);
	struct strbuf sql = {0};
	int ncol = 0;

	*out = NULL;
	sc->st = st;
	sc->db = st->db;
	/*
	 * A connection of its own, without SQLite's mutexes (they cost a lock per column read:
	 * about 10% of a scan); an in-memory database has only the one.
	 */
	if (strcmp(st->path, ":memory:") != 0) {
		if (sqlite3_open_v2(st->path, &sc->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
			err_set(why, "%s", sc->db ? sqlite3_errmsg(sc->db) : "out of memory");
			sqlite3_close(sc->db);
			sc->db = NULL;
			goto fail;
		}
		sc->own = 1;
		sqlite3_busy_timeout(sc->db, STORE_BUSY_MS);
		sqlite3_db_config(sc->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
		sqlite3_db_config(sc->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	}
	/* One read transaction: the stakeholders and their side rows come from the same snapshot. */
	if (sqlite3_exec(sc->db, sc->own ? "BEGIN" : "SAVEPOINT store_scan", NULL, NULL, NULL) != SQLITE_OK) {
		err_set(why, "%s", sqlite3_errmsg(sc->db));
		goto fail;
	}
	sc->in_tx = 1;
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
	 * Table order skips a lookup through the id index per row (about 15% of the scan); a
	 * table filled by one sorted import is in id order already.
	 */
	sb_adds(&sql, quick ? " FROM stakeholders" : " FROM stakeholders ORDER BY id");
	if (sqlite3_prepare_v2(sc->db, sql.s, -1, &sc->sh, NULL) != SQLITE_OK) {
		err_set(why, "%s", sqlite3_errmsg(sc->db));
		goto fail;
	}
	/* The orders of their keys (no sorting): the planner needs no order within a stakeholder. */
	if ((custom && side_open(sc, &sc->custom, "SELECT stakeholder_id, name, value FROM stakeholder_fields "
	                         "ORDER BY stakeholder_id, name", why) < 0) ||
	    (events && side_open(sc, &sc->ev, "SELECT stakeholder_id, kind, date FROM events "
	                         "ORDER BY stakeholder_id, kind, date", why) < 0) ||
	    side_open(sc, &sc->hist, "SELECT stakeholder, rule, occasion_date, fire_date, status, cost_cents, "
	              "fire_at, id FROM dispatches ORDER BY stakeholder", why) < 0)
		goto fail;
	for (int i = 0; i < SH_NFIELDS; i++)
		sc->row.sh.f[i] = "";   /* fields not read stay empty */
	sb_free(&sql);
	*out = sc;
	return 0;
fail:
	sb_free(&sql);
	sq_scan_close(sc);
	return -1;
}

/* read_sides: the current stakeholder's custom fields, events and records into sc->row. */
static int read_sides(struct store_be_scan *sc, char *id, char why[ERR_LEN])
{
	struct store_sh_row *r = &sc->row;
	int rc;

	sb_reset(&sc->text);
	r->sh.ncustom = r->nev = r->nhist = 0;
	while ((rc = side_seek(sc, &sc->custom, id, why)) == 1) {
		r->sh.custom = grow(r->sh.custom, r->sh.ncustom, &sc->cap_custom, sizeof *r->sh.custom);
		r->sh.custom[r->sh.ncustom].key = text_add(sc, sc->custom.s, 1);
		r->sh.custom[r->sh.ncustom++].value = text_add(sc, sc->custom.s, 2);
		if (side_step(sc, &sc->custom, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = side_seek(sc, &sc->ev, id, why)) == 1) {
		struct event *e;
		r->ev = grow(r->ev, r->nev, &sc->cap_ev, sizeof *r->ev);
		e = &r->ev[r->nev++];
		e->stakeholder_id = id;
		e->kind = text_add(sc, sc->ev.s, 1);
		e->date = text_add(sc, sc->ev.s, 2);
		e->title = e->details = "";
		if (side_step(sc, &sc->ev, why) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = side_seek(sc, &sc->hist, id, why)) == 1) {
		struct dispatch_rec *h;
		const char *status = (const char *)sqlite3_column_text(sc->hist.s, 4);
		int k = dispatch_status_parse(status ? status : "");
		r->hist = grow(r->hist, r->nhist, &sc->cap_hist, sizeof *r->hist);
		h = &r->hist[r->nhist++];
		memset(h, 0, sizeof *h);
		h->stakeholder = id;
		h->rule = text_add(sc, sc->hist.s, 1);
		h->occasion_date = text_add(sc, sc->hist.s, 2);
		h->fire_date = text_add(sc, sc->hist.s, 3);
		h->status = k < 0 ? DS_SKIPPED : (enum dispatch_status)k;
		h->cost_cents = sqlite3_column_int64(sc->hist.s, 5);
		h->fire_at = sqlite3_column_int64(sc->hist.s, 6);
		h->id = sqlite3_column_int64(sc->hist.s, 7);
		if (side_step(sc, &sc->hist, why) < 0)
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

static int sq_scan_next(struct store_be_scan *sc, const struct store_sh_row **row, char why[ERR_LEN])
{
	int rc = sqlite3_step(sc->sh);

	*row = NULL;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return err_set(why, "%s", sqlite3_errmsg(sc->db));
	for (int i = 0; i < SH_NFIELDS; i++)
		if (sc->col[i] >= 0) {
			const unsigned char *t = sqlite3_column_text(sc->sh, sc->col[i]);
			sc->row.sh.f[i] = t ? (char *)t : "";
		}
	if (read_sides(sc, sc->row.sh.f[SH_ID], why) < 0)
		return -1;
	*row = &sc->row;
	return 1;
}

/* ---- bulk import ---- */

/*
 * The ids an import has seen live in a temporary table (SQLite's temp database spills to a
 * file when its cache is full), so a duplicate is found in memory that does not grow with the
 * file. Its statements are prepared once and reused for every row.
 */
static int sq_import_begin(struct store_be *st, int per_row, int dry, char why[ERR_LEN])
{
	/* A dry run writes only to the temporary table: it takes no write lock from a running daemon. */
	if (exec(st, dry ? "BEGIN" : "BEGIN IMMEDIATE", why) < 0)
		return -1;
	if (exec(st, "CREATE TEMP TABLE IF NOT EXISTS import_ids(id TEXT PRIMARY KEY, line INTEGER NOT NULL) "
	             "WITHOUT ROWID; DELETE FROM temp.import_ids", why) < 0) {
		sq_rollback(st);
		return -1;
	}
	st->importing = per_row ? 2 : 1;
	return 0;
}

static int sq_import_seen(struct store_be *st, const char *id, long line, long *first_line, char why[ERR_LEN])
{
	sqlite3_stmt *s;
	struct binder b;
	int rc;

	*first_line = 0;
	if (!(s = stmt(st, ST_IMP_SEEN, why)))
		return -1;
	b = bind_to(s);
	b_text(&b, 1, id);
	b_int(&b, 2, line);
	if (run(st, &b, why) < 0)
		return -1;
	if (sqlite3_changes(st->db) > 0)
		return 0;
	if (!(s = stmt(st, ST_IMP_LINE, why)))
		return -1;
	b = bind_to(s);
	b_text(&b, 1, id);
	if ((rc = next_row(st, &b, why)) < 0)
		return -1;
	*first_line = rc == 1 ? (long)sqlite3_column_int64(s, 0) : -1;
	stmt_done(s);
	return 0;
}

/* step_fixed: runs one of the statements without parameters. */
static int step_fixed(struct store_be *st, enum stmt_id id, char why[ERR_LEN])
{
	sqlite3_stmt *s = stmt(st, id, why);
	struct binder b = bind_to(s);
	return s ? run(st, &b, why) : -1;
}

static int sq_import_put(struct store_be *st, const struct stakeholder *sh, const struct event *ev, int64_t now,
                         char why[ERR_LEN])
{
	int rc;
	/*
	 * All or nothing: a failure rolls back the whole import, so the row needs no savepoint of
	 * its own. With skip_invalid the good rows stay: a failed row is undone alone.
	 */
	if (st->importing == 2 && step_fixed(st, ST_IMP_SAVE, why) < 0)
		return -1;
	rc = sh ? put_rows(st, sh, now, why) : sq_ev_put(st, ev, why);
	if (st->importing == 2) {
		char why2[ERR_LEN];
		if (rc != 0)
			step_fixed(st, ST_IMP_UNDO, why2);
		if (step_fixed(st, ST_IMP_RELEASE, rc == 0 ? why : why2) < 0 && rc == 0)
			return -1;
	}
	return rc;
}

static int sq_import_end(struct store_be *st, int commit, char why[ERR_LEN])
{
	st->importing = 0;
	sqlite3_exec(st->db, "DELETE FROM temp.import_ids", NULL, NULL, NULL);
	if (!commit) {
		sq_rollback(st);
		return 0;
	}
	if (exec(st, "COMMIT", why) == 0)
		return 0;
	sq_rollback(st);
	return -1;
}

/* ---- opt-out ---- */

static int sq_optout(struct store_be *st, const char *key, int64_t now, char ***ids, size_t *n, char why[ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc;
	*ids = NULL;
	*n = 0;
	/* An id, or an email in any case: every stakeholder with that address. */
	rc = sqlite3_prepare_v2(st->db,
	                        "UPDATE stakeholders SET opted_out = '1', updated_at = ?2 "
	                        "WHERE id = ?1 OR (instr(?1, '@') > 0 AND lower(email) = lower(?1)) RETURNING id",
	                        -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			*ids = xreallocarray(*ids, *n + 1, sizeof **ids);
			(*ids)[(*n)++] = xstrdup((const char *)sqlite3_column_text(s, 0));
		}
	}
	if (rc != SQLITE_DONE) {
		err_set(why, "%s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		for (size_t i = 0; i < *n; i++)
			free((*ids)[i]);
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.sh_put = sq_sh_put,
	.sh_get = sq_sh_get,
	.sh_all = sq_sh_all,
	.custom_columns = sq_custom_columns,
	.ev_put = sq_ev_put,
	.ev_all = sq_ev_all,
	.ds_claim = sq_ds_claim,
	.ds_update = sq_ds_update,
	.ds_delete = sq_ds_delete,
	.ds_get = sq_ds_get,
	.ds_list = sq_ds_list,
	.ds_each = sq_ds_each,
	.ds_next_retry = sq_ds_next_retry,
	.scan_open = sq_scan_open,
	.scan_next = sq_scan_next,
	.scan_close = sq_scan_close,
	.check = sq_check,
	.trim = sq_trim,
	.lock_try = sq_lock_try,
	.unlock = sq_unlock,
	.watch_fd = sq_watch_fd,
	.watch_mark = sq_watch_mark,
	.changed = sq_changed,
	.optout = sq_optout,
	.import_begin = sq_import_begin,
	.import_seen = sq_import_seen,
	.import_put = sq_import_put,
	.import_end = sq_import_end,
};
