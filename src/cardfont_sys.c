/*
 * cardfont_sys: the fonts installed on the system, through fontconfig, for the characters a
 * template's fonts lack. Installing a Debian font package (fonts-noto-core, fonts-noto-cjk,
 * fonts-nanum) is all it takes for a new script. Answers are cached per code point and style
 * for the process; a font file is opened once.
 */
#include "occasiond/cardfont.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fontconfig/fontconfig.h>
#include <hb.h>

struct sysfont {
	char *path;
	unsigned index;
	struct cardfont *f;     /* NULL: the file could not be read */
};

#define CACHE_SLOTS 4096u

static struct {
	int inited;
	struct sysfont *fonts;
	size_t nfonts;
	/* key(cp, serif, lang) -> font index (0: not looked up; SIZE_MAX: none) */
	uint64_t stamp;         /* dirs_stamp() when fontconfig was set up */
	uint32_t keys[CACHE_SLOTS];
	size_t vals[CACHE_SLOTS];
	size_t used;
} sys;

static void forget(void)
{
	for (size_t i = 0; i < sys.nfonts; i++) {
		free(sys.fonts[i].path);
		cardfont_free(sys.fonts[i].f);
	}
	free(sys.fonts);
	sys.fonts = NULL;
	sys.nfonts = 0;
	memset(sys.keys, 0, sizeof sys.keys);
	sys.used = 0;
}

/* at_exit: fontconfig's configuration is only given back by FcFini (else a leak checker sees it). */
static void at_exit(void)
{
	forget();
	if (sys.inited)
		FcFini();
	sys.inited = 0;
}

static uint64_t dirs_stamp(void);

static void sys_init(void)
{
	static int registered;
	const char *dirs = getenv("OCCASIOND_FONT_DIRS");
	if (sys.inited)
		return;
	sys.inited = 1;
	FcInit();
	if (!registered++)
		atexit(at_exit);
	/* Extra directories (tests, a site's own fonts) besides fontconfig's own. */
	if (dirs && *dirs) {
		char *copy = xstrdup(dirs), *d = copy;
		while (d) {
			char *colon = strchr(d, ':');
			if (colon)
				*colon = 0;
			if (*d)
				FcConfigAppFontAddDir(NULL, (const FcChar8 *)d);
			d = colon ? colon + 1 : NULL;
		}
		free(copy);
	}
	sys.stamp = dirs_stamp();
}

static size_t font_slot(const char *path, unsigned index)
{
	char err[ERR_LEN];
	for (size_t i = 0; i < sys.nfonts; i++)
		if (sys.fonts[i].index == index && strcmp(sys.fonts[i].path, path) == 0)
			return i;
	sys.fonts = xreallocarray(sys.fonts, sys.nfonts + 1, sizeof *sys.fonts);
	sys.fonts[sys.nfonts].path = xstrdup(path);
	sys.fonts[sys.nfonts].index = index;
	if (cardfont_load(path, index, &sys.fonts[sys.nfonts].f, err) != 0)
		sys.fonts[sys.nfonts].f = NULL;
	return sys.nfonts++;
}

/*
 * script_lang: a language written in cp's script, so that fontconfig ranks the fonts made for
 * that script first (Noto Sans Tamil before Noto Sans Grantha, which has some Tamil letters
 * but not Tamil's marks).
 */
static const char *script_lang(uint32_t cp, const char *han)
{
	static const struct {
		hb_script_t sc;
		const char *lang;
	} t[] = {
		{HB_SCRIPT_ARABIC, "ar"}, {HB_SCRIPT_HEBREW, "he"}, {HB_SCRIPT_DEVANAGARI, "hi"},
		{HB_SCRIPT_BENGALI, "bn"}, {HB_SCRIPT_TAMIL, "ta"}, {HB_SCRIPT_TELUGU, "te"},
		{HB_SCRIPT_KANNADA, "kn"}, {HB_SCRIPT_MALAYALAM, "ml"}, {HB_SCRIPT_GUJARATI, "gu"},
		{HB_SCRIPT_GURMUKHI, "pa"}, {HB_SCRIPT_ORIYA, "or"}, {HB_SCRIPT_SINHALA, "si"},
		{HB_SCRIPT_THAI, "th"}, {HB_SCRIPT_LAO, "lo"}, {HB_SCRIPT_KHMER, "km"}, {HB_SCRIPT_MYANMAR, "my"},
		{HB_SCRIPT_TIBETAN, "bo"}, {HB_SCRIPT_ETHIOPIC, "am"}, {HB_SCRIPT_ARMENIAN, "hy"},
		{HB_SCRIPT_GEORGIAN, "ka"}, {HB_SCRIPT_GREEK, "el"}, {HB_SCRIPT_CYRILLIC, "ru"},
		{HB_SCRIPT_HIRAGANA, "ja"}, {HB_SCRIPT_KATAKANA, "ja"}, {HB_SCRIPT_HANGUL, "ko"},
		{HB_SCRIPT_HAN, "zh-cn"},
	};
	hb_script_t sc = (hb_script_t)cardfont_script(cp);
	if (sc == HB_SCRIPT_HAN && han)
		return han;     /* the forms of the stakeholder's country (card_lang) */
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].sc == sc)
			return t[i].lang;
	return NULL;
}

/* family_serif: a serif face by its family name (Noto Serif ..., Noto Naskh Arabic, DejaVu Serif). */
static int family_serif(const char *family)
{
	return (strstr(family, "Serif") || strstr(family, "Naskh") || strstr(family, "Mincho") ||
	        strstr(family, "Myeongjo")) && !strstr(family, "Sans");
}

/* lookup: fontconfig's fonts for cp, best first for the style and language; the first one we can read. */
static size_t lookup(uint32_t cp, int serif, const char *han)
{
	FcPattern *pat = FcPatternCreate();
	FcCharSet *cs = FcCharSetCreate();
	FcFontSet *set = NULL;
	FcResult res;
	size_t found = SIZE_MAX;

	FcCharSetAddChar(cs, cp);
	FcPatternAddString(pat, FC_FAMILY, (const FcChar8 *)(serif ? "serif" : "sans-serif"));
	if (script_lang(cp, han)) {
		FcLangSet *ls = FcLangSetCreate();
		FcLangSetAdd(ls, (const FcChar8 *)script_lang(cp, han));
		FcPatternAddLangSet(pat, FC_LANG, ls);
		FcLangSetDestroy(ls);
	}
	FcPatternAddCharSet(pat, FC_CHARSET, cs);
	FcPatternAddBool(pat, FC_SCALABLE, FcTrue);
	FcConfigSubstitute(NULL, pat, FcMatchPattern);
	FcDefaultSubstitute(pat);
	set = FcFontSort(NULL, pat, FcFalse, NULL, &res);
	/* First a face of the asked style among those that have cp, then any. */
	for (int pass = 0; pass < 2 && found == SIZE_MAX; pass++)
		for (int i = 0; set && i < set->nfont && found == SIZE_MAX; i++) {
			FcPattern *p = set->fonts[i];
			FcCharSet *fcs = NULL;
			FcChar8 *file = NULL, *family = NULL;
			FcBool color = FcFalse;
			int index = 0;
			size_t k;
			if (FcPatternGetCharSet(p, FC_CHARSET, 0, &fcs) != FcResultMatch || !FcCharSetHasChar(fcs, cp))
				continue;
			if (FcPatternGetBool(p, FC_COLOR, 0, &color) == FcResultMatch && color)
				continue;       /* colour bitmaps (emoji) cannot be set as PDF text */
			if (FcPatternGetString(p, FC_FILE, 0, &file) != FcResultMatch)
				continue;
			if (pass == 0 && (FcPatternGetString(p, FC_FAMILY, 0, &family) != FcResultMatch ||
			                  family_serif((const char *)family) != serif))
				continue;
			FcPatternGetInteger(p, FC_INDEX, 0, &index);
			if (index < 0 || index > 0xFFFF)
				continue;       /* named instances of variable fonts */
			k = font_slot((const char *)file, (unsigned)index);
			if (sys.fonts[k].f && cardfont_glyph(sys.fonts[k].f, cp))
				found = k;
		}
	if (set)
		FcFontSetDestroy(set);
	FcCharSetDestroy(cs);
	FcPatternDestroy(pat);
	return found;
}

/* han_langs: the Han conventions a lookup may ask for (their index is part of the cache key). */
static const char *const han_langs[] = {"zh-cn", "zh-tw", "zh-hk", "ja", "ko"};

struct cardfont *cardfont_system(uint32_t cp, int serif, const char *lang)
{
	uint32_t li = 0, key;
	size_t h, v;

	for (uint32_t i = 0; lang && i < sizeof han_langs / sizeof han_langs[0]; i++)
		if (strcmp(lang, han_langs[i]) == 0)
			li = i + 1;
	if (cardfont_script(cp) != HB_SCRIPT_HAN)
		li = 0;         /* only Han takes its forms from the country: one answer for the rest */
	key = ((cp * 2 + (serif ? 1u : 0u)) * 8 + li) + 1;     /* never 0; cp < 2^21 */
	h = (key * 2654435761u) % CACHE_SLOTS;

	sys_init();
	while (sys.keys[h] && sys.keys[h] != key)
		h = (h + 1) % CACHE_SLOTS;
	if (sys.keys[h] == key) {
		v = sys.vals[h];
	} else {
		v = lookup(cp, serif, li ? han_langs[li - 1] : NULL);
		if (sys.used < CACHE_SLOTS / 2) {   /* a full cache just stops caching */
			sys.keys[h] = key;
			sys.vals[h] = v;
			sys.used++;
		}
	}
	return v == SIZE_MAX ? NULL : sys.fonts[v].f;
}

void cardfont_system_rescan(void)
{
	forget();
	if (sys.inited)
		FcFini();
	sys.inited = 0;
}

/*
 * dirs_stamp: a hash of fontconfig's font directories and their times: a font added or
 * removed changes its directory's. (FcConfigUptoDate is no use here: it reloads fontconfig
 * itself, behind the fonts kept, and trusts no time later than the clock.)
 */
static uint64_t dirs_stamp(void)
{
	FcStrList *l = FcConfigGetFontDirs(NULL);
	FcChar8 *d;
	uint64_t h = 1469598103934665603u;
	while (l && (d = FcStrListNext(l))) {
		struct stat sb;
		uint64_t v[3] = {0, 0, 0};
		if (stat((const char *)d, &sb) == 0) {
			v[0] = (uint64_t)sb.st_mtim.tv_sec;
			v[1] = (uint64_t)sb.st_mtim.tv_nsec;
			v[2] = (uint64_t)sb.st_ino;
		}
		for (const FcChar8 *c = d; *c; c++)
			h = (h ^ *c) * 1099511628211u;
		for (int i = 0; i < 3; i++)
			h = (h ^ v[i]) * 1099511628211u;
	}
	if (l)
		FcStrListDone(l);
	return h;
}

void cardfont_system_refresh(void)
{
	if (sys.inited && dirs_stamp() != sys.stamp)
		cardfont_system_rescan();
}

const char *cardfont_package(uint32_t cp)
{
	switch (cardfont_script(cp)) {
	case HB_SCRIPT_HAN:
	case HB_SCRIPT_HIRAGANA:
	case HB_SCRIPT_KATAKANA:
	case HB_SCRIPT_BOPOMOFO:
	case HB_SCRIPT_HANGUL:
		return "fonts-noto-cjk";
	case HB_SCRIPT_COMMON:
	case HB_SCRIPT_INHERITED:
		if (cp >= 0x1F000)
			return NULL;    /* emoji: only colour fonts have them */
		if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFFEF))
			return "fonts-noto-cjk";
		return "fonts-noto-core";
	default:
		return "fonts-noto-core";
	}
}
