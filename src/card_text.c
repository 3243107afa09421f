/*
 * card_text: text preparation. Each block is merged (Mustache), every code point is given the
 * first font of the block's list that has it, and the block is wrapped at spaces and shrunk
 * towards its min_size until it fits its box. Nothing is drawn here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_int.h"

void card_prepared_free(struct prepared *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->b[i].g);
		free(p->b[i].lines);
	}
	free(p->b);
	memset(p, 0, sizeof *p);
}

/* needs_shaping: scripts that are right-to-left or need glyph shaping libharu does not do. */
static int needs_shaping(uint32_t cp)
{
	return (cp >= 0x0590 && cp <= 0x08FF) ||    /* Hebrew, Arabic, Syriac, Thaana, NKo ... */
	       (cp >= 0x0900 && cp <= 0x0DFF) ||    /* Indic */
	       (cp >= 0x0F00 && cp <= 0x109F) ||    /* Tibetan, Myanmar */
	       (cp >= 0x1780 && cp <= 0x17FF) ||    /* Khmer */
	       (cp >= 0xFB1D && cp <= 0xFDFF) ||    /* Hebrew and Arabic presentation forms */
	       (cp >= 0xFE70 && cp <= 0xFEFF);
}

/* invisible: format characters dropped before layout (no glyph is wanted for them). */
static int invisible(uint32_t cp)
{
	return cp == 0x00AD || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       cp == 0x2060 || cp == 0xFEFF;
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
	if (cp >= 0x20 && !(cp >= 0x7F && cp < 0xA0) && !(cp >= 0x0300 && cp <= 0x036F)) {
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

/* shape: merged UTF-8 -> glyphs with fonts; spaces collapsed, lines trimmed. */
static int shape(const struct card_template *t, const struct tblock *blk, const char *text, struct pblock *pb,
                 char err[ERR_LEN])
{
	const char *p = text, *end = text + strlen(text);
	size_t cap = 64;

	if (!util_utf8_valid(text, strlen(text)))
		return err_set(err, "the text of the block at %s is not valid UTF-8", blk->where);
	pb->g = xcalloc(cap, sizeof *pb->g);
	pb->n = 0;
	while (p < end) {
		int32_t c = util_utf8_next(&p, end);
		uint32_t cp;
		struct pglyph g;

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
		if (invisible(cp))
			continue;
		if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp < 0xA0)) {
			struct strbuf sb = {0};
			describe_cp(cp, &sb);
			err_set(err, "control character %s in the text of the block at %s", sb.s, blk->where);
			sb_free(&sb);
			return -1;
		}
		/* Collapse spaces, and drop them at the start and end of every line. */
		if (cp == ' ' && (pb->n == 0 || pb->g[pb->n - 1].cp == ' ' || pb->g[pb->n - 1].cp == '\n'))
			continue;
		if (cp == '\n' && pb->n > 0 && pb->g[pb->n - 1].cp == ' ')
			pb->n--;
		if (cp == '\n' && pb->n == 0)
			continue;   /* leading blank lines */
		memset(&g, 0, sizeof g);
		g.cp = cp;
		if (cp != '\n') {
			size_t i;
			if (needs_shaping(cp)) {
				struct strbuf sb = {0};
				describe_cp(cp, &sb);
				err_set(err, "%s is in a right-to-left or complex script, which cards cannot set "
				        "correctly yet (text block at %s)", sb.s, blk->where);
				sb_free(&sb);
				return -1;
			}
			for (i = 0; i < blk->st.nfonts; i++) {
				const struct cardfont *cf = t->fonts[blk->st.font[i]].cf;
				unsigned gid = cardfont_glyph(cf, cp);
				if (gid) {
					g.gid = (uint16_t)gid;
					g.font = (uint8_t)i;
					g.adv = cardfont_advance(cf, gid);
					break;
				}
			}
			if (i == blk->st.nfonts) {
				struct strbuf sb = {0};
				sb_adds(&sb, "no font has ");
				describe_cp(cp, &sb);
				sb_adds(&sb, " (fonts: ");
				font_list(t, &blk->st, &sb);
				sb_addf(&sb, ") for the text block at %s", blk->where);
				err_set(err, "%s", sb.s);
				sb_free(&sb);
				return -1;
			}
		}
		if (pb->n == cap) {
			cap *= 2;
			pb->g = xreallocarray(pb->g, cap, sizeof *pb->g);
		}
		pb->g[pb->n++] = g;
	}
	while (pb->n > 0 && (pb->g[pb->n - 1].cp == ' ' || pb->g[pb->n - 1].cp == '\n'))
		pb->n--;        /* trailing spaces and blank lines */
	return 0;
}

double card_run_width(const struct pblock *pb, size_t a, size_t b, double size, double lsp)
{
	long units = 0;
	for (size_t i = a; i < b; i++)
		units += pb->g[i].adv;
	/* Tc follows every glyph; the last one's does not count towards the line's width. */
	return (double)units * size / 1000.0 + (b > a ? (double)(b - a - 1) * lsp : 0);
}

static void add_line(struct pblock *pb, size_t *cap, size_t a, size_t b, double w)
{
	if (pb->nlines == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		pb->lines = xreallocarray(pb->lines, *cap, sizeof *pb->lines);
	}
	pb->lines[pb->nlines].a = a;
	pb->lines[pb->nlines].b = b;
	pb->lines[pb->nlines].width = w;
	pb->nlines++;
}

/*
 * wrap: breaks the glyphs into lines no wider than the box at size. Returns 0, or -1 with
 * *wide_a.. *wide_b the first word that is wider than the box by itself.
 */
static int wrap(struct pblock *pb, double size, double box_w, size_t *wide_a, size_t *wide_b)
{
	const struct style *st = &pb->blk->st;
	double lsp = st->letter_spacing * size;
	size_t cap = 0, i = 0;

	pb->nlines = 0;
	while (i <= pb->n) {
		/* One paragraph: glyphs [i, pe). */
		size_t pe = i, ls;
		while (pe < pb->n && pb->g[pe].cp != '\n')
			pe++;
		if (pe == i)
			add_line(pb, &cap, i, i, 0);    /* a blank line */
		ls = i;
		while (ls < pe) {
			size_t le = ls, best = ls;
			/* Extend word by word while the line still fits. */
			while (le < pe) {
				size_t we = le;
				if (pb->g[we].cp == ' ')
					we++;
				while (we < pe && pb->g[we].cp != ' ')
					we++;
				if (card_run_width(pb, ls, we, size, lsp) > box_w + 1e-6)
					break;
				best = le = we;
			}
			if (best == ls) {   /* the first word alone is too wide */
				size_t we = ls;
				while (we < pe && pb->g[we].cp != ' ')
					we++;
				*wide_a = ls, *wide_b = we;
				return -1;
			}
			add_line(pb, &cap, ls, best, card_run_width(pb, ls, best, size, lsp));
			ls = best;
			if (ls < pe && pb->g[ls].cp == ' ')
				ls++;
		}
		i = pe + 1;
	}
	return 0;
}

void card_utf8_range(const struct pblock *pb, size_t a, size_t b, struct strbuf *sb)
{
	for (size_t i = a; i < b; i++)
		util_utf8_put(sb, pb->g[i].cp);
}

/* fit: the largest size from size down to min_size (0.5 pt steps) at which the block fits. */
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
		if (wrap(pb, s, box_w, &wa, &wb) == 0) {
			wide = 0;
			if ((double)pb->nlines * s * st->line_spacing <= box_h + 1e-6) {
				pb->size = s;
				return 0;
			}
		} else {
			wide = 1;
		}
		if (s <= st->min_size)
			break;
	}
	{
		struct strbuf sb = {0};
		double s = st->min_size;
		if (wide) {
			sb_adds(&sb, "'");
			card_utf8_range(pb, wa, wb, &sb);
			err_set(err, "the text block at %s does not fit its box: the word %s' is %.1f mm wide at "
			        "min_size %gpt, the box %g mm", blk->where, sb.s,
			        card_run_width(pb, wa, wb, s, st->letter_spacing * s) / MM_PT, s, blk->box[2]);
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

int card_set_text(const struct card_template *t, const struct tblock *blk, const char *text, struct pblock *pb,
                  char err[ERR_LEN])
{
	memset(pb, 0, sizeof *pb);
	pb->blk = blk;
	if (shape(t, blk, text, pb, err) != 0 || fit(pb, err) != 0) {
		free(pb->g);
		free(pb->lines);
		memset(pb, 0, sizeof *pb);
		return -1;
	}
	return 0;
}

/* card_prepare: merges, shapes and fits every text of the card. Nothing is drawn. */
int card_prepare(const struct card_template *t, const struct tval *ctx, struct prepared *p, char err[ERR_LEN])
{
	struct template_opts opts;
	struct strbuf sb = {0};

	memset(p, 0, sizeof *p);
	p->b = xcalloc(t->ntexts ? t->ntexts : 1, sizeof *p->b);
	render_opts(t, &opts);
	for (size_t i = 0; i < t->ntexts; i++) {
		struct pblock *pb = &p->b[p->n++];
		char terr[ERR_LEN];
		pb->blk = &t->texts[i];
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
		if (shape(t, pb->blk, sb.s ? sb.s : "", pb, err) != 0 || fit(pb, err) != 0)
			goto fail;
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
