/*
 * json: a recursive-descent checker for one JSON document that copies out the top-level
 * members it is asked for. Strict: no comments, no trailing commas, no leading zeros, no
 * raw control characters or invalid UTF-8 in strings, bounded nesting.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/json.h"

#define MAX_DEPTH 64

struct jr {
	const unsigned char *p, *start, *end;
	char *err;
};

static int fail(struct jr *r, const char *what)
{
	return err_set(r->err, "JSON: %s at byte %zu", what, (size_t)(r->p - r->start));
}

static void ws(struct jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(struct jr *r, unsigned *out)
{
	unsigned v = 0;
	if (r->end - r->p < 4)
		return fail(r, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned c = r->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(r, "bad \\u escape");
	}
	r->p += 4;
	*out = v;
	return 0;
}

static void put_utf8(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80)
		b[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[2] = (char)(0x80 | (cp & 0x3f)),
		n = 3;
	else
		b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	sb_addn(sb, b, n);
}

/* utf8_len: the length of a valid UTF-8 sequence at p (shortest form, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp;
	if (n == 0 || (size_t)(end - p) < n)
		return 0;
	if (n == 1)
		return 1;
	cp = *p & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* string: at '"'; the decoded text into out when out is not NULL. */
static int string(struct jr *r, struct strbuf *out)
{
	r->p++;
	for (;;) {
		unsigned c;
		if (r->p >= r->end)
			return fail(r, "unterminated string");
		c = *r->p;
		if (c == '"') {
			r->p++;
			return 0;
		}
		if (c < 0x20)
			return fail(r, "control character in a string");
		if (c == '\\') {
			unsigned u, lo;
			uint32_t cp;
			if (++r->p >= r->end)
				return fail(r, "unterminated string");
			c = *r->p++;
			switch (c) {
			case '"': case '\\': case '/':
				cp = c;
				break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (hex4(r, &u) != 0)
					return -1;
				cp = u;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
						return fail(r, "lone surrogate");
					r->p += 2;
					if (hex4(r, &lo) != 0)
						return -1;
					if (lo < 0xdc00 || lo > 0xdfff)
						return fail(r, "lone surrogate");
					cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return fail(r, "lone surrogate");
				} else if (u == 0) {
					return fail(r, "NUL in a string");
				}
				break;
			default:
				r->p--;
				return fail(r, "bad escape");
			}
			if (out)
				put_utf8(out, cp);
		} else {
			size_t n = utf8_len(r->p, r->end);
			if (n == 0)
				return fail(r, "invalid UTF-8");
			if (out)
				sb_addn(out, (const char *)r->p, n);
			r->p += n;
		}
	}
}

static size_t digits(struct jr *r)
{
	size_t n = 0;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++, n++;
	return n;
}

static int number(struct jr *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (digits(r) == 0)
		return fail(r, "bad number");
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (digits(r) == 0)
			return fail(r, "bad number");
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (digits(r) == 0)
			return fail(r, "bad number");
	}
	return 0;
}

static int literal(struct jr *r, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return fail(r, "unexpected character");
	r->p += n;
	return 0;
}

static int value(struct jr *r, int depth, struct strbuf *out, int *is_scalar);

/* members: an object's or an array's contents after the opening bracket. */
static int container(struct jr *r, int depth, int object, const char *const *keys, size_t n, char **vals)
{
	char close = object ? '}' : ']';
	struct strbuf key = {0}, val = {0};
	int rc = -1;
	if (depth > MAX_DEPTH)
		return fail(r, "nested too deeply");
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		size_t want = n;
		int scalar = 0;
		ws(r);
		if (object) {
			if (r->p >= r->end || *r->p != '"') {
				fail(r, "a member name was expected");
				goto out;
			}
			sb_reset(&key);
			if (string(r, keys ? &key : NULL) != 0)
				goto out;
			ws(r);
			if (r->p >= r->end || *r->p != ':') {
				fail(r, "':' was expected");
				goto out;
			}
			r->p++;
			ws(r);
			for (size_t i = 0; keys && key.s && i < n; i++)
				if (strlen(key.s) == key.len && strcmp(key.s, keys[i]) == 0)
					want = i;
		}
		sb_reset(&val);
		if (value(r, depth + 1, want < n ? &val : NULL, &scalar) != 0)
			goto out;
		if (want < n) {
			free(vals[want]);
			vals[want] = scalar ? xstrdup(val.s ? val.s : "") : NULL;
		}
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			rc = 0;
			goto out;
		}
		fail(r, object ? "',' or '}' was expected" : "',' or ']' was expected");
		goto out;
	}
out:
	if (val.s)
		explicit_bzero(val.s, val.cap);
	sb_free(&key);
	sb_free(&val);
	return rc;
}

/* value: any JSON value; a string's text or a number's spelling into out (when not NULL). */
static int value(struct jr *r, int depth, struct strbuf *out, int *is_scalar)
{
	const unsigned char *start = r->p;
	*is_scalar = 0;
	if (r->p >= r->end)
		return fail(r, "a value was expected");
	switch (*r->p) {
	case '{':
		return container(r, depth, 1, NULL, 0, NULL);
	case '[':
		return container(r, depth, 0, NULL, 0, NULL);
	case '"':
		*is_scalar = 1;
		return string(r, out);
	case 't':
		return literal(r, "true");
	case 'f':
		return literal(r, "false");
	case 'n':
		return literal(r, "null");
	default:
		if (number(r) != 0)
			return -1;
		*is_scalar = 1;
		if (out)
			sb_addn(out, (const char *)start, (size_t)(r->p - start));
		return 0;
	}
}

int json_object_get(const char *text, size_t len, const char *const *keys, size_t n, char **vals,
                    char err[ERR_LEN])
{
	struct jr r = {(const unsigned char *)text, (const unsigned char *)text, (const unsigned char *)text + len, err};
	for (size_t i = 0; i < n; i++)
		vals[i] = NULL;
	ws(&r);
	if (r.p >= r.end || *r.p != '{') {
		fail(&r, "an object was expected");
		goto bad;
	}
	if (container(&r, 1, 1, keys, n, vals) != 0)
		goto bad;
	ws(&r);
	if (r.p != r.end) {
		fail(&r, "text after the object");
		goto bad;
	}
	return 0;
bad:
	for (size_t i = 0; i < n; i++) {
		if (vals[i])
			explicit_bzero(vals[i], strlen(vals[i]));
		free(vals[i]);
		vals[i] = NULL;
	}
	return -1;
}
