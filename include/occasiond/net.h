/*
 * net: one HTTPS request through libcurl (with mail_smtp.c the only libcurl users), for the
 * OAuth2 token endpoint and other small web APIs. Certificates are always verified; the
 * response body is bounded; the watchdog (util_keepalive) is fed while it waits.
 */
#ifndef OCCASIOND_NET_H
#define OCCASIOND_NET_H

#include <stddef.h>

#include "occasiond/util.h"

struct net_request {
	const char *method;           /* "GET", "POST", "PROPFIND", "REPORT", ... */
	const char *url;              /* https://; http:// only when allow_http */
	const char *const *headers;   /* "Name: value" lines, nheaders of them (no CR/LF) */
	size_t nheaders;
	const char *body;             /* or NULL */
	size_t body_len;
	size_t max_response;          /* a larger body is an error (0: 1 MiB) */
	long timeout_secs;            /* the whole request, connecting included (0: 30) */
	const char *ca_file;          /* or NULL: the system's certificates */
	const char *username;         /* HTTP Basic (or NULL), only with password */
	const char *password;
	int allow_http;               /* plain http:// allowed (a loopback test server) */
};

struct net_response {
	long status;                  /* the HTTP status, 0 when none came */
	char *body;                   /* NUL-terminated, malloc'd (never NULL after success) */
	size_t len;
	char *location;               /* a redirect's target (never followed), malloc'd, or NULL */
};

enum net_error {
	NET_OK,
	NET_UNREACHABLE,              /* resolve, connect, TLS or timeout: nothing or too little came */
	NET_TOO_LARGE,                /* the body passed max_response */
	NET_OTHER
};

/*
 * net_request: performs rq; any HTTP status is a success here (rs->status says which).
 * Returns NET_OK with *rs filled (free with net_response_free), or the kind of failure
 * with err ("token endpoint: ..." style text is the caller's; err names the URL's host,
 * never the body or the headers, which may hold secrets).
 */
enum net_error net_request(const struct net_request *rq, struct net_response *rs, char err[ERR_LEN]);
void net_response_free(struct net_response *rs);   /* NULL is fine */
/*
 * net_form_escape: appends s percent-encoded for application/x-www-form-urlencoded
 * (unreserved characters kept, space as %20) to out.
 */
void net_form_escape(const char *s, struct strbuf *out);

#endif
