/*
 * mime: RFC 5322 / MIME messages from structured fields only: RFC 2047 encoded words,
 * quoted-printable bodies, base64 attachments, CRLF line ends, folded headers.
 * Every header value is checked: CR, LF, NUL and other control characters are refused.
 */
#ifndef OCCASIOND_MIME_H
#define OCCASIOND_MIME_H

#include <stddef.h>

#include "occasiond/template.h"
#include "occasiond/util.h"

struct mime_addr {
	const char *name;   /* display name (UTF-8) or NULL */
	const char *addr;   /* addr-spec, checked with mime_addr_valid */
};

struct mime_attachment {
	const char *filename;      /* safe ASCII name or UTF-8 (RFC 2231 encoded when needed) */
	const char *content_type;  /* "application/pdf" */
	const void *data;
	size_t len;
};

struct mime_message {
	struct mime_addr from;
	struct mime_addr to;
	struct mime_addr reply_to;         /* addr NULL: none */
	const struct mime_addr *cc;        /* ncc of them */
	size_t ncc;
	const char *subject;               /* UTF-8 */
	const char *date;                  /* RFC 5322 date-time, e.g. from dates_format_rfc5322 */
	const char *message_id;            /* without the angle brackets: "id@domain" */
	const char *text;                  /* plain-text body, UTF-8, LF or CRLF line ends */
	const char *html;                  /* or NULL: then no multipart/alternative */
	const struct mime_attachment *attachments;
	size_t nattachments;
	const char *dispatch_id;           /* X-Occasiond-Dispatch header value, or NULL */
	const char *unsubscribe;           /* List-Unsubscribe URL (mime_unsubscribe_check), or NULL */
};

/*
 * mime_build: the whole message, CRLF line ends, appended to out. 0 or -1 with err naming
 * the field ("subject: control character"); on error out is left as it was. date NULL:
 * the current time (UTC). message_id and subject are required.
 */
int mime_build(const struct mime_message *m, struct strbuf *out, char err[ERR_LEN]);

/*
 * mime_unsubscribe_check: 0 when url may stand in List-Unsubscribe (RFC 2369): "mailto:" and a
 * valid address (an optional ?subject=... of URL-safe characters), or "https://" and a host,
 * printable ASCII without spaces, angle brackets or commas, at most 500 bytes. -1 with err.
 * An https URL also gets List-Unsubscribe-Post (RFC 8058 one-click) from mime_build.
 */
int mime_unsubscribe_check(const char *url, char err[ERR_LEN]);

/*
 * mime_addr_valid: 1 for a strict addr-spec: dot-atom local part of ASCII atext (<= 64),
 * a domain of LDH labels (1..63, no leading/trailing hyphen, <= 253) with at least one dot
 * and a last label not all digits, or the single label "localhost"; <= 254 in all. No
 * quoted local parts, address literals or non-ASCII addresses.
 */
int mime_addr_valid(const char *addr);
/*
 * mime_parse_mailbox: "Display Name <addr>" or "addr" -> name (NULL when none) and addr,
 * both malloc'd. Quoted display names allowed. 0 or -1 with err.
 */
int mime_parse_mailbox(const char *text, char **name, char **addr, char err[ERR_LEN]);
/*
 * mime_parse_mailbox_list: a comma-separated list of mailboxes (commas inside quotes or
 * angle brackets do not separate; empty items are skipped, so "" gives n 0). Each name
 * and addr is malloc'd; free with mime_addr_list_free. 0 or -1 with err.
 */
int mime_parse_mailbox_list(const char *text, struct mime_addr **list, size_t *n, char err[ERR_LEN]);
void mime_addr_list_free(struct mime_addr *list, size_t n);
/*
 * mime_encode_header: appends the whole field "Name: value" CRLF for an unstructured value
 * (RFC 2047 B words as needed, never splitting a UTF-8 character), folded at 78 columns.
 * Runs of spaces become one and the ends are trimmed. 0 or -1 (control character, invalid
 * UTF-8, over 998 bytes) with err naming the field.
 */
int mime_encode_header(const char *name, const char *value, struct strbuf *out, char err[ERR_LEN]);
/* mime_qp_encode: quoted-printable (RFC 2045) of text, lines of at most 76, CRLF. */
void mime_qp_encode(const char *text, size_t len, struct strbuf *out);
/* mime_base64: base64 in lines of 76, CRLF. */
void mime_base64(const void *data, size_t len, struct strbuf *out);

/*
 * Email templates: templates/NAME.email is header lines (Subject: required; Reply-To: and
 * Cc: allowed), a blank line, then the plain-text body; NAME.email.html, when present, is the
 * HTML alternative. Each header value and the bodies are Mustache, rendered separately so
 * that data can never add a header line.
 */
struct email_template;
struct email_rendered {
	char *subject;
	char *reply_to;   /* or NULL; one mailbox, canonical: "Name" <addr> or addr */
	char *cc;         /* or NULL; mailboxes as above joined by ", " (mime_parse_mailbox_list) */
	char *text;
	char *html;       /* or NULL */
};
/*
 * email_template_load: reads DIR/NAME.email (and DIR/NAME.email.html); NAME must match
 * [A-Za-z0-9_-]+. Checks the header names and the Mustache syntax. Errors
 * "FILE:LINE:1: error: MESSAGE". 0 or -1; free with email_template_free.
 */
int email_template_load(const char *dir, const char *name, struct email_template **out, char err[ERR_LEN]);
void email_template_free(struct email_template *t);
/*
 * email_template_render: renders with ctx (no HTML escaping in the text parts, escaping in
 * the .html part) and partials from dir. A rendered header value holding a control character
 * or more than 998 bytes is an error. Free out with email_rendered_clear. 0 or -1.
 */
int email_template_render(const struct email_template *t, const struct tval *ctx, const char *dir,
                          struct email_rendered *out, char err[ERR_LEN]);
void email_rendered_clear(struct email_rendered *r);

#endif
