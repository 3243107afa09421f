/*
 * The bare libharu peer of bench/cards.sh: the library's limit for this card. It only draws
 * the same text (pre-wrapped, no template, no measuring, no fallback check) in the same
 * embedded fonts, one A6 page per card, content compressed, into one PDF.
 * usage: cards_bare N OUT.pdf FONTS_DIR; prints the seconds it took.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hpdf.h>

static void on_error(HPDF_STATUS st, HPDF_STATUS detail, void *ud)
{
	(void)ud;
	fprintf(stderr, "libharu error 0x%04X (%u)\n", (unsigned)st, (unsigned)detail);
	exit(1);
}

static const char *font(HPDF_Doc d, const char *dir, const char *file)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return HPDF_LoadTTFontFromFile(d, path, HPDF_TRUE);
}

int main(int argc, char **argv)
{
	static const char *const first[] = {"Zoë", "José", "Ελένη", "Дмитрий", "Hannah", "Liam", "Sophie", "Emily", "Yuki", "Olivia"};
	static const char *const last[] = {"Łukasiewicz", "Núñez", "Παπαδοπούλου", "Иванов", "Becker", "O'Connor", "Martin", "Carter", "Tanaka", "Smith"};
	static const char *const signers[] = {"Dana Ruiz", "Marcus Lee", "Priya Raman", "Sam Ortiz"};
	struct timespec t0, t1;
	HPDF_Doc d;
	HPDF_Font lato, noto, notoi;
	long n;

	if (argc != 4)
		return 2;
	n = strtol(argv[1], NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d = HPDF_New(on_error, NULL);
	HPDF_UseUTFEncodings(d);
	HPDF_SetCurrentEncoder(d, "UTF-8");
	HPDF_SetCompressionMode(d, HPDF_COMP_ALL);
	lato = HPDF_GetFont(d, font(d, argv[3], "Lato-Regular.ttf"), "UTF-8");
	noto = HPDF_GetFont(d, font(d, argv[3], "NotoSerifDisplay-Regular.ttf"), "UTF-8");
	notoi = HPDF_GetFont(d, font(d, argv[3], "NotoSerifDisplay-Italic.ttf"), "UTF-8");
	for (long i = 0; i < n; i++) {
		char name[128];
		HPDF_Page p = HPDF_AddPage(d);
		snprintf(name, sizeof name, "%s %s", first[i % 10], last[(i / 10) % 10]);
		HPDF_Page_SetWidth(p, 297.64f);
		HPDF_Page_SetHeight(p, 419.53f);
		HPDF_Page_BeginText(p);
		HPDF_Page_SetFontAndSize(p, notoi, 30);
		HPDF_Page_TextOut(p, 60, 295, "Happy Birthday");
		HPDF_Page_SetFontAndSize(p, noto, 21);
		HPDF_Page_TextOut(p, 70, 253, name);
		HPDF_Page_SetFontAndSize(p, lato, 10);
		HPDF_Page_TextOut(p, 50, 200, "Wishing you a wonderful birthday and a year");
		HPDF_Page_TextOut(p, 50, 185, "ahead full of health, happiness and all the");
		HPDF_Page_TextOut(p, 50, 170, "good things you deserve.");
		HPDF_Page_SetFontAndSize(p, notoi, 11);
		HPDF_Page_TextOut(p, 40, 128, "With warm wishes from all of us at Acme Corp");
		HPDF_Page_SetFontAndSize(p, lato, 8);
		HPDF_Page_TextOut(p, 125, 60, signers[i % 4]);
		HPDF_Page_EndText(p);
	}
	HPDF_SaveToFile(d, argv[2]);
	HPDF_Free(d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
