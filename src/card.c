/*
 * card: batches (one libharu document whose pages are cards) and drawing, and libharu's
 * error reporting. Templates are loaded by card_tmpl.c and texts prepared by card_text.c.
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


void HPDF_STDCALL card_hpdf_handler(HPDF_STATUS status, HPDF_STATUS detail, void *ud)
{
	struct hpdf_err *e = ud;
	/* Keep the first error: later ones are usually consequences. */
	if (e && !e->status) {
		e->status = status;
		e->detail = detail;
	}
}

static const char *hpdf_status_name(HPDF_STATUS s)
{
	switch (s) {
	case HPDF_FAILD_TO_ALLOC_MEM: return "out of memory";
	case HPDF_FILE_IO_ERROR: return "file I/O error";
	case HPDF_FILE_OPEN_ERROR: return "cannot open file";
	case HPDF_INVALID_PNG_IMAGE: return "invalid PNG image";
	case HPDF_UNSUPPORTED_JPEG_FORMAT: return "unsupported JPEG format";
	case HPDF_INVALID_JPEG_DATA: return "invalid JPEG data";
	case HPDF_TTF_INVALID_CMAP: return "invalid TrueType cmap";
	case HPDF_TTF_INVALID_FOMAT: return "invalid TrueType font";
	case HPDF_TTF_MISSING_TABLE: return "TrueType table missing";
	case HPDF_TTF_CANNOT_EMBEDDING_FONT: return "font may not be embedded";
	case HPDF_PAGE_INVALID_SIZE: return "invalid page size";
	case HPDF_INVALID_FONT_NAME: return "invalid font name";
	case HPDF_FONT_EXISTS: return "font already loaded";
	default: return "error";
	}
}

int card_hpdf_fail(char err[ERR_LEN], struct hpdf_err *e, const char *what)
{
	err_set(err, "libharu: %s: %s (0x%04X, detail %u)", what, hpdf_status_name(e->status),
	        (unsigned)e->status, (unsigned)e->detail);
	return -1;
}

/* ------------------------------------------------------------------ batches */

int card_batch_new(struct card_batch **out, char err[ERR_LEN])
{
	struct card_batch *b = xcalloc(1, sizeof *b);

	*out = NULL;
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
	for (size_t i = 0; i < b->nfonts; i++) {
		free(b->fonts[i]->path);
		free(b->fonts[i]);
	}
	free(b->fonts);
	for (size_t i = 0; i < b->nimages; i++)
		free(b->images[i].path);
	free(b->images);
	free(b);
}

/* batch_font: the document's font for a template font, loaded once per document. */
struct bfont *card_batch_font(struct card_batch *b, const struct tfont *tf, char err[ERR_LEN])
{
	const char *name;
	struct bfont *f;

	for (size_t i = 0; i < b->nfonts; i++)
		if (strcmp(b->fonts[i]->path, tf->path) == 0)
			return b->fonts[i];
	b->herr.status = 0;
	name = HPDF_LoadTTFontFromFile(b->doc, tf->path, HPDF_TRUE);
	if (!name || b->herr.status) {
		card_hpdf_fail(err, &b->herr, tf->name);
		HPDF_ResetError(b->doc);
		return NULL;
	}
	f = xcalloc(1, sizeof *f);
	f->font = HPDF_GetFont(b->doc, name, "UTF-8");
	f->def = HPDF_GetFontDef(b->doc, name);
	if (!f->font || !f->def || b->herr.status ||
	    ((HPDF_TTFontDefAttr)f->def->attr)->num_glyphs != cardfont_num_glyphs(tf->cf)) {
		card_hpdf_fail(err, &b->herr, tf->name);
		HPDF_ResetError(b->doc);
		free(f);
		return NULL;
	}
	f->path = xstrdup(tf->path);
	b->fonts = xreallocarray(b->fonts, b->nfonts + 1, sizeof *b->fonts);
	b->fonts[b->nfonts++] = f;
	return f;
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

/* draw_block: one prepared text block, run by run (a run is a stretch in one font). */
int card_draw_block(const struct card_template *t, HPDF_Page pg, double page_h,
                      const struct pblock *pb, struct bfont **bf)
{
	const struct tblock *blk = pb->blk;
	const struct style *st = &blk->st;
	const struct cardfont *primary = t->fonts[st->font[0]].cf;
	double s = pb->size, lh = s * st->line_spacing, lsp = st->letter_spacing * s;
	double x0 = blk->box[0] * MM_PT, w = blk->box[2] * MM_PT, h = blk->box[3] * MM_PT;
	double top = page_h - blk->box[1] * MM_PT, content = (double)pb->nlines * lh;
	double asc = cardfont_ascent(primary), desc = cardfont_descent(primary);
	struct strbuf sb = {0};

	if (st->valign == VA_MIDDLE)
		top -= (h - content) / 2;
	else if (st->valign == VA_BOTTOM)
		top -= h - content;
	H(HPDF_Page_BeginText(pg));
	H(HPDF_Page_SetRGBFill(pg, (HPDF_REAL)st->colour.r, (HPDF_REAL)st->colour.g, (HPDF_REAL)st->colour.b));
	H(HPDF_Page_SetCharSpace(pg, (HPDF_REAL)lsp));
	for (size_t li = 0; li < pb->nlines; li++) {
		const struct pline *ln = &pb->lines[li];
		/* The em box sits centred in the line; the baseline divides it as the font's metrics do. */
		double y = top - (double)li * lh - (lh - s) / 2 - s * asc / (asc - desc);
		double x = x0;
		if (st->align == AL_CENTER)
			x += (w - ln->width) / 2;
		else if (st->align == AL_RIGHT)
			x += w - ln->width;
		for (size_t a = ln->a; a < ln->b;) {
			size_t e = a;
			struct bfont *f = bf[pb->g[a].font];
			const struct cardfont *cf = t->fonts[st->font[pb->g[a].font]].cf;
			HPDF_TTFontDefAttr attr = (HPDF_TTFontDefAttr)f->def->attr;
			while (e < ln->b && pb->g[e].font == pb->g[a].font)
				e++;
			sb_reset(&sb);
			card_utf8_range(pb, a, e, &sb);
			H(HPDF_Page_SetFontAndSize(pg, f->font, (HPDF_REAL)s));
			H(HPDF_Page_TextOut(pg, (HPDF_REAL)x, (HPDF_REAL)y, sb.s));
			/*
			 * libharu 2.3.0 embeds a composite glyph's direct components only, so an accent
			 * built from a composite mark (e in NotoSerifDisplay-Italic, Cyrillic yo in DejaVu)
			 * would vanish from the print while the text layer still reads right. Mark the whole
			 * component tree of every glyph used as used.
			 */
			for (size_t i = a; i < e; i++)
				cardfont_mark_glyph(cf, pb->g[i].gid, attr->glyph_tbl.flgs);
			x += card_run_width(pb, a, e, s, lsp) + lsp;
			a = e;
		}
	}
	H(HPDF_Page_EndText(pg));
	sb_free(&sb);
	return 0;
hfail:
	sb_free(&sb);
	return -1;
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
	struct bfont **fonts = NULL;   /* per text block: its style's fonts in the document */
	HPDF_Image *imgs = NULL;
	HPDF_Page pg;
	double pw = t->w_mm * MM_PT, ph = t->h_mm * MM_PT, sw = t->sheet_w * MM_PT, sh = t->sheet_h * MM_PT;
	int rc = -1;

	if (b->broken)
		return err_set(err, "this batch is unusable after an earlier libharu error");
	if (card_prepare(t, ctx, &p, err) != 0)
		return -1;
	/* Load what the page needs (only fonts some glyph uses) before adding the page. */
	fonts = xcalloc(p.n * CARD_MAX_FONTS + 1, sizeof *fonts);
	for (size_t i = 0; i < p.n; i++)
		for (size_t k = 0; k < p.b[i].n; k++) {
			const struct pglyph *g = &p.b[i].g[k];
			struct bfont **slot = &fonts[i * CARD_MAX_FONTS + g->font];
			if (g->cp == '\n' || *slot)
				continue;
			if (!(*slot = card_batch_font(b, &t->fonts[p.b[i].blk->st.font[g->font]], err)))
				goto out;
		}
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
			    card_draw_block(t, pg, ph, &p.b[i], &fonts[i * CARD_MAX_FONTS]) != 0)
				goto hfail;
		H(HPDF_Page_GRestore(pg));
	}
	if (t->folded && fold_marks(pg, sw, sh) != 0)
		goto hfail;
	if (b->herr.status)
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
	free(fonts);
	free(imgs);
	card_prepared_free(&p);
	return rc;
}

int card_batch_save(struct card_batch *b, const char *path, char err[ERR_LEN])
{
	HPDF_UINT32 size, off = 0;
	unsigned char *buf = NULL;
	int rc = -1;

	if (b->broken)
		return err_set(err, "this batch is unusable after an earlier libharu error");
	if (b->pages == 0)
		return err_set(err, "a batch with no cards is not written");
	b->herr.status = 0;
	if (HPDF_SaveToStream(b->doc) != HPDF_OK || b->herr.status) {
		card_hpdf_fail(err, &b->herr, "cannot write the PDF");
		HPDF_ResetError(b->doc);
		return -1;
	}
	/*
	 * libharu 2.3.0 refills the same memory stream on a second save but leaves its read
	 * position in the freed first buffer: rewind before reading, or the bytes are garbage.
	 */
	if (HPDF_ResetStream(b->doc) != HPDF_OK) {
		card_hpdf_fail(err, &b->herr, "cannot rewind the PDF stream");
		goto out;
	}
	size = HPDF_GetStreamSize(b->doc);
	if (size == 0) {
		err_set(err, "libharu wrote an empty PDF");
		goto out;
	}
	buf = xmalloc(size);
	while (off < size) {
		HPDF_UINT32 n = size - off;
		HPDF_STATUS st = HPDF_ReadFromStream(b->doc, buf + off, &n);
		off += n;
		if (st != HPDF_OK && st != HPDF_STREAM_EOF)
			break;
		if (n == 0 || st == HPDF_STREAM_EOF)
			break;
	}
	if (off != size) {
		card_hpdf_fail(err, &b->herr, "cannot read the PDF back");
		HPDF_ResetError(b->doc);
		goto out;
	}
	rc = util_write_atomic(path, buf, size, err);
out:
	b->herr.status = 0;
	HPDF_ResetError(b->doc);
	free(buf);
	return rc;
}
