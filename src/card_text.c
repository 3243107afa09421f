/*
 * card_text: text preparation. Each block is merged (Mustache) and cleaned (controls refused,
 * spaces collapsed); every code point is given a font (the block's list, then the system's),
 * a bidi level (FriBidi, per paragraph) and a script; each paragraph is shaped with HarfBuzz
 * to measure it; lines break at spaces, after hyphens, between CJK characters (a subset of
 * UAX #14's opportunities) and between the words of Thai, Lao, Khmer and Myanmar text
 * (card_break.c), and the block shrinks towards its min_size only when breaking is
 * not enough. Each line is then shaped again on its own and its runs put in visual order
 * (UAX #9, rule L2). Nothing is drawn here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fribidi.h>

#include "card_int.h"

void card_pblock_free(struct pblock *pb)
{
	free(pb->cp);
	free(pb->font);
	free(pb->w);
	free(pb->level);
	free(pb->script);
	free(pb->brk);
	for (size_t i = 0; i < pb->nlines; i++)
		free(pb->lines[i].g);
	free(pb->lines);
	memset(pb, 0, sizeof *pb);
}

void card_prepared_free(struct prepared *p)
{
	for (size_t i = 0; i < p->n; i++)
		card_pblock_free(&p->b[i]);
	free(p->b);
	memset(p, 0, sizeof *p);
}

/* dropped: format characters with no use on a card (soft hyphen, BOM, word joiner). */
static int dropped(uint32_t cp)
{
	return cp == 0x00AD || cp == 0x2060 || cp == 0xFEFF;
}

static void font_list(const struct card_template *t, const struct style *st, struct strbuf *sb)
{
	for (size_t i = 0; i < st->nfonts; i++)
		sb_addf(sb, "%s%s", i ? ", " : "", t->fonts[st->font[i]].name);
}

/* describe_cp: "U+00E9 'é'" (no quoted character for controls and lone marks). */
static void describe_cp(uint32_t cp, struct strbuf *sb)
{
	sb_addf(sb, "U+%04X", (unsigned)cp);
	if (cp >= 0x20 && !(cp >= 0x7F && cp < 0xA0) && !cardfont_is_mark(cp)) {
		sb_adds(sb, " '");
		util_utf8_put(sb, cp);
		sb_adds(sb, "'");
	}
}

/* snippet: the first words of a text, for messages. */
static void snippet(const char *s, struct strbuf *sb)
{
	const char *p = s, *end = s + strlen(s);
	int n = 0;
	sb_adds(sb, "\"");
	while (p < end && n < 40) {
		const char *q = p;
		int32_t cp = util_utf8_next(&p, end);
		if (cp == '\n')
			sb_adds(sb, " / ");
		else if (cp >= 0x20)
			sb_addn(sb, q, (size_t)(p - q));
		n++;
	}
	sb_adds(sb, p < end ? "...\"" : "\"");
}

static int is_space(uint32_t cp)
{
	return cp == ' ';
}

static int style_serif(const struct card_template *t, const struct style *st)
{
	return st->nfonts && cardfont_serif(t->fonts[st->font[0]].cf);
}

struct cardfont *card_font_for(const struct card_template *t, const struct style *st, uint32_t cp,
                               struct cardfont *prev, const char *lang)
{
	uint32_t sc = cardfont_script(cp);
	struct cardfont *f;

	if (prev && (cp == 0x200C || cp == 0x200D || (cardfont_is_mark(cp) && cardfont_glyph(prev, cp))))
		return prev;
	if (prev && (sc == CARDFONT_SCRIPT_COMMON || sc == CARDFONT_SCRIPT_INHERITED) && cardfont_glyph(prev, cp))
		return prev;
	if (cp >= 0x200B && cp <= 0x200F)
		return prev ? prev : t->fonts[st->font[0]].cf;   /* invisible: shaped, never drawn */
	for (size_t i = 0; i < st->nfonts; i++)
		if (cardfont_glyph(t->fonts[st->font[i]].cf, cp))
			return t->fonts[st->font[i]].cf;
	/* The system font already in use keeps its run together (one shaping context). */
	if (prev && cardfont_glyph(prev, cp))
		return prev;
	if ((f = cardfont_system(cp, style_serif(t, st), lang)))
		return f;
	if (prev && cardfont_is_mark(cp))
		return prev;    /* HarfBuzz may compose or decompose it; glyph 0 is caught after shaping */
	return NULL;
}

static void cp_push(struct pblock *pb, size_t *cap, uint32_t cp)
{
	if (pb->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		pb->cp = xreallocarray(pb->cp, *cap, sizeof *pb->cp);
	}
	pb->cp[pb->n++] = cp;
}

/* no_font: "no font has U+XXXX 'c' (fonts: ...) ..." */
static int no_font(const struct card_template *t, const struct tblock *blk, uint32_t cp, char err[ERR_LEN])
{
	struct strbuf sb = {0};
	const char *pkg = cardfont_package(cp);
	sb_adds(&sb, "no font has ");
	describe_cp(cp, &sb);
	sb_adds(&sb, " (fonts: ");
	font_list(t, &blk->st, &sb);
	sb_addf(&sb, ", nor any installed on this system) for the text block at %s", blk->where);
	if (pkg)
		sb_addf(&sb, "; installing the Debian package %s would cover it", pkg);
	err_set(err, "%s", sb.s);
	sb_free(&sb);
	return -1;
}

/* clean: merged UTF-8 -> code points; controls refused, spaces collapsed, lines trimmed. */
static int clean(const struct tblock *blk, const char *text, struct pblock *pb, char err[ERR_LEN])
{
	const char *p = text, *end = text + strlen(text);
	size_t cap = 0;

	if (!util_utf8_valid(text, strlen(text)))
		return err_set(err, "the text of the block at %s is not valid UTF-8", blk->where);
	while (p < end) {
		int32_t c = util_utf8_next(&p, end);
		uint32_t cp;
		if (c < 0)
			return err_set(err, "the text of the block at %s is not valid UTF-8", blk->where);
		cp = (uint32_t)c;
		if (cp == '\r') {
			if (p < end && *p == '\n')
				continue;
			cp = '\n';
		}
		if (cp == '\t')
			cp = ' ';
		if (cp == 0x2028 || cp == 0x2029)
			cp = '\n';
		if (dropped(cp))
			continue;
		if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp < 0xA0)) {
			struct strbuf sb = {0};
			describe_cp(cp, &sb);
			err_set(err, "control character %s in the text of the block at %s", sb.s, blk->where);
			sb_free(&sb);
			return -1;
		}
		/* Collapse spaces, and drop them at the start and end of every line. */
		if (is_space(cp) && (pb->n == 0 || is_space(pb->cp[pb->n - 1]) || pb->cp[pb->n - 1] == '\n'))
			continue;
		if (cp == '\n' && pb->n > 0 && is_space(pb->cp[pb->n - 1]))
			pb->n--;
		if (cp == '\n' && pb->n == 0)
			continue;   /* leading blank lines */
		cp_push(pb, &cap, cp);
	}
	while (pb->n > 0 && (is_space(pb->cp[pb->n - 1]) || pb->cp[pb->n - 1] == '\n'))
		pb->n--;        /* trailing spaces and blank lines */
	return 0;
}

/* Closing punctuation a CJK line must not start with (UAX #14 CL, EX, NS, simplified). */
static int no_break_before(uint32_t cp)
{
	static const uint32_t s[] = {0x3001, 0x3002, 0xFF0C, 0xFF0E, 0xFF09, 0x300D, 0x300F, 0x3011, 0xFF01, 0xFF1F,
	                             0x30FC, 0x3005, 0x309D, 0x309E, 0x30FD, 0x30FE, ',', '.', '!', '?', ')', ':',
	                             ';', 0};
	for (int i = 0; s[i]; i++)
		if (s[i] == cp)
			return 1;
	return 0;
}

/*
 * block_lang: Kana makes a text Japanese and Hangul Korean whatever the country says (a
 * Japanese name's Han characters take Japanese forms); else the recipient's convention.
 */
static const char *block_lang(const struct pblock *pb, const char *lang)
{
	for (size_t i = 0; i < pb->n; i++) {
		uint32_t sc = cardfont_script(pb->cp[i]);
		if (sc == CARDFONT_SCRIPT_HIRAGANA || sc == CARDFONT_SCRIPT_KATAKANA)
			return "ja";
		if (sc == CARDFONT_SCRIPT_HANGUL)
			return "ko";
	}
	return lang;
}

/* shape_lang: the language a run is shaped in: the block's for CJK runs (localized forms), else the default. */
static const char *shape_lang(const struct pblock *pb, size_t i)
{
	return pb->lang && cardfont_cjk(pb->cp[i]) ? pb->lang : NULL;
}

/*
 * attribute: font, script, bidi level and break opportunities of every code point, then
 * each paragraph shaped once to give each code point its width.
 */
static int attribute(const struct card_template *t, const struct tblock *blk, struct pblock *pb, char err[ERR_LEN])
{
	size_t n = pb->n ? pb->n : 1;
	double lsp = blk->st.letter_spacing * 1000.0;

	pb->font = xcalloc(n, sizeof *pb->font);
	pb->w = xcalloc(n, sizeof *pb->w);
	pb->level = xcalloc(n, sizeof *pb->level);
	pb->script = xcalloc(n, sizeof *pb->script);
	pb->brk = xcalloc(n, sizeof *pb->brk);
	for (size_t ps = 0; ps < pb->n;) {
		size_t pe = ps;
		struct cardfont *prev = NULL;
		uint32_t last_sc = CARDFONT_SCRIPT_COMMON;
		while (pe < pb->n && pb->cp[pe] != '\n')
			pe++;
		/* Fonts and scripts; common characters take their neighbour's script. */
		for (size_t i = ps; i < pe; i++) {
			uint32_t cp = pb->cp[i], sc = cardfont_script(cp);
			if (!(pb->font[i] = card_font_for(t, &blk->st, cp, prev, pb->lang)))
				return no_font(t, blk, cp, err);
			prev = pb->font[i];
			if (sc == CARDFONT_SCRIPT_COMMON || sc == CARDFONT_SCRIPT_INHERITED)
				sc = last_sc;
			pb->script[i] = last_sc = sc;
		}
		for (size_t i = pe; i-- > ps;) {     /* a paragraph's leading common run: the next script */
			if (pb->script[i] == CARDFONT_SCRIPT_COMMON && i + 1 < pe)
				pb->script[i] = pb->script[i + 1];
		}
		size_t first_bidi = ps;         /* below U+0590 nothing is right to left nor an embedding */
		while (first_bidi < pe && pb->cp[first_bidi] < 0x0590)
			first_bidi++;
		if (first_bidi == pe) {
			memset(pb->level + ps, 0, (pe - ps) * sizeof *pb->level);
		} else {
			size_t len = pe - ps;
			FriBidiCharType *types = xcalloc(len, sizeof *types);
			FriBidiBracketType *brackets = xcalloc(len, sizeof *brackets);
			FriBidiLevel *levels = xcalloc(len, sizeof *levels);
			FriBidiParType base = FRIBIDI_PAR_ON;
			fribidi_get_bidi_types(pb->cp + ps, (FriBidiStrIndex)len, types);
			fribidi_get_bracket_types(pb->cp + ps, (FriBidiStrIndex)len, types, brackets);
			if (fribidi_get_par_embedding_levels_ex(types, brackets, (FriBidiStrIndex)len, &base, levels) == 0)
				memset(levels, 0, len * sizeof *levels);
			for (size_t i = 0; i < len; i++)
				pb->level[ps + i] = (uint8_t)(levels[i] > 61 ? 61 : levels[i]);
			free(types);
			free(brackets);
			free(levels);
		}
		/* Break opportunities: after a space, after a hyphen inside a word, around CJK. */
		for (size_t i = ps + 1; i < pe; i++) {
			uint32_t a = pb->cp[i - 1], c = pb->cp[i];
			if (cardfont_is_mark(c) || is_space(c))
				continue;
			if (is_space(a) || a == 0x200B)
				pb->brk[i] = 1;
			else if ((a == '-' || a == 0x2010 || a == 0x2012 || a == 0x2013 || a == '/') && i >= ps + 2 &&
			         !is_space(pb->cp[i - 2]) && !no_break_before(c))
				pb->brk[i] = 1;
			else if ((cardfont_cjk(c) || cardfont_cjk(a)) && !no_break_before(c) && a != '(' && a != 0xFF08 &&
			         a != 0x300C && a != 0x300E && a != 0x3010)
				pb->brk[i] = 1;
		}
		/* Between the words of Thai, Lao, Khmer or Myanmar text: a dictionary knows where. */
		for (size_t i = ps; i < pe;) {
			size_t j = i;
			while (j < pe && card_break_dictionary(pb->cp[j]))
				j++;
			if (j - i >= 2)
				card_break_words(pb->cp + i, j - i, pb->brk + i);
			i = j > i ? j : i + 1;
		}
		/* Widths: each run of one font, script and level shaped in the paragraph's context. */
		for (size_t rs = ps; rs < pe;) {
			size_t re = rs + 1, ng;
			struct cardfont_glyph *g = NULL;
			while (re < pe && pb->font[re] == pb->font[rs] && pb->script[re] == pb->script[rs] &&
			       pb->level[re] == pb->level[rs])
				re++;
			ng = cardfont_shape(pb->font[rs], pb->cp + ps, pe - ps, rs - ps, re - rs, pb->level[rs] & 1,
			                    pb->script[rs], shape_lang(pb, rs), &g);
			for (size_t k = 0; k < ng; k++) {
				size_t ci = ps + g[k].cluster;
				if (g[k].gid == 0 && ci < pe && pb->cp[ci] != ' ') {
					uint32_t cp = pb->cp[ci];
					free(g);
					return no_font(t, blk, cp, err);
				}
				if (ci < pe)
					pb->w[ci] += g[k].adv;
			}
			free(g);
			rs = re;
		}
		for (size_t i = ps; i < pe; i++)
			if (!cardfont_joining_script(pb->script[i]) && !cardfont_is_mark(pb->cp[i]))
				pb->w[i] += lsp;
		ps = pe + 1;
	}
	return 0;
}

static double range_width(const struct pblock *pb, size_t a, size_t b, double lsp)
{
	double w = 0;
	for (size_t i = a; i < b; i++)
		w += pb->w[i];
	/* The last character's letter spacing does not count towards the line's width. */
	if (b > a && !cardfont_joining_script(pb->script[b - 1]))
		w -= lsp;
	return w;
}

static void add_line(struct pblock *pb, size_t *cap, size_t a, size_t b, double w)
{
	if (pb->nlines == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		pb->lines = xreallocarray(pb->lines, *cap, sizeof *pb->lines);
	}
	memset(&pb->lines[pb->nlines], 0, sizeof pb->lines[0]);
	pb->lines[pb->nlines].a = a;
	pb->lines[pb->nlines].b = b;
	pb->lines[pb->nlines].width = w;
	pb->nlines++;
}

static void clear_lines(struct pblock *pb)
{
	for (size_t i = 0; i < pb->nlines; i++)
		free(pb->lines[i].g);
	free(pb->lines);
	pb->lines = NULL;
	pb->nlines = 0;
}

/*
 * wrap: breaks the code points into lines no wider than box (1/1000 em at this size).
 * Returns 0, or -1 with [*wide_a, *wide_b) the first unbreakable stretch wider than the box.
 */
static int wrap(struct pblock *pb, double box, size_t *wide_a, size_t *wide_b)
{
	double lsp = pb->blk->st.letter_spacing * 1000.0;
	size_t cap = 0, i = 0;

	clear_lines(pb);
	while (i <= pb->n) {
		size_t pe = i, ls;
		while (pe < pb->n && pb->cp[pe] != '\n')
			pe++;
		if (pe == i)
			add_line(pb, &cap, i, i, 0);    /* a blank line */
		ls = i;
		while (ls < pe) {
			size_t best = ls, k;
			/* The furthest break opportunity (or the paragraph's end) that still fits. */
			for (k = ls + 1; k <= pe; k++) {
				size_t e = k;
				if (k < pe && !pb->brk[k])
					continue;
				while (e > ls && is_space(pb->cp[e - 1]))
					e--;
				if (range_width(pb, ls, e, lsp) > box + 1e-6)
					break;
				best = k;
			}
			if (best == ls) {
				size_t we = ls + 1;
				while (we < pe && !pb->brk[we])
					we++;
				while (we > ls + 1 && is_space(pb->cp[we - 1]))
					we--;
				*wide_a = ls, *wide_b = we;
				return -1;
			}
			{
				size_t e = best;
				while (e > ls && is_space(pb->cp[e - 1]))
					e--;
				add_line(pb, &cap, ls, e, range_width(pb, ls, e, lsp));
			}
			ls = best;
			while (ls < pe && is_space(pb->cp[ls]))
				ls++;
		}
		i = pe + 1;
	}
	return 0;
}

struct run {
	size_t a, b;
	uint8_t level;
	struct cardfont_glyph *g;
	size_t ng;
};

/* set_line: shapes one line run by run and puts the runs in visual order (UAX #9 L2). */
static void set_line(struct pblock *pb, struct pline *ln)
{
	double lsp = pb->blk->st.letter_spacing * 1000.0, pen = 0;
	struct run *r = NULL;
	size_t nr = 0, total = 0, k = 0;
	uint8_t maxl = 0, minodd = 255;

	for (size_t rs = ln->a; rs < ln->b;) {
		size_t re = rs + 1;
		while (re < ln->b && pb->font[re] == pb->font[rs] && pb->script[re] == pb->script[rs] &&
		       pb->level[re] == pb->level[rs])
			re++;
		r = xreallocarray(r, nr + 1, sizeof *r);
		r[nr].a = rs, r[nr].b = re, r[nr].level = pb->level[rs];
		r[nr].ng = cardfont_shape(pb->font[rs], pb->cp + ln->a, ln->b - ln->a, rs - ln->a, re - rs,
		                          pb->level[rs] & 1, pb->script[rs], shape_lang(pb, rs), &r[nr].g);
		total += r[nr].ng;
		if (r[nr].level > maxl)
			maxl = r[nr].level;
		if ((r[nr].level & 1) && r[nr].level < minodd)
			minodd = r[nr].level;
		nr++;
		rs = re;
	}
	/* L2: from the highest level down to the lowest odd one, reverse every run sequence at or above it. */
	for (int lv = maxl; minodd != 255 && lv >= minodd; lv--)
		for (size_t i = 0; i < nr;) {
			size_t j = i;
			if (r[i].level < lv) {
				i++;
				continue;
			}
			while (j < nr && r[j].level >= lv)
				j++;
			for (size_t x = i, y = j - 1; x < y; x++, y--) {
				struct run tmp = r[x];
				r[x] = r[y], r[y] = tmp;
			}
			i = j;
		}
	ln->g = xcalloc(total ? total : 1, sizeof *ln->g);
	for (size_t i = 0; i < nr; i++) {
		int spaced = !cardfont_joining_script(pb->script[r[i].a]);
		for (size_t j = 0; j < r[i].ng; j++) {
			const struct cardfont_glyph *g = &r[i].g[j];
			size_t next = r[i].b - ln->a, first = 1;
			/* Its cluster's characters: up to the next cluster of the run in logical order. */
			for (size_t q = 0; q < r[i].ng; q++) {
				if (r[i].g[q].cluster > g->cluster && r[i].g[q].cluster < next)
					next = r[i].g[q].cluster;
				if (q < j && r[i].g[q].cluster == g->cluster)
					first = 0;
			}
			ln->g[k].cp = ln->a + g->cluster;
			ln->g[k].nu = first ? next - g->cluster : 0;
			ln->g[k].f = pb->font[r[i].a];
			ln->g[k].gid = g->gid;
			ln->g[k].x = pen + g->dx;
			ln->g[k].y = g->dy;
			k++;
			pen += g->adv;
			/* Letter spacing after each cluster (the line's last excepted), not in joined scripts. */
			if (spaced && (j + 1 == r[i].ng || r[i].g[j + 1].cluster != g->cluster) &&
			    !(i + 1 == nr && j + 1 == r[i].ng))
				pen += lsp;
		}
		free(r[i].g);
	}
	ln->ng = k;
	ln->width = pen;
	free(r);
}

void card_utf8_range(const struct pblock *pb, size_t a, size_t b, struct strbuf *sb)
{
	for (size_t i = a; i < b; i++)
		util_utf8_put(sb, pb->cp[i]);
}

/*
 * fit: the largest size from size down to min_size (0.5 pt steps) at which the block fits,
 * breaking lines first; then every line is set.
 */
static int fit(struct pblock *pb, char err[ERR_LEN])
{
	const struct tblock *blk = pb->blk;
	const struct style *st = &blk->st;
	double box_w = blk->box[2] * MM_PT, box_h = blk->box[3] * MM_PT;
	size_t wa = 0, wb = 0;
	int wide = 0;

	for (double s = st->size;; s -= 0.5) {
		if (s < st->min_size)
			s = st->min_size;
		if (wrap(pb, box_w * 1000.0 / s, &wa, &wb) == 0) {
			wide = 0;
			if ((double)pb->nlines * s * st->line_spacing <= box_h + 1e-6) {
				int over = 0;
				for (size_t i = 0; i < pb->nlines; i++) {
					set_line(pb, &pb->lines[i]);
					/* A line shaped alone may differ a little from its paragraph's measure. */
					if (pb->lines[i].width * s / 1000.0 > box_w + 0.25)
						over = 1;
				}
				if (!over || s <= st->min_size) {
					pb->size = s;
					return 0;
				}
			}
		} else {
			wide = 1;
		}
		if (s <= st->min_size)
			break;
	}
	{
		struct strbuf sb = {0};
		double s = st->min_size, lsp = st->letter_spacing * 1000.0;
		if (wide) {
			sb_adds(&sb, "'");
			card_utf8_range(pb, wa, wb, &sb);
			err_set(err, "the text block at %s does not fit its box: the word %s' is %.1f mm wide at "
			        "min_size %gpt, the box %g mm", blk->where, sb.s,
			        range_width(pb, wa, wb, lsp) * s / 1000.0 / MM_PT, s, blk->box[2]);
		} else {
			struct strbuf txt = {0};
			card_utf8_range(pb, 0, pb->n, &txt);
			snippet(txt.s ? txt.s : "", &sb);
			sb_free(&txt);
			err_set(err, "the text block at %s does not fit its box even at min_size %gpt: %s needs "
			        "%zu %s (%.1f mm), the box is %g mm high", blk->where, s, sb.s, pb->nlines,
			        util_plural((long long)pb->nlines, "line", "lines"),
			        (double)pb->nlines * s * st->line_spacing / MM_PT, blk->box[3]);
		}
		sb_free(&sb);
	}
	return -1;
}

static const struct template_opts *render_opts(const struct card_template *t, struct template_opts *o)
{
	memset(o, 0, sizeof *o);
	o->escape_html = 0;
	o->empty_is_false = 1;
	o->partial = template_dir_partial;
	o->ud = t->dir;
	return o;
}

int card_set_text(const struct card_template *t, const struct tblock *blk, const char *text, const char *lang,
                  struct pblock *pb, char err[ERR_LEN])
{
	memset(pb, 0, sizeof *pb);
	pb->blk = blk;
	if (clean(blk, text, pb, err) != 0)
		goto fail;
	pb->lang = block_lang(pb, lang);
	if (attribute(t, blk, pb, err) != 0 || fit(pb, err) != 0) {
	fail:
		card_pblock_free(pb);
		return -1;
	}
	return 0;
}

/* ctx_str: the string under key in the context, or NULL. */
static const char *ctx_str(const struct tval *ctx, const char *key)
{
	const struct tval *v = ctx && ctx->type == TV_MAP ? tval_map_get(ctx, key) : NULL;
	return v && v->type == TV_STRING ? v->s : NULL;
}

/* card_prepare: merges, shapes and fits every text of the card. Nothing is drawn. */
int card_prepare(const struct card_template *t, const struct tval *ctx, struct prepared *p, char err[ERR_LEN])
{
	struct template_opts opts;
	struct strbuf sb = {0};
	const char *lang = card_lang(ctx_str(ctx, "country"), ctx_str(ctx, "language"));

	memset(p, 0, sizeof *p);
	p->b = xcalloc(t->ntexts ? t->ntexts : 1, sizeof *p->b);
	render_opts(t, &opts);
	for (size_t i = 0; i < t->ntexts; i++) {
		char terr[ERR_LEN];
		sb_reset(&sb);
		if (template_render(t->texts[i].src, ctx, &opts, &sb, terr) != 0) {
			err_set(err, "the text block at %s: %s", t->texts[i].where, terr);
			goto fail;
		}
		if (sb.len > CARD_MAX_TEXT) {
			err_set(err, "the text block at %s is longer than %d bytes once merged", t->texts[i].where,
			        CARD_MAX_TEXT);
			goto fail;
		}
		if (card_set_text(t, &t->texts[i], sb.s ? sb.s : "", lang, &p->b[p->n], err) != 0)
			goto fail;
		p->n++;
	}
	sb_free(&sb);
	return 0;
fail:
	sb_free(&sb);
	card_prepared_free(p);
	return -1;
}

int card_check(const struct card_template *t, const struct tval *ctx, char err[ERR_LEN])
{
	struct prepared p;
	if (card_prepare(t, ctx, &p, err) != 0)
		return -1;
	card_prepared_free(&p);
	return 0;
}
