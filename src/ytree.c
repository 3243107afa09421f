/*
 * ytree: libyaml events -> a tree of nodes with marks. Limits are enforced while parsing
 * (libyaml slows quadratically with depth, so depth is cut before it can hurt), and
 * anchors/aliases are refused so that no walk can be made to expand.
 */
#include "occasiond/ytree.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "occasiond/dates.h"

struct builder {
	const char *file;
	struct ynode **stack;
	size_t depth;
	size_t nodes;
	struct ynode *root;
	char *err;
};

static struct ynode *node_new(struct builder *b, enum ynode_type t, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof *n);
	n->type = t;
	n->file = b->file;
	n->line = (long)m->line + 1;
	n->col = (long)m->column + 1;
	b->nodes++;
	return n;
}

void ytree_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		ytree_free(n->items[i]);
		if (n->keys)
			ytree_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->value);
	free(n->file_owned);
	free(n);
}

static int mark_err(struct builder *b, const yaml_mark_t *m, const char *msg)
{
	return err_set(b->err, "%s:%ld:%ld: error: %s", b->file, (long)m->line + 1, (long)m->column + 1, msg);
}

/* attach: puts n into the container on top of the stack (a map alternates key, value). */
static int attach(struct builder *b, struct ynode *n, const yaml_mark_t *m)
{
	struct ynode *top;
	if (b->depth == 0) {
		if (b->root) {
			ytree_free(n);
			return mark_err(b, m, "more than one YAML document");
		}
		b->root = n;
		return 0;
	}
	top = b->stack[b->depth - 1];
	if (top->type == Y_SEQ) {
		top->items = xreallocarray(top->items, top->n + 1, sizeof *top->items);
		top->items[top->n++] = n;
		return 0;
	}
	/* A map: items[n] is NULL while its key waits for a value. */
	if (top->n > 0 && top->items[top->n - 1] == NULL) {
		top->items[top->n - 1] = n;
		return 0;
	}
	if (n->type != Y_SCALAR) {
		ytree_free(n);
		return mark_err(b, m, "a mapping key must be a plain value");
	}
	top->keys = xreallocarray(top->keys, top->n + 1, sizeof *top->keys);
	top->items = xreallocarray(top->items, top->n + 1, sizeof *top->items);
	top->keys[top->n] = n;
	top->items[top->n] = NULL;
	top->n++;
	return 0;
}

int ytree_load_mem(const char *name, const char *data, size_t len, struct ynode **out, char err[ERR_LEN])
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct builder b = {0};
	char *file = xstrdup(name);
	int rc = -1, done = 0;

	*out = NULL;
	b.file = file;
	b.err = err;
	if (len > YTREE_MAX_BYTES) {
		err_set(err, "%s: error: file larger than %d bytes", name, YTREE_MAX_BYTES);
		free(file);
		return -1;
	}
	if (!util_utf8_valid(data, len)) {
		err_set(err, "%s: error: not valid UTF-8", name);
		free(file);
		return -1;
	}
	b.stack = xcalloc(YTREE_MAX_DEPTH + 1, sizeof *b.stack);
	if (!yaml_parser_initialize(&parser)) {
		err_set(err, "%s: error: cannot initialise the YAML parser", name);
		free(b.stack);
		free(file);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done) {
		struct ynode *n = NULL;
		if (!yaml_parser_parse(&parser, &ev)) {
			err_set(err, "%s:%ld:%ld: error: %s%s%s", name, (long)parser.problem_mark.line + 1,
			        (long)parser.problem_mark.column + 1, parser.problem ? parser.problem : "YAML syntax error",
			        parser.context ? " " : "", parser.context ? parser.context : "");
			goto out;
		}
		if (b.nodes > YTREE_MAX_NODES) {
			mark_err(&b, &ev.start_mark, "too many YAML nodes");
			yaml_event_delete(&ev);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			mark_err(&b, &ev.start_mark, "YAML aliases are not supported");
			yaml_event_delete(&ev);
			goto out;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.anchor) {
				mark_err(&b, &ev.start_mark, "YAML anchors are not supported");
				yaml_event_delete(&ev);
				goto out;
			}
			if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length)) {
				mark_err(&b, &ev.start_mark, "NUL character in a value");
				yaml_event_delete(&ev);
				goto out;
			}
			n = node_new(&b, Y_SCALAR, &ev.start_mark);
			n->value = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			if (attach(&b, n, &ev.start_mark) != 0) {
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if ((ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
			    (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor)) {
				mark_err(&b, &ev.start_mark, "YAML anchors are not supported");
				yaml_event_delete(&ev);
				goto out;
			}
			if (b.depth >= YTREE_MAX_DEPTH) {
				mark_err(&b, &ev.start_mark, "nested too deeply");
				yaml_event_delete(&ev);
				goto out;
			}
			n = node_new(&b, ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP, &ev.start_mark);
			if (attach(&b, n, &ev.start_mark) != 0) {
				yaml_event_delete(&ev);
				goto out;
			}
			b.stack[b.depth++] = n;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth)
				b.depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (!b.root) {
		yaml_mark_t m = {0, 0, 0};
		b.root = node_new(&b, Y_MAP, &m);
	}
	rc = 0;
out:
	yaml_parser_delete(&parser);
	free(b.stack);
	if (rc == 0) {
		b.root->file_owned = file;
		*out = b.root;
	} else {
		ytree_free(b.root);
		free(file);
	}
	return rc;
}

int ytree_load_file(const char *path, struct ynode **out, char err[ERR_LEN])
{
	char *data = NULL;
	size_t len = 0;
	int rc;
	*out = NULL;
	if (util_read_file(path, YTREE_MAX_BYTES, &data, &len, err) != 0)
		return -1;
	rc = ytree_load_mem(path, data, len, out, err);
	free(data);
	return rc;
}

const struct ynode *ytree_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != Y_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

const struct ynode *ytree_key(const struct ynode *map, const char *key)
{
	if (!map || map->type != Y_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->keys[i];
	return NULL;
}

const char *ytree_type_name(enum ynode_type t)
{
	switch (t) {
	case Y_SCALAR: return "a single value";
	case Y_SEQ: return "a list";
	case Y_MAP: return "a mapping";
	}
	return "?";
}

static void vformat(struct strbuf *sb, int warning, const struct ynode *n, const char *fmt, va_list ap)
{
	sb_addf(sb, "%s:%ld:%ld: %s: ", n && n->file ? n->file : "?", n ? n->line : 0L, n ? n->col : 0L,
	        warning ? "warning" : "error");
	sb_vaddf(sb, fmt, ap);
}

int ytree_err(char err[ERR_LEN], const struct ynode *n, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	vformat(&sb, 0, n, fmt, ap);
	va_end(ap);
	err_set(err, "%s", sb.s);
	sb_free(&sb);
	return -1;
}

static void vdiag(struct diags *d, int warning, const struct ynode *n, const char *fmt, va_list ap)
{
	struct strbuf sb = {0};
	vformat(&sb, warning, n, fmt, ap);
	diags_add(d, warning, "%s", sb.s);
	sb_free(&sb);
}

void ytree_diag(struct diags *d, int warning, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, warning, n, fmt, ap);
	va_end(ap);
}

/*
 * nearest: the name in names[0..count) within a few edits of s, or NULL; fold compares
 * without ASCII case (values), keys compare as written.
 */
static const char *nearest(const char *s, const char *const *names, int count, int fold)
{
	char a[64], b[64];
	const char *best = NULL;
	int bestd = 1000;
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof a)
		return NULL;
	for (size_t i = 0; i <= len; i++)
		a[i] = fold && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	for (int i = 0; i < count; i++) {
		size_t l = strlen(names[i]);
		int dist;
		if (l >= sizeof b)
			continue;
		for (size_t j = 0; j <= l; j++)
			b[j] = fold && names[i][j] >= 'A' && names[i][j] <= 'Z' ? (char)(names[i][j] - 'A' + 'a') : names[i][j];
		dist = util_levenshtein(a, b);
		if (dist < bestd)
			bestd = dist, best = names[i];
	}
	return best && bestd <= 3 && bestd < (int)len ? best : NULL;
}

static int count_names(const char *const *names)
{
	int n = 0;
	while (names[n])
		n++;
	return n;
}

int ytree_check_keys(const struct ynode *map, const char *const *allowed, const char *what, struct diags *d)
{
	int problems = 0, nallowed = count_names(allowed);
	if (!map || map->type != Y_MAP)
		return 0;
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->value, *best;
		int known = 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(map->keys[j]->value, k) == 0) {
				ytree_diag(d, 0, map->keys[i], "duplicate key '%s' in %s", k, what);
				problems++;
			}
		for (int j = 0; j < nallowed && !known; j++)
			known = strcmp(allowed[j], k) == 0;
		if (known)
			continue;
		problems++;
		if ((best = nearest(k, allowed, nallowed, 0)))
			ytree_diag(d, 0, map->keys[i], "unknown key '%s' in %s (did you mean '%s'?)", k, what, best);
		else
			ytree_diag(d, 0, map->keys[i], "unknown key '%s' in %s", k, what);
	}
	return problems;
}

/* ---- typed getters ---- */

static int fail(struct diags *d, const struct ynode *n, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* fail: a diag at n; returns -1. */
static int fail(struct diags *d, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, 0, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* value: the scalar's text, allowing the control characters in allow; NULL after a diag. */
static const char *value(const struct ynode *n, const char *what, const char *allow, struct diags *d)
{
	if (!n)
		return NULL;
	if (n->type != Y_SCALAR) {
		ytree_diag(d, 0, n, "%s must be a single value, not %s", what, ytree_type_name(n->type));
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)n->value; *p; p++)
		if ((*p < 0x20 || *p == 0x7f) && !strchr(allow, *p)) {
			ytree_diag(d, 0, n, "%s holds a control character (U+%04X)", what, (unsigned)*p);
			return NULL;
		}
	return n->value;
}

const char *ytree_scalar(const struct ynode *n, const char *what, struct diags *d)
{
	return value(n, what, "", d);
}

const char *ytree_text(const struct ynode *n, const char *what, struct diags *d)
{
	return value(n, what, "\n\t", d);
}

char *ytree_strdup(const struct ynode *n, const char *what, const char *def, struct diags *d)
{
	const char *v = n ? ytree_scalar(n, what, d) : def;
	return v ? xstrdup(v) : NULL;
}

int ytree_long(const struct ynode *n, const char *what, long min, long max, long *out, struct diags *d)
{
	const char *v;
	long x;
	if (!n)
		return 1;
	if (!(v = ytree_scalar(n, what, d)))
		return -1;
	if (util_parse_long(v, min, max, &x) != 0)
		return fail(d, n, "%s: expected a whole number from %ld to %ld, got '%s'", what, min, max, v);
	*out = x;
	return 0;
}

int ytree_number(const struct ynode *n, const char *what, double lo, double hi, double *out, struct diags *d)
{
	const char *v;
	char *end;
	double x;
	if (!n)
		return 1;
	if (!(v = ytree_scalar(n, what, d)))
		return -1;
	errno = 0;
	x = strtod(v, &end);
	/* Decimal only: strtod would also take "0x1p3", "inf" and leading blanks. */
	if (!*v || *end || errno || !isfinite(x) || strspn(v, "+-0123456789.eE") != strlen(v) || x < lo || x > hi)
		return fail(d, n, "%s: expected a number from %g to %g, got '%s'", what, lo, hi, v);
	*out = x;
	return 0;
}

int ytree_bool(const struct ynode *n, const char *what, int *out, struct diags *d)
{
	const char *v;
	int x;
	if (!n)
		return 1;
	if (!(v = ytree_scalar(n, what, d)))
		return -1;
	if (!*v || util_parse_bool(v, &x) != 0)
		return fail(d, n, "%s: expected yes/no or true/false, got '%s'", what, v);
	*out = x;
	return 0;
}

int ytree_money(const struct ynode *n, const char *what, int64_t *cents, struct diags *d)
{
	const char *v;
	int64_t x;
	if (!n)
		return 1;
	if (!(v = ytree_scalar(n, what, d)))
		return -1;
	if (util_parse_money(v, &x) != 0 || x < 0)
		return fail(d, n, "%s: expected an amount such as 3.50, got '%s'", what, v);
	*cents = x;
	return 0;
}

int ytree_duration(const struct ynode *n, const char *what, struct duration *out, struct diags *d)
{
	char err[ERR_LEN];
	struct duration x;
	const char *v;
	if (!n)
		return 1;
	if (!(v = ytree_scalar(n, what, d)))
		return -1;
	if (dates_parse_duration(v, &x, err) != 0)
		return fail(d, n, "%s: %s", what, err);
	*out = x;
	return 0;
}

int ytree_seconds(const struct ynode *n, const char *what, int64_t *secs, struct duration *dur, struct diags *d)
{
	struct duration x;
	int64_t s;
	int rc = ytree_duration(n, what, &x, d);
	if (rc != 0)
		return rc;
	if ((s = dates_duration_secs(&x)) < 0)
		return fail(d, n, "%s: must be in seconds, minutes, hours, days or weeks", what);
	*secs = s;
	if (dur)
		*dur = x;
	return 0;
}

int ytree_bad_value(const struct ynode *n, const char *what, const char *v, const char *const *names,
                    int count, const char *expected, struct diags *d)
{
	struct strbuf sb = {0};
	const char *best = nearest(v, names, count, 1);
	if (!expected) {
		for (int i = 0; i < count; i++)
			sb_addf(&sb, "%s%s", i ? (i == count - 1 ? " or " : ", ") : "", names[i]);
		expected = sb.s ? sb.s : "nothing";
	}
	if (best)
		ytree_diag(d, 0, n, "%s: expected %s, got '%s' (did you mean '%s'?)", what, expected, v, best);
	else
		ytree_diag(d, 0, n, "%s: expected %s, got '%s'", what, expected, v);
	sb_free(&sb);
	return -1;
}

/* find: the index of v in names (ASCII case ignored), or -1. */
static int find(const char *v, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (util_strcaseeq(v, names[i]))
			return i;
	return -1;
}

int ytree_enum(const struct ynode *n, const char *what, const char *const *names, int count,
               const char *expected, int *out, struct diags *d)
{
	const char *v;
	int i;
	if (!n)
		return 1;
	if (!(v = ytree_scalar(n, what, d)))
		return -1;
	if ((i = find(v, names, count)) < 0)
		return ytree_bad_value(n, what, v, names, count, expected, d);
	*out = i;
	return 0;
}

int ytree_strlist(const struct ynode *n, const char *what, const char *const *names, int count, char ***v,
                  size_t *nv, struct diags *d)
{
	size_t items = n && n->type == Y_SEQ ? n->n : 1;
	int bad = 0;
	if (!n)
		return 1;
	if (n->type == Y_MAP)
		return fail(d, n, "%s must be a value or a list of values, not a mapping", what);
	if (items == 0)
		return fail(d, n, "%s: the list is empty", what);
	for (size_t i = 0; i < items; i++) {
		const struct ynode *it = n->type == Y_SEQ ? n->items[i] : n;
		const char *s = ytree_scalar(it, what, d);
		int k = -1;
		if (s && names && (k = find(s, names, count)) < 0)
			ytree_bad_value(it, what, s, names, count, NULL, d);
		if (!s || (names && k < 0)) {
			bad = 1;
			continue;
		}
		*v = xreallocarray(*v, *nv + 1, sizeof **v);
		(*v)[(*nv)++] = xstrdup(names ? names[k] : s);
	}
	return bad ? -1 : 0;
}

const struct ynode *ytree_map(const struct ynode *n, const char *what, const char *const *keys, struct diags *d)
{
	if (!n)
		return NULL;
	if (n->type != Y_MAP) {
		ytree_diag(d, 0, n, "%s must be a mapping, not %s", what, ytree_type_name(n->type));
		return NULL;
	}
	if (keys)
		ytree_check_keys(n, keys, what, d);
	return n;
}
