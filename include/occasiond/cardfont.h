/*
 * cardfont: the card module's fonts. A font file (TrueType .ttf, OpenType/CFF .otf, or one
 * face of a collection .ttc) read through HarfBuzz (cmap, metrics, shaping, subsetting) and
 * FreeType (the CIDs of a CID-keyed CFF font); the system's fonts found through fontconfig
 * when a template's list has no glyph for a character. Internal to the card*.c files.
 *
 * Units: advances, offsets and vertical metrics are in 1/1000 em, so they scale with the
 * size alone (cards are set without hinting).
 */
#ifndef OCCASIOND_CARDFONT_H
#define OCCASIOND_CARDFONT_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/util.h"

struct cardfont;

enum cardfont_kind {
	CARDFONT_TRUETYPE,      /* glyf outlines: a CIDFontType2 in the PDF, CID = glyph id */
	CARDFONT_CFF_CID,       /* CID-keyed CFF (Noto CJK): CIDFontType0, CID = the font's own CID */
	CARDFONT_CFF,           /* name-keyed CFF: CIDFontType0, CID = glyph id */
};

/*
 * cardfont_load: opens face index of the font file at path (mapped, not read). Refuses
 * variable CFF2 fonts and fonts whose licence bits forbid embedding. 0, or -1 with err set.
 * The font is reference-counted: cardfont_ref adds a reference, cardfont_free drops one
 * (NULL is fine) and frees the font with the last.
 */
int cardfont_load(const char *path, unsigned index, struct cardfont **out, char err[ERR_LEN]);
struct cardfont *cardfont_ref(struct cardfont *f);
void cardfont_free(struct cardfont *f);

/* cardfont_path, cardfont_index: where the font came from (the batch's cache key). */
const char *cardfont_path(const struct cardfont *f);
unsigned cardfont_index(const struct cardfont *f);
/* cardfont_family: the family name from the name table ("" when it has none). */
const char *cardfont_family(const struct cardfont *f);
/* cardfont_psname: the PostScript name, reduced to [A-Za-z0-9-] (never empty). */
const char *cardfont_psname(const struct cardfont *f);
/* cardfont_serif: 1 when the family reads as a serif face (its name says Serif, not Sans). */
int cardfont_serif(const struct cardfont *f);
enum cardfont_kind cardfont_kind(const struct cardfont *f);

/* cardfont_glyph: the glyph id of code point cp, 0 when the font lacks it. */
unsigned cardfont_glyph(const struct cardfont *f, uint32_t cp);
/* cardfont_advance: the advance of glyph gid, 1/1000 em rounded (the PDF's W entry). */
int cardfont_advance(const struct cardfont *f, unsigned gid);
/* cardfont_cid: the CID that selects gid in the PDF font (see enum cardfont_kind). */
unsigned cardfont_cid(const struct cardfont *f, unsigned gid);
/* Vertical metrics from hhea in 1/1000 em: ascent > 0, descent < 0. */
int cardfont_ascent(const struct cardfont *f);
int cardfont_descent(const struct cardfont *f);
unsigned cardfont_num_glyphs(const struct cardfont *f);
/* cardfont_bbox: the head table's box in 1/1000 em (x0, y0, x1, y1). */
void cardfont_bbox(const struct cardfont *f, int bbox[4]);

/* One shaped glyph. */
struct cardfont_glyph {
	unsigned gid;
	size_t cluster;         /* index into the text given to cardfont_shape of its first code point */
	double adv, dx, dy;     /* 1/1000 em */
};

/*
 * cardfont_shape: shapes text[off, off + n) (the rest of text is context) in one direction
 * and script with HarfBuzz. rtl gives right-to-left; script is cardfont_script()'s value;
 * lang (a BCP 47 tag, or NULL for HarfBuzz's default) selects the font's localized forms.
 * Writes the glyphs in visual order (left to right) into a new array *out (caller frees)
 * and returns their count. Glyph 0 stands for a character the font lacks.
 */
size_t cardfont_shape(const struct cardfont *f, const uint32_t *text, size_t len, size_t off, size_t n, int rtl,
                      uint32_t script, const char *lang, struct cardfont_glyph **out);

/* cardfont_script: the Unicode script of cp as a HarfBuzz script tag (Common and Inherited included). */
uint32_t cardfont_script(uint32_t cp);
#define CARDFONT_SCRIPT_COMMON 0x5A797979u      /* 'Zyyy' */
#define CARDFONT_SCRIPT_INHERITED 0x5A696E68u   /* 'Zinh' */
#define CARDFONT_SCRIPT_HIRAGANA 0x48697261u    /* 'Hira' */
#define CARDFONT_SCRIPT_KATAKANA 0x4B616E61u    /* 'Kana' */
#define CARDFONT_SCRIPT_HANGUL 0x48616E67u      /* 'Hang' */
/* cardfont_is_mark: cp is a combining mark (Mn, Mc, Me) or a joiner or variation selector. */
int cardfont_is_mark(uint32_t cp);
/* cardfont_cjk: cp is Han, Hiragana, Katakana, Bopomofo or Hangul (lines may break around it). */
int cardfont_cjk(uint32_t cp);
/* cardfont_joining_script: script joins its letters (Arabic, Syriac, ...): no letter spacing there. */
int cardfont_joining_script(uint32_t script);

/*
 * cardfont_subset: the font reduced to glyphs gids[0..n) (and what they are built from) with
 * hb-subset, hinting and layout tables dropped, as the bytes to embed: a TrueType file for
 * CARDFONT_TRUETYPE (*new_gid[g] is then glyph g's id in it; a num_glyphs array, caller
 * frees), a bare CFF table for CARDFONT_CFF_CID and an OpenType file with glyph ids kept for
 * CARDFONT_CFF (*new_gid is NULL for both). *data is the caller's to free. 0 or -1.
 */
int cardfont_subset(const struct cardfont *f, const unsigned *gids, size_t n, unsigned char **data, size_t *len,
                    uint16_t **new_gid, char err[ERR_LEN]);

/*
 * cardfont_system: a font installed on the system (fontconfig) that has cp, preferring a
 * serif face when serif is set, else a sans one, and for a Han character one made for lang
 * ("zh-cn", "zh-tw", "zh-hk", "ja" or "ko"; NULL: zh-cn); NULL when none has it. The fonts
 * found are kept for the process (one per file and face); the caller does not free them.
 */
struct cardfont *cardfont_system(uint32_t cp, int serif, const char *lang);
/*
 * cardfont_system_rescan: forgets the fonts found and fontconfig's view of the system, so a
 * font installed meanwhile is found by the next cardfont_system. Fonts it returned before
 * are freed: no text prepared with them may be in use. (OCCASIOND_FONT_DIRS, ':'-separated,
 * adds directories to fontconfig's own.)
 */
void cardfont_system_rescan(void);
/* cardfont_system_refresh: cardfont_system_rescan when fontconfig says a font directory changed. */
void cardfont_system_refresh(void);
/* cardfont_package: the Debian package whose fonts cover cp ("fonts-noto-cjk", ...), or NULL. */
const char *cardfont_package(uint32_t cp);

#endif
