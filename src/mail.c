/*
 * mail: delivery. This part is the maildir writer: the message goes to tmp/NAME (created
 * exclusively, written, fsync'd), then to new/NAME without ever replacing an existing
 * file, then the directory is synced. A reader of new/ sees a whole message or nothing.
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

int mail_maildir_deliver(const char *maildir, const char *name, const char *msg, size_t len,
                         char **path_out, char err[ERR_LEN])
{
	int dfd = -1, tfd = -1, nfd = -1, cfd = -1, fd = -1, rc = -1, created = 0;
	struct stat st;
	if (path_out)
		*path_out = NULL;
	if (!maildir_name_ok(name))
		return err_set(err, "bad maildir file name '%.64s'", name ? name : "");
	/* The maildir is there but for the first message: make it only then (a pass delivers thousands). */
	dfd = open(maildir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		if (util_mkdirs(maildir, err) != 0)
			return -1;
		dfd = open(maildir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (dfd < 0) {
		err_set(err, "cannot open %s: %s", maildir, strerror(errno));
		goto out;
	}
	if ((tfd = open_subdir(dfd, maildir, "tmp", err)) < 0 || (nfd = open_subdir(dfd, maildir, "new", err)) < 0 ||
	    (cfd = open_subdir(dfd, maildir, "cur", err)) < 0)
		goto out;
	if (fstatat(nfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		err_set(err, "%s/new/%s already exists", maildir, name);
		goto out;
	}
	fd = openat(tfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 && errno == EEXIST) {
		/* A leftover of a delivery that died half-way (names are unique per message). */
		unlinkat(tfd, name, 0);
		fd = openat(tfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	}
	if (fd < 0) {
		err_set(err, "cannot create %s/tmp/%s: %s", maildir, name, strerror(errno));
		goto out;
	}
	created = 1;
	if (write_all(fd, msg, len) != 0 || fsync(fd) != 0) {
		err_set(err, "cannot write %s/tmp/%s: %s", maildir, name, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		err_set(err, "cannot write %s/tmp/%s: %s", maildir, name, strerror(errno));
		goto out;
	}
	fd = -1;
	if (move_noreplace(tfd, nfd, name) != 0) {
		err_set(err, errno == EEXIST ? "%s/new/%s already exists" : "cannot move %s/tmp/%s to new/: %s",
		        maildir, name, strerror(errno));
		goto out;
	}
	created = 0;
	/*
	 * new/ is synced, so the message survives a crash. tmp/ is not: the rename is one change
	 * of the file system (journalled together on ext4 and XFS), and a name left in tmp/ by a
	 * crash anyway is a leftover that maildir readers clean and a new delivery replaces.
	 */
	if (fsync(nfd) != 0) {
		err_set(err, "cannot sync %s/new: %s", maildir, strerror(errno));
		goto out;
	}
	if (path_out)
		*path_out = xasprintf("%s/new/%s", maildir, name);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlinkat(tfd, name, 0);
	if (cfd >= 0)
		close(cfd);
	if (nfd >= 0)
		close(nfd);
	if (tfd >= 0)
		close(tfd);
	if (dfd >= 0)
		close(dfd);
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
