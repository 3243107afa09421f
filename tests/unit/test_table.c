/* Unit tests of table: display widths in any script, and columns that line up by them. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "occasiond/table.h"

int main(void)
{
	static const struct {
		const char *s;
		size_t w;
		const char *what;
	} cases[] = {
		{"Smith", 5, "ASCII"},
		{"Zo\xC3\xAB", 3, "a precomposed letter"},
		{"Zoe\xCC\x88", 3, "a combining diaeresis takes no column"},
		{"\xE5\xB1\xB1\xE7\x94\xB0\xE5\xA4\xAA\xE9\x83\x8E", 8, "Han: two columns each"},
		{"\xEA\xB9\x80\xEB\xAF\xBC\xEC\xA4\x80", 6, "Hangul syllables: two each"},
		{"\xE3\x82\xBF\xE3\x83\x8A\xE3\x82\xAB", 6, "Katakana"},
		{"\xEF\xBC\xA1", 2, "a full-width letter"},
		/* देवनागरी: the vowel sign E (a non-spacing mark) takes none, AA and II (spacing) one */
		{"\xE0\xA4\xA6\xE0\xA5\x87\xE0\xA4\xB5\xE0\xA4\xA8\xE0\xA4\xBE\xE0\xA4\x97\xE0\xA4\xB0\xE0\xA5\x80", 7,
		 "Devanagari"},
		/* สมชั้น: MAI HAN-AKAT and MAI THO stack above */
		{"\xE0\xB8\xAA\xE0\xB8\xA1\xE0\xB8\x8A\xE0\xB8\xB1\xE0\xB9\x89\xE0\xB8\x99", 4, "Thai marks stack"},
		{"a\xE2\x80\x8D" "b", 2, "a zero-width joiner"},
		{"\xF0\x9F\x8E\x82", 2, "an emoji shown as a picture"},
		{"\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D", 4, "Hebrew"},
		{"\xFF" "ab", 3, "an invalid byte counts one"},
		{"", 0, "empty"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t w = tbl_width(cases[i].s);
		CHECK(w == cases[i].w, "width of %s: %zu (want %zu)", cases[i].what, w, cases[i].w);
	}

	/* Columns after a wide or combining name start where the header's do. */
	{
		struct table t;
		const char *head[] = {"NAME", "X"};
		const char *r1[] = {"\xE5\xB1\xB1\xE7\x94\xB0", "x"};
		const char *r2[] = {"Zoe\xCC\x88", "x"};
		char *buf = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&buf, &len);
		tbl_init(&t, 2);
		tbl_add(&t, head);
		tbl_add(&t, r1);
		tbl_add(&t, r2);
		tbl_print(fp, &t);
		fclose(fp);
		CHECK_STR(buf, "NAME  X\n\xE5\xB1\xB1\xE7\x94\xB0  x\nZoe\xCC\x88   x\n", "aligned by display width");
		free(buf);
		tbl_free(&t);
	}
	return check_done();
}
