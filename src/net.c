/*
 * net: one HTTPS request through libcurl. Kept generic (method, headers, body, a bounded
 * response) so that every web call of the daemon goes through one place that verifies
 * certificates, limits what it reads and feeds the watchdog while it waits.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/net.h"

#define DEFAULT_MAX (1024 * 1024)

static int curl_ready;

struct sink {
	struct strbuf buf;
	size_t max;
	int too_large;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	size_t n = size * nmemb;
	if (k->buf.len + n > k->max) {
		k->too_large = 1;
		return 0;   /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	sb_addn(&k->buf, data, n);
	return n;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	util_keepalive();
	return 0;
}

/*
 * perform: the transfer through a multi handle, waking at least every 250 ms to feed the
 * watchdog (the progress callback of curl_easy_perform may wait a second when nothing moves).
 */
static CURLcode perform(CURL *h)
{
	CURLM *m = curl_multi_init();
	CURLMsg *msg;
	CURLcode rc = CURLE_FAILED_INIT;
	int running = 1, left;
	if (!m)
		return rc;
	if (curl_multi_add_handle(m, h) != CURLM_OK) {
		curl_multi_cleanup(m);
		return rc;
	}
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(m, NULL, 0, 250, NULL);
		util_keepalive();
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	curl_multi_remove_handle(m, h);
	curl_multi_cleanup(m);
	return rc;
}

/* url_host: the host part of the URL, for messages (printable, bounded). */
static void url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://");
	size_t k = 0;
	p = p ? p + 3 : url;
	for (; *p && *p != '/' && *p != '?' && *p != '#' && k + 1 < size; p++)
		out[k++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
	out[k] = '\0';
}

static int unreachable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}

enum net_error net_request(const struct net_request *rq, struct net_response *rs, char err[ERR_LEN])
{
	CURL *h = NULL;
	struct curl_slist *hdrs = NULL;
	struct sink k = {{0}, rq->max_response ? rq->max_response : DEFAULT_MAX, 0};
	char ebuf[CURL_ERROR_SIZE], host[128];
	enum net_error ret = NET_OTHER;
	CURLcode rc;
	long t = rq->timeout_secs > 0 ? rq->timeout_secs : 30;

	memset(rs, 0, sizeof *rs);
	ebuf[0] = '\0';
	url_host(rq->url, host, sizeof host);
	if (strncmp(rq->url, "https://", 8) != 0 && !(rq->allow_http && strncmp(rq->url, "http://", 7) == 0)) {
		err_set(err, "%s: an https:// URL is needed", host);
		goto out;
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			err_set(err, "libcurl initialisation failed");
			goto out;
		}
		curl_ready = 1;
	}
	h = curl_easy_init();
	if (!h) {
		err_set(err, "libcurl initialisation failed");
		goto out;
	}
	for (size_t i = 0; i < rq->nheaders; i++) {
		struct curl_slist *n;
		if (strpbrk(rq->headers[i], "\r\n")) {
			err_set(err, "%s: a request header holds a line break", host);
			goto out;
		}
		n = curl_slist_append(hdrs, rq->headers[i]);
		if (!n) {
			err_set(err, "out of memory");
			goto out;
		}
		hdrs = n;
	}
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, rq->allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rq->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_file);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	}
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (rq->username && rq->password) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, rq->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password);
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT, t);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, t);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "occasiond");
	rc = perform(h);
	if (k.too_large) {
		ret = NET_TOO_LARGE;
		err_set(err, "%s: the response is larger than %zu bytes", host, k.max);
		goto out;
	}
	if (rc != CURLE_OK) {
		ret = unreachable(rc) ? NET_UNREACHABLE : NET_OTHER;
		err_set(err, "%s: %s", host, ebuf[0] ? ebuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	if (rs->status >= 300 && rs->status < 400) {
		char *loc = NULL;
		if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
			rs->location = xstrdup(loc);
	}
	rs->len = k.buf.len;
	rs->body = sb_detach(&k.buf);
	ret = NET_OK;
out:
	if (k.buf.s)
		explicit_bzero(k.buf.s, k.buf.cap);
	sb_free(&k.buf);
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	return ret;
}

void net_response_free(struct net_response *rs)
{
	if (!rs)
		return;
	if (rs->body)
		explicit_bzero(rs->body, rs->len);   /* a token response holds secrets */
	free(rs->body);
	free(rs->location);
	rs->body = NULL;
	rs->location = NULL;
	rs->len = 0;
}

void net_form_escape(const char *s, struct strbuf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~", c))
			sb_addc(out, (char)c);
		else {
			sb_addc(out, '%');
			sb_addc(out, hex[c >> 4]);
			sb_addc(out, hex[c & 15]);
		}
	}
}
