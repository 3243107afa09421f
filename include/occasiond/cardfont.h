/*
 * cardfont: a small read-only TrueType reader for the card module: the Unicode cmap that
 * libharu uses (platform 3, encoding 1, format 4), advance widths in libharu's units
 * (1/1000 em, truncated as libharu does), vertical metrics, and the composite-glyph graph.
 * It lets card check and measure text without a PDF document, and fill in what libharu 2.3.0
 * misses when it subsets fonts (components of nested composite glyphs).
 * Internal to the card*.c files; nothing else should need it.
 */
#ifndef OCCASIOND_CARDFONT_H
#define OCCASIOND_CARDFONT_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/util.h"

#define CARDFONT_MAX_BYTES (32 * 1024 * 1024)

struct cardfont;

/* cardfont_load: reads and checks a TrueType (glyf) font file. 0 or -1 with err set. */
int cardfont_load(const char *path, struct cardfont **out, char err[ERR_LEN]);
void cardfont_free(struct cardfont *f);   /* NULL is fine */

/* cardfont_glyph: the glyph id of code point cp, 0 when the font lacks it (or cp > U+FFFF). */
unsigned cardfont_glyph(const struct cardfont *f, uint32_t cp);
/* cardfont_advance: the advance width of glyph gid in 1/1000 em (libharu's integer value). */
int cardfont_advance(const struct cardfont *f, unsigned gid);
/* Vertical metrics from hhea in 1/1000 em: ascent > 0, descent < 0. */
int cardfont_ascent(const struct cardfont *f);
int cardfont_descent(const struct cardfont *f);
unsigned cardfont_num_glyphs(const struct cardfont *f);

/*
 * cardfont_mark_glyph: sets used[g] = 1 for gid and, transitively, every component of it
 * when it is a composite glyph. used has cardfont_num_glyphs(f) entries.
 */
void cardfont_mark_glyph(const struct cardfont *f, unsigned gid, unsigned char *used);

/*
 * cardfont_foreach: calls fn for every code point the cmap maps to a glyph, in order;
 * stops and returns fn's value when it is not 0.
 */
int cardfont_foreach(const struct cardfont *f, int (*fn)(void *ud, uint32_t cp, unsigned gid), void *ud);

#endif
