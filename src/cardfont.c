/*
 * cardfont: reads just enough of a TrueType file for card layout. Every offset read from
 * the file is bounds-checked: a font file is configuration, but a broken one must give an
 * error, never a crash.
 */
#include "occasiond/cardfont.h"

#include <stdlib.h>
#include <string.h>

struct cardfont {
	unsigned num_glyphs;
	int upem;
	int ascent, descent;        /* 1/1000 em */
	/* cmap format 4, copied out of the file */
	unsigned nseg;
	uint16_t *end, *start, *range_off;
	int16_t *delta;
	uint16_t *gid_array;
	unsigned ngid_array;
	uint16_t *advance;          /* num_glyphs entries, font units */
	/* composite glyphs: components of glyph g are comp[comp_idx[g] .. comp_idx[g+1]) */
	uint32_t *comp_idx;
	uint16_t *comp;
};

struct ttf {
	const unsigned char *d;
	size_t len;
	unsigned ntables;
};

static unsigned rd16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* find_table: the table's offset and length, checked against the file size. */
static int find_table(const struct ttf *t, const char *tag, size_t *off, size_t *len)
{
	for (unsigned i = 0; i < t->ntables; i++) {
		const unsigned char *rec = t->d + 12 + 16 * (size_t)i;
		if (memcmp(rec, tag, 4) != 0)
			continue;
		*off = rd32(rec + 8);
		*len = rd32(rec + 12);
		if (*off > t->len || *len > t->len - *off)
			return -1;
		return 0;
	}
	return -1;
}

static int need_table(const struct ttf *t, const char *tag, size_t min, size_t *off, size_t *len,
                      const char *path, char err[ERR_LEN])
{
	if (find_table(t, tag, off, len) != 0)
		return err_set(err, "%s: no valid '%s' table", path, tag);
	if (*len < min)
		return err_set(err, "%s: '%s' table is too short", path, tag);
	return 0;
}

static int parse_cmap(struct cardfont *f, const struct ttf *t, const char *path, char err[ERR_LEN])
{
	size_t off, len, sub = 0, sublen, pos;
	unsigned n, nseg;
	const unsigned char *p;

	if (need_table(t, "cmap", 4, &off, &len, path, err) != 0)
		return -1;
	p = t->d + off;
	n = rd16(p + 2);
	if (4 + 8 * (size_t)n > len)
		return err_set(err, "%s: 'cmap' table is truncated", path);
	/* The same choice libharu makes: the first (3,1) subtable of format 4. */
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *rec = p + 4 + 8 * (size_t)i;
		uint32_t o = rd32(rec + 4);
		if (rd16(rec) != 3 || rd16(rec + 2) != 1 || o > len - 2 || rd16(p + o) != 4)
			continue;
		sub = off + o;
		break;
	}
	if (!sub)
		return err_set(err, "%s: no Unicode cmap (platform 3, encoding 1, format 4), which libharu needs", path);
	if (sub + 14 > t->len)
		return err_set(err, "%s: cmap subtable is truncated", path);
	sublen = rd16(t->d + sub + 2);
	if (sublen < 16 || sub + sublen > t->len)
		sublen = t->len - sub;   /* some fonts overflow the 16-bit length; stay in the file */
	nseg = rd16(t->d + sub + 6) / 2;
	if (nseg == 0 || 16 + 8 * (size_t)nseg > sublen)
		return err_set(err, "%s: cmap format 4 subtable is malformed", path);
	f->nseg = nseg;
	f->end = xcalloc(nseg, sizeof *f->end);
	f->start = xcalloc(nseg, sizeof *f->start);
	f->delta = xcalloc(nseg, sizeof *f->delta);
	f->range_off = xcalloc(nseg, sizeof *f->range_off);
	pos = sub + 14;
	for (unsigned i = 0; i < nseg; i++)
		f->end[i] = (uint16_t)rd16(t->d + pos + 2 * i);
	pos += 2 * (size_t)nseg + 2;
	for (unsigned i = 0; i < nseg; i++)
		f->start[i] = (uint16_t)rd16(t->d + pos + 2 * i);
	pos += 2 * (size_t)nseg;
	for (unsigned i = 0; i < nseg; i++)
		f->delta[i] = (int16_t)rd16(t->d + pos + 2 * i);
	pos += 2 * (size_t)nseg;
	for (unsigned i = 0; i < nseg; i++)
		f->range_off[i] = (uint16_t)rd16(t->d + pos + 2 * i);
	pos += 2 * (size_t)nseg;
	f->ngid_array = (unsigned)((sub + sublen - pos) / 2);
	f->gid_array = xcalloc(f->ngid_array ? f->ngid_array : 1, sizeof *f->gid_array);
	for (unsigned i = 0; i < f->ngid_array; i++)
		f->gid_array[i] = (uint16_t)rd16(t->d + pos + 2 * (size_t)i);
	return 0;
}

static int parse_metrics(struct cardfont *f, const struct ttf *t, const char *path, char err[ERR_LEN])
{
	size_t off, len;
	unsigned nhm, last = 0;

	if (need_table(t, "head", 54, &off, &len, path, err) != 0)
		return -1;
	f->upem = (int)rd16(t->d + off + 18);
	if (f->upem < 16 || f->upem > 16384)
		return err_set(err, "%s: bad unitsPerEm %d", path, f->upem);
	if (need_table(t, "maxp", 6, &off, &len, path, err) != 0)
		return -1;
	f->num_glyphs = rd16(t->d + off + 4);
	if (f->num_glyphs == 0)
		return err_set(err, "%s: the font has no glyphs", path);
	if (need_table(t, "hhea", 36, &off, &len, path, err) != 0)
		return -1;
	/* Integer arithmetic as in libharu, so the two agree to the unit. */
	f->ascent = (int16_t)rd16(t->d + off + 4) * 1000 / f->upem;
	f->descent = (int16_t)rd16(t->d + off + 6) * 1000 / f->upem;
	if (f->ascent <= 0 || f->descent > 0 || f->ascent - f->descent < 100)
		return err_set(err, "%s: implausible ascent/descent in 'hhea'", path);
	nhm = rd16(t->d + off + 34);
	if (nhm == 0 || nhm > f->num_glyphs)
		return err_set(err, "%s: bad numberOfHMetrics", path);
	if (need_table(t, "hmtx", 4 * (size_t)nhm, &off, &len, path, err) != 0)
		return -1;
	f->advance = xcalloc(f->num_glyphs, sizeof *f->advance);
	for (unsigned g = 0; g < f->num_glyphs; g++) {
		if (g < nhm)
			last = rd16(t->d + off + 4 * (size_t)g);
		f->advance[g] = (uint16_t)last;
	}
	if (need_table(t, "OS/2", 10, &off, &len, path, err) != 0)
		return -1;
	/* libharu refuses to embed restricted, preview-only or bitmap-only fonts. */
	if (rd16(t->d + off + 8) & (0x0002 | 0x0100 | 0x0200))
		return err_set(err, "%s: the font's licence bits (OS/2 fsType) forbid embedding", path);
	if (need_table(t, "name", 6, &off, &len, path, err) != 0)
		return -1;
	return 0;
}

/* parse_composites: the direct components of every composite glyph. */
static int parse_composites(struct cardfont *f, const struct ttf *t, const char *path, char err[ERR_LEN])
{
	size_t goff, glen, loff, llen, ncomp = 0, cap = 64;
	int long_loca;

	if (need_table(t, "head", 54, &goff, &glen, path, err) != 0)
		return -1;
	long_loca = (int16_t)rd16(t->d + goff + 50) != 0;
	if (need_table(t, "glyf", 0, &goff, &glen, path, err) != 0)
		return -1;
	if (need_table(t, "loca", (f->num_glyphs + 1) * (size_t)(long_loca ? 4 : 2), &loff, &llen, path, err) != 0)
		return -1;
	f->comp_idx = xcalloc((size_t)f->num_glyphs + 1, sizeof *f->comp_idx);
	f->comp = xcalloc(cap, sizeof *f->comp);
	for (unsigned g = 0; g < f->num_glyphs; g++) {
		size_t a, b, p;
		unsigned flags;
		f->comp_idx[g] = (uint32_t)ncomp;
		if (long_loca) {
			a = rd32(t->d + loff + 4 * (size_t)g);
			b = rd32(t->d + loff + 4 * (size_t)g + 4);
		} else {
			a = 2 * (size_t)rd16(t->d + loff + 2 * (size_t)g);
			b = 2 * (size_t)rd16(t->d + loff + 2 * (size_t)g + 2);
		}
		if (a >= b)
			continue;           /* empty glyph (a space) */
		if (b > glen || b - a < 10)
			return err_set(err, "%s: glyph %u lies outside the 'glyf' table", path, g);
		if ((int16_t)rd16(t->d + goff + a) >= 0)
			continue;           /* a simple glyph */
		p = goff + a + 10;
		do {
			size_t argsz;
			unsigned comp;
			if (p + 4 > goff + b)
				return err_set(err, "%s: composite glyph %u is truncated", path, g);
			flags = rd16(t->d + p);
			comp = rd16(t->d + p + 2);
			if (comp >= f->num_glyphs)
				return err_set(err, "%s: composite glyph %u names glyph %u, past the last", path, g, comp);
			if (ncomp == cap) {
				cap *= 2;
				f->comp = xreallocarray(f->comp, cap, sizeof *f->comp);
			}
			f->comp[ncomp++] = (uint16_t)comp;
			argsz = (flags & 0x0001) ? 4 : 2;           /* ARG_1_AND_2_ARE_WORDS */
			if (flags & 0x0008)                         /* WE_HAVE_A_SCALE */
				argsz += 2;
			else if (flags & 0x0040)                    /* WE_HAVE_AN_X_AND_Y_SCALE */
				argsz += 4;
			else if (flags & 0x0080)                    /* WE_HAVE_A_TWO_BY_TWO */
				argsz += 8;
			p += 4 + argsz;
		} while (flags & 0x0020);                           /* MORE_COMPONENTS */
	}
	f->comp_idx[f->num_glyphs] = (uint32_t)ncomp;
	return 0;
}

int cardfont_load(const char *path, struct cardfont **out, char err[ERR_LEN])
{
	char *data = NULL;
	size_t len = 0;
	struct ttf t;
	struct cardfont *f = NULL;
	uint32_t version;
	int rc = -1;

	*out = NULL;
	if (util_read_file(path, CARDFONT_MAX_BYTES, &data, &len, err) != 0)
		return -1;
	t.d = (const unsigned char *)data;
	t.len = len;
	if (len < 12) {
		err_set(err, "%s: not a TrueType font", path);
		goto out;
	}
	version = rd32(t.d);
	if (version == 0x74746366) {        /* 'ttcf' */
		err_set(err, "%s: a font collection (.ttc); cards need a single TrueType font (.ttf)", path);
		goto out;
	}
	if (version == 0x4F54544F) {        /* 'OTTO' */
		err_set(err, "%s: a CFF-based OpenType font; cards need TrueType outlines (.ttf)", path);
		goto out;
	}
	if (version != 0x00010000 && version != 0x74727565) {   /* 'true' */
		err_set(err, "%s: not a TrueType font", path);
		goto out;
	}
	t.ntables = rd16(t.d + 4);
	if (12 + 16 * (size_t)t.ntables > len) {
		err_set(err, "%s: the table directory is truncated", path);
		goto out;
	}
	f = xcalloc(1, sizeof *f);
	if (parse_metrics(f, &t, path, err) != 0 || parse_cmap(f, &t, path, err) != 0 ||
	    parse_composites(f, &t, path, err) != 0)
		goto out;
	*out = f;
	f = NULL;
	rc = 0;
out:
	cardfont_free(f);
	free(data);
	return rc;
}

void cardfont_free(struct cardfont *f)
{
	if (!f)
		return;
	free(f->end);
	free(f->start);
	free(f->delta);
	free(f->range_off);
	free(f->gid_array);
	free(f->advance);
	free(f->comp_idx);
	free(f->comp);
	free(f);
}

/* seg_glyph: the standard format 4 lookup of cp in segment i (cp within the segment). */
static unsigned seg_glyph(const struct cardfont *f, unsigned i, uint32_t cp)
{
	size_t idx;
	unsigned g;

	if (f->range_off[i] == 0)
		return (cp + (unsigned)(uint16_t)f->delta[i]) & 0xFFFFu;
	/* idRangeOffset counts bytes from its own slot; the gid array starts nseg - i slots on. */
	idx = f->range_off[i] / 2 + (cp - f->start[i]);
	if (idx < (size_t)(f->nseg - i))
		return 0;
	idx -= f->nseg - i;
	if (idx >= f->ngid_array)
		return 0;
	g = f->gid_array[idx];
	return g ? (g + (unsigned)(uint16_t)f->delta[i]) & 0xFFFFu : 0;
}

unsigned cardfont_glyph(const struct cardfont *f, uint32_t cp)
{
	unsigned lo = 0, hi, g;

	/* libharu's UTF-8 path is 16-bit: nothing beyond the BMP can be printed. */
	if (!f || cp > 0xFFFF || f->nseg == 0)
		return 0;
	hi = f->nseg;
	while (lo < hi) {           /* the first segment whose end >= cp */
		unsigned mid = (lo + hi) / 2;
		if (f->end[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->nseg || f->start[lo] > cp)
		return 0;
	g = seg_glyph(f, lo, cp);
	return g < f->num_glyphs ? g : 0;
}

int cardfont_advance(const struct cardfont *f, unsigned gid)
{
	if (gid >= f->num_glyphs)
		gid = 0;
	return (int)((uint32_t)f->advance[gid] * 1000 / (uint32_t)f->upem);
}

int cardfont_ascent(const struct cardfont *f)
{
	return f->ascent;
}

int cardfont_descent(const struct cardfont *f)
{
	return f->descent;
}

unsigned cardfont_num_glyphs(const struct cardfont *f)
{
	return f->num_glyphs;
}

static void mark(const struct cardfont *f, unsigned gid, unsigned char *used, int depth)
{
	/* Real fonts nest two or three levels; the bound stops a cyclic (hostile) file. */
	if (gid >= f->num_glyphs || depth > 16)
		return;
	used[gid] = 1;
	for (uint32_t i = f->comp_idx[gid]; i < f->comp_idx[gid + 1]; i++)
		mark(f, f->comp[i], used, depth + 1);
}

void cardfont_mark_glyph(const struct cardfont *f, unsigned gid, unsigned char *used)
{
	mark(f, gid, used, 0);
}

int cardfont_foreach(const struct cardfont *f, int (*fn)(void *ud, uint32_t cp, unsigned gid), void *ud)
{
	for (unsigned i = 0; i < f->nseg; i++) {
		for (uint32_t cp = f->start[i]; cp <= f->end[i] && cp <= 0xFFFF; cp++) {
			unsigned g;
			int rc;
			if (i > 0 && cp <= f->end[i - 1])
				continue;   /* overlapping segments: the lookup takes the earlier one */
			g = cardfont_glyph(f, cp);
			if (g && (rc = fn(ud, cp, g)) != 0)
				return rc;
		}
	}
	return 0;
}
