/*
 * Fuzzes the message builder: the input is cut at NUL bytes into subject, display name,
 * address and body. Whatever is accepted must be a well-formed message: CRLF only, no line
 * over 998, exactly the header fields occasiond writes (no forged To:, Bcc: or other), and an
 * address that is accepted must be one libcurl can put in RCPT TO safely.
 */
#include <stdlib.h>
#include <string.h>

#include "occasiond/mime.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char *piece(const char **p, const char *end)
{
	const char *s = *p;
	const char *z = memchr(s, '\0', (size_t)(end - s));
	*p = z ? z + 1 : end;
	return s;
}

static void check_message(const struct strbuf *out)
{
	size_t line = 0, tos = 0, bccs = 0;
	int in_headers = 1;
	for (size_t i = 0; i < out->len; i++) {
		char c = out->s[i];
		if (c == '\r') {
			if (i + 1 >= out->len || out->s[i + 1] != '\n')
				abort();   /* a bare CR */
			continue;
		}
		if (c == '\n') {
			if (i == 0 || out->s[i - 1] != '\r')
				abort();   /* a bare LF */
			if (line == 0)
				in_headers = 0;
			line = 0;
			continue;
		}
		if (line == 0 && in_headers) {
			if (out->len - i >= 3 && strncmp(out->s + i, "To:", 3) == 0)
				tos++;
			if (out->len - i >= 4 && strncasecmp(out->s + i, "Bcc:", 4) == 0)
				bccs++;
		}
		if (++line > 998)
			abort();
	}
	if (tos != 1 || bccs != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *buf = xmalloc(size + 1), err[ERR_LEN];
	const char *p = buf, *end;
	const char *subject, *name, *addr, *body;
	struct mime_message m;
	struct strbuf out = {0};
	char *pn = NULL, *pa = NULL;

	memcpy(buf, data, size);
	buf[size] = '\0';
	end = buf + size;
	subject = piece(&p, end);
	name = piece(&p, end);
	addr = piece(&p, end);
	body = piece(&p, end);

	if (mime_addr_valid(addr) && strpbrk(addr, "\r\n<>, \t\""))
		abort();
	if (mime_parse_mailbox(name, &pn, &pa, err) == 0 && (!mime_addr_valid(pa) || strpbrk(pa, "\r\n")))
		abort();
	free(pn);
	free(pa);

	memset(&m, 0, sizeof m);
	m.from.name = "Acme Team";
	m.from.addr = "team@acme.example";
	m.to.name = name;
	m.to.addr = mime_addr_valid(addr) ? addr : "someone@example.org";
	m.subject = subject;
	m.date = "Thu, 03 Dec 2026 09:00:00 +0100";
	m.message_id = "occasiond.1.abc@acme.example";
	m.text = body;
	m.html = size > 0 && (data[0] & 1) ? body : NULL;
	if (mime_build(&m, &out, err) == 0)
		check_message(&out);
	sb_reset(&out);
	if (mime_encode_header("Subject", subject, &out, err) == 0) {
		for (size_t i = 0; i + 1 < out.len; i++)
			if (out.s[i] == '\r' && out.s[i + 1] == '\n' && i + 2 < out.len && out.s[i + 2] != ' ' &&
			    out.s[i + 2] != '\t')
				abort();   /* a line break that is not folding: a new header */
	}
	sb_reset(&out);
	mime_qp_encode(body, strlen(body), &out);
	sb_free(&out);
	free(buf);
	return 0;
}
