/* Unit tests of the SQLite store. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "occasiond/store.h"

static char dir[] = "/tmp/occ-store-XXXXXX";
static char path[256];
static char err[ERR_LEN];

static void sh_set(struct stakeholder *sh, enum sh_field f, const char *v)
{
	free(sh->f[f]);
	sh->f[f] = xstrdup(v);
}

static void sh_add_custom(struct stakeholder *sh, const char *k, const char *v)
{
	sh->custom = xreallocarray(sh->custom, sh->ncustom + 1, sizeof *sh->custom);
	sh->custom[sh->ncustom].key = xstrdup(k);
	sh->custom[sh->ncustom].value = xstrdup(v);
	sh->ncustom++;
}

static void rec_make(struct dispatch_rec *r, const char *rule, const char *who, const char *date,
                     enum channel ch, int64_t fire_at)
{
	memset(r, 0, sizeof *r);
	r->rule = xstrdup(rule);
	r->stakeholder = xstrdup(who);
	r->occasion_date = xstrdup(date);
	r->fire_date = xstrdup(date);
	r->fire_at = fire_at;
	r->channel = ch;
	r->status = DS_QUEUED;
}

/* each_rec: counts the records handed over, keeps the first and last rule; stops after stop_after when set. */
struct each_seen {
	size_t n, stop_after;
	char first[32], last[32];
};

static int each_rec(void *arg, const struct dispatch_rec *rec)
{
	struct each_seen *es = arg;
	if (!es->n)
		util_strlcpy(es->first, rec->rule, sizeof es->first);
	util_strlcpy(es->last, rec->rule, sizeof es->last);
	es->n++;
	return es->stop_after && es->n >= es->stop_after;
}

static void test_create_reopen(void)
{
	struct store *st = NULL;
	struct stat sb;
	char *id1, *id2;
	int hex = 1;

	snprintf(path, sizeof path, "%s/sub/dir/o.db", dir);
	CHECK(store_open(path, &st, err) == 0, "create a database in a new directory (%s)", err);
	if (!st)
		return;
	CHECK(store_schema_version(st) == STORE_SCHEMA_VERSION, "schema version %d", STORE_SCHEMA_VERSION);
	CHECK(store_meta_get(st, "install_id", &id1, err) == 0, "install_id is there (%s)", err);
	CHECK(id1 && strlen(id1) == 16, "install_id of 16 characters");
	for (const char *p = id1 ? id1 : "x"; *p; p++)
		hex = hex && strchr("0123456789abcdef", *p);
	CHECK(hex, "install_id is hex");
	CHECK(store_meta_get(st, "nope", &id2, err) == 1 && id2 == NULL, "absent meta key: 1, NULL");
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640, "database file mode 0640 (%o)", sb.st_mode & 0777);
	store_close(st);
	store_close(NULL);

	CHECK(store_open(path, &st, err) == 0, "reopen (%s)", err);
	if (!st) {
		free(id1);
		return;
	}
	CHECK(store_schema_version(st) == STORE_SCHEMA_VERSION, "schema version unchanged on reopen");
	CHECK(store_meta_get(st, "install_id", &id2, err) == 0, "install_id again (%s)", err);
	CHECK(id1 && id2 && strcmp(id1, id2) == 0, "install_id stable across opens");
	free(id1);
	free(id2);
	store_close(st);
}

/* set_user_version: writes PRAGMA user_version into the header of a closed database (offset 60, big-endian). */
static int set_user_version(const char *p, unsigned v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
	                      (unsigned char)v};
	int fd = open(p, O_WRONLY);
	int ok = fd >= 0 && pwrite(fd, b, 4, 60) == 4;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void test_refused(void)
{
	char p[300];
	struct store *st = NULL;
	int fd;

	snprintf(p, sizeof p, "%s/new.db", dir);
	CHECK(store_open(p, &st, err) == 0, "create another database");
	store_close(st);
	st = NULL;
	CHECK(set_user_version(p, 99) == 0, "patch user_version to 99");
	CHECK(store_open(p, &st, err) == -1 && st == NULL, "a newer database is refused");
	CHECK(strstr(err, "schema version 99") && strstr(err, "newer") && strstr(err, "new.db"),
	      "refusal names the file and versions: %s", err);
	CHECK(set_user_version(p, STORE_SCHEMA_VERSION) == 0 && store_open(p, &st, err) == 0,
	      "readable again at its own version (%s)", err);
	store_close(st);
	st = NULL;

	snprintf(p, sizeof p, "%s/junk.db", dir);
	char junk[1024];
	memset(junk, 'j', sizeof junk);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, junk, sizeof junk) == (ssize_t)sizeof junk, "write junk");
	if (fd >= 0)
		close(fd);
	CHECK(store_open(p, &st, err) == -1 && st == NULL, "a file that is no database is refused");
	CHECK(strstr(err, "store: ") && strstr(err, "junk.db"), "names the file: %s", err);

	CHECK(store_open("", &st, err) == -1, "empty path refused");
	snprintf(p, sizeof p, "%s/new.db/x.db", dir);
	CHECK(store_open(p, &st, err) == -1, "a path under a file is refused: %s", err);
	unlink(p);
}

static void test_stakeholders(struct store *st)
{
	struct stakeholder a, b, got = {0}, *all = NULL;
	size_t n = 0;
	char **cols = NULL;
	size_t ncols = 0;
	int found = -1;

	sh_make(&a, "b-2", "Bea");
	sh_set(&a, SH_LAST_NAME, "O'Brien\"); DROP TABLE stakeholders; --");
	sh_set(&a, SH_CITY, "M\xc3\xbcnchen");
	sh_set(&a, SH_OPTED_OUT, "1");
	sh_add_custom(&a, "zeta", "last");
	sh_add_custom(&a, "alpha", "first");
	sh_make(&b, "a-1", "Al");
	CHECK(store_put_stakeholder(st, &a, err) == 0, "put a stakeholder (%s)", err);
	CHECK(store_put_stakeholder(st, &b, err) == 0, "put another");

	CHECK(store_load_stakeholders(st, &all, &n, err) == 0 && n == 2, "load two");
	if (n == 2) {
		CHECK_STR(all[0].f[SH_ID], "a-1", "ordered by id");
		CHECK(all[0].ncustom == 0, "no custom fields for a-1");
		CHECK_STR(all[1].f[SH_LAST_NAME], "O'Brien\"); DROP TABLE stakeholders; --", "text stored as is");
		CHECK_STR(all[1].f[SH_CITY], "M\xc3\xbcnchen", "UTF-8 kept");
		CHECK_STR(all[1].f[SH_TIMEZONE], "", "empty field loaded as \"\"");
		CHECK(stakeholder_flag(&all[1], SH_OPTED_OUT), "flag kept");
		int nonnull = 1;
		for (size_t i = 0; i < n; i++)
			for (int f = 0; f < SH_NFIELDS; f++)
				nonnull = nonnull && all[i].f[f];
		CHECK(nonnull, "every standard field non-NULL");
		CHECK(all[1].ncustom == 2, "two custom fields");
		if (all[1].ncustom == 2) {
			CHECK_STR(all[1].custom[0].key, "zeta", "custom order kept (1)");
			CHECK_STR(all[1].custom[1].key, "alpha", "custom order kept (2)");
			CHECK_STR(stakeholder_get(&all[1], "alpha"), "first", "custom value");
		}
	}
	stakeholders_free(all, n);

	CHECK(store_get_stakeholder(st, "b-2", &got, &found, err) == 0 && found == 1, "get by id");
	CHECK_STR(got.f[SH_FIRST_NAME], "Bea", "got first name");
	CHECK(got.ncustom == 2, "got custom fields");
	stakeholder_clear(&got);
	CHECK(store_get_stakeholder(st, "zz", &got, &found, err) == 0 && found == 0, "absent id: found 0");

	CHECK(store_custom_columns(st, &cols, &ncols, err) == 0 && ncols == 2, "two custom columns");
	if (ncols == 2)
		CHECK(!strcmp(cols[0], "alpha") && !strcmp(cols[1], "zeta"), "custom column names");
	for (size_t i = 0; i < ncols; i++)
		free(cols[i]);
	free(cols);

	/* a whole stakeholder (present == 0) replaces the fields and the custom set */
	sh_set(&a, SH_OPTED_OUT, "0");
	for (size_t i = 0; i < a.ncustom; i++) {
		free(a.custom[i].key);
		free(a.custom[i].value);
	}
	a.ncustom = 0;
	sh_add_custom(&a, "mid", "m");
	CHECK(store_put_stakeholder(st, &a, err) == 0, "replace");
	CHECK(store_get_stakeholder(st, "b-2", &got, &found, err) == 0 && found, "get replaced");
	CHECK(got.ncustom == 1 && !strcmp(got.custom[0].key, "mid"), "custom set replaced");
	CHECK_STR(got.f[SH_OPTED_OUT], "0", "field replaced");
	stakeholder_clear(&got);

	/* a partial row (from a CSV without some columns) keeps what it does not name */
	struct stakeholder p;
	sh_make(&p, "b-2", "Beatrice");
	sh_set(&p, SH_CITY, "");
	p.present = (1u << SH_ID) | (1u << SH_FIRST_NAME) | (1u << SH_CITY);
	sh_add_custom(&p, "extra", "x");
	CHECK(store_put_stakeholder(st, &p, err) == 0, "partial update");
	CHECK(store_get_stakeholder(st, "b-2", &got, &found, err) == 0 && found, "get after partial update");
	CHECK_STR(got.f[SH_FIRST_NAME], "Beatrice", "present column written");
	CHECK_STR(got.f[SH_CITY], "", "present empty column written");
	CHECK_STR(got.f[SH_LAST_NAME], "O'Brien\"); DROP TABLE stakeholders; --", "absent column kept");
	CHECK(got.ncustom == 2, "custom fields merged");
	CHECK_STR(stakeholder_get(&got, "mid"), "m", "old custom kept");
	CHECK_STR(stakeholder_get(&got, "extra"), "x", "new custom added");
	stakeholder_clear(&got);
	stakeholder_clear(&p);

	/* a partial row of a new stakeholder: absent columns empty */
	sh_make(&p, "c-3", "Cy");
	p.present = (1u << SH_ID) | (1u << SH_FIRST_NAME);
	CHECK(store_put_stakeholder(st, &p, err) == 0, "partial insert");
	CHECK(store_get_stakeholder(st, "c-3", &got, &found, err) == 0 && found, "get partial insert");
	CHECK_STR(got.f[SH_COUNTRY], "", "absent column of a new stakeholder is empty");
	stakeholder_clear(&got);
	stakeholder_clear(&p);

	free(b.f[SH_ID]);
	b.f[SH_ID] = NULL;
	CHECK(store_put_stakeholder(st, &b, err) == -1, "no id refused");
	stakeholder_clear(&a);
	stakeholder_clear(&b);
}

static void test_events(struct store *st)
{
	struct event e = {0}, *v = NULL;
	size_t n = 0;

	e.stakeholder_id = "b-2";
	e.kind = "promotion";
	e.date = "2026-05-01";
	e.title = "Head of Sales";
	e.details = "Line 1\nLine 2";
	CHECK(store_put_event(st, &e, err) == 0, "put an event (%s)", err);
	e.title = "VP Sales";
	CHECK(store_put_event(st, &e, err) == 0, "same key again updates");
	e.date = "2025-01-01";
	e.title = "Earlier";
	e.details = NULL;
	CHECK(store_put_event(st, &e, err) == 0, "another date");
	e.stakeholder_id = "a-1";
	e.kind = "launch";
	CHECK(store_put_event(st, &e, err) == 0, "event of another stakeholder");
	e.stakeholder_id = "ghost";
	CHECK(store_put_event(st, &e, err) == -1, "unknown stakeholder refused");
	CHECK(strstr(err, "unknown stakeholder ghost") != NULL, "message names the stakeholder: %s", err);
	e.kind = "";
	CHECK(store_put_event(st, &e, err) == -1, "no kind refused");

	CHECK(store_load_events(st, &v, &n, err) == 0 && n == 3, "three events (%zu)", n);
	if (n == 3) {
		CHECK_STR(v[0].stakeholder_id, "a-1", "ordered by stakeholder");
		CHECK_STR(v[1].date, "2025-01-01", "then by date");
		CHECK_STR(v[2].title, "VP Sales", "title updated");
		CHECK_STR(v[2].details, "Line 1\nLine 2", "details kept");
		CHECK_STR(v[1].details, "", "NULL details stored as empty");
	}
	events_free(v, n);
}

static void test_dispatches(struct store *st)
{
	struct dispatch_rec r, r2, got, *v = NULL;
	struct dispatch_filter f = {.channel = -1};
	size_t n = 0;
	int claimed = -1, found = -1;
	int64_t id;

	store_set_clock(st, 1700000000);
	rec_make(&r, "birthday", "b-2", "2026-06-10", CH_CARD, 1800000000);
	r.signer = xstrdup("Dana Ruiz");
	r.cost_cents = 350;
	CHECK(store_claim(st, &r, &claimed, err) == 0 && claimed == 1, "first claim (%s)", err);
	CHECK(r.id > 0 && r.created_at == 1700000000 && r.updated_at == 1700000000, "id and times set");
	id = r.id;
	CHECK(r.handled_by && strcmp(r.handled_by, store_owner(st)) == 0 && strchr(store_owner(st), ':'),
	      "the claim carries its owner HOST:PID (%s)", store_owner(st));
	{
		struct dispatch_rec back;
		int there = 0;
		CHECK(store_get_dispatch(st, id, &back, &there, err) == 0 && there && back.handled_by &&
		      strcmp(back.handled_by, store_owner(st)) == 0, "... which is stored (handled_by)");
		dispatch_rec_clear(&back);
	}
	CHECK(!store_shared(st), "SQLite: no several daemons (the pass lock serialises)");
	store_set_lease(st, 3);
	CHECK(store_begin(st, err) == 0 && store_tx_fresh(st), "SQLite: a transaction's locks always hold (no lease ends it)");
	store_rollback(st);

	rec_make(&r2, "birthday", "b-2", "2026-06-10", CH_EMAIL, 1);
	CHECK(store_claim(st, &r2, &claimed, err) == 0 && claimed == 0, "second claim of the same key: claimed 0");
	dispatch_rec_clear(&r2);

	rec_make(&r2, "birthday", "a-1", "2026-06-10", CH_EMAIL, 1700000500);
	CHECK(store_claim(st, &r2, &claimed, err) == 0 && claimed == 1, "another stakeholder");
	dispatch_rec_clear(&r2);
	rec_make(&r2, "welcome", "a-1", "2026-01-02", CH_EMAIL, 1700000100);
	r2.status = DS_SKIPPED;
	r2.reason = xstrdup("limit");
	CHECK(store_claim(st, &r2, &claimed, err) == 0 && claimed == 1, "a skipped record");
	dispatch_rec_clear(&r2);

	rec_make(&r2, "x", "a-1", "2026-01-02", CH_PREFERRED, 1);
	CHECK(store_claim(st, &r2, &claimed, err) == -1, "channel preferred refused in a record");
	CHECK(strstr(err, "channel") != NULL, "message names the channel: %s", err);
	free(r2.rule);
	r2.rule = xstrdup("");
	r2.channel = CH_EMAIL;
	CHECK(store_claim(st, &r2, &claimed, err) == -1, "empty rule refused");
	dispatch_rec_clear(&r2);

	/* update every mutable field */
	store_set_clock(st, 1700000999);
	r.status = DS_RENDERED;
	r.artifact = xstrdup("/spool/batches/2026-05-27/Dana_Ruiz.pdf");
	r.page = 3;
	r.attempts = 2;
	r.message_id = xstrdup("m@x");
	r.template_name = xstrdup("birthday");
	r.next_attempt_at = 42;
	r.data_sent = 1;
	r.last_reply = xstrdup("250 ok");
	r.error = xstrdup("");
	CHECK(store_update_dispatch(st, &r, err) == 0 && r.updated_at == 1700000999, "update (%s)", err);
	CHECK(store_get_dispatch(st, id, &got, &found, err) == 0 && found == 1, "get by id");
	CHECK(got.status == DS_RENDERED && got.channel == CH_CARD, "status and channel read back");
	CHECK_STR(got.artifact, "/spool/batches/2026-05-27/Dana_Ruiz.pdf", "artifact");
	CHECK(got.page == 3 && got.attempts == 2 && got.next_attempt_at == 42 && got.data_sent == 1, "numbers");
	CHECK(got.cost_cents == 350 && got.fire_at == 1800000000, "cost and fire_at");
	CHECK(got.created_at == 1700000000 && got.updated_at == 1700000999, "created_at kept, updated_at set");
	CHECK_STR(got.signer, "Dana Ruiz", "signer");
	CHECK_STR(got.reason, "", "NULL text read back as empty");
	CHECK_STR(got.last_reply, "250 ok", "last_reply");
	CHECK_STR(got.template_name, "birthday", "template");
	dispatch_rec_clear(&got);
	CHECK(store_get_dispatch(st, 9999, &got, &found, err) == 0 && found == 0, "absent record: found 0");

	r2 = r;
	r2.id = 9999;
	CHECK(store_update_dispatch(st, &r2, err) == -1, "update of a missing record fails");
	CHECK(strstr(err, "9999") != NULL, "message names the record: %s", err);

	/* listing: everything, ordered by fire_at */
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 3, "list all");
	if (n == 3) {
		CHECK_STR(v[0].rule, "welcome", "ordered by fire_at (1)");
		CHECK_STR(v[2].rule, "birthday", "ordered by fire_at (3)");
		CHECK_STR(v[0].reason, "limit", "reason");
	}
	dispatch_recs_free(v, n);
	CHECK(store_list_dispatches(st, NULL, &v, &n, err) == 0 && n == 3, "NULL filter lists all");
	dispatch_recs_free(v, n);

	f.status = "skipped";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 1, "filter by status");
	dispatch_recs_free(v, n);
	f.status = "SKIPPED";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 1, "status in any case");
	dispatch_recs_free(v, n);
	f.status = "bogus";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == -1, "unknown status refused");
	f.status = NULL;
	f.rule = "birthday";
	f.stakeholder = "a-1";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 1, "filter by rule and stakeholder");
	dispatch_recs_free(v, n);
	f.rule = f.stakeholder = NULL;
	f.since_date = "2026-03-01";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 2, "filter by since");
	dispatch_recs_free(v, n);
	f.since_date = NULL;
	f.fire_date = "2026-06-10";
	f.signer = "Dana Ruiz";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 1, "filter by fire date and signer");
	dispatch_recs_free(v, n);
	f.fire_date = f.signer = NULL;
	f.channel = CH_EMAIL;
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 2, "filter by channel");
	dispatch_recs_free(v, n);
	/* the same records one at a time, in the same order; the callback may stop it */
	{
		struct each_seen es = {0};
		CHECK(store_each_dispatch(st, &f, each_rec, &es, err) == 0 && es.n == 2, "each: the emails, one at a time");
		f.channel = -1;
		es = (struct each_seen){0};
		CHECK(store_each_dispatch(st, NULL, each_rec, &es, err) == 0 && es.n == 3 &&
		      strcmp(es.first, "welcome") == 0 && strcmp(es.last, "birthday") == 0, "each: all, by fire_at");
		es = (struct each_seen){0, 1, "", ""};
		CHECK(store_each_dispatch(st, NULL, each_rec, &es, err) == 1 && es.n == 1, "each: stopped by the callback");
		f.status = "bogus";
		CHECK(store_each_dispatch(st, &f, each_rec, &es, err) == -1, "each: unknown status refused");
		f.status = NULL;
		f.channel = CH_EMAIL;
		CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 2, "the list works after a stopped each");
		dispatch_recs_free(v, n);
	}
	f.channel = CH_CARD;
	f.rule = "welcome";
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 0, "no match");
	dispatch_recs_free(v, n);

	CHECK(store_delete_dispatch(st, id, err) == 0, "delete");
	CHECK(store_get_dispatch(st, id, &got, &found, err) == 0 && found == 0, "deleted");
	CHECK(store_claim(st, &r, &claimed, err) == 0 && claimed == 1, "the key can be claimed again after delete");
	dispatch_rec_clear(&r);
	store_set_clock(st, 0);
}

static void test_transactions(struct store *st)
{
	struct stakeholder a, bad, got = {0};
	struct dispatch_rec r, *v = NULL;
	struct dispatch_filter f = {.channel = -1, .rule = "tx"};
	size_t n = 0;
	int claimed, found;

	sh_make(&a, "tx-1", "Tex");
	rec_make(&r, "tx", "tx-1", "2026-07-01", CH_EMAIL, 5);
	CHECK(store_begin(st, err) == 0, "begin");
	CHECK(store_put_stakeholder(st, &a, err) == 0, "put in a transaction");
	CHECK(store_claim(st, &r, &claimed, err) == 0 && claimed == 1, "claim in a transaction");
	store_rollback(st);
	CHECK(store_get_stakeholder(st, "tx-1", &got, &found, err) == 0 && found == 0, "rollback: no stakeholder");
	CHECK(store_list_dispatches(st, &f, &v, &n, err) == 0 && n == 0, "rollback: no dispatch");
	dispatch_recs_free(v, n);
	store_rollback(st);

	/* a failing put inside a transaction undoes only itself */
	sh_make(&bad, "tx-2", "Bad");
	sh_add_custom(&bad, "", "no name");
	CHECK(store_begin(st, err) == 0, "begin again");
	CHECK(store_put_stakeholder(st, &a, err) == 0, "good put");
	CHECK(store_put_stakeholder(st, &bad, err) == -1, "bad put fails");
	CHECK(strstr(err, "tx-2") != NULL, "message names the stakeholder: %s", err);
	CHECK(store_commit(st, err) == 0, "commit (%s)", err);
	CHECK(store_get_stakeholder(st, "tx-1", &got, &found, err) == 0 && found == 1, "commit: good row kept");
	stakeholder_clear(&got);
	CHECK(store_get_stakeholder(st, "tx-2", &got, &found, err) == 0 && found == 0, "bad row left nothing");

	CHECK(store_commit(st, err) == -1, "commit without a transaction fails");
	CHECK(strstr(err, "store: cannot commit") != NULL, "commit message: %s", err);
	CHECK(store_begin(st, err) == 0 && store_begin(st, err) == -1, "nested begin fails");
	store_rollback(st);

	/* a second connection sees the claim and cannot take it again */
	struct store *st2 = NULL;
	CHECK(store_claim(st, &r, &claimed, err) == 0 && claimed == 1, "claim on the first connection");
	CHECK(store_open(path, &st2, err) == 0, "second connection");
	if (st2) {
		struct dispatch_rec r2;
		rec_make(&r2, "tx", "tx-1", "2026-07-01", CH_EMAIL, 5);
		CHECK(store_claim(st2, &r2, &claimed, err) == 0 && claimed == 0, "second connection: claimed 0");
		dispatch_rec_clear(&r2);
		store_close(st2);
	}
	dispatch_rec_clear(&r);
	stakeholder_clear(&a);
	stakeholder_clear(&bad);
}

/* The database value picks the backend: a path is SQLite, a postgresql:// URI the server's backend. */
static void test_backends(void)
{
	struct store *st = NULL;
	CHECK(store_open("postgresql://occ:secret@db.example/occ", &st, err) == -1 && st == NULL,
	      "a URI with a password is refused");
	CHECK(strstr(err, "password file") && strstr(err, "postgresql://db.example/occ") && !strstr(err, "secret"),
	      "says where the password goes, never echoes it: %s", err);
	CHECK(store_open("postgres:///occ?host=/nonexistent&password=secret", &st, err) == -1 &&
	      strstr(err, "password file") && !strstr(err, "secret"), "a password parameter too: %s", err);
	CHECK(store_open("postgres:///occ?host=/nonexistent", &st, err) == -1 && st == NULL &&
	      strstr(err, "cannot connect to postgres:///occ") && !strchr(err, '\n'),
	      "no server: one line naming the database: %s", err);
	CHECK(store_open("mysql://db.example/occ", &st, err) == -1 && strstr(err, "unknown database scheme 'mysql://'"),
	      "another scheme is an error, not a file: %s", err);
	CHECK(access("mysql:", F_OK) != 0, "and no file or directory was made for it");
	static const char *const names[][2] = {
		{"/var/lib/occasiond/occasiond.db", "/var/lib/occasiond/occasiond.db"},
		{"postgresql://occ:secret@db.example:5432/occ?sslmode=verify-full", "postgresql://db.example:5432/occ"},
		{"postgres://u@h/d#frag", "postgres://h/d"}, {"postgresql:///occ?host=/run/pg", "postgresql:///occ"},
		{"postgresql://a@b@h", "postgresql://h"},
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *got = store_safe_name(names[i][0]);
		CHECK(strcmp(got, names[i][1]) == 0, "safe name of %s: %s", names[i][1], got);
		free(got);
	}
	CHECK(store_present("postgresql://h/db") == 1, "a server database counts as present");
	CHECK(store_present("/nonexistent/occ.db") == 0, "a missing file does not");
}

/*
 * store_meta_get tells absent from a failure: a reminder is sent only for "absent". The meta
 * table renamed away under an open store (another process did it) is a failure, not absence.
 */
static void test_meta_error(void)
{
	struct store *st = NULL;
	char p[300], cmd[700], *v = (char *)"x";

	snprintf(p, sizeof p, "%s/meta.db", dir);
	CHECK(store_open(p, &st, err) == 0, "open (%s)", err);
	if (!st)
		return;
	CHECK(store_meta_set(st, "reminder:2026-12-01/Dana.pdf#3", "sent", err) == 0, "meta set (%s)", err);
	CHECK(store_meta_get(st, "reminder:2026-12-01/Dana.pdf#3", &v, err) == 0 && v && strcmp(v, "sent") == 0,
	      "meta get: 0 and the value");
	free(v);
	CHECK(store_meta_get(st, "reminder:other", &v, err) == 1 && !v, "absent: 1");
	snprintf(cmd, sizeof cmd, "sqlite3 -cmd '.timeout 60000' '%s' 'ALTER TABLE meta RENAME TO meta_gone'", p);
	CHECK(system(cmd) == 0, "another process renames the meta table");
	v = (char *)"x";
	CHECK(store_meta_get(st, "reminder:2026-12-01/Dana.pdf#3", &v, err) == -1 && !v,
	      "unreadable: -1, not absent");
	CHECK(strstr(err, "store: cannot read reminder:") && strstr(err, "meta"), "the message says what: %s", err);
	CHECK(store_meta_get(st, "reminder:other", &v, err) == -1, "an absent key cannot be told either: -1");
	CHECK(store_meta_set(st, "reminder:other", "sent", err) == -1, "nor written");
	store_close(st);
	unlink(p);
	snprintf(cmd, sizeof cmd, "%s-wal", p);
	unlink(cmd);
	snprintf(cmd, sizeof cmd, "%s-shm", p);
	unlink(cmd);
}

/* The dispatch record's states for the hand work (`mark`). */
static void test_mark(struct store *st)
{
	static const struct {
		enum dispatch_status from, to;
		enum channel ch;
		int ok;
	} cases[] = {
		{DS_RENDERED, DS_PRINTED, CH_CARD, 1}, {DS_RENDERED, DS_MAILED, CH_CARD, 1},
		{DS_PRINTED, DS_SIGNED, CH_CARD, 1}, {DS_SIGNED, DS_MAILED, CH_CARD, 1},
		{DS_PRINTED, DS_PRINTED, CH_CARD, 0}, {DS_SIGNED, DS_PRINTED, CH_CARD, 0},
		{DS_MAILED, DS_CANCELLED, CH_CARD, 0}, {DS_SIGNED, DS_CANCELLED, CH_CARD, 1},
		{DS_RENDERED, DS_CANCELLED, CH_CARD, 1}, {DS_FAILED, DS_CANCELLED, CH_CARD, 1},
		{DS_FAILED, DS_CANCELLED, CH_EMAIL, 1}, {DS_FAILED, DS_PRINTED, CH_CARD, 0},
		{DS_SKIPPED, DS_PRINTED, CH_CARD, 0}, {DS_CANCELLED, DS_PRINTED, CH_CARD, 0},
		{DS_SENT, DS_CANCELLED, CH_EMAIL, 0}, {DS_QUEUED, DS_PRINTED, CH_EMAIL, 0},
		{DS_PRINTED, DS_MAILED, CH_CARD, 1},
	};
	char date[16];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct dispatch_rec r, got;
		int claimed = 0, found = 0, rc;
		snprintf(date, sizeof date, "2027-01-%02zu", i + 1);
		rec_make(&r, "mark", "a-1", date, cases[i].ch, 1);
		r.status = cases[i].from;
		CHECK(store_claim(st, &r, &claimed, err) == 0 && claimed, "claim case %zu", i);
		rc = store_mark_dispatch(st, r.id, cases[i].to, err);
		CHECK((rc == 0) == cases[i].ok, "%s %s -> %s: %s (%s)", channel_names[cases[i].ch],
		      dispatch_status_names[cases[i].from], dispatch_status_names[cases[i].to],
		      cases[i].ok ? "allowed" : "refused", rc ? err : "ok");
		CHECK(store_get_dispatch(st, r.id, &got, &found, err) == 0 && found &&
		      got.status == (cases[i].ok ? cases[i].to : cases[i].from), "case %zu: the status stored", i);
		if (!cases[i].ok && cases[i].ch == CH_EMAIL && cases[i].from != DS_FAILED)
			CHECK(strstr(err, "is an email; only cards are marked") != NULL, "an email: %s", err);
		else if (!cases[i].ok)
			CHECK(strstr(err, "it cannot become") != NULL, "says why: %s", err);
		dispatch_rec_clear(&got);
		dispatch_rec_clear(&r);
	}
	CHECK(store_mark_dispatch(st, 999999, DS_PRINTED, err) == -1 && strcmp(err, "no dispatch with id 999999") == 0,
	      "an unknown id: %s", err);
	CHECK(store_mark_dispatch(st, 1, DS_SENT, err) == -1, "sent is no hand-work step");
	CHECK(store_begin(st, err) == 0, "no transaction was left open by mark (%s)", err);
	store_rollback(st);
}

/* The pass lock across two opens of one database; a waiter gives up when asked to stop. */
static int stop_now(void)
{
	return 1;
}

static void test_pass_lock(void)
{
	struct store *a = NULL, *b = NULL;
	CHECK(store_open(path, &a, err) == 0 && store_open(path, &b, err) == 0, "two opens (%s)", err);
	if (!a || !b) {
		store_close(a);
		store_close(b);
		return;
	}
	CHECK(store_pass_lock(a, NULL, err) == 0, "first takes the pass lock (%s)", err);
	CHECK(store_pass_lock(a, NULL, err) == 0, "taking it again is a no-op");
	CHECK(store_pass_lock(b, stop_now, err) == -1 && strstr(err, "stopped while waiting"),
	      "the second waits and gives up on stop: %s", err);
	store_pass_unlock(a);
	CHECK(store_pass_lock(b, stop_now, err) == 0, "free again after unlock (%s)", err);
	store_close(b);   /* closing releases it too */
	CHECK(store_pass_lock(a, stop_now, err) == 0, "free after the holder closed (%s)", err);
	store_pass_unlock(a);
	store_pass_unlock(a);
	store_pass_unlock(NULL);
	store_close(a);
}

/* The scan returns ids in bytewise order, with their own side rows. */
static void test_scan(struct store *st)
{
	struct store_scan *sc = NULL;
	const struct store_sh_row *row;
	char last[64] = "";
	int rc, n = 0, sorted = 1;
	for (int quick = 1; quick >= 0; quick--) {
		n = 0;
		last[0] = '\0';
		CHECK(store_scan_open(st, 1u << SH_FIRST_NAME, 1, 1, quick, &sc, err) == 0, "scan open (%s)", err);
		while ((rc = store_scan_next(sc, &row, err)) == 1) {
			sorted = sorted && strcmp(last, row->sh.f[SH_ID]) < 0;
			snprintf(last, sizeof last, "%s", row->sh.f[SH_ID]);
			n++;
		}
		CHECK(rc == 0 || (quick && rc == 2), "scan ends cleanly (%d: %s)", rc, rc < 0 ? err : "");
		store_scan_close(sc);
		sc = NULL;
	}
	CHECK(n >= 2 && sorted, "ids in bytewise order (%d rows)", n);
	store_scan_close(NULL);
}

/*
 * test_import_seen: the duplicate-id check over more ids than wait for one statement: a
 * repeat of an id that already went in, and one of an id still waiting (flushed first),
 * each with its first line; the rest new. Nothing is written (a dry run).
 */
static void test_import_seen(struct store *st)
{
	long first = 0;
	int bad = 0;
	CHECK(store_import_begin(st, STORE_IMPORT_DRY, err) == 0, "import for the duplicate check (%s)", err);
	for (int i = 0; i < 1000; i++) {
		char id[16];
		snprintf(id, sizeof id, "dup%04d", i);
		if (store_import_seen(st, id, i + 2, &first, err) != 0 || first != 0)
			bad++;
	}
	CHECK(bad == 0, "1,000 new ids are new (%d wrong)", bad);
	CHECK(store_import_seen(st, "dup0005", 1002, &first, err) == 0 && first == 7, "a repeat of an early id names its line (%ld)",
	      first);
	CHECK(store_import_seen(st, "dup0999", 1003, &first, err) == 0 && first == 1001,
	      "a repeat of an id still waiting names its line (%ld)", first);
	CHECK(store_import_seen(st, "dup1000", 1004, &first, err) == 0 && first == 0, "a new id after them is new");
	CHECK(store_import_end(st, 0, err) == 0, "the dry import ends");
}

static void cleanup(void)
{
	static const char *const files[] = {"sub/dir/o.db", "sub/dir/o.db-wal", "sub/dir/o.db-shm", "new.db",
	                                    "new.db-wal", "new.db-shm", "junk.db", "sub/dir/o.db.lock", "sub/dir", "sub"};
	char p[300];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		if (unlink(p) != 0)
			rmdir(p);
	}
	CHECK(rmdir(dir) == 0, "temp dir cleaned up");
}

int main(void)
{
	struct store *st = NULL;
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return check_done();
	}
	test_create_reopen();
	test_refused();
	test_backends();
	test_meta_error();
	CHECK(store_open(path, &st, err) == 0, "open for data tests (%s)", err);
	if (st) {
		test_stakeholders(st);
		test_events(st);
		test_dispatches(st);
		test_transactions(st);
		test_mark(st);
		test_scan(st);
		test_import_seen(st);
		store_close(st);
		test_pass_lock();
	}
	cleanup();
	return check_done();
}
