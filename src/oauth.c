/*
 * oauth: access tokens for SMTP. The cache is one per process (the daemon's passes open a
 * new SMTP session each, the token outlives them); it is keyed by the settings it came
 * from, so a reloaded config with another endpoint or command fetches anew. Expiry is
 * measured on the monotonic clock: a stepped wall clock neither keeps a dead token nor
 * throws away a good one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "occasiond/json.h"
#include "occasiond/net.h"
#include "occasiond/oauth.h"

#define SECRET_MAX 16384          /* refresh tokens and client secrets: Microsoft's are ~1-2 KB */
#define TOKEN_MAX 8192            /* an access token goes into one SASL line */
#define RESPONSE_MAX (64 * 1024)  /* a token response is a few KB; more is junk */
#define COMMAND_TTL 300           /* a token_command's token is reused this long (its lifetime is unknown) */
#define DEFAULT_TTL 3600          /* expires_in is RECOMMENDED only */

static struct {
	char *key;                /* the settings the token came from */
	char *token;
	int64_t expires;          /* monotonic seconds */
	int64_t margin;
	char *unsaved;            /* a rotated refresh token not yet written back */
} cache;

static int64_t mono_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void oauth_token_free(char *token)
{
	wipe_free(token);
}

void oauth_forget(void)
{
	wipe_free(cache.token);
	cache.token = NULL;
	cache.expires = 0;
}

/* token_ok: a token may go into a SASL exchange or a form: printable ASCII, no spaces. */
static int token_ok(const char *t, size_t max)
{
	size_t n = 0;
	for (; t[n]; n++)
		if (t[n] <= 0x20 || t[n] >= 0x7f)
			return 0;
	return n > 0 && n <= max;
}

/*
 * read_secret: the first line of a private file (0600: not readable or writable by group
 * or others, a regular file, at most SECRET_MAX bytes). *out malloc'd (wipe it).
 */
static int read_secret(const char *path, const char *what, char **out, char err[ERR_LEN])
{
	struct stat st;
	char *buf = xmalloc(SECRET_MAX + 1);
	ssize_t n;
	size_t got = 0, len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	*out = NULL;
	if (fd < 0) {
		free(buf);
		return err_set(err, "oauth2.%s: cannot open %s: %s", what, path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO))) {
		close(fd);
		free(buf);
		return err_set(err, "oauth2.%s: %s must be a regular file readable by its owner only (chmod 600)", what, path);
	}
	while (got < SECRET_MAX && (n = read(fd, buf + got, SECRET_MAX - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (got == SECRET_MAX || !token_ok(buf, SECRET_MAX)) {
		explicit_bzero(buf, SECRET_MAX + 1);
		free(buf);
		return err_set(err, "oauth2.%s: %s must hold one line of printable characters without spaces", what, path);
	}
	*out = xstrdup(buf);
	explicit_bzero(buf, SECRET_MAX + 1);
	free(buf);
	return 0;
}

/* write_secret: data + "\n" to path through PATH.tmp (0600, fsync), renamed over path. */
static int write_secret(const char *path, const char *data, char err[ERR_LEN])
{
	char *tmp = xasprintf("%s.tmp", path);
	size_t len = strlen(data), off = 0;
	int rc = -1, fd;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set(err, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || write(fd, "\n", 1) != 1 || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		err_set(err, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		err_set(err, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = util_fsync_dir(path, err);
out:
	free(tmp);
	return rc;
}

/* printable_copy: at most 120 printable ASCII bytes of s (a server's error text) into buf. */
static const char *printable_copy(const char *s, char buf[128])
{
	size_t k = 0;
	for (; s && *s && k < 120; s++)
		buf[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[k] = '\0';
	return buf;
}

enum { V_ACCESS, V_TYPE, V_EXPIRES, V_REFRESH, V_ERROR, V_DESC, V_NKEYS };
static const char *const token_keys[] = {"access_token", "token_type", "expires_in", "refresh_token", "error",
                                         "error_description"};

/*
 * post_token: POSTs form to the token endpoint and reads its JSON answer into vals (all
 * freed by the caller, also on error). *status receives the HTTP status.
 */
static enum oauth_status post_token(const struct oauth2_cfg *o, long timeout, const char *form, long *status,
                                    char **vals, char err[ERR_LEN])
{
	static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
	                                   "Accept: application/json"};
	struct net_request rq = {"POST", o->token_url, hdrs, 2, form, strlen(form), RESPONSE_MAX, timeout,
	                         o->ca_file, NULL, NULL, 0};
	struct net_response rs;
	char e[ERR_LEN];
	enum net_error ne = net_request(&rq, &rs, e);
	enum oauth_status st = OAUTH_FAILED;
	for (int i = 0; i < V_NKEYS; i++)
		vals[i] = NULL;
	*status = 0;
	if (ne == NET_UNREACHABLE || ne == NET_OTHER) {
		err_set(err, "oauth2: the token endpoint cannot be reached (%s): check the network, token_url and "
		        "oauth2.ca_file; the emails wait and are tried again", e);
		return ne == NET_UNREACHABLE ? OAUTH_UNREACHABLE : OAUTH_FAILED;
	}
	if (ne == NET_TOO_LARGE) {
		err_set(err, "oauth2: the token endpoint sent junk (%s): check token_url", e);
		return OAUTH_FAILED;
	}
	*status = rs.status;
	if (rs.status >= 500) {
		err_set(err, "oauth2: the token endpoint answered HTTP %ld: the provider has trouble; the emails wait and "
		        "are tried again", rs.status);
		st = OAUTH_UNREACHABLE;
	} else if (json_object_get(rs.body, rs.len, token_keys, V_NKEYS, vals, e) != 0) {
		err_set(err, "oauth2: the token endpoint's answer (HTTP %ld) is not a JSON token response (%s): check "
		        "token_url", rs.status, e);
	} else {
		st = OAUTH_OK;
	}
	net_response_free(&rs);
	return st;
}

/* refresh: the refresh-token grant; a rotated refresh token into cache.unsaved. */
static enum oauth_status refresh(const struct config *cfg, char **token, int64_t *ttl, char err[ERR_LEN])
{
	const struct oauth2_cfg *o = &cfg->smtp.oauth2;
	char *rt = NULL, *secret = NULL, *vals[V_NKEYS] = {0}, b1[128], b2[128];
	struct strbuf form = {0};
	long status;
	enum oauth_status st = OAUTH_FAILED;

	*token = NULL;
	if (cache.unsaved)
		rt = xstrdup(cache.unsaved);
	else if (read_secret(o->refresh_token_file, "refresh_token_file", &rt, err) != 0)
		goto out;
	if (o->client_secret_file && read_secret(o->client_secret_file, "client_secret_file", &secret, err) != 0)
		goto out;
	sb_adds(&form, "grant_type=refresh_token&refresh_token=");
	net_form_escape(rt, &form);
	sb_adds(&form, "&client_id=");
	net_form_escape(o->client_id, &form);
	if (secret) {
		sb_adds(&form, "&client_secret=");
		net_form_escape(secret, &form);
	}
	if (o->scope) {
		sb_adds(&form, "&scope=");
		net_form_escape(o->scope, &form);
	}
	st = post_token(o, cfg->smtp.timeout_secs, form.s, &status, vals, err);
	if (st != OAUTH_OK)
		goto out;
	st = OAUTH_FAILED;
	if (vals[V_ERROR]) {
		const char *what = printable_copy(vals[V_ERROR], b1), *desc = printable_copy(vals[V_DESC], b2);
		if (strcmp(vals[V_ERROR], "invalid_grant") == 0) {
			st = OAUTH_GRANT;
			err_set(err, "oauth2: the provider no longer accepts the refresh token in %s (invalid_grant%s%s): "
			        "sign in again (occasiond oauth login) to write a new one; the emails wait until then",
			        o->refresh_token_file, *desc ? ": " : "", desc);
		} else if (strcmp(vals[V_ERROR], "invalid_client") == 0 || strcmp(vals[V_ERROR], "unauthorized_client") == 0) {
			err_set(err, "oauth2: the provider refuses the application (%s%s%s): check client_id and "
			        "client_secret_file", what, *desc ? ": " : "", desc);
		} else {
			err_set(err, "oauth2: the token endpoint refused the refresh (HTTP %ld, %s%s%s): check the oauth2 "
			        "settings", status, what, *desc ? ": " : "", desc);
		}
		goto out;
	}
	if (status != 200 || !vals[V_ACCESS]) {
		err_set(err, "oauth2: the token endpoint answered HTTP %ld without an access token: check token_url", status);
		goto out;
	}
	if (!token_ok(vals[V_ACCESS], TOKEN_MAX) || (vals[V_REFRESH] && !token_ok(vals[V_REFRESH], SECRET_MAX - 2))) {
		err_set(err, "oauth2: the token endpoint sent a token with spaces or control characters, or too long");
		goto out;
	}
	if (vals[V_TYPE] && !util_strcaseeq(vals[V_TYPE], "bearer")) {
		err_set(err, "oauth2: the token endpoint sent a token of type '%s', not Bearer",
		        printable_copy(vals[V_TYPE], b1));
		goto out;
	}
	*ttl = DEFAULT_TTL;
	if (vals[V_EXPIRES]) {
		long v;
		if (util_parse_long(vals[V_EXPIRES], 1, 10L * 365 * 86400, &v) != 0) {
			err_set(err, "oauth2: the token endpoint sent expires_in '%s', not a number of seconds",
			        printable_copy(vals[V_EXPIRES], b1));
			goto out;
		}
		*ttl = v;
	}
	if (vals[V_REFRESH] && strcmp(vals[V_REFRESH], rt) != 0) {
		/* Rotated: the old one may be dead already, so the new one is saved before anything else. */
		wipe_free(cache.unsaved);
		cache.unsaved = xstrdup(vals[V_REFRESH]);
	}
	*token = vals[V_ACCESS];
	vals[V_ACCESS] = NULL;
	st = OAUTH_OK;
out:
	for (int i = 0; i < V_NKEYS; i++)
		wipe_free(vals[i]);
	wipe_free(rt);
	wipe_free(secret);
	if (form.s)
		explicit_bzero(form.s, form.cap);
	sb_free(&form);
	return st;
}

/*
 * run_command: /bin/sh -c CMD (the user's own command line, with nothing of ours in it),
 * its standard output read (at most SECRET_MAX bytes) within timeout seconds, the
 * watchdog fed meanwhile; its first line is the token.
 */
static enum oauth_status run_command(const char *cmd, long timeout, char **token, char err[ERR_LEN])
{
	int fds[2], status = 0, devnull;
	pid_t pid;
	char *buf = xmalloc(SECRET_MAX + 1);
	size_t got = 0, len;
	int64_t deadline = mono_secs() + (timeout > 0 ? timeout : 30);
	enum oauth_status st = OAUTH_FAILED;
	int timed_out = 0;

	*token = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		free(buf);
		return err_set(err, "token_command: pipe: %s", strerror(errno)), OAUTH_FAILED;
	}
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return err_set(err, "token_command: fork: %s", strerror(errno)), OAUTH_FAILED;
	}
	if (pid == 0) {
		char *argv[] = {"sh", "-c", (char *)cmd, NULL};
		setpgid(0, 0);   /* so a timeout ends the command's own children too */
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pf = {fds[0], POLLIN, 0};
		int64_t left = deadline - mono_secs();
		ssize_t n;
		util_keepalive();
		if (left <= 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pf, 1, 1000) < 0 && errno != EINTR)
			break;
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fds[0], buf + got, SECRET_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == SECRET_MAX)
			break;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[got] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (timed_out)
		err_set(err, "token_command took longer than %lds and was stopped: check the command", timeout);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		err_set(err, "token_command failed (%s %d): run it by hand to see why; the emails wait",
		        WIFEXITED(status) ? "exit status" : "signal",
		        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else if (len == 0)
		err_set(err, "token_command printed no token: it must print the access token on its first line");
	else if (!token_ok(buf, TOKEN_MAX))
		err_set(err, "token_command printed a line with spaces or control characters, or longer than %d bytes",
		        TOKEN_MAX);
	else {
		*token = xstrdup(buf);
		st = OAUTH_OK;
	}
	explicit_bzero(buf, SECRET_MAX + 1);
	free(buf);
	return st;
}

static char *cache_key(const struct config *cfg)
{
	const struct oauth2_cfg *o = &cfg->smtp.oauth2;
	if (cfg->smtp.token_command)
		return xasprintf("cmd\n%s", cfg->smtp.token_command);
	return xasprintf("grant\n%s\n%s\n%s\n%s\n%s", o->token_url ? o->token_url : "", o->client_id ? o->client_id : "",
	                 o->refresh_token_file ? o->refresh_token_file : "", o->scope ? o->scope : "",
	                 o->client_secret_file ? o->client_secret_file : "");
}

enum oauth_status oauth_token(const struct config *cfg, int force, char **token, int *fetched, char err[ERR_LEN])
{
	char *key = cache_key(cfg), *tok = NULL;
	int64_t now = mono_secs(), ttl = COMMAND_TTL;
	enum oauth_status st;

	*token = NULL;
	if (fetched)
		*fetched = 0;
	if (!cache.key || strcmp(cache.key, key) != 0) {
		oauth_forget();
		wipe_free(cache.unsaved);
		cache.unsaved = NULL;
		free(cache.key);
		cache.key = key;
		key = NULL;
	}
	free(key);
	if (!force && cache.token && !cache.unsaved && now < cache.expires - cache.margin) {
		*token = xstrdup(cache.token);
		return OAUTH_OK;
	}
	oauth_forget();
	if (cfg->smtp.token_command)
		st = run_command(cfg->smtp.token_command, cfg->smtp.timeout_secs, &tok, err);
	else if (cfg->smtp.oauth2.token_url)
		st = refresh(cfg, &tok, &ttl, err);
	else
		return err_set(err, "oauth2: neither an oauth2 section nor token_command is configured"), OAUTH_FAILED;
	/* A rotated refresh token is written back before its access token is used. */
	if (cache.unsaved) {
		char e[ERR_LEN];
		if (write_secret(cfg->smtp.oauth2.refresh_token_file, cache.unsaved, e) != 0) {
			oauth_token_free(tok);
			err_set(err, "oauth2: the provider rotated the refresh token and it cannot be saved (%s): make "
			        "the file's directory writable; it is kept in memory until then", e);
			return OAUTH_FAILED;
		}
		wipe_free(cache.unsaved);
		cache.unsaved = NULL;
	}
	if (st != OAUTH_OK)
		return st;
	cache.token = tok;
	cache.expires = mono_secs() + ttl;
	cache.margin = ttl > 300 ? 60 : ttl / 5;
	if (fetched)
		*fetched = 1;
	*token = xstrdup(tok);
	return OAUTH_OK;
}

enum { D_DEVICE, D_USER, D_URI, D_URL, D_URI_FULL, D_INTERVAL, D_EXPIRES, D_ERROR, D_NKEYS };
static const char *const device_keys[] = {"device_code", "user_code", "verification_uri", "verification_url",
                                          "verification_uri_complete", "interval", "expires_in", "error"};

/* form_client: &client_id=...[&client_secret=...] appended; -1 when the secret cannot be read. */
static int form_client(const struct oauth2_cfg *o, struct strbuf *form, char err[ERR_LEN])
{
	char *secret = NULL;
	sb_adds(form, "&client_id=");
	net_form_escape(o->client_id, form);
	if (o->client_secret_file) {
		if (read_secret(o->client_secret_file, "client_secret_file", &secret, err) != 0)
			return -1;
		sb_adds(form, "&client_secret=");
		net_form_escape(secret, form);
		wipe_free(secret);
	}
	return 0;
}

int oauth_login(const struct config *cfg, const char *device_url, FILE *out, char err[ERR_LEN])
{
	const struct oauth2_cfg *o = &cfg->smtp.oauth2;
	static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
	                                   "Accept: application/json"};
	struct net_request rq = {"POST", device_url, hdrs, 2, NULL, 0, RESPONSE_MAX, cfg->smtp.timeout_secs,
	                         o->ca_file, NULL, NULL, 0};
	struct net_response rs = {0};
	struct strbuf form = {0};
	char *dv[D_NKEYS] = {0}, *vals[V_NKEYS] = {0}, e[ERR_LEN], b1[128];
	long interval = 5, life = 900, status;
	int64_t deadline;
	int rc = -1;

	if (!o->token_url || !o->client_id || !o->refresh_token_file)
		return err_set(err, "oauth login: mail.smtp.oauth2 needs token_url, client_id and refresh_token_file");
	sb_adds(&form, "scope=");
	net_form_escape(o->scope ? o->scope : "", &form);
	if (form_client(o, &form, err) != 0)
		goto out;
	rq.body = form.s;
	rq.body_len = form.len;
	if (net_request(&rq, &rs, e) != NET_OK) {
		err_set(err, "oauth login: the device endpoint cannot be reached: %s", e);
		goto out;
	}
	if (json_object_get(rs.body, rs.len, device_keys, D_NKEYS, dv, e) != 0) {
		err_set(err, "oauth login: the device endpoint's answer (HTTP %ld) is not JSON (%s)", rs.status, e);
		goto out;
	}
	if (rs.status != 200 || !dv[D_DEVICE] || !dv[D_USER] || !(dv[D_URI] || dv[D_URL])) {
		err_set(err, "oauth login: the device endpoint refused (HTTP %ld, %s): check client_id, scope and that "
		        "the application allows the device-code flow", rs.status, printable_copy(dv[D_ERROR], b1));
		goto out;
	}
	if (dv[D_INTERVAL])
		util_parse_long(dv[D_INTERVAL], 1, 300, &interval);
	if (dv[D_EXPIRES])
		util_parse_long(dv[D_EXPIRES], 1, 86400, &life);
	fprintf(out, "To sign in, open %s and enter the code %s\n", printable_copy(dv[D_URI] ? dv[D_URI] : dv[D_URL], b1),
	        dv[D_USER]);
	fprintf(out, "(as the user of the mailbox %s). Waiting...\n", cfg->smtp.username ? cfg->smtp.username : "");
	fflush(out);
	deadline = mono_secs() + life;
	for (;;) {
		struct timespec ts = {interval, 0};
		if (mono_secs() > deadline) {
			err_set(err, "oauth login: the code expired before the sign-in; run it again");
			goto out;
		}
		nanosleep(&ts, NULL);
		sb_free(&form);
		sb_adds(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=");
		net_form_escape(dv[D_DEVICE], &form);
		if (form_client(o, &form, err) != 0)
			goto out;
		for (int i = 0; i < V_NKEYS; i++)
			wipe_free(vals[i]);
		if (post_token(o, cfg->smtp.timeout_secs, form.s, &status, vals, err) != OAUTH_OK)
			goto out;
		if (vals[V_ERROR] && strcmp(vals[V_ERROR], "authorization_pending") == 0)
			continue;
		if (vals[V_ERROR] && strcmp(vals[V_ERROR], "slow_down") == 0) {
			interval += 5;   /* RFC 8628 section 3.5 */
			continue;
		}
		if (vals[V_ERROR]) {
			err_set(err, "oauth login: %s", printable_copy(vals[V_ERROR], b1));
			goto out;
		}
		if (!vals[V_REFRESH] || !token_ok(vals[V_REFRESH], SECRET_MAX - 2)) {
			err_set(err, "oauth login: signed in, but no refresh token came: add offline_access to the scope");
			goto out;
		}
		if (write_secret(o->refresh_token_file, vals[V_REFRESH], e) != 0) {
			err_set(err, "oauth login: %s", e);
			goto out;
		}
		fprintf(out, "Signed in: the refresh token is in %s (mode 0600).\n", o->refresh_token_file);
		rc = 0;
		goto out;
	}
out:
	for (int i = 0; i < D_NKEYS; i++)
		wipe_free(dv[i]);
	for (int i = 0; i < V_NKEYS; i++)
		wipe_free(vals[i]);
	net_response_free(&rs);
	if (form.s)
		explicit_bzero(form.s, form.cap);
	sb_free(&form);
	return rc;
}
