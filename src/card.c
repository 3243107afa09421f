/*
 * card: batches (one libharu document whose pages are cards) and drawing. Templates are
 * loaded by card_tmpl.c, texts prepared by card_text.c; libharu's errors are card_pdf.c's.
 *
 * A card is prepared completely (every text merged, every code point given a font, every
 * block wrapped and shrunk to fit) before the document is touched, so a card that cannot be
 * printed correctly leaves its batch exactly as it was.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_int.h"


/* ------------------------------------------------------------------ batches */

void card_fonts_refresh(void)
{
	cardfont_system_refresh();
}

int card_batch_new(struct card_batch **out, char err[ERR_LEN])
{
	struct card_batch *b = xcalloc(1, sizeof *b);

	*out = NULL;
	b->spill_fd = -1;
	b->doc = HPDF_New(card_hpdf_handler, &b->herr);
	if (!b->doc) {
		free(b);
		return err_set(err, "libharu: cannot create a document");
	}
	/* UTF-8 for text and for the document information (a title may name a person). */
	if (HPDF_UseUTFEncodings(b->doc) != HPDF_OK || HPDF_SetCurrentEncoder(b->doc, "UTF-8") != HPDF_OK ||
	    HPDF_SetCompressionMode(b->doc, HPDF_COMP_ALL) != HPDF_OK ||
	    HPDF_SetInfoAttr(b->doc, HPDF_INFO_CREATOR, "occasiond") != HPDF_OK ||
	    HPDF_SetInfoAttr(b->doc, HPDF_INFO_TITLE, "Greeting cards") != HPDF_OK ||
	    HPDF_SetPageMode(b->doc, HPDF_PAGE_MODE_USE_NONE) != HPDF_OK ||
	    /*
	     * A flat page tree holds at most 8191 pages (libharu's array limit): a two-level tree
	     * of 512-page nodes takes a batch of thousands of cards with their envelopes.
	     */
	    HPDF_SetPagesConfiguration(b->doc, 512) != HPDF_OK) {
		card_hpdf_fail(err, &b->herr, "cannot set up the document");
		card_batch_free(b);
		return -1;
	}
	*out = b;
	return 0;
}

int card_batch_set_title(struct card_batch *b, const char *title, char err[ERR_LEN])
{
	if (!title || !util_utf8_valid(title, strlen(title)) || util_has_ctl(title, NULL))
		return err_set(err, "a batch title must be UTF-8 text without control characters");
	b->herr.status = 0;
	if (HPDF_SetInfoAttr(b->doc, HPDF_INFO_TITLE, title) != HPDF_OK) {
		HPDF_ResetError(b->doc);
		return card_hpdf_fail(err, &b->herr, "cannot set the title");
	}
	return 0;
}

int card_batch_pages(const struct card_batch *b)
{
	return b ? b->pages : 0;
}

void card_batch_free(struct card_batch *b)
{
	if (!b)
		return;
	if (b->doc)
		HPDF_Free(b->doc);
	card_pdf_spill_free(b);
	card_pdf_free(b);
	for (size_t i = 0; i < b->nimages; i++)
		free(b->images[i].path);
	free(b->images);
	free(b);
}

static HPDF_Image batch_image(struct card_batch *b, const struct timage *im, char err[ERR_LEN])
{
	HPDF_Image img;

	for (size_t i = 0; i < b->nimages; i++)
		if (strcmp(b->images[i].path, im->path) == 0)
			return b->images[i].img;
	if (!(img = card_image_load(b->doc, &b->herr, im->path, im->jpeg, err)))
		return NULL;
	b->images = xreallocarray(b->images, b->nimages + 1, sizeof *b->images);
	b->images[b->nimages].path = xstrdup(im->path);
	b->images[b->nimages].img = img;
	b->nimages++;
	return img;
}

#define H(call) do { if ((call) != HPDF_OK) goto hfail; } while (0)

static HPDF_STATUS rounded_rect(HPDF_Page pg, double x, double y, double w, double h, double r)
{
	const double k = 0.5523 * r;     /* Bezier handle for a quarter circle */
	HPDF_STATUS st = 0;
	if (r <= 0)
		return HPDF_Page_Rectangle(pg, (HPDF_REAL)x, (HPDF_REAL)y, (HPDF_REAL)w, (HPDF_REAL)h);
	st |= HPDF_Page_MoveTo(pg, (HPDF_REAL)(x + r), (HPDF_REAL)y);
	st |= HPDF_Page_LineTo(pg, (HPDF_REAL)(x + w - r), (HPDF_REAL)y);
	st |= HPDF_Page_CurveTo(pg, (HPDF_REAL)(x + w - r + k), (HPDF_REAL)y, (HPDF_REAL)(x + w),
	                        (HPDF_REAL)(y + r - k), (HPDF_REAL)(x + w), (HPDF_REAL)(y + r));
	st |= HPDF_Page_LineTo(pg, (HPDF_REAL)(x + w), (HPDF_REAL)(y + h - r));
	st |= HPDF_Page_CurveTo(pg, (HPDF_REAL)(x + w), (HPDF_REAL)(y + h - r + k), (HPDF_REAL)(x + w - r + k),
	                        (HPDF_REAL)(y + h), (HPDF_REAL)(x + w - r), (HPDF_REAL)(y + h));
	st |= HPDF_Page_LineTo(pg, (HPDF_REAL)(x + r), (HPDF_REAL)(y + h));
	st |= HPDF_Page_CurveTo(pg, (HPDF_REAL)(x + r - k), (HPDF_REAL)(y + h), (HPDF_REAL)x,
	                        (HPDF_REAL)(y + h - r + k), (HPDF_REAL)x, (HPDF_REAL)(y + h - r));
	st |= HPDF_Page_LineTo(pg, (HPDF_REAL)x, (HPDF_REAL)(y + r));
	st |= HPDF_Page_CurveTo(pg, (HPDF_REAL)x, (HPDF_REAL)(y + r - k), (HPDF_REAL)(x + r - k), (HPDF_REAL)y,
	                        (HPDF_REAL)(x + r), (HPDF_REAL)y);
	st |= HPDF_Page_ClosePath(pg);
	return st;
}

/* rtl_letter: a character of a right-to-left script (Hebrew, Arabic, Syriac, ... and their forms). */
static int rtl_letter(uint32_t c)
{
	return ((c >= 0x0590 && c <= 0x08FF) || (c >= 0xFB1D && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF) ||
	        (c >= 0x10800 && c <= 0x10FFF) || (c >= 0x1E800 && c <= 0x1EFFF)) && !cardfont_is_mark(c);
}

/*
 * actual_text: the line's characters as a UTF-16BE hex string for /ActualText. poppler
 * (pdftotext) spreads a span's characters left to right over it and then turns every
 * right-to-left stretch around, as it must for glyphs drawn in display order; so each
 * right-to-left stretch (odd bidi level) goes in reversed, the stretches themselves in
 * logical order, and extraction gives back the line as written.
 */
/*
 * A page's text is written glyph by glyph; printf's number formatting was a fifth of a batch's
 * time. These write what "%.Nf" and "%04X" would, by integer arithmetic (ties may round the
 * other way in the last digit, a thousandth of a point).
 */
static void add_fixed(struct strbuf *sb, double v, int dec)
{
	static const double scale[] = {1, 10, 100, 1000, 10000};
	char buf[48];
	size_t i = sizeof buf;
	long long q = llround(v * scale[dec]);
	unsigned long long u;

	if (!isfinite(v) || fabs(v) > 1e12) {       /* never on a card; printf says what it is */
		sb_addf(sb, "%.*f", dec, v);
		return;
	}
	u = q < 0 ? (unsigned long long)-q : (unsigned long long)q;
	for (int d = 0; d < dec; d++) {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	}
	if (dec)
		buf[--i] = '.';
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (q < 0)
		buf[--i] = '-';
	sb_addn(sb, buf + i, sizeof buf - i);
}

static void add_hex4(struct strbuf *sb, unsigned v)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[4] = {hex[v >> 12 & 15], hex[v >> 8 & 15], hex[v >> 4 & 15], hex[v & 15]};

	if (v > 0xFFFF) {
		sb_addf(sb, "%04X", v);
		return;
	}
	sb_addn(sb, buf, sizeof buf);
}

static void actual_text(struct strbuf *sb, const struct pblock *pb, size_t a, size_t b)
{
	size_t n = b - a, *ix = xcalloc(n ? n : 1, sizeof *ix);
	for (size_t i = 0; i < n; i++)
		ix[i] = a + i;
	for (size_t i = 0; i < n;) {
		size_t j = i, x0, x1;
		if (!(pb->level[ix[i]] & 1)) {
			i++;
			continue;
		}
		while (j < n && (pb->level[ix[j]] & 1))
			j++;
		/* Spaces and punctuation at its ends stay where they are, as poppler keeps them. */
		x0 = i, x1 = j;
		while (x0 < x1 && !rtl_letter(pb->cp[ix[x0]]))
			x0++;
		while (x1 > x0 && !rtl_letter(pb->cp[ix[x1 - 1]]) && !cardfont_is_mark(pb->cp[ix[x1 - 1]]))
			x1--;
		for (size_t x = x0, y = x1; x + 1 < y; x++, y--) {
			size_t tmp = ix[x];
			ix[x] = ix[y - 1], ix[y - 1] = tmp;
		}
		i = j;
	}
	sb_adds(sb, "<FEFF");
	for (size_t i = 0; i < n; i++) {
		uint32_t c = pb->cp[ix[i]];
		if (c >= 0x10000) {
			c -= 0x10000;
			add_hex4(sb, 0xD800 + (unsigned)(c >> 10));
			add_hex4(sb, 0xDC00 + (unsigned)(c & 0x3FF));
		} else {
			add_hex4(sb, (unsigned)c);
		}
	}
	sb_adds(sb, ">");
	free(ix);
}

/*
 * plain_line: the line's glyphs stand for its characters one after another, left to right,
 * in scripts without reordering (Latin, Greek, Cyrillic, Armenian, their punctuation and
 * CJK), only spaces left over at its end. Such a line extracts right through the fonts'
 * ToUnicode maps alone, so it needs no ActualText (which costs a batch some 15% a card).
 */
static int plain_line(const struct pblock *pb, const struct pline *ln)
{
	size_t next = ln->a;
	/* Letter spacing (and any gap wider than a kern) reads as spaces between the letters. */
	if (pb->blk->st.letter_spacing != 0)
		return 0;
	for (size_t k = 0; k < ln->ng; k++) {
		const struct sglyph *g = &ln->g[k];
		if (g->nu == 0 || g->cp != next)
			return 0;
		if (k + 1 < ln->ng && ln->g[k + 1].x - g->x - pb->w[g->cp] > 80)
			return 0;
		next += g->nu;
	}
	for (size_t i = ln->a; i < ln->b; i++) {
		uint32_t c = pb->cp[i];
		if (pb->level[i] & 1)
			return 0;
		if (i >= next && c != ' ')
			return 0;
		if (!(c < 0x0590 || (c >= 0x1E00 && c <= 0x200A) || (c >= 0x2010 && c <= 0x2027) ||
		      (c >= 0x2030 && c <= 0x205E) || (c >= 0x20A0 && c <= 0x20CF) || (c >= 0x3000 && c <= 0x9FFF) ||
		      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xFF01 && c <= 0xFF60)) ||
		    (c >= 0x0300 && c <= 0x036F))
			return 0;
	}
	return 1;
}

/*
 * card_draw_block: one prepared block as text. Each line is a marked-content span whose
 * ActualText is the line as written (logical order); inside it the glyphs go in visual
 * order, each where HarfBuzz put it: a TJ adjustment moves the pen from where the PDF's own
 * advance left it, and a rise (Ts) lifts marks.
 */
int card_draw_block(struct card_batch *b, const struct card_template *t, HPDF_Page pg, double page_h,
                    const struct pblock *pb)
{
	const struct tblock *blk = pb->blk;
	const struct style *st = &blk->st;
	const struct cardfont *primary = t->fonts[st->font[0]].cf;
	double s = pb->size, lh = s * st->line_spacing;
	double x0 = blk->box[0] * MM_PT, w = blk->box[2] * MM_PT, h = blk->box[3] * MM_PT;
	double top = page_h - blk->box[1] * MM_PT, content = (double)pb->nlines * lh;
	double asc = cardfont_ascent(primary), desc = cardfont_descent(primary);
	HPDF_Stream out = ((HPDF_PageAttr)pg->attr)->stream;
	struct strbuf sb = {0};
	int rc = -1;

	if (st->valign == VA_MIDDLE)
		top -= (h - content) / 2;
	else if (st->valign == VA_BOTTOM)
		top -= h - content;
	sb_adds(&sb, "BT\n");
	add_fixed(&sb, st->colour.r, 4);
	sb_addc(&sb, ' ');
	add_fixed(&sb, st->colour.g, 4);
	sb_addc(&sb, ' ');
	add_fixed(&sb, st->colour.b, 4);
	sb_adds(&sb, " rg\n");
	for (size_t li = 0; li < pb->nlines; li++) {
		const struct pline *ln = &pb->lines[li];
		/* The em box sits centred in the line; the baseline divides it as the font's metrics do. */
		double y = top - (double)li * lh - (lh - s) / 2 - s * asc / (asc - desc);
		double x = x0, pen = 0, rise = 0;       /* pen: where the PDF's pen is, 1/1000 em from x */
		struct dfont *cur = NULL;
		int in_tj = 0, plain;
		if (ln->ng == 0)
			continue;
		if (st->align == AL_CENTER)
			x += (w - ln->width * s / 1000.0) / 2;
		else if (st->align == AL_RIGHT)
			x += w - ln->width * s / 1000.0;
		plain = plain_line(pb, ln);
		if (!plain) {
			sb_adds(&sb, "/Span <</ActualText ");
			actual_text(&sb, pb, ln->a, ln->b);
			sb_adds(&sb, ">> BDC\n");
		}
		sb_adds(&sb, "1 0 0 1 ");
		add_fixed(&sb, x, 3);
		sb_addc(&sb, ' ');
		add_fixed(&sb, y, 3);
		sb_adds(&sb, " Tm\n");
		for (size_t k = 0; k < ln->ng; k++) {
			const struct sglyph *g = &ln->g[k];
			struct dfont *df = card_pdf_font(b, g->f);
			unsigned cid;
			double adj;
			if (!df)
				goto out;
			cid = card_pdf_use(df, g->gid, pb->cp + g->cp, g->nu);
			if (df != cur || g->y != rise) {
				const char *name;
				if (in_tj)
					sb_adds(&sb, "] TJ\n");
				in_tj = 0;
				if (df != cur) {
					if (!(name = card_pdf_font_name(df, pg)))
						goto out;
					sb_addc(&sb, '/');
					sb_adds(&sb, name);
					sb_addc(&sb, ' ');
					add_fixed(&sb, s, 3);
					sb_adds(&sb, " Tf\n");
					cur = df;
				}
				if (g->y != rise) {
					add_fixed(&sb, g->y * s / 1000.0, 3);
					sb_adds(&sb, " Ts\n");
					rise = g->y;
				}
			}
			if (!in_tj)
				sb_adds(&sb, "[");
			in_tj = 1;
			adj = g->x - pen;
			if (adj > 0.05 || adj < -0.05)
				add_fixed(&sb, -adj, 1);
			sb_addc(&sb, '<');
			add_hex4(&sb, cid & 0xFFFF);
			sb_addc(&sb, '>');
			pen = g->x + card_pdf_advance(df, g->gid);
		}
		if (in_tj)
			sb_adds(&sb, "] TJ\n");
		if (rise != 0)
			sb_adds(&sb, "0 Ts\n");
		if (!plain)
			sb_adds(&sb, "EMC\n");
	}
	sb_adds(&sb, "ET\n");
	if (HPDF_Stream_Write(out, (const HPDF_BYTE *)sb.s, (HPDF_UINT)sb.len) != HPDF_OK)
		goto out;
	rc = 0;
out:
	sb_free(&sb);
	return rc;
}

static int draw_image(HPDF_Page pg, double page_h, const struct timage *im, HPDF_Image img)
{
	double bx = im->box[0] * MM_PT, bw = im->box[2] * MM_PT, bh = im->box[3] * MM_PT;
	double by = page_h - (im->box[1] + im->box[3]) * MM_PT;
	double w = bw, h = bh;

	if (im->fit != FIT_STRETCH) {
		double sx = bw / im->px_w, sy = bh / im->px_h;
		double k = im->fit == FIT_CONTAIN ? fmin(sx, sy) : fmax(sx, sy);
		w = im->px_w * k, h = im->px_h * k;
	}
	H(HPDF_Page_GSave(pg));
	if (im->fit == FIT_COVER) {
		H(HPDF_Page_Rectangle(pg, (HPDF_REAL)bx, (HPDF_REAL)by, (HPDF_REAL)bw, (HPDF_REAL)bh));
		H(HPDF_Page_Clip(pg));
		H(HPDF_Page_EndPath(pg));
	}
	H(HPDF_Page_DrawImage(pg, img, (HPDF_REAL)(bx + (bw - w) / 2), (HPDF_REAL)(by + (bh - h) / 2),
	                      (HPDF_REAL)w, (HPDF_REAL)h));
	H(HPDF_Page_GRestore(pg));
	return 0;
hfail:
	return -1;
}

static int draw_shapes(HPDF_Page pg, const struct card_template *t, double page_h, int lines, int panel)
{
	if (!lines) {
		for (size_t i = 0; i < t->nrects; i++) {
			const struct trect *r = &t->rects[i];
			if (r->panel != panel)
				continue;
			H(HPDF_Page_GSave(pg));
			if (r->has_fill)
				H(HPDF_Page_SetRGBFill(pg, (HPDF_REAL)r->fill.r, (HPDF_REAL)r->fill.g, (HPDF_REAL)r->fill.b));
			if (r->has_stroke) {
				H(HPDF_Page_SetRGBStroke(pg, (HPDF_REAL)r->stroke.r, (HPDF_REAL)r->stroke.g,
				                         (HPDF_REAL)r->stroke.b));
				H(HPDF_Page_SetLineWidth(pg, (HPDF_REAL)r->width));
			}
			H(rounded_rect(pg, r->box[0] * MM_PT, page_h - (r->box[1] + r->box[3]) * MM_PT, r->box[2] * MM_PT,
			               r->box[3] * MM_PT, r->radius * MM_PT));
			if (r->has_fill && r->has_stroke)
				H(HPDF_Page_FillStroke(pg));
			else if (r->has_fill)
				H(HPDF_Page_Fill(pg));
			else
				H(HPDF_Page_Stroke(pg));
			H(HPDF_Page_GRestore(pg));
		}
		return 0;
	}
	for (size_t i = 0; i < t->nlines; i++) {
		const struct tline *l = &t->lines[i];
		if (l->panel != panel)
			continue;
		H(HPDF_Page_GSave(pg));
		H(HPDF_Page_SetRGBStroke(pg, (HPDF_REAL)l->colour.r, (HPDF_REAL)l->colour.g, (HPDF_REAL)l->colour.b));
		H(HPDF_Page_SetLineWidth(pg, (HPDF_REAL)l->width));
		if (l->round)
			H(HPDF_Page_SetLineCap(pg, HPDF_ROUND_END));
		if (l->dashed)
			H(HPDF_Page_SetDash(pg, l->dash, 2, 0));
		H(HPDF_Page_MoveTo(pg, (HPDF_REAL)(l->x1 * MM_PT), (HPDF_REAL)(page_h - l->y1 * MM_PT)));
		H(HPDF_Page_LineTo(pg, (HPDF_REAL)(l->x2 * MM_PT), (HPDF_REAL)(page_h - l->y2 * MM_PT)));
		H(HPDF_Page_Stroke(pg));
		H(HPDF_Page_GRestore(pg));
	}
	return 0;
hfail:
	return -1;
}

/*
 * fold_marks: short ticks where the sheet folds, at its edges only (outside the panels'
 * content, inside a printer's unprintable border), so nothing shows on the finished card.
 */
static int fold_marks(HPDF_Page pg, double sw, double sh)
{
	const double a = 4 * MM_PT, b = 9 * MM_PT;
	H(HPDF_Page_GSave(pg));
	H(HPDF_Page_SetRGBStroke(pg, 0.6f, 0.6f, 0.6f));
	H(HPDF_Page_SetLineWidth(pg, 0.4f));
	H(HPDF_Page_MoveTo(pg, (HPDF_REAL)(sw / 2), (HPDF_REAL)a));
	H(HPDF_Page_LineTo(pg, (HPDF_REAL)(sw / 2), (HPDF_REAL)b));
	H(HPDF_Page_MoveTo(pg, (HPDF_REAL)(sw / 2), (HPDF_REAL)(sh - a)));
	H(HPDF_Page_LineTo(pg, (HPDF_REAL)(sw / 2), (HPDF_REAL)(sh - b)));
	H(HPDF_Page_MoveTo(pg, (HPDF_REAL)a, (HPDF_REAL)(sh / 2)));
	H(HPDF_Page_LineTo(pg, (HPDF_REAL)b, (HPDF_REAL)(sh / 2)));
	H(HPDF_Page_MoveTo(pg, (HPDF_REAL)(sw - a), (HPDF_REAL)(sh / 2)));
	H(HPDF_Page_LineTo(pg, (HPDF_REAL)(sw - b), (HPDF_REAL)(sh / 2)));
	H(HPDF_Page_Stroke(pg));
	H(HPDF_Page_GRestore(pg));
	return 0;
hfail:
	return -1;
}

int card_batch_add(struct card_batch *b, const struct card_template *t, const struct tval *ctx, int *page,
                   char err[ERR_LEN])
{
	struct prepared p;
	HPDF_Image *imgs = NULL;
	HPDF_Page pg;
	double pw = t->w_mm * MM_PT, ph = t->h_mm * MM_PT, sw = t->sheet_w * MM_PT, sh = t->sheet_h * MM_PT;
	int rc = -1;

	if (b->broken)
		return err_set(err, "this batch is unusable after an earlier libharu error");
	if (card_prepare(t, ctx, &p, err) != 0)
		return -1;
	imgs = xcalloc(t->nimages + 1, sizeof *imgs);
	for (size_t i = 0; i < t->nimages; i++)
		if (!(imgs[i] = batch_image(b, &t->images[i], err)))
			goto out;

	b->herr.status = 0;
	pg = HPDF_AddPage(b->doc);
	if (!pg)
		goto hfail;
	b->pages++;
	H(HPDF_Page_SetWidth(pg, (HPDF_REAL)sw));
	H(HPDF_Page_SetHeight(pg, (HPDF_REAL)sh));
	for (int panel = t->folded ? PANEL_FRONT : PANEL_INSIDE; panel >= PANEL_INSIDE; panel--) {
		int has_bg = panel == PANEL_FRONT ? t->has_front_bg : t->has_bg;
		const struct rgb *bg = panel == PANEL_FRONT ? &t->front_bg : &t->bg;
		H(HPDF_Page_GSave(pg));
		/* Each panel draws in its own coordinates (see PANEL_FRONT in card_int.h). */
		if (t->folded && panel == PANEL_FRONT)
			H(HPDF_Page_Concat(pg, -1, 0, 0, -1, (HPDF_REAL)pw, (HPDF_REAL)(2 * ph)));
		else if (t->folded)
			H(HPDF_Page_Concat(pg, 1, 0, 0, 1, (HPDF_REAL)pw, 0));
		if (has_bg) {
			H(HPDF_Page_SetRGBFill(pg, (HPDF_REAL)bg->r, (HPDF_REAL)bg->g, (HPDF_REAL)bg->b));
			H(HPDF_Page_Rectangle(pg, 0, 0, (HPDF_REAL)pw, (HPDF_REAL)ph));
			H(HPDF_Page_Fill(pg));
		}
		if (draw_shapes(pg, t, ph, 0, panel) != 0)
			goto hfail;
		for (size_t i = 0; i < t->nimages; i++)
			if (t->images[i].panel == panel && draw_image(pg, ph, &t->images[i], imgs[i]) != 0)
				goto hfail;
		if (draw_shapes(pg, t, ph, 1, panel) != 0)
			goto hfail;
		for (size_t i = 0; i < p.n; i++)
			if (p.b[i].blk->panel == panel && p.b[i].nlines &&
			    card_draw_block(b, t, pg, ph, &p.b[i]) != 0)
				goto hfail;
		H(HPDF_Page_GRestore(pg));
	}
	if (t->folded && fold_marks(pg, sw, sh) != 0)
		goto hfail;
	if (b->herr.status)
		goto hfail;
	/* Its drawing deflated now: a batch holds thousands of pages until it is saved. */
	if (card_pdf_page_done(b, pg) != 0)
		goto hfail;
	if (page)
		*page = b->pages;
	rc = 0;
	goto out;
hfail:
	/* libharu cannot take a page back: the document is no longer trustworthy. */
	b->broken = 1;
	card_hpdf_fail(err, &b->herr, "cannot draw the card");
	HPDF_ResetError(b->doc);
out:
	free(imgs);
	card_prepared_free(&p);
	return rc;
}

int card_batch_save(struct card_batch *b, const char *path, char err[ERR_LEN])
{
	int rc;

	if (b->broken)
		return err_set(err, "this batch is unusable after an earlier libharu error");
	if (b->pages == 0)
		return err_set(err, "a batch with no cards is not written");
	b->herr.status = 0;
	if (card_pdf_finish(b, err) != 0) {
		HPDF_ResetError(b->doc);
		return -1;
	}
	rc = card_pdf_save(b, path, err);
	b->herr.status = 0;
	HPDF_ResetError(b->doc);
	return rc;
}
