/*
 * card_tmpl: the .card.yaml loader: page geometry (flat or folded), styles and the elements.
 * Every key is checked and every problem reported as FILE:LINE:COL (helpers in card_load.c).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_int.h"
#include "occasiond/ytree.h"

/* ------------------------------------------------------------------ styles */

struct style_in {           /* a style as written: which fields were given */
	struct style st;
	int have_fonts, have_size, have_min, have_ls, have_lsp, have_colour, have_align, have_valign;
};

static const char *const align_names[] = {"left", "center", "right", NULL};
static const char *const valign_names[] = {"top", "middle", "bottom", NULL};
#define STYLE_KEYS "fonts", "size", "min_size", "colour", "align", "valign", "line_spacing", "letter_spacing"

static void parse_fonts(struct loader *L, const struct ynode *n, struct style_in *s)
{
	if (n->type == Y_SCALAR) {
		long i = ld_font_index(L, n);
		if (i >= 0) {
			s->st.font[0] = (size_t)i;
			s->st.nfonts = 1;
			s->have_fonts = 1;
		}
	} else if (n->type != Y_SEQ || n->n == 0 || n->n > CARD_MAX_FONTS) {
		ld_bad(L, n, "fonts must be a list of 1 to %d font file names, tried in order for each character",
		    CARD_MAX_FONTS);
	} else {
		int ok = 1;
		s->st.nfonts = 0;
		for (size_t i = 0; i < n->n; i++) {
			long fi = ld_font_index(L, n->items[i]);
			if (fi < 0)
				ok = 0;
			else
				s->st.font[s->st.nfonts++] = (size_t)fi;
		}
		s->have_fonts = ok;
	}
}

static void parse_style(struct loader *L, const struct ynode *map, struct style_in *s)
{
	const struct ynode *n;
	int v;

	if ((n = ytree_get(map, "fonts")))
		parse_fonts(L, n, s);
	if ((n = ytree_get(map, "size")) && ld_num(L, n, "size (pt)", 2, 300, &s->st.size) == 0)
		s->have_size = 1;
	if ((n = ytree_get(map, "min_size")) && ld_num(L, n, "min_size (pt)", 2, 300, &s->st.min_size) == 0)
		s->have_min = 1;
	if ((n = ytree_get(map, "line_spacing")) &&
	    ld_num(L, n, "line_spacing (times the size)", 0.5, 4, &s->st.line_spacing) == 0)
		s->have_ls = 1;
	if ((n = ytree_get(map, "letter_spacing")) &&
	    ld_num(L, n, "letter_spacing (em)", -0.2, 2, &s->st.letter_spacing) == 0)
		s->have_lsp = 1;
	if ((n = ytree_get(map, "colour")) && ld_colour(L, n, "colour", &s->st.colour) == 0)
		s->have_colour = 1;
	if ((n = ytree_get(map, "align")) && ld_choice(L, n, "align", align_names, &v) == 0)
		s->st.align = (enum align)v, s->have_align = 1;
	if ((n = ytree_get(map, "valign")) && ld_choice(L, n, "valign", valign_names, &v) == 0)
		s->st.valign = (enum valign)v, s->have_valign = 1;
}

/* merge: fields given in top override those of base. */
static void merge_style(struct style_in *base, const struct style_in *top)
{
	if (top->have_fonts) {
		memcpy(base->st.font, top->st.font, sizeof base->st.font);
		base->st.nfonts = top->st.nfonts, base->have_fonts = 1;
	}
	if (top->have_size)
		base->st.size = top->st.size, base->have_size = 1;
	if (top->have_min)
		base->st.min_size = top->st.min_size, base->have_min = 1;
	if (top->have_ls)
		base->st.line_spacing = top->st.line_spacing, base->have_ls = 1;
	if (top->have_lsp)
		base->st.letter_spacing = top->st.letter_spacing, base->have_lsp = 1;
	if (top->have_colour)
		base->st.colour = top->st.colour, base->have_colour = 1;
	if (top->have_align)
		base->st.align = top->st.align, base->have_align = 1;
	if (top->have_valign)
		base->st.valign = top->st.valign, base->have_valign = 1;
}

struct named_style {
	const char *name;
	struct style_in s;
};

struct styles {
	struct named_style *v;
	size_t n;
	struct style_in deflt;      /* the top-level fonts: list */
};

/* resolve_style: defaults < top-level fonts < named style < the block's own fields. */
static int resolve_style(struct loader *L, const struct ynode *map, const struct styles *styles,
                         struct style *out, double dflt_size)
{
	struct style_in s, own;
	const struct ynode *n;
	int errors_before = L->errors;

	memset(&s, 0, sizeof s);
	s.st.size = dflt_size;
	s.st.line_spacing = 1.25;
	s.st.align = AL_CENTER;
	s.st.valign = VA_TOP;
	s.st.colour = (struct rgb){0.13, 0.13, 0.13};
	merge_style(&s, &styles->deflt);
	if ((n = ytree_get(map, "style"))) {
		const char *name = ld_scalar(L, n, "style");
		size_t i;
		for (i = 0; name && i < styles->n; i++)
			if (strcmp(styles->v[i].name, name) == 0)
				break;
		if (name && i == styles->n)
			ld_bad(L, n, "no style named '%s' under styles:", name);
		else if (name)
			merge_style(&s, &styles->v[i].s);
	}
	memset(&own, 0, sizeof own);
	parse_style(L, map, &own);
	merge_style(&s, &own);
	if (!s.have_fonts || s.st.nfonts == 0) {
		/* A font that failed to load was reported where it is named. */
		if (!ytree_get(map, "fonts") && L->errors == errors_before)
			ld_bad(L, map, "no fonts for this text (give fonts: here, in its style, or at the top level)");
		return -1;
	}
	if (!s.have_min || s.st.min_size > s.st.size)
		s.st.min_size = s.st.size;  /* no shrinking unless asked for */
	*out = s.st;
	return 0;
}

/* ------------------------------------------------------------------ template sections */

static void add_text(struct card_template *t, const struct tblock *b)
{
	t->texts = xreallocarray(t->texts, t->ntexts + 1, sizeof *t->texts);
	t->texts[t->ntexts++] = *b;
}

/*
 * text_place: where a text's characters stand in its file, so that template errors name the
 * file's lines and columns: *col0 is the file column before the text's first column. A one-line
 * scalar starts on its own line (past the quote when quoted); a literal block (`text: |`) on
 * the next line, at its indentation. Returns the file line of the text's first line, or 0 when
 * the lines were folded (a multi-line quoted or `>` scalar) and cannot be told.
 */
static long text_place(const struct ynode *n, long *col0)
{
	char *src = NULL, err[ERR_LEN];
	size_t len;
	long line = 1, first = 0;
	*col0 = 0;
	if (!strchr(n->value, '\n')) {
		*col0 = n->col - 1 + (n->plain ? 0 : 1);
		return n->line;
	}
	if (!n->file || util_read_file(n->file, 4u << 20, &src, &len, err) != 0)
		return 0;
	for (const char *p = src; *p; p++) {
		if (line == n->line) {
			if ((long)strlen(p) >= n->col && p[n->col - 1] == '|')
				first = n->line + 1;
		} else if (first && line > n->line) {
			size_t ind = strspn(p, " ");
			if (p[ind] != '\n' && p[ind] != '\r') {   /* the first line that is not blank */
				*col0 = (long)ind;
				break;
			}
		}
		if (line == n->line && !first)
			break;
		while (*p && *p != '\n')
			p++;
		if (!*p)
			break;
		line++;
	}
	free(src);
	return first;
}

static int text_src(struct loader *L, const struct ynode *n, char **out)
{
	char err[ERR_LEN];
	const char *s = ld_text(L, n, "text");
	long first, col0;
	int col;
	if (!s)
		return -1;
	if (strlen(s) > CARD_MAX_TEXT) {
		ld_bad(L, n, "text is longer than %d bytes", CARD_MAX_TEXT);
		return -1;
	}
	first = text_place(n, &col0);
	if (template_check_pos(s, first > 0 && first < INT_MAX ? (int)first : 1, &col, err) != 0) {
		struct ynode at = *n;   /* the error's own place, when the text's place in the file is known */
		int eline = 0;
		if (first > 0 && sscanf(err, "line %d:", &eline) == 1)
			at.line = eline, at.col = col0 + col;
		ld_bad(L, &at, "text%s: %s", first > 0 ? "" : " (lines counted in the text)", err);
		return -1;
	}
	*out = xstrdup(s);
	return 0;
}

static void parse_texts(struct loader *L, const struct ynode *list, const struct styles *styles)
{
	static const char *const keys[] = {"text", "box", "style", STYLE_KEYS, NULL};

	if (list->type != Y_SEQ) {
		ld_bad(L, list, "texts must be a list of text blocks");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *m = list->items[i], *n;
		struct tblock b;
		int ok = 1;

		memset(&b, 0, sizeof b);
		if (m->type != Y_MAP) {
			ld_bad(L, m, "a text block must be a mapping (text:, box:, fonts:, size: ...)");
			continue;
		}
		ld_check_keys(L, m, keys, "a text block");
		if (!(n = ytree_get(m, "text"))) {
			ld_bad(L, m, "a text block needs text:");
			ok = 0;
		} else if (text_src(L, n, &b.src) != 0) {
			ok = 0;
		}
		if (!(n = ytree_get(m, "box"))) {
			ld_bad(L, m, "a text block needs box: [x, y, width, height] (mm from the top-left corner)");
			ok = 0;
		} else if (ld_box(L, n, "box", 1, b.box) != 0) {
			ok = 0;
		}
		if (resolve_style(L, m, styles, &b.st, 11) != 0)
			ok = 0;
		if (!ok) {
			free(b.src);
			continue;
		}
		b.where = ld_where_of(m);
		b.panel = L->panel;
		add_text(L->t, &b);
	}
}

static void parse_images(struct loader *L, const struct ynode *list)
{
	static const char *const keys[] = {"file", "box", "fit", NULL};
	static const char *const fits[] = {"contain", "cover", "stretch", NULL};
	struct card_template *t = L->t;

	if (list->type != Y_SEQ) {
		ld_bad(L, list, "images must be a list");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *m = list->items[i], *n;
		struct timage im;
		const char *file;
		int kind, v;

		memset(&im, 0, sizeof im);
		if (m->type != Y_MAP) {
			ld_bad(L, m, "an image must be a mapping (file:, box:, fit:)");
			continue;
		}
		ld_check_keys(L, m, keys, "an image");
		if ((n = ytree_get(m, "fit")) && ld_choice(L, n, "fit", fits, &v) == 0)
			im.fit = (enum fit)v;
		if (!(n = ytree_get(m, "box"))) {
			ld_bad(L, m, "an image needs box: [x, y, width, height] (mm from the top-left corner)");
			continue;
		}
		if (ld_box(L, n, "box", 0, im.box) != 0)
			continue;
		if (!(n = ytree_get(m, "file"))) {
			ld_bad(L, m, "an image needs file: (a PNG or JPEG, relative to the template's directory)");
			continue;
		}
		if (!(file = ld_scalar(L, n, "file")))
			continue;
		if (!ld_image_path_ok(file)) {
			ld_bad(L, n, "image file '%s' must be a relative path inside the templates directory (no '..')", file);
			continue;
		}
		im.path = util_path_join(t->dir, file);
		if (!util_file_exists(im.path)) {
			ld_bad(L, n, "image file '%s' not found (looked for %s)", file, im.path);
			free(im.path);
			continue;
		}
		kind = ld_image_kind(im.path);
		if (kind < 0) {
			ld_bad(L, n, "image file '%s' is neither PNG nor JPEG", file);
			free(im.path);
			continue;
		}
		{
			char err[ERR_LEN];
			HPDF_Image img;
			if (!(img = card_image_load(L->scratch, &L->herr, im.path, kind, err))) {
				ld_bad(L, n, "image file '%s': %s", file, err);
				free(im.path);
				continue;
			}
			im.px_w = HPDF_Image_GetWidth(img);
			im.px_h = HPDF_Image_GetHeight(img);
			if (im.px_w < 1 || im.px_h < 1) {
				ld_bad(L, n, "image file '%s' has no pixels", file);
				free(im.path);
				continue;
			}
		}
		im.jpeg = kind;
		im.file = xstrdup(file);
		t->images = xreallocarray(t->images, t->nimages + 1, sizeof *t->images);
		im.panel = L->panel;
		t->images[t->nimages++] = im;
	}
}

static int parse_dash(struct loader *L, const struct ynode *n, struct tline *l)
{
	double d[2];
	if (ld_numbers(L, n, "dash (pt on, pt off)", 2, 2, 0, 100, d) < 0)
		return -1;
	if (d[1] < 1) {
		ld_bad(L, n, "dash: the gap must be at least 1 pt");
		return -1;
	}
	/* libharu takes whole points; a 0 "on" with round caps draws dots. */
	l->dash[0] = (HPDF_UINT16)lround(d[0]);
	l->dash[1] = (HPDF_UINT16)lround(d[1]);
	l->dashed = 1;
	return 0;
}

static int point_in_page(struct loader *L, const struct ynode *n, const char *what, double p[2])
{
	if (ld_numbers(L, n, what, 2, 2, -1e4, 1e4, p) < 0)
		return -1;
	if (p[0] < -EPS_MM || p[1] < -EPS_MM || p[0] > L->t->w_mm + EPS_MM || p[1] > L->t->h_mm + EPS_MM) {
		ld_bad(L, n, "%s [%g, %g] lies outside the page (%g x %g mm)", what, p[0], p[1], L->t->w_mm, L->t->h_mm);
		return -1;
	}
	return 0;
}

static void parse_lines(struct loader *L, const struct ynode *list)
{
	static const char *const keys[] = {"from", "to", "width", "colour", "dash", "cap", NULL};
	static const char *const caps[] = {"butt", "round", NULL};
	struct card_template *t = L->t;

	if (list->type != Y_SEQ) {
		ld_bad(L, list, "lines must be a list");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *m = list->items[i], *n;
		struct tline l;
		double a[2], b[2];
		int ok = 1, v;

		memset(&l, 0, sizeof l);
		l.width = 0.75;
		l.colour = (struct rgb){0.13, 0.13, 0.13};
		if (m->type != Y_MAP) {
			ld_bad(L, m, "a line must be a mapping (from:, to:, width:, colour:)");
			continue;
		}
		ld_check_keys(L, m, keys, "a line");
		if (!(n = ytree_get(m, "from")) || point_in_page(L, n, "from", a) != 0) {
			if (!n)
				ld_bad(L, m, "a line needs from: [x, y] (mm)");
			ok = 0;
		}
		if (!(n = ytree_get(m, "to")) || point_in_page(L, n, "to", b) != 0) {
			if (!n)
				ld_bad(L, m, "a line needs to: [x, y] (mm)");
			ok = 0;
		}
		if ((n = ytree_get(m, "width")) && ld_num(L, n, "width (pt)", 0.1, 20, &l.width) != 0)
			ok = 0;
		if ((n = ytree_get(m, "colour")) && ld_colour(L, n, "colour", &l.colour) != 0)
			ok = 0;
		if ((n = ytree_get(m, "dash")) && parse_dash(L, n, &l) != 0)
			ok = 0;
		if ((n = ytree_get(m, "cap"))) {
			if (ld_choice(L, n, "cap", caps, &v) == 0)
				l.round = v;
			else
				ok = 0;
		}
		if (!ok)
			continue;
		l.x1 = a[0], l.y1 = a[1], l.x2 = b[0], l.y2 = b[1];
		t->lines = xreallocarray(t->lines, t->nlines + 1, sizeof *t->lines);
		l.panel = L->panel;
		t->lines[t->nlines++] = l;
	}
}

static void parse_rects(struct loader *L, const struct ynode *list)
{
	static const char *const keys[] = {"box", "fill", "stroke", "width", "radius", NULL};
	struct card_template *t = L->t;

	if (list->type != Y_SEQ) {
		ld_bad(L, list, "rects must be a list");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *m = list->items[i], *n;
		struct trect r;
		int ok = 1;

		memset(&r, 0, sizeof r);
		r.width = 0.75;
		if (m->type != Y_MAP) {
			ld_bad(L, m, "a rect must be a mapping (box:, fill:, stroke:, width:, radius:)");
			continue;
		}
		ld_check_keys(L, m, keys, "a rect");
		if (!(n = ytree_get(m, "box"))) {
			ld_bad(L, m, "a rect needs box: [x, y, width, height] (mm)");
			ok = 0;
		} else if (ld_box(L, n, "box", 0, r.box) != 0) {
			ok = 0;
		}
		if ((n = ytree_get(m, "fill"))) {
			if (ld_colour(L, n, "fill", &r.fill) == 0)
				r.has_fill = 1;
			else
				ok = 0;
		}
		if ((n = ytree_get(m, "stroke"))) {
			if (ld_colour(L, n, "stroke", &r.stroke) == 0)
				r.has_stroke = 1;
			else
				ok = 0;
		}
		if ((n = ytree_get(m, "width")) && ld_num(L, n, "width (pt)", 0.1, 20, &r.width) != 0)
			ok = 0;
		if ((n = ytree_get(m, "radius")) && ld_num(L, n, "radius (mm)", 0, 100, &r.radius) != 0)
			ok = 0;
		if (ok && !r.has_fill && !r.has_stroke) {
			ld_bad(L, m, "a rect needs fill: or stroke: (a colour)");
			ok = 0;
		}
		if (!ok)
			continue;
		if (r.radius > r.box[2] / 2)
			r.radius = r.box[2] / 2;
		if (r.radius > r.box[3] / 2)
			r.radius = r.box[3] / 2;
		t->rects = xreallocarray(t->rects, t->nrects + 1, sizeof *t->rects);
		r.panel = L->panel;
		t->rects[t->nrects++] = r;
	}
}

static void parse_signature(struct loader *L, const struct ynode *m, const struct styles *styles)
{
	static const char *const keys[] = {"box", "line_colour", "line_width", "name", "name_gap", "name_height",
	                                   "style", STYLE_KEYS, NULL};
	struct card_template *t = L->t;
	const struct ynode *n;
	struct tline l;
	struct tblock b;
	double gap = 1.5, height = 9;
	int ok = 1;

	if (m->type != Y_MAP) {
		ld_bad(L, m, "signature must be a mapping (box:, name:, fonts:, size: ...)");
		return;
	}
	ld_check_keys(L, m, keys, "signature");
	memset(&l, 0, sizeof l);
	memset(&b, 0, sizeof b);
	l.width = 0.6;
	l.colour = (struct rgb){0.35, 0.35, 0.35};
	if ((n = ytree_get(m, "line_colour")) && ld_colour(L, n, "line_colour", &l.colour) != 0)
		ok = 0;
	if ((n = ytree_get(m, "line_width")) && ld_num(L, n, "line_width (pt)", 0.1, 5, &l.width) != 0)
		ok = 0;
	if ((n = ytree_get(m, "name_gap")) && ld_num(L, n, "name_gap (mm)", 0, 30, &gap) != 0)
		ok = 0;
	if ((n = ytree_get(m, "name_height")) && ld_num(L, n, "name_height (mm)", 2, 60, &height) != 0)
		ok = 0;
	if ((n = ytree_get(m, "name"))) {
		if (text_src(L, n, &b.src) != 0)
			ok = 0;
	} else {
		b.src = xstrdup("{{signer}}");
	}
	if (resolve_style(L, m, styles, &b.st, 8) != 0)
		ok = 0;
	if (!(n = ytree_get(m, "box"))) {
		ld_bad(L, m, "signature needs box: [x, y, width, height]: the blank space to sign in (mm)");
		ok = 0;
	} else if (ld_box(L, n, "signature box", 1, t->sig_box) != 0) {
		ok = 0;
	} else {
		/* The printed name sits under the line and must stay inside the margins too. */
		b.box[0] = t->sig_box[0];
		b.box[1] = t->sig_box[1] + t->sig_box[3] + gap;
		b.box[2] = t->sig_box[2];
		b.box[3] = height;
		if (b.box[1] + b.box[3] > t->h_mm - t->margin[2] + EPS_MM) {
			ld_bad(L, n, "the signer's name (%g mm under the signature box, %g mm high) would run past the "
			    "bottom margin", gap, height);
			ok = 0;
		}
	}
	if (!ok) {
		free(b.src);
		return;
	}
	l.x1 = t->sig_box[0];
	l.x2 = t->sig_box[0] + t->sig_box[2];
	l.y1 = l.y2 = t->sig_box[1] + t->sig_box[3];
	t->lines = xreallocarray(t->lines, t->nlines + 1, sizeof *t->lines);
	t->lines[t->nlines++] = l;
	b.where = ld_where_of(m);
	add_text(t, &b);
	t->has_sig = 1;
}

static int overlaps(const double a[4], const double b[4])
{
	return a[0] < b[0] + b[2] - EPS_MM && b[0] < a[0] + a[2] - EPS_MM &&
	       a[1] < b[1] + b[3] - EPS_MM && b[1] < a[1] + a[3] - EPS_MM;
}

/* ------------------------------------------------------------------ page geometry */

struct paper {
	const char *name;
	double w, h;    /* mm, portrait */
};

static const struct paper papers[] = {
	{"A6", 105, 148}, {"A5", 148, 210}, {"A4", 210, 297}, {"5x7in", 127, 177.8}, {"4x6in", 101.6, 152.4},
	{"Letter", 215.9, 279.4},
	{NULL, 0, 0},
};

/* parse_size: a paper name or "WxHmm" / "WxHin". Custom sizes keep their written orientation. */
static int parse_size(const char *s, double *w, double *h, int *named)
{
	char *end;
	double a, b, unit;

	for (int i = 0; papers[i].name; i++)
		if (util_strcaseeq(s, papers[i].name)) {
			*w = papers[i].w, *h = papers[i].h, *named = 1;
			return 0;
		}
	*named = 0;
	errno = 0;
	a = strtod(s, &end);
	if (end == s || *end != 'x' || errno)
		return -1;
	s = end + 1;
	b = strtod(s, &end);
	if (end == s || errno)
		return -1;
	if (strcmp(end, "mm") == 0)
		unit = 1;
	else if (strcmp(end, "in") == 0)
		unit = 25.4;
	else
		return -1;
	*w = a * unit, *h = b * unit;
	if (!isfinite(*w) || !isfinite(*h) || *w < 50 || *h < 50 || *w > 500 || *h > 500)
		return -2;
	return 0;
}

static void parse_page(struct loader *L, const struct ynode *root)
{
	static const char *const orients[] = {"portrait", "landscape", NULL};
	struct card_template *t = L->t;
	const struct ynode *n;
	const char *s;
	int named = 1, v;

	t->w_mm = 105, t->h_mm = 148;
	if (!(n = ytree_get(root, "size"))) {
		ld_bad(L, root, "a card needs size: (A6, A5, 5x7in, 4x6in, or custom like \"120x170mm\")");
	} else if ((s = ld_scalar(L, n, "size"))) {
		int rc = parse_size(s, &t->w_mm, &t->h_mm, &named);
		if (rc == -2)
			ld_bad(L, n, "size '%s': each side must be between 50 and 500 mm", s);
		else if (rc != 0)
			ld_bad(L, n, "size must be A6, A5, A4, 5x7in, 4x6in or WIDTHxHEIGHT followed by mm or in "
			    "(like \"120x170mm\"), not '%s'", s);
	}
	if ((n = ytree_get(root, "orientation")) && ld_choice(L, n, "orientation", orients, &v) == 0) {
		int landscape = t->w_mm > t->h_mm;
		if (v != landscape) {
			double tmp = t->w_mm;
			t->w_mm = t->h_mm, t->h_mm = tmp;
		}
	}
	if ((n = ytree_get(root, "layout")) && (s = ld_scalar(L, n, "layout"))) {
		if (strcmp(s, "folded") == 0) {
			/* The size names the sheet; the card is a quarter of it. */
			const struct ynode *sz = ytree_get(root, "size");
			const char *sn = sz && sz->type == Y_SCALAR ? sz->value : "";
			if (!util_strcaseeq(sn, "A4") && !util_strcaseeq(sn, "Letter"))
				ld_bad(L, sz ? sz : n, "layout: folded prints on an A4 or Letter sheet: size must be A4 or "
				    "Letter (the card is a quarter of it), not '%s'", sn);
			else if (t->w_mm > t->h_mm)
				ld_bad(L, n, "layout: folded needs a portrait sheet (the card is portrait too)");
			t->folded = 1;
			t->w_mm /= 2, t->h_mm /= 2;
		} else if (strcmp(s, "flat") != 0) {
			ld_bad(L, n, "layout must be flat or folded, not '%s'", s);
		}
	}
	t->sheet_w = t->folded ? t->w_mm * 2 : t->w_mm;
	t->sheet_h = t->folded ? t->h_mm * 2 : t->h_mm;
	for (int i = 0; i < 4; i++)
		t->margin[i] = 10;
	if ((n = ytree_get(root, "margins"))) {
		double m[4];
		int k;
		if (n->type == Y_SCALAR) {
			if (ld_num(L, n, "margins (mm)", 0, 100, &m[0]) == 0)
				for (int i = 0; i < 4; i++)
					t->margin[i] = m[0];
		} else if ((k = ld_numbers(L, n, "margins (mm)", 1, 4, 0, 100, m)) > 0) {
			if (k == 3) {
				ld_bad(L, n, "margins: give 1 number, 2 [top/bottom, left/right] or 4 [top, right, bottom, left]");
			} else {
				t->margin[0] = m[0];
				t->margin[1] = k >= 2 ? m[1] : m[0];
				t->margin[2] = k == 4 ? m[2] : m[0];
				t->margin[3] = k == 4 ? m[3] : t->margin[1];
			}
		}
		if (t->margin[1] + t->margin[3] > t->w_mm - 20 || t->margin[0] + t->margin[2] > t->h_mm - 20)
			ld_bad(L, n, "margins leave less than 20 mm of the %g x %g mm card", t->w_mm, t->h_mm);
	}
	if ((n = ytree_get(root, "background")) && ld_colour(L, n, "background", &t->bg) == 0)
		t->has_bg = 1;
}

static void parse_styles(struct loader *L, const struct ynode *root, struct styles *styles)
{
	static const char *const keys[] = {STYLE_KEYS, NULL};
	const struct ynode *n;

	if ((n = ytree_get(root, "fonts")))
		parse_fonts(L, n, &styles->deflt);
	if (!(n = ytree_get(root, "styles")))
		return;
	if (n->type != Y_MAP) {
		ld_bad(L, n, "styles must be a mapping of style names to styles");
		return;
	}
	styles->v = xcalloc(n->n ? n->n : 1, sizeof *styles->v);
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *m = n->items[i];
		struct named_style *ns = &styles->v[styles->n];
		if (m->type != Y_MAP) {
			ld_bad(L, m, "style '%s' must be a mapping (fonts:, size:, colour: ...)", n->keys[i]->value);
			continue;
		}
		ld_check_keys(L, m, keys, "a style");
		memset(ns, 0, sizeof *ns);
		ns->name = n->keys[i]->value;
		parse_style(L, m, &ns->s);
		styles->n++;
	}
}

void card_template_free(struct card_template *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nfonts; i++) {
		free(t->fonts[i].name);
		free(t->fonts[i].path);
		cardfont_free(t->fonts[i].cf);
	}
	free(t->fonts);
	for (size_t i = 0; i < t->ntexts; i++) {
		free(t->texts[i].src);
		free(t->texts[i].where);
	}
	free(t->texts);
	for (size_t i = 0; i < t->nimages; i++) {
		free(t->images[i].file);
		free(t->images[i].path);
	}
	free(t->images);
	free(t->lines);
	free(t->rects);
	free(t->path);
	free(t->dir);
	free(t);
}

int card_template_load_diags(const char *path, const char *fonts_dir, struct card_template **out,
                             struct diags *d)
{
	static const char *const keys[] = {"size", "orientation", "layout", "background", "margins", "fonts",
	                                   "styles", "images", "rects", "lines", "texts", "signature", "front",
	                                   NULL};
	static const char *const front_keys[] = {"background", "images", "rects", "lines", "texts", NULL};
	struct loader L;
	struct ynode *root = NULL;
	struct styles styles;
	const struct ynode *n;
	char err[ERR_LEN];
	size_t before = d->nerrors;

	if (out)
		*out = NULL;
	memset(&L, 0, sizeof L);
	memset(&styles, 0, sizeof styles);
	L.fonts_dir = fonts_dir;
	L.d = d;
	if (ytree_load_file(path, &root, err) != 0) {
		diags_add(d, 0, "%s", err);
		return -1;
	}
	if (root->type != Y_MAP) {
		ytree_diag(d, 0, root, "a card template must be a mapping (size:, texts:, signature: ...)");
		ytree_free(root);
		return -1;
	}
	L.scratch = HPDF_New(card_hpdf_handler, &L.herr);
	if (!L.scratch) {
		diags_add(d, 0, "%s: libharu: cannot create a document", path);
		ytree_free(root);
		return -1;
	}
	L.t = xcalloc(1, sizeof *L.t);
	L.t->path = xstrdup(path);
	L.t->dir = util_dirname(path);
	ld_check_keys(&L, root, keys, "a card template");
	parse_page(&L, root);
	parse_styles(&L, root, &styles);
	n = ytree_get(root, "front");
	if (n && !L.t->folded) {
		ld_bad(&L, n, "front: is for layout: folded cards (a flat card has one side)");
	} else if (L.t->folded && !n) {
		ytree_diag(d, 0, root, "a folded card needs front: (rects:, images:, lines:, texts: of its front)");
	} else if (n && n->type != Y_MAP) {
		ld_bad(&L, n, "front must be a mapping (rects:, images:, lines:, texts:)");
	} else if (n) {
		const struct ynode *f = n, *e;
		ld_check_keys(&L, f, front_keys, "front");
		L.panel = PANEL_FRONT;
		if ((e = ytree_get(f, "background")) && ld_colour(&L, e, "background", &L.t->front_bg) == 0)
			L.t->has_front_bg = 1;
		if ((e = ytree_get(f, "rects")))
			parse_rects(&L, e);
		if ((e = ytree_get(f, "images")))
			parse_images(&L, e);
		if ((e = ytree_get(f, "lines")))
			parse_lines(&L, e);
		if ((e = ytree_get(f, "texts")))
			parse_texts(&L, e, &styles);
		L.panel = PANEL_INSIDE;
	}
	if ((n = ytree_get(root, "rects")))
		parse_rects(&L, n);
	if ((n = ytree_get(root, "images")))
		parse_images(&L, n);
	if ((n = ytree_get(root, "lines")))
		parse_lines(&L, n);
	if ((n = ytree_get(root, "texts")))
		parse_texts(&L, n, &styles);
	if ((n = ytree_get(root, "signature"))) {
		size_t ntexts = L.t->ntexts;
		parse_signature(&L, n, &styles);
		/* A message running into the signing space would be signed over. */
		for (size_t i = 0; L.t->has_sig && i < ntexts; i++)
			if (L.t->texts[i].panel == PANEL_INSIDE && overlaps(L.t->texts[i].box, L.t->sig_box))
				diags_add(d, 0, "%s: error: text block box overlaps the signature box [%g, %g, %g, %g]",
				          L.t->texts[i].where, L.t->sig_box[0], L.t->sig_box[1], L.t->sig_box[2],
				          L.t->sig_box[3]);
	}
	if (L.t->ntexts == 0 && L.errors == 0 && d->nerrors == before)
		ytree_diag(d, 0, root, "a card needs at least one text block (texts:) or a signature:");
	free(styles.v);
	HPDF_Free(L.scratch);
	ytree_free(root);
	if (d->nerrors != before) {
		card_template_free(L.t);
		return -1;
	}
	if (out)
		*out = L.t;
	else
		card_template_free(L.t);
	return 0;
}

int card_template_load(const char *path, const char *fonts_dir, struct card_template **out, char err[ERR_LEN])
{
	struct diags d;
	int rc;

	memset(&d, 0, sizeof d);
	rc = card_template_load_diags(path, fonts_dir, out, &d);
	if (rc != 0) {
		/* The first problem, and how many more there are (check prints them all). */
		for (size_t i = 0; i < d.n; i++)
			if (!d.warning[i]) {
				if (d.nerrors > 1)
					err_set(err, "%s (and %zu more)", d.msgs[i], d.nerrors - 1);
				else
					err_set(err, "%s", d.msgs[i]);
				break;
			}
	}
	diags_free(&d);
	return rc;
}

void card_template_size(const struct card_template *t, double *width, double *height)
{
	*width = t->sheet_w * MM_PT;
	*height = t->sheet_h * MM_PT;
}
