/*
 * store_sqlite_watch: the SQLite backend's change watch, which tells the daemon that another
 * process committed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "store_sqlite_int.h"

/*
 * inotify on the database's directory: another process's commit writes the database or its
 * -wal file (created and removed there), and PRAGMA data_version, which moves only for
 * other connections' commits, tells a foreign commit from our own writes.
 */
static int64_t data_version(struct store_be *st)
{
	char why[ERR_LEN];
	int v = 0;
	return sqi_pragma_int(st, "PRAGMA data_version", &v, why) == 0 ? v : -1;
}

int sqi_watch_fd(struct store_be *st, char why[ERR_LEN])
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

void sqi_watch_mark(struct store_be *st)
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

int sqi_changed(struct store_be *st)
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

void sqi_watch_free(struct store_be *st)
{
	if (st->ino >= 0)
		close(st->ino);
	free(st->base);
}
