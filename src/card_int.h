/*
 * card internals shared by card_tmpl.c (the .card.yaml loader), card_text.c (merge, fonts,
 * wrap, fit), card.c (batches and drawing) and card_envelope.c (cover sheet, envelopes,
 * labels). Not a public header; only card*.c include it (and so hpdf.h).
 */
#ifndef OCCASIOND_CARD_INT_H
#define OCCASIOND_CARD_INT_H

#include <stdint.h>

#include <hpdf.h>
#include <hpdf_fontdef.h>

#include "occasiond/card.h"
#include "occasiond/cardfont.h"

#define MM_PT (72.0 / 25.4)
#define CARD_MAX_FONTS 8
#define CARD_MAX_TEXT (64 * 1024)
#define CARD_MAX_IMAGE_BYTES (16 * 1024 * 1024)
#define EPS_MM 0.01

struct rgb {
	double r, g, b;
};

enum align { AL_LEFT, AL_CENTER, AL_RIGHT };
enum valign { VA_TOP, VA_MIDDLE, VA_BOTTOM };
enum fit { FIT_CONTAIN, FIT_COVER, FIT_STRETCH };

struct tfont {              /* a font file the template uses */
	char *name;             /* as written: "Lato-Regular.ttf" */
	char *path;             /* fonts_dir/name */
	struct cardfont *cf;
};

struct style {
	size_t font[CARD_MAX_FONTS];   /* indexes into card_template.fonts */
	size_t nfonts;
	double size, min_size, line_spacing, letter_spacing;
	struct rgb colour;
	enum align align;
	enum valign valign;
};

struct tblock {             /* a text block, or the signer's printed name */
	char *src;              /* Mustache */
	struct style st;
	double box[4];          /* mm from the top-left: x, y, w, h */
	char *where;            /* FILE:LINE:COL of the block, for messages */
};

struct timage {
	char *file;             /* as written */
	char *path;
	int jpeg;
	double box[4];
	enum fit fit;
	double px_w, px_h;
};

struct tline {
	double x1, y1, x2, y2;  /* mm */
	double width;           /* pt */
	struct rgb colour;
	HPDF_UINT16 dash[2];
	int dashed, round;
};

struct trect {
	double box[4];
	double radius;          /* mm */
	double width;           /* pt */
	int has_fill, has_stroke;
	struct rgb fill, stroke;
};

struct card_template {
	char *path, *dir;
	double w_mm, h_mm;
	double margin[4];       /* top, right, bottom, left (mm) */
	int has_bg;
	struct rgb bg;
	struct tfont *fonts;
	size_t nfonts;
	struct tblock *texts;   /* the signature's name, when there is one, is the last */
	size_t ntexts;
	struct timage *images;
	size_t nimages;
	struct tline *lines;    /* the signature line, when there is one, is the last */
	size_t nlines;
	struct trect *rects;
	size_t nrects;
	int has_sig;
	double sig_box[4];
};

/* libharu errors: the handler keeps the first status; card_hpdf_fail words it into err. */
struct hpdf_err {
	HPDF_STATUS status, detail;
};
void HPDF_STDCALL card_hpdf_handler(HPDF_STATUS status, HPDF_STATUS detail, void *ud);
int card_hpdf_fail(char err[ERR_LEN], struct hpdf_err *e, const char *what);

/* ------------------------------------------------------------------ text preparation */

struct pglyph {
	uint32_t cp;
	uint16_t gid;
	uint8_t font;       /* index into the block's style font list */
	int adv;            /* 1/1000 em */
};

struct pline {
	size_t a, b;        /* glyphs [a, b) */
	double width;       /* pt */
};

struct pblock {
	const struct tblock *blk;
	struct pglyph *g;
	size_t n;
	struct pline *lines;
	size_t nlines;
	double size;
};

struct prepared {
	struct pblock *b;
	size_t n;
};

/* card_prepare: merges, shapes and fits every text of the card; nothing is drawn. 0 or -1. */
int card_prepare(const struct card_template *t, const struct tval *ctx, struct prepared *p, char err[ERR_LEN]);
void card_prepared_free(struct prepared *p);
/* card_run_width: the width in pt of glyphs [a, b) at size with letter spacing lsp. */
double card_run_width(const struct pblock *pb, size_t a, size_t b, double size, double lsp);
/* card_utf8_range: appends glyphs [a, b) as UTF-8. */
void card_utf8_range(const struct pblock *pb, size_t a, size_t b, struct strbuf *sb);

#endif
