/*
 * mail, the SMTP part: the only libcurl user. One easy handle per session, so that a run of
 * messages shares one connection. TLS is required (CURLUSESSL_ALL, never TRY) unless the
 * config says none, which config.c allows only to a loopback host; certificates are always
 * verified. The message is sent as built (CRLF already, so no CURLOPT_CRLF, which would
 * double the CRs); libcurl does the dot-stuffing of an SMTP upload.
 *
 * Outcomes come from the server's reply code (CURLINFO_RESPONSE_CODE), not only from the
 * CURLcode, which is the same for 4xx and 5xx. The read callback's first call marks the
 * start of the data (after the server's 354), its last call the end: a transfer that
 * breaks after the end and before a final reply may have been accepted (MAIL_UNKNOWN).
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

#include "occasiond/mail.h"

#define PASSWORD_MAX 1024

const char *const mail_outcome_names[] = {"sent", "retry", "failed", "unknown"};

struct mail_smtp {
	CURL *curl;
	long rate_per_minute;          /* 0: unpaced */
	int64_t next_start_ns;         /* monotonic: the earliest start of the next message */
	char errbuf[CURL_ERROR_SIZE];
	/* per message */
	const char *msg;
	size_t len, off;
	int started, done, aborted;
	int (*on_data)(void *);
	void *arg;
	char lines[4][256];            /* the last reply lines, a ring */
	unsigned nlines;
};

static int curl_ready;

/* printable: a copy of s for a message, controls and non-ASCII shown as '?', at most 80 bytes. */
static const char *printable(const char *s, char buf[96])
{
	size_t k = 0;
	for (; s && *s && k < 80; s++)
		buf[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[k] = '\0';
	return buf;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* pace: waits until the next message may start; sleeps in slices so the watchdog is fed. */
static void pace(struct mail_smtp *s)
{
	int64_t now = mono_ns();
	if (s->rate_per_minute <= 0)
		return;
	while (now < s->next_start_ns) {
		int64_t left = s->next_start_ns - now, slice = left < 1000000000 ? left : 1000000000;
		struct timespec ts = {(time_t)(slice / 1000000000), (long)(slice % 1000000000)};
		util_keepalive();
		nanosleep(&ts, NULL);
		now = mono_ns();
	}
	s->next_start_ns = now + (int64_t)60 * 1000000000 / s->rate_per_minute;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct mail_smtp *s = arg;
	size_t n = size * nmemb, left = s->len - s->off;
	if (!s->started) {
		/* libcurl asks for the data only once the server said 354 to DATA. */
		s->started = 1;
		if (s->on_data && s->on_data(s->arg) != 0) {
			s->aborted = 1;
			return CURL_READFUNC_ABORT;
		}
	}
	if (n > left)
		n = left;
	memcpy(buf, s->msg + s->off, n);
	s->off += n;
	/* With the size known, libcurl stops asking once it has every byte: that is the end. */
	if (s->off == s->len)
		s->done = 1;
	return n;
}

/* reply_cb: libcurl hands every server reply line to the header callback; keep the last few. */
static size_t reply_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct mail_smtp *s = arg;
	size_t n = size * nmemb, k = 0;
	char *line = s->lines[s->nlines % 4];
	for (size_t i = 0; i < n && buf[i] != '\r' && buf[i] != '\n' && k + 1 < sizeof s->lines[0]; i++)
		line[k++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	line[k] = '\0';
	if (k > 0)
		s->nlines++;
	return n;
}

/*
 * last_reply: the latest reply line with the reply code libcurl reports (the reply to QUIT,
 * which libcurl sends when it closes a failed connection, comes after it), else the latest.
 */
static void last_reply(const struct mail_smtp *s, long code, char *out, size_t size)
{
	char want[8];
	out[0] = '\0';
	snprintf(want, sizeof want, "%03ld", code);
	for (unsigned i = 0; i < 4 && i < s->nlines; i++) {
		const char *l = s->lines[(s->nlines - 1 - i) % 4];
		if (code > 0 && strncmp(l, want, 3) == 0) {
			util_strlcpy(out, l, size);
			return;
		}
	}
	if (s->nlines)
		util_strlcpy(out, s->lines[(s->nlines - 1) % 4], size);
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
	char pw[PASSWORD_MAX];
	long t = cfg->smtp.timeout_secs > 0 ? cfg->smtp.timeout_secs : 30;
	int rc = -1;

	*out = NULL;
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
	s->rate_per_minute = cfg->smtp.rate_per_minute;
	s->curl = curl_easy_init();
	if (!s->curl) {
		err_set(err, "smtp: libcurl initialisation failed");
		goto out;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, cfg->smtp.url);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(s->curl, CURLOPT_USE_SSL, (long)(cfg->smtp.tls == TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->smtp.ca_file)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, cfg->smtp.ca_file);
	if (cfg->smtp.username) {
		if (!cfg->smtp.password_file) {
			err_set(err, "smtp: username without password_file");
			goto out;
		}
		if (read_password(cfg->smtp.password_file, pw, sizeof pw, err) != 0)
			goto out;
		curl_easy_setopt(s->curl, CURLOPT_USERNAME, cfg->smtp.username);
		curl_easy_setopt(s->curl, CURLOPT_PASSWORD, pw);   /* libcurl keeps its own copy */
		explicit_bzero(pw, sizeof pw);
	}
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, t);
	curl_easy_setopt(s->curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, t);
	/* A server that stops moving bytes for the whole timeout is given up on. */
	curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, t);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(s->curl, CURLOPT_READDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, reply_cb);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
	*out = s;
	s = NULL;
	rc = 0;
out:
	explicit_bzero(pw, sizeof pw);
	mail_smtp_close(s);
	return rc;
}

void mail_smtp_close(struct mail_smtp *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);   /* sends QUIT on an open connection */
	free(s);
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

enum mail_outcome mail_smtp_send(struct mail_smtp *s, const char *from, const char *const *rcpt, size_t nrcpt,
                                 const char *msg, size_t len, int (*on_data)(void *), void *arg,
                                 struct mail_result *res)
{
	struct curl_slist *list = NULL;
	char pbuf[96];
	CURLcode rc;
	long code = 0;

	memset(res, 0, sizeof *res);
	if (!mail_addr_envelope_ok(from)) {
		res->outcome = MAIL_FAILED;
		err_set(res->err, "envelope sender '%s' is not a plain address", printable(from, pbuf));
		return res->outcome;
	}
	if (nrcpt == 0) {
		res->outcome = MAIL_FAILED;
		err_set(res->err, "no recipient");
		return res->outcome;
	}
	for (size_t i = 0; i < nrcpt; i++) {
		if (!mail_addr_envelope_ok(rcpt[i])) {
			curl_slist_free_all(list);
			res->outcome = MAIL_FAILED;
			err_set(res->err, "recipient '%s' is not a plain address", printable(rcpt[i], pbuf));
			return res->outcome;
		}
		struct curl_slist *next = curl_slist_append(list, rcpt[i]);
		if (!next) {
			curl_slist_free_all(list);
			res->outcome = MAIL_RETRY;
			err_set(res->err, "out of memory");
			return res->outcome;
		}
		list = next;
	}
	pace(s);
	s->msg = msg;
	s->len = len;
	s->off = 0;
	s->started = s->done = s->aborted = 0;
	s->on_data = on_data;
	s->arg = arg;
	s->nlines = 0;
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, list);
	curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(s->curl);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(list);

	res->code = code;
	res->data_started = s->started;
	last_reply(s, code, res->reply, sizeof res->reply);
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		res->outcome = MAIL_SENT;
		return res->outcome;
	}
	if (rc == CURLE_OK) {
		/* Not expected from libcurl; a reply we cannot read as delivered is not delivered. */
		res->outcome = s->done ? MAIL_UNKNOWN : MAIL_RETRY;
	} else if (s->aborted) {
		res->outcome = MAIL_RETRY;
	} else if (conn_level(rc)) {
		res->outcome = MAIL_RETRY;
		res->conn_failed = 1;
	} else if (code >= 500 && code < 600) {
		res->outcome = MAIL_FAILED;
	} else if (code >= 400 && code < 500) {
		res->outcome = MAIL_RETRY;
		res->conn_failed = code == 421;
	} else if (s->done) {
		res->outcome = MAIL_UNKNOWN;
	} else {
		res->outcome = MAIL_RETRY;
		/* Nothing at all from the server (a timeout at the greeting, a dead peer). */
		res->conn_failed = code == 0;
	}
	if (s->aborted)
		err_set(res->err, "aborted before the data: the dispatch record could not be updated");
	else if (res->outcome == MAIL_UNKNOWN)
		err_set(res->err, "the whole message went out but the server gave no final reply (%s): it may have it",
		        s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	else if (res->reply[0] && code >= 400)
		err_set(res->err, "server replied: %s", res->reply);
	else
		err_set(res->err, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	return res->outcome;
}
