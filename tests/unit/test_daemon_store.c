/* The store calls the daemon relies on: change detection, retry times, trimming. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "occasiond/store.h"

static char dir[] = "/tmp/occ-dstore-XXXXXX";
static char path[256];
static char err[ERR_LEN];

static void rec_make(struct dispatch_rec *r, const char *who, enum dispatch_status status, int64_t next)
{
	memset(r, 0, sizeof *r);
	r->rule = xstrdup("note");
	r->stakeholder = xstrdup(who);
	r->occasion_date = xstrdup("2026-12-10");
	r->fire_date = xstrdup("2026-12-03");
	r->fire_at = 1796284800;
	r->channel = CH_EMAIL;
	r->status = status;
	r->next_attempt_at = next;
}

int main(void)
{
	struct store *daemon = NULL, *other = NULL;
	struct stakeholder sh;
	struct dispatch_rec r;
	int64_t v0, at;
	int claimed = 0;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/occasiond.db", dir);
	CHECK(store_open(path, &daemon, err) == 0, "open (%s)", err);
	CHECK(store_open(path, &other, err) == 0, "a second connection, as an import would have (%s)", err);

	v0 = store_data_version(daemon);
	CHECK(v0 >= 0, "data_version is a number (%lld)", (long long)v0);
	sh_make(&sh, "a1", "Ann");
	CHECK(store_put_stakeholder(daemon, &sh, err) == 0, "own write (%s)", err);
	CHECK(store_data_version(daemon) == v0, "data_version does not change for the connection's own commits");
	stakeholder_clear(&sh);
	sh_make(&sh, "b2", "Ann");
	CHECK(store_put_stakeholder(other, &sh, err) == 0, "another connection's write (%s)", err);
	CHECK(store_data_version(daemon) != v0, "data_version changes when another connection commits");
	stakeholder_clear(&sh);

	CHECK(store_next_retry(daemon, &at, err) == 0 && at == INT64_MAX, "no retry record: INT64_MAX");
	rec_make(&r, "a1", DS_SENT, 0);
	CHECK(store_claim(daemon, &r, &claimed, err) == 0 && claimed, "a sent record (%s)", err);
	dispatch_rec_clear(&r);
	rec_make(&r, "b2", DS_QUEUED, 0);
	CHECK(store_claim(daemon, &r, &claimed, err) == 0 && claimed, "a claimed record (%s)", err);
	r.status = DS_RETRY;
	r.next_attempt_at = 1796285100;
	CHECK(store_update_dispatch(daemon, &r, err) == 0, "moved to retry (%s)", err);
	dispatch_rec_clear(&r);
	CHECK(store_next_retry(daemon, &at, err) == 0 && at == 1796285100, "the earliest retry time (%lld)", (long long)at);

	store_trim(daemon, 64);
	CHECK(store_data_version(daemon) >= 0, "the store still answers after store_trim");

	store_close(other);
	store_close(daemon);
	unlink(path);
	{
		char wal[300];
		snprintf(wal, sizeof wal, "%s-wal", path);
		unlink(wal);
		snprintf(wal, sizeof wal, "%s-shm", path);
		unlink(wal);
	}
	rmdir(dir);
	return check_done();
}
