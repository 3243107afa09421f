/* Tests for mail: the maildir writer; SMTP envelope checks, password file, outcomes and dot-stuffing. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* A chunk: every message in tmp/ until the commit, then in new/; one failure leaves the rest. */
static void test_chunk(void)
{
	char err[ERR_LEN] = "", *md = xasprintf("%s/chunked", root), *p;
	struct maildir_chunk *c = NULL;
	long k0, k1, k2;
	struct stat st;

	CHECK(mail_maildir_chunk_open(md, &c, err) == 0, "chunk opened on a new maildir: %s", err);
	CHECK(mail_maildir_deliver(md, "taken", "x", 1, NULL, err) == 0, "a message already delivered");
	k0 = mail_maildir_chunk_add(c, "c0", "zero", 4, err);
	k1 = mail_maildir_chunk_add(c, "taken", "again", 5, err);
	CHECK(k1 == -1 && strstr(err, "/new/taken already exists"), "an existing new/NAME is refused: %s", err);
	k2 = mail_maildir_chunk_add(c, "c2", "two", 3, err);
	CHECK(k0 == 0 && k2 == 1, "the chunk's indexes are 0 and 1 (%ld, %ld)", k0, k2);
	p = xasprintf("%s/tmp/c0", md);
	CHECK(stat(p, &st) == 0 && st.st_size == 4, "before the commit the message is in tmp/");
	free(p);
	CHECK(mail_maildir_has(md, "c0") == 0, "  and not delivered");
	CHECK(mail_maildir_chunk_commit(c) == 2, "the commit delivers both");
	CHECK(mail_maildir_chunk_error(c, 0) == NULL && mail_maildir_chunk_error(c, 1) == NULL, "  each without error");
	CHECK(mail_maildir_has(md, "c0") == 1 && mail_maildir_has(md, "c2") == 1, "  both in new/");
	p = xasprintf("%s/tmp/c0", md);
	CHECK(stat(p, &st) != 0, "  and nothing left in tmp/");
	free(p);
	CHECK(mail_maildir_chunk_add(c, "late", "x", 1, err) == -1, "no message after the commit");
	mail_maildir_chunk_close(c);

	/* Closed without a commit: nothing delivered, nothing left in tmp/. */
	CHECK(mail_maildir_chunk_open(md, &c, err) == 0 && mail_maildir_chunk_add(c, "gone", "x", 1, err) == 0,
	      "a second chunk with one message");
	mail_maildir_chunk_close(c);
	p = xasprintf("%s/tmp/gone", md);
	CHECK(stat(p, &st) != 0 && mail_maildir_has(md, "gone") == 0, "closed uncommitted: nothing in tmp/ or new/");
	free(p);
	err[0] = '\0';
	CHECK(mail_maildir_sync(md, err) == 0, "mail_maildir_sync syncs new/%s", err);
	free(md);
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

static void test_password_file(void)
{
	char err[ERR_LEN], *pw = path2(root, "pw"), *dir = path2(root, "pwdir");
	CHECK(spit(pw, "secret\n") == 0 && chmod(pw, 0600) == 0, "password file written");
	CHECK(mail_password_check(pw, err) == 0, "0600 password file accepted");
	chmod(pw, 0640);
	CHECK(mail_password_check(pw, err) == -1 && strstr(err, "0640"), "0640 refused: %s", err);
	chmod(pw, 0604);
	CHECK(mail_password_check(pw, err) == -1, "0604 refused");
	chmod(pw, 0620);
	CHECK(mail_password_check(pw, err) == -1, "0620 (group-writable) refused");
	chmod(pw, 0600);
	mkdir(dir, 0700);
	CHECK(mail_password_check(dir, err) == -1, "a directory refused");
	CHECK(mail_password_check("/nonexistent/pw", err) == -1, "a missing file refused");
	free(pw);
	free(dir);
}

static void test_envelope(void)
{
	static const char *const bad[] = {
		"", "a@b.example\r\nRCPT TO:<evil@x.example>", "a@b.example\n", "a b@c.example", "<a@b.example>",
		"a@b.example>", "a@b.example, c@d.example", "a@@b.example", "a@b@c.example", "a@b.example\x7f",
		"\"quoted\"@b.example", "a@[127.0.0.1]", "a@-b.example", "a@b..example", "a@b.123", NULL
	};
	CHECK(mail_addr_envelope_ok("zoe.o'neil+tag@mail.example.co.uk"), "a plain address passes");
	CHECK(mail_addr_envelope_ok("root@localhost"), "root@localhost passes");
	CHECK(!mail_addr_envelope_ok(NULL), "NULL refused");
	for (int i = 0; bad[i]; i++)
		CHECK(!mail_addr_envelope_ok(bad[i]), "envelope address %d refused", i);
}

/*
 * A minimal SMTP server in a child process: one connection, logs each command line to
 * LOG, writes the raw DATA bytes (up to and with the final ".") to RAW.
 */
static void tiny_server(int ls, const char *log, const char *raw, int reply_after_data)
{
	int c = accept(ls, NULL, NULL);
	FILE *in, *lf = fopen(log, "w");
	char line[1024];
	if (c < 0 || !lf)
		_exit(1);
	setvbuf(lf, NULL, _IONBF, 0);
	in = fdopen(dup(c), "r");
	dprintf(c, "220 tiny ESMTP\r\n");
	while (fgets(line, sizeof line, in)) {
		fputs(line, lf);
		if (strncmp(line, "EHLO", 4) == 0) {
			dprintf(c, "250 tiny\r\n");
		} else if (strncmp(line, "DATA", 4) == 0) {
			FILE *rf = fopen(raw, "wb");
			char prev[8] = "";
			int ch;
			dprintf(c, "354 go ahead\r\n");
			/* Read up to CRLF "." CRLF. */
			while ((ch = fgetc(in)) != EOF) {
				fputc(ch, rf);
				memmove(prev, prev + 1, 4);
				prev[4] = (char)ch;
				if (memcmp(prev, "\r\n.\r\n", 5) == 0)
					break;
			}
			fclose(rf);
			if (!reply_after_data)
				_exit(0);
			dprintf(c, "250 2.0.0 queued\r\n");
		} else if (strncmp(line, "QUIT", 4) == 0) {
			dprintf(c, "221 bye\r\n");
			break;
		} else {
			dprintf(c, "250 ok\r\n");
		}
	}
	_exit(0);
}

struct data_probe {
	const char *log;
	int calls;
	int saw_data;
};

static int probe_on_data(void *arg)
{
	struct data_probe *d = arg;
	char *s = slurp(d->log);
	d->calls++;
	d->saw_data = s && strstr(s, "DATA\r\n") != NULL;
	free(s);
	return 0;
}

static int start_tiny(const char *log, const char *raw, int reply_after_data, int *port, pid_t *pid)
{
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	fflush(stdout);
	*pid = fork();
	if (*pid == 0)
		tiny_server(ls, log, raw, reply_after_data);
	close(ls);
	return *pid > 0 ? 0 : -1;
}

static void test_smtp(void)
{
	struct config cfg;
	struct mail_smtp *s = NULL;
	struct mail_result res;
	struct data_probe probe = {0};
	char err[ERR_LEN], url[64], *log = path2(root, "smtp.log"), *raw = path2(root, "smtp.raw"), *got;
	const char *rcpt[] = {"zoe@example.com"}, *bad_rcpt[] = {"zoe@example.com\r\nRCPT TO:<evil@x.example>"};
	const char *msg = "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nend\r\n";
	int port, st;
	pid_t pid;

	memset(&cfg, 0, sizeof cfg);
	cfg.smtp.tls = TLS_NONE;
	cfg.smtp.timeout_secs = 5;
	cfg.smtp.rate_per_minute = 0;
	if (start_tiny(log, raw, 1, &port, &pid) != 0) {
		CHECK(0, "tiny SMTP server started");
		return;
	}
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
	cfg.smtp.url = url;
	CHECK(mail_smtp_open(&cfg, &s, err) == 0, "session opened%s%s", s ? "" : ": ", s ? "" : err);
	if (!s)
		return;
	CHECK(mail_smtp_send(s, "team@acme.example", bad_rcpt, 1, msg, strlen(msg), NULL, NULL, &res) == MAIL_FAILED,
	      "a recipient with CR/LF is refused before anything goes out: %s", res.err);
	probe.log = log;
	CHECK(mail_smtp_send(s, "team@acme.example", rcpt, 1, msg, strlen(msg), probe_on_data, &probe, &res) == MAIL_SENT,
	      "message sent: %s", res.err);
	CHECK(probe.calls == 1 && probe.saw_data, "on_data called once, after the server got DATA");
	CHECK_STR(res.reply, "250 2.0.0 queued", "the final reply line kept");
	CHECK(res.code == 250, "reply code 250");
	mail_smtp_close(s);
	waitpid(pid, &st, 0);
	got = slurp(raw);
	CHECK_STR(got, "Subject: dots\r\n\r\n..\r\n...\r\n..x\r\nend\r\n.\r\n",
	          "libcurl dot-stuffs lines starting with '.', CRLF untouched (no CR doubled)");
	free(got);
	got = slurp(log);
	CHECK(got && strstr(got, "RCPT TO:<zoe@example.com>\r\n") && !strstr(got, "evil"),
	      "only the valid recipient reached the server");
	free(got);

	/* The server reads the whole message and closes without a reply: unknown. */
	if (start_tiny(log, raw, 0, &port, &pid) == 0) {
		snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
		if (mail_smtp_open(&cfg, &s, err) == 0) {
			CHECK(mail_smtp_send(s, "team@acme.example", rcpt, 1, msg, strlen(msg), NULL, NULL, &res) == MAIL_UNKNOWN,
			      "no reply after the data: unknown (%s)", res.err);
			CHECK(res.data_started, "data_started set");
			mail_smtp_close(s);
		}
		waitpid(pid, &st, 0);
	}

	/* Nobody listening: retry, and the connection is known to be down. */
	if (start_tiny(log, raw, 1, &port, &pid) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
		if (mail_smtp_open(&cfg, &s, err) == 0) {
			CHECK(mail_smtp_send(s, "team@acme.example", rcpt, 1, msg, strlen(msg), NULL, NULL, &res) == MAIL_RETRY &&
			      res.conn_failed && !res.data_started, "connection refused: retry, connection down (%s)", res.err);
			mail_smtp_close(s);
		}
	}

	/* A username with a password file others may read: refused when the session opens. */
	{
		char *pw = path2(root, "pw644");
		spit(pw, "x\n");
		chmod(pw, 0644);
		cfg.smtp.username = "u";
		cfg.smtp.password_file = pw;
		CHECK(mail_smtp_open(&cfg, &s, err) == -1 && !s, "0644 password file refused at send time: %s", err);
		chmod(pw, 0600);
		CHECK(mail_smtp_open(&cfg, &s, err) == 0, "0600 password file accepted");
		mail_smtp_close(s);
		free(pw);
	}
	cfg.smtp.url = "smtps://127.0.0.1:1";
	CHECK(mail_smtp_open(&cfg, &s, err) == -1, "smtps:// with tls none refused");
	free(log);
	free(raw);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_deliver();
	test_chunk();
	test_symlinks();
	test_names();
	test_password_file();
	test_envelope();
	test_smtp();
	CHECK(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "temp tree removed");
	return check_done();
}
