/*
 * mail, the SMTP part: the only libcurl user. A session keeps its connections open, so a
 * run of messages shares them: one by default, up to mail.smtp.connections in parallel.
 * TLS is required (CURLUSESSL_ALL, never TRY) unless the config says none, which config.c
 * allows only to a loopback host; certificates are always verified. The message is sent as
 * built (CRLF already, so no CURLOPT_CRLF, which would double the CRs); libcurl does the
 * dot-stuffing of an SMTP upload.
 *
 * The read callback's first call comes after the server's 354 to DATA. There the transfer
 * pauses (CURL_READFUNC_PAUSE) until the caller's before_data has recorded, durably, that
 * the data is about to go out: with several connections, every transfer waiting at that
 * point is recorded in one go, so one commit (one fsync) covers several messages.
 *
 * Outcomes come from the server's reply code (CURLINFO_RESPONSE_CODE), not only from the
 * CURLcode, which is the same for 4xx and 5xx. A transfer that breaks after libcurl had the
 * whole message and before a final reply may have been accepted (MAIL_UNKNOWN).
 *
 * OAuth2 (auth xoauth2/oauthbearer): the access token comes from oauth.c and is handed to
 * libcurl as CURLOPT_XOAUTH2_BEARER with CURLOPT_LOGIN_OPTIONS naming the mechanism (never
 * CURLOPT_HTTPAUTH, which would make libcurl ignore the login options, curl#10259).
 *
 * Throttling: providers answer a sender that goes too fast with 4xx replies (421 4.7.0,
 * 451 4.7.28, 452 4.5.3, 4.3.2). Those are the session's pace, not the message's fault: the
 * pace is halved and the message queued again; a run of successes lets it creep back up.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/oauth.h"

#define PASSWORD_MAX 1024
#define MAX_CONNS 32
#define GATHER_MAX_NS 10000000   /* the longest a transfer at 354 waits for others to join its commit */
#define NS 1000000000LL
#define THROTTLE_TRIES 6         /* a throttled message is queued again at most this often per run */
#define THROTTLE_MIN_NS (NS / 4) /* the slowest first step when the pace was unlimited */
#define THROTTLE_MAX_NS (60 * NS)
#define RECOVER_AFTER 10         /* successes in a row before the pace goes up again */

const char *const mail_outcome_names[] = {"sent", "retry", "failed", "unknown"};

enum phase { PH_IDLE, PH_EARLY, PH_WAIT, PH_GO, PH_ABORT };

/* One parallel transfer: an easy handle and the job it carries. */
struct slot {
	CURL *h;
	struct mail_smtp *s;
	struct mail_job *job;
	struct curl_slist *rcpt;
	size_t off;
	enum phase phase;
	int done;                  /* libcurl had every byte of the message */
	unsigned token_gen;        /* the access token this transfer authenticates with */
	int64_t wait_since;
	char lines[4][256];        /* the last reply lines, a ring */
	unsigned nlines;
	char errbuf[CURL_ERROR_SIZE];
};

struct mail_smtp {
	CURLM *multi;
	struct slot slots[MAX_CONNS];
	int nslots;
	const struct config *cfg;
	int oauth;                 /* auth xoauth2 / oauthbearer */
	char *token;               /* the access token the transfers use (wiped on close) */
	unsigned token_gen;        /* counts the tokens this session had */
	int token_retried;         /* a refused token was replaced once already */
	int (*stopping)(void);
	int64_t ceiling_ns;        /* the interval rate_per_minute allows (0: unpaced) */
	int64_t interval_ns;       /* the interval in force: never below ceiling_ns */
	int64_t first_start_ns;
	long starts, sent;
	unsigned ok_streak;
	int64_t next_start_ns;     /* monotonic: the earliest start of the next message */
	int64_t commit_ns;         /* what a before_data call took lately (a moving average) */
};

static int curl_ready;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* printable: a copy of s for a message, controls and non-ASCII shown as '?', at most 80 bytes. */
static const char *printable(const char *s, char buf[96])
{
	size_t k = 0;
	for (; s && *s && k < 80; s++)
		buf[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[k] = '\0';
	return buf;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct slot *sl = arg;
	size_t n = size * nmemb, left = sl->job->len - sl->off;
	if (sl->phase == PH_EARLY) {
		/* libcurl asks for the data only once the server said 354: wait for the record. */
		sl->phase = PH_WAIT;
		sl->wait_since = mono_ns();
		return CURL_READFUNC_PAUSE;
	}
	if (sl->phase == PH_WAIT)
		return CURL_READFUNC_PAUSE;
	if (sl->phase == PH_ABORT)
		return CURL_READFUNC_ABORT;
	if (n > left)
		n = left;
	memcpy(buf, sl->job->msg + sl->off, n);
	sl->off += n;
	/* With the size known, libcurl stops asking once it has every byte: that is the end. */
	if (sl->off == sl->job->len)
		sl->done = 1;
	return n;
}

/* reply_cb: libcurl hands every server reply line to the header callback; keep the last few. */
static size_t reply_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct slot *sl = arg;
	size_t n = size * nmemb, k = 0;
	char *line = sl->lines[sl->nlines % 4];
	for (size_t i = 0; i < n && buf[i] != '\r' && buf[i] != '\n' && k + 1 < sizeof sl->lines[0]; i++)
		line[k++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	line[k] = '\0';
	if (k > 0)
		sl->nlines++;
	return n;
}

/*
 * last_reply: the latest reply line with the reply code libcurl reports (the reply to QUIT,
 * which libcurl sends when it closes a failed connection, comes after it), else the latest.
 */
static void last_reply(const struct slot *sl, long code, char *out, size_t size)
{
	char want[8];
	out[0] = '\0';
	snprintf(want, sizeof want, "%03ld", code);
	for (unsigned i = 0; i < 4 && i < sl->nlines; i++) {
		const char *l = sl->lines[(sl->nlines - 1 - i) % 4];
		if (code > 0 && strncmp(l, want, 3) == 0) {
			util_strlcpy(out, l, size);
			return;
		}
	}
	if (sl->nlines)
		util_strlcpy(out, sl->lines[(sl->nlines - 1) % 4], size);
}

static size_t discard_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	(void)buf;
	(void)arg;
	return size * nmemb;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	util_keepalive();
	return 0;
}

/* read_password: the file's first line, after checking again that it is private. */
static int read_password(const char *path, char *out, size_t size, char err[ERR_LEN])
{
	struct stat st;
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(err, "password_file: cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))) {
		close(fd);
		return err_set(err, "password_file: %s must be a regular file readable by its owner only (chmod 600)", path);
	}
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return err_set(err, "password_file: cannot read %s: %s", path, strerror(errno));
	out[n] = '\0';
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	if (len == 0 || len != strlen(out) || (size_t)n == size - 1)
		return err_set(err, "password_file: %s must hold one line of at most %d bytes", path, PASSWORD_MAX - 2);
	return 0;
}

int mail_smtp_open(const struct config *cfg, struct mail_smtp **out, char err[ERR_LEN])
{
	struct mail_smtp *s;
	CURL *h = NULL;
	char pw[PASSWORD_MAX];
	long t = cfg->smtp.timeout_secs > 0 ? cfg->smtp.timeout_secs : 30;
	int rc = -1, n = cfg->smtp.connections < 1 ? 1 : cfg->smtp.connections > MAX_CONNS ? MAX_CONNS
	                                                                                   : (int)cfg->smtp.connections;

	*out = NULL;
	pw[0] = '\0';
	if (!cfg->smtp.url || (strncmp(cfg->smtp.url, "smtp://", 7) != 0 && strncmp(cfg->smtp.url, "smtps://", 8) != 0))
		return err_set(err, "smtp: mail.smtp.url must be smtp:// or smtps://");
	if ((strncmp(cfg->smtp.url, "smtps://", 8) == 0) != (cfg->smtp.tls == TLS_IMPLICIT))
		return err_set(err, "smtp: tls implicit goes with smtps:// and only with it");
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return err_set(err, "smtp: libcurl initialisation failed");
		curl_ready = 1;
	}
	s = xcalloc(1, sizeof *s);
	s->cfg = cfg;
	s->ceiling_ns = cfg->smtp.rate_per_minute > 0 ? 60 * NS / cfg->smtp.rate_per_minute : 0;
	s->interval_ns = s->ceiling_ns;
	s->multi = curl_multi_init();
	h = curl_easy_init();
	if (!s->multi || !h) {
		err_set(err, "smtp: libcurl initialisation failed");
		goto out;
	}
	curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)n);
	curl_easy_setopt(h, CURLOPT_URL, cfg->smtp.url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(cfg->smtp.tls == TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->smtp.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->smtp.ca_file);
	if (cfg->smtp.auth != AUTH_PASSWORD) {
		if (!cfg->smtp.username) {
			err_set(err, "smtp: auth %s needs a username", smtp_auth_names[cfg->smtp.auth]);
			goto out;
		}
		/* The token itself is fetched when the first message is about to go. */
		s->oauth = 1;
		curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp.username);
		curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS,
		                 cfg->smtp.auth == AUTH_XOAUTH2 ? "AUTH=XOAUTH2" : "AUTH=OAUTHBEARER");
	} else if (cfg->smtp.username) {
		if (!cfg->smtp.password_file) {
			err_set(err, "smtp: username without password_file");
			goto out;
		}
		if (read_password(cfg->smtp.password_file, pw, sizeof pw, err) != 0)
			goto out;
		curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp.username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pw);   /* libcurl keeps its own copy */
		explicit_bzero(pw, sizeof pw);
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, t);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, t);
	/* A server that stops moving bytes for the whole timeout is given up on. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, t);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, reply_cb);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	for (int i = 0; i < n; i++) {
		struct slot *sl = &s->slots[i];
		sl->s = s;
		sl->h = curl_easy_duphandle(h);
		if (!sl->h) {
			err_set(err, "smtp: libcurl initialisation failed");
			goto out;
		}
		s->nslots++;
		curl_easy_setopt(sl->h, CURLOPT_READDATA, sl);
		curl_easy_setopt(sl->h, CURLOPT_HEADERDATA, sl);
		curl_easy_setopt(sl->h, CURLOPT_PRIVATE, sl);
		curl_easy_setopt(sl->h, CURLOPT_ERRORBUFFER, sl->errbuf);
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	explicit_bzero(pw, sizeof pw);
	if (h)
		curl_easy_cleanup(h);
	mail_smtp_close(s);
	return rc;
}

void mail_smtp_close(struct mail_smtp *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nslots; i++)
		curl_easy_cleanup(s->slots[i].h);
	if (s->multi)
		curl_multi_cleanup(s->multi);   /* closes the pooled connections, with QUIT */
	oauth_token_free(s->token);
	free(s);
}

void mail_smtp_set_stop(struct mail_smtp *s, int (*stopping)(void))
{
	if (s)
		s->stopping = stopping;
}

/*
 * get_token: the access token for the next transfers (cached by oauth.c; fetched anew when
 * force). 0, or -1 with res saying why (a retry that is not the message's fault) and one
 * log line telling the user what to do.
 */
static int get_token(struct mail_smtp *s, int force, struct mail_result *res)
{
	char *tok = NULL;
	int fetched = 0;
	if (oauth_token(s->cfg, force, &tok, &fetched, res->err) != OAUTH_OK) {
		res->outcome = MAIL_RETRY;
		res->conn_failed = 1;
		res->not_counted = 1;
		log_err("%s", res->err);
		return -1;
	}
	if (fetched)
		log_debug("smtp: a new OAuth2 access token for %s", s->cfg->smtp.username);
	if (!s->token || strcmp(s->token, tok) != 0) {
		oauth_token_free(s->token);
		s->token = tok;
		s->token_gen++;
	} else {
		oauth_token_free(tok);
	}
	return 0;
}

/* conn_level: failures of the connection itself, the same for every message that follows. */
static int conn_level(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_LOGIN_DENIED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_AUTH_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* classify: the outcome of a finished transfer from the CURLcode, the reply code and how far the data got. */
static void classify(struct slot *sl, CURLcode rc)
{
	struct mail_result *res = &sl->job->res;
	long code = 0;
	int aborted = sl->phase == PH_ABORT;
	curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &code);
	res->code = code;
	res->data_started = sl->phase == PH_GO || sl->phase == PH_ABORT || sl->phase == PH_WAIT;
	last_reply(sl, code, res->reply, sizeof res->reply);
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		res->outcome = MAIL_SENT;
		res->err[0] = '\0';
		return;
	}
	if (rc == CURLE_OK)
		res->outcome = sl->done ? MAIL_UNKNOWN : MAIL_RETRY;
	else if (aborted)
		res->outcome = MAIL_RETRY;
	else if (conn_level(rc))
		res->outcome = MAIL_RETRY, res->conn_failed = 1;
	else if (code >= 500 && code < 600)
		res->outcome = MAIL_FAILED;
	else if (code >= 400 && code < 500)
		res->outcome = MAIL_RETRY, res->conn_failed = code == 421;
	else if (sl->done)
		res->outcome = MAIL_UNKNOWN;
	else   /* nothing at all from the server (a timeout at the greeting, a dead peer) when code is 0 */
		res->outcome = MAIL_RETRY, res->conn_failed = code == 0;
	if (aborted)
		err_set(res->err, "aborted before the data: the dispatch record could not be updated");
	else if (res->outcome == MAIL_UNKNOWN)
		err_set(res->err, "the whole message went out but the server gave no final reply (%s): it may have it",
		        sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(rc));
	else if (res->reply[0] && code >= 400)
		err_set(res->err, "server replied: %s", res->reply);
	else
		err_set(res->err, "%s", sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(rc));
}

/* check_job: the envelope of a job before anything goes out; 0, or -1 with res set to failed. */
static int check_job(struct mail_job *j)
{
	char pbuf[96];
	if (!mail_addr_envelope_ok(j->from)) {
		j->res.outcome = MAIL_FAILED;
		return err_set(j->res.err, "envelope sender '%s' is not a plain address", printable(j->from, pbuf));
	}
	if (j->nrcpt == 0) {
		j->res.outcome = MAIL_FAILED;
		return err_set(j->res.err, "no recipient");
	}
	for (size_t i = 0; i < j->nrcpt; i++)
		if (!mail_addr_envelope_ok(j->rcpt[i])) {
			j->res.outcome = MAIL_FAILED;
			return err_set(j->res.err, "recipient '%s' is not a plain address", printable(j->rcpt[i], pbuf));
		}
	return 0;
}

/* start: puts job on the idle slot sl and adds it to the multi handle. 0 or -1 (job failed). */
static int start(struct mail_smtp *s, struct slot *sl, struct mail_job *j)
{
	sl->rcpt = NULL;
	for (size_t i = 0; i < j->nrcpt; i++) {
		struct curl_slist *next = curl_slist_append(sl->rcpt, j->rcpt[i]);
		if (!next) {
			curl_slist_free_all(sl->rcpt);
			sl->rcpt = NULL;
			j->res.outcome = MAIL_RETRY;
			return err_set(j->res.err, "out of memory");
		}
		sl->rcpt = next;
	}
	sl->job = j;
	sl->off = 0;
	sl->done = 0;
	sl->nlines = 0;
	sl->errbuf[0] = '\0';
	sl->phase = PH_EARLY;
	if (s->oauth) {
		curl_easy_setopt(sl->h, CURLOPT_XOAUTH2_BEARER, s->token);   /* libcurl keeps a copy */
		sl->token_gen = s->token_gen;
	}
	curl_easy_setopt(sl->h, CURLOPT_MAIL_FROM, j->from);
	curl_easy_setopt(sl->h, CURLOPT_MAIL_RCPT, sl->rcpt);
	curl_easy_setopt(sl->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
	if (curl_multi_add_handle(s->multi, sl->h) != CURLM_OK) {
		curl_slist_free_all(sl->rcpt);
		sl->rcpt = NULL;
		sl->phase = PH_IDLE;
		j->res.outcome = MAIL_RETRY;
		return err_set(j->res.err, "libcurl could not start the transfer");
	}
	return 0;
}

static void finish(struct mail_smtp *s, struct slot *sl, CURLcode rc)
{
	classify(sl, rc);
	curl_multi_remove_handle(s->multi, sl->h);
	curl_easy_setopt(sl->h, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(sl->rcpt);
	sl->rcpt = NULL;
	sl->job = NULL;
	sl->phase = PH_IDLE;
}

/*
 * release: the transfers waiting at 354 go on once before_data has recorded them all; when
 * others are still on their way to 354 they are given about as long as a commit takes to
 * join the same commit.
 * Returns how many are still waiting.
 */
static int release(struct mail_smtp *s, int (*before_data)(void *, struct mail_job *const *, size_t), void *arg)
{
	struct mail_job *ready[MAX_CONNS];
	struct slot *rs[MAX_CONNS];
	size_t k = 0;
	int early = 0, rc = 0;
	int64_t oldest = INT64_MAX, now = mono_ns();
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->phase == PH_WAIT) {
			rs[k] = sl;
			ready[k++] = sl->job;
			if (sl->wait_since < oldest)
				oldest = sl->wait_since;
		} else if (sl->phase == PH_EARLY) {
			early = 1;
		}
	}
	/*
	 * Waiting for the others as long as a commit lasts at most doubles the wait of the first,
	 * and saves a commit per transfer that joins: fast storage gathers nothing, a slow
	 * flush gathers much.
	 */
	if (k == 0 || (early && now - oldest < (s->commit_ns < GATHER_MAX_NS ? s->commit_ns : GATHER_MAX_NS)))
		return (int)k;
	if (before_data) {
		rc = before_data(arg, ready, k);
		s->commit_ns = (3 * s->commit_ns + (mono_ns() - now)) / 4;
	}
	for (size_t i = 0; i < k; i++) {
		rs[i]->phase = rc == 0 ? PH_GO : PH_ABORT;
		curl_easy_pause(rs[i]->h, CURLPAUSE_CONT);
	}
	return 0;
}

/* pace_wait_ns: how long until the next message may start (0: now). */
static int64_t pace_wait_ns(const struct mail_smtp *s)
{
	int64_t now = mono_ns();
	return s->interval_ns > 0 && now < s->next_start_ns ? s->next_start_ns - now : 0;
}

static double per_minute(int64_t interval_ns)
{
	return interval_ns > 0 ? 60.0 * NS / (double)interval_ns : 0;
}

/*
 * is_throttle: a reply that says "too fast" rather than "not this message": the enhanced
 * codes providers use for rate limits (RFC 3463: 4.7.0 with 421, 4.7.28, 4.5.3, 4.3.2).
 */
static int is_throttle(long code, const char *reply)
{
	if (code < 400 || code >= 500 || strlen(reply) < 4)
		return 0;
	reply += 4;
	return strncmp(reply, "4.7.28", 6) == 0 || strncmp(reply, "4.5.3", 5) == 0 || strncmp(reply, "4.3.2", 5) == 0 ||
	       (code == 421 && strncmp(reply, "4.7.0", 5) == 0);
}

/* slow_down: halves the pace (at least from what was measured so far), logged. */
static void slow_down(struct mail_smtp *s, const char *reply)
{
	int64_t cur = s->interval_ns;
	if (cur <= 0 && s->starts > 1)
		cur = (mono_ns() - s->first_start_ns) / s->starts;
	cur *= 2;
	if (cur < THROTTLE_MIN_NS)
		cur = THROTTLE_MIN_NS;
	if (cur > THROTTLE_MAX_NS)
		cur = THROTTLE_MAX_NS;
	s->interval_ns = cur;
	s->ok_streak = 0;
	s->next_start_ns = mono_ns() + cur;
	log_warn("smtp: the server throttles (%s): pace slowed to %.1f emails/min", reply, per_minute(cur));
}

/* speed_up: after RECOVER_AFTER successes in a row, a quarter faster, up to rate_per_minute. */
static void speed_up(struct mail_smtp *s)
{
	if (s->interval_ns <= s->ceiling_ns || ++s->ok_streak < RECOVER_AFTER)
		return;
	s->ok_streak = 0;
	s->interval_ns = s->interval_ns * 3 / 4;
	if (s->interval_ns < s->ceiling_ns || (s->ceiling_ns == 0 && s->interval_ns < THROTTLE_MIN_NS))
		s->interval_ns = s->ceiling_ns;
	if (s->interval_ns > 0)
		log_info("smtp: pace up to %.1f emails/min", per_minute(s->interval_ns));
	else
		log_info("smtp: pace back to unlimited (rate_per_minute 0)");
}

/* auth_refused: the server refused our credentials (535, or a 334 challenge then an error). */
static int auth_refused(CURLcode rc)
{
	return rc == CURLE_LOGIN_DENIED || rc == CURLE_AUTH_ERROR;
}

/* A job queue: the jobs in order, and those put back (a refused token, throttling) at the end. */
struct queue {
	size_t *idx;
	size_t head, tail, cap;
};

static void push(struct queue *q, size_t i)
{
	if (q->tail == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 16;
		q->idx = xreallocarray(q->idx, q->cap, sizeof *q->idx);
	}
	q->idx[q->tail++] = i;
}

/* refused: the server refused the OAuth2 token of j: a new one (once), then j again. 1 when put back. */
static int refused(struct mail_smtp *s, struct slot *sl, struct mail_job *j)
{
	char rbuf[sizeof j->res.reply];
	if (sl->token_gen != s->token_gen)
		return 1;    /* that token was replaced meanwhile */
	util_strlcpy(rbuf, j->res.reply, sizeof rbuf);
	if (!s->token_retried) {
		s->token_retried = 1;
		log_info("smtp: the server refused the OAuth2 access token (%s): fetching a new one", rbuf);
		memset(&j->res, 0, sizeof j->res);
		if (get_token(s, 1, &j->res) == 0)
			return 1;
		return 0;
	}
	j->res.not_counted = 1;
	j->res.conn_failed = 1;
	err_set(j->res.err, "the SMTP server refused a fresh OAuth2 access token for %s (%s): check that SMTP AUTH "
	        "is allowed for this mailbox and that the application may send as it (scope and permissions)",
	        s->cfg->smtp.username, rbuf[0] ? rbuf : "no reply");
	log_err("%s", j->res.err);
	return 0;
}

int mail_smtp_send_many(struct mail_smtp *s, struct mail_job *jobs, size_t n,
                        int (*prepare)(void *, struct mail_job *),
                        int (*before_data)(void *, struct mail_job *const *, size_t),
                        void (*on_done)(void *, struct mail_job *), void *arg)
{
	struct queue q = {0};
	unsigned char *tries = xcalloc(n ? n : 1, 1);   /* 0: not prepared yet; then 1 + times put back */
	int running = 0, active = 0, waiting;
	const struct mail_result *down = NULL;
	struct mail_result token_res;

	for (size_t i = 0; i < n; i++)
		push(&q, i);
	for (;;) {
		int stop = s->stopping && s->stopping();
		/* Start jobs on idle slots, paced, unless the server is known to be unreachable. */
		while (q.head < q.tail && active < s->nslots && (pace_wait_ns(s) == 0 || stop || down)) {
			size_t ji = q.idx[q.head++];
			struct mail_job *j = &jobs[ji];
			struct slot *sl = NULL;
			if (tries[ji] == 0) {
				tries[ji] = 1;
				memset(&j->res, 0, sizeof j->res);
				if ((prepare && prepare(arg, j) != 0) || check_job(j) != 0) {
					if (on_done)
						on_done(arg, j);
					continue;
				}
			} else if (stop && !down) {
				/* Put back earlier and not started again: the next pass sends it. */
				memset(&j->res, 0, sizeof j->res);
				j->res.outcome = MAIL_RETRY;
				j->res.not_counted = 1;
				util_strlcpy(j->res.err, "stopped before it was sent", sizeof j->res.err);
				if (on_done)
					on_done(arg, j);
				continue;
			}
			if (!down && s->oauth) {
				memset(&token_res, 0, sizeof token_res);
				if (get_token(s, 0, &token_res) != 0)
					down = &token_res;
			}
			if (down) {
				j->res = *down;
				j->res.data_started = 0;
				if (on_done)
					on_done(arg, j);
				continue;
			}
			for (int i = 0; i < s->nslots && !sl; i++)
				if (s->slots[i].phase == PH_IDLE)
					sl = &s->slots[i];
			if (start(s, sl, j) != 0) {
				if (on_done)
					on_done(arg, j);
				continue;
			}
			active++;
			if (s->starts++ == 0)
				s->first_start_ns = mono_ns();
			if (s->interval_ns > 0) {
				int64_t now = mono_ns(), base = s->next_start_ns > now ? s->next_start_ns : now;
				s->next_start_ns = base + s->interval_ns;
			}
		}
		if (active == 0 && q.head >= q.tail)
			break;
		if (active == 0) {
			/* Only the pace holds us back: sleep, in slices so the watchdog is fed. */
			int64_t w = pace_wait_ns(s), slice = w < NS / 4 ? w : NS / 4;
			struct timespec ts = {(time_t)(slice / NS), (long)(slice % NS)};
			util_keepalive();
			nanosleep(&ts, NULL);
			continue;
		}
		curl_multi_perform(s->multi, &running);
		for (;;) {
			int left;
			CURLMsg *msg = curl_multi_info_read(s->multi, &left);
			struct slot *sl = NULL;
			struct mail_job *j;
			size_t ji;
			unsigned nlines;
			CURLcode rc;
			if (!msg)
				break;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
			j = sl->job;
			ji = (size_t)(j - jobs);
			nlines = sl->nlines;
			rc = msg->data.result;
			finish(s, sl, rc);
			active--;
			if (j->res.outcome == MAIL_SENT) {
				s->sent++;
				speed_up(s);
			} else if (s->oauth && auth_refused(rc)) {
				if (refused(s, sl, j)) {
					push(&q, ji);
					continue;
				}
			} else if (j->res.outcome == MAIL_RETRY && is_throttle(j->res.code, j->res.reply) &&
			           (s->sent > 0 || nlines > 1)) {
				/* (A 421 as the very first line is a server that is down, not one that throttles.) */
				slow_down(s, j->res.reply);
				j->res.conn_failed = 0;
				j->res.not_counted = 1;
				if (tries[ji] < THROTTLE_TRIES && !stop) {
					tries[ji]++;
					push(&q, ji);
					continue;
				}
			}
			/* A connection-level failure: the jobs not started yet are not tried this time. */
			if (j->res.conn_failed && !down)
				down = &j->res;
			if (on_done)
				on_done(arg, j);
		}
		waiting = release(s, before_data, arg);
		if (active > 0) {
			int64_t w = pace_wait_ns(s);
			int ms = waiting ? 1 : 50;
			if (q.head < q.tail && active < s->nslots && w > 0 && w / 1000000 < ms)
				ms = (int)(w / 1000000) + 1;
			curl_multi_poll(s->multi, NULL, 0, ms, NULL);
			util_keepalive();
		}
	}
	free(q.idx);
	free(tries);
	return 0;
}

struct one_data {
	int (*fn)(void *);
	void *arg;
};

static int before_one(void *arg, struct mail_job *const *ready, size_t k)
{
	const struct one_data *o = arg;
	(void)ready, (void)k;
	return o->fn(o->arg);
}

enum mail_outcome mail_smtp_send(struct mail_smtp *s, const char *from, const char *const *rcpt, size_t nrcpt,
                                 const char *msg, size_t len, int (*on_data)(void *), void *arg,
                                 struct mail_result *res)
{
	struct mail_job j;
	struct one_data o = {on_data, arg};
	memset(&j, 0, sizeof j);
	j.from = from;
	j.rcpt = rcpt;
	j.nrcpt = nrcpt;
	j.msg = msg;
	j.len = len;
	mail_smtp_send_many(s, &j, 1, NULL, on_data ? before_one : NULL, NULL, &o);
	*res = j.res;
	return res->outcome;
}

/* check_once: one connection that stops after AUTH (CURLOPT_CONNECT_ONLY); QUIT on cleanup. */
static CURLcode check_once(struct mail_smtp *s, char *reply, size_t size)
{
	struct slot *sl = &s->slots[0];
	CURLcode rc;
	long code = 0;
	if (s->oauth)
		curl_easy_setopt(sl->h, CURLOPT_XOAUTH2_BEARER, s->token);
	curl_easy_setopt(sl->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(sl->h, CURLOPT_FRESH_CONNECT, 1L);
	sl->nlines = 0;
	sl->errbuf[0] = '\0';
	rc = curl_easy_perform(sl->h);
	curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &code);
	last_reply(sl, code, reply, size);
	return rc;
}

int mail_smtp_check(const struct config *cfg, char err[ERR_LEN])
{
	struct mail_smtp *s = NULL;
	struct mail_result res;
	char reply[256];
	CURLcode rc;
	int ret = -1;

	memset(&res, 0, sizeof res);
	if (mail_smtp_open(cfg, &s, err) != 0)
		return -1;
	if (s->oauth && get_token(s, 0, &res) != 0) {
		util_strlcpy(err, res.err, ERR_LEN);
		goto out;
	}
	rc = check_once(s, reply, sizeof reply);
	if (s->oauth && auth_refused(rc)) {
		if (get_token(s, 1, &res) != 0) {
			util_strlcpy(err, res.err, ERR_LEN);
			goto out;
		}
		rc = check_once(s, reply, sizeof reply);
	}
	if (rc == CURLE_OK)
		ret = 0;
	else if (auth_refused(rc))
		err_set(err, "smtp: the server refused %s for %s (%s)%s", s->oauth ? "the OAuth2 access token" : "the password",
		        cfg->smtp.username ? cfg->smtp.username : "", reply[0] ? reply : "no reply",
		        s->oauth ? ": check that SMTP AUTH is allowed for this mailbox and the application's scope" : "");
	else
		err_set(err, "smtp: %s%s%s%s", s->slots[0].errbuf[0] ? s->slots[0].errbuf : curl_easy_strerror(rc),
		        reply[0] ? " (server: " : "", reply, reply[0] ? ")" : "");
out:
	mail_smtp_close(s);
	return ret;
}
