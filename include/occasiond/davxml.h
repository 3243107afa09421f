/*
 * davxml: the WebDAV multistatus answers of a CardDAV server (RFC 4918, RFC 6352, RFC 6578),
 * read strictly and within limits: the only expat user. Only what a contact sync needs is
 * kept: each response's href, its status, its getetag and address-data (from a propstat
 * whose status is 2xx), and the multistatus' sync-token. A document type declaration (and so
 * any entity) is refused, as is text where a value must be one line.
 */
#ifndef OCCASIOND_DAVXML_H
#define OCCASIOND_DAVXML_H

#include <stddef.h>

#include "occasiond/util.h"

#define DAVXML_MAX_HREF 2048      /* bytes in an href, an etag or a sync-token */
#define DAVXML_MAX_DEPTH 32       /* nested elements */

struct dav_item {
	char *href;       /* as the server wrote it (percent-encoded path or URL), one line */
	int status;       /* the response's own status (e.g. 404 for a member removed), else the
	                     status of the propstat its properties came in; 0 when none was given */
	char *etag;       /* or NULL */
	char *data;       /* address-data (a vCard), or NULL */
	size_t data_len;
};

struct dav_multistatus {
	struct dav_item *items;
	size_t n;
	char *sync_token; /* or NULL */
};

/*
 * davxml_parse: body (len bytes) as a DAV:multistatus. At most max_items responses and
 * max_data bytes of address-data in one value. 0 with *out filled (free with davxml_free),
 * or -1 with a one-line err ("line L: MESSAGE") and *out empty.
 */
int davxml_parse(const char *body, size_t len, size_t max_items, size_t max_data, struct dav_multistatus *out,
                 char err[ERR_LEN]);
void davxml_free(struct dav_multistatus *ms);   /* NULL is fine; zeroes *ms */
/* davxml_escape: s with &, <, > and " escaped, appended to out (for an href sent back). */
void davxml_escape(const char *s, struct strbuf *out);

#endif
