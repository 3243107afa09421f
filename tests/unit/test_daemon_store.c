/* The store calls the daemon relies on: the change watch, retry times, trimming. */
#include <poll.h>
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
	int64_t at;
	int claimed = 0, fd, rc;
	struct pollfd pfd;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/occasiond.db", dir);
	CHECK(store_open(path, &daemon, err) == 0, "open (%s)", err);
	CHECK(store_open(path, &other, err) == 0, "a second connection, as an import would have (%s)", err);

	fd = store_watch_fd(daemon, err);
	CHECK(fd >= 0, "a descriptor to poll (%s)", err);
	CHECK(store_watch_fd(daemon, err) == fd, "the same one when asked again");
	store_watch_mark(daemon);
	CHECK(store_changed(daemon) == 0, "nothing moved yet");
	sh_make(&sh, "a1", "Ann");
	CHECK(store_put_stakeholder(daemon, &sh, err) == 0, "own write (%s)", err);
	rc = store_changed(daemon);
	CHECK(rc == 0 || rc == 2, "the store's own commits do not count (%d)", rc);
	CHECK(store_changed(daemon) == 0, "and a second look finds nothing either");
	stakeholder_clear(&sh);
	sh_make(&sh, "b2", "Ann");
	CHECK(store_put_stakeholder(other, &sh, err) == 0, "another connection's write (%s)", err);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	CHECK(poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLIN), "the descriptor wakes a poll");
	CHECK(store_changed(daemon) == 1, "another process committed");
	CHECK(store_changed(daemon) == 1, "and stays so until the next mark");
	store_watch_mark(daemon);
	CHECK(store_changed(daemon) == 0, "after the mark: nothing new");
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
	CHECK(store_next_retry(daemon, &at, err) == 0, "the store still answers after store_trim (%s)", err);

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
