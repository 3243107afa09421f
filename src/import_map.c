/*
 * import_map: map files and the mapping of one row. A map is a list of targets, one per
 * column of ours it fills: from a source column (with a date format, a value table, a list
 * split), from a Mustache template over the source columns, derived from the email (the id),
 * or a default only; then the source columns it keeps as custom fields.
 */
#include "occasiond/import_map.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/model.h"
#include "occasiond/template.h"
#include "occasiond/ytree.h"

#define IMAP_MAX_TARGETS 512

enum tkind { TK_COLUMN, TK_TEMPLATE, TK_FROM_EMAIL, TK_DEFAULT, TK_KEEP };

struct target {
	char *field;            /* our column (standard or custom) */
	enum tkind kind;
	char *column;           /* TK_COLUMN, TK_KEEP: the source column's name */
	char **alts;            /* TK_COLUMN: other names it may go by (a list in the map: the first present) */
	size_t nalts;
	size_t col;             /* its index once bound */
	char *tmpl;             /* TK_TEMPLATE, its names encoded (name_encode) */
	char *tmpl_src;         /* as the map writes it */
	char *format;           /* a date format, or NULL */
	int is_date;            /* a date column (standard, or given a format) */
	char **vfrom, **vto;    /* the value table ("*": any other non-empty value) */
	size_t nvalues;
	char *split;            /* a list separator: the first item is taken */
	char *def;              /* the default when the value is empty */
	char *where;            /* "FILE:LINE:COL" of its map entry, for messages */
	struct strbuf val;      /* this row's value, when it is not the source's own */
};

struct imap {
	int identity;           /* no map file: the header is our names */
	int delimiter;
	char *encoding;
	struct target *t;
	size_t nt;
	int keep_all;
	int missing_skip;       /* missing: skip (presets): a mapped column the file lacks is left out */
	char **keep;            /* before binding: names in keep: */
	size_t nkeep;
	char *path;

	/* Bound */
	char **src;             /* the source header */
	size_t nsrc;
	int *used;              /* per source column: target index + 1 of its first use, or 0 */
	char **names;           /* our header, one per target */
	char **vals;
	size_t *lens;
	char *const *row;       /* the last source row */
	size_t rown;
	long email_target;      /* index of the target that gives email, or -1 */
};

static const char *const date_fields[] = {"birthday", "hire_date", "customer_since", "contract_renewal", NULL};

static int is_date_field(const char *f)
{
	for (int i = 0; date_fields[i]; i++)
		if (strcmp(f, date_fields[i]) == 0)
			return 1;
	return 0;
}

static void target_free(struct target *t)
{
	free(t->field);
	free(t->column);
	for (size_t i = 0; i < t->nalts; i++)
		free(t->alts[i]);
	free(t->alts);
	free(t->tmpl);
	free(t->tmpl_src);
	free(t->format);
	for (size_t i = 0; i < t->nvalues; i++) {
		free(t->vfrom[i]);
		free(t->vto[i]);
	}
	free(t->vfrom);
	free(t->vto);
	free(t->split);
	free(t->def);
	free(t->where);
	sb_free(&t->val);
}

void imap_free(struct imap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nt; i++)
		target_free(&m->t[i]);
	free(m->t);
	for (size_t i = 0; i < m->nkeep; i++)
		free(m->keep[i]);
	free(m->keep);
	for (size_t i = 0; i < m->nsrc; i++)
		free(m->src[i]);
	free(m->src);
	free(m->used);
	free(m->names);
	free(m->vals);
	free(m->lens);
	free(m->encoding);
	free(m->path);
	free(m);
}

struct imap *imap_identity(void)
{
	struct imap *m = xcalloc(1, sizeof *m);
	m->identity = 1;
	m->email_target = -1;
	return m;
}

int imap_delimiter(const struct imap *m)
{
	return m->delimiter;
}

const char *imap_encoding(const struct imap *m)
{
	return m->encoding;
}

static struct target *target_add(struct imap *m, const char *field)
{
	struct target *t;
	m->t = xreallocarray(m->t, m->nt + 1, sizeof *m->t);
	t = &m->t[m->nt++];
	memset(t, 0, sizeof *t);
	t->field = xstrdup(field);
	t->is_date = is_date_field(field);
	return t;
}

static struct target *target_find(struct imap *m, const char *field)
{
	for (size_t i = 0; i < m->nt; i++)
		if (strcmp(m->t[i].field, field) == 0)
			return &m->t[i];
	return NULL;
}

/* ---- names: ours, and how close another is ---- */

/* squash: lower-case letters and digits only ("E-mail Address" -> "emailaddress"). */
static void squash(const char *s, char *out, size_t size)
{
	size_t k = 0;
	for (; *s && k + 1 < size; s++)
		if (isalnum((unsigned char)*s))
			out[k++] = (char)tolower((unsigned char)*s);
	out[k] = '\0';
}

/* one_edit: a and b differ by one insertion, deletion, substitution or swap of neighbours. */
static int one_edit(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i = 0;
	if (strcmp(a, b) == 0)
		return 0;
	while (a[i] && a[i] == b[i])
		i++;
	if (la == lb) {
		if (strcmp(a + i + 1, b + i + 1) == 0)
			return 1;
		return a[i + 1] == b[i] && a[i] == b[i + 1] && strcmp(a + i + 2, b + i + 2) == 0;
	}
	if (la == lb + 1)
		return strcmp(a + i + 1, b + i) == 0;
	if (lb == la + 1)
		return strcmp(a + i, b + i + 1) == 0;
	return 0;
}

/*
 * our_name: the standard column a header means: exact (1), the same once case, spaces and
 * punctuation go (2), one typo away (3, *near set), or none (0).
 */
static int our_name(const char *h, int *field, const char **near)
{
	char sq[MODEL_MAX_COLUMN_NAME + 1], fs[64];
	int f = sh_field_lookup(h);
	*near = NULL;
	if (f >= 0) {
		*field = f;
		return 1;
	}
	squash(h, sq, sizeof sq);
	for (int i = 0; i < SH_NFIELDS; i++) {
		squash(sh_field_names[i], fs, sizeof fs);
		if (strcmp(sq, fs) == 0) {
			*field = i;
			return 2;
		}
	}
	if (strlen(sq) < 4)
		return 0;
	for (int i = 0; i < SH_NFIELDS; i++) {
		size_t ls = strlen(sq), lf;
		squash(sh_field_names[i], fs, sizeof fs);
		lf = strlen(fs);
		/* "city2", "title2": a number added is a column of its own, not a typo. */
		if (ls == lf + 1 && isdigit((unsigned char)sq[ls - 1]) && strncmp(sq, fs, lf) == 0)
			continue;
		if (one_edit(sq, fs)) {
			*field = i;
			*near = sh_field_names[i];
			return 3;
		}
	}
	return 0;
}

/* ---- loading a map file ---- */

static const char *scalar_of(const struct ynode *n, const char *what, struct diags *d)
{
	if (!n || n->type != Y_SCALAR) {
		if (n)
			ytree_diag(d, 0, n, "%s must be a text, not %s", what, ytree_type_name(n->type));
		return NULL;
	}
	return n->value;
}

static char *where_of(const struct ynode *n)
{
	return xasprintf("%s:%ld:%ld", n->file, n->line, n->col);
}

/* valid_field: a name we can store ([a-z0-9_], or any custom name that model.c takes). */
static int check_field(const char *f, const struct ynode *key, struct diags *d)
{
	const char *near;
	int fi;
	if (!*f || strlen(f) > MODEL_MAX_COLUMN_NAME || util_has_ctl(f, "")) {
		ytree_diag(d, 0, key, "'%.64s' is not a column name", f);
		return -1;
	}
	if (our_name(f, &fi, &near) == 3) {
		ytree_diag(d, 0, key, "'%.64s' is one letter from our column '%s' (a custom field would be "
		           "spelt differently)", f, near);
		return -1;
	}
	if (our_name(f, &fi, &near) == 2) {
		ytree_diag(d, 0, key, "our columns are spelt '%s', not '%.64s'", sh_field_names[fi], f);
		return -1;
	}
	return 0;
}

static int load_values(struct target *t, const struct ynode *v, struct diags *d)
{
	if (v->type != Y_MAP) {
		ytree_diag(d, 0, v, "values must be a mapping (source value: our value, \"*\": any other)");
		return -1;
	}
	t->vfrom = xcalloc(v->n, sizeof *t->vfrom);
	t->vto = xcalloc(v->n, sizeof *t->vto);
	for (size_t i = 0; i < v->n; i++) {
		const char *to = scalar_of(v->items[i], "a value", d);
		if (!to)
			return -1;
		t->vfrom[i] = xstrdup(v->keys[i]->value);
		t->vto[i] = xstrdup(to);
		t->nvalues++;
	}
	return 0;
}

/* load_alts: a list of names for one column (exports of several versions): the first present is used. */
static int load_alts(struct target *t, const struct ynode *v, struct diags *d)
{
	if (v->n == 0) {
		ytree_diag(d, 0, v, "an empty list of columns");
		return -1;
	}
	t->kind = TK_COLUMN;
	t->alts = xcalloc(v->n, sizeof *t->alts);
	for (size_t i = 0; i < v->n; i++) {
		const char *s = scalar_of(v->items[i], "a column", d);
		if (!s)
			return -1;
		t->alts[t->nalts++] = xstrdup(s);
	}
	t->column = xstrdup(t->alts[0]);
	return 0;
}

/*
 * Source columns are named as their system names them ("Given Name", "N.given"), but a
 * Mustache name holds no space and a dot is a path: in a map's template both are written as
 * they are and stand for bytes no column name holds (0x01, 0x02), in the tags and in the
 * row's context alike.
 */
static void name_encode(const char *s, size_t n, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++)
		sb_addc(out, s[i] == ' ' ? '\x01' : s[i] == '.' ? '\x02' : s[i]);
}

/* tmpl_encode: the template with its tag names encoded (the default delimiters only). */
static char *tmpl_encode(const char *t)
{
	struct strbuf sb = {0};
	const char *p = t;
	for (;;) {
		const char *o = strstr(p, "{{"), *c, *a, *b;
		if (!o) {
			sb_adds(&sb, p);
			break;
		}
		sb_addn(&sb, p, (size_t)(o - p) + 2);
		a = o + 2;
		if (*a == '{')
			a++;
		c = strstr(a, "}}");
		if (!c || *a == '!' || *a == '=') {
			p = a;
			sb_addn(&sb, o + 2, (size_t)(a - (o + 2)));
			continue;
		}
		sb_addn(&sb, o + 2, (size_t)(a - (o + 2)));
		/* The sigil and the white space around the name stay as they are. */
		if (strchr("#^/&>", *a) && *a)
			sb_addc(&sb, *a++);
		while (a < c && (*a == ' ' || *a == '\t'))
			sb_addc(&sb, *a++);
		b = c;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '}'))
			b--;
		name_encode(a, (size_t)(b - a), &sb);
		sb_addn(&sb, b, (size_t)(c - b));
		p = c;
	}
	return sb_detach(&sb);
}

static int load_column(struct imap *m, const char *field, const struct ynode *key, const struct ynode *v,
                       struct diags *d)
{
	static const char *const keys[] = {"column", "template", "format", "values", "split", "default", "from", NULL};
	struct target *t;
	const struct ynode *x;
	const char *s;

	if (target_find(m, field)) {
		ytree_diag(d, 0, key, "column '%.64s' is mapped twice", field);
		return -1;
	}
	if (m->nt >= IMAP_MAX_TARGETS) {
		ytree_diag(d, 0, key, "more than %d columns", IMAP_MAX_TARGETS);
		return -1;
	}
	t = target_add(m, field);
	t->where = where_of(v);
	if (v->type == Y_SCALAR) {
		t->kind = TK_COLUMN;
		t->column = xstrdup(v->value);
		return 0;
	}
	if (v->type == Y_SEQ)
		return load_alts(t, v, d);
	if (v->type != Y_MAP) {
		ytree_diag(d, 0, v, "a column is a source column's name or a mapping, not %s", ytree_type_name(v->type));
		return -1;
	}
	if (ytree_check_keys(v, keys, "a column", d))
		return -1;
	if ((x = ytree_get(v, "from"))) {
		if (!(s = scalar_of(x, "from", d)))
			return -1;
		if (strcmp(field, "id") != 0 || strcmp(s, "email") != 0) {
			ytree_diag(d, 0, x, "only the id may be derived, and only from the email: id: {from: email}");
			return -1;
		}
		t->kind = TK_FROM_EMAIL;
	}
	if ((x = ytree_get(v, "column"))) {
		if (x->type == Y_SEQ) {
			if (load_alts(t, x, d) < 0)
				return -1;
		} else {
			if (!(s = scalar_of(x, "column", d)))
				return -1;
			t->kind = TK_COLUMN;
			t->column = xstrdup(s);
		}
	}
	if ((x = ytree_get(v, "template"))) {
		char err[ERR_LEN];
		if (!(s = scalar_of(x, "template", d)))
			return -1;
		if (t->column) {
			ytree_diag(d, 0, x, "a column comes from a column or a template, not both");
			return -1;
		}
		t->kind = TK_TEMPLATE;
		t->tmpl = tmpl_encode(s);
		t->tmpl_src = xstrdup(s);
		if (template_check(t->tmpl, err) != 0) {
			ytree_diag(d, 0, x, "template: %s", err);
			return -1;
		}
	}
	if (!ytree_get(v, "column") && !ytree_get(v, "template") && !ytree_get(v, "from")) {
		if (!ytree_get(v, "default")) {
			ytree_diag(d, 0, v, "column '%.64s' needs column:, template: or default:", field);
			return -1;
		}
		t->kind = TK_DEFAULT;
	}
	if ((x = ytree_get(v, "format"))) {
		char err[ERR_LEN];
		struct strbuf probe = {0};
		if (!(s = scalar_of(x, "format", d)))
			return -1;
		/* A format without a day, a month or with letters other than Y M D cannot work. */
		if (!strstr(s, "M") || !strstr(s, "D") || strspn(s, "YMD -./,T:") != strlen(s)) {
			ytree_diag(d, 0, x, "format '%.64s': a date format is made of YYYY (or YY), MM or M, DD or D "
			           "and separators", s);
			return -1;
		}
		(void)imap_convert_date("", s, &probe, err);
		sb_free(&probe);
		t->format = xstrdup(s);
		t->is_date = 1;
	}
	if ((x = ytree_get(v, "values")) && load_values(t, x, d) < 0)
		return -1;
	if ((x = ytree_get(v, "split"))) {
		if (!(s = scalar_of(x, "split", d)))
			return -1;
		if (!*s) {
			ytree_diag(d, 0, x, "split: an empty separator");
			return -1;
		}
		t->split = xstrdup(s);
	}
	if ((x = ytree_get(v, "default"))) {
		if (!(s = scalar_of(x, "default", d)))
			return -1;
		t->def = xstrdup(s);
	}
	return 0;
}

static int load_tree(const char *path, struct ynode *root, struct imap **out, struct diags *d)
{
	static const char *const top[] = {"delimiter", "encoding", "id", "columns", "keep", "defaults", "missing",
	                                  NULL};
	const struct ynode *x;
	struct imap *m;
	size_t before = d->nerrors;

	*out = NULL;
	m = imap_identity();
	m->identity = 0;
	m->path = xstrdup(path);
	if (root->type != Y_MAP) {
		ytree_diag(d, 0, root, "a map file is a mapping (id, columns, keep, defaults)");
		goto out;
	}
	ytree_check_keys(root, top, "a map file", d);
	if ((x = ytree_get(root, "delimiter"))) {
		const char *s = scalar_of(x, "delimiter", d);
		if (s && strcmp(s, "\\t") == 0)
			s = "\t";
		if (s && (strlen(s) != 1 || !strchr(",;\t|", s[0])))
			ytree_diag(d, 0, x, "delimiter is \",\", \";\", \"\\t\" or \"|\"");
		else if (s)
			m->delimiter = s[0];
	}
	if ((x = ytree_get(root, "missing"))) {
		const char *s = scalar_of(x, "missing", d);
		if (s && strcmp(s, "skip") == 0)
			m->missing_skip = 1;
		else if (s && strcmp(s, "error") != 0)
			ytree_diag(d, 0, x, "missing is error (a mapped column the file lacks is an error) or skip");
	}
	if ((x = ytree_get(root, "encoding"))) {
		const char *s = scalar_of(x, "encoding", d);
		if (s)
			m->encoding = xstrdup(s);
	}
	if ((x = ytree_get(root, "id")))
		load_column(m, "id", ytree_key(root, "id"), x, d);
	if ((x = ytree_get(root, "columns"))) {
		if (x->type != Y_MAP)
			ytree_diag(d, 0, x, "columns is a mapping (our column: source column)");
		for (size_t i = 0; x->type == Y_MAP && i < x->n; i++) {
			const char *f = x->keys[i]->value;
			if (check_field(f, x->keys[i], d) < 0)
				continue;
			if (strcmp(f, "id") == 0 && ytree_get(root, "id")) {
				ytree_diag(d, 0, x->keys[i], "the id is given twice (id: and columns: id)");
				continue;
			}
			load_column(m, f, x->keys[i], x->items[i], d);
		}
	}
	if ((x = ytree_get(root, "keep"))) {
		if (x->type == Y_SCALAR && strcmp(x->value, "all") == 0) {
			m->keep_all = 1;
		} else if (x->type == Y_SEQ) {
			for (size_t i = 0; i < x->n; i++) {
				const char *s = scalar_of(x->items[i], "a kept column", d);
				if (!s)
					continue;
				m->keep = xreallocarray(m->keep, m->nkeep + 1, sizeof *m->keep);
				m->keep[m->nkeep++] = xstrdup(s);
			}
		} else {
			ytree_diag(d, 0, x, "keep is a list of source columns, or all");
		}
	}
	if ((x = ytree_get(root, "defaults"))) {
		if (x->type != Y_MAP)
			ytree_diag(d, 0, x, "defaults is a mapping (our column: value)");
		for (size_t i = 0; x->type == Y_MAP && i < x->n; i++) {
			const char *f = x->keys[i]->value, *v = scalar_of(x->items[i], "a default", d);
			struct target *t;
			if (!v || check_field(f, x->keys[i], d) < 0)
				continue;
			if (!(t = target_find(m, f))) {
				t = target_add(m, f);
				t->kind = TK_DEFAULT;
				t->where = where_of(x->items[i]);
			}
			free(t->def);
			t->def = xstrdup(v);
		}
	}
out:
	if (d->nerrors != before) {
		imap_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int imap_load(const char *path, struct imap **out, struct diags *d)
{
	struct ynode *root = NULL;
	char err[ERR_LEN];
	int rc;
	*out = NULL;
	if (ytree_load_file(path, &root, err) != 0) {
		diags_add(d, 0, "%s", err);
		return -1;
	}
	rc = load_tree(path, root, out, d);
	ytree_free(root);
	return rc;
}

int imap_load_mem(const char *name, const char *text, struct imap **out, struct diags *d)
{
	struct ynode *root = NULL;
	char err[ERR_LEN];
	int rc;
	*out = NULL;
	if (ytree_load_mem(name, text, strlen(text), &root, err) != 0) {
		diags_add(d, 0, "%s", err);
		return -1;
	}
	rc = load_tree(name, root, out, d);
	ytree_free(root);
	return rc;
}

struct imap *imap_with_base(struct imap *m, struct imap *base)
{
	if (!m)
		return base;
	for (size_t i = 0; i < base->nt; i++) {
		if (target_find(m, base->t[i].field))
			continue;
		m->t = xreallocarray(m->t, m->nt + 1, sizeof *m->t);
		m->t[m->nt++] = base->t[i];
		memset(&base->t[i], 0, sizeof base->t[i]);
		base->t[i].field = xstrdup("");
	}
	for (size_t k = 0; k < base->nkeep; k++) {
		int have = 0;
		for (size_t j = 0; j < m->nkeep; j++)
			have |= strcmp(m->keep[j], base->keep[k]) == 0;
		if (have || target_find(m, base->keep[k]))
			continue;
		m->keep = xreallocarray(m->keep, m->nkeep + 1, sizeof *m->keep);
		m->keep[m->nkeep++] = xstrdup(base->keep[k]);
	}
	imap_free(base);
	return m;
}

/* ---- binding to a header ---- */

static long src_find(const struct imap *m, const char *name)
{
	for (size_t i = 0; i < m->nsrc; i++)
		if (strcmp(m->src[i], name) == 0)
			return (long)i;
	/* Exports differ in case and spacing between versions: take a single close match. */
	for (size_t i = 0; i < m->nsrc; i++)
		if (util_strcaseeq(m->src[i], name))
			return (long)i;
	return -1;
}

static void columns_list(const struct imap *m, char *buf, size_t size)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < m->nsrc && sb.len < 300; i++)
		sb_addf(&sb, "%s\"%.40s\"", i ? ", " : "", m->src[i]);
	if (sb.len >= 300)
		sb_adds(&sb, ", ...");
	util_strlcpy(buf, sb.s ? sb.s : "", size);
	sb_free(&sb);
}

static int bind_identity(struct imap *m, const char *file, long line, struct diags *d)
{
	size_t before = d->nerrors;
	for (size_t i = 0; i < m->nsrc; i++) {
		const char *near;
		int f, how = our_name(m->src[i], &f, &near);
		struct target *t;
		if (how == 3) {
			diags_add(d, 0, "%s:%ld: error: column \"%.64s\" is one letter from our column %s: rename it "
			          "(or map it with --map)", file, line, m->src[i], near);
			continue;
		}
		if (how == 2 && target_find(m, sh_field_names[f])) {
			diags_add(d, 0, "%s:%ld: error: columns \"%.64s\" and %s are the same column", file, line,
			          m->src[i], sh_field_names[f]);
			continue;
		}
		if (how == 2)
			diags_add(d, 1, "%s:%ld: note: column \"%.64s\" taken as %s", file, line, m->src[i],
			          sh_field_names[f]);
		t = target_add(m, how ? sh_field_names[f] : m->src[i]);
		t->kind = how ? TK_COLUMN : TK_KEEP;
		t->is_date = 0;   /* our own columns: model.c reads the dates as they are */
		t->column = xstrdup(m->src[i]);
		t->col = i;
		m->used[i] = (int)m->nt;
	}
	return d->nerrors == before ? 0 : -1;
}

int imap_bind(struct imap *m, char *const *header, size_t n, const char *file, long line, struct diags *d)
{
	size_t before = d->nerrors, nmapped;
	char cols[400];

	m->src = xcalloc(n ? n : 1, sizeof *m->src);
	m->nsrc = n;
	for (size_t i = 0; i < n; i++) {
		m->src[i] = xstrdup(header[i]);
		util_trim(m->src[i]);
	}
	m->used = xcalloc(n ? n : 1, sizeof *m->used);
	if (m->identity) {
		if (bind_identity(m, file, line, d) < 0)
			return -1;
		goto names;
	}
	columns_list(m, cols, sizeof cols);
	for (size_t i = 0; i < m->nt; i++) {
		struct target *t = &m->t[i];
		long c;
		if (t->kind != TK_COLUMN)
			continue;
		c = src_find(m, t->column);
		for (size_t k = 1; c < 0 && k < t->nalts; k++)
			if ((c = src_find(m, t->alts[k])) >= 0) {
				free(t->column);
				t->column = xstrdup(t->alts[k]);
			}
		if (c < 0 && m->missing_skip && strcmp(t->field, "id") != 0 && strcmp(t->field, "first_name") != 0) {
			/* An export holds the properties the user picked: what it lacks stays as stored. */
			target_free(t);
			memmove(t, t + 1, (m->nt - i - 1) * sizeof *t);
			m->nt--;
			i--;
			continue;
		}
		if (c < 0) {
			diags_add(d, 0, "%s: error: column \"%.64s\" is not in %s (its columns: %s)", t->where, t->column,
			          file, cols);
			continue;
		}
		t->col = (size_t)c;
		if (!m->used[c])
			m->used[c] = (int)i + 1;
	}
	if (!target_find(m, "id"))
		diags_add(d, 0, "%s: error: the map says nothing of the id (id: \"COLUMN\" or id: {from: email})", m->path);
	if (!target_find(m, "first_name"))
		diags_add(d, 0, "%s: error: the map gives no first_name (columns: first_name: \"COLUMN\")", m->path);
	if (d->nerrors != before)
		return -1;
	nmapped = m->nt;
	for (size_t k = 0; k < m->nkeep; k++) {
		long c = src_find(m, m->keep[k]);
		struct target *t;
		if (c < 0) {
			diags_add(d, 0, "%s: error: kept column \"%.64s\" is not in %s (its columns: %s)", m->path,
			          m->keep[k], file, cols);
			continue;
		}
		t = target_add(m, m->src[c]);
		t->kind = TK_KEEP;
		t->column = xstrdup(m->src[c]);
		t->col = (size_t)c;
		m->used[c] = (int)m->nt;
	}
	for (size_t c = 0; m->keep_all && c < m->nsrc; c++) {
		struct target *t;
		if (m->used[c] || target_find(m, m->src[c]))
			continue;
		t = target_add(m, m->src[c]);
		t->kind = TK_KEEP;
		t->column = xstrdup(m->src[c]);
		t->col = c;
		m->used[c] = (int)m->nt;
	}
	/* A kept column whose name is one of ours would overwrite that column. */
	for (size_t i = nmapped; i < m->nt; i++) {
		int f;
		const char *near;
		if (our_name(m->t[i].field, &f, &near) && target_find(m, sh_field_names[f]) != &m->t[i] &&
		    target_find(m, sh_field_names[f])) {
			diags_add(d, 0, "%s: error: kept column \"%.64s\" is also our %s: map it or leave it out", m->path,
			          m->t[i].field, sh_field_names[f]);
		}
	}
	if (d->nerrors != before)
		return -1;
names:
	m->names = xcalloc(m->nt ? m->nt : 1, sizeof *m->names);
	m->vals = xcalloc(m->nt ? m->nt : 1, sizeof *m->vals);
	m->lens = xcalloc(m->nt ? m->nt : 1, sizeof *m->lens);
	m->email_target = -1;
	for (size_t i = 0; i < m->nt; i++) {
		m->names[i] = m->t[i].field;
		if (strcmp(m->t[i].field, "email") == 0)
			m->email_target = (long)i;
	}
	return 0;
}

char *const *imap_header(const struct imap *m, size_t *n)
{
	*n = m->nt;
	return m->names;
}

const char *imap_source_name(const struct imap *m, const char *field)
{
	const struct target *t = NULL;
	for (size_t i = 0; i < m->nt; i++)
		if (strcmp(m->t[i].field, field) == 0)
			t = &m->t[i];
	if (t && t->column)
		return t->column;
	return field;
}

/* ---- one row ---- */

/* digits: reads between min and max digits at *p. */
static int digits(const char **p, int min, int max, int *out)
{
	int n = 0, v = 0;
	while (n < max && isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*out = v;
	return n >= min ? 0 : -1;
}

/* time_rest: what may follow a date: nothing, or a time ("T10:00", " 09:30:00 AM", "Z"). */
static int time_rest(const char *p)
{
	if (!*p)
		return 1;
	if (*p != 'T' && *p != ' ')
		return 0;
	p++;
	while (*p == ' ')
		p++;
	return *p == '\0' || isdigit((unsigned char)*p);
}

int imap_convert_date(const char *v, const char *fmt, struct strbuf *out, char err[ERR_LEN])
{
	const char *p = v, *f = fmt ? fmt : "YYYY-MM-DD";
	int y = -1, mo = -1, d = -1, yy = 0;

	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	/* Outlook writes "0/0/00" for no date; others "00.00.0000". */
	if (strspn(p, "0") && p[strspn(p, "0/.- ")] == '\0')
		return 0;
	/* ISO's year-less date, whatever the format (Google writes "--02-14"). */
	if (p[0] == '-' && p[1] == '-') {
		if (digits(&(const char *){p + 2}, 2, 2, &mo) == 0 && p[4] == '-' && isdigit((unsigned char)p[5]) &&
		    isdigit((unsigned char)p[6]) && time_rest(p + 7)) {
			sb_addn(out, p, 7);
			return 0;
		}
		return err_set(err, "\"%.40s\" is not a date", v);
	}
	while (*f) {
		int n = 1, val;
		char c = *f;
		if (c == 'Y' || c == 'M' || c == 'D') {
			while (f[n] == c)
				n++;
			if (digits(&p, c == 'Y' ? (n >= 4 ? 4 : 2) : 1, c == 'Y' ? (n >= 4 ? 4 : 2) : 2, &val) < 0)
				goto bad;
			if (c == 'Y')
				y = val, yy = n < 4;
			else if (c == 'M')
				mo = val;
			else
				d = val;
			f += n;
			continue;
		}
		/* A separator in the format matches any one non-digit. */
		if (!*p || isdigit((unsigned char)*p))
			goto bad;
		p++;
		f++;
	}
	if (!time_rest(p))
		goto bad;
	/* Outlook writes "0/0/00" for no date; others "00.00.0000". */
	if (mo == 0 && d == 0 && y <= 0)
		return 0;
	if (yy)
		y += y < 70 ? 2000 : 1900;   /* two-digit years: 1970-2069 */
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		goto bad;
	if (y < 0)
		sb_addf(out, "--%02d-%02d", mo, d);
	else
		sb_addf(out, "%04d-%02d-%02d", y, mo, d);
	return 0;
bad:
	return err_set(err, "\"%.40s\" is not a date in the format %s", v, fmt ? fmt : "YYYY-MM-DD");
}

/* first_item: the first non-empty item of v split at sep, trimmed. */
static void first_item(const char *v, const char *sep, struct strbuf *out)
{
	size_t sl = strlen(sep);
	const char *p = v;
	for (;;) {
		const char *e = strstr(p, sep);
		size_t n = e ? (size_t)(e - p) : strlen(p);
		while (n && isspace((unsigned char)*p))
			p++, n--;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n || !e) {
			sb_addn(out, p, n);
			return;
		}
		p = e + sl;
	}
}

static int map_value(const struct target *t, const char *v, struct strbuf *out)
{
	const char *star = NULL;
	char tmp[MODEL_MAX_VALUE + 1];
	util_strlcpy(tmp, v, sizeof tmp);
	util_trim(tmp);
	for (size_t i = 0; i < t->nvalues; i++) {
		if (strcmp(t->vfrom[i], "*") == 0)
			star = t->vto[i];
		else if (util_strcaseeq(t->vfrom[i], tmp)) {
			sb_adds(out, t->vto[i]);
			return 0;
		}
	}
	sb_adds(out, *tmp && star ? star : tmp);
	return 0;
}

/* No partials in a map's templates: a map must not make the import read files. */
static int no_partial(void *ud, const char *name, char **text, char err[ERR_LEN])
{
	(void)ud;
	*text = NULL;
	return err_set(err, "partial {{>%.40s}}: a map's template reads only the row's columns", name);
}

static int render(struct imap *m, struct target *t, struct strbuf *out, char err[ERR_LEN])
{
	struct template_opts o = {.escape_html = 0, .empty_is_false = 1, .partial = no_partial};
	struct tval *ctx = tval_map();
	char terr[ERR_LEN];
	int rc;
	for (size_t i = 0; i < m->nsrc && i < m->rown; i++) {
		struct strbuf key = {0};
		name_encode(m->src[i], strlen(m->src[i]), &key);
		tval_map_set_str(ctx, key.s ? key.s : "", m->row[i]);
		sb_free(&key);
	}
	rc = template_render(t->tmpl, ctx, &o, out, terr);
	tval_free(ctx);
	if (rc != 0)
		return err_set(err, "column %s: template: %s", t->field, terr);
	if (out->s) {
		util_trim(out->s);
		out->len = strlen(out->s);
	}
	return 0;
}

/* derive_id: the email as an id when it is one, else "e-" and a hash of it: the same on every import. */
static void derive_id(const char *email, struct strbuf *out)
{
	uint64_t h = 1469598103934665603ull;
	size_t n = strlen(email);
	int plain = n > 0 && n <= 64;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)email[i]);
		if (!isalnum(c) && !strchr("._@-", c))
			plain = 0;
		h = (h ^ c) * 1099511628211ull;
	}
	if (plain) {
		for (size_t i = 0; i < n; i++)
			sb_addc(out, (char)tolower((unsigned char)email[i]));
	} else {
		sb_addf(out, "e-%016llx", (unsigned long long)h);
	}
}

int imap_row(struct imap *m, char *const *src, const size_t *lens, size_t n, char *const **values,
             const size_t **outlens, char err[ERR_LEN])
{
	char why[ERR_LEN];
	m->row = src;
	m->rown = n;
	if (n != m->nsrc)
		return err_set(err, "%zu field%s where the header has %zu", n, n == 1 ? "" : "s", m->nsrc);
	for (size_t i = 0; i < m->nt; i++) {
		struct target *t = &m->t[i];
		const char *v = "";
		size_t vl = 0;
		int own = 0;
		if (t->kind == TK_COLUMN || t->kind == TK_KEEP) {
			v = src[t->col];
			vl = lens ? lens[t->col] : strlen(v);
		}
		if (t->kind == TK_FROM_EMAIL)
			continue;   /* after the email */
		sb_reset(&t->val);
		if (t->kind == TK_TEMPLATE) {
			if (render(m, t, &t->val, err) < 0)
				return -1;
			own = 1;
		} else if (t->kind == TK_COLUMN) {
			if (t->split) {
				first_item(v, t->split, &t->val);
				v = t->val.s ? t->val.s : "";
				own = 1;
			}
			if (t->nvalues) {
				struct strbuf tmp = {0};
				map_value(t, v, &tmp);
				sb_reset(&t->val);
				sb_adds(&t->val, tmp.s ? tmp.s : "");
				sb_free(&tmp);
				own = 1;
			}
			if (t->is_date) {
				struct strbuf tmp = {0};
				if (imap_convert_date(own ? (t->val.s ? t->val.s : "") : v, t->format, &tmp, why) < 0) {
					sb_free(&tmp);
					return err_set(err, "column %s: %s", t->column, why);
				}
				sb_reset(&t->val);
				sb_adds(&t->val, tmp.s ? tmp.s : "");
				sb_free(&tmp);
				own = 1;
			}
		}
		if (t->def && (own ? t->val.len == 0 : vl == 0 || !*v)) {
			sb_reset(&t->val);
			sb_adds(&t->val, t->def);
			own = 1;
		}
		if (own) {
			if (!t->val.s)
				sb_adds(&t->val, "");
			m->vals[i] = t->val.s;
			m->lens[i] = t->val.len;
		} else {
			m->vals[i] = (char *)v;
			m->lens[i] = vl;
		}
	}
	for (size_t i = 0; i < m->nt; i++) {
		struct target *t = &m->t[i];
		char email[MODEL_MAX_VALUE + 1];
		if (t->kind != TK_FROM_EMAIL)
			continue;
		sb_reset(&t->val);
		if (m->email_target < 0 || !m->vals[m->email_target][0])
			return err_set(err, "column id: no email to derive the id from");
		util_strlcpy(email, m->vals[m->email_target], sizeof email);
		util_trim(email);
		derive_id(email, &t->val);
		m->vals[i] = t->val.s;
		m->lens[i] = t->val.len;
	}
	*values = m->vals;
	*outlens = m->lens;
	return 0;
}

/* ---- --dry-run ---- */

static void print_quoted(FILE *fp, const char *s, size_t max)
{
	size_t n = 0;
	fputc('"', fp);
	for (; *s && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputs(*s ? "...\"" : "\"", fp);
}

void imap_print_row(const struct imap *m, FILE *fp)
{
	for (size_t i = 0; i < m->nt; i++) {
		const struct target *t = &m->t[i];
		fprintf(fp, "  %-18s ", t->field);
		print_quoted(fp, m->vals[i] ? m->vals[i] : "", 60);
		switch (t->kind) {
		case TK_COLUMN:
			fputs("  <- ", fp);
			print_quoted(fp, t->column, 40);
			if (t->col < m->rown && strcmp(m->row[t->col], m->vals[i] ? m->vals[i] : "") != 0) {
				fputs(" ", fp);
				print_quoted(fp, m->row[t->col], 40);
			}
			if (t->format)
				fprintf(fp, " (%s)", t->format);
			break;
		case TK_KEEP:
			fputs("  <- kept ", fp);
			print_quoted(fp, t->column, 40);
			break;
		case TK_TEMPLATE:
			fputs("  <- template ", fp);
			print_quoted(fp, t->tmpl_src, 40);
			break;
		case TK_FROM_EMAIL:
			fputs("  <- derived from the email", fp);
			break;
		case TK_DEFAULT:
			fputs("  <- default", fp);
			break;
		}
		fputc('\n', fp);
	}
}

/* uses: the (encoded) template names the source column. */
static int uses(const char *tmpl, const char *col)
{
	struct strbuf key = {0};
	int found;
	name_encode(col, strlen(col), &key);
	found = key.s && strstr(tmpl, key.s) != NULL;
	sb_free(&key);
	return found;
}

void imap_print_columns(const struct imap *m, FILE *fp)
{
	for (size_t c = 0; c < m->nsrc; c++) {
		int any = 0;
		fputs("  ", fp);
		print_quoted(fp, m->src[c], 40);
		for (size_t i = 0; i < m->nt; i++) {
			const struct target *t = &m->t[i];
			if ((t->kind == TK_COLUMN || t->kind == TK_KEEP) && t->col == c) {
				fprintf(fp, any ? ", %s%s" : " -> %s%s", t->kind == TK_KEEP ? "kept as custom field " : "", t->field);
				any = 1;
			}
			if (t->kind == TK_TEMPLATE && uses(t->tmpl, m->src[c])) {
				fprintf(fp, any ? ", %s (template)" : " -> %s (template)", t->field);
				any = 1;
			}
		}
		if (!any)
			fputs(" ignored", fp);
		fputc('\n', fp);
	}
}
