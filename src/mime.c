/*
 * mime: RFC 5322 / MIME messages built from structured fields, and the email templates
 * (NAME.email, NAME.email.html) that produce those fields.
 *
 * Everything a header carries is checked here: CR, LF, NUL, other control characters
 * and invalid UTF-8 are refused with an error naming the field, so no data can ever add
 * a header line. Lines end in CRLF, headers are folded at 78 columns, body lines are
 * quoted-printable (76) or base64 (76), so no line reaches the 998-octet limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "occasiond/mime.h"

#define HDR_WIDTH 78          /* RFC 5322 2.1.1: SHOULD */
#define HDR_VALUE_MAX 998     /* RFC 5322 2.1.1: MUST, for one header value */
#define EW_MAX 75             /* RFC 2047 2: an encoded word is at most 75 characters */
#define EW_OVERHEAD 12        /* "=?UTF-8?B?" + "?=" */
#define ASCII_WORD_MAX 60     /* longer words are encoded so that they can be split */
#define QP_LINE 76
#define TEMPLATE_MAX (256 * 1024)
#define MAX_LIST_ADDRS 100

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- small character classes ---- */

static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* check_text: a header value must be UTF-8 without C0/C1 control characters and fit one line. */
static int check_text(const char *field, const char *s, char err[ERR_LEN])
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

/* dot_atom: atext runs separated by single dots (no leading, trailing or double dots). */
static int dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i])) {
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
	if (llen > 64 || !dot_atom(addr, llen) || dlen == 0 || dlen > 253)
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
		if (!is_ldh((unsigned char)*d))
			return 0;
		if (*d < '0' || *d > '9')
			digits_only = 0;
		lab++;
	}
	return nlabels >= 2 && !digits_only;
}

/* ---- mailbox parsing ---- */

static char *trim_copy(const char *s, size_t n)
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
	if (check_text("address", text, err) != 0)
		return -1;
	t = trim_copy(text, strlen(text));
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
		ad = trim_copy(lt + 1, (size_t)(t + n - 1 - (lt + 1)));
		nm = trim_copy(t, (size_t)(lt - t));
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
		char *item = trim_copy(start, (size_t)(p - start)), *nm, *ad;
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

struct hdr {
	struct strbuf *out;
	size_t col;
};

static void hdr_start(struct hdr *h, struct strbuf *out, const char *name)
{
	h->out = out;
	sb_adds(out, name);
	sb_addc(out, ':');
	h->col = strlen(name) + 1;
}

static void hdr_atom(struct hdr *h, const char *a, size_t n)
{
	if (h->col > 0 && h->col + 1 + n > HDR_WIDTH) {
		sb_adds(h->out, "\r\n");
		h->col = 0;
	}
	sb_addc(h->out, ' ');
	sb_addn(h->out, a, n);
	h->col += 1 + n;
}

static void hdr_end(struct hdr *h)
{
	sb_adds(h->out, "\r\n");
}

/*
 * hdr_encoded: s[0..len) as RFC 2047 B words, each at most 75 characters and holding
 * whole UTF-8 characters only (s is valid UTF-8); a longer run fills the current line first.
 */
static void hdr_encoded(struct hdr *h, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	struct strbuf w = {0};
	while (p < end) {
		size_t room = h->col + 1 < HDR_WIDTH ? HDR_WIDTH - h->col - 1 : 0;
		size_t max = room < EW_OVERHEAD + 8 ? EW_MAX : (room < EW_MAX ? room : EW_MAX);
		/* A run that fits one word stays whole (hdr_atom folds before it if need be). */
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
		hdr_atom(h, w.s, w.len);
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

/* quote_word: a quoted-string of s[0..n) ('"' and '\\' escaped). */
static void quote_word(struct strbuf *q, const char *s, size_t n)
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
static void hdr_words(struct hdr *h, const char *v, int phrase)
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
			while (phrase && k < n && is_atext((unsigned char)w[k]))
				k++;
			sb_reset(&run);
			if (k < n && phrase)
				quote_word(&run, w, n);
			else
				sb_addn(&run, w, n);
			hdr_atom(h, run.s, run.len);
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
static void hdr_phrase(struct hdr *h, const char *name)
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
		else if (c != ' ' && !is_atext(c))
			plain = 0;
	}
	if (norm.len && ascii && !plain && !strstr(norm.s, "=?") && norm.len <= ASCII_WORD_MAX) {
		quote_word(&q, norm.s, norm.len);
		hdr_atom(h, q.s, q.len);
	} else if (norm.len) {
		hdr_words(h, norm.s, 1);
	}
	sb_free(&norm);
	sb_free(&q);
}

static int hdr_mailbox(struct hdr *h, const char *field, const struct mime_addr *a, int comma,
                       char err[ERR_LEN])
{
	char buf[300];
	if (!a->addr || !a->addr[0])
		return err_set(err, "%s: no address", field);
	if (check_text(field, a->addr, err) != 0)
		return -1;
	if (!mime_addr_valid(a->addr))
		return err_set(err, "%s: invalid address '%s'", field, a->addr);
	if (a->name && check_text(field, a->name, err) != 0)
		return -1;
	if (a->name && strspn(a->name, " ") < strlen(a->name)) {
		hdr_phrase(h, a->name);
		snprintf(buf, sizeof buf, "<%s>%s", a->addr, comma ? "," : "");
	} else {
		snprintf(buf, sizeof buf, "%s%s", a->addr, comma ? "," : "");
	}
	hdr_atom(h, buf, strlen(buf));
	return 0;
}

/* ---- mime_build ---- */

int mime_encode_header(const char *name, const char *value, struct strbuf *out, char err[ERR_LEN])
{
	struct hdr h;
	if (!value || check_text(name, value, err) != 0)
		return value ? -1 : err_set(err, "%s: missing", name);
	hdr_start(&h, out, name);
	hdr_words(&h, value, 0);
	hdr_end(&h);
	return 0;
}

/* A value we put in a header verbatim: printable ASCII, no spaces, bounded. */
static int check_token(const char *field, const char *v, size_t max, char err[ERR_LEN])
{
	if (!v || !v[0])
		return err_set(err, "%s: missing", field);
	if (check_text(field, v, err) != 0)
		return -1;
	if (strlen(v) > max)
		return err_set(err, "%s: longer than %zu bytes", field, max);
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~')
			return err_set(err, "%s: only printable ASCII without spaces", field);
	return 0;
}

static void date_now(char buf[64])
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, 64, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
	         mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A filename parameter: quoted when plain ASCII, else RFC 2231 UTF-8 continuations. */
static void add_filename(struct strbuf *out, const char *fn)
{
	struct hdr h;
	struct strbuf a = {0};
	int plain = strlen(fn) <= 60;
	for (const char *p = fn; *p && plain; p++)
		plain = *p > ' ' ? (*p <= '~' && *p != '"' && *p != '\\') : *p == ' ';
	hdr_start(&h, out, "Content-Disposition");
	hdr_atom(&h, "attachment;", 11);
	if (plain) {
		sb_addf(&a, "filename=\"%s\"", fn);
		hdr_atom(&h, a.s, a.len);
	} else {
		static const char hex[] = "0123456789ABCDEF";
		const unsigned char *p = (const unsigned char *)fn;
		for (int k = 0; *p; k++) {
			sb_reset(&a);
			sb_addf(&a, "filename*%d*=%s", k, k == 0 ? "UTF-8''" : "");
			while (*p && a.len < 60) {
				if (is_ldh(*p) || *p == '.' || *p == '_') {
					sb_addc(&a, (char)*p);
				} else {
					sb_addc(&a, '%');
					sb_addc(&a, hex[*p >> 4]);
					sb_addc(&a, hex[*p & 15]);
				}
				p++;
			}
			if (*p)
				sb_addc(&a, ';');
			hdr_atom(&h, a.s, a.len);
		}
	}
	hdr_end(&h);
	sb_free(&a);
}

static void add_ctype(struct strbuf *out, const char *type, const char *boundary)
{
	struct hdr h;
	char buf[128];
	hdr_start(&h, out, "Content-Type");
	snprintf(buf, sizeof buf, "%s;", type);
	hdr_atom(&h, buf, strlen(buf));
	snprintf(buf, sizeof buf, "boundary=\"%s\"", boundary);
	hdr_atom(&h, buf, strlen(buf));
	hdr_end(&h);
}

static void add_text_part(struct strbuf *out, const char *subtype, const struct strbuf *qp)
{
	sb_addf(out, "Content-Type: text/%s; charset=UTF-8\r\n"
	        "Content-Transfer-Encoding: quoted-printable\r\n\r\n", subtype);
	sb_addn(out, qp->s ? qp->s : "", qp->len);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * A boundary from the Message-ID's hash; "=_" cannot occur in quoted-printable or base64
 * output, and the loop still verifies that no encoded part contains it.
 */
static void make_boundary(char b[64], const char *msgid, char level, struct strbuf *parts, size_t nparts)
{
	uint64_t hv = fnv1a(msgid);
	for (unsigned n = 0; ; n++) {
		size_t i;
		snprintf(b, 64, "=_occasiond_%016llx_%c%u", (unsigned long long)hv, level, n);
		for (i = 0; i < nparts; i++)
			if (parts[i].s && strstr(parts[i].s, b))
				break;
		if (i == nparts)
			return;
	}
}

static int check_attachment(const struct mime_attachment *a, char err[ERR_LEN])
{
	const char *ct = a->content_type, *slash = ct ? strchr(ct, '/') : NULL;
	if (!a->filename || !a->filename[0] || strlen(a->filename) > 200)
		return err_set(err, "attachment filename: missing or longer than 200 bytes");
	if (check_text("attachment filename", a->filename, err) != 0)
		return -1;
	if (!slash || slash == ct || !slash[1] || strlen(ct) > 100 || strchr(slash + 1, '/'))
		return err_set(err, "attachment %s: bad content type", a->filename);
	for (const char *p = ct; *p; p++)
		if (p != slash && !is_ldh((unsigned char)*p) && !strchr("+.", *p))
			return err_set(err, "attachment %s: bad content type", a->filename);
	if (a->len && !a->data)
		return err_set(err, "attachment %s: no data", a->filename);
	return 0;
}

static int add_mailboxes(struct strbuf *out, const char *name, const char *field, const struct mime_addr *a,
                         size_t n, char err[ERR_LEN])
{
	struct hdr h;
	hdr_start(&h, out, name);
	for (size_t i = 0; i < n; i++)
		if (hdr_mailbox(&h, field, &a[i], i + 1 < n, err) != 0)
			return -1;
	hdr_end(&h);
	return 0;
}

/* add_headers: every header up to X-Occasiond-Dispatch, in the contract's order, each checked. */
static int add_headers(const struct mime_message *m, struct strbuf *out, char err[ERR_LEN])
{
	const char *id = m->message_id, *at = id ? strchr(id, '@') : NULL;
	char date[64];
	if (m->date) {
		if (check_text("date", m->date, err) != 0)
			return -1;
		if (strlen(m->date) > 40 || strspn(m->date, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                                            "0123456789 ,:+-") != strlen(m->date))
			return err_set(err, "date: not an RFC 5322 date-time");
		util_strlcpy(date, m->date, sizeof date);
	} else {
		date_now(date);
	}
	sb_addf(out, "Date: %s\r\n", date);
	if (add_mailboxes(out, "From", "from", &m->from, 1, err) != 0 ||
	    add_mailboxes(out, "To", "to", &m->to, 1, err) != 0 ||
	    (m->ncc && add_mailboxes(out, "Cc", "cc", m->cc, m->ncc, err) != 0) ||
	    (m->reply_to.addr && add_mailboxes(out, "Reply-To", "reply-to", &m->reply_to, 1, err) != 0))
		return -1;
	if (!m->subject || !m->subject[0])
		return err_set(err, "subject: missing");
	if (check_text("subject", m->subject, err) != 0 || mime_encode_header("Subject", m->subject, out, err) != 0)
		return -1;
	if (check_token("message-id", id, 200, err) != 0)
		return -1;
	if (!at || !dot_atom(id, (size_t)(at - id)) || !dot_atom(at + 1, strlen(at + 1)))
		return err_set(err, "message-id: not of the form id@domain");
	sb_addf(out, "Message-ID:%s<%s>\r\n", strlen(id) + 15 > HDR_WIDTH ? "\r\n " : " ", id);
	sb_adds(out, "MIME-Version: 1.0\r\n");
	if (m->dispatch_id) {
		if (check_token("dispatch id", m->dispatch_id, 56, err) != 0)
			return -1;
		sb_addf(out, "X-Occasiond-Dispatch: %s\r\n", m->dispatch_id);
	}
	return 0;
}

int mime_build(const struct mime_message *m, struct strbuf *out, char err[ERR_LEN])
{
	size_t start = out->len, nparts = 2 + m->nattachments;
	struct strbuf *parts = xcalloc(nparts, sizeof *parts); /* text, html, attachments */
	char b_alt[64], b_mix[64];
	int rc = -1;

	if (add_headers(m, out, err) != 0)
		goto out;
	/* Encode every part first, so the boundaries can be checked against them. */
	if (!m->text) {
		err_set(err, "text: missing");
		goto out;
	}
	if (!util_utf8_valid(m->text, strlen(m->text)) || (m->html && !util_utf8_valid(m->html, strlen(m->html)))) {
		err_set(err, "%s: invalid UTF-8", util_utf8_valid(m->text, strlen(m->text)) ? "html" : "text");
		goto out;
	}
	mime_qp_encode(m->text, strlen(m->text), &parts[0]);
	if (m->html)
		mime_qp_encode(m->html, strlen(m->html), &parts[1]);
	for (size_t i = 0; i < m->nattachments; i++) {
		if (check_attachment(&m->attachments[i], err) != 0)
			goto out;
		mime_base64(m->attachments[i].data, m->attachments[i].len, &parts[2 + i]);
	}
	make_boundary(b_alt, m->message_id, 'a', parts, nparts);
	make_boundary(b_mix, m->message_id, 'm', parts, nparts);

	if (m->nattachments) {
		add_ctype(out, "multipart/mixed", b_mix);
		sb_addf(out, "\r\nThis is a multi-part message in MIME format.\r\n\r\n--%s\r\n", b_mix);
	}
	if (m->html) {
		add_ctype(out, "multipart/alternative", b_alt);
		sb_addf(out, "\r\n%s--%s\r\n", m->nattachments ? "" : "This is a multi-part message in MIME format.\r\n\r\n",
		        b_alt);
		add_text_part(out, "plain", &parts[0]);
		sb_addf(out, "\r\n--%s\r\n", b_alt);
		add_text_part(out, "html", &parts[1]);
		sb_addf(out, "\r\n--%s--\r\n", b_alt);
	} else {
		add_text_part(out, "plain", &parts[0]);
		if (!m->nattachments && (out->len < 2 || memcmp(out->s + out->len - 2, "\r\n", 2) != 0))
			sb_adds(out, "\r\n");
	}
	/* The CRLF before each "--boundary" belongs to the delimiter, not to the part. */
	for (size_t i = 0; i < m->nattachments; i++) {
		const struct mime_attachment *a = &m->attachments[i];
		sb_addf(out, "\r\n--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n",
		        b_mix, a->content_type);
		add_filename(out, a->filename);
		sb_adds(out, "\r\n");
		sb_addn(out, parts[2 + i].s ? parts[2 + i].s : "", parts[2 + i].len);
		if (i + 1 == m->nattachments)
			sb_addf(out, "\r\n--%s--\r\n", b_mix);
	}
	rc = 0;
out:
	for (size_t i = 0; i < nparts; i++)
		sb_free(&parts[i]);
	free(parts);
	if (rc != 0) {
		out->len = start;
		if (out->s)
			out->s[start] = '\0';
	}
	return rc;
}

/* ---- email templates ---- */

enum { EH_SUBJECT, EH_REPLY_TO, EH_CC, EH_N };
static const char *const eh_names[EH_N] = {"Subject", "Reply-To", "Cc"};
static const char *const eh_fields[EH_N] = {"subject", "reply-to", "cc"};

struct email_template {
	char *dir;               /* for partials */
	char *path, *html_path;  /* for messages */
	char *hdr[EH_N];         /* header value sources, or NULL */
	int hdr_line[EH_N];
	char *text, *html;       /* body sources (html NULL when there is no .email.html) */
	int text_line;
};

static int line_of(const char *s, const char *p)
{
	int line = 1;
	for (; s < p; s++)
		line += *s == '\n';
	return line;
}

/*
 * tpl_err: "FILE:LINE:1: error: MESSAGE" from template_check's "line N: MESSAGE", N
 * counted from base (the file line where that piece of template starts).
 */
static int tpl_err(char err[ERR_LEN], const char *path, int base, const char *terr)
{
	int n = 0, off = 0;
	if (sscanf(terr, "line %d: %n", &n, &off) >= 1 && off > 0 && n >= 1)
		return err_set(err, "%s:%d:1: error: %s", path, base + n - 1, terr + off);
	return err_set(err, "%s:%d:1: error: %s", path, base, terr);
}

/* read_template: at most 256 KB of UTF-8 without NUL bytes; a leading BOM is dropped. */
static int read_template(const char *path, char **out, char err[ERR_LEN])
{
	struct stat st;
	char *s = NULL, e2[ERR_LEN];
	size_t len;
	const char *p, *end;
	if (stat(path, &st) != 0)
		return err_set(err, "%s:1:1: error: cannot read: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, "%s:1:1: error: not a regular file", path);
	if (st.st_size > TEMPLATE_MAX)
		return err_set(err, "%s:1:1: error: larger than %d bytes", path, TEMPLATE_MAX);
	if (util_read_file(path, TEMPLATE_MAX, &s, &len, e2) != 0)
		return err_set(err, "%s:1:1: error: %s", path, e2);
	if (strlen(s) != len) {
		err_set(err, "%s:%d:1: error: NUL byte", path, line_of(s, s + strlen(s)));
		free(s);
		return -1;
	}
	for (p = s, end = s + len; p < end; ) {
		const char *at = p;
		if (util_utf8_next(&p, end) < 0) {
			const char *ls = at;
			while (ls > s && ls[-1] != '\n')
				ls--;
			err_set(err, "%s:%d:%d: error: invalid UTF-8", path, line_of(s, at), (int)(at - ls) + 1);
			free(s);
			return -1;
		}
	}
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		memmove(s, s + 3, len - 2);
	*out = s;
	return 0;
}

static int valid_template_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_ldh((unsigned char)name[i]) && name[i] != '_')
			return 0;
	return 1;
}

/* parse_email: the header lines up to the first blank line, then the body. */
static int parse_email(struct email_template *t, const char *src, char err[ERR_LEN])
{
	const char *p = src, *path = t->path;
	int line = 1, cur = -1;
	char terr[ERR_LEN];
	for (;; line++) {
		const char *nl = strchr(p, '\n'), *e = nl ? nl : p + strlen(p), *colon;
		size_t n = (size_t)(e - p), k;
		if (!*p)
			return err_set(err, "%s:%d:1: error: no blank line between the headers and the body", path, line);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			t->text = xstrdup(nl ? nl + 1 : "");
			t->text_line = line + 1;
			break;
		}
		for (k = 0; k < n; k++)
			if (((unsigned char)p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f)
				return err_set(err, "%s:%d:%zu: error: control character in a header line", path, line, k + 1);
		if (*p == ' ' || *p == '\t') {
			/* A folded header line continues the previous value. */
			if (cur < 0)
				return err_set(err, "%s:%d:1: error: continuation line without a header", path, line);
			char *v = xasprintf("%s ", t->hdr[cur]), *c = trim_copy(p, n);
			free(t->hdr[cur]);
			t->hdr[cur] = xasprintf("%s%s", v, c);
			free(v);
			free(c);
		} else {
			colon = memchr(p, ':', n);
			if (!colon)
				return err_set(err, "%s:%d:1: error: expected 'Name: value' or a blank line before the body",
				               path, line);
			size_t nl2 = (size_t)(colon - p);
			for (cur = 0; cur < EH_N; cur++)
				if (strlen(eh_names[cur]) == nl2 && strncasecmp(p, eh_names[cur], nl2) == 0)
					break;
			if (cur == EH_N)
				return err_set(err, "%s:%d:1: error: unknown header '%.*s' (allowed: Subject, Reply-To, Cc)",
				               path, line, (int)(nl2 > 40 ? 40 : nl2), p);
			if (t->hdr[cur])
				return err_set(err, "%s:%d:1: error: duplicate header '%s'", path, line, eh_names[cur]);
			t->hdr[cur] = trim_copy(colon + 1, n - nl2 - 1);
			t->hdr_line[cur] = line;
		}
		if (strchr(t->hdr[cur], '\t'))
			return err_set(err, "%s:%d:1: error: tab in the %s header", path, line, eh_names[cur]);
		p = e + (nl ? 1 : 0);
	}
	if (!t->hdr[EH_SUBJECT] || !t->hdr[EH_SUBJECT][0])
		return err_set(err, "%s:%d:1: error: %s 'Subject:' header", path,
		               t->hdr[EH_SUBJECT] ? t->hdr_line[EH_SUBJECT] : 1,
		               t->hdr[EH_SUBJECT] ? "empty" : "missing");
	for (int i = 0; i < EH_N; i++)
		if (t->hdr[i] && template_check(t->hdr[i], terr) != 0)
			return tpl_err(err, path, t->hdr_line[i], terr);
	if (strspn(t->text, " \t\r\n") == strlen(t->text))
		return err_set(err, "%s:%d:1: error: empty body", path, t->text_line);
	if (template_check(t->text, terr) != 0)
		return tpl_err(err, path, t->text_line, terr);
	return 0;
}

int email_template_load(const char *dir, const char *name, struct email_template **out, char err[ERR_LEN])
{
	struct email_template *t;
	char *src = NULL, *fn, terr[ERR_LEN];
	struct stat st;
	int rc = -1;
	*out = NULL;
	if (!valid_template_name(name))
		return err_set(err, "bad email template name '%.64s' (letters, digits, '_' and '-')", name ? name : "");
	t = xcalloc(1, sizeof *t);
	t->dir = xstrdup(dir && *dir ? dir : ".");
	fn = xasprintf("%s.email", name);
	t->path = util_path_join(dir, fn);
	free(fn);
	t->html_path = xasprintf("%s.html", t->path);
	if (read_template(t->path, &src, err) != 0 || parse_email(t, src, err) != 0)
		goto out;
	if (stat(t->html_path, &st) != 0 && errno == ENOENT) {
		rc = 0;
		goto out;
	}
	if (read_template(t->html_path, &t->html, err) != 0)
		goto out;
	if (template_check(t->html, terr) != 0) {
		tpl_err(err, t->html_path, 1, terr);
		goto out;
	}
	rc = 0;
out:
	free(src);
	if (rc == 0)
		*out = t;
	else
		email_template_free(t);
	return rc;
}

void email_template_free(struct email_template *t)
{
	if (!t)
		return;
	for (int i = 0; i < EH_N; i++)
		free(t->hdr[i]);
	free(t->dir);
	free(t->path);
	free(t->html_path);
	free(t->text);
	free(t->html);
	free(t);
}

void email_rendered_clear(struct email_rendered *r)
{
	if (!r)
		return;
	free(r->subject);
	free(r->reply_to);
	free(r->cc);
	free(r->text);
	free(r->html);
	memset(r, 0, sizeof *r);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int render_part(const struct email_template *t, const char *path, const char *src,
                       const struct tval *ctx, const char *dir, int html, char **res, char err[ERR_LEN])
{
	struct template_opts o = {.escape_html = html, .empty_is_false = 1,
	                          .partial = template_dir_partial, .ud = (void *)(dir ? dir : t->dir)};
	struct strbuf sb = {0};
	char terr[ERR_LEN];
	if (template_render(src, ctx, &o, &sb, terr) != 0) {
		sb_free(&sb);
		return err_set(err, "%s: %s", base_name(path), terr);
	}
	*res = sb_detach(&sb);
	return 0;
}

/*
 * A header value: the rendered data is checked before trimming, so that a CR or LF in a
 * field is refused, never quietly cut off or turned into a header line.
 */
static int render_header(const struct email_template *t, int i, const struct tval *ctx, const char *dir,
                         char **res, char err[ERR_LEN])
{
	char *v = NULL, e2[ERR_LEN];
	*res = NULL;
	if (!t->hdr[i])
		return 0;
	if (render_part(t, t->path, t->hdr[i], ctx, dir, 0, &v, err) != 0)
		return -1;
	if (util_has_ctl(v, NULL))
		err_set(e2, "%s: control character", eh_fields[i]);
	if (util_has_ctl(v, NULL) || check_text(eh_fields[i], util_trim(v), e2) != 0) {
		free(v);
		return err_set(err, "%s: %s", base_name(t->path), e2);
	}
	if (!v[0]) {
		free(v);
		return i == EH_SUBJECT ? err_set(err, "%s: subject: empty after rendering", base_name(t->path)) : 0;
	}
	if (i != EH_SUBJECT) {
		struct mime_addr *list;
		size_t n;
		struct strbuf c = {0};
		int rc = mime_parse_mailbox_list(v, &list, &n, e2);
		free(v);
		v = NULL;
		if (rc != 0 || (i == EH_REPLY_TO && n > 1 && err_set(e2, "more than one address"))) {
			mime_addr_list_free(list, n);
			return err_set(err, "%s: %s: %s", base_name(t->path), eh_fields[i], e2);
		}
		/* Canonical form: "Name" <addr> or addr, joined by ", "; nothing when empty. */
		for (size_t k = 0; k < n; k++) {
			if (k)
				sb_adds(&c, ", ");
			if (list[k].name) {
				quote_word(&c, list[k].name, strlen(list[k].name));
				sb_addf(&c, " <%s>", list[k].addr);
			} else {
				sb_adds(&c, list[k].addr);
			}
		}
		mime_addr_list_free(list, n);
		if (n == 0)
			return 0;
		v = sb_detach(&c);
	}
	*res = v;
	return 0;
}

/* tidy_body: no leading blank lines, no trailing white space, one final newline. */
static char *tidy_body(char *s)
{
	size_t n = strlen(s), i = 0;
	char *r;
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	for (size_t k = 0; k < n && strchr(" \t\r\n", s[k]); k++)
		if (s[k] == '\n')
			i = k + 1;
	r = xasprintf("%.*s\n", (int)(n - i), s + i);
	free(s);
	return r;
}

int email_template_render(const struct email_template *t, const struct tval *ctx, const char *dir,
                          struct email_rendered *out, char err[ERR_LEN])
{
	memset(out, 0, sizeof *out);
	if (render_header(t, EH_SUBJECT, ctx, dir, &out->subject, err) != 0 ||
	    render_header(t, EH_REPLY_TO, ctx, dir, &out->reply_to, err) != 0 ||
	    render_header(t, EH_CC, ctx, dir, &out->cc, err) != 0 ||
	    render_part(t, t->path, t->text, ctx, dir, 0, &out->text, err) != 0 ||
	    (t->html && render_part(t, t->html_path, t->html, ctx, dir, 1, &out->html, err) != 0)) {
		email_rendered_clear(out);
		return -1;
	}
	if (!util_utf8_valid(out->text, strlen(out->text)) ||
	    (out->html && !util_utf8_valid(out->html, strlen(out->html)))) {
		email_rendered_clear(out);
		return err_set(err, "%s: the rendered body is not valid UTF-8", base_name(t->path));
	}
	out->text = tidy_body(out->text);
	if (out->html)
		out->html = tidy_body(out->html);
	return 0;
}
