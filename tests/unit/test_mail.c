/* Tests for mail: the maildir writer. */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "occasiond/mail.h"
#include "occasiond/util.h"
#include "check.h"

static char root[] = "/tmp/test_mail.XXXXXX";

static char *path2(const char *a, const char *b)
{
	return xasprintf("%s/%s", a, b);
}

/* count_entries: entries of dir other than . and .., or -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	char *s = NULL, err[ERR_LEN];
	if (util_read_file(path, 1 << 24, &s, NULL, err) != 0)
		return NULL;
	return s;
}

static int spit(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(s, f);
	return fclose(f);
}

static void test_deliver(void)
{
	char err[ERR_LEN], *md = xasprintf("%s/spool/outbox", root), *p, *got, *tmp = path2(md, "tmp");
	const char *msg = "Subject: hi\r\n\r\nbody\r\n";
	struct stat st;

	CHECK(mail_maildir_deliver(md, "1735689600.d42.occasiond", msg, strlen(msg), &p, err) == 0,
	      "deliver into a new maildir%s%s", p ? "" : ": ", p ? "" : err);
	CHECK(p && strcmp(p, "") && strstr(p, "/new/1735689600.d42.occasiond"), "path_out names new/NAME");
	got = p ? slurp(p) : NULL;
	CHECK_STR(got, msg, "delivered bytes intact");
	free(got);
	free(p);
	CHECK(count_entries(tmp) == 0, "tmp/ empty afterwards");
	for (int i = 0; i < 3; i++) {
		char *d = path2(md, (const char *[]){"tmp", "new", "cur"}[i]);
		CHECK(lstat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777 & ~0750u) == 0,
		      "%s/ created, no wider than 0750", (const char *[]){"tmp", "new", "cur"}[i]);
		free(d);
	}
	CHECK(mail_maildir_has(md, "1735689600.d42.occasiond") == 1, "mail_maildir_has finds it in new/");
	CHECK(mail_maildir_has(md, "1735689600.d43.occasiond") == 0, "mail_maildir_has: other name absent");
	CHECK(mail_maildir_has(md, "../x") == 0, "mail_maildir_has: bad name is 0");

	/* no overwrite */
	err[0] = '\0';
	CHECK(mail_maildir_deliver(md, "1735689600.d42.occasiond", "X", 1, &p, err) == -1 && p == NULL,
	      "second delivery of the same name refused");
	CHECK(strstr(err, "already exists") != NULL, "  error says so: %s", err);
	p = xasprintf("%s/new/1735689600.d42.occasiond", md);
	got = slurp(p);
	CHECK_STR(got, msg, "  first message unchanged");
	free(got);
	free(p);
	CHECK(count_entries(tmp) == 0, "  tmp/ still empty");

	/* a reader moved it to cur/ with flags */
	{
		char *from = xasprintf("%s/new/1735689600.d42.occasiond", md);
		char *to = xasprintf("%s/cur/1735689600.d42.occasiond:2,S", md);
		CHECK(rename(from, to) == 0 && mail_maildir_has(md, "1735689600.d42.occasiond") == 1,
		      "mail_maildir_has finds cur/NAME:2,S");
		CHECK(mail_maildir_has(md, "1735689600.d4") == 0, "  but not a prefix of it");
		free(from);
		free(to);
	}

	/* a large message, path_out NULL */
	{
		size_t n = 3u << 20;
		char *big = xmalloc(n + 1), *bp;
		for (size_t i = 0; i < n; i++)
			big[i] = (char)('a' + i % 26);
		big[n] = '\0';
		CHECK(mail_maildir_deliver(md, "big", big, n, NULL, err) == 0, "3 MB message delivered");
		bp = xasprintf("%s/new/big", md);
		got = slurp(bp);
		CHECK(got && strcmp(got, big) == 0, "  intact");
		free(got);
		free(bp);
		free(big);
	}
	free(md);
	free(tmp);
}

static void test_symlinks(void)
{
	char err[ERR_LEN], *md = xasprintf("%s/md2", root), *target = xasprintf("%s/target", root);
	char *link_new, *dangling = xasprintf("%s/never-created", root), *got, *tmp;
	struct stat st;

	CHECK(mail_maildir_deliver(md, "first", "a", 1, NULL, err) == 0, "maildir md2 set up");
	CHECK(spit(target, "precious\n") == 0, "target file written");

	link_new = xasprintf("%s/new/planted", md);
	CHECK(symlink(target, link_new) == 0, "symlink planted at new/planted");
	CHECK(mail_maildir_deliver(md, "planted", "EVIL", 4, NULL, err) == -1, "delivery over a planted symlink refused");
	got = slurp(target);
	CHECK_STR(got, "precious\n", "  symlink target untouched");
	free(got);
	CHECK(lstat(link_new, &st) == 0 && S_ISLNK(st.st_mode), "  symlink left as it was");
	free(link_new);

	link_new = xasprintf("%s/new/dangling", md);
	CHECK(symlink(dangling, link_new) == 0, "dangling symlink planted at new/dangling");
	CHECK(mail_maildir_deliver(md, "dangling", "EVIL", 4, NULL, err) == -1, "delivery over a dangling symlink refused");
	CHECK(lstat(dangling, &st) != 0, "  its target was not created");
	CHECK(mail_maildir_has(md, "dangling") == 0, "  mail_maildir_has does not count a symlink");
	free(link_new);

	/* A symlink (or stale file) left in tmp/: replaced, never written through. */
	link_new = xasprintf("%s/tmp/stale", md);
	CHECK(symlink(target, link_new) == 0, "symlink planted at tmp/stale");
	err[0] = '\0';
	CHECK(mail_maildir_deliver(md, "stale", "fresh", 5, NULL, err) == 0, "delivery despite a symlink in tmp/: %s",
	      err);
	got = slurp(target);
	CHECK_STR(got, "precious\n", "  symlink target untouched");
	free(got);
	free(link_new);
	link_new = xasprintf("%s/new/stale", md);
	got = slurp(link_new);
	CHECK(got && strcmp(got, "fresh") == 0 && lstat(link_new, &st) == 0 && S_ISREG(st.st_mode),
	      "  new/stale is the fresh regular file");
	free(got);
	free(link_new);
	tmp = xasprintf("%s/tmp", md);
	CHECK(count_entries(tmp) == 0, "tmp/ empty after all of it");
	free(tmp);

	/* The maildir itself, or tmp/ inside it, as a symlink: refused. */
	{
		char *lmd = xasprintf("%s/md-link", root), *real = xasprintf("%s/md-real", root), *t2;
		CHECK(mkdir(real, 0750) == 0 && symlink(real, lmd) == 0, "symlinked maildir set up");
		CHECK(mail_maildir_deliver(lmd, "x", "x", 1, NULL, err) == -1, "maildir that is a symlink refused: %s", err);
		CHECK(count_entries(real) == 0, "  nothing written through it");
		t2 = xasprintf("%s/tmp", real);
		CHECK(symlink(root, t2) == 0, "tmp/ as a symlink set up");
		CHECK(mail_maildir_deliver(real, "y", "y", 1, NULL, err) == -1, "tmp/ that is a symlink refused: %s", err);
		free(t2);
		free(lmd);
		free(real);
	}
	free(md);
	free(target);
	free(dangling);
}

static void test_names(void)
{
	static const char *const bad[] = {"", ".hidden", "a/b", "../x", "a b", "a\nb", "a\rb", "new/x", "*", "a;b", "\xc3\xab"};
	char err[ERR_LEN], *md = xasprintf("%s/md3", root), longname[202];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		CHECK(mail_maildir_deliver(md, bad[i], "x", 1, NULL, err) == -1 && strstr(err, "bad maildir file name"),
		      "bad name [%zu] refused", i);
	}
	CHECK(mail_maildir_deliver(md, NULL, "x", 1, NULL, err) == -1, "NULL name refused");
	memset(longname, 'n', 201);
	longname[201] = '\0';
	CHECK(mail_maildir_deliver(md, longname, "x", 1, NULL, err) == -1, "201-byte name refused");
	longname[200] = '\0';
	CHECK(mail_maildir_deliver(md, longname, "x", 1, NULL, err) == 0, "200-byte name accepted");
	CHECK(mail_maildir_deliver(md, "1735689600.M1P2Q3.host,S=12:2,", "x", 1, NULL, err) == 0,
	      "name with . , : = accepted");
	free(md);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_deliver();
	test_symlinks();
	test_names();
	CHECK(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "temp tree removed");
	return check_done();
}
