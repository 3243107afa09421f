/* Tests for mime: addresses, RFC 2047, folding, quoted-printable, whole messages, email templates. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "occasiond/mime.h"
#include "occasiond/template.h"
#include "occasiond/util.h"
#include "check.h"

#define SUBJ_DE "Alles Gute zum Geburtstag, Zo\xc3\xab \xc5\x81ukasiewicz \xf0\x9f\x8e\x82"

static char tmpdir[] = "/tmp/test_mime.XXXXXX";

/* ---- decoders used to read our output back ---- */

static int b64_val(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;
	return p ? (int)(p - a) : -1;
}

static int b64_decode(const char *s, size_t n, struct strbuf *out)
{
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' || s[i] == '\r' || s[i] == '\n')
			continue;
		int v = b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sb_addc(out, (char)((acc >> bits) & 0xFF));
		}
	}
	return 0;
}

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* qp_decode: soft breaks removed, =XX decoded, CRLF kept. -1 on a malformed escape. */
static int qp_decode(const char *s, struct strbuf *out)
{
	for (; *s; s++) {
		if (*s != '=') {
			sb_addc(out, *s);
			continue;
		}
		if (s[1] == '\r' && s[2] == '\n') {
			s += 2;
			continue;
		}
		if (hexv(s[1]) < 0 || hexv(s[2]) < 0)
			return -1;
		sb_addc(out, (char)(hexv(s[1]) * 16 + hexv(s[2])));
		s += 2;
	}
	return 0;
}

/* max_line: the longest line (without CRLF) in s; *bad set when a CR or LF is not in a CRLF pair. */
static size_t max_line(const char *s, int *bad)
{
	size_t max = 0, cur = 0;
	*bad = 0;
	for (; *s; s++) {
		if (*s == '\r' && s[1] == '\n') {
			if (cur > max)
				max = cur;
			cur = 0;
			s++;
		} else if (*s == '\r' || *s == '\n') {
			*bad = 1;
		} else {
			cur++;
		}
	}
	return cur > max ? cur : max;
}

/*
 * decode_header: a folded header field "Name: value" back to its text: unfolds, decodes
 * the encoded words, drops white space between adjacent encoded words. Checks every
 * encoded word: at most 75 characters, whole UTF-8 characters only. -1 on a bad word.
 */
static int decode_header(const char *field, struct strbuf *out)
{
	struct strbuf u = {0}, ws = {0};
	const char *p;
	int prev_ew = 0, rc = 0;
	for (p = strchr(field, ':') + 1; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			p++;
		else
			sb_addc(&u, *p);
	}
	p = u.s + (u.s[0] == ' ');
	while (*p) {
		if (*p == ' ') {
			sb_addc(&ws, ' ');
			p++;
			continue;
		}
		size_t n = strcspn(p, " ");
		if (n > 12 && strncmp(p, "=?UTF-8?B?", 10) == 0 && strncmp(p + n - 2, "?=", 2) == 0) {
			struct strbuf d = {0};
			if (n > 75 || b64_decode(p + 10, n - 12, &d) != 0 || !util_utf8_valid(d.s ? d.s : "", d.len))
				rc = -1;
			if (!prev_ew)
				sb_addn(out, ws.s ? ws.s : "", ws.len);
			sb_addn(out, d.s ? d.s : "", d.len);
			sb_free(&d);
			prev_ew = 1;
		} else {
			sb_addn(out, ws.s ? ws.s : "", ws.len);
			sb_addn(out, p, n);
			prev_ew = 0;
		}
		sb_reset(&ws);
		p += n;
	}
	if (!out->s)
		sb_adds(out, "");
	sb_free(&u);
	sb_free(&ws);
	return rc;
}

/* vis: s with control characters as \\xNN, for test output that must stay one line. */
static const char *vis(const char *s)
{
	static char buf[4][600];
	static int k;
	char *b = buf[k++ & 3];
	size_t o = 0;
	for (; *s && o + 5 < sizeof buf[0]; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			o += (size_t)snprintf(b + o, sizeof buf[0] - o, "\\x%02x", (unsigned char)*s);
		else
			b[o++] = *s;
	}
	b[o] = '\0';
	return b;
}

/* ---- addresses ---- */

static void test_addr_valid(void)
{
	static const struct { const char *a; int ok; } t[] = {
		{"a@b.example", 1}, {"first.last@acme.example", 1}, {"x+tag@sub.acme.co.uk", 1},
		{"o'brien@acme.example", 1}, {"a!#$%&'*+/=?^_`{|}~-@x.io", 1}, {"root@localhost", 1},
		{"user@LOCALHOST", 1}, {"a@b-c.d", 1}, {"a@xn--mller-kva.example", 1},
		{"", 0}, {"a", 0}, {"@b.example", 0}, {"a@", 0}, {"a@@b.example", 0}, {"a@b@c.example", 0},
		{".a@b.example", 0}, {"a.@b.example", 0}, {"a..b@c.example", 0}, {"a b@c.example", 0},
		{"\"a b\"@c.example", 0}, {"a@b", 0}, {"a@-b.example", 0}, {"a@b-.example", 0},
		{"a@b..example", 0}, {"a@.b.example", 0}, {"a@b.example.", 0}, {"a@b_c.example", 0},
		{"a@1.2.3.4", 0}, {"a@[127.0.0.1]", 0}, {"<a@b.example>", 0}, {"a@b.example\r\nRCPT TO:<x@y.z>", 0},
		{"a\n@b.example", 0}, {"z\xc3\xab@b.example", 0}, {"a@b\xc3\xab.example", 0}, {"a,b@c.example", 0},
		{"a@b.example,c@d.example", 0},
	};
	char local64[70], local65[70], label63[80], label64[80], buf[400];
	for (size_t i = 0; i < sizeof t / sizeof *t; i++)
		CHECK(mime_addr_valid(t[i].a) == t[i].ok, "mime_addr_valid [%zu] %s -> %d", i, vis(t[i].a), t[i].ok);
	CHECK(!mime_addr_valid(NULL), "mime_addr_valid(NULL) is 0");
	memset(local64, 'l', 64), local64[64] = '\0';
	memset(local65, 'l', 65), local65[65] = '\0';
	memset(label63, 'd', 63), label63[63] = '\0';
	memset(label64, 'd', 64), label64[64] = '\0';
	snprintf(buf, sizeof buf, "%s@x.example", local64);
	CHECK(mime_addr_valid(buf), "local part of 64 accepted");
	snprintf(buf, sizeof buf, "%s@x.example", local65);
	CHECK(!mime_addr_valid(buf), "local part of 65 refused");
	snprintf(buf, sizeof buf, "a@%s.example", label63);
	CHECK(mime_addr_valid(buf), "label of 63 accepted");
	snprintf(buf, sizeof buf, "a@%s.example", label64);
	CHECK(!mime_addr_valid(buf), "label of 64 refused");
	snprintf(buf, sizeof buf, "%s@%s.%s.%.*s", local64, label63, label63, 254 - 64 - 1 - 2 * 64, label63);
	CHECK(strlen(buf) == 254 && mime_addr_valid(buf), "254 characters accepted");
	snprintf(buf, sizeof buf, "%s@%s.%s.%.*s", local64, label63, label63, 255 - 64 - 1 - 2 * 64, label63);
	CHECK(strlen(buf) == 255 && !mime_addr_valid(buf), "255 characters refused");
}

static void test_parse_mailbox(void)
{
	static const struct { const char *in, *name, *addr; } ok[] = {
		{"Acme Team <team@acme.example>", "Acme Team", "team@acme.example"},
		{"  \"Ruiz, Dana\" <dana@acme.example>  ", "Ruiz, Dana", "dana@acme.example"},
		{"\"Say \\\"hi\\\" \\\\ bye\" <a@b.example>", "Say \"hi\" \\ bye", "a@b.example"},
		{"a@b.example", NULL, "a@b.example"},
		{"<a@b.example>", NULL, "a@b.example"},
		{"Zo\xc3\xab \xc5\x81ukasiewicz <zoe@b.example>", "Zo\xc3\xab \xc5\x81ukasiewicz", "zoe@b.example"},
		{"\"<weird>\" <a@b.example>", "<weird>", "a@b.example"},
		{"Dr. Who <who@b.example>", "Dr. Who", "who@b.example"},
	};
	static const char *const bad[] = {
		"", "Name", "Name <>", "Name <a@b>", "Ruiz, Dana <d@acme.example>", "Name <a@b.example", "Name a@b.example>",
		"\"Unclosed <a@b.example>", "\"Q\" x <a@b.example>", "Name <a@b.example> trailing",
		"Name\r\nBcc: x@y.example <a@b.example>", "Name <a@b.example\r\n>", "Na\x01me <a@b.example>",
		"Bad \xff <a@b.example>",
	};
	char err[ERR_LEN], *name, *addr;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		int rc = mime_parse_mailbox(ok[i].in, &name, &addr, err);
		CHECK(rc == 0, "parse mailbox [%zu] %s", i, vis(ok[i].in));
		if (rc == 0) {
			if (ok[i].name)
				CHECK_STR(name, ok[i].name, "  display name [%zu]", i);
			else
				CHECK(name == NULL, "  no display name [%zu]", i);
			CHECK_STR(addr, ok[i].addr, "  address [%zu]", i);
		}
		free(name);
		free(addr);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		int rc = mime_parse_mailbox(bad[i], &name, &addr, err);
		CHECK(rc == -1 && name == NULL && addr == NULL && err[0], "refuse mailbox [%zu] (%s)", i, vis(err));
	}

	struct mime_addr *list;
	size_t n;
	CHECK(mime_parse_mailbox_list("\"Ruiz, Dana\" <d@acme.example>, b@acme.example ,, C <c@acme.example>",
	                              &list, &n, err) == 0 && n == 3, "mailbox list of 3 with a quoted comma");
	if (n == 3) {
		CHECK_STR(list[0].name, "Ruiz, Dana", "  list[0] name");
		CHECK(list[1].name == NULL, "  list[1] bare");
		CHECK_STR(list[2].addr, "c@acme.example", "  list[2] addr");
	}
	mime_addr_list_free(list, n);
	CHECK(mime_parse_mailbox_list("  ", &list, &n, err) == 0 && n == 0 && list == NULL, "empty mailbox list");
	CHECK(mime_parse_mailbox_list("a@b.example, nope", &list, &n, err) == -1 && n == 0, "bad list item refused: %s", err);
}

/* ---- encoders ---- */

static void test_qp(void)
{
	struct strbuf q = {0}, d = {0};
	char longline[301];
	int bad;
	const char *in;

	mime_qp_encode("a=b", 3, &q);
	CHECK_STR(q.s, "a=3Db", "QP escapes '='");
	sb_reset(&q);
	in = "trail  \nend\t\r\nx ";
	mime_qp_encode(in, strlen(in), &q);
	CHECK_STR(q.s, "trail =20\r\nend=09\r\nx=20", "QP encodes trailing space and tab; LF and CRLF become CRLF");
	sb_reset(&q);
	mime_qp_encode(".\nFrom here\nFrom", 16, &q);
	CHECK_STR(q.s, "=2E\r\n=46rom here\r\nFrom", "QP protects '.' and 'From ' at line start");
	sb_reset(&q);
	mime_qp_encode("Zo\xc3\xab", 4, &q);
	CHECK_STR(q.s, "Zo=C3=AB", "QP encodes UTF-8 bytes");

	memset(longline, 'x', 300);
	longline[300] = '\0';
	sb_reset(&q);
	mime_qp_encode(longline, 300, &q);
	CHECK(max_line(q.s, &bad) <= 76 && !bad, "QP soft breaks keep lines <= 76 (%zu)", max_line(q.s, &bad));
	CHECK(strstr(q.s, "=\r\n") != NULL, "QP long line has soft breaks");
	CHECK(qp_decode(q.s, &d) == 0 && strcmp(d.s, longline) == 0, "QP long line round-trips");

	/* Multibyte characters across the soft-break point: never split, lines <= 76. */
	struct strbuf in2 = {0};
	int split = 0;
	for (int i = 0; i < 5; i++) {
		sb_adds(&in2, "\xc5\x81\xf0\x9f\x8e\x82 a=b \xe4\xb8\xad\xe6\x96\x87x");
		sb_adds(&in2, i == 2 ? "   \n" : "");
	}
	sb_reset(&q);
	sb_reset(&d);
	mime_qp_encode(in2.s, in2.len, &q);
	for (const char *p = q.s; (p = strstr(p, "=\r\n")) != NULL; p += 3) {
		/* after a soft break, the next byte must not be a UTF-8 continuation byte */
		if (p[3] == '=' && hexv(p[4]) >= 8 && hexv(p[4]) <= 0xB)
			split = 1;
	}
	CHECK(max_line(q.s, &bad) <= 76 && !bad, "QP of UTF-8 text: lines <= 76");
	CHECK(!split, "QP soft breaks never split a UTF-8 character");
	sb_addn(&d, "", 0);
	CHECK(qp_decode(q.s, &d) == 0, "QP of UTF-8 text decodes");
	{
		/* the decoded text is the input with LF as CRLF */
		struct strbuf want = {0};
		for (const char *p = in2.s; *p; p++) {
			if (*p == '\n')
				sb_addc(&want, '\r');
			sb_addc(&want, *p);
		}
		CHECK_STR(d.s, want.s, "QP of UTF-8 text round-trips");
		sb_free(&want);
	}
	sb_free(&in2);
	sb_free(&q);
	sb_free(&d);
}

static void test_base64(void)
{
	struct strbuf b = {0}, d = {0};
	unsigned char bin[1000];
	int bad;
	mime_base64("Man", 3, &b);
	CHECK_STR(b.s, "TWFu\r\n", "base64 of Man");
	sb_reset(&b);
	mime_base64("Ma", 2, &b);
	CHECK_STR(b.s, "TWE=\r\n", "base64 padding");
	sb_reset(&b);
	for (int i = 0; i < 1000; i++)
		bin[i] = (unsigned char)(i * 7 + 3);
	mime_base64(bin, sizeof bin, &b);
	CHECK(max_line(b.s, &bad) == 76 && !bad, "base64 lines of 76");
	CHECK(b64_decode(b.s, b.len, &d) == 0 && d.len == 1000 && memcmp(d.s, bin, 1000) == 0, "base64 round-trips");
	sb_free(&b);
	sb_free(&d);
}

static void check_header_roundtrip(const char *label, const char *value, const char *want)
{
	struct strbuf h = {0}, d = {0};
	char err[ERR_LEN];
	int bad;
	int rc = mime_encode_header("Subject", value, &h, err);
	CHECK(rc == 0, "%s: encodes", label);
	if (rc != 0)
		return;
	CHECK(h.len > 2 && strcmp(h.s + h.len - 2, "\r\n") == 0, "%s: ends in CRLF", label);
	h.s[h.len - 2] = '\0';
	CHECK(max_line(h.s, &bad) <= 78 && !bad, "%s: folded, no line over 78 (%zu)", label, max_line(h.s, &bad));
	for (const char *p = h.s; *p; p++)
		if ((unsigned char)*p >= 0x80) {
			CHECK(0, "%s: only ASCII on the wire", label);
			break;
		}
	CHECK(decode_header(h.s, &d) == 0, "%s: encoded words <= 75, whole UTF-8 characters", label);
	CHECK_STR(d.s, want ? want : value, "%s: decodes back", label);
	sb_free(&h);
	sb_free(&d);
}

static void test_headers(void)
{
	struct strbuf h = {0}, big = {0};
	char err[ERR_LEN];

	mime_encode_header("Subject", "Hello world", &h, err);
	CHECK_STR(h.s, "Subject: Hello world\r\n", "plain ASCII subject stays readable");
	check_header_roundtrip("German subject", SUBJ_DE, NULL);
	check_header_roundtrip("spaces collapsed", "  a   b  ", "a b");
	check_header_roundtrip("looks encoded", "=?UTF-8?B?QQ==?= is not a word", NULL);
	for (int i = 0; i < 40; i++)
		sb_adds(&big, "\xe7\xa5\x9d\xe4\xbd\xa0\xe7\x94\x9f\xe6\x97\xa5\xe5\xbf\xab\xe4\xb9\x90 ");
	sb_adds(&big, "ok");
	check_header_roundtrip("long CJK subject", big.s, NULL);
	sb_reset(&big);
	for (int i = 0; i < 60; i++)
		sb_adds(&big, "\xf0\x9f\x8e\x82");
	check_header_roundtrip("emoji run", big.s, NULL);
	sb_reset(&big);
	for (int i = 0; i < 30; i++)
		sb_adds(&big, "word ");
	sb_adds(&big, "Zo\xc3\xab ");
	for (int i = 0; i < 20; i++)
		sb_adds(&big, "x");
	for (int i = 0; i < 100; i++)
		sb_adds(&big, "y");
	check_header_roundtrip("long ASCII with a long word", big.s, NULL);

	/* generated values: any mix of words, spaces, multibyte characters and look-alikes */
	{
		static const char *const piece[] = {"a", "Bb", " ", "   ", "\xc3\xab", "\xc5\x81", "\xf0\x9f\x8e\x82",
		                                    "\xe4\xb8\xad", "=?", "?=", ",", "\"", "0123456789012345678901234567890123"};
		unsigned seed = 12345;
		int fails = 0;
		for (int k = 0; k < 400; k++) {
			struct strbuf v = {0}, want = {0}, enc = {0}, dec = {0};
			int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 60, bad;
			for (int i = 0; i < n; i++)
				sb_adds(&v, piece[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof piece / sizeof *piece)]);
			for (const char *p = v.s; *p; p++)
				if (*p != ' ' || (want.len && want.s[want.len - 1] != ' '))
					sb_addc(&want, *p);
			while (want.len && want.s[want.len - 1] == ' ')
				want.s[--want.len] = '\0';
			if (!want.s)
				sb_adds(&want, "");
			if (mime_encode_header("Subject", v.s, &enc, err) != 0 || (enc.s[enc.len - 2] = '\0', 0) ||
			    max_line(enc.s, &bad) > 78 || bad || decode_header(enc.s, &dec) != 0 || strcmp(dec.s, want.s) != 0) {
				if (fails++ < 3)
					printf("# value [%s] encoded [%s] decoded [%s]\n", v.s, enc.s ? enc.s : "", dec.s ? dec.s : "");
			}
			sb_free(&v);
			sb_free(&want);
			sb_free(&enc);
			sb_free(&dec);
		}
		CHECK(fails == 0, "400 generated subjects: folded <= 78, words <= 75, decode back (%d failed)", fails);
	}

	/* injection and bad bytes: refused, naming the field */
	sb_reset(&h);
	err[0] = '\0';
	CHECK(mime_encode_header("subject", "Hi\r\nBcc: victim@example.com", &h, err) == -1 && h.len == 0,
	      "CRLF in subject refused");
	CHECK_STR(err, "subject: control character", "  error names the field");
	CHECK(mime_encode_header("subject", "Hi\nthere", &h, err) == -1, "LF in subject refused");
	CHECK(mime_encode_header("subject", "Hi\rthere", &h, err) == -1, "CR in subject refused");
	CHECK(mime_encode_header("subject", "tab\there", &h, err) == -1, "tab in subject refused");
	CHECK(mime_encode_header("subject", "C1 \xc2\x85 next line", &h, err) == -1, "U+0085 in subject refused");
	CHECK(mime_encode_header("subject", "bad \xc3", &h, err) == -1 && strstr(err, "UTF-8"), "invalid UTF-8 refused: %s", err);
	sb_reset(&big);
	for (int i = 0; i < 1000; i++)
		sb_addc(&big, 'a');
	CHECK(mime_encode_header("subject", big.s, &h, err) == -1, "subject over 998 bytes refused");
	sb_free(&h);
	sb_free(&big);
}

/* ---- whole messages ---- */

/* a display name long enough to need several encoded words over two lines */
#define LONG_NAME "Zo\xc3\xab \xc5\x81ukasiewicz-Brz\xc4\x99" "czyszczykiewicz von und zu Hohenstein-Ernstthal, Jr."

static const unsigned char pdf_bytes[] = "%PDF-1.4\n\x00\x01\x02\xff\xfe binary \r\n\r\n--=_ not a boundary\n%%EOF\n";

static void base_message(struct mime_message *m)
{
	memset(m, 0, sizeof *m);
	m->from = (struct mime_addr){"Acme Team", "team@acme.example"};
	m->to = (struct mime_addr){"Zo\xc3\xab \xc5\x81ukasiewicz", "zoe@example.org"};
	m->subject = SUBJ_DE;
	m->date = "Tue, 01 Dec 2026 09:00:00 +0100";
	m->message_id = "occasiond.42.20261201@acme.example";
	m->text = "Liebe Zo\xc3\xab,\n\nalles Gute! = 100% \n.\nFrom us all\n";
	m->dispatch_id = "42";
}

static const char py_check[] =
	"import sys, email, email.policy\n"
	"raw = open(sys.argv[1], 'rb').read()\n"
	"exp = open(sys.argv[2], 'rb').read().decode('utf-8').split('\\0')\n"
	"m = email.message_from_bytes(raw, policy=email.policy.default)\n"
	"def out(name, ok): print(('ok ' if ok else 'bad ') + name)\n"
	"out('subject', str(m['subject']) == exp[0])\n"
	"f = m['from'].addresses[0]\n"
	"out('from', f.display_name == exp[1] and f.addr_spec == exp[2])\n"
	"t = m['to'].addresses[0]\n"
	"out('to', t.display_name == exp[3])\n"
	"cc = [a.display_name for a in m['cc'].addresses]\n"
	"out('cc', cc == exp[4].split('|') or print('#', cc))\n"
	"out('message-id', m['message-id'] == '<' + exp[5] + '>')\n"
	"out('mixed', m.get_content_type() == 'multipart/mixed')\n"
	"b = m.get_body(('plain',))\n"
	"out('text', b.get_content().replace('\\r\\n', '\\n') == exp[6])\n"
	"h = m.get_body(('html',))\n"
	"out('html', h.get_content().replace('\\r\\n', '\\n') == exp[7])\n"
	"a = list(m.iter_attachments())\n"
	"out('attachment', len(a) == 2 and a[0].get_filename() == exp[8] and a[0].get_content() == open(sys.argv[3], 'rb').read())\n"
	"out('attachment2', a[1].get_filename() == exp[9] and a[1].get_content_type() == 'text/calendar')\n"
	"out('defects', all(len(p.defects) == 0 for p in m.walk()))\n";

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

static void test_message(void)
{
	struct mime_message m;
	struct mime_attachment att[2];
	struct mime_addr cc[] = {{"Ruiz, Dana", "dana@acme.example"}, {"\xe5\xbc\xa0\xe4\xbc\x9f", "wei@acme.example"},
	                         {"Jean-Luc O'Brien (Sales) \"JL\"", "jl@acme.example"},
	                         {"Zo\xc3\xab \"Z\" \xc5\x81ukasiewicz, PhD", "z@acme.example"},
	                         {"=?UTF-8?B?QQ==?= literally", "lit@acme.example"},
	                         {"\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0 K. \xd0\x9f\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb0", "anna@acme.example"}};
	struct strbuf out = {0}, exp = {0};
	char err[ERR_LEN], *hdr_end, *p;
	const char *html = "<p>Liebe Zo&euml;, &lt;b&gt;</p>\n<p>" "\xf0\x9f\x8e\x82" "</p>\n";
	const char *att2_name = "Gru\xc3\x9f" "karte f\xc3\xbcr Zo\xc3\xab \xc5\x81ukasiewicz, 2026-12-01 (final version).ics";
	int bad;
	size_t maxhdr = 0;

	base_message(&m);
	m.to.name = LONG_NAME;
	m.cc = cc;
	m.ncc = sizeof cc / sizeof *cc;
	m.reply_to = (struct mime_addr){NULL, "dana@acme.example"};
	m.html = html;
	att[0] = (struct mime_attachment){"card.pdf", "application/pdf", pdf_bytes, sizeof pdf_bytes - 1};
	att[1] = (struct mime_attachment){att2_name, "text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 32};
	m.attachments = att;
	m.nattachments = 2;
	CHECK(mime_build(&m, &out, err) == 0, "full message builds (%s)", out.s ? "" : err);
	if (!out.s)
		return;
	CHECK(max_line(out.s, &bad) <= 998 && !bad, "every line CRLF and <= 998");
	hdr_end = strstr(out.s, "\r\n\r\n");
	CHECK(hdr_end != NULL, "header block ends in an empty line");
	/* every header block (message and parts) folded under 78 */
	for (p = out.s; p && *p; ) {
		char *e = strstr(p, "\r\n\r\n"), save;
		if (!e)
			break;
		save = e[2];
		e[2] = '\0';
		size_t ml = max_line(p, &bad);
		e[2] = save;
		if (ml > maxhdr)
			maxhdr = ml;
		p = strstr(e, "\r\n--=_occasiond_");
		if (p)
			p = strstr(p + 2, "\r\n") + 2;
	}
	CHECK(maxhdr <= 78, "header lines in message and parts <= 78 (%zu)", maxhdr);
	{
		static const char *const order[] = {"Date:", "From:", "To:", "Cc:", "Reply-To:", "Subject:", "Message-ID:",
		                                    "MIME-Version: 1.0", "X-Occasiond-Dispatch: 42", "Content-Type: multipart/mixed"};
		const char *last = out.s;
		int ok = 1;
		for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
			const char *q = strstr(last, order[i]);
			if (!q || (q != out.s && q[-1] != '\n') || q > hdr_end)
				ok = 0;
			else
				last = q;
		}
		CHECK(ok, "headers in the contract order");
	}
	CHECK(strstr(out.s, "Message-ID: <occasiond.42.20261201@acme.example>\r\n") != NULL, "Message-ID in angle brackets");
	CHECK(strstr(out.s, "Reply-To: dana@acme.example\r\n") != NULL, "bare Reply-To address");
	CHECK(strstr(out.s, "\"Ruiz, Dana\" <dana@acme.example>,") != NULL, "ASCII name with specials quoted");
	CHECK(strstr(out.s, "From: Acme Team <team@acme.example>\r\n") != NULL, "plain ASCII From");
	CHECK(strstr(out.s, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable") &&
	      strstr(out.s, "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable"),
	      "text and html parts quoted-printable UTF-8");
	CHECK(strstr(out.s, "text/plain") < strstr(out.s, "text/html"), "text part before html part");

	/* read back with Debian's Python */
	if (access("/usr/bin/python3", X_OK) != 0) {
		SKIP("python3 email parse of the full message: /usr/bin/python3 missing");
	} else {
		char mpath[300], epath[300], spath[300], apath[300], cmd[1400], line[256];
		FILE *f;
		int nok = 0, nlines = 0;
		snprintf(mpath, sizeof mpath, "%s/msg.eml", tmpdir);
		snprintf(epath, sizeof epath, "%s/expect", tmpdir);
		snprintf(spath, sizeof spath, "%s/check.py", tmpdir);
		snprintf(apath, sizeof apath, "%s/att.bin", tmpdir);
		/* expected values, NUL-separated, in the order the script reads them */
		{
			const char *fields[] = {SUBJ_DE, "Acme Team", "team@acme.example", LONG_NAME,
			                        "Ruiz, Dana|\xe5\xbc\xa0\xe4\xbc\x9f|Jean-Luc O'Brien (Sales) \"JL\"|"
			                        "Zo\xc3\xab \"Z\" \xc5\x81ukasiewicz, PhD|=?UTF-8?B?QQ==?= literally|"
			                        "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0 K. \xd0\x9f\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb0",
			                        m.message_id, m.text, html, "card.pdf",
			                        att2_name};
			for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
				if (i)
					sb_addc(&exp, '\0');
				sb_adds(&exp, fields[i]);
			}
		}
		CHECK(write_file(mpath, out.s, out.len) == 0 && write_file(epath, exp.s, exp.len) == 0 &&
		      write_file(spath, py_check, strlen(py_check)) == 0 &&
		      write_file(apath, pdf_bytes, sizeof pdf_bytes - 1) == 0, "wrote files for python");
		snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %s 2>&1", spath, mpath, epath, apath);
		f = popen(cmd, "r");
		while (f && fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = '\0';
			nlines++;
			if (strncmp(line, "ok ", 3) == 0) {
				nok++;
				CHECK(1, "python email: %s", line + 3);
			} else {
				CHECK(0, "python email: %s", line);
			}
		}
		CHECK(f && pclose(f) == 0 && nok == 11 && nlines == 11, "python email: all 11 checks ran and passed");
		unlink(mpath);
		unlink(epath);
		unlink(spath);
		unlink(apath);
	}
	sb_free(&out);
	sb_free(&exp);
}

static void test_message_errors(void)
{
	struct mime_message m;
	struct strbuf out = {0};
	char err[ERR_LEN];
	struct mime_addr cc = {"Bad\nName", "x@acme.example"};

	sb_adds(&out, "KEEP");
	base_message(&m);
	m.subject = "Happy birthday\r\nBcc: all@example.com";
	CHECK(mime_build(&m, &out, err) == -1 && strcmp(out.s, "KEEP") == 0, "subject injection refused, out unchanged");
	CHECK_STR(err, "subject: control character", "  names subject");
	base_message(&m);
	m.to.name = "Zo\xc3\xab\r\nBcc: x@y.example";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "to:", 3) == 0, "CRLF in To name refused: %s", err);
	base_message(&m);
	m.from.addr = "team@acme.example\r\nBcc: x@y.example";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "from:", 5) == 0, "CRLF in From address refused: %s", err);
	base_message(&m);
	m.to.addr = "zoe@example.org>, evil@example.com";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "to:", 3) == 0, "address list in To refused: %s", err);
	base_message(&m);
	m.cc = &cc;
	m.ncc = 1;
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "cc:", 3) == 0, "LF in Cc name refused: %s", err);
	base_message(&m);
	m.reply_to.addr = "not an address";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "reply-to:", 9) == 0, "bad Reply-To refused: %s", err);
	base_message(&m);
	m.message_id = "x\r\n@y";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "message-id:", 11) == 0, "bad Message-ID refused: %s", err);
	base_message(&m);
	m.dispatch_id = "1\nBcc: x";
	CHECK(mime_build(&m, &out, err) == -1 && strstr(err, "dispatch"), "bad dispatch id refused: %s", err);
	base_message(&m);
	m.date = "Tue\r\nBcc: x";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "date:", 5) == 0, "bad date refused: %s", err);
	base_message(&m);
	m.text = "bad \xff";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "text:", 5) == 0, "invalid UTF-8 body refused: %s", err);
	base_message(&m);
	m.subject = "";
	CHECK(mime_build(&m, &out, err) == -1 && strncmp(err, "subject:", 8) == 0, "empty subject refused");
	CHECK_STR(out.s, "KEEP", "out untouched by every failure");

	/* a plain message: single text/plain part, no multipart */
	sb_reset(&out);
	base_message(&m);
	m.date = NULL;
	m.text = "Hi";
	CHECK(mime_build(&m, &out, err) == 0 && !strstr(out.s, "multipart") && strncmp(out.s, "Date: ", 6) == 0 &&
	      strstr(out.s, "\r\n\r\nHi\r\n") && out.s[out.len - 1] == '\n', "text-only message, date generated, ends in CRLF");
	sb_free(&out);
}

/* ---- email templates ---- */

static const char *tdir;

static struct tval *sample_ctx(int full, const char *first_name)
{
	struct tval *c = tval_map(), *occ = tval_map(), *ev = tval_map();
	tval_map_set_str(c, "first_name", first_name);
	tval_map_set_str(c, "last_name", full ? "\xc5\x81ukasiewicz" : "");
	tval_map_set_str(c, "nickname", full ? "Zo" : "");
	/* As dispatch_context makes them: the nickname, else the first name. */
	tval_map_set_str(c, "greeting_name", full ? "Zo" : first_name);
	tval_map_set_str(c, "organization", full ? "Globex <&> Partners" : "");
	tval_map_set_str(c, "organization_name", full ? "Acme Corp" : "");
	tval_map_set_str(c, "signer", full ? "Dana Ruiz" : "");
	tval_map_set_str(c, "years", full ? "10" : "");
	tval_map_set_str(c, "ordinal_years", full ? "10th" : "");
	tval_map_set_str(occ, "name", full ? "Thanksgiving" : "");
	tval_map_set_str(occ, "date", full ? "1 December 2026" : "");
	tval_map_set(c, "occasion", occ);
	tval_map_set_str(ev, "title", full ? "Head of Finance" : "");
	tval_map_set_str(ev, "details", full ? "Your referral of Initech meant a lot to us." : "");
	tval_map_set(c, "event", ev);
	return c;
}

static void test_shipped_templates(void)
{
	static const char *const names[] = {"birthday", "holiday", "work-anniversary", "partnership-anniversary",
	                                    "thank-you", "thinking-of-you", "promotion", "welcome"};
	char err[ERR_LEN];
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		struct email_template *t = NULL;
		int rc = email_template_load(tdir, names[i], &t, err);
		CHECK(rc == 0, "template %s loads%s%s", names[i], rc ? ": " : "", rc ? err : "");
		if (rc != 0)
			continue;
		for (int full = 1; full >= 0; full--) {
			struct tval *ctx = sample_ctx(full, "Zo\xc3\xab");
			struct email_rendered r;
			struct mime_message m;
			struct strbuf out = {0};
			rc = email_template_render(t, ctx, NULL, &r, err);
			CHECK(rc == 0, "%s renders (%s fields)%s%s", names[i], full ? "all" : "optional empty",
			      rc ? ": " : "", rc ? err : "");
			if (rc == 0) {
				/* the partnership note is addressed to the partner's organization */
				const char *who = i == 3 ? (full ? "Globex" : "partnership") : full ? "Zo" : "Zo\xc3\xab";
				CHECK(r.subject[0] && !strstr(r.subject, "  ") && !strstr(r.subject, " ,") && strstr(r.subject, who),
				      "%s subject sensible: %s", names[i], r.subject);
				CHECK(strstr(r.text, full ? "Dear Zo," : "Dear Zo\xc3\xab,") && !strstr(r.text, "{{") &&
				      !strstr(r.text, "\n\n\n") && !strstr(r.text, " .") && !strstr(r.text, " ,"),
				      "%s body sensible", names[i]);
				CHECK(!full || strstr(r.text, "Dana Ruiz"), "%s signed", names[i]);
				if (i == 0) {
					CHECK(r.html && strstr(r.html, "<!DOCTYPE html>") && !strstr(r.html, "http"),
					      "birthday has a self-contained HTML alternative");
				}
				if (full && i == 3)
					CHECK(strstr(r.text, "Globex &lt;&amp;&gt;") == NULL && strstr(r.text, "Globex <&>"),
					      "text body not HTML-escaped");
				base_message(&m);
				m.subject = r.subject;
				m.text = r.text;
				m.html = r.html;
				CHECK(mime_build(&m, &out, err) == 0, "%s builds a message", names[i]);
				email_rendered_clear(&r);
			}
			sb_free(&out);
			tval_free(ctx);
		}
		email_template_free(t);
	}
}

static int write_template(const char *name, const char *text)
{
	char path[300];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return write_file(path, text, strlen(text));
}

static void test_template_errors(void)
{
	struct email_template *t = NULL;
	struct email_rendered r;
	char err[ERR_LEN], want[600];
	struct tval *ctx;

	write_template("unk.email", "Subject: Hi\nBcc: x@y.example\n\nBody\n");
	CHECK(email_template_load(tmpdir, "unk", &t, err) == -1 && t == NULL, "unknown header refused");
	snprintf(want, sizeof want, "%s/unk.email:2:1: error: unknown header 'Bcc' (allowed: Subject, Reply-To, Cc)", tmpdir);
	CHECK_STR(err, want, "  FILE:LINE:1 message");

	write_template("nosub.email", "Reply-To: a@b.example\n\nBody\n");
	CHECK(email_template_load(tmpdir, "nosub", &t, err) == -1, "missing Subject refused");
	snprintf(want, sizeof want, "%s/nosub.email:1:1: error: missing 'Subject:' header", tmpdir);
	CHECK_STR(err, want, "  FILE:LINE:1 message");

	write_template("syn.email", "Subject: Hi {{first_name}}\nCc: {{#x}}a@b.example\n\nBody\n");
	CHECK(email_template_load(tmpdir, "syn", &t, err) == -1 && strstr(err, "syn.email:2:5: error: "),
	      "Mustache error in a header reported at its line and column: %s", err);
	write_template("synb.email", "Subject: Hi\n\nline 3\nline 4 {{#open}}\nline 5\n");
	CHECK(email_template_load(tmpdir, "synb", &t, err) == -1 && strstr(err, "synb.email:4:8: error: "),
	      "Mustache error in the body reported at its file line: %s", err);
	write_template("nobl.email", "Subject: Hi\n");
	CHECK(email_template_load(tmpdir, "nobl", &t, err) == -1 && strstr(err, "no blank line"), "no body refused: %s", err);
	write_template("dup.email", "Subject: Hi\nsubject: again\n\nx\n");
	CHECK(email_template_load(tmpdir, "dup", &t, err) == -1 && strstr(err, "dup.email:2:1: error: duplicate"),
	      "duplicate header refused: %s", err);
	write_template("utf.email", "Subject: Hi\n\nab\xff\n");
	CHECK(email_template_load(tmpdir, "utf", &t, err) == -1 && strstr(err, "utf.email:3:3: error: invalid UTF-8"),
	      "invalid UTF-8 reported at line and column: %s", err);
	CHECK(email_template_load(tmpdir, "../etc", &t, err) == -1, "template name with a path refused");
	CHECK(email_template_load(tmpdir, "absent", &t, err) == -1 && strstr(err, "absent.email:1:1: error:"),
	      "absent template: %s", err);
	{
		struct strbuf big = {0};
		sb_adds(&big, "Subject: big\n\n");
		while (big.len <= 256 * 1024)
			sb_adds(&big, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n");
		write_template("big.email", big.s);
		CHECK(email_template_load(tmpdir, "big", &t, err) == -1 && strstr(err, "larger than"), "over 256 KB refused: %s", err);
		sb_free(&big);
	}

	/* header values from data: CR/LF refused, empty optional headers dropped, lists checked */
	write_template("inj.email", "Subject: Happy birthday, {{first_name}}!\r\nReply-To: {{reply}}\r\n"
	               "Cc:   {{cc1}}, {{cc2}}\r\n\r\nDear {{first_name}},\r\n\r\n{{> sig}}\r\n");
	write_template("inj.email.html", "<p>Dear {{first_name}}</p>\n");
	write_template("sig.mustache", "-- \n{{signer}}\n");
	CHECK(email_template_load(tmpdir, "inj", &t, err) == 0, "CRLF template with html loads: %s", t ? "" : err);
	if (!t)
		return;
	ctx = sample_ctx(1, "Zo\xc3\xab\r\nBcc: victim@example.com");
	CHECK(email_template_render(t, ctx, NULL, &r, err) == -1 && strstr(err, "subject: control character"),
	      "CR/LF in first_name rendered into Subject refused: %s", err);
	tval_free(ctx);
	ctx = sample_ctx(1, "Zo\xc3\xab\n");
	CHECK(email_template_render(t, ctx, NULL, &r, err) == -1 && strstr(err, "subject:"), "trailing LF refused too");
	tval_free(ctx);
	ctx = sample_ctx(1, "<Zo\xc3\xab>");
	tval_map_set_str(ctx, "reply", "Dana Ruiz <dana@acme.example>");
	tval_map_set_str(ctx, "cc1", "b@acme.example");
	CHECK(email_template_render(t, ctx, tmpdir, &r, err) == 0, "renders with partial from dir: %s", r.subject ? "" : err);
	if (r.subject) {
		CHECK_STR(r.subject, "Happy birthday, <Zo\xc3\xab>!", "subject not escaped");
		CHECK_STR(r.reply_to, "\"Dana Ruiz\" <dana@acme.example>", "reply-to rendered, canonical");
		CHECK_STR(r.cc, "b@acme.example", "cc rendered, empty item dropped");
		CHECK_STR(r.text, "Dear <Zo\xc3\xab>,\r\n\r\n-- \nDana Ruiz\n", "text body not escaped, partial included");
		CHECK_STR(r.html, "<p>Dear &lt;Zo\xc3\xab&gt;</p>\n", "html body escaped");
	}
	email_rendered_clear(&r);
	tval_map_set_str(ctx, "cc1", "\"Ruiz, Dana\" <d@acme.example>");
	tval_map_set_str(ctx, "cc2", "Wei   Zhang <w@acme.example>");
	CHECK(email_template_render(t, ctx, NULL, &r, err) == 0 && r.cc &&
	      strcmp(r.cc, "\"Ruiz, Dana\" <d@acme.example>, \"Wei   Zhang\" <w@acme.example>") == 0,
	      "two Cc addresses, canonical list: %s", r.cc ? r.cc : err);
	email_rendered_clear(&r);
	tval_map_set_str(ctx, "reply", "");
	tval_map_set_str(ctx, "cc1", "");
	tval_map_set_str(ctx, "cc2", "");
	CHECK(email_template_render(t, ctx, NULL, &r, err) == 0 && r.reply_to == NULL && r.cc == NULL,
	      "empty Reply-To and Cc become absent");
	email_rendered_clear(&r);
	tval_map_set_str(ctx, "cc2", "not an address");
	CHECK(email_template_render(t, ctx, NULL, &r, err) == -1 && strstr(err, "cc:"), "bad Cc refused: %s", err);
	tval_map_set_str(ctx, "cc2", "");
	tval_map_set_str(ctx, "reply", "a@b.example, c@d.example");
	CHECK(email_template_render(t, ctx, NULL, &r, err) == -1 && strstr(err, "reply-to:"), "two Reply-To refused: %s", err);
	tval_map_set_str(ctx, "reply", "");
	tval_map_set_str(ctx, "first_name", "");
	write_template("empty.email", "Subject: {{first_name}}\n\nx\n");
	email_template_free(t);
	CHECK(email_template_load(tmpdir, "empty", &t, err) == 0 && email_template_render(t, ctx, NULL, &r, err) == -1 &&
	      strstr(err, "subject: empty"), "subject empty after rendering refused: %s", err);
	email_template_free(t);
	tval_free(ctx);
}

static void cleanup(void)
{
	static const char *const files[] = {"unk.email", "nosub.email", "syn.email", "synb.email", "nobl.email",
	                                    "dup.email", "utf.email", "big.email", "inj.email", "inj.email.html",
	                                    "sig.mustache", "empty.email"};
	char path[300];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	CHECK(rmdir(tmpdir) == 0, "temp dir cleaned up");
}

int main(void)
{
	struct stat st;
	tdir = stat("templates/birthday.email", &st) == 0 ? "templates" : "../../templates";
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_addr_valid();
	test_parse_mailbox();
	test_qp();
	test_base64();
	test_headers();
	test_message();
	test_message_errors();
	test_shipped_templates();
	test_template_errors();
	cleanup();
	return check_done();
}
