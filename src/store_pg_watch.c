/*
 * store_pg_watch: the PostgreSQL backend's change watch: LISTEN on a connection of its own,
 * whose socket the daemon polls; every commit that wrote something sends NOTIFY, and the
 * notifications of this process's own main connection do not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "store_pg_int.h"

/*
 * listen_start: (re)connects the watch's connection and puts its socket at st->watch, the
 * number handed out, which stays the same across reconnections. 0, or -1 with why.
 */
static int listen_start(struct store_be *st, char why[ERR_LEN])
{
	PGresult *r;
	PQfinish(st->listen);
	if (!(st->listen = pgi_connect(st->uri, st->name, why)))
		return -1;
	r = PQexec(st->listen, "LISTEN " PG_CHANNEL);
	if (!pgi_ok(st->listen, r, why))
		goto fail;
	PQclear(r);
	if (PQsetnonblocking(st->listen, 1) != 0) {
		pgi_conn_err(st->listen, why);
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

int pgi_watch_fd(struct store_be *st, char why[ERR_LEN])
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

void pgi_watch_mark(struct store_be *st)
{
	if (st->watch >= 0 && drain(st) < 0)
		watch_lost(st);
	st->seen = 0;
}

int pgi_changed(struct store_be *st)
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

void pgi_watch_free(struct store_be *st)
{
	PQfinish(st->listen);
	if (st->watch >= 0)
		close(st->watch);
	for (int i = 0; i < 2; i++)
		if (st->quiet[i] >= 0)
			close(st->quiet[i]);
}
