/*
 * cardfont: fonts through HarfBuzz (and FreeType for CFF CIDs). The file is mapped by
 * HarfBuzz and never copied; every table it reads is bounds-checked by HarfBuzz, and the few
 * fields read here by hand (hhea, head, OS/2) are checked against the table's length, so a
 * broken font file gives an error, never a crash.
 */
#include "occasiond/cardfont.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hb.h>
#include <hb-ot.h>
#include <hb-subset.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_CID_H

struct cardfont {
	int refs;
	char *path;
	unsigned index;
	hb_blob_t *blob;
	hb_face_t *face;
	hb_font_t *font;
	enum cardfont_kind kind;
	unsigned num_glyphs;
	int upem;
	int ascent, descent;        /* 1/1000 em */
	int bbox[4];
	char family[128];
	char psname[64];
	FT_Library ft;              /* CID-keyed CFF only */
	FT_Face ftface;
	struct shaped *cache;       /* SHAPE_SLOTS shaped runs, allocated on first use */
	size_t cache_bytes;
};

/*
 * Shaped runs are kept per font: a card batch shapes the same message, the same signer and
 * the same cover labels for every card, and shaping was over 40 % of a batch's time. HarfBuzz
 * reads at most HB_BUFFER_CONTEXT_LENGTH (5) code points of context on each side, so the run
 * with that much context, the direction, script and language decide the result exactly.
 */
#define SHAPE_CONTEXT 5
#define SHAPE_SLOTS 512
#define SHAPE_MAX_RUN 256                       /* longer runs are shaped every time */
#define SHAPE_MAX_BYTES ((size_t)2 << 20)       /* past it the cache starts again empty */

struct shaped {
	uint64_t hash;
	uint32_t *key;              /* pre context, run, post context */
	size_t pre, n, post;
	int rtl;
	uint32_t script;
	char lang[24];
	struct cardfont_glyph *g;   /* clusters relative to the run's start */
	size_t ng;
};

static unsigned rd16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* table: the bytes of table tag, *len of them; NULL when absent or shorter than min. */
static hb_blob_t *table(hb_face_t *face, const char *tag, unsigned min, const unsigned char **data)
{
	hb_blob_t *b = hb_face_reference_table(face, hb_tag_from_string(tag, 4));
	unsigned len = 0;
	*data = (const unsigned char *)hb_blob_get_data(b, &len);
	if (!*data || len < min) {
		hb_blob_destroy(b);
		return NULL;
	}
	return b;
}

static void name_of(hb_face_t *face, hb_ot_name_id_t id, char *buf, unsigned size)
{
	unsigned n = size;
	buf[0] = 0;
	if (hb_ot_name_get_utf8(face, id, hb_language_from_string("en", -1), &n, buf) == 0) {
		n = size;
		hb_ot_name_get_utf8(face, id, HB_LANGUAGE_INVALID, &n, buf);
	}
	buf[size - 1] = 0;
}

static int read_metrics(struct cardfont *f, char err[ERR_LEN])
{
	const unsigned char *d;
	hb_blob_t *b;

	f->upem = (int)hb_face_get_upem(f->face);
	if (f->upem < 16 || f->upem > 16384)
		return err_set(err, "%s: bad unitsPerEm %d", f->path, f->upem);
	f->num_glyphs = hb_face_get_glyph_count(f->face);
	if (f->num_glyphs == 0)
		return err_set(err, "%s: the font has no glyphs", f->path);
	if (!(b = table(f->face, "hhea", 36, &d)))
		return err_set(err, "%s: no valid 'hhea' table", f->path);
	f->ascent = (int16_t)rd16(d + 4) * 1000 / f->upem;
	f->descent = (int16_t)rd16(d + 6) * 1000 / f->upem;
	hb_blob_destroy(b);
	if (f->ascent <= 0 || f->descent > 0 || f->ascent - f->descent < 100)
		return err_set(err, "%s: implausible ascent/descent in 'hhea'", f->path);
	if (!(b = table(f->face, "head", 54, &d)))
		return err_set(err, "%s: no valid 'head' table", f->path);
	for (int i = 0; i < 4; i++)
		f->bbox[i] = (int16_t)rd16(d + 36 + 2 * i) * 1000 / f->upem;
	hb_blob_destroy(b);
	if ((b = table(f->face, "OS/2", 10, &d))) {
		/* Restricted licence, preview-only or bitmap-only: may not be embedded. */
		unsigned fs = rd16(d + 8);
		hb_blob_destroy(b);
		if (fs & (0x0002 | 0x0200))
			return err_set(err, "%s: the font's licence bits (OS/2 fsType) forbid embedding", f->path);
	}
	return 0;
}

static int read_kind(struct cardfont *f, char err[ERR_LEN])
{
	const unsigned char *d;
	hb_blob_t *b;
	FT_Bool cid = 0;
	unsigned len = 0;
	const char *data;

	if ((b = table(f->face, "glyf", 1, &d))) {
		hb_blob_destroy(b);
		f->kind = CARDFONT_TRUETYPE;
		return 0;
	}
	if ((b = table(f->face, "CFF2", 1, &d))) {
		hb_blob_destroy(b);
		return err_set(err, "%s: a variable CFF2 font; cards need TrueType or CFF outlines", f->path);
	}
	if (!(b = table(f->face, "CFF ", 4, &d)))
		return err_set(err, "%s: neither TrueType ('glyf') nor CFF outlines", f->path);
	hb_blob_destroy(b);
	f->kind = CARDFONT_CFF;
	data = hb_blob_get_data(f->blob, &len);
	if (FT_Init_FreeType(&f->ft) != 0)
		return err_set(err, "%s: FreeType cannot start", f->path);
	if (FT_New_Memory_Face(f->ft, (const FT_Byte *)data, (FT_Long)len, (FT_Long)f->index, &f->ftface) != 0)
		return err_set(err, "%s: FreeType cannot read face %u", f->path, f->index);
	if (FT_Get_CID_Is_Internally_CID_Keyed(f->ftface, &cid) == 0 && cid)
		f->kind = CARDFONT_CFF_CID;
	return 0;
}

int cardfont_load(const char *path, unsigned index, struct cardfont **out, char err[ERR_LEN])
{
	struct cardfont *f = xcalloc(1, sizeof *f);
	size_t k = 0;

	*out = NULL;
	f->refs = 1;
	f->path = xstrdup(path);
	f->index = index;
	f->blob = hb_blob_create_from_file_or_fail(path);
	if (!f->blob) {
		err_set(err, "%s: cannot read the file", path);
		goto fail;
	}
	if (hb_blob_get_length(f->blob) < 12) {
		err_set(err, "%s: not a font", path);
		goto fail;
	}
	if (index >= hb_face_count(f->blob)) {
		err_set(err, "%s: not a font%s", path, index ? " with that many faces" : "");
		goto fail;
	}
	f->face = hb_face_create(f->blob, index);
	if (read_metrics(f, err) != 0 || read_kind(f, err) != 0)
		goto fail;
	f->font = hb_font_create(f->face);
	hb_font_set_scale(f->font, f->upem, f->upem);
	name_of(f->face, HB_OT_NAME_ID_FONT_FAMILY, f->family, sizeof f->family);
	{
		char ps[128];
		name_of(f->face, HB_OT_NAME_ID_POSTSCRIPT_NAME, ps, sizeof ps);
		for (const char *p = ps[0] ? ps : f->family; *p && k + 1 < sizeof f->psname; p++)
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')
				f->psname[k++] = *p;
		if (k == 0)
			memcpy(f->psname, "Font", 5);
	}
	hb_face_make_immutable(f->face);
	*out = f;
	return 0;
fail:
	cardfont_free(f);
	return -1;
}

struct cardfont *cardfont_ref(struct cardfont *f)
{
	if (f)
		f->refs++;
	return f;
}

static void cache_clear(struct cardfont *f)
{
	if (!f->cache)
		return;
	for (size_t i = 0; i < SHAPE_SLOTS; i++) {
		free(f->cache[i].key);
		free(f->cache[i].g);
	}
	memset(f->cache, 0, SHAPE_SLOTS * sizeof *f->cache);
	f->cache_bytes = 0;
}

void cardfont_free(struct cardfont *f)
{
	if (!f || --f->refs > 0)
		return;
	cache_clear(f);
	free(f->cache);
	if (f->ftface)
		FT_Done_Face(f->ftface);
	if (f->ft)
		FT_Done_FreeType(f->ft);
	hb_font_destroy(f->font);
	hb_face_destroy(f->face);
	hb_blob_destroy(f->blob);
	free(f->path);
	free(f);
}

const char *cardfont_path(const struct cardfont *f)
{
	return f->path;
}

unsigned cardfont_index(const struct cardfont *f)
{
	return f->index;
}

const char *cardfont_family(const struct cardfont *f)
{
	return f->family;
}

const char *cardfont_psname(const struct cardfont *f)
{
	return f->psname;
}

int cardfont_serif(const struct cardfont *f)
{
	return strstr(f->family, "Serif") && !strstr(f->family, "Sans");
}

enum cardfont_kind cardfont_kind(const struct cardfont *f)
{
	return f->kind;
}

unsigned cardfont_glyph(const struct cardfont *f, uint32_t cp)
{
	hb_codepoint_t g = 0;
	if (!f || !hb_font_get_nominal_glyph(f->font, cp, &g))
		return 0;
	return g < f->num_glyphs ? g : 0;
}

static double em(const struct cardfont *f, hb_position_t v)
{
	return (double)v * 1000.0 / f->upem;
}

int cardfont_advance(const struct cardfont *f, unsigned gid)
{
	double a = em(f, hb_font_get_glyph_h_advance(f->font, gid));
	return (int)(a < 0 ? a - 0.5 : a + 0.5);
}

unsigned cardfont_cid(const struct cardfont *f, unsigned gid)
{
	FT_UInt cid = 0;
	if (f->kind != CARDFONT_CFF_CID)
		return gid;
	if (FT_Get_CID_From_Glyph_Index(f->ftface, gid, &cid) != 0)
		return gid;
	return cid;
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

void cardfont_bbox(const struct cardfont *f, int bbox[4])
{
	memcpy(bbox, f->bbox, sizeof f->bbox);
}

static size_t shape_hb(const struct cardfont *f, const uint32_t *text, size_t len, size_t off, size_t n, int rtl,
                       uint32_t script, const char *lang, struct cardfont_glyph **out)
{
	hb_buffer_t *buf = hb_buffer_create();
	hb_glyph_info_t *info;
	hb_glyph_position_t *pos;
	unsigned count = 0;
	struct cardfont_glyph *g;

	hb_buffer_add_codepoints(buf, text, (int)len, (unsigned)off, (int)n);
	hb_buffer_set_direction(buf, rtl ? HB_DIRECTION_RTL : HB_DIRECTION_LTR);
	if (script != CARDFONT_SCRIPT_COMMON && script != CARDFONT_SCRIPT_INHERITED)
		hb_buffer_set_script(buf, (hb_script_t)script);
	if (lang)
		hb_buffer_set_language(buf, hb_language_from_string(lang, -1));
	hb_buffer_guess_segment_properties(buf);
	/* Joiners and bidi marks steer shaping; they print nothing. */
	hb_buffer_set_flags(buf, HB_BUFFER_FLAG_REMOVE_DEFAULT_IGNORABLES);
	hb_shape(f->font, buf, NULL, 0);
	info = hb_buffer_get_glyph_infos(buf, &count);
	pos = hb_buffer_get_glyph_positions(buf, NULL);
	g = xcalloc(count ? count : 1, sizeof *g);
	for (unsigned i = 0; i < count; i++) {
		g[i].gid = info[i].codepoint < f->num_glyphs ? info[i].codepoint : 0;
		g[i].cluster = info[i].cluster;
		g[i].adv = em(f, pos[i].x_advance);
		g[i].dx = em(f, pos[i].x_offset);
		g[i].dy = em(f, pos[i].y_offset);
	}
	hb_buffer_destroy(buf);
	*out = g;
	return count;
}

/* FNV-1a over the key's code points and the settings. */
static uint64_t shape_hash(const uint32_t *key, size_t nk, size_t pre, int rtl, uint32_t script, const char *lang)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < nk; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	h ^= (uint64_t)pre << 32 | (uint64_t)(rtl != 0) << 31 | script;
	h *= 0x100000001b3ull;
	for (const char *p = lang ? lang : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	return h;
}

size_t cardfont_shape(const struct cardfont *cf, const uint32_t *text, size_t len, size_t off, size_t n, int rtl,
                      uint32_t script, const char *lang, struct cardfont_glyph **out)
{
	struct cardfont *f = (struct cardfont *)cf;    /* the cache is not part of the font's meaning */
	size_t pre = off < SHAPE_CONTEXT ? off : SHAPE_CONTEXT;
	size_t post = len - off - n < SHAPE_CONTEXT ? len - off - n : SHAPE_CONTEXT;
	const uint32_t *key = text + off - pre;
	size_t nk = pre + n + post, ng;
	struct shaped *e;
	uint64_t h;

	if (n > SHAPE_MAX_RUN || (lang && strlen(lang) >= sizeof e->lang))
		return shape_hb(f, text, len, off, n, rtl, script, lang, out);
	if (!f->cache)
		f->cache = xcalloc(SHAPE_SLOTS, sizeof *f->cache);
	h = shape_hash(key, nk, pre, rtl, script, lang);
	e = &f->cache[h % SHAPE_SLOTS];
	if (!(e->key && e->hash == h && e->pre == pre && e->n == n && e->post == post && e->rtl == rtl &&
	      e->script == script && strcmp(e->lang, lang ? lang : "") == 0 &&
	      memcmp(e->key, key, nk * sizeof *key) == 0)) {
		struct cardfont_glyph *g;
		if (f->cache_bytes > SHAPE_MAX_BYTES)
			cache_clear(f);
		/* Shaped with exactly the context HarfBuzz would keep of the whole text. */
		ng = shape_hb(f, key, nk, pre, n, rtl, script, lang, &g);
		for (size_t i = 0; i < ng; i++)
			g[i].cluster -= pre;
		if (e->key)
			f->cache_bytes -= (e->pre + e->n + e->post) * sizeof *e->key + e->ng * sizeof *e->g;
		free(e->key);
		free(e->g);
		e->hash = h;
		e->key = xmalloc(nk * sizeof *key);
		memcpy(e->key, key, nk * sizeof *key);
		e->pre = pre, e->n = n, e->post = post, e->rtl = rtl, e->script = script;
		snprintf(e->lang, sizeof e->lang, "%s", lang ? lang : "");
		e->g = g;
		e->ng = ng;
		f->cache_bytes += nk * sizeof *key + ng * sizeof *g;
	}
	*out = xcalloc(e->ng ? e->ng : 1, sizeof **out);
	memcpy(*out, e->g, e->ng * sizeof **out);
	for (size_t i = 0; i < e->ng; i++)
		(*out)[i].cluster += off;
	return e->ng;
}

uint32_t cardfont_script(uint32_t cp)
{
	return (uint32_t)hb_unicode_script(hb_unicode_funcs_get_default(), cp);
}

int cardfont_is_mark(uint32_t cp)
{
	hb_unicode_general_category_t gc = hb_unicode_general_category(hb_unicode_funcs_get_default(), cp);
	return gc == HB_UNICODE_GENERAL_CATEGORY_NON_SPACING_MARK || gc == HB_UNICODE_GENERAL_CATEGORY_SPACING_MARK ||
	       gc == HB_UNICODE_GENERAL_CATEGORY_ENCLOSING_MARK || cp == 0x200C || cp == 0x200D ||
	       (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

int cardfont_cjk(uint32_t cp)
{
	hb_script_t sc = hb_unicode_script(hb_unicode_funcs_get_default(), cp);
	return sc == HB_SCRIPT_HAN || sc == HB_SCRIPT_HIRAGANA || sc == HB_SCRIPT_KATAKANA || sc == HB_SCRIPT_BOPOMOFO ||
	       sc == HB_SCRIPT_HANGUL;
}

int cardfont_joining_script(uint32_t script)
{
	return script == HB_SCRIPT_ARABIC || script == HB_SCRIPT_SYRIAC || script == HB_SCRIPT_NKO ||
	       script == HB_SCRIPT_MONGOLIAN || script == HB_SCRIPT_MANDAIC || script == HB_SCRIPT_THAANA ||
	       script == HB_SCRIPT_ADLAM;
}

int cardfont_subset(const struct cardfont *f, const unsigned *gids, size_t n, unsigned char **data, size_t *len,
                    uint16_t **new_gid, char err[ERR_LEN])
{
	static const char *const drop[] = {"GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "kern", "morx", "DSIG",
	                                   "vhea", "vmtx", "VORG", "gasp", "hdmx", "LTSH", "VDMX", "STAT", "meta"};
	hb_subset_input_t *in = hb_subset_input_create_or_fail();
	hb_subset_plan_t *plan = NULL;
	hb_face_t *sub = NULL;
	hb_blob_t *blob = NULL;
	hb_set_t *s;
	unsigned flags = HB_SUBSET_FLAGS_NO_HINTING | HB_SUBSET_FLAGS_NOTDEF_OUTLINE;
	const char *bytes;
	unsigned blen = 0;
	int rc = -1;

	*data = NULL, *len = 0;
	if (new_gid)
		*new_gid = NULL;
	if (!in)
		return err_set(err, "%s: hb-subset: out of memory", f->path);
	s = hb_subset_input_glyph_set(in);
	hb_set_add(s, 0);
	for (size_t i = 0; i < n; i++)
		hb_set_add(s, gids[i]);
	s = hb_subset_input_set(in, HB_SUBSET_SETS_DROP_TABLE_TAG);
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
		hb_set_add(s, hb_tag_from_string(drop[i], 4));
	hb_set_clear(hb_subset_input_unicode_set(in));
	if (f->kind == CARDFONT_CFF)
		flags |= HB_SUBSET_FLAGS_RETAIN_GIDS;
	hb_subset_input_set_flags(in, flags);
	if (!(plan = hb_subset_plan_create_or_fail(f->face, in)) || !(sub = hb_subset_plan_execute_or_fail(plan))) {
		err_set(err, "%s: hb-subset failed", f->path);
		goto out;
	}
	if (f->kind == CARDFONT_CFF_CID)
		blob = hb_face_reference_table(sub, HB_TAG('C', 'F', 'F', ' '));
	else
		blob = hb_face_reference_blob(sub);
	bytes = hb_blob_get_data(blob, &blen);
	if (!bytes || blen == 0) {
		err_set(err, "%s: hb-subset gave an empty font", f->path);
		goto out;
	}
	*data = xmalloc(blen);
	memcpy(*data, bytes, blen);
	*len = blen;
	if (new_gid && f->kind == CARDFONT_TRUETYPE) {
		const hb_map_t *m = hb_subset_plan_old_to_new_glyph_mapping(plan);
		*new_gid = xcalloc(f->num_glyphs, sizeof **new_gid);
		for (unsigned g = 0; g < f->num_glyphs; g++) {
			hb_codepoint_t v = hb_map_get(m, g);
			(*new_gid)[g] = v == HB_MAP_VALUE_INVALID ? 0 : (uint16_t)v;
		}
	}
	rc = 0;
out:
	hb_blob_destroy(blob);
	hb_face_destroy(sub);
	hb_subset_plan_destroy(plan);
	hb_subset_input_destroy(in);
	return rc;
}
