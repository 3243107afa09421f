/*
 * card_pdf: the document's fonts, written by us rather than by libharu.
 *
 * Why: libharu shows text through a font's cmap (Unicode to glyph, BMP only), so it cannot
 * place the glyphs HarfBuzz chooses (Arabic joining forms, Indic conjuncts, Thai mark
 * stacking), it reads TrueType only (not CFF, not collections), it embeds nearly whole fonts,
 * and its UTF-8 ToUnicode map makes poppler warn. So each font a document uses becomes a
 * Type0 font with Identity-H encoding, built from libharu's object layer (dictionaries,
 * arrays, streams, which it writes and cross-references):
 *   - TrueType: a CIDFontType2 whose CIDs are the font's glyph ids; the embedded file is the
 *     hb-subset of the glyphs used, and CIDToGIDMap maps each CID to its glyph in the subset.
 *   - CID-keyed CFF (Noto CJK .ttc/.otf): a CIDFontType0 whose CIDs are the font's own CIDs,
 *     which hb-subset keeps, embedded as a bare CFF (FontFile3 /CIDFontType0C).
 *   - name-keyed CFF: a CIDFontType0 with glyph ids kept by hb-subset (FontFile3 /OpenType).
 * The glyphs are written in visual order as placed by HarfBuzz; the ToUnicode map gives
 * each glyph the characters it was first shown for, and every line is wrapped in a marked
 * content span whose /ActualText is the line's logical text, so text extraction gives the
 * string as written, whatever the glyph order on the page.
 * Subsetting happens at save time (card_pdf_finish), when the glyphs used are known; CIDs
 * are fixed before that (they do not depend on the subset), so pages can be written as they
 * come.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "card_int.h"

/* ---- libharu's errors, for every card module ---- */

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

/* ---- the fonts ---- */

struct used {
	unsigned gid, cid;
	int adv;
	uint32_t u[8];          /* the characters (at most 8 kept) */
	size_t nu;
};

struct dfont {
	struct cardfont *f;
	HPDF_Dict type0, cidfont, desc, file, tounicode, cid2gid;
	HPDF_Array w;
	uint32_t *slot;         /* per glyph id: index + 1 into used, 0 when unused */
	struct used *used;
	size_t nused, written;  /* written: nused when the objects were last written */
	char name[96];          /* ABCDEF+PostScriptName */
};

#define HO(x) do { if (!(x)) goto fail; } while (0)
#define HS(x) do { if ((x) != HPDF_OK) goto fail; } while (0)

static HPDF_Dict new_dict(struct card_batch *b)
{
	HPDF_Dict d = HPDF_Dict_New(b->doc->mmgr);
	if (d && HPDF_Xref_Add(b->doc->xref, d) != HPDF_OK)
		return NULL;    /* Xref_Add frees the object on failure */
	return d;
}

static HPDF_Dict new_stream(struct card_batch *b)
{
	HPDF_Dict d = HPDF_DictStream_New(b->doc->mmgr, b->doc->xref);
	if (d)
		d->filter = HPDF_STREAM_FILTER_FLATE_DECODE;
	return d;
}

static struct dfont *create(struct card_batch *b, struct cardfont *f)
{
	HPDF_MMgr mm = b->doc->mmgr;
	struct dfont *df = xcalloc(1, sizeof *df);
	enum cardfont_kind kind = cardfont_kind(f);
	HPDF_Array desc, bbox;
	HPDF_Dict si;
	unsigned serial = ++b->font_serial;
	int bb[4];
	char tag[7];

	/* The subset tag: six capitals, different for each font of the document. */
	for (int i = 0; i < 6; i++) {
		tag[i] = (char)('A' + serial % 26);
		serial /= 26;
	}
	tag[6] = 0;
	snprintf(df->name, sizeof df->name, "%s+%s", tag, cardfont_psname(f));
	df->f = cardfont_ref(f);
	df->slot = xcalloc(cardfont_num_glyphs(f), sizeof *df->slot);

	HO(df->type0 = new_dict(b));
	HS(HPDF_Dict_AddName(df->type0, "Type", "Font"));
	HS(HPDF_Dict_AddName(df->type0, "Subtype", "Type0"));
	HS(HPDF_Dict_AddName(df->type0, "BaseFont", df->name));
	HS(HPDF_Dict_AddName(df->type0, "Encoding", "Identity-H"));
	HO(desc = HPDF_Array_New(mm));
	HS(HPDF_Dict_Add(df->type0, "DescendantFonts", desc));
	HO(df->tounicode = new_stream(b));
	HS(HPDF_Dict_Add(df->type0, "ToUnicode", df->tounicode));

	HO(df->cidfont = new_dict(b));
	HS(HPDF_Array_Add(desc, df->cidfont));
	HS(HPDF_Dict_AddName(df->cidfont, "Type", "Font"));
	HS(HPDF_Dict_AddName(df->cidfont, "Subtype", kind == CARDFONT_TRUETYPE ? "CIDFontType2" : "CIDFontType0"));
	HS(HPDF_Dict_AddName(df->cidfont, "BaseFont", df->name));
	HO(si = HPDF_Dict_New(mm));
	HS(HPDF_Dict_Add(df->cidfont, "CIDSystemInfo", si));
	HS(HPDF_Dict_Add(si, "Registry", HPDF_String_New(mm, "Adobe", NULL)));
	HS(HPDF_Dict_Add(si, "Ordering", HPDF_String_New(mm, "Identity", NULL)));
	HS(HPDF_Dict_AddNumber(si, "Supplement", 0));
	HS(HPDF_Dict_AddNumber(df->cidfont, "DW", 1000));
	HO(df->w = HPDF_Array_New(mm));
	HS(HPDF_Dict_Add(df->cidfont, "W", df->w));
	if (kind == CARDFONT_TRUETYPE) {
		HO(df->cid2gid = new_stream(b));
		HS(HPDF_Dict_Add(df->cidfont, "CIDToGIDMap", df->cid2gid));
	}

	HO(df->desc = new_dict(b));
	HS(HPDF_Dict_Add(df->cidfont, "FontDescriptor", df->desc));
	HS(HPDF_Dict_AddName(df->desc, "Type", "FontDescriptor"));
	HS(HPDF_Dict_AddName(df->desc, "FontName", df->name));
	HS(HPDF_Dict_AddNumber(df->desc, "Flags", cardfont_serif(f) ? 6 : 4));   /* symbolic (+ serif) */
	cardfont_bbox(f, bb);
	HO(bbox = HPDF_Array_New(mm));
	HS(HPDF_Dict_Add(df->desc, "FontBBox", bbox));
	for (int i = 0; i < 4; i++)
		HS(HPDF_Array_AddNumber(bbox, bb[i]));
	HS(HPDF_Dict_AddNumber(df->desc, "ItalicAngle", 0));
	HS(HPDF_Dict_AddNumber(df->desc, "Ascent", cardfont_ascent(f)));
	HS(HPDF_Dict_AddNumber(df->desc, "Descent", cardfont_descent(f)));
	HS(HPDF_Dict_AddNumber(df->desc, "CapHeight", cardfont_ascent(f)));
	HS(HPDF_Dict_AddNumber(df->desc, "StemV", 80));
	HO(df->file = new_stream(b));
	if (kind == CARDFONT_TRUETYPE) {
		HS(HPDF_Dict_Add(df->desc, "FontFile2", df->file));
	} else {
		HS(HPDF_Dict_Add(df->desc, "FontFile3", df->file));
		HS(HPDF_Dict_AddName(df->file, "Subtype", kind == CARDFONT_CFF_CID ? "CIDFontType0C" : "OpenType"));
	}
	return df;
fail:
	cardfont_free(df->f);
	free(df->slot);
	free(df);
	return NULL;
}

struct dfont *card_pdf_font(struct card_batch *b, struct cardfont *f)
{
	struct dfont *df;
	for (size_t i = 0; i < b->nfonts; i++) {
		struct cardfont *g = b->fonts[i]->f;
		if (g == f || (cardfont_index(g) == cardfont_index(f) && strcmp(cardfont_path(g), cardfont_path(f)) == 0))
			return b->fonts[i];
	}
	if (!(df = create(b, f)))
		return NULL;
	b->fonts = xreallocarray(b->fonts, b->nfonts + 1, sizeof *b->fonts);
	b->fonts[b->nfonts++] = df;
	return df;
}

const char *card_pdf_font_name(struct dfont *df, HPDF_Page pg)
{
	/* libharu files any dictionary under the page's /Font resources. */
	return HPDF_Page_GetLocalFontName(pg, (HPDF_Font)df->type0);
}

unsigned card_pdf_use(struct dfont *df, unsigned gid, const uint32_t *u, size_t n)
{
	struct used *e;
	if (gid >= cardfont_num_glyphs(df->f))
		gid = 0;
	if (df->slot[gid])
		return df->used[df->slot[gid] - 1].cid;
	df->used = xreallocarray(df->used, df->nused + 1, sizeof *df->used);
	e = &df->used[df->nused];
	memset(e, 0, sizeof *e);
	e->gid = gid;
	e->cid = cardfont_cid(df->f, gid);
	e->adv = cardfont_advance(df->f, gid);
	for (size_t i = 0; i < n && e->nu < 8; i++)
		e->u[e->nu++] = u[i];
	df->slot[gid] = (uint32_t)++df->nused;
	return e->cid;
}

int card_pdf_advance(const struct dfont *df, unsigned gid)
{
	if (gid < cardfont_num_glyphs(df->f) && df->slot[gid])
		return df->used[df->slot[gid] - 1].adv;
	return cardfont_advance(df->f, gid);
}

static int cmp_cid(const void *a, const void *b)
{
	const struct used *x = a, *y = b;
	return x->cid < y->cid ? -1 : x->cid > y->cid;
}

static void utf16_hex(struct strbuf *sb, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t c = u[i];
		if (c >= 0x10000) {
			c -= 0x10000;
			sb_addf(sb, "%04X%04X", 0xD800 + (unsigned)(c >> 10), 0xDC00 + (unsigned)(c & 0x3FF));
		} else {
			sb_addf(sb, "%04X", (unsigned)c);
		}
	}
}

/* tounicode: a CMap of bfchar entries (at most 100 per block, as the format wants). */
static void tounicode(const struct used *u, size_t n, struct strbuf *sb)
{
	size_t k = 0;
	sb_adds(sb, "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
	            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
	            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
	            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
	for (size_t i = 0; i < n; i++)
		k += u[i].nu > 0 && u[i].cid <= 0xFFFF;
	for (size_t i = 0, left = k; i < n;) {
		size_t block = left < 100 ? left : 100, done = 0;
		if (block == 0)
			break;
		sb_addf(sb, "%zu beginbfchar\n", block);
		for (; i < n && done < block; i++) {
			if (u[i].nu == 0 || u[i].cid > 0xFFFF)
				continue;
			sb_addf(sb, "<%04X> <", u[i].cid);
			utf16_hex(sb, u[i].u, u[i].nu);
			sb_adds(sb, ">\n");
			done++;
		}
		sb_adds(sb, "endbfchar\n");
		left -= done;
	}
	sb_adds(sb, "endcmap\nCMapName currentdict /CIDInit /ProcSet findresource pop\nend\nend\n");
}

static int write_font(struct card_batch *b, struct dfont *df, char err[ERR_LEN])
{
	HPDF_MMgr mm = b->doc->mmgr;
	struct used *sorted = xcalloc(df->nused ? df->nused : 1, sizeof *sorted);
	unsigned *gids = xcalloc(df->nused ? df->nused : 1, sizeof *gids);
	unsigned char *data = NULL;
	uint16_t *newgid = NULL;
	size_t len = 0;
	struct strbuf sb = {0};
	int rc = -1;

	memcpy(sorted, df->used, df->nused * sizeof *sorted);
	qsort(sorted, df->nused, sizeof *sorted, cmp_cid);
	for (size_t i = 0; i < df->nused; i++)
		gids[i] = df->used[i].gid;
	if (cardfont_subset(df->f, gids, df->nused, &data, &len, &newgid, err) != 0)
		goto out;
	HPDF_MemStream_FreeData(df->file->stream);
	HS(HPDF_Stream_Write(df->file->stream, data, (HPDF_UINT)len));
	if (cardfont_kind(df->f) == CARDFONT_TRUETYPE) {
		unsigned maxcid = 0;
		unsigned char *map;
		HS(HPDF_Dict_AddNumber(df->file, "Length1", (HPDF_INT32)len));
		for (size_t i = 0; i < df->nused; i++)
			if (sorted[i].cid > maxcid)
				maxcid = sorted[i].cid;
		map = xcalloc((size_t)maxcid + 1, 2);
		for (size_t i = 0; i < df->nused; i++) {
			unsigned g = newgid ? newgid[sorted[i].gid] : sorted[i].gid;
			map[2 * sorted[i].cid] = (unsigned char)(g >> 8);
			map[2 * sorted[i].cid + 1] = (unsigned char)(g & 0xFF);
		}
		HPDF_MemStream_FreeData(df->cid2gid->stream);
		if (HPDF_Stream_Write(df->cid2gid->stream, map, (HPDF_UINT)(2 * ((size_t)maxcid + 1))) != HPDF_OK) {
			free(map);
			goto fail;
		}
		free(map);
	}
	/* W: runs of consecutive CIDs share one array. */
	HPDF_Array_Clear(df->w);
	for (size_t i = 0; i < df->nused;) {
		size_t j = i + 1;
		HPDF_Array ws;
		while (j < df->nused && sorted[j].cid == sorted[j - 1].cid + 1)
			j++;
		HS(HPDF_Array_AddNumber(df->w, (HPDF_INT32)sorted[i].cid));
		HO(ws = HPDF_Array_New(mm));
		HS(HPDF_Array_Add(df->w, ws));
		for (size_t k = i; k < j; k++)
			HS(HPDF_Array_AddNumber(ws, sorted[k].adv));
		i = j;
	}
	tounicode(sorted, df->nused, &sb);
	HPDF_MemStream_FreeData(df->tounicode->stream);
	HS(HPDF_Stream_Write(df->tounicode->stream, (const HPDF_BYTE *)sb.s, (HPDF_UINT)sb.len));
	df->written = df->nused;
	rc = 0;
	goto out;
fail:
	card_hpdf_fail(err, &b->herr, "cannot write a font");
out:
	sb_free(&sb);
	free(newgid);
	free(data);
	free(gids);
	free(sorted);
	return rc;
}

int card_pdf_finish(struct card_batch *b, char err[ERR_LEN])
{
	for (size_t i = 0; i < b->nfonts; i++)
		if (b->fonts[i]->written != b->fonts[i]->nused || b->fonts[i]->nused == 0)
			if (write_font(b, b->fonts[i], err) != 0)
				return -1;
	return 0;
}

void card_pdf_free(struct card_batch *b)
{
	/* The PDF objects belong to the document; only our side is freed here. */
	for (size_t i = 0; i < b->nfonts; i++) {
		cardfont_free(b->fonts[i]->f);
		free(b->fonts[i]->slot);
		free(b->fonts[i]->used);
		free(b->fonts[i]);
	}
	free(b->fonts);
	b->fonts = NULL;
	b->nfonts = 0;
}

/* ---- pages deflated as they are completed, the document streamed to its file ---- */

/* write_flate: the /Filter of a content stream deflated by card_pdf_page_done (libharu's own
 * filter flag would deflate it a second time as it writes). */
static HPDF_STATUS write_flate(HPDF_Dict d, HPDF_Stream s)
{
	(void)d;
	return HPDF_Stream_WriteStr(s, "/Filter /FlateDecode\012");
}

int card_pdf_page_done(struct card_batch *b, HPDF_Page pg)
{
	HPDF_PageAttr attr = pg ? (HPDF_PageAttr)pg->attr : NULL;
	HPDF_Dict res, contents;
	HPDF_Stream raw, z;
	z_stream zs;
	unsigned char *out = NULL;
	HPDF_UINT nbuf;
	uLong size, bound;
	int rc = -1;

	if (!attr || !(contents = attr->contents) || contents->write_fn == write_flate)
		return 0;
	/* libharu closes an open text object or graphics state into the stream as it writes. */
	if (attr->gmode != HPDF_GMODE_PAGE_DESCRIPTION || (attr->gstate && attr->gstate->prev))
		return 0;
	if ((res = HPDF_Dict_GetItem(pg, "Resources", HPDF_OCLASS_DICT)) != NULL)
		HPDF_Dict_RemoveElement(res, "ProcSet");
	raw = contents->stream;
	if (!raw || raw->type != HPDF_STREAM_MEMORY)
		return 0;
	size = HPDF_Stream_Size(raw);
	memset(&zs, 0, sizeof zs);
	if (deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK)
		return -1;
	bound = deflateBound(&zs, size);
	out = xmalloc(bound ? bound : 1);
	zs.next_out = out;
	zs.avail_out = (uInt)bound;
	nbuf = HPDF_MemStream_GetBufCount(raw);
	for (HPDF_UINT i = 0; i < nbuf; i++) {
		HPDF_UINT len = 0;
		HPDF_BYTE *p = HPDF_MemStream_GetBufPtr(raw, i, &len);
		if (!p)
			goto out;
		zs.next_in = p;
		zs.avail_in = len;
		if (deflate(&zs, Z_NO_FLUSH) != Z_OK || zs.avail_in != 0)
			goto out;
	}
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		goto out;
	/* One buffer of exactly the compressed size (a new stream's buffers are 4 KiB). */
	z = HPDF_MemStream_New(b->doc->mmgr, zs.total_out ? (HPDF_UINT)zs.total_out : 1);
	if (!z)
		goto out;
	if (zs.total_out && HPDF_Stream_Write(z, out, (HPDF_UINT)zs.total_out) != HPDF_OK) {
		HPDF_Stream_Free(z);
		goto out;
	}
	contents->stream = z;
	attr->stream = z;
	contents->filter = HPDF_STREAM_FILTER_NONE;
	contents->write_fn = write_flate;
	HPDF_Stream_Free(raw);
	rc = 0;
out:
	deflateEnd(&zs);
	free(out);
	return rc;
}

/* The file a batch is written into, through a buffer (libharu writes a token at a time). */
struct save_sink {
	struct util_atomic a;
	unsigned char buf[64 * 1024];
	size_t n;
	int failed;
	char err[ERR_LEN];
};

static int sink_flush(struct save_sink *s)
{
	if (!s->failed && s->n && util_atomic_write(&s->a, s->buf, s->n, s->err) != 0)
		s->failed = 1;
	s->n = 0;
	return s->failed ? -1 : 0;
}

static HPDF_STATUS HPDF_STDCALL sink_write(HPDF_Stream stream, const HPDF_BYTE *ptr, HPDF_UINT siz)
{
	struct save_sink *s = stream->attr;
	while (siz > 0 && !s->failed) {
		size_t k = sizeof s->buf - s->n;
		if (k > siz)
			k = siz;
		memcpy(s->buf + s->n, ptr, k);
		s->n += k;
		ptr += k;
		siz -= (HPDF_UINT)k;
		if (s->n == sizeof s->buf)
			sink_flush(s);
	}
	return s->failed ? HPDF_FILE_IO_ERROR : HPDF_OK;
}

int card_pdf_save(struct card_batch *b, const char *path, char err[ERR_LEN])
{
	struct save_sink *s = xcalloc(1, sizeof *s);
	HPDF_Stream keep = b->doc->stream, w;
	HPDF_STATUS st;
	int rc = -1;

	if (util_atomic_open(&s->a, path, err) != 0) {
		free(s);
		return -1;
	}
	w = HPDF_CallbackWriter_New(b->doc->mmgr, sink_write, s);
	if (!w) {
		card_hpdf_fail(err, &b->herr, "cannot write the PDF");
		goto out;
	}
	/* HPDF_SaveToStream writes into the document's stream: ours, for the time of the save. */
	b->doc->stream = w;
	st = HPDF_SaveToStream(b->doc);
	b->doc->stream = keep;
	HPDF_Stream_Free(w);
	if (s->failed || sink_flush(s) != 0) {
		util_strlcpy(err, s->err, ERR_LEN);   /* the file and errno's text */
		goto out;
	}
	if (st != HPDF_OK || b->herr.status) {
		card_hpdf_fail(err, &b->herr, "cannot write the PDF");
		goto out;
	}
	rc = util_atomic_commit(&s->a, err);
out:
	util_atomic_abort(&s->a);
	free(s);
	return rc;
}
