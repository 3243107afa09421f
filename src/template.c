/*
 * template: a Mustache engine. A template is parsed once into a flat token list
 * (sections record where their body ends), then rendered against a context stack.
 * Limits keep hostile templates cheap: sections nest at most MAX_SECTION_DEPTH deep
 * (so rendering recursion is bounded), partials at most MAX_PARTIAL_DEPTH deep, and
 * the output of one render at most MAX_OUTPUT bytes.
 */
#include "occasiond/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SECTION_DEPTH 100
#define MAX_PARTIAL_DEPTH 32
#define MAX_OUTPUT ((size_t)16 * 1024 * 1024)
#define MAX_PARTIAL_FILE ((size_t)256 * 1024)
#define MAX_DELIM 16
#define MAX_NAME_IN_ERR 64

/* ---- values ---- */

static struct tval *tval_new(enum tval_type type)
{
	struct tval *v = xcalloc(1, sizeof *v);
	v->type = type;
	return v;
}

struct tval *tval_null(void)
{
	return tval_new(TV_NULL);
}

struct tval *tval_bool(int b)
{
	struct tval *v = tval_new(TV_BOOL);
	v->b = b ? 1 : 0;
	return v;
}

struct tval *tval_string(const char *s)
{
	struct tval *v = tval_new(TV_STRING);
	v->s = xstrdup(s ? s : "");
	return v;
}

struct tval *tval_list(void)
{
	return tval_new(TV_LIST);
}

struct tval *tval_map(void)
{
	return tval_new(TV_MAP);
}

/* Capacity is implicit: arrays double whenever n reaches a power of two, so appends are amortised O(1). */
static void tval_grow(struct tval *v)
{
	size_t n = v->n;
	if (n != 0 && (n & (n - 1)) != 0)
		return;
	size_t cap = n ? n * 2 : 4;
	v->items = xreallocarray(v->items, cap, sizeof *v->items);
	if (v->type == TV_MAP)
		v->keys = xreallocarray(v->keys, cap, sizeof *v->keys);
}

static struct tval *map_getn(const struct tval *map, const char *key, size_t len)
{
	if (!map || map->type != TV_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strncmp(map->keys[i], key, len) == 0 && map->keys[i][len] == '\0')
			return map->items[i];
	return NULL;
}

void tval_map_set(struct tval *map, const char *key, struct tval *v)
{
	if (!map || map->type != TV_MAP || !key) {
		tval_free(v);
		return;
	}
	for (size_t i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i], key) == 0) {
			tval_free(map->items[i]);
			map->items[i] = v;
			return;
		}
	}
	tval_grow(map);
	map->keys[map->n] = xstrdup(key);
	map->items[map->n] = v;
	map->n++;
}

void tval_map_set_str(struct tval *map, const char *key, const char *s)
{
	tval_map_set(map, key, tval_string(s));
}

void tval_list_add(struct tval *list, struct tval *v)
{
	if (!list || list->type != TV_LIST) {
		tval_free(v);
		return;
	}
	tval_grow(list);
	list->items[list->n++] = v;
}

const struct tval *tval_map_get(const struct tval *map, const char *key)
{
	return key ? map_getn(map, key, strlen(key)) : NULL;
}

void tval_free(struct tval *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		tval_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
	free(v);
}

/* ---- parsing ---- */

enum tok_type { T_TEXT, T_VAR, T_RAW, T_SECTION, T_INVERTED, T_PARTIAL };

struct tok {
	enum tok_type type;
	const char *s;      /* T_TEXT: the text; otherwise the tag's name */
	size_t len;
	const char *indent; /* T_PARTIAL: indentation of a standalone tag */
	size_t indent_len;
	size_t end;         /* T_SECTION, T_INVERTED: index just past the body */
	int line;
	int col;            /* tags: the column of the opening delimiter, in characters from 1 */
};

struct tmpl {
	char *owned;        /* the source, when the template owns it (partials) */
	struct tok *toks;
	size_t n, cap;
};

struct parser {
	const char *src;
	size_t len, pos;
	int line;           /* line number at pos */
	int col;            /* column of the tag being parsed (for the caller's FILE:LINE:COL) */
	char otag[MAX_DELIM + 1], ctag[MAX_DELIM + 1];
	size_t olen, clen;
	size_t open[MAX_SECTION_DEPTH]; /* token indices of the open sections */
	size_t nopen;
	struct tmpl *t;
	char *err;
};

static void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	free(t->toks);
	free(t->owned);
	free(t);
}

static struct tok *tok_add(struct tmpl *t, enum tok_type type, const char *s, size_t len, int line)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->toks = xreallocarray(t->toks, t->cap, sizeof *t->toks);
	}
	struct tok *tk = &t->toks[t->n++];
	memset(tk, 0, sizeof *tk);
	tk->type = type;
	tk->s = s;
	tk->len = len;
	tk->line = line;
	return tk;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int count_nl(const char *s, size_t n)
{
	int k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s))
		(*s)++, (*n)--;
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

/* A name is what a tag refers to: non-empty, no white space (a typo like "{{first name}}" is an error). */
static int valid_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (is_space(s[i]))
			return 0;
	return 1;
}

static void set_delims(struct parser *p, const char *o, size_t olen, const char *c, size_t clen)
{
	memcpy(p->otag, o, olen);
	p->otag[olen] = '\0';
	p->olen = olen;
	memcpy(p->ctag, c, clen);
	p->ctag[clen] = '\0';
	p->clen = clen;
}

/* "{{=<% %>=}}": content is "<% %>" (already trimmed): two words, no '=' and no white space within. */
static int parse_delims(struct parser *p, const char *s, size_t n, int line)
{
	size_t a = 0, b;
	while (a < n && !is_space(s[a]))
		a++;
	b = a;
	while (b < n && is_space(s[b]))
		b++;
	if (a == 0 || b == n || !valid_name(s + b, n - b) || a > MAX_DELIM || n - b > MAX_DELIM ||
	    memchr(s, '=', a) || memchr(s + b, '=', n - b))
		return err_set(p->err, "line %d: bad delimiters in set-delimiter tag", line);
	set_delims(p, s, a, s + b, n - b);
	return 0;
}

/*
 * Standalone: the tag is the only thing on its line but for spaces and tabs. Then the line's
 * leading blanks and its line ending are not output. Returns 1 with *ls (where the line starts)
 * and *next (just past the line ending), else 0.
 */
static int standalone(const struct parser *p, size_t tag_start, size_t tag_end, size_t *ls, size_t *next)
{
	const char *src = p->src;
	size_t i = tag_start, q = tag_end;
	while (i > p->pos && is_blank(src[i - 1]))
		i--;
	if (i > p->pos) {
		if (src[i - 1] != '\n')
			return 0;
	} else if (i != 0 && src[i - 1] != '\n') {
		return 0;           /* another tag ends earlier on this line */
	}
	while (q < p->len && is_blank(src[q]))
		q++;
	if (q < p->len && src[q] == '\r' && q + 1 < p->len && src[q + 1] == '\n')
		q += 2;
	else if (q < p->len && src[q] == '\n')
		q += 1;
	else if (q != p->len)
		return 0;
	*ls = i;
	*next = q;
	return 1;
}

static int close_section(struct parser *p, const char *name, size_t n, int line)
{
	if (p->nopen == 0)
		return err_set(p->err, "line %d: {{/%.*s}} without an open section", line,
		               (int)(n < MAX_NAME_IN_ERR ? n : MAX_NAME_IN_ERR), name);
	struct tok *open = &p->t->toks[p->open[p->nopen - 1]];
	if (open->len != n || memcmp(open->s, name, n) != 0)
		return err_set(p->err, "line %d: {{/%.*s}} does not close {{%c%.*s}} opened on line %d", line,
		               (int)(n < MAX_NAME_IN_ERR ? n : MAX_NAME_IN_ERR), name,
		               open->type == T_SECTION ? '#' : '^',
		               (int)(open->len < MAX_NAME_IN_ERR ? open->len : MAX_NAME_IN_ERR), open->s, open->line);
	open->end = p->t->n;
	p->nopen--;
	return 0;
}

/* One tag whose content is name (trimmed) of the given kind: '#', '^', '/', '!', '>', '=', '&', '{' or 0. */
static int parse_tag(struct parser *p, char kind, const char *name, size_t n, int line,
                     const char *indent, size_t indent_len)
{
	struct tok *tk;
	if (kind == '!')
		return 0;
	if (kind == '=')
		return parse_delims(p, name, n, line);
	if (!valid_name(name, n))
		return err_set(p->err, "line %d: %s tag name", line, n ? "bad" : "empty");
	switch (kind) {
	case '#':
	case '^':
		if (p->nopen == MAX_SECTION_DEPTH)
			return err_set(p->err, "line %d: sections nested deeper than %d", line, MAX_SECTION_DEPTH);
		p->open[p->nopen++] = p->t->n;
		tok_add(p->t, kind == '#' ? T_SECTION : T_INVERTED, name, n, line);
		return 0;
	case '/':
		return close_section(p, name, n, line);
	case '>':
		tk = tok_add(p->t, T_PARTIAL, name, n, line);
		tk->indent = indent;
		tk->indent_len = indent_len;
		return 0;
	case '&':
	case '{':
		tok_add(p->t, T_RAW, name, n, line);
		return 0;
	default:
		tok_add(p->t, T_VAR, name, n, line);
		return 0;
	}
}

/* column_of: the column of src[at] in characters (UTF-8 lead bytes), from 1. */
static int column_of(const char *src, size_t at)
{
	size_t ls = at;
	int col = 1;
	while (ls > 0 && src[ls - 1] != '\n')
		ls--;
	for (; ls < at; ls++)
		col += ((unsigned char)src[ls] & 0xC0) != 0x80;
	return col;
}

/*
 * template_parse: src stays borrowed (tokens point into it) unless the caller sets t->owned.
 * first_line is the line number of src's first line in its file (a body after headers).
 */
static int template_parse(const char *src, int first_line, struct tmpl **out, int *err_col, char err[ERR_LEN])
{
	struct parser p;
	char needle[MAX_DELIM + 2];
	int rc = -1;

	memset(&p, 0, sizeof p);
	p.src = src;
	p.len = strlen(src);
	p.line = first_line > 0 ? first_line : 1;
	p.err = err;
	p.t = xcalloc(1, sizeof *p.t);
	set_delims(&p, "{{", 2, "}}", 2);

	for (;;) {
		const char *hit = memmem(src + p.pos, p.len - p.pos, p.otag, p.olen);
		if (!hit) {
			if (p.pos < p.len)
				tok_add(p.t, T_TEXT, src + p.pos, p.len - p.pos, p.line);
			break;
		}
		size_t tag_start = (size_t)(hit - src), cstart = tag_start + p.olen, nlen;
		int line = p.line + count_nl(src + p.pos, tag_start - p.pos);
		p.col = column_of(src, tag_start);
		char kind = cstart < p.len && strchr("#^/!>=&{", src[cstart]) ? src[cstart] : 0;
		if (kind)
			cstart++;
		/* Triple mustaches and set-delimiter tags end with '}' or '=' before the closing delimiter. */
		nlen = 0;
		if (kind == '{' || kind == '=')
			needle[nlen++] = kind == '{' ? '}' : '=';
		memcpy(needle + nlen, p.ctag, p.clen);
		nlen += p.clen;
		const char *close = memmem(src + cstart, p.len - cstart, needle, nlen);
		if (!close) {
			err_set(err, "line %d: unclosed tag", line);
			goto out;
		}
		size_t tag_end = (size_t)(close - src) + nlen, ls = tag_start, next = tag_end;
		const char *name = src + cstart;
		size_t n = (size_t)(close - name);
		trim(&name, &n);
		int alone = kind && strchr("#^/!>=", kind) && standalone(&p, tag_start, tag_end, &ls, &next);
		if (!alone)
			ls = tag_start;
		if (ls > p.pos)
			tok_add(p.t, T_TEXT, src + p.pos, ls - p.pos, p.line);
		size_t before = p.t->n;
		if (parse_tag(&p, kind, name, n, line, src + ls, alone && kind == '>' ? tag_start - ls : 0) != 0)
			goto out;
		if (p.t->n > before)
			p.t->toks[p.t->n - 1].col = p.col;
		p.line += count_nl(src + p.pos, next - p.pos);
		p.pos = next;
	}
	if (p.nopen) {
		struct tok *open = &p.t->toks[p.open[p.nopen - 1]];
		p.col = open->col;
		err_set(err, "line %d: unclosed section {{%c%.*s}}", open->line, open->type == T_SECTION ? '#' : '^',
		        (int)(open->len < MAX_NAME_IN_ERR ? open->len : MAX_NAME_IN_ERR), open->s);
		goto out;
	}
	*out = p.t;
	p.t = NULL;
	rc = 0;
out:
	if (rc != 0 && err_col)
		*err_col = p.col > 0 ? p.col : 1;
	tmpl_free(p.t);
	return rc;
}

int template_check(const char *src, char err[ERR_LEN])
{
	return template_check_at(src, 1, err);
}

int template_check_at(const char *src, int first_line, char err[ERR_LEN])
{
	return template_check_pos(src, first_line, NULL, err);
}

int template_check_pos(const char *src, int first_line, int *col, char err[ERR_LEN])
{
	struct tmpl *t = NULL;
	if (col)
		*col = 1;
	if (!src)
		return err_set(err, "line %d: no template", first_line > 0 ? first_line : 1);
	if (template_parse(src, first_line, &t, col, err) != 0)
		return -1;
	tmpl_free(t);
	return 0;
}

/* uses_walk: the tags of toks[from, to) in order, each with the innermost section around it. */
static int uses_walk(const struct tmpl *t, size_t from, size_t to, const struct template_use *outer,
                     template_use_fn fn, void *ud)
{
	for (size_t i = from; i < to; i++) {
		const struct tok *tk = &t->toks[i];
		struct template_use u = {tk->s, tk->len, 0, tk->line, tk->col, outer};
		switch (tk->type) {
		case T_TEXT:
			continue;
		case T_SECTION:
		case T_INVERTED:
			u.kind = tk->type == T_SECTION ? '#' : '^';
			if (fn(ud, &u) != 0 || uses_walk(t, i + 1, tk->end, &u, fn, ud) != 0)
				return -1;
			i = tk->end - 1;
			continue;
		case T_PARTIAL:
			u.kind = '>';
			break;
		case T_RAW:
			u.kind = '&';
			break;
		default:
			break;
		}
		if (fn(ud, &u) != 0)
			return -1;
	}
	return 0;
}

int template_uses(const char *src, int first_line, template_use_fn fn, void *ud, char err[ERR_LEN])
{
	struct tmpl *t = NULL;
	int rc;
	if (!src)
		return err_set(err, "line %d: no template", first_line > 0 ? first_line : 1);
	if (template_parse(src, first_line, &t, NULL, err) != 0)
		return -1;
	rc = uses_walk(t, 0, t->n, NULL, fn, ud);
	tmpl_free(t);
	return rc;
}

/* ---- rendering ---- */

struct pentry {                 /* a loaded partial, cached for the rest of the render */
	char *name;
	char *indent;
	struct tmpl *t;         /* NULL: no such partial */
};

struct render {
	const struct template_opts *opts;
	struct strbuf *out;
	size_t start;           /* out->len before this render */
	const struct tval **stack;
	size_t depth, cap;
	struct pentry **cache;
	size_t ncache;
	char err_in[MAX_NAME_IN_ERR + 8]; /* the partial that the line in err refers to */
	char *err;
};

static int emit(struct render *r, const char *s, size_t n, int line)
{
	if (n > MAX_OUTPUT - (r->out->len - r->start))
		return err_set(r->err, "line %d: output larger than %zu MB", line, MAX_OUTPUT >> 20);
	sb_addn(r->out, s, n);
	return 0;
}

static int emit_value(struct render *r, const char *s, int escape, int line)
{
	size_t run = 0, i;
	if (!escape)
		return emit(r, s, strlen(s), line);
	for (i = 0; s[i]; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break; /* safe inside single-quoted attributes too */
		default: continue;
		}
		if (emit(r, s + run, i - run, line) != 0 || emit(r, rep, strlen(rep), line) != 0)
			return -1;
		run = i + 1;
	}
	return emit(r, s + run, i - run, line);
}

static void push(struct render *r, const struct tval *v)
{
	if (r->depth == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->stack = xreallocarray(r->stack, r->cap, sizeof *r->stack);
	}
	r->stack[r->depth++] = v;
}

/*
 * Name resolution per the spec: "." is the top of the stack; otherwise the first dotted part
 * is looked up from the top of the stack down, and the rest only within what it found.
 */
static const struct tval *lookup(const struct render *r, const char *name, size_t n)
{
	const struct tval *v = NULL;
	const char *dot;
	size_t part;

	if (n == 1 && name[0] == '.')
		return r->depth ? r->stack[r->depth - 1] : NULL;
	dot = memchr(name, '.', n);
	part = dot ? (size_t)(dot - name) : n;
	for (size_t i = r->depth; i-- > 0;)
		if ((v = map_getn(r->stack[i], name, part)) != NULL)
			break;
	while (v && dot) {
		name = dot + 1;
		n -= part + 1;
		dot = memchr(name, '.', n);
		part = dot ? (size_t)(dot - name) : n;
		v = map_getn(v, name, part);
	}
	return v;
}

static int truthy(const struct render *r, const struct tval *v)
{
	if (!v)
		return 0;
	switch (v->type) {
	case TV_NULL: return 0;
	case TV_BOOL: return v->b;
	case TV_STRING: return !(r->opts && r->opts->empty_is_false && v->s[0] == '\0');
	case TV_LIST: return v->n > 0;
	case TV_MAP: return 1;
	}
	return 0;
}

/* Indents every line of a standalone partial's source, as the spec asks (not the interpolated values). */
static int indent_text(const char *text, const char *indent, size_t ilen, char **out, int line, char *err)
{
	struct strbuf sb = {0};
	size_t len = strlen(text), nl = (size_t)count_nl(text, len) + 1;
	if (len > MAX_OUTPUT || (ilen && nl > (MAX_OUTPUT - len) / ilen))
		return err_set(err, "line %d: partial too large", line);
	for (const char *s = text; *s; s++) {
		if (s == text || (s[-1] == '\n'))
			sb_addn(&sb, indent, ilen);
		sb_addc(&sb, *s);
	}
	*out = sb_detach(&sb);
	return 0;
}

/* Loads (once per render) the partial a tag names; *pe NULL on error. */
static int partial_get(struct render *r, const struct tok *tk, struct pentry **pe)
{
	char *name = xstrndup(tk->s, tk->len), *indent = xstrndup(tk->indent ? tk->indent : "", tk->indent_len);
	char *text = NULL, cb_err[ERR_LEN] = "";
	struct pentry *e = NULL;
	int rc = -1;

	*pe = NULL;
	for (size_t i = 0; i < r->ncache; i++) {
		if (strcmp(r->cache[i]->name, name) == 0 && strcmp(r->cache[i]->indent, indent) == 0) {
			*pe = r->cache[i];
			rc = 0;
			goto out;
		}
	}
	if (r->opts->partial(r->opts->ud, name, &text, cb_err) != 0) {
		err_set(r->err, "line %d: partial '%.*s': %s", tk->line, MAX_NAME_IN_ERR, name,
		        cb_err[0] ? cb_err : "cannot load");
		goto out;
	}
	e = xcalloc(1, sizeof *e);
	if (text) {
		char *src = NULL;
		if (!tk->indent_len) {
			src = text;
			text = NULL;
		} else if (indent_text(text, indent, tk->indent_len, &src, tk->line, r->err) != 0) {
			goto out;
		}
		if (template_parse(src, 1, &e->t, NULL, r->err) != 0) {
			free(src);
			snprintf(r->err_in, sizeof r->err_in, "%.*s", MAX_NAME_IN_ERR, name);
			goto out;
		}
		e->t->owned = src;
	}
	e->name = name;
	e->indent = indent;
	name = indent = NULL;
	r->cache = xreallocarray(r->cache, r->ncache + 1, sizeof *r->cache);
	r->cache[r->ncache++] = e;
	*pe = e;
	e = NULL;
	rc = 0;
out:
	free(e);
	free(text);
	free(name);
	free(indent);
	return rc;
}

static int render_toks(struct render *r, const struct tmpl *t, size_t from, size_t to, int pdepth);

static int render_partial(struct render *r, const struct tok *tk, int pdepth)
{
	struct pentry *pe;
	int rc = -1;

	if (!r->opts || !r->opts->partial)
		return 0;
	if (pdepth >= MAX_PARTIAL_DEPTH)
		return err_set(r->err, "line %d: partials nested deeper than %d", tk->line, MAX_PARTIAL_DEPTH);
	if (partial_get(r, tk, &pe) != 0)
		goto fail;
	if (!pe->t)
		return 0;
	if (render_toks(r, pe->t, 0, pe->t->n, pdepth + 1) == 0)
		return 0;
	if (!r->err_in[0])
		snprintf(r->err_in, sizeof r->err_in, "%s", pe->name);
fail:
	/* Name the partial once, at the top level, so deep chains do not repeat themselves. */
	if (pdepth == 0 && r->err_in[0]) {
		char inner[ERR_LEN];
		util_strlcpy(inner, r->err, sizeof inner);
		err_set(r->err, "line %d: in partial '%s': %s", tk->line, r->err_in, inner);
	}
	return rc;
}

static int render_toks(struct render *r, const struct tmpl *t, size_t from, size_t to, int pdepth)
{
	for (size_t i = from; i < to; i++) {
		const struct tok *tk = &t->toks[i];
		const struct tval *v;
		int rc = 0;

		switch (tk->type) {
		case T_TEXT:
			rc = emit(r, tk->s, tk->len, tk->line);
			break;
		case T_VAR:
		case T_RAW:
			v = lookup(r, tk->s, tk->len);
			if (v && v->type == TV_STRING)
				rc = emit_value(r, v->s, tk->type == T_VAR && r->opts && r->opts->escape_html, tk->line);
			else if (v && v->type == TV_BOOL)
				rc = emit_value(r, v->b ? "true" : "false", 0, tk->line);
			break;
		case T_SECTION:
			v = lookup(r, tk->s, tk->len);
			if (v && v->type == TV_LIST) {
				for (size_t k = 0; k < v->n && rc == 0; k++) {
					push(r, v->items[k]);
					rc = render_toks(r, t, i + 1, tk->end, pdepth);
					r->depth--;
				}
			} else if (truthy(r, v)) {
				push(r, v);
				rc = render_toks(r, t, i + 1, tk->end, pdepth);
				r->depth--;
			}
			i = tk->end - 1;
			break;
		case T_INVERTED:
			v = lookup(r, tk->s, tk->len);
			if (!truthy(r, v))
				rc = render_toks(r, t, i + 1, tk->end, pdepth);
			i = tk->end - 1;
			break;
		case T_PARTIAL:
			rc = render_partial(r, tk, pdepth);
			break;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

int template_render(const char *src, const struct tval *ctx, const struct template_opts *opts,
                    struct strbuf *out, char err[ERR_LEN])
{
	static const struct template_opts defaults = {1, 0, NULL, NULL, 1};
	struct render r;
	struct tmpl *t = NULL;
	int rc = -1;

	memset(&r, 0, sizeof r);
	r.opts = opts ? opts : &defaults;
	r.out = out;
	r.start = out->len;
	r.err = err;
	if (!src) {
		err_set(err, "line 1: no template");
		goto out;
	}
	if (template_parse(src, r.opts->first_line, &t, NULL, err) != 0)
		goto out;
	if (ctx)
		push(&r, ctx);
	rc = render_toks(&r, t, 0, t->n, 0);
out:
	if (rc != 0 && out->s) {
		/* No half-rendered output on failure. */
		out->len = r.start;
		out->s[out->len] = '\0';
	}
	for (size_t i = 0; i < r.ncache; i++) {
		tmpl_free(r.cache[i]->t);
		free(r.cache[i]->name);
		free(r.cache[i]->indent);
		free(r.cache[i]);
	}
	free(r.cache);
	free(r.stack);
	tmpl_free(t);
	return rc;
}

/* ---- partials from a directory ---- */

int template_dir_partial(void *ud, const char *name, char **text, char err[ERR_LEN])
{
	const char *dir = ud;
	char *file = NULL, *path = NULL;
	struct stat st;
	size_t n = name ? strlen(name) : 0;
	int rc = -1;

	*text = NULL;
	if (!dir || !*dir)
		return err_set(err, "no template directory");
	if (n == 0 || n > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return err_set(err, "bad partial name '%.*s' (letters, digits, '_' and '-', at most 64)",
		               MAX_NAME_IN_ERR, name ? name : "");
	file = xasprintf("%s.mustache", name);
	path = util_path_join(dir, file);
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			rc = 0;         /* no such partial: renders as nothing */
			goto out;
		}
		err_set(err, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, "%s is not a regular file", path);
		goto out;
	}
	rc = util_read_file(path, MAX_PARTIAL_FILE, text, NULL, err);
out:
	free(file);
	free(path);
	return rc;
}
