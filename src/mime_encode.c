/*
 * mime, the encoders: strict addresses and mailbox parsing, RFC 2047 encoded words,
 * quoted-printable, base64, and the header writer that folds at 78 columns.
 *
 * Everything a header carries is checked here: CR, LF, NUL, other control characters
 * and invalid UTF-8 are refused with an error naming the field, so no data can ever add
 * a header line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_int.h"

#define EW_MAX 75             /* RFC 2047 2: an encoded word is at most 75 characters */
#define EW_OVERHEAD 12        /* "=?UTF-8?B?" + "?=" */
#define ASCII_WORD_MAX 60     /* longer words are encoded so that they can be split */
#define QP_LINE 76
#define MAX_LIST_ADDRS 100

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- small character classes ---- */

int mime_is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int mime_is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* mime_check_text: a header value must be UTF-8 without C0/C1 control characters and fit one line. */
int mime_check_text(const char *field, const char *s, char err[ERR_LEN])
{
	const char *p = s, *end = s + strlen(s);
	if ((size_t)(end - s) > HDR_VALUE_MAX)
		return err_set(err, "%s: longer than %d bytes", field, HDR_VALUE_MAX);
	while (p < end) {
		int32_t cp = util_utf8_next(&p, end);
		if (cp < 0)
			return err_set(err, "%s: invalid UTF-8", field);
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return err_set(err, "%s: control character", field);
	}
	return 0;
}

/* mime_dot_atom: atext runs separated by single dots (no leading, trailing or double dots). */
int mime_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!mime_is_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/*
 * Address rules (strict on purpose: these go to RCPT TO and into headers):
 * local part a dot-atom of ASCII atext, at most 64; domain LDH labels of 1..63 with no
 * leading or trailing hyphen, at most 253, at least two labels with a last label that is
 * not all digits, except the single label "localhost"; no quoted local parts, no address
 * literals, no internationalised addresses; at most 254 in all.
 */
int mime_addr_valid(const char *addr)
{
	const char *at;
	size_t len, llen, dlen, lab = 0, nlabels = 0;
	int digits_only = 1;
	if (!addr)
		return 0;
	len = strlen(addr);
	at = strchr(addr, '@');
	if (len > 254 || !at || strchr(at + 1, '@'))
		return 0;
	llen = (size_t)(at - addr);
	dlen = len - llen - 1;
	if (llen > 64 || !mime_dot_atom(addr, llen) || dlen == 0 || dlen > 253)
		return 0;
	if (util_strcaseeq(at + 1, "localhost"))
		return 1;
	for (const char *d = at + 1; ; d++) {
		if (*d == '.' || *d == '\0') {
			if (lab == 0 || lab > 63 || d[-1] == '-' || *(d - lab) == '-')
				return 0;
			nlabels++;
			if (*d == '\0')
				break;
			lab = 0;
			digits_only = 1;
			continue;
		}
		if (!mime_is_ldh((unsigned char)*d))
			return 0;
		if (*d < '0' || *d > '9')
			digits_only = 0;
		lab++;
	}
	return nlabels >= 2 && !digits_only;
}

/* ---- mailbox parsing ---- */

char *mime_trim_copy(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return xstrndup(s, n);
}

int mime_parse_mailbox(const char *text, char **name, char **addr, char err[ERR_LEN])
{
	char *t = NULL, *nm = NULL, *ad = NULL;
	size_t n;
	int rc = -1;
	*name = *addr = NULL;
	if (!text)
		return err_set(err, "no address");
	if (mime_check_text("address", text, err) != 0)
		return -1;
	t = mime_trim_copy(text, strlen(text));
	n = strlen(t);
	if (n && t[n - 1] == '>') {
		/* The last '<' outside a quoted display name opens the address. */
		const char *lt = NULL;
		int inq = 0;
		for (const char *p = t; *p; p++) {
			if (inq && *p == '\\' && p[1])
				p++;
			else if (*p == '"')
				inq = !inq;
			else if (!inq && *p == '<')
				lt = p;
		}
		if (!lt || inq) {
			err_set(err, "'%s': unbalanced quotes or angle brackets", t);
			goto out;
		}
		ad = mime_trim_copy(lt + 1, (size_t)(t + n - 1 - (lt + 1)));
		nm = mime_trim_copy(t, (size_t)(lt - t));
		if (nm[0] == '"') {
			struct strbuf sb = {0};
			const char *p = nm + 1;
			for (; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				sb_addc(&sb, *p);
			}
			if (*p != '"' || p[1] != '\0') {
				sb_free(&sb);
				err_set(err, "'%s': text after the quoted display name", t);
				goto out;
			}
			free(nm);
			nm = sb_detach(&sb);
		} else if (strpbrk(nm, ",;<>\"\\@")) {
			err_set(err, "'%s': a display name with , ; < > \" \\ or @ must be quoted", t);
			goto out;
		}
		if (!nm[0]) {
			free(nm);
			nm = NULL;
		}
	} else {
		ad = xstrdup(t);
	}
	if (!mime_addr_valid(ad)) {
		err_set(err, "'%s': invalid email address", ad);
		goto out;
	}
	*name = nm;
	*addr = ad;
	nm = ad = NULL;
	rc = 0;
out:
	free(t);
	free(nm);
	free(ad);
	return rc;
}

void mime_addr_list_free(struct mime_addr *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free((char *)list[i].name);
		free((char *)list[i].addr);
	}
	free(list);
}

int mime_parse_mailbox_list(const char *text, struct mime_addr **list, size_t *n, char err[ERR_LEN])
{
	struct mime_addr *v = NULL;
	size_t cnt = 0;
	const char *p = text ? text : "", *start = p;
	int inq = 0, inangle = 0;
	*list = NULL;
	*n = 0;
	for (;; p++) {
		if (inq && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"' && !inangle)
			inq = !inq;
		else if (!inq && *p == '<')
			inangle = 1;
		else if (!inq && *p == '>')
			inangle = 0;
		if (*p != '\0' && (inq || inangle || *p != ','))
			continue;
		char *item = mime_trim_copy(start, (size_t)(p - start)), *nm, *ad;
		if (item[0]) {
			if ((cnt == MAX_LIST_ADDRS && err_set(err, "more than %d addresses", MAX_LIST_ADDRS)) ||
			    mime_parse_mailbox(item, &nm, &ad, err) != 0) {
				free(item);
				mime_addr_list_free(v, cnt);
				return -1;
			}
			v = xreallocarray(v, cnt + 1, sizeof *v);
			v[cnt].name = nm;
			v[cnt++].addr = ad;
		}
		free(item);
		if (*p == '\0')
			break;
		start = p + 1;
	}
	*list = v;
	*n = cnt;
	return 0;
}

/* ---- encoders ---- */

static void b64_raw(const unsigned char *d, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		size_t k = len - i;
		if (k > 1)
			v |= (uint32_t)d[i + 1] << 8;
		if (k > 2)
			v |= d[i + 2];
		sb_addc(out, b64_chars[(v >> 18) & 63]);
		sb_addc(out, b64_chars[(v >> 12) & 63]);
		sb_addc(out, k > 1 ? b64_chars[(v >> 6) & 63] : '=');
		sb_addc(out, k > 2 ? b64_chars[v & 63] : '=');
	}
}

void mime_base64(const void *data, size_t len, struct strbuf *out)
{
	const unsigned char *d = data;
	for (size_t i = 0; i < len; i += 57) {
		b64_raw(d + i, len - i < 57 ? len - i : 57, out);
		sb_adds(out, "\r\n");
	}
}

static void qp_hex(struct strbuf *out, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	sb_addc(out, '=');
	sb_addc(out, hex[c >> 4]);
	sb_addc(out, hex[c & 15]);
}

/*
 * Quoted-printable: printable ASCII stays, '=' and other bytes become =XX, a space or tab
 * at the end of a line is encoded, soft breaks keep lines at 76 and never split a UTF-8
 * sequence. A '.' or "From " at the start of a line is encoded too, so that no transport
 * can alter it.
 */
void mime_qp_encode(const char *text, size_t len, struct strbuf *out)
{
	const char *p = text, *end = text + len;
	size_t col = 0;
	while (p < end) {
		if (*p == '\r' || *p == '\n') {
			p += (*p == '\r' && p + 1 < end && p[1] == '\n') ? 2 : 1;
			sb_adds(out, "\r\n");
			col = 0;
			continue;
		}
		unsigned char c = (unsigned char)*p;
		const char *q = p;
		size_t seq = 1, width;
		if (c >= 0x80 && util_utf8_next(&q, end) >= 0)
			seq = (size_t)(q - p);
		int at_eol = p + seq == end || p[seq] == '\r' || p[seq] == '\n';
		int lit = seq == 1 && (((c == ' ' || c == '\t') && !at_eol) || (c >= 33 && c <= 126 && c != '='));
		if (col == 0 && (c == '.' || (c == 'F' && end - p >= 5 && memcmp(p, "From ", 5) == 0)))
			lit = 0;
		width = lit ? 1 : 3 * seq;
		if (col + width > (at_eol ? QP_LINE : QP_LINE - 1)) {
			sb_adds(out, "=\r\n");
			col = 0;
		}
		if (lit)
			sb_addc(out, (char)c);
		else
			for (size_t i = 0; i < seq; i++)
				qp_hex(out, (unsigned char)p[i]);
		col += width;
		p += seq;
	}
}

/* ---- header writer: atoms separated by single spaces, folded before a space at 78 ---- */


void mime_hdr_start(struct mime_hdr *h, struct strbuf *out, const char *name)
{
	h->out = out;
	sb_adds(out, name);
	sb_addc(out, ':');
	h->col = strlen(name) + 1;
}

void mime_hdr_atom(struct mime_hdr *h, const char *a, size_t n)
{
	if (h->col > 0 && h->col + 1 + n > HDR_WIDTH) {
		sb_adds(h->out, "\r\n");
		h->col = 0;
	}
	sb_addc(h->out, ' ');
	sb_addn(h->out, a, n);
	h->col += 1 + n;
}

void mime_hdr_end(struct mime_hdr *h)
{
	sb_adds(h->out, "\r\n");
}

/*
 * hdr_encoded: s[0..len) as RFC 2047 B words, each at most 75 characters and holding
 * whole UTF-8 characters only (s is valid UTF-8); a longer run fills the current line first.
 */
static void hdr_encoded(struct mime_hdr *h, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	struct strbuf w = {0};
	while (p < end) {
		size_t room = h->col + 1 < HDR_WIDTH ? HDR_WIDTH - h->col - 1 : 0;
		size_t max = room < EW_OVERHEAD + 8 ? EW_MAX : (room < EW_MAX ? room : EW_MAX);
		/* A run that fits one word stays whole (mime_hdr_atom folds before it if need be). */
		if (EW_OVERHEAD + 4 * (((size_t)(end - p) + 2) / 3) <= EW_MAX)
			max = EW_MAX;
		const char *q = p;
		while (q < end) {
			const char *r = q;
			if (util_utf8_next(&r, end) < 0)
				r = q + 1;
			size_t nb = (size_t)(r - p);
			if (q > p && EW_OVERHEAD + 4 * ((nb + 2) / 3) > max)
				break;
			q = r;
		}
		sb_reset(&w);
		sb_adds(&w, "=?UTF-8?B?");
		b64_raw((const unsigned char *)p, (size_t)(q - p), &w);
		sb_adds(&w, "?=");
		mime_hdr_atom(h, w.s, w.len);
		p = q;
	}
	sb_free(&w);
}

/* A word that must be encoded: non-ASCII, looks like an encoded word, or too long to fold. */
static int word_needs_encoding(const char *s, size_t n)
{
	if (n > ASCII_WORD_MAX)
		return 1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || (s[i] == '=' && i + 1 < n && s[i + 1] == '?'))
			return 1;
	return 0;
}

/* mime_quote_word: a quoted-string of s[0..n) ('"' and '\\' escaped). */
void mime_quote_word(struct strbuf *q, const char *s, size_t n)
{
	sb_addc(q, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sb_addc(q, '\\');
		sb_addc(q, s[i]);
	}
	sb_addc(q, '"');
}

/*
 * hdr_words: the value as words: runs of spaces become one space and the ends are
 * trimmed; plain ASCII words stay readable; each run of words that needs encoding becomes
 * encoded words that carry the spaces between those words. In a phrase (display name)
 * an ASCII word with specials is quoted. Encoding only the non-ASCII runs also keeps a
 * typical name in one encoded word: some parsers (CPython < 3.14, gh-128110) wrongly keep
 * the space between adjacent encoded words of a display name.
 */
static void hdr_words(struct mime_hdr *h, const char *v, int phrase)
{
	struct strbuf run = {0};
	const char *p = v;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t n = (size_t)(p - w), k = 0;
		if (!word_needs_encoding(w, n)) {
			while (phrase && k < n && mime_is_atext((unsigned char)w[k]))
				k++;
			sb_reset(&run);
			if (k < n && phrase)
				mime_quote_word(&run, w, n);
			else
				sb_addn(&run, w, n);
			mime_hdr_atom(h, run.s, run.len);
			continue;
		}
		sb_reset(&run);
		sb_addn(&run, w, n);
		for (;;) {
			const char *q = p, *w2;
			while (*q == ' ')
				q++;
			w2 = q;
			while (*q && *q != ' ')
				q++;
			if (q == w2 || !word_needs_encoding(w2, (size_t)(q - w2)))
				break;
			sb_addc(&run, ' ');
			sb_addn(&run, w2, (size_t)(q - w2));
			p = q;
		}
		hdr_encoded(h, run.s, run.len);
	}
	sb_free(&run);
}

/* hdr_phrase: a display name: an ASCII one as atoms or one quoted-string, else words as above. */
static void hdr_phrase(struct mime_hdr *h, const char *name)
{
	struct strbuf norm = {0}, q = {0};
	int plain = 1, ascii = 1;
	for (const char *p = name; *p; p++) {
		if (*p == ' ' && (norm.len == 0 || norm.s[norm.len - 1] == ' '))
			continue;
		sb_addc(&norm, *p);
	}
	while (norm.len && norm.s[norm.len - 1] == ' ')
		norm.s[--norm.len] = '\0';
	for (size_t i = 0; i < norm.len; i++) {
		unsigned char c = (unsigned char)norm.s[i];
		if (c >= 0x80)
			ascii = 0;
		else if (c != ' ' && !mime_is_atext(c))
			plain = 0;
	}
	if (norm.len && ascii && !plain && !strstr(norm.s, "=?") && norm.len <= ASCII_WORD_MAX) {
		mime_quote_word(&q, norm.s, norm.len);
		mime_hdr_atom(h, q.s, q.len);
	} else if (norm.len) {
		hdr_words(h, norm.s, 1);
	}
	sb_free(&norm);
	sb_free(&q);
}

int mime_hdr_mailbox(struct mime_hdr *h, const char *field, const struct mime_addr *a, int comma,
                       char err[ERR_LEN])
{
	char buf[300];
	if (!a->addr || !a->addr[0])
		return err_set(err, "%s: no address", field);
	if (mime_check_text(field, a->addr, err) != 0)
		return -1;
	if (!mime_addr_valid(a->addr))
		return err_set(err, "%s: invalid address '%s'", field, a->addr);
	if (a->name && mime_check_text(field, a->name, err) != 0)
		return -1;
	if (a->name && strspn(a->name, " ") < strlen(a->name)) {
		hdr_phrase(h, a->name);
		snprintf(buf, sizeof buf, "<%s>%s", a->addr, comma ? "," : "");
	} else {
		snprintf(buf, sizeof buf, "%s%s", a->addr, comma ? "," : "");
	}
	mime_hdr_atom(h, buf, strlen(buf));
	return 0;
}

/* ---- mime_build ---- */

int mime_encode_header(const char *name, const char *value, struct strbuf *out, char err[ERR_LEN])
{
	struct mime_hdr h;
	if (!value || mime_check_text(name, value, err) != 0)
		return value ? -1 : err_set(err, "%s: missing", name);
	mime_hdr_start(&h, out, name);
	hdr_words(&h, value, 0);
	mime_hdr_end(&h);
	return 0;
}

/* A value we put in a header verbatim: printable ASCII, no spaces, bounded. */
int mime_check_token(const char *field, const char *v, size_t max, char err[ERR_LEN])
{
	if (!v || !v[0])
		return err_set(err, "%s: missing", field);
	if (mime_check_text(field, v, err) != 0)
		return -1;
	if (strlen(v) > max)
		return err_set(err, "%s: longer than %zu bytes", field, max);
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~')
			return err_set(err, "%s: only printable ASCII without spaces", field);
	return 0;
}
