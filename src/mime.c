/*
 * mime: RFC 5322 / MIME messages built from structured fields: headers in a fixed order,
 * multipart/alternative for an HTML part, multipart/mixed for attachments, CRLF line ends.
 * Bodies are quoted-printable (76) or base64 (76), so no line reaches the 998-octet limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime_int.h"

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
	struct mime_hdr h;
	struct strbuf a = {0};
	int plain = strlen(fn) <= 60;
	for (const char *p = fn; *p && plain; p++)
		plain = *p > ' ' ? (*p <= '~' && *p != '"' && *p != '\\') : *p == ' ';
	mime_hdr_start(&h, out, "Content-Disposition");
	mime_hdr_atom(&h, "attachment;", 11);
	if (plain) {
		sb_addf(&a, "filename=\"%s\"", fn);
		mime_hdr_atom(&h, a.s, a.len);
	} else {
		static const char hex[] = "0123456789ABCDEF";
		const unsigned char *p = (const unsigned char *)fn;
		for (int k = 0; *p; k++) {
			sb_reset(&a);
			sb_addf(&a, "filename*%d*=%s", k, k == 0 ? "UTF-8''" : "");
			while (*p && a.len < 60) {
				if (mime_is_ldh(*p) || *p == '.' || *p == '_') {
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
			mime_hdr_atom(&h, a.s, a.len);
		}
	}
	mime_hdr_end(&h);
	sb_free(&a);
}

static void add_ctype(struct strbuf *out, const char *type, const char *boundary)
{
	struct mime_hdr h;
	char buf[128];
	mime_hdr_start(&h, out, "Content-Type");
	snprintf(buf, sizeof buf, "%s;", type);
	mime_hdr_atom(&h, buf, strlen(buf));
	snprintf(buf, sizeof buf, "boundary=\"%s\"", boundary);
	mime_hdr_atom(&h, buf, strlen(buf));
	mime_hdr_end(&h);
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
	if (mime_check_text("attachment filename", a->filename, err) != 0)
		return -1;
	if (!slash || slash == ct || !slash[1] || strlen(ct) > 100 || strchr(slash + 1, '/'))
		return err_set(err, "attachment %s: bad content type", a->filename);
	for (const char *p = ct; *p; p++)
		if (p != slash && !mime_is_ldh((unsigned char)*p) && !strchr("+.", *p))
			return err_set(err, "attachment %s: bad content type", a->filename);
	if (a->len && !a->data)
		return err_set(err, "attachment %s: no data", a->filename);
	return 0;
}

static int add_mailboxes(struct strbuf *out, const char *name, const char *field, const struct mime_addr *a,
                         size_t n, char err[ERR_LEN])
{
	struct mime_hdr h;
	mime_hdr_start(&h, out, name);
	for (size_t i = 0; i < n; i++)
		if (mime_hdr_mailbox(&h, field, &a[i], i + 1 < n, err) != 0)
			return -1;
	mime_hdr_end(&h);
	return 0;
}

/* add_headers: every header up to X-Occasiond-Dispatch, in the contract's order, each checked. */
static int add_headers(const struct mime_message *m, struct strbuf *out, char err[ERR_LEN])
{
	const char *id = m->message_id, *at = id ? strchr(id, '@') : NULL;
	char date[64];
	if (m->date) {
		if (mime_check_text("date", m->date, err) != 0)
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
	if (mime_check_text("subject", m->subject, err) != 0 || mime_encode_header("Subject", m->subject, out, err) != 0)
		return -1;
	if (mime_check_token("message-id", id, 200, err) != 0)
		return -1;
	if (!at || !mime_dot_atom(id, (size_t)(at - id)) || !mime_dot_atom(at + 1, strlen(at + 1)))
		return err_set(err, "message-id: not of the form id@domain");
	sb_addf(out, "Message-ID:%s<%s>\r\n", strlen(id) + 15 > HDR_WIDTH ? "\r\n " : " ", id);
	sb_adds(out, "MIME-Version: 1.0\r\n");
	if (m->dispatch_id) {
		if (mime_check_token("dispatch id", m->dispatch_id, 56, err) != 0)
			return -1;
		sb_addf(out, "X-Occasiond-Dispatch: %s\r\n", m->dispatch_id);
	}
	if (m->unsubscribe) {
		if (mime_unsubscribe_check(m->unsubscribe, err) != 0)
			return -1;
		sb_addf(out, "List-Unsubscribe: <%s>\r\n", m->unsubscribe);
		if (strncmp(m->unsubscribe, "https://", 8) == 0)
			sb_adds(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	}
	return 0;
}

int mime_unsubscribe_check(const char *url, char err[ERR_LEN])
{
	size_t n = strlen(url);
	if (n > 500)
		return err_set(err, "longer than 500 bytes");
	for (size_t i = 0; i < n; i++)
		if (url[i] <= 0x20 || url[i] >= 0x7f || strchr("<>,\"\\", url[i]))
			return err_set(err, "a URL of printable ASCII without spaces, quotes, commas or angle brackets is needed");
	if (strncmp(url, "mailto:", 7) == 0) {
		const char *q = strchr(url + 7, '?');
		char addr[256];
		size_t alen = q ? (size_t)(q - url - 7) : n - 7;
		if (alen >= sizeof addr)
			return err_set(err, "mailto: address too long");
		memcpy(addr, url + 7, alen);
		addr[alen] = '\0';
		if (!mime_addr_valid(addr))
			return err_set(err, "mailto: '%s' is not a valid address", addr);
		if (q && strspn(q + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=&%-_.~+") != strlen(q + 1))
			return err_set(err, "mailto: the part after '?' must be URL-encoded");
		return 0;
	}
	if (strncmp(url, "https://", 8) == 0 && url[8] && url[8] != '/')
		return 0;
	return err_set(err, "expected mailto:ADDRESS or an https:// URL, got '%s'", url);
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
