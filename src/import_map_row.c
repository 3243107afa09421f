/*
 * import_map_row: applying a loaded map (import_map.c) to an export. Binding it to the
 * source's header (or, without a map file, taking the header as our names), then each row:
 * date conversion, value tables, list splits, templates, the id derived from the email; and
 * the --dry-run listings. Split from import_map.c along this seam to keep each part small; it
 * uses import_map.c's internals (import_map_int.h), never the reverse.
 */
#include "import_map_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/model.h"
#include "occasiond/template.h"

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
		int f, how = imap_our_name(m->src[i], &f, &near);
		struct target *t;
		if (how == 3) {
			diags_add(d, 0, "%s:%ld: error: column \"%.64s\" is one letter from our column %s: rename it "
			          "(or map it with --map)", file, line, m->src[i], near);
			continue;
		}
		if (how == 2 && imap_target_find(m, sh_field_names[f])) {
			diags_add(d, 0, "%s:%ld: error: columns \"%.64s\" and %s are the same column", file, line,
			          m->src[i], sh_field_names[f]);
			continue;
		}
		if (how == 2)
			diags_add(d, 1, "%s:%ld: note: column \"%.64s\" taken as %s", file, line, m->src[i],
			          sh_field_names[f]);
		t = imap_target_add(m, how ? sh_field_names[f] : m->src[i]);
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
			imap_target_free(t);
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
	if (!imap_target_find(m, "id"))
		diags_add(d, 0, "%s: error: the map says nothing of the id (id: \"COLUMN\" or id: {from: email})", m->path);
	if (!imap_target_find(m, "first_name"))
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
		t = imap_target_add(m, m->src[c]);
		t->kind = TK_KEEP;
		t->column = xstrdup(m->src[c]);
		t->col = (size_t)c;
		m->used[c] = (int)m->nt;
	}
	for (size_t c = 0; m->keep_all && c < m->nsrc; c++) {
		struct target *t;
		if (m->used[c] || imap_target_find(m, m->src[c]))
			continue;
		t = imap_target_add(m, m->src[c]);
		t->kind = TK_KEEP;
		t->column = xstrdup(m->src[c]);
		t->col = c;
		m->used[c] = (int)m->nt;
	}
	/* A kept column whose name is one of ours would overwrite that column. */
	for (size_t i = nmapped; i < m->nt; i++) {
		int f;
		const char *near;
		if (imap_our_name(m->t[i].field, &f, &near) && imap_target_find(m, sh_field_names[f]) != &m->t[i] &&
		    imap_target_find(m, sh_field_names[f])) {
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
		imap_name_encode(m->src[i], strlen(m->src[i]), &key);
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
	imap_name_encode(col, strlen(col), &key);
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
