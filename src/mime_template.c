/*
 * mime, the email templates: NAME.email (header lines, a blank line, the text body) and
 * NAME.email.html. Each header value and each body is rendered separately, so that data
 * can never add a header line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mime_int.h"

#define TEMPLATE_MAX (256 * 1024)

/* ---- email templates ---- */

enum { EH_SUBJECT, EH_REPLY_TO, EH_CC, EH_N };
static const char *const eh_names[EH_N] = {"Subject", "Reply-To", "Cc"};
static const char *const eh_fields[EH_N] = {"subject", "reply-to", "cc"};

struct email_template {
	char *dir;               /* for partials */
	char *path, *html_path;  /* for messages */
	char *hdr[EH_N];         /* header value sources, or NULL */
	int hdr_line[EH_N];
	int hdr_col[EH_N];     /* the column where the header's value starts */
	char *text, *html;       /* body sources (html NULL when there is no .email.html) */
	int text_line;
	struct partials *pc;     /* partials read so far: a template rendered for many people reads them once */
};

struct partials {
	char *dir;
	size_t n;
	struct { char *name, *text; } *v;   /* text NULL: no such partial */
};

struct partial_ud {
	const char *dir;
	struct partials *pc;
};

/* cached_partial: template_dir_partial, remembering what it found for this template's directory. */
static int cached_partial(void *ud, const char *name, char **text, char err[ERR_LEN])
{
	struct partial_ud *u = ud;
	struct partials *pc = u->pc;
	int rc;
	if (pc->dir && strcmp(pc->dir, u->dir) == 0)
		for (size_t i = 0; i < pc->n; i++)
			if (strcmp(pc->v[i].name, name) == 0) {
				*text = pc->v[i].text ? xstrdup(pc->v[i].text) : NULL;
				return 0;
			}
	rc = template_dir_partial((void *)u->dir, name, text, err);
	if (rc != 0)
		return rc;
	if (!pc->dir)
		pc->dir = xstrdup(u->dir);
	if (strcmp(pc->dir, u->dir) == 0 && pc->n < 64) {
		pc->v = xreallocarray(pc->v, pc->n + 1, sizeof *pc->v);
		pc->v[pc->n].name = xstrdup(name);
		pc->v[pc->n++].text = *text ? xstrdup(*text) : NULL;
	}
	return 0;
}

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
static int tpl_err(char err[ERR_LEN], const char *path, int base, int col, const char *terr)
{
	int n = 0, off = 0;
	if (sscanf(terr, "line %d: %n", &n, &off) >= 1 && off > 0 && n >= 1)
		return err_set(err, "%s:%d:%d: error: %s", path, base + n - 1, col, terr + off);
	return err_set(err, "%s:%d:%d: error: %s", path, base, col, terr);
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
		if (!mime_is_ldh((unsigned char)name[i]) && name[i] != '_')
			return 0;
	return 1;
}

/* parse_email: the header lines up to the first blank line, then the body. */
static int parse_email(struct email_template *t, const char *src, char err[ERR_LEN])
{
	const char *p = src, *path = t->path;
	int line = 1, cur = -1, col;
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
			char *v = xasprintf("%s ", t->hdr[cur]), *c = mime_trim_copy(p, n);
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
			t->hdr[cur] = mime_trim_copy(colon + 1, n - nl2 - 1);
			t->hdr_line[cur] = line;
			/* The value's first column: past the name, the colon and the blanks after it. */
			t->hdr_col[cur] = (int)(nl2 + 2 + strspn(colon + 1, " \t"));
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
		if (t->hdr[i] && template_check_pos(t->hdr[i], t->hdr_line[i], &col, terr) != 0)
			return tpl_err(err, path, 1, t->hdr_col[i] + col - 1, terr);
	if (strspn(t->text, " \t\r\n") == strlen(t->text))
		return err_set(err, "%s:%d:1: error: empty body", path, t->text_line);
	if (template_check_pos(t->text, t->text_line, &col, terr) != 0)
		return tpl_err(err, path, 1, col, terr);
	return 0;
}

int email_template_load(const char *dir, const char *name, struct email_template **out, char err[ERR_LEN])
{
	struct email_template *t;
	char *src = NULL, *fn, terr[ERR_LEN];
	struct stat st;
	int rc = -1, col;
	*out = NULL;
	if (!valid_template_name(name))
		return err_set(err, "bad email template name '%.64s' (letters, digits, '_' and '-')", name ? name : "");
	t = xcalloc(1, sizeof *t);
	t->pc = xcalloc(1, sizeof *t->pc);
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
	if (template_check_pos(t->html, 1, &col, terr) != 0) {
		tpl_err(err, t->html_path, 1, col, terr);
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
	for (size_t i = 0; t->pc && i < t->pc->n; i++) {
		free(t->pc->v[i].name);
		free(t->pc->v[i].text);
	}
	if (t->pc) {
		free(t->pc->v);
		free(t->pc->dir);
		free(t->pc);
	}
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

static int render_part(const struct email_template *t, const char *path, const char *src, int first_line,
                       const struct tval *ctx, const char *dir, int html, char **res, char err[ERR_LEN])
{
	struct partial_ud u = {dir ? dir : t->dir, t->pc};
	struct template_opts o = {.escape_html = html, .empty_is_false = 1, .partial = cached_partial, .ud = &u,
	                          .first_line = first_line};
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
	if (render_part(t, t->path, t->hdr[i], t->hdr_line[i], ctx, dir, 0, &v, err) != 0)
		return -1;
	if (util_has_ctl(v, NULL))
		err_set(e2, "%s: control character", eh_fields[i]);
	if (util_has_ctl(v, NULL) || mime_check_text(eh_fields[i], util_trim(v), e2) != 0) {
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
				mime_quote_word(&c, list[k].name, strlen(list[k].name));
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
	    render_part(t, t->path, t->text, t->text_line, ctx, dir, 0, &out->text, err) != 0 ||
	    (t->html && render_part(t, t->html_path, t->html, 1, ctx, dir, 1, &out->html, err) != 0)) {
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
