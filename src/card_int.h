/*
 * card internals shared by card_tmpl.c (the .card.yaml loader), card_text.c (merge, fonts,
 * wrap, fit), card.c (batches and drawing) and card_envelope.c (cover sheet, envelopes,
 * labels). Not a public header; only card*.c include it (and so hpdf.h).
 */
#ifndef OCCASIOND_CARD_INT_H
#define OCCASIOND_CARD_INT_H

#include <stdint.h>

#include <hpdf.h>
#include <hpdf_objects.h>
#include <hpdf_pages.h>
#include <hpdf_doc.h>

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
	int panel;              /* PANEL_INSIDE or PANEL_FRONT */
};

struct timage {
	char *file;             /* as written */
	char *path;
	int jpeg;
	double box[4];
	enum fit fit;
	double px_w, px_h;
	int panel;
};

struct tline {
	double x1, y1, x2, y2;  /* mm */
	double width;           /* pt */
	struct rgb colour;
	HPDF_UINT16 dash[2];
	int dashed, round;
	int panel;
};

struct trect {
	double box[4];
	double radius;          /* mm */
	double width;           /* pt */
	int has_fill, has_stroke;
	struct rgb fill, stroke;
	int panel;
};

/*
 * A flat card's elements are all PANEL_INSIDE. A folded card (quarter-fold) is one portrait
 * sheet: the inside panel (message, signature) is its bottom-right quarter, the front its
 * top-left quarter turned upside down, so that folding the top half back and then the left
 * half under brings the front to the top with the inside opening to the right.
 */
enum { PANEL_INSIDE = 0, PANEL_FRONT = 1 };

struct card_template {
	char *path, *dir;
	double w_mm, h_mm;      /* the card (a folded card's panel) */
	int folded;
	double sheet_w, sheet_h;   /* the printed page: the card, or a folded card's sheet */
	double margin[4];       /* top, right, bottom, left (mm) */
	int has_bg, has_front_bg;
	struct rgb bg, front_bg;
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
/*
 * card_image_load: the PNG or JPEG at path as an image of doc, read into memory and (PNG)
 * decoded completely first, so that a damaged file is an error, never an abort in libpng.
 * NULL with err on failure.
 */
HPDF_Image card_image_load(HPDF_Doc doc, struct hpdf_err *herr, const char *path, int jpeg, char err[ERR_LEN]);

/* ------------------------------------------------------------------ text preparation */

/* One glyph of a set line, in visual order. */
struct sglyph {
	struct cardfont *f;
	unsigned gid;
	double x, y;            /* 1/1000 em from the line's start, on its baseline */
	size_t cp, nu;          /* the code points [cp, cp + nu) it stands for (nu 0: a further glyph of them) */
};

struct pline {
	size_t a, b;            /* code points [a, b) of the block, logical order */
	double width;           /* 1/1000 em, as set */
	struct sglyph *g;       /* visual order */
	size_t ng;
};

/*
 * A text block prepared for drawing: its code points (logical order, '\n' between
 * paragraphs), each with its font, bidi level, script, width and whether a line may break
 * before it; then its lines at the size chosen.
 */
struct pblock {
	const struct tblock *blk;
	uint32_t *cp;
	size_t n;
	struct cardfont **font;
	double *w;              /* 1/1000 em, letter spacing included */
	uint8_t *level;
	uint32_t *script;
	uint8_t *brk;
	struct pline *lines;
	size_t nlines;
	double size;
	const char *lang;       /* the block's CJK convention (card_lang; Kana: ja, Hangul: ko), or NULL */
};

struct prepared {
	struct pblock *b;
	size_t n;
};

/* card_prepare: merges, shapes and fits every text of the card; nothing is drawn. 0 or -1. */
int card_prepare(const struct card_template *t, const struct tval *ctx, struct prepared *p, char err[ERR_LEN]);
void card_prepared_free(struct prepared *p);
void card_pblock_free(struct pblock *pb);
/* card_utf8_range: appends code points [a, b) as UTF-8. */
void card_utf8_range(const struct pblock *pb, size_t a, size_t b, struct strbuf *sb);
/*
 * card_font_for: the font that prints cp in style st: a mark or joiner keeps its base's font
 * (prev), other common characters prefer prev too; else the first of the style's fonts that
 * has it, else a system font of the style's kind (serif or not), for Han made for lang (see
 * cardfont_system). NULL when none has it.
 */
struct cardfont *card_font_for(const struct card_template *t, const struct style *st, uint32_t cp,
                               struct cardfont *prev, const char *lang);

/*
 * card_set_text: one block's text (already merged) shaped and fitted into pb (pb->blk = blk);
 * lang: the recipient's card_lang (NULL: none). 0 or -1.
 */
int card_set_text(const struct card_template *t, const struct tblock *blk, const char *text, const char *lang,
                  struct pblock *pb, char err[ERR_LEN]);

/*
 * card_break_dictionary: cp belongs to a script written without spaces between words
 * (UAX #14 class SA: Thai, Lao, Khmer, Myanmar). card_break_words: sets brk[i] (a line may
 * break before cp[i]) at the word boundaries inside cp[0..n), a run of such code points,
 * from ICU's dictionaries (card_break.c); nothing when ICU cannot: such text then breaks at
 * spaces only.
 */
int card_break_dictionary(uint32_t cp);
void card_break_words(const uint32_t *cp, size_t n, uint8_t *brk);

/* ------------------------------------------------------------------ batches */

struct bimage {
	char *path;
	HPDF_Image img;
};

struct dfont;               /* a font of the document (card_pdf.c) */

struct card_batch {
	HPDF_Doc doc;
	struct hpdf_err herr;
	int pages;
	int broken;             /* a libharu failure after a page was added: refuse to go on */
	struct dfont **fonts;
	size_t nfonts;
	unsigned font_serial;   /* for the subset tags */
	struct bimage *images;
	size_t nimages;
	/* Completed pages' deflated streams, spilled (card_batch_spill_to) to an unlinked file. */
	char *spill_dir;
	int spill_fd;           /* -1: not open (yet) */
	int spill_off;          /* -1: spilling failed once: pages stay in memory from then on */
	struct spill_page **spills;
	size_t nspills;
	char spill_err[ERR_LEN];   /* a read back that failed: the save fails with it */
	/* One deflate state and output buffer for every page: a fresh state (about 270 KiB) per
	 * page left the heap fragmented between the pages' small lasting objects. */
	/* Resources dicts shared by the completed pages that use the same fonts and images under
	 * the same names (the signature says which): one each instead of one a page. */
	struct shared_res { char *sig; HPDF_Dict res; } *shres;
	size_t nshres;
	void *zs;               /* z_stream, NULL until the first page */
	unsigned char *zbuf;
	size_t zcap;
};

/*
 * card_draw_block: draws a prepared block on pg as text in the document's own fonts
 * (card_pdf.c): glyph ids placed as shaped, each line marked with its logical text. 0 or -1.
 */
int card_draw_block(struct card_batch *b, const struct card_template *t, HPDF_Page pg, double page_h,
                    const struct pblock *pb);

/* ------------------------------------------------------------------ document fonts (card_pdf.c) */

/*
 * card_pdf_font: the document's Type0 font for f, created on first use (its font file, widths
 * and ToUnicode map are written by card_pdf_finish). Its resource name on pg goes to *name.
 * NULL on a libharu failure.
 */
struct dfont *card_pdf_font(struct card_batch *b, struct cardfont *f);
const char *card_pdf_font_name(struct dfont *df, HPDF_Page pg);
/* card_pdf_use: records that glyph gid is shown for the text [u, u + n); returns its CID. */
unsigned card_pdf_use(struct dfont *df, unsigned gid, const uint32_t *u, size_t n);
/* card_pdf_advance: the width the PDF gives gid (1/1000 em). */
int card_pdf_advance(const struct dfont *df, unsigned gid);
/* card_pdf_finish: subsets every font to its used glyphs and writes its objects. 0 or -1. */
int card_pdf_finish(struct card_batch *b, char err[ERR_LEN]);
void card_pdf_free(struct card_batch *b);
/*
 * card_pdf_page_done: pg is complete (nothing more is drawn on it): its content stream is
 * deflated now and kept at its compressed size, and its obsolete /ProcSet dropped, so that a
 * batch of thousands of cards does not hold every page's drawing operators until the save.
 * A page left inside a text object or a saved graphics state is left as it is. 0, or -1 on a
 * libharu or zlib failure (the page is then unchanged).
 */
int card_pdf_page_done(struct card_batch *b, HPDF_Page pg);
/*
 * card_pdf_save: writes the document through libharu's stream API straight into path
 * (util_atomic: a temporary file, synced and renamed), never whole in memory. 0, or -1 with
 * err naming the file and the reason.
 */
int card_pdf_save(struct card_batch *b, const char *path, char err[ERR_LEN]);
/* card_pdf_spill_free: closes the spill file and frees what points into it (after HPDF_Free). */
void card_pdf_spill_free(struct card_batch *b);

/* ------------------------------------------------------------------ the loader (card_load.c) */

struct ynode;
struct diags;
struct loader {
	const char *fonts_dir;
	struct diags *d;
	struct card_template *t;
	int panel;                  /* the panel the elements being parsed belong to */
	HPDF_Doc scratch;           /* checks that libharu accepts each font and image */
	struct hpdf_err herr;
	int errors;
};

/* Each ld_ helper reports a problem as "FILE:LINE:COL: error: ..." into L->d and returns -1/NULL. */
void ld_bad(struct loader *L, const struct ynode *n, const char *fmt, ...) PRINTF_LIKE(3, 4);
char *ld_where_of(const struct ynode *n);      /* "FILE:LINE:COL", malloc'd */
int ld_check_keys(struct loader *L, const struct ynode *map, const char *const *allowed, const char *what);
/* ld_scalar, ld_text, ld_num, ld_choice: ytree_scalar, ytree_text, ytree_number, ytree_enum (names NULL-terminated). */
const char *ld_scalar(struct loader *L, const struct ynode *n, const char *what);
const char *ld_text(struct loader *L, const struct ynode *n, const char *what);
int ld_num(struct loader *L, const struct ynode *n, const char *what, double lo, double hi, double *out);
int ld_colour(struct loader *L, const struct ynode *n, const char *what, struct rgb *c);
int ld_choice(struct loader *L, const struct ynode *n, const char *what, const char *const *names, int *out);
/* ld_numbers: a list of min..count numbers in [lo, hi] into out; their count or -1. */
int ld_numbers(struct loader *L, const struct ynode *n, const char *what, size_t min, size_t count,
               double lo, double hi, double *out);
/* ld_box: [x, y, w, h] mm inside the panel, or inside its margins when inner. */
int ld_box(struct loader *L, const struct ynode *n, const char *what, int inner, double out[4]);
/* ld_font_index: loads the named font once per template; its index in t->fonts, or -1. */
long ld_font_index(struct loader *L, const struct ynode *n);
int ld_image_path_ok(const char *s);
/* ld_image_kind: 0 PNG, 1 JPEG, -1 neither, -2 unreadable (by the first bytes). */
int ld_image_kind(const char *path);

#endif
