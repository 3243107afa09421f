/*
 * mime internals shared by mime_encode.c (addresses, RFC 2047, quoted-printable, base64,
 * the header writer), mime.c (the message) and mime_template.c (NAME.email templates).
 * Not a public header.
 */
#ifndef OCCASIOND_MIME_INT_H
#define OCCASIOND_MIME_INT_H

#include <stddef.h>

#include "occasiond/mime.h"

#define HDR_WIDTH 78          /* RFC 5322 2.1.1: SHOULD */
#define HDR_VALUE_MAX 998     /* RFC 5322 2.1.1: MUST, for one header value */

int mime_is_atext(unsigned char c);
int mime_is_ldh(unsigned char c);
/* mime_check_text: UTF-8 without C0/C1 control characters, at most 998 bytes; -1 with err naming field. */
int mime_check_text(const char *field, const char *s, char err[ERR_LEN]);
/* mime_dot_atom: atext runs separated by single dots. */
int mime_dot_atom(const char *s, size_t n);
/* mime_trim_copy: s[0..n) without leading and trailing blanks, malloc'd. */
char *mime_trim_copy(const char *s, size_t n);
/* mime_quote_word: a quoted-string of s[0..n) ('"' and '\\' escaped) appended to q. */
void mime_quote_word(struct strbuf *q, const char *s, size_t n);
/* mime_check_token: a value put in a header verbatim: printable ASCII, no spaces, at most max. */
int mime_check_token(const char *field, const char *v, size_t max, char err[ERR_LEN]);

/* The header writer: atoms separated by single spaces, folded before a space at 78 columns. */
struct mime_hdr {
	struct strbuf *out;
	size_t col;
};
void mime_hdr_start(struct mime_hdr *h, struct strbuf *out, const char *name);
void mime_hdr_atom(struct mime_hdr *h, const char *a, size_t n);
void mime_hdr_end(struct mime_hdr *h);
/* mime_hdr_mailbox: one checked mailbox ("phrase <addr>" or addr), a comma after it when comma. */
int mime_hdr_mailbox(struct mime_hdr *h, const char *field, const struct mime_addr *a, int comma, char err[ERR_LEN]);

#endif
