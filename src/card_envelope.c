/*
 * card_envelope: what a batch holds besides its cards. The cover sheet (who signs, by when,
 * a table of the cards with a tick box each, cards without a postal address flagged) goes
 * before the cards; an envelope page per card and sheets of address labels go after them.
 * Text is set with the card machinery (card_set_text, card_draw_block), so names in any
 * script the fonts cover print right here too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_int.h"

const char *const card_envelope_names[CARD_ENV_COUNT] = {"none", "c6", "dl", "a7", "no10"};
const char *const card_labels_names[CARD_LABELS_COUNT] = {"none", "l7160", "5160"};

/* Envelopes, landscape, mm: ISO C6 (A6 cards), DL, US A7 (5x7 in cards), US #10. */
static const double env_size[CARD_ENV_COUNT][2] = {
	{0, 0}, {162, 114}, {220, 110}, {184.15, 133.35}, {241.3, 104.775},
};

struct label_sheet {
	double page_w, page_h;     /* mm */
	int cols, rows;
	double top, left, w, h, pitch_x, pitch_y;
	const char *name;
};
static const struct label_sheet label_sheets[CARD_LABELS_COUNT] = {
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ""},
	{210, 297, 3, 7, 15.15, 7.25, 63.5, 38.1, 66.04, 38.1, "Avery L7160"},
	{215.9, 279.4, 3, 10, 12.7, 4.7625, 66.675, 25.4, 69.85, 25.4, "Avery 5160"},
};

#define COVER_FIRST_ROWS 20    /* table rows on the cover's first page */
#define COVER_MORE_ROWS 29     /* on each further page */
#define ROW_MM 8.2

static const struct rgb INK = {0.13, 0.13, 0.13}, MUTED = {0.42, 0.42, 0.42}, ACCENT = {0.478, 0.122, 0.239},
                        RULE = {0.83, 0.80, 0.74}, SHADE = {0.965, 0.953, 0.925}, WARN = {0.70, 0.16, 0.10};

struct cover {
	struct card_batch *b;
	struct card_template t;    /* only its fonts are used */
	struct style serif, sans;  /* font lists: serif first, or sans first */
	double page_h;             /* pt, of the page being drawn */
	HPDF_Page pg;
	const char *lang;          /* the recipient's CJK convention while its name and address are set */
};

int card_cover_pages(size_t n)
{
	if (n <= COVER_FIRST_ROWS)
		return 1;
	return 1 + (int)((n - COVER_FIRST_ROWS + COVER_MORE_ROWS - 1) / COVER_MORE_ROWS);
}

static void add_font(struct cover *c, const char *path)
{
	struct cardfont *cf = NULL;
	char err[ERR_LEN];
	if (c->t.nfonts >= CARD_MAX_FONTS)
		return;
	for (size_t i = 0; i < c->t.nfonts; i++)
		if (strcmp(c->t.fonts[i].path, path) == 0)
			return;
	if (!util_file_exists(path) || cardfont_load(path, 0, &cf, err) != 0)
		return;
	c->t.fonts = xreallocarray(c->t.fonts, c->t.nfonts + 1, sizeof *c->t.fonts);
	c->t.fonts[c->t.nfonts].path = xstrdup(path);
	c->t.fonts[c->t.nfonts].name = xstrdup(path);
	c->t.fonts[c->t.nfonts].cf = cf;
	c->t.nfonts++;
}

static void cover_free(struct cover *c)
{
	for (size_t i = 0; i < c->t.nfonts; i++) {
		free(c->t.fonts[i].path);
		free(c->t.fonts[i].name);
		cardfont_free(c->t.fonts[i].cf);
	}
	free(c->t.fonts);
}

/* cover_fonts: Noto Serif Display and Lato, DejaVu Sans, then the system's (card_font_for). */
static int cover_fonts(struct cover *c, const char *fonts_dir, char err[ERR_LEN])
{
	static const char *const shipped[] = {"NotoSerifDisplay-Regular.ttf", "Lato-Regular.ttf", "DejaVuSans.ttf"};
	size_t serif = (size_t)-1, sans = (size_t)-1;
	for (size_t i = 0; fonts_dir && i < 3; i++) {
		char *p = util_path_join(fonts_dir, shipped[i]);
		size_t before = c->t.nfonts;
		add_font(c, p);
		if (c->t.nfonts > before && i == 0)
			serif = before;
		if (c->t.nfonts > before && i == 1)
			sans = before;
		free(p);
	}
	if (c->t.nfonts == 0)
		return err_set(err, "the cover sheet needs a font: none found in %s", fonts_dir ? fonts_dir : "(none)");
	if (sans == (size_t)-1)
		sans = serif != (size_t)-1 ? serif : 0;
	if (serif == (size_t)-1)
		serif = sans;
	c->serif.font[c->serif.nfonts++] = serif;
	c->sans.font[c->sans.nfonts++] = sans;
	for (size_t i = 0; i < c->t.nfonts; i++) {
		if (i != serif)
			c->serif.font[c->serif.nfonts++] = i;
		if (i != sans)
			c->sans.font[c->sans.nfonts++] = i;
	}
	return 0;
}

/* covered: the text with what no font has written as [U+XXXX], controls as spaces. */
static char *covered(const struct cover *c, const struct style *st, const char *text)
{
	struct strbuf sb = {0};
	const char *p = text, *end = text + strlen(text);
	while (p < end) {
		int32_t cp = util_utf8_next(&p, end);
		struct cardfont *f;
		if (cp < 0) {
			sb_adds(&sb, "?");
			continue;
		}
		if (cp == '\n' || cp == ' ') {
			sb_addn(&sb, cp == '\n' ? "\n" : " ", 1);
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
			sb_adds(&sb, " ");
			continue;
		}
		f = card_font_for(&c->t, st, (uint32_t)cp, NULL, c->lang);
		if (f && (cardfont_glyph(f, (uint32_t)cp) || cardfont_is_mark((uint32_t)cp)))
			util_utf8_put(&sb, (uint32_t)cp);
		else
			sb_addf(&sb, "[U+%04X]", (unsigned)cp);
	}
	return sb.s ? sb.s : xstrdup("");
}

/*
 * put: sets text in the box [x, y, w, h] (mm from the page's top-left). Text too long for
 * the box even at min_size is cut at the end with an ellipsis: on the cover and envelopes
 * this only happens to absurdly long fields, and the card itself is never cut.
 */
static int put(struct cover *c, const struct style *base, double size, double min_size, const struct rgb *colour,
               enum align al, double x, double y, double w, double h, double spacing, const char *text,
               char err[ERR_LEN])
{
	struct tblock blk;
	struct pblock pb;
	char *s = covered(c, base, text);
	size_t len = strlen(s);
	int rc = -1;

	memset(&blk, 0, sizeof blk);
	blk.st = *base;
	blk.st.size = size;
	blk.st.min_size = min_size;
	blk.st.colour = *colour;
	blk.st.align = al;
	blk.st.valign = VA_MIDDLE;
	blk.st.line_spacing = 1.25;
	blk.st.letter_spacing = spacing;
	blk.box[0] = x, blk.box[1] = y, blk.box[2] = w, blk.box[3] = h;
	blk.where = "the cover sheet";
	for (;;) {
		char terr[ERR_LEN];
		if (card_set_text(&c->t, &blk, s, c->lang, &pb, terr) == 0)
			break;
		/* Drop the last character (and spaces) and end with an ellipsis. */
		if (len > 3 && strcmp(s + len - 3, "\xE2\x80\xA6") == 0)
			len -= 3;
		while (len > 0 && ((unsigned char)s[len - 1] & 0xC0) == 0x80)
			len--;
		if (len > 0)
			len--;
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len == 0) {
			free(s);
			return 0;           /* nothing fits: leave the box empty */
		}
		s = xrealloc(s, len + 4);
		memcpy(s + len, "\xE2\x80\xA6", 4);
		len += 3;
		{
			char *t2 = covered(c, base, s);
			free(s);
			s = t2;
			len = strlen(s);
		}
	}
	if (pb.nlines && card_draw_block(c->b, &c->t, c->pg, c->page_h, &pb) != 0) {
		card_hpdf_fail(err, &c->b->herr, "cannot draw the cover sheet");
		goto out;
	}
	rc = 0;
out:
	card_pblock_free(&pb);
	free(s);
	return rc;
}

#define H(call) do { if ((call) != HPDF_OK) goto hfail; } while (0)

static int rect(struct cover *c, double x, double y, double w, double h, const struct rgb *fill,
                const struct rgb *stroke, double lw)
{
	HPDF_Page pg = c->pg;
	H(HPDF_Page_GSave(pg));
	if (fill)
		H(HPDF_Page_SetRGBFill(pg, (HPDF_REAL)fill->r, (HPDF_REAL)fill->g, (HPDF_REAL)fill->b));
	if (stroke) {
		H(HPDF_Page_SetRGBStroke(pg, (HPDF_REAL)stroke->r, (HPDF_REAL)stroke->g, (HPDF_REAL)stroke->b));
		H(HPDF_Page_SetLineWidth(pg, (HPDF_REAL)lw));
	}
	H(HPDF_Page_Rectangle(pg, (HPDF_REAL)(x * MM_PT), (HPDF_REAL)(c->page_h - (y + h) * MM_PT),
	                      (HPDF_REAL)(w * MM_PT), (HPDF_REAL)(h * MM_PT)));
	if (fill && stroke)
		H(HPDF_Page_FillStroke(pg));
	else if (fill)
		H(HPDF_Page_Fill(pg));
	else
		H(HPDF_Page_Stroke(pg));
	H(HPDF_Page_GRestore(pg));
	return 0;
hfail:
	return -1;
}

static int hline(struct cover *c, double x1, double x2, double y, const struct rgb *col, double lw)
{
	HPDF_Page pg = c->pg;
	H(HPDF_Page_GSave(pg));
	H(HPDF_Page_SetRGBStroke(pg, (HPDF_REAL)col->r, (HPDF_REAL)col->g, (HPDF_REAL)col->b));
	H(HPDF_Page_SetLineWidth(pg, (HPDF_REAL)lw));
	H(HPDF_Page_MoveTo(pg, (HPDF_REAL)(x1 * MM_PT), (HPDF_REAL)(c->page_h - y * MM_PT)));
	H(HPDF_Page_LineTo(pg, (HPDF_REAL)(x2 * MM_PT), (HPDF_REAL)(c->page_h - y * MM_PT)));
	H(HPDF_Page_Stroke(pg));
	H(HPDF_Page_GRestore(pg));
	return 0;
hfail:
	return -1;
}

static HPDF_Page new_page(struct cover *c, HPDF_Page before, double w_mm, double h_mm)
{
	HPDF_Page pg;
	/* The page before is complete: deflated now, as a card's page is (one envelope a card). */
	if (c->pg && card_pdf_page_done(c->b, c->pg) != 0)
		return NULL;
	pg = before ? HPDF_InsertPage(c->b->doc, before) : HPDF_AddPage(c->b->doc);
	if (!pg)
		return NULL;
	if (HPDF_Page_SetWidth(pg, (HPDF_REAL)(w_mm * MM_PT)) != HPDF_OK ||
	    HPDF_Page_SetHeight(pg, (HPDF_REAL)(h_mm * MM_PT)) != HPDF_OK)
		return NULL;
	c->pg = pg;
	c->page_h = h_mm * MM_PT;
	c->b->pages++;
	return pg;
}

/* return_lines: the configured return address, with a written "\n" taken as a line break. */
static char *return_lines(const char *s)
{
	struct strbuf sb = {0};
	for (const char *p = s ? s : ""; *p; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			sb_adds(&sb, "\n");
			p++;
		} else {
			sb_addn(&sb, p, 1);
		}
	}
	return sb.s ? sb.s : xstrdup("");
}

static size_t count_addressed(const struct card_cover *cv)
{
	size_t k = 0;
	for (size_t i = 0; i < cv->n; i++)
		k += cv->cards[i].address[0] != 0;
	return k;
}

/* cover_page: page pi (0-based) of the cover, with rows [r0, r1) of the table. */
static int cover_page(struct cover *c, const struct card_cover *cv, int pi, int npages, size_t r0, size_t r1,
                      double pw, double ph, int after, char err[ERR_LEN])
{
	const double L = 18, R = pw - 18;
	double y = 18;
	char buf[512];
	int ncards_pages = (int)cv->n, rc;

	if (put(c, &c->sans, 7.5, 6, &ACCENT, AL_LEFT, L, y, 100, 5, 0.22, "CARDS TO SIGN", err) ||
	    put(c, &c->sans, 7.5, 6, &MUTED, AL_RIGHT, R - 90, y, 90, 5, 0.05, cv->organization, err))
		return -1;
	y += 7;
	if (pi == 0) {
		size_t noaddr = cv->n - count_addressed(cv);
		if (put(c, &c->serif, 24, 14, &INK, AL_LEFT, L, y, R - L, 13, 0, cv->signer, err))
			return -1;
		y += 14;
		snprintf(buf, sizeof buf, "Batch of %s \xC2\xB7 %zu card%s \xC2\xB7 cards on pages %d\xE2\x80\x93%d",
		         cv->fire_date, cv->n, cv->n == 1 ? "" : "s", npages + 1, npages + ncards_pages);
		if (put(c, &c->sans, 10, 7, &MUTED, AL_LEFT, L, y, R - L, 6, 0, buf, err))
			return -1;
		y += 11;
		if (rect(c, L, y, R - L, 17, &SHADE, NULL, 0) || rect(c, L, y, 1.4, 17, &ACCENT, NULL, 0) ||
		    put(c, &c->sans, 7.5, 6, &MUTED, AL_LEFT, L + 6, y + 3, 70, 5, 0.18, "SIGN AND POST BY", err) ||
		    put(c, &c->serif, 16, 10, &ACCENT, AL_LEFT, L + 6, y + 7.5, R - L - 12, 9, 0, cv->sign_by, err))
			return -1;
		y += 23;
		if (after == 0)
			snprintf(buf, sizeof buf, "Sign each card, tick it here, and post it by the date above.");
		else
			snprintf(buf, sizeof buf, "Sign each card, tick it here, and post it by the date above. "
			         "%s follow the cards (from page %d).",
			         cv->envelope != CARD_ENV_NONE ? "Envelopes" : "Address labels", npages + ncards_pages + 1);
		if (put(c, &c->sans, 9, 7, &INK, AL_LEFT, L, y, R - L, 5, 0, buf, err))
			return -1;
		y += noaddr ? 6 : 9;
		if (noaddr) {
			snprintf(buf, sizeof buf, "%zu card%s without a postal address (marked below): hand %s over or "
			         "address %s by hand.", noaddr, noaddr == 1 ? "" : "s", noaddr == 1 ? "it" : "them",
			         noaddr == 1 ? "it" : "them");
			if (put(c, &c->sans, 9, 7, &WARN, AL_LEFT, L, y, R - L, 5, 0, buf, err))
				return -1;
			y += 9;
		}
	} else {
		snprintf(buf, sizeof buf, "%s \xC2\xB7 batch of %s (continued)", cv->signer, cv->fire_date);
		if (put(c, &c->serif, 14, 9, &INK, AL_LEFT, L, y, R - L, 8, 0, buf, err))
			return -1;
		y += 13;
	}
	/* The table: tick, page, recipient, occasion, post. */
	{
		const double xt = L, xp = L + 10, xn = L + 23, xo = L + 80, xa = L + 126, hw = 6;
		if (put(c, &c->sans, 7, 6, &MUTED, AL_LEFT, xt, y, 10, 4, 0.15, "DONE", err) ||
		    put(c, &c->sans, 7, 6, &MUTED, AL_LEFT, xp, y, 12, 4, 0.15, "PAGE", err) ||
		    put(c, &c->sans, 7, 6, &MUTED, AL_LEFT, xn, y, 60, 4, 0.15, "RECIPIENT", err) ||
		    put(c, &c->sans, 7, 6, &MUTED, AL_LEFT, xo, y, 45, 4, 0.15, "OCCASION", err) ||
		    put(c, &c->sans, 7, 6, &MUTED, AL_LEFT, xa, y, R - xa, 4, 0.15, "POST TO", err))
			return -1;
		y += hw;
		if (hline(c, L, R, y - 1, &INK, 0.6))
			goto hfail;
		for (size_t i = r0; i < r1; i++) {
			const struct card_entry *e = &cv->cards[i];
			double ty = y + (ROW_MM - 4.2) / 2;
			if (i % 2 == 1 && rect(c, L, y - 1, R - L, ROW_MM, &SHADE, NULL, 0))
				goto hfail;
			if (rect(c, xt + 1, y + (ROW_MM - 4) / 2 - 1, 4, 4, NULL, &INK, 0.6))
				goto hfail;
			snprintf(buf, sizeof buf, "%d", e->page);
			if (put(c, &c->sans, 9.5, 7, &INK, AL_LEFT, xp, ty - 0.6, 12, 5, 0, buf, err) ||
			    put(c, &c->sans, 8, 7, &MUTED, AL_LEFT, xo, y - 0.6, xa - xo - 3, ROW_MM - 0.8, 0, e->occasion, err))
				return -1;
			c->lang = e->lang;
			rc = put(c, &c->sans, 10, 7, &INK, AL_LEFT, xn, ty - 0.8, xo - xn - 3, 5.5, 0, e->name, err);
			c->lang = NULL;
			if (rc)
				return -1;
			if (e->address[0]) {
				/* The last two lines (town, country) say where it goes. */
				const char *last = strrchr(e->address, '\n'), *prev = e->address;
				struct strbuf sb = {0};
				for (const char *q = e->address; last && q < last; q++)
					if (*q == '\n')
						prev = q + 1;
				if (last && prev < last)
					sb_addn(&sb, prev, (size_t)(last - prev));
				else
					sb_addn(&sb, e->address, last ? (size_t)(last - e->address) : strlen(e->address));
				if (last)
					sb_addf(&sb, ", %s", last + 1);
				if (put(c, &c->sans, 8, 6, &MUTED, AL_LEFT, xa, ty - 0.2, R - xa, 5, 0, sb.s, err)) {
					sb_free(&sb);
					return -1;
				}
				sb_free(&sb);
			} else if (put(c, &c->sans, 8, 6, &WARN, AL_LEFT, xa, ty - 0.2, R - xa, 5, 0,
			               "! no postal address", err)) {
				return -1;
			}
			y += ROW_MM;
		}
		if (hline(c, L, R, y - 1, &RULE, 0.5))
			goto hfail;
	}
	snprintf(buf, sizeof buf, "Cover %d of %d \xC2\xB7 occasiond", pi + 1, npages);
	if (put(c, &c->sans, 7, 6, &MUTED, AL_RIGHT, R - 80, ph - 14, 80, 4, 0.05, buf, err))
		return -1;
	return 0;
hfail:
	return card_hpdf_fail(err, &c->b->herr, "cannot draw the cover sheet");
}

static int envelope_page(struct cover *c, enum card_envelope kind, const char *ret, const struct card_entry *e,
                         char err[ERR_LEN])
{
	double w = env_size[kind][0], h = env_size[kind][1];
	struct strbuf sb = {0};
	int rc;

	if (!new_page(c, NULL, w, h))
		return card_hpdf_fail(err, &c->b->herr, "cannot add an envelope page");
	if (ret[0] && put(c, &c->sans, 8.5, 6, &MUTED, AL_LEFT, 12, 10, w * 0.45, h * 0.3, 0, ret, err))
		return -1;
	sb_adds(&sb, e->name);
	sb_adds(&sb, "\n");
	sb_adds(&sb, e->address);
	/* The delivery address: left of the centre line, below the middle, as the posts read it. */
	c->lang = e->lang;
	rc = put(c, &c->sans, 12, 7, &INK, AL_LEFT, w * 0.42, h * 0.46, w * 0.58 - 12, h * 0.54 - 8, 0, sb.s, err);
	c->lang = NULL;
	sb_free(&sb);
	return rc;
}

static int label_sheets_draw(struct cover *c, const struct card_cover *cv, const char *ret, char err[ERR_LEN])
{
	const struct label_sheet *ls = &label_sheets[cv->labels];
	struct strbuf from = {0}, sb = {0};
	int slot = ls->cols * ls->rows, rc = -1;
	int small = ls->h < 30;

	/* The return address on one line across the top of each label. */
	for (const char *p = ret; *p; p++) {
		if (*p == '\n')
			sb_adds(&from, ", ");
		else
			sb_addn(&from, p, 1);
	}
	for (size_t i = 0; i < cv->n; i++) {
		const struct card_entry *e = &cv->cards[i];
		double x, y;
		if (!e->address[0])
			continue;
		if (slot == ls->cols * ls->rows) {
			if (!new_page(c, NULL, ls->page_w, ls->page_h)) {
				card_hpdf_fail(err, &c->b->herr, "cannot add a label sheet");
				goto out;
			}
			slot = 0;
		}
		x = ls->left + (slot % ls->cols) * ls->pitch_x + 4;
		y = ls->top + (slot / ls->cols) * ls->pitch_y + (small ? 1.8 : 3);
		slot++;
		if (from.s && put(c, &c->sans, small ? 5 : 5.5, 4, &MUTED, AL_LEFT, x, y, ls->w - 8, 2.6, 0, from.s, err))
			goto out;
		sb_reset(&sb);
		sb_addf(&sb, "%s\n%s", e->name, e->address);
		c->lang = e->lang;
		if (put(c, &c->sans, small ? 8 : 9.5, 5, &INK, AL_LEFT, x, y + 3.4, ls->w - 8,
		        ls->h - (small ? 1.8 : 3) * 2 - 3.4, 0, sb.s, err)) {
			c->lang = NULL;
			goto out;
		}
		c->lang = NULL;
	}
	rc = 0;
out:
	sb_free(&from);
	sb_free(&sb);
	return rc;
}

int card_batch_finish(struct card_batch *b, const struct card_cover *cv, char err[ERR_LEN])
{
	struct cover c;
	HPDF_Page first;
	int npages = card_cover_pages(cv->n), rc = -1, after = 0;
	int us = cv->envelope == CARD_ENV_A7 || cv->envelope == CARD_ENV_NO10 || cv->labels == CARD_LABELS_5160;
	double pw = us ? 215.9 : 210, ph = us ? 279.4 : 297;
	char *ret = return_lines(cv->return_address);
	size_t r0 = 0;

	if (b->broken) {
		free(ret);
		return err_set(err, "this batch is unusable after an earlier libharu error");
	}
	if (b->pages == 0 || (size_t)b->pages != cv->n) {
		free(ret);
		return err_set(err, "the cover sheet lists %zu cards, the batch has %d pages", cv->n, b->pages);
	}
	memset(&c, 0, sizeof c);
	c.b = b;
	b->herr.status = 0;
	if (cover_fonts(&c, cv->fonts_dir, err) != 0)
		goto out;
	if (count_addressed(cv) && (cv->envelope != CARD_ENV_NONE || cv->labels != CARD_LABELS_NONE))
		after = 1;
	first = HPDF_GetPageByIndex(b->doc, 0);
	for (int pi = 0; pi < npages; pi++) {
		size_t r1 = r0 + (pi == 0 ? COVER_FIRST_ROWS : COVER_MORE_ROWS);
		if (r1 > cv->n)
			r1 = cv->n;
		if (!first || !new_page(&c, first, pw, ph)) {
			card_hpdf_fail(err, &b->herr, "cannot add the cover sheet");
			goto broken;
		}
		if (cover_page(&c, cv, pi, npages, r0, r1, pw, ph, after, err) != 0)
			goto broken;
		r0 = r1;
	}
	if (cv->envelope != CARD_ENV_NONE)
		for (size_t i = 0; i < cv->n; i++)
			if (cv->cards[i].address[0] && envelope_page(&c, cv->envelope, ret, &cv->cards[i], err) != 0)
				goto broken;
	if (cv->labels != CARD_LABELS_NONE && label_sheets_draw(&c, cv, ret, err) != 0)
		goto broken;
	if (b->herr.status || (c.pg && card_pdf_page_done(b, c.pg) != 0)) {
		card_hpdf_fail(err, &b->herr, "cannot draw the cover sheet");
		goto broken;
	}
	rc = 0;
	goto out;
broken:
	b->broken = 1;      /* pages cannot be taken back */
	HPDF_ResetError(b->doc);
out:
	cover_free(&c);
	free(ret);
	return rc;
}
