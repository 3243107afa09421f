/*
 * card: the only libharu user. Card templates (NAME.card.yaml), fonts with glyph-by-glyph
 * fallback, and batches: one PDF per signer and fire date whose pages are the cards.
 */
#ifndef OCCASIOND_CARD_H
#define OCCASIOND_CARD_H

#include <stddef.h>

#include "occasiond/template.h"
#include "occasiond/util.h"

struct card_template;
struct card_batch;

/*
 * card_template_load: parses and validates a .card.yaml (size, layout, images, text blocks,
 * signature), resolving font names against fonts_dir and image paths against the template's
 * directory. Text is Mustache, checked for syntax here. Errors are "FILE:LINE:COL: message".
 * 0 or -1. Free with card_template_free.
 */
int card_template_load(const char *path, const char *fonts_dir, struct card_template **out,
                       char err[ERR_LEN]);
void card_template_free(struct card_template *t);
/*
 * card_template_load_diags: the same, but every problem found goes into d (for `check`), not
 * only the first. out may be NULL to validate only. 0 when there is no error, else -1.
 */
int card_template_load_diags(const char *path, const char *fonts_dir, struct card_template **out,
                             struct diags *d);
/* card_template_size: the card's page size in PDF points. */
void card_template_size(const struct card_template *t, double *width, double *height);

/*
 * card_check: merges and lays out every text of the card for ctx exactly as card_batch_add
 * would, without a batch (for `check --data` and before claiming a dispatch). Same errors.
 */
int card_check(const struct card_template *t, const struct tval *ctx, char err[ERR_LEN]);

/*
 * card_lang: the CJK convention a stakeholder's Han characters are printed in: "zh-cn",
 * "zh-tw", "zh-hk", "ja" or "ko", from language (a BCP 47 tag such as zh-TW, zh-Hant, ja;
 * may be NULL or "") or else country (a name, an ISO 3166 code, or the name in its own
 * script); NULL when neither says. A static string. card_batch_add reads both from its
 * context (`language`, `country`).
 */
const char *card_lang(const char *country, const char *language);

/*
 * card_fonts_refresh: when a font was installed or removed since the system's fonts were
 * looked at, they are looked at afresh (call between passes: no card may be in the making).
 */
void card_fonts_refresh(void);

/* card_batch_new: an empty batch (a PDF document in memory). 0 or -1. */
int card_batch_new(struct card_batch **out, char err[ERR_LEN]);
/*
 * card_batch_add: renders one card of template t with context ctx (the stakeholder's fields,
 * occasion.*, signer, ...) as the next page(s); *page is its first page (1-based).
 * Before anything is drawn every text is merged and checked: a character no font in the
 * block's list has fails with "no font has U+XXXX (c) ..." and text that cannot fit its box
 * even at its minimum size fails; then the batch is unchanged. 0 or -1.
 */
int card_batch_add(struct card_batch *b, const struct card_template *t, const struct tval *ctx,
                   int *page, char err[ERR_LEN]);
/*
 * card_batch_spill_to: the batch keeps its completed pages' drawing (deflated) in an unlinked
 * temporary file in dir (which must exist) rather than in memory, until it is saved. Without
 * it, or when that file cannot be made or written, they stay in memory.
 */
void card_batch_spill_to(struct card_batch *b, const char *dir);
/* card_batch_set_title: the PDF's Title (UTF-8; default "Greeting cards"). 0 or -1. */
int card_batch_set_title(struct card_batch *b, const char *title, char err[ERR_LEN]);
/* card_batch_pages: pages so far. */
int card_batch_pages(const struct card_batch *b);
/* card_batch_save: writes the PDF atomically to path (temp file, fsync, rename). 0 or -1. */
int card_batch_save(struct card_batch *b, const char *path, char err[ERR_LEN]);
void card_batch_free(struct card_batch *b);   /* NULL is fine */

/* What goes after the cards: an envelope page per card, and/or a sheet of address labels. */
enum card_envelope { CARD_ENV_NONE, CARD_ENV_C6, CARD_ENV_DL, CARD_ENV_A7, CARD_ENV_NO10, CARD_ENV_COUNT };
extern const char *const card_envelope_names[CARD_ENV_COUNT];   /* "none", "c6", "dl", "a7", "no10" */
enum card_labels { CARD_LABELS_NONE, CARD_LABELS_L7160, CARD_LABELS_5160, CARD_LABELS_COUNT };
extern const char *const card_labels_names[CARD_LABELS_COUNT];  /* "none", "l7160", "5160" */

/* One card of a batch as its cover sheet, envelope and label show it. */
struct card_entry {
	const char *name;          /* the recipient as written */
	const char *occasion;      /* e.g. "Birthday, 13 December 2026" */
	const char *address;       /* postal lines after the name, '\n' between them; "" when there is none */
	const char *lang;          /* card_lang() of the recipient, or NULL */
	int page;                  /* the card's first page in the finished batch */
};

struct card_cover {
	const char *signer;
	const char *fire_date;     /* long form: "3 December 2026" */
	const char *sign_by;       /* the mail-by date, long form */
	const char *organization;  /* or "" */
	const char *return_address;   /* lines separated by '\n' (a literal "\\n" counts too), or "" */
	const char *fonts_dir;     /* Lato, Noto Serif Display and DejaVu Sans from here, when present */
	const struct card_entry *cards;
	size_t n;
	enum card_envelope envelope;
	enum card_labels labels;
};

/* card_cover_pages: the pages the cover sheet of n cards takes; the cards follow it. */
int card_cover_pages(size_t n);
/*
 * card_batch_finish: call once, after the last card_batch_add and before card_batch_save:
 * puts the cover sheet (card_cover_pages(c->n) pages) before the first card, so every card
 * moves back by that many pages (c->cards[i].page must already say so), and appends an
 * envelope page for every card with an address, then the label sheets. 0 or -1.
 */
int card_batch_finish(struct card_batch *b, const struct card_cover *c, char err[ERR_LEN]);

#endif
