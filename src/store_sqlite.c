/*
 * store_sqlite: the SQLite backend of the store (src/store_backend.h): open, the schema and
 * its migration, close, meta, the integrity check, the pass lock, and the table of
 * primitives. Its files, the only users of SQLite, share src/store_sqlite_int.h:
 * store_sqlite_stmt.c (statements, binding, transactions), store_sqlite_sh.c (stakeholders,
 * events, opt-out), store_sqlite_ds.c (dispatch records), store_sqlite_scan.c,
 * store_sqlite_import.c and store_sqlite_watch.c. A file path in `database:`.
 *
 * Schema changes are migration steps indexed by version; each runs in its own write
 * transaction together with the PRAGMA user_version bump, so a crash leaves either the old
 * or the new schema. Statements are prepared once and cached; every text goes through
 * sqlite3_bind_text with its length, never into SQL text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "store_sqlite_int.h"

#define STORE_APP_ID 0x4f434344   /* "OCCD" in PRAGMA application_id: our files, not someone else's */

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
	sqlite3_stmt *s = sqi_stmt(st, ST_META_PUT, why);
	struct binder b = sqi_binder(s);
	if (!s)
		return -1;
	sqi_bind_text(&b, 1, key);
	sqi_bind_text(&b, 2, value);
	return sqi_run(st, &b, why);
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
	if (sqi_exec(st, "BEGIN IMMEDIATE", why) < 0)
		return -1;
	/* Read under the write lock: another process may have migrated meanwhile. */
	if (sqi_pragma_int(st, "PRAGMA user_version", &cur, why) < 0)
		goto fail;
	if (cur < v) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", v, STORE_APP_ID);
		if (sqi_exec(st, migrations[v].sql, why) < 0 || (migrations[v].after && migrations[v].after(st, why) < 0) ||
		    sqi_exec(st, sql, why) < 0)
			goto fail;
	}
	if (sqi_exec(st, "COMMIT", why) == 0)
		return 0;
fail:
	sqi_rollback(st);
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
	if (sqi_pragma_int(st, "PRAGMA user_version", &version, why) < 0 ||
	    sqi_pragma_int(st, "PRAGMA application_id", &app, why) < 0 ||
	    sqi_pragma_int(st, "SELECT count(*) FROM sqlite_schema", &ntables, why) < 0)
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
		err_set(err, "cannot set the journal mode of %s: %s", st->path, sqi_db_msg(st));
	}
	sqlite3_finalize(s);
	if (!ok)
		return -1;
	if (sqi_exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", why) < 0)
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
		err_set(err, "cannot open %s: %s", path, st->db ? sqi_db_msg(st) : "out of memory");
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
	sqi_watch_free(st);
	sqi_import_free(st);
	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(st->stmts[i]);
	for (int i = 0; i < 1 << F__N; i++)
		sqlite3_finalize(st->list_stmts[i]);
	if (st->db) {
		sqi_rollback(st);
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
	return sqi_pragma_int(st, "PRAGMA user_version", &v, why) < 0 ? -1 : v;
}

static int sq_meta_get(struct store_be *st, const char *key, char **value, char why[ERR_LEN])
{
	sqlite3_stmt *s = sqi_stmt(st, ST_META_GET, why);
	struct binder b = sqi_binder(s);
	int rc;
	*value = NULL;
	if (!s)
		return -1;
	sqi_bind_text(&b, 1, key);
	rc = sqi_next_row(st, &b, why);
	if (rc == 1) {
		*value = sqi_col_dup(s, 0);
		sqi_stmt_done(s);
		return 0;
	}
	return rc == 0 ? 1 : -1;
}

static int sq_meta_set(struct store_be *st, const char *key, const char *value, char why[ERR_LEN])
{
	return meta_put(st, key, value, why);
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
			err_set(why, "%s", sqi_db_msg(st));
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

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.begin = sqi_begin,
	.commit = sqi_commit,
	.rollback = sqi_rollback,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.sh_put = sqi_sh_put,
	.sh_get = sqi_sh_get,
	.sh_all = sqi_sh_all,
	.custom_columns = sqi_custom_columns,
	.ev_put = sqi_ev_put,
	.ev_all = sqi_ev_all,
	.ds_claim = sqi_ds_claim,
	.ds_update = sqi_ds_update,
	.ds_delete = sqi_ds_delete,
	.ds_get = sqi_ds_get,
	.ds_list = sqi_ds_list,
	.ds_each = sqi_ds_each,
	.ds_next_retry = sqi_ds_next_retry,
	.scan_open = sqi_scan_open,
	.scan_next = sqi_scan_next,
	.scan_close = sqi_scan_close,
	.check = sq_check,
	.trim = sq_trim,
	.lock_try = sq_lock_try,
	.unlock = sq_unlock,
	.watch_fd = sqi_watch_fd,
	.watch_mark = sqi_watch_mark,
	.changed = sqi_changed,
	.optout = sqi_optout,
	.import_begin = sqi_import_begin,
	.import_seen = sqi_import_seen,
	.import_put = sqi_import_put,
	.import_end = sqi_import_end,
};
