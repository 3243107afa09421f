/*
 * card_lang: which CJK writing convention a card follows. One Han character has different
 * glyph forms in mainland China, Taiwan, Hong Kong, Japan and Korea (直, 骨, 今), and a name
 * must be printed in its own country's forms; the name alone cannot tell (王伟 and 高橋直子
 * are both Han). So the stakeholder's `language` column (BCP 47: zh-TW, zh-Hant, ja, ...)
 * decides, else its `country` (a name, an ISO 3166 code, or the name in its own script).
 */
#include <string.h>
#include <strings.h>

#include "card_int.h"

static const struct {
	const char *name;
	const char *lang;
} countries[] = {
	{"china", "zh-cn"}, {"cn", "zh-cn"}, {"chn", "zh-cn"}, {"prc", "zh-cn"},
	{"people's republic of china", "zh-cn"}, {"中国", "zh-cn"}, {"中國", "zh-cn"},
	{"singapore", "zh-cn"}, {"sg", "zh-cn"}, {"sgp", "zh-cn"}, {"新加坡", "zh-cn"},
	{"taiwan", "zh-tw"}, {"tw", "zh-tw"}, {"twn", "zh-tw"}, {"republic of china", "zh-tw"},
	{"台灣", "zh-tw"}, {"臺灣", "zh-tw"}, {"台湾", "zh-tw"},
	{"hong kong", "zh-hk"}, {"hk", "zh-hk"}, {"hkg", "zh-hk"}, {"香港", "zh-hk"},
	{"macau", "zh-hk"}, {"macao", "zh-hk"}, {"mo", "zh-hk"}, {"mac", "zh-hk"}, {"澳門", "zh-hk"},
	{"澳门", "zh-hk"},
	{"japan", "ja"}, {"jp", "ja"}, {"jpn", "ja"}, {"日本", "ja"},
	{"south korea", "ko"}, {"korea", "ko"}, {"kr", "ko"}, {"kor", "ko"}, {"republic of korea", "ko"},
	{"korea, republic of", "ko"}, {"north korea", "ko"}, {"kp", "ko"}, {"prk", "ko"}, {"대한민국", "ko"},
	{"한국", "ko"}, {"조선", "ko"},
};

static const char *by_country(const char *country)
{
	for (size_t i = 0; country && i < sizeof countries / sizeof countries[0]; i++)
		if (util_strcaseeq(country, countries[i].name))
			return countries[i].lang;
	return NULL;
}

/* subtag: whether the BCP 47 tag s (either separator) has the subtag want, any case. */
static int subtag(const char *s, const char *want)
{
	size_t n = strlen(want);
	for (const char *p = s; *p;) {
		size_t k = strcspn(p, "-_");
		if (k == n && strncasecmp(p, want, n) == 0)
			return 1;
		p += k;
		if (*p)
			p++;
	}
	return 0;
}

const char *card_lang(const char *country, const char *language)
{
	const char *c = by_country(country);
	size_t k;
	if (!language || !*language)
		return c;
	k = strcspn(language, "-_");
	if (k == 2 && strncasecmp(language, "ja", 2) == 0)
		return "ja";
	if (k == 2 && strncasecmp(language, "ko", 2) == 0)
		return "ko";
	if (k == 3 && strncasecmp(language, "yue", 3) == 0)
		return "zh-hk";   /* Cantonese */
	if (k != 2 || strncasecmp(language, "zh", 2) != 0)
		return c;         /* another language: the country may still say (a Japanese name, an English column) */
	/* Chinese: a region says which forms; a script alone, Simplified or Traditional. */
	if (subtag(language, "tw"))
		return "zh-tw";
	if (subtag(language, "hk") || subtag(language, "mo"))
		return "zh-hk";
	if (subtag(language, "cn") || subtag(language, "sg") || subtag(language, "hans"))
		return "zh-cn";
	if (subtag(language, "hant"))
		return c && strcmp(c, "zh-hk") == 0 ? "zh-hk" : "zh-tw";
	return c && strncmp(c, "zh", 2) == 0 ? c : "zh-cn";
}
