/*
 * mail: delivery. This part is the maildir writer: the message goes to tmp/NAME (created
 * exclusively, written, fsync'd), then to new/NAME without ever replacing an existing
 * file, then the directory is synced. A reader of new/ sees a whole message or nothing.
 * A chunk does the same for many messages with one sync of new/ (and the files' syncs
 * together): every file is written, then every file synced, then each moved, then new/
 * synced once; only then is any of them delivered (the files are synced by one syncfs).
 * SMTP through libcurl comes later.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "occasiond/mail.h"
#include "occasiond/mime.h"

#define MAILDIR_NAME_MAX 200

/* A safe maildir file name: [A-Za-z0-9._,:=-], no leading dot, 1..200 bytes. */
static int maildir_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > MAILDIR_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._,:=-", c)))
			return 0;
	}
	return 1;
}

/* open_subdir: maildir/sub, created 0750 when missing; a symlink there is refused. */
static int open_subdir(int dfd, const char *maildir, const char *sub, char err[ERR_LEN])
{
	int fd;
	if (mkdirat(dfd, sub, 0750) != 0 && errno != EEXIST) {
		err_set(err, "cannot create %s/%s: %s", maildir, sub, strerror(errno));
		return -1;
	}
	fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		err_set(err, "cannot open %s/%s: %s", maildir, sub, strerror(errno));
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * move_noreplace: tmp/NAME -> new/NAME, failing with EEXIST when new/NAME exists (also
 * when it is a dangling symlink: neither call follows it). renameat2 first; link() and
 * unlink() where the file system has no RENAME_NOREPLACE.
 */
static int move_noreplace(int tfd, int nfd, const char *name)
{
	if (renameat2(tfd, name, nfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(tfd, name, nfd, name, 0) != 0)
		return -1;
	unlinkat(tfd, name, 0);
	return 0;
}

/* One message of a chunk: its name, its file in tmp/ while staged, and its outcome. */
struct chunk_msg {
	char *name;
	int fd;                 /* open on tmp/NAME until synced, else -1 */
	int state;              /* CM_STAGED, CM_MOVED, CM_DONE or CM_FAILED */
	char err[ERR_LEN];
};
enum { CM_STAGED, CM_MOVED, CM_DONE, CM_FAILED };

struct maildir_chunk {
	char *maildir;
	int dfd, tfd, nfd;
	struct chunk_msg *m;
	size_t n, cap;
	int committed;
};

int mail_maildir_chunk_open(const char *maildir, struct maildir_chunk **out, char err[ERR_LEN])
{
	struct maildir_chunk *c = xcalloc(1, sizeof *c);
	int cfd = -1;
	*out = NULL;
	c->dfd = c->tfd = c->nfd = -1;
	c->maildir = xstrdup(maildir);
	/* The maildir is there but for the first message: make it only then (a pass delivers thousands). */
	c->dfd = open(maildir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dfd < 0 && errno == ENOENT) {
		if (util_mkdirs(maildir, err) != 0)
			goto fail;
		c->dfd = open(maildir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (c->dfd < 0) {
		err_set(err, "cannot open %s: %s", maildir, strerror(errno));
		goto fail;
	}
	if ((c->tfd = open_subdir(c->dfd, maildir, "tmp", err)) < 0 || (c->nfd = open_subdir(c->dfd, maildir, "new", err)) < 0 ||
	    (cfd = open_subdir(c->dfd, maildir, "cur", err)) < 0)
		goto fail;
	close(cfd);
	*out = c;
	return 0;
fail:
	mail_maildir_chunk_close(c);
	return -1;
}

long mail_maildir_chunk_add(struct maildir_chunk *c, const char *name, const char *msg, size_t len, char err[ERR_LEN])
{
	struct stat st;
	int fd;
	if (c->committed)
		return err_set(err, "internal: a maildir chunk takes no message after its commit");
	if (!maildir_name_ok(name))
		return err_set(err, "bad maildir file name '%.64s'", name ? name : "");
	if (fstatat(c->nfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return err_set(err, "%s/new/%s already exists", c->maildir, name);
	fd = openat(c->tfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 && errno == EEXIST) {
		/* A leftover of a delivery that died half-way (names are unique per message). */
		unlinkat(c->tfd, name, 0);
		fd = openat(c->tfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return err_set(err, "cannot create %s/tmp/%s: %s", c->maildir, name, strerror(errno));
	if (write_all(fd, msg, len) != 0) {
		err_set(err, "cannot write %s/tmp/%s: %s", c->maildir, name, strerror(errno));
		close(fd);
		unlinkat(c->tfd, name, 0);
		return -1;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->m = xrealloc(c->m, c->cap * sizeof *c->m);
	}
	memset(&c->m[c->n], 0, sizeof c->m[c->n]);
	c->m[c->n].name = xstrdup(name);
	c->m[c->n].fd = fd;
	c->m[c->n].state = CM_STAGED;
	return (long)c->n++;
}

enum { CF_WRITE, CF_MOVE };
/* chunk_fail: message m failed (errno says why; its file is not left in tmp/). */
static void chunk_fail(struct maildir_chunk *c, struct chunk_msg *m, int what)
{
	if (what == CF_WRITE)
		err_set(m->err, "cannot write %s/tmp/%s: %s", c->maildir, m->name, strerror(errno));
	else if (errno == EEXIST)
		err_set(m->err, "%s/new/%s already exists", c->maildir, m->name);
	else
		err_set(m->err, "cannot move %s/tmp/%s to new/: %s", c->maildir, m->name, strerror(errno));
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->state == CM_STAGED)
		unlinkat(c->tfd, m->name, 0);
	m->state = CM_FAILED;
}

size_t mail_maildir_chunk_commit(struct maildir_chunk *c)
{
	size_t moved = 0, done = 0;
	if (c->committed)
		return 0;
	c->committed = 1;
	/*
	 * Every file of the chunk durable in tmp/ first: a file in new/ is a whole message. One
	 * syncfs for the chunk rather than a fsync a file: it also waits for whatever else is dirty
	 * on that file system, and still measured faster here (bench/RESULTS.md: the 1,000,000
	 * bench's 15,054 emails, about 6.3 s with a fsync a file, 4.8 s with a syncfs a chunk, on
	 * a shared 2-core machine). When it fails, each file is synced on its own, so that the
	 * error names the file.
	 */
	int synced = c->n > 0 && syncfs(c->tfd) == 0;
	for (size_t i = 0; i < c->n; i++) {
		struct chunk_msg *m = &c->m[i];
		if (!synced && fsync(m->fd) != 0) {
			chunk_fail(c, m, CF_WRITE);
			continue;
		}
		if (close(m->fd) != 0) {
			m->fd = -1;
			chunk_fail(c, m, CF_WRITE);
			continue;
		}
		m->fd = -1;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct chunk_msg *m = &c->m[i];
		if (m->state != CM_STAGED)
			continue;
		if (move_noreplace(c->tfd, c->nfd, m->name) != 0) {
			chunk_fail(c, m, CF_MOVE);
			continue;
		}
		m->state = CM_MOVED;
		moved++;
	}
	/*
	 * new/ is synced once for the chunk, so its messages survive a crash. tmp/ is not: a
	 * rename is one change of the file system (journalled together on ext4 and XFS), and a
	 * name left in tmp/ by a crash anyway is a leftover that maildir readers clean and a new
	 * delivery replaces.
	 */
	if (moved && fsync(c->nfd) != 0) {
		char e[ERR_LEN];
		err_set(e, "cannot sync %s/new: %s", c->maildir, strerror(errno));
		for (size_t i = 0; i < c->n; i++)
			if (c->m[i].state == CM_MOVED) {
				/* Left in new/: the next attempt finds it there and records it sent then. */
				util_strlcpy(c->m[i].err, e, sizeof c->m[i].err);
				c->m[i].state = CM_FAILED;
			}
		return 0;
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->m[i].state == CM_MOVED) {
			c->m[i].state = CM_DONE;
			done++;
		}
	return done;
}

const char *mail_maildir_chunk_error(const struct maildir_chunk *c, size_t i)
{
	if (i >= c->n)
		return "internal: no such message in the chunk";
	if (c->m[i].state == CM_DONE)
		return NULL;
	return c->m[i].state == CM_FAILED ? c->m[i].err : "not committed";
}

void mail_maildir_chunk_close(struct maildir_chunk *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		/* Staged and never committed: nothing of it is left in tmp/. */
		if (c->m[i].fd >= 0)
			close(c->m[i].fd);
		if (c->m[i].state == CM_STAGED)
			unlinkat(c->tfd, c->m[i].name, 0);
		free(c->m[i].name);
	}
	free(c->m);
	if (c->nfd >= 0)
		close(c->nfd);
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->dfd >= 0)
		close(c->dfd);
	free(c->maildir);
	free(c);
}

int mail_maildir_sync(const char *maildir, char err[ERR_LEN])
{
	char *p = xasprintf("%s/new", maildir);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
	if (fd < 0 || fsync(fd) != 0)
		rc = err_set(err, "cannot sync %s: %s", p, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

int mail_maildir_deliver(const char *maildir, const char *name, const char *msg, size_t len,
                         char **path_out, char err[ERR_LEN])
{
	struct maildir_chunk *c = NULL;
	const char *e;
	int rc = -1;
	if (path_out)
		*path_out = NULL;
	if (!maildir_name_ok(name))
		return err_set(err, "bad maildir file name '%.64s'", name ? name : "");
	if (mail_maildir_chunk_open(maildir, &c, err) != 0 || mail_maildir_chunk_add(c, name, msg, len, err) < 0)
		goto out;
	mail_maildir_chunk_commit(c);
	if ((e = mail_maildir_chunk_error(c, 0)) != NULL) {
		util_strlcpy(err, e, ERR_LEN);
		goto out;
	}
	if (path_out)
		*path_out = xasprintf("%s/new/%s", maildir, name);
	rc = 0;
out:
	mail_maildir_chunk_close(c);
	return rc;
}

/* mail_maildir_has: new/NAME, or cur/NAME with or without the ":2,FLAGS" a reader adds. */
int mail_maildir_has(const char *maildir, const char *name)
{
	char *p;
	struct stat st;
	DIR *d;
	struct dirent *e;
	size_t n;
	int found;
	if (!maildir || !maildir_name_ok(name))
		return 0;
	p = xasprintf("%s/new/%s", maildir, name);
	found = lstat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	if (found)
		return 1;
	p = xasprintf("%s/cur", maildir);
	d = opendir(p);
	free(p);
	if (!d)
		return 0;
	n = strlen(name);
	while (!found && (e = readdir(d)) != NULL)
		found = strncmp(e->d_name, name, n) == 0 && (e->d_name[n] == '\0' || e->d_name[n] == ':');
	closedir(d);
	return found;
}

/* ---- common to both transports ---- */

int mail_password_check(const char *path, char err[ERR_LEN])
{
	struct stat st;
	if (stat(path, &st) != 0)
		return err_set(err, "cannot use %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, "%s is not a regular file", path);
	if (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))
		return err_set(err, "%s is readable or writable by group or others (mode %04o); chmod 600 it",
		               path, (unsigned)(st.st_mode & 07777));
	return 0;
}

int mail_addr_envelope_ok(const char *addr)
{
	/* mime_addr_valid allows only atext, dots, LDH labels and one '@': no CR, LF, NUL,
	 * space, '<', '>' or ',' can reach a MAIL FROM or RCPT TO line. */
	return addr && !util_has_ctl(addr, "") && mime_addr_valid(addr);
}
