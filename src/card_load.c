/*
 * card_load: the helpers of the .card.yaml loader (card_tmpl.c): checked scalars, numbers,
 * colours, boxes and choices that report FILE:LINE:COL, and fonts and images tried in the
 * loader's scratch libharu document.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_int.h"
#include "occasiond/ytree.h"

void ld_bad(struct loader *L, const struct ynode *n, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	ytree_diag(L->d, 0, n, "%s", sb.s);
	sb_free(&sb);
	L->errors++;
}

char *ld_where_of(const struct ynode *n)
{
	return xasprintf("%s:%ld:%ld", n->file ? n->file : "?", n->line, n->col);
}

int ld_check_keys(struct loader *L, const struct ynode *map, const char *const *allowed, const char *what)
{
	int n = ytree_check_keys(map, allowed, what, L->d);
	L->errors += n;
	return n;
}

/* The ld_ getters are ytree's, counting each problem in L->errors. */
static int counted(struct loader *L, size_t before, int rc)
{
	L->errors += (int)(L->d->nerrors - before);
	return rc;
}

const char *ld_scalar(struct loader *L, const struct ynode *n, const char *what)
{
	size_t before = L->d->nerrors;
	const char *s = ytree_scalar(n, what, L->d);
	counted(L, before, 0);
	return s;
}

const char *ld_text(struct loader *L, const struct ynode *n, const char *what)
{
	size_t before = L->d->nerrors;
	const char *s = ytree_text(n, what, L->d);
	counted(L, before, 0);
	return s;
}

int ld_num(struct loader *L, const struct ynode *n, const char *what, double lo, double hi, double *out)
{
	size_t before = L->d->nerrors;
	return counted(L, before, ytree_number(n, what, lo, hi, out, L->d) == 0 ? 0 : -1);
}

static int parse_colour(const char *s, struct rgb *c)
{
	unsigned v = 0;
	if (!s || s[0] != '#' || strlen(s) != 7)
		return -1;
	for (int i = 1; i < 7; i++) {
		int ch = s[i], d;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			return -1;
		v = v << 4 | (unsigned)d;
	}
	c->r = (double)(v >> 16 & 0xFF) / 255.0;
	c->g = (double)(v >> 8 & 0xFF) / 255.0;
	c->b = (double)(v & 0xFF) / 255.0;
	return 0;
}

int ld_colour(struct loader *L, const struct ynode *n, const char *what, struct rgb *c)
{
	const char *s = ld_scalar(L, n, what);
	if (!s)
		return -1;
	if (parse_colour(s, c) != 0) {
		ld_bad(L, n, "%s must be a colour written \"#RRGGBB\" (quoted in YAML), not '%s'", what, s);
		return -1;
	}
	return 0;
}

int ld_choice(struct loader *L, const struct ynode *n, const char *what, const char *const *names, int *out)
{
	size_t before = L->d->nerrors;
	int count = 0;
	while (names[count])
		count++;
	return counted(L, before, ytree_enum(n, what, names, count, NULL, out, L->d) == 0 ? 0 : -1);
}

/* numbers: a list of exactly count numbers (or 1..count when min < count). */
int ld_numbers(struct loader *L, const struct ynode *n, const char *what, size_t min, size_t count,
                   double lo, double hi, double *out)
{
	if (n->type != Y_SEQ || n->n < min || n->n > count) {
		if (min == count)
			ld_bad(L, n, "%s must be a list of %zu numbers", what, count);
		else
			ld_bad(L, n, "%s must be a list of %zu to %zu numbers", what, min, count);
		return -1;
	}
	for (size_t i = 0; i < n->n; i++)
		if (ld_num(L, n->items[i], what, lo, hi, &out[i]) != 0)
			return -1;
	return (int)n->n;
}

/* box: [x, y, w, h] in mm inside the page, or inside the margins when inner. */
int ld_box(struct loader *L, const struct ynode *n, const char *what, int inner, double out[4])
{
	const struct card_template *t = L->t;
	double x0 = 0, y0 = 0, x1 = t->w_mm, y1 = t->h_mm;

	if (ld_numbers(L, n, what, 4, 4, -1e4, 1e4, out) < 0)
		return -1;
	if (out[2] <= 0 || out[3] <= 0) {
		ld_bad(L, n, "%s: width and height must be positive", what);
		return -1;
	}
	if (inner) {
		x0 = t->margin[3], y0 = t->margin[0];
		x1 = t->w_mm - t->margin[1], y1 = t->h_mm - t->margin[2];
	}
	if (out[0] < x0 - EPS_MM || out[1] < y0 - EPS_MM || out[0] + out[2] > x1 + EPS_MM ||
	    out[1] + out[3] > y1 + EPS_MM) {
		ld_bad(L, n, "%s [%g, %g, %g, %g] lies outside the %s (x %g..%g, y %g..%g mm)", what,
		    out[0], out[1], out[2], out[3], inner ? "margins" : "page", x0, x1, y0, y1);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ fonts and images */

static int font_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 5 || n > 128 || s[0] == '.' || strstr(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return util_strcaseeq(s + n - 4, ".ttf") || util_strcaseeq(s + n - 4, ".otf") || util_strcaseeq(s + n - 4, ".ttc");
}

/* font_index: loads font name (once per template) and returns its index, or -1. */
long ld_font_index(struct loader *L, const struct ynode *n)
{
	struct card_template *t = L->t;
	const char *name = ld_scalar(L, n, "a font");
	char err[ERR_LEN];
	struct cardfont *cf = NULL;
	char *path;

	if (!name)
		return -1;
	for (size_t i = 0; i < t->nfonts; i++)
		if (strcmp(t->fonts[i].name, name) == 0)
			return (long)i;
	if (!font_name_ok(name)) {
		ld_bad(L, n, "font '%s' must be a plain file name ending in .ttf, .otf or .ttc (no '/' or '..')", name);
		return -1;
	}
	path = util_path_join(L->fonts_dir, name);
	if (!util_file_exists(path)) {
		ld_bad(L, n, "font '%s' not found in %s", name, L->fonts_dir);
		free(path);
		return -1;
	}
	/* A collection gives its first face, as fontconfig lists it first. */
	if (cardfont_load(path, 0, &cf, err) != 0) {
		ld_bad(L, n, "font '%s': %s", name, err);
		free(path);
		return -1;
	}
	t->fonts = xreallocarray(t->fonts, t->nfonts + 1, sizeof *t->fonts);
	t->fonts[t->nfonts].name = xstrdup(name);
	t->fonts[t->nfonts].path = path;
	t->fonts[t->nfonts].cf = cf;
	return (long)t->nfonts++;
}

int ld_image_path_ok(const char *s)
{
	const char *p = s;
	if (!*s || *s == '/' || strchr(s, '\\') || util_has_ctl(s, NULL) || strlen(s) > 1024)
		return 0;
	while (*p) {                /* no empty, "." or ".." component */
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return s[strlen(s) - 1] != '/';
}

/* image_kind: 0 PNG, 1 JPEG, -1 neither (by the first bytes of the file). */
int ld_image_kind(const char *path)
{
	unsigned char b[8] = {0};
	FILE *fp = fopen(path, "rb");
	size_t n;
	if (!fp)
		return -2;
	n = fread(b, 1, sizeof b, fp);
	fclose(fp);
	if (n == 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return 0;
	if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
		return 1;
	return -1;
}

