/*
 * import_map: loading map files. A map is a list of targets, one per column of ours it fills:
 * from a source column (with a date format, a value table, a list split), from a Mustache
 * template over the source columns, derived from the email (the id), or a default only; then
 * the source columns it keeps as custom fields. This file reads a map file (or none: the
 * identity map) into a struct imap and owns how a name is matched to ours; applying a bound
 * map to rows is import_map_row.c's, kept apart to keep each part small. Shared types are in
 * import_map_int.h.
 */
#include "import_map_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/model.h"
#include "occasiond/template.h"
#include "occasiond/ytree.h"

#define IMAP_MAX_TARGETS 512

static const char *const date_fields[] = {"birthday", "hire_date", "customer_since", "contract_renewal", NULL};

static int is_date_field(const char *f)
{
	for (int i = 0; date_fields[i]; i++)
		if (strcmp(f, date_fields[i]) == 0)
			return 1;
	return 0;
}

void imap_target_free(struct target *t)
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
		imap_target_free(&m->t[i]);
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

struct target *imap_target_add(struct imap *m, const char *field)
{
	struct target *t;
	m->t = xreallocarray(m->t, m->nt + 1, sizeof *m->t);
	t = &m->t[m->nt++];
	memset(t, 0, sizeof *t);
	t->field = xstrdup(field);
	t->is_date = is_date_field(field);
	return t;
}

struct target *imap_target_find(struct imap *m, const char *field)
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
 * imap_our_name: the standard column a header means: exact (1), the same once case, spaces and
 * punctuation go (2), one typo away (3, *near set), or none (0).
 */
int imap_our_name(const char *h, int *field, const char **near)
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
	if (imap_our_name(f, &fi, &near) == 3) {
		ytree_diag(d, 0, key, "'%.64s' is one letter from our column '%s' (a custom field would be "
		           "spelt differently)", f, near);
		return -1;
	}
	if (imap_our_name(f, &fi, &near) == 2) {
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
void imap_name_encode(const char *s, size_t n, struct strbuf *out)
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
		imap_name_encode(a, (size_t)(b - a), &sb);
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

	if (imap_target_find(m, field)) {
		ytree_diag(d, 0, key, "column '%.64s' is mapped twice", field);
		return -1;
	}
	if (m->nt >= IMAP_MAX_TARGETS) {
		ytree_diag(d, 0, key, "more than %d columns", IMAP_MAX_TARGETS);
		return -1;
	}
	t = imap_target_add(m, field);
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
		if (!(s = scalar_of(x, "format", d)))
			return -1;
		/* A format without a day, a month or with letters other than Y M D cannot work. */
		if (!strstr(s, "M") || !strstr(s, "D") || strspn(s, "YMD -./,T:") != strlen(s)) {
			ytree_diag(d, 0, x, "format '%.64s': a date format is made of YYYY (or YY), MM or M, DD or D "
			           "and separators", s);
			return -1;
		}
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
			if (!(t = imap_target_find(m, f))) {
				t = imap_target_add(m, f);
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
		if (imap_target_find(m, base->t[i].field))
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
		if (have || imap_target_find(m, base->keep[k]))
			continue;
		m->keep = xreallocarray(m->keep, m->nkeep + 1, sizeof *m->keep);
		m->keep[m->nkeep++] = xstrdup(base->keep[k]);
	}
	imap_free(base);
	return m;
}
