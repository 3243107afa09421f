/*
 * card: templates load and validate with FILE:LINE:COL errors; batches render names in any
 * script the fonts cover and fail cleanly (batch unchanged) on what they cannot print; the PDFs
 * pass the real readers (pdfinfo, pdffonts, qpdf, pdftotext, pdftoppm) when they are installed.
 * Run from the repository root: templates/ and fonts/ are relative paths.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "occasiond/card.h"
#include "occasiond/cardfont.h"
#include "occasiond/template.h"
#include "occasiond/util.h"

static char tmpdir[256];

static struct tval *make_ctx(const char *first, const char *last)
{
	struct tval *c = tval_map(), *occ = tval_map(), *ev = tval_map();
	char full[512];
	snprintf(full, sizeof full, "%s %s", first, last);
	tval_map_set_str(c, "first_name", first);
	tval_map_set_str(c, "last_name", last);
	tval_map_set_str(c, "full_name", full);
	tval_map_set_str(c, "greeting_name", first);
	tval_map_set_str(c, "organization", "Globex");
	tval_map_set_str(c, "title", "Head of Logistics");
	tval_map_set_str(occ, "name", "Birthday");
	tval_map_set_str(occ, "date", "1 December 2026");
	tval_map_set(c, "occasion", occ);
	tval_map_set_str(c, "years", "10");
	tval_map_set_str(c, "ordinal_years", "10th");
	tval_map_set_str(c, "signer", "Dana Ruiz");
	tval_map_set_str(ev, "title", "Director of Operations");
	tval_map_set_str(ev, "details", "");
	tval_map_set(c, "event", ev);
	tval_map_set_str(c, "organization_name", "Acme Corp");
	return c;
}

static int have_tool(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* run_len: the command's stdout (stderr dropped) into *out and *len; its exit status or -1. */
static int run_len(const char *cmd, char **out, size_t *len)
{
	struct strbuf sb = {0};
	char buf[4096], *full = xasprintf("%s 2>/dev/null", cmd);
	FILE *fp = popen(full, "r");
	size_t n;
	int st;

	free(full);
	if (!fp) {
		*out = xstrdup("");
		return -1;
	}
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		sb_addn(&sb, buf, n);
	st = pclose(fp);
	if (len)
		*len = sb.len;
	*out = sb_detach(&sb);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(const char *cmd, char **out)
{
	return run_len(cmd, out, NULL);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* pdfinfo_pages: the "Pages:" field of pdfinfo's output, or -1. */
static int pdfinfo_pages(const char *out)
{
	const char *p = strstr(out, "\nPages:");
	long n;
	char buf[32];
	size_t k = 0;
	if (!p)
		return -1;
	for (p += 7; *p == ' '; p++)
		;
	while (k + 1 < sizeof buf && p[k] >= '0' && p[k] <= '9')
		buf[k] = p[k], k++;
	buf[k] = 0;
	return util_parse_long(buf, 0, 1000000, &n) == 0 ? (int)n : -1;
}

static char *tmp_path(const char *name)
{
	return util_path_join(tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	if (!fp) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

/* ---------------------------------------------------------------- shipped templates */

static const char *const shipped[] = {
	"birthday", "holiday", "work-anniversary", "partnership-anniversary", "thank-you",
	"thinking-of-you", "promotion", "welcome", "birthday-platinum", "birthday-folded", NULL,
};

static void test_shipped_templates(void)
{
	DIR *d = opendir("templates");
	struct dirent *e;
	int n = 0;
	char err[ERR_LEN];

	CHECK(d != NULL, "templates/ can be read (run from the repository root)");
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		struct card_template *t = NULL;
		char *path;
		if (len < 11 || strcmp(e->d_name + len - 10, ".card.yaml") != 0)
			continue;
		path = util_path_join("templates", e->d_name);
		err[0] = 0;
		CHECK(card_template_load(path, "fonts", &t, err) == 0, "template %s loads%s%s", path, err[0] ? ": " : "", err);
		card_template_free(t);
		free(path);
		n++;
	}
	if (d)
		closedir(d);
	for (int i = 0; shipped[i]; i++) {
		char *path = xasprintf("templates/%s.card.yaml", shipped[i]);
		CHECK(util_file_exists(path), "the %s card template is shipped", shipped[i]);
		free(path);
	}
	CHECK(n >= 9, "at least 9 card templates (found %d)", n);
}

static void test_sizes(void)
{
	struct { const char *tmpl; double w, h; } want[] = {
		{"birthday", 297.64, 419.53},            /* A6 portrait */
		{"partnership-anniversary", 419.53, 297.64},   /* A6 landscape */
		{"work-anniversary", 360, 504},           /* 5x7 in */
		{"thank-you", 288, 432},                  /* 4x6 in */
		{"birthday-folded", 595.28, 841.89},      /* folded: one A4 sheet */
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char err[ERR_LEN], *path = xasprintf("templates/%s.card.yaml", want[i].tmpl);
		struct card_template *t = NULL;
		double w = 0, h = 0;
		if (card_template_load(path, "fonts", &t, err) == 0)
			card_template_size(t, &w, &h);
		CHECK(w > want[i].w - 0.1 && w < want[i].w + 0.1 && h > want[i].h - 0.1 && h < want[i].h + 0.1,
		      "%s is %.2f x %.2f pt (want %.2f x %.2f)", want[i].tmpl, w, h, want[i].w, want[i].h);
		card_template_free(t);
		free(path);
	}
	{
		/* A folded card on Letter: the page is the sheet, the boxes are in a 4.25 x 5.5 in panel. */
		char err[ERR_LEN] = "", *path = tmp_path("letter.card.yaml");
		struct card_template *t = NULL;
		double w = 0, h = 0;
		write_file(path, "size: Letter\nlayout: folded\nfonts: [Lato-Regular.ttf]\n"
		                 "front: {texts: [{text: Hello, box: [10, 60, 87.95, 20]}]}\n"
		                 "texts: [{text: \"{{first_name}}\", box: [10, 20, 87.95, 20]}]\n");
		if (card_template_load(path, "fonts", &t, err) == 0)
			card_template_size(t, &w, &h);
		CHECK(w > 611.9 && w < 612.1 && h > 791.9 && h < 792.1, "a folded Letter card is a 612 x 792 pt sheet %s", err);
		card_template_free(t);
		write_file(path, "size: Letter\nlayout: folded\nfonts: [Lato-Regular.ttf]\n"
		                 "front: {texts: [{text: Hello, box: [10, 60, 100, 20]}]}\n");
		t = NULL;
		CHECK(card_template_load(path, "fonts", &t, err) != 0 && strstr(err, "lies outside the margins"),
		      "a folded card's boxes are checked against its panel, not the sheet");
		card_template_free(t);
		free(path);
	}
}

/* ---------------------------------------------------------------- rendering */

static const char *const names[][2] = {
	{"Zoë", "Łukasiewicz"}, {"José", "Núñez"}, {"Ελένη", "Παπαδοπούλου"}, {"Дмитрий", "Иванов"},
};

static void check_pdf(const char *pdf, int pages, double w, double h, const char *const *must_have, size_t nmust)
{
	char cmd[1024], *out = NULL;
	int rc;

	if (!have_tool("pdfinfo")) {
		SKIP("pdfinfo is not installed (poppler-utils)");
	} else {
		snprintf(cmd, sizeof cmd, "pdfinfo -f 1 -l %d '%s'", pages, pdf);
		rc = run(cmd, &out);
		{
			char sizes[64];
			int ok_sizes = 1;
			CHECK(rc == 0 && pdfinfo_pages(out) == pages, "pdfinfo: %s has %d pages", pdf, pages);
			/* Every page: "Page    N size:  W x H pts". */
			int npages = 0;
			for (const char *p = out; (p = strstr(p, "\nPage ")); p += 6) {
				double pw = 0, ph = 0;
				const char *q = strchr(p + 1, '\n');
				const char *sz = strstr(p, " size: ");
				if (!sz || (q && sz > q))
					continue;   /* the "Page N rot:" line */
				npages++;
				if (sscanf(sz, " size: %lf x %lf pts", &pw, &ph) != 2 || pw < w - 0.1 || pw > w + 0.1 ||
				    ph < h - 0.1 || ph > h + 0.1)
					ok_sizes = 0;
			}
			snprintf(sizes, sizeof sizes, "%.2f x %.2f", w, h);
			CHECK(ok_sizes && npages == pages, "pdfinfo: every page is %s pt", sizes);
			CHECK(strstr(out, "Creator:         occasiond\n") != NULL, "pdfinfo: Creator is occasiond");
		}
		free(out);
	}
	if (!have_tool("pdffonts")) {
		SKIP("pdffonts is not installed (poppler-utils)");
	} else {
		int rows = 0, embedded = 0;
		char *l, *next;
		snprintf(cmd, sizeof cmd, "pdffonts '%s'", pdf);
		rc = run(cmd, &out);
		/* Rows after the dashed rule: name type... encoding emb sub uni object gen. */
		l = strstr(out, "\n---");
		l = l ? strchr(l + 1, '\n') : NULL;
		for (l = l ? l + 1 : NULL; l && *l; l = next) {
			char emb[8] = "", sub[8] = "", uni[8] = "";
			next = strchr(l, '\n');
			if (next)
				*next++ = 0;
			else
				next = l + strlen(l);
			/* Columns from the right: gen object uni sub emb. */
			char *p = l + strlen(l);
			int field = 0;
			while (p > l && field < 5) {
				char *end = p;
				while (p > l && p[-1] == ' ')
					p--, end = p;
				while (p > l && p[-1] != ' ')
					p--;
				if (field == 2)
					snprintf(uni, sizeof uni, "%.*s", (int)(end - p), p);
				if (field == 3)
					snprintf(sub, sizeof sub, "%.*s", (int)(end - p), p);
				if (field == 4)
					snprintf(emb, sizeof emb, "%.*s", (int)(end - p), p);
				field++;
			}
			rows++;
			if (strcmp(emb, "yes") == 0 && strcmp(uni, "yes") == 0)
				embedded++;
		}
		CHECK(rc == 0 && rows > 0 && rows == embedded, "pdffonts: all %d fonts of %s are embedded, with Unicode maps", rows, pdf);
		free(out);
	}
	if (!have_tool("qpdf")) {
		SKIP("qpdf is not installed");
	} else {
		snprintf(cmd, sizeof cmd, "qpdf --check '%s'", pdf);
		rc = run(cmd, &out);
		CHECK(rc == 0, "qpdf --check %s passes (exit %d)", pdf, rc);
		free(out);
	}
	if (!have_tool("pdftotext")) {
		SKIP("pdftotext is not installed (poppler-utils)");
	} else {
		snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' -", pdf);
		rc = run(cmd, &out);
		for (size_t i = 0; i < nmust; i++)
			CHECK(rc == 0 && strstr(out, must_have[i]) != NULL, "pdftotext gives back \"%s\"", must_have[i]);
		CHECK(strchr(out, '?') == NULL, "pdftotext: no '?' stands in for a missing glyph");
		free(out);
	}
}

static void test_batch(void)
{
	char err[ERR_LEN] = "";
	struct card_template *t = NULL;
	struct card_batch *b = NULL;
	char *pdf = tmp_path("birthday-batch.pdf");
	const char *must[4 + 2];
	char full[4][128];
	int page = 0, ok = 1;

	CHECK(card_template_load("templates/birthday.card.yaml", "fonts", &t, err) == 0, "birthday loads %s", err);
	CHECK(card_batch_new(&b, err) == 0, "a batch is created");
	if (!t || !b)
		goto out;
	CHECK(card_batch_set_title(b, "Cards for Dana Ruiz, 1 Dezember 2026 (Zoë)", err) == 0, "the title is set");
	for (int i = 0; i < 4; i++) {
		struct tval *ctx = make_ctx(names[i][0], names[i][1]);
		if (card_batch_add(b, t, ctx, &page, err) != 0 || page != i + 1) {
			ok = 0;
			printf("# %s\n", err);
		}
		tval_free(ctx);
		snprintf(full[i], sizeof full[i], "%s %s", names[i][0], names[i][1]);
		must[i] = full[i];
	}
	must[4] = "Happy Birthday";
	must[5] = "Dana Ruiz";
	CHECK(ok && card_batch_pages(b) == 4, "4 cards with Latin, Polish, Spanish, Greek and Cyrillic names");
	CHECK(card_batch_save(b, pdf, err) == 0, "the batch is saved: %s", err);
	check_pdf(pdf, 4, 297.64, 419.53, must, 6);
	if (have_tool("pdfinfo")) {
		char *cmd = xasprintf("pdfinfo '%s'", pdf), *out = NULL;
		run(cmd, &out);
		CHECK(strstr(out, "Title:           Cards for Dana Ruiz, 1 Dezember 2026 (Zoë)\n") != NULL, "the UTF-8 title reads back");
		free(out);
		free(cmd);
	}
	{
		/* Each name exactly once per card it is on. */
		if (have_tool("pdftotext")) {
			char *cmd = xasprintf("pdftotext -enc UTF-8 '%s' -", pdf), *out = NULL;
			run(cmd, &out);
			for (int i = 0; i < 4; i++)
				CHECK(count_str(out, full[i]) == 1, "\"%s\" appears exactly once", full[i]);
			free(out);
			free(cmd);
		}
	}
	/* More cards after a save, then saved again: a valid PDF with all of them. */
	{
		struct tval *ctx = make_ctx("Ada", "Lovelace");
		int rc2;
		CHECK(card_batch_add(b, t, ctx, &page, err) == 0 && page == 5, "a card added after a save is page 5");
		tval_free(ctx);
		CHECK(card_batch_save(b, pdf, err) == 0, "the batch is saved again");
		if (have_tool("qpdf")) {
			char *cmd = xasprintf("qpdf --check '%s'", pdf), *out = NULL;
			rc2 = run(cmd, &out);
			CHECK(rc2 == 0, "the second save passes qpdf --check (exit %d)", rc2);
			if (rc2 != 0)
				printf("# %s\n", out);
			free(out);
			free(cmd);
		}
		if (have_tool("pdfinfo")) {
			char *cmd = xasprintf("pdfinfo '%s'", pdf), *out = NULL;
			run(cmd, &out);
			CHECK(pdfinfo_pages(out) == 5, "the second save has 5 pages");
			free(out);
			free(cmd);
		}
	}
out:
	card_batch_free(b);
	card_template_free(t);
	free(pdf);
}

/* Every shipped template renders every test name and passes the readers. */
static void test_all_templates_render(void)
{
	for (int i = 0; shipped[i]; i++) {
		char err[ERR_LEN] = "", *path = xasprintf("templates/%s.card.yaml", shipped[i]);
		char *pdfname = xasprintf("%s.pdf", shipped[i]), *pdf = tmp_path(pdfname);
		struct card_template *t = NULL;
		struct card_batch *b = NULL;
		const char *must[4];
		char full[4][128];
		int ok = 1, first_only = strcmp(shipped[i], "thinking-of-you") == 0 ||
		                       strcmp(shipped[i], "birthday-folded") == 0;
		double w = 0, h = 0;

		if (card_template_load(path, "fonts", &t, err) != 0 || card_batch_new(&b, err) != 0) {
			CHECK(0, "%s: %s", shipped[i], err);
			goto next;
		}
		card_template_size(t, &w, &h);
		for (int k = 0; k < 4; k++) {
			struct tval *ctx = make_ctx(names[k][0], names[k][1]);
			if (card_batch_add(b, t, ctx, NULL, err) != 0) {
				ok = 0;
				printf("# %s: %s\n", shipped[i], err);
			}
			tval_free(ctx);
			/* thinking-of-you and the folded birthday card greet by first name only. */
			snprintf(full[k], sizeof full[k], "%s%s%s", names[k][0], first_only ? "" : " ", first_only ? "" : names[k][1]);
			must[k] = full[k];
		}
		CHECK(ok, "%s renders all four names", shipped[i]);
		CHECK(card_batch_save(b, pdf, err) == 0, "%s is saved %s", shipped[i], err);
		check_pdf(pdf, 4, w, h, must, 4);
next:
		card_batch_free(b);
		card_template_free(t);
		free(path);
		free(pdfname);
		free(pdf);
	}
}

/* ---------------------------------------------------------------- failures */

#define CJK_FONT "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

static void test_missing_glyphs(void)
{
	char err[ERR_LEN] = "";
	struct card_template *t = NULL;
	struct card_batch *b = NULL;
	struct tval *ctx;

	if (card_template_load("templates/birthday.card.yaml", "fonts", &t, err) != 0 || card_batch_new(&b, err) != 0) {
		CHECK(0, "set-up: %s", err);
		goto out;
	}
	ctx = make_ctx("Ada", "Lovelace");
	CHECK(card_batch_add(b, t, ctx, NULL, err) == 0, "one good card");
	tval_free(ctx);

	/* fontconfig sees only the test's own, empty, font directory (main sets FONTCONFIG_FILE). */
	ctx = make_ctx("山田", "太郎");
	err[0] = 0;
	CHECK(card_batch_add(b, t, ctx, NULL, err) != 0, "a CJK name with no CJK font fails");
	CHECK(strstr(err, "no font has U+5C71 '山' (fonts: NotoSerifDisplay-Regular.ttf, DejaVuSans.ttf, nor any "
	                  "installed on this system)") != NULL && strstr(err, "fonts-noto-cjk"),
	      "the error names the character, the fonts and the package that has it: %s", err);
	CHECK(card_batch_pages(b) == 1, "the batch still has 1 page");
	CHECK(card_check(t, ctx, err) != 0 && strstr(err, "U+5C71"), "card_check finds the same without a batch");
	tval_free(ctx);

	/* DejaVu Sans has the older emoticons (U+1F600) in black and white; not this one. */
	ctx = make_ctx("Ada \xF0\x9F\xAB\xA0", "Lovelace");
	CHECK(card_batch_add(b, t, ctx, NULL, err) != 0 && strstr(err, "no font has U+1FAE0"),
	      "an emoji fails with U+1FAE0: %s", err);
	CHECK(card_batch_pages(b) == 1, "the batch still has 1 page");
	tval_free(ctx);

	ctx = make_ctx("Ada\x07", "Lovelace");
	CHECK(card_batch_add(b, t, ctx, NULL, err) != 0 && strstr(err, "control character U+0007"),
	      "a control character is refused: %s", err);
	tval_free(ctx);

	/* Too long for the name box even at min_size: never clipped. */
	ctx = make_ctx("Maximiliana Alexandra Konstantina Bartholomea Wilhelmina Friederike Augusta",
	               "von Hohenzollern-Sigmaringen-Hechingen");
	CHECK(card_batch_add(b, t, ctx, NULL, err) != 0 && strstr(err, "does not fit its box even at min_size 13pt"),
	      "a name that does not fit fails: %s", err);
	tval_free(ctx);
	ctx = make_ctx("Zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "");
	CHECK(card_batch_add(b, t, ctx, NULL, err) != 0 && strstr(err, "the word 'Zzzz"),
	      "a single word wider than the box fails: %s", err);
	tval_free(ctx);
	CHECK(card_batch_pages(b) == 1, "after all failures the batch still has 1 page");

	/* A long name that fits by shrinking. */
	ctx = make_ctx("Anna-Katharina", "Papadopoulou-Wiśniewska");
	err[0] = 0;
	CHECK(card_batch_add(b, t, ctx, NULL, err) == 0 && card_batch_pages(b) == 2, "a long name shrinks to fit%s", err);
	tval_free(ctx);
	/* A right-to-left name: DejaVu Sans has Hebrew, shaped and ordered now. */
	ctx = make_ctx("\xD7\xA9\xD7\xA8\xD7\x94", "Levi");
	err[0] = 0;
	CHECK(card_batch_add(b, t, ctx, NULL, err) == 0 && card_batch_pages(b) == 3, "a Hebrew name prints %s", err);
	tval_free(ctx);
	/* The CJK font installed (fontconfig rescanned, as a new process would): the name prints. */
	if (util_file_exists(CJK_FONT)) {
		char *link = xasprintf("%s/fonts/NotoSansCJK-Regular.ttc", tmpdir);
		CHECK(symlink(CJK_FONT, link) == 0, "install a CJK font into the system's font directory");
		cardfont_system_rescan();
		ctx = make_ctx("山田", "太郎");
		err[0] = 0;
		CHECK(card_batch_add(b, t, ctx, NULL, err) == 0 && card_batch_pages(b) == 4,
		      "once a CJK font is installed, the CJK name prints %s", err);
		tval_free(ctx);
		unlink(link);
		free(link);
		cardfont_system_rescan();
	} else {
		SKIP("fonts-noto-cjk is not installed");
	}
	{
		char *pdf = tmp_path("after-failures.pdf"), *cmd, *out = NULL;
		CHECK(card_batch_save(b, pdf, err) == 0, "the batch saves after the failures");
		if (have_tool("qpdf")) {
			cmd = xasprintf("qpdf --check '%s'", pdf);
			CHECK(run(cmd, &out) == 0, "and passes qpdf --check");
			free(out);
			free(cmd);
		}
		if (have_tool("pdftotext")) {
			cmd = xasprintf("pdftotext -enc UTF-8 '%s' -", pdf);
			run(cmd, &out);
			/* Broken after its hyphen, which pdftotext takes out again when it joins the lines. */
			CHECK(strstr(out, "Papadopoulou") && strstr(out, "Wiśniewska") && strstr(out, "שרה") && strstr(out, "Levi"),
			      "the good cards are in it");
			if (util_file_exists(CJK_FONT))
				CHECK(strstr(out, "山田 太郎") != NULL, "with the CJK name");
			free(out);
			free(cmd);
		}
		free(pdf);
	}
out:
	card_batch_free(b);
	card_template_free(t);
}

/* pgm_ink: the sum of darkness over a binary PGM (P5, 8-bit), or -1. */
static long pgm_ink(const char *p, size_t len)
{
	size_t i = 2;
	int fields = 0;
	long ink = 0;

	if (!p || len < 8 || p[0] != 'P' || p[1] != '5')
		return -1;
	while (i < len && fields < 3) {      /* width, height, maxval */
		while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
			i++;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		fields++;
	}
	for (i++; i < len; i++)
		ink += 255 - (unsigned char)p[i];
	return ink;
}

/*
 * libharu 2.3.0 embeds only the direct components of composite glyphs; card embeds the whole
 * tree. Without that, "é" in NotoSerifDisplay-Italic prints as "e" (its accent is a composite),
 * DejaVu's "ё" keeps only its dots (Cyrillic е is a composite of Latin e) and "Ǖ" loses its
 * macron, while the text layer still reads right. Rasterise and weigh the ink.
 */
static void test_composite_glyphs(void)
{
	static const struct {
		const char *font, *a, *b;
	} cases[] = {
		/* The accented word must carry more ink than the same word without the accent. */
		{"NotoSerifDisplay-Italic.ttf", "José", "Jose"},
		{"DejaVuSans.ttf", "ёж", "еж"},
		{"DejaVuSans.ttf", "Ǖ", "Ü"},
	};
	if (!have_tool("pdftoppm")) {
		SKIP("pdftoppm is not installed: accents of composite glyphs are not checked");
		return;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *yaml = tmp_path("composite.card.yaml"), *txt;
		char *ppm[2] = {NULL, NULL};
		size_t plen[2] = {0, 0};
		char err[ERR_LEN] = "";
		struct card_template *t = NULL;
		long ink[2];

		txt = xasprintf("size: A6\ntexts:\n  - text: \"{{first_name}}\"\n    fonts: [%s]\n    size: 40\n"
		                "    align: left\n    box: [10, 10, 85, 30]\n", cases[i].font);
		write_file(yaml, txt);
		free(txt);
		if (card_template_load(yaml, "fonts", &t, err) != 0) {
			CHECK(0, "composite test template loads: %s", err);
			free(yaml);
			continue;
		}
		for (int k = 0; k < 2; k++) {
			struct card_batch *b = NULL;
			struct tval *ctx = make_ctx(k ? cases[i].b : cases[i].a, "");
			char *pdf = tmp_path(k ? "plain.pdf" : "accented.pdf"), *cmd;
			if (card_batch_new(&b, err) == 0 && card_batch_add(b, t, ctx, NULL, err) == 0)
				card_batch_save(b, pdf, err);
			cmd = xasprintf("pdftoppm -r 72 -gray -f 1 -l 1 '%s'", pdf);
			run_len(cmd, &ppm[k], &plen[k]);
			free(cmd);
			free(pdf);
			tval_free(ctx);
			card_batch_free(b);
		}
		ink[0] = pgm_ink(ppm[0], plen[0]);
		ink[1] = pgm_ink(ppm[1], plen[1]);
		CHECK(ink[0] > 0 && ink[1] > 0 && ink[0] > ink[1] + ink[1] / 50,
		      "%s: \"%s\" carries more ink than \"%s\" (%ld > %ld): no part of a glyph is lost",
		      cases[i].font, cases[i].a, cases[i].b, ink[0], ink[1]);
		free(ppm[0]);
		free(ppm[1]);
		card_template_free(t);
		free(yaml);
	}
}

/* ---------------------------------------------------------------- bad templates */

struct bad_case {
	const char *what, *yaml, *want;
};

static void test_bad_templates(void)
{
	static const struct bad_case cases[] = {
		{"unknown key", "size: A6\ncolr: \"#FFFFFF\"\ntexts:\n  - {text: hi, box: [10, 10, 50, 20], fonts: [Lato-Regular.ttf]}\n",
		 ":2:1: error: unknown key 'colr' in a card template"},
		{"unknown key in a text block", "size: A6\ntexts:\n  - text: hi\n    box: [10, 10, 50, 20]\n    fonts: [Lato-Regular.ttf]\n    colour: \"#000000\"\n    alignment: left\n",
		 ":7:5: error: unknown key 'alignment' in a text block"},
		{"bad size", "size: B7\ntexts:\n  - {text: hi, box: [10, 10, 50, 20], fonts: [Lato-Regular.ttf]}\n",
		 ":1:7: error: size must be A6, A5"},
		{"tiny custom size", "size: 10x20mm\n", ":1:7: error: size '10x20mm': each side must be between 50 and 500 mm"},
		{"missing font", "size: A6\ntexts:\n  - text: hi\n    box: [10, 10, 50, 20]\n    fonts: [Lato-Regular.ttf, Nope.ttf]\n",
		 ":5:31: error: font 'Nope.ttf' not found in fonts"},
		{"font path", "size: A6\ntexts:\n  - text: hi\n    box: [10, 10, 50, 20]\n    fonts: [../fonts/Lato-Regular.ttf]\n",
		 ":5:13: error: font '../fonts/Lato-Regular.ttf' must be a plain file name"},
		{"box outside the page", "size: A6\ntexts:\n  - text: hi\n    box: [10, 120, 50, 40]\n    fonts: [Lato-Regular.ttf]\n",
		 ":4:10: error: box [10, 120, 50, 40] lies outside the margins"},
		{"image path with ..", "size: A6\nimages:\n  - file: ../images/confetti.png\n    box: [0, 0, 50, 20]\ntexts:\n  - {text: hi, box: [10, 30, 50, 20], fonts: [Lato-Regular.ttf]}\n",
		 ":3:11: error: image file '../images/confetti.png' must be a relative path inside the templates directory"},
		{"image not PNG/JPEG", "size: A6\nimages:\n  - file: bad.card.yaml\n    box: [0, 0, 50, 20]\n",
		 ":3:11: error: image file 'bad.card.yaml' is neither PNG nor JPEG"},
		{"bad colour", "size: A6\ntexts:\n  - text: hi\n    box: [10, 10, 50, 20]\n    fonts: [Lato-Regular.ttf]\n    colour: red\n",
		 ":6:13: error: colour must be a colour written \"#RRGGBB\""},
		{"folded on A6", "size: A6\nlayout: folded\n", ":1:7: error: layout: folded prints on an A4 or Letter sheet"},
		{"folded without a front", "size: A4\nlayout: folded\nsignature: {box: [20, 100, 60, 10]}\n",
		 "a folded card needs front:"},
		{"front on a flat card", "size: A6\nfront: {}\nsignature: {box: [20, 100, 60, 10]}\n",
		 ":2:8: error: front: is for layout: folded"},
		{"bad Mustache", "size: A6\ntexts:\n  - text: \"{{#first_name}}hi\"\n    box: [10, 10, 50, 20]\n    fonts: [Lato-Regular.ttf]\n",
		 ":3:12: error: text: line 3:"},   /* the tag, past the quote */
		{"text over the signature", "size: A6\nfonts: [Lato-Regular.ttf]\ntexts:\n  - {text: hi, box: [10, 100, 85, 20]}\nsignature:\n  box: [30, 110, 45, 12]\n",
		 ":4:5: error: text block box overlaps the signature box"},
		{"no fonts", "size: A6\ntexts:\n  - {text: hi, box: [10, 10, 50, 20]}\n", ":3:5: error: no fonts for this text"},
		{"negative size", "size: A6\ntexts:\n  - {text: hi, box: [10, 10, 50, 20], fonts: [Lato-Regular.ttf], size: -3}\n",
		 "error: size (pt): expected a number from 2 to 300, got '-3'"},
		{"not a number", "size: A6\ntexts:\n  - {text: hi, box: [10, 10, 50, 20], fonts: [Lato-Regular.ttf], size: 0x10}\n",
		 ":3:72: error: size (pt): expected a number from 2 to 300, got '0x10'"},
		{"a choice near a name", "size: A6\ntexts:\n  - {text: hi, box: [10, 10, 50, 20], fonts: [Lato-Regular.ttf], align: centre}\n",
		 ":3:73: error: align: expected left, center or right, got 'centre' (did you mean 'center'?)"},
	};
	char *png_src = xasprintf("%s/images", tmpdir);
	mkdir(png_src, 0700);
	free(png_src);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = tmp_path("bad.card.yaml"), err[ERR_LEN] = "";
		struct card_template *t = NULL;
		int rc;
		write_file(path, cases[i].yaml);
		rc = card_template_load(path, "fonts", &t, err);
		CHECK(rc != 0 && t == NULL && strncmp(err, path, strlen(path)) == 0 && strstr(err, cases[i].want),
		      "%s is refused with FILE:LINE:COL", cases[i].what);
		if (!(rc != 0 && strstr(err, cases[i].want)))
			printf("#   got:  %s\n#   want: %s\n", err, cases[i].want);
		card_template_free(t);
		free(path);
	}
	{
		/* check wants every problem, not just the first. */
		char *path = tmp_path("bad.card.yaml");
		struct diags d;
		memset(&d, 0, sizeof d);
		write_file(path, "size: A6\ncolr: 1\nlayout: sideways\ntexts:\n  - {text: hi, box: [10, 10, 50, 20], fonts: [X.ttf]}\n");
		CHECK(card_template_load_diags(path, "fonts", NULL, &d) != 0 && d.nerrors == 3,
		      "card_template_load_diags reports all 3 problems (got %zu)", d.nerrors);
		diags_free(&d);
		free(path);
	}
}

/* Same input, same bytes: batches can be compared and golden-tested. */
static void test_deterministic(void)
{
	char err[ERR_LEN] = "";
	char *data[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	struct card_template *t = NULL;

	if (card_template_load("templates/holiday.card.yaml", "fonts", &t, err) != 0) {
		CHECK(0, "holiday loads: %s", err);
		return;
	}
	for (int k = 0; k < 2; k++) {
		struct card_batch *b = NULL;
		struct tval *ctx = make_ctx("José", "Núñez");
		char *pdf = tmp_path(k ? "det2.pdf" : "det1.pdf");
		if (card_batch_new(&b, err) == 0 && card_batch_add(b, t, ctx, NULL, err) == 0 &&
		    card_batch_save(b, pdf, err) == 0)
			util_read_file(pdf, 16 << 20, &data[k], &len[k], err);
		card_batch_free(b);
		tval_free(ctx);
		free(pdf);
	}
	CHECK(data[0] && data[1] && len[0] == len[1] && memcmp(data[0], data[1], len[0]) == 0,
	      "two renders of the same card are byte-identical (%zu bytes)", len[0]);
	free(data[0]);
	free(data[1]);
	card_template_free(t);
	{
		struct card_batch *b = NULL;
		char *pdf = tmp_path("empty.pdf");
		CHECK(card_batch_new(&b, err) == 0 && card_batch_save(b, pdf, err) != 0 && !util_file_exists(pdf),
		      "an empty batch is not written");
		card_batch_free(b);
		free(pdf);
	}
}

/* ---------------------------------------------------------------- cover sheet, envelopes, labels */

static void test_cover(void)
{
	struct card_template *t = NULL;
	struct card_batch *b = NULL;
	struct card_entry e[25] = {{0}};
	struct card_cover cv;
	char err[ERR_LEN] = "", *pdf = tmp_path("cover.pdf"), *out = NULL, cmd[1024];
	char rnames[25][64];
	int k = card_cover_pages(25), ok = 1, addressed = 0;

	CHECK(card_cover_pages(1) == 1 && card_cover_pages(20) == 1 && card_cover_pages(21) == 2 &&
	      card_cover_pages(49) == 2 && card_cover_pages(50) == 3, "the cover sheet grows a page per 29 cards after 20");
	if (card_template_load("templates/birthday.card.yaml", "fonts", &t, err) != 0 || card_batch_new(&b, err) != 0) {
		CHECK(0, "cover: %s", err);
		goto out;
	}
	for (int i = 0; i < 25; i++) {
		struct tval *ctx = make_ctx("Zoë", "Łukasiewicz");
		if (card_batch_add(b, t, ctx, NULL, err) != 0)
			ok = 0;
		tval_free(ctx);
		/* The cover prints what no font has as its code point instead of failing the batch. */
		if (i == 24)
			snprintf(rnames[i], sizeof rnames[i], "\xE5\xB1\xB1\xE7\x94\xB0 Taro %d", i);
		else
			snprintf(rnames[i], sizeof rnames[i], "%s Card %d", i % 2 ? "Ελένη" : "Дмитрий", i);
		e[i].name = rnames[i];
		e[i].occasion = "Birthday, 13 December 2026";
		e[i].address = i % 2 ? "" : "Flat 4\n22 Baker Street\nLONDON\nNW1 6XE\nUNITED KINGDOM";
		e[i].page = i + 1 + k;
		addressed += i % 2 == 0;
	}
	CHECK(ok, "cover: 25 cards added");
	memset(&cv, 0, sizeof cv);
	cv.signer = "Dana Ruiz";
	cv.fire_date = "3 December 2026";
	cv.sign_by = "Wednesday 9 December 2026";
	cv.organization = "Acme Corp";
	cv.return_address = "Acme Corp\\n1 Main St\\nSpringfield, IL 62701\\nUSA";
	cv.fonts_dir = "fonts";
	cv.cards = e;
	cv.n = 24;
	cv.envelope = CARD_ENV_DL;
	cv.labels = CARD_LABELS_5160;
	CHECK(card_batch_finish(b, &cv, err) != 0 && strstr(err, "24 cards"), "finish refuses a cover that does not list every card");
	cv.n = 25;
	err[0] = 0;
	CHECK(card_batch_finish(b, &cv, err) == 0, "finish: cover, %d envelopes, a label sheet %s", addressed, err);
	CHECK(card_batch_pages(b) == k + 25 + addressed + 1, "the batch has %d pages (want %d)", card_batch_pages(b),
	      k + 25 + addressed + 1);
	CHECK(card_batch_save(b, pdf, err) == 0, "the finished batch is saved %s", err);
	if (!have_tool("pdfinfo") || !have_tool("pdftotext")) {
		SKIP("poppler-utils are not installed");
		goto out;
	}
	snprintf(cmd, sizeof cmd, "pdfinfo -f 1 -l 60 '%s'", pdf);
	run(cmd, &out);
	CHECK(out && strstr(out, "Page    1 size:  612 x 792 pts"), "with US labels the cover is Letter");
	snprintf(cmd, sizeof cmd, "Page   %2d size:  623.622 x 311.811 pts", k + 26);
	CHECK(out && strstr(out, cmd), "the first envelope (page %d) is DL", k + 26);
	snprintf(cmd, sizeof cmd, "Page   %2d size:  612 x 792 pts", k + 26 + addressed);
	CHECK(out && strstr(out, cmd), "the label sheet is Letter");
	free(out);
	out = NULL;
	snprintf(cmd, sizeof cmd, "pdftotext -f 1 -l %d '%s' -", k, pdf);
	run(cmd, &out);
	CHECK(out && strstr(out, "Dana Ruiz") && strstr(out, "Wednesday 9 December 2026") && strstr(out, "Дмитрий Card 0") &&
	      strstr(out, "Ελένη Card 23"), "the cover lists the signer, the date and the cards over %d pages", k);
	CHECK(out && strstr(out, "[U+5C71]") && strstr(out, "Taro 24"), "the cover writes a character no font has as [U+5C71]");
	CHECK(out && count_str(out, "no postal address") >= 12, "the cover flags the 12 cards without an address");
	free(out);
	out = NULL;
	snprintf(cmd, sizeof cmd, "pdftotext -f %d -l %d '%s' -", k + 26, k + 26 + addressed, pdf);
	run(cmd, &out);
	CHECK(out && count_str(out, "22 Baker Street") == 2 * addressed && strstr(out, "Flat 4") &&
	      strstr(out, "Acme Corp, 1 Main St, Springfield"), "envelopes and labels: the street lines and the return address");
out:
	free(out);
	free(pdf);
	card_batch_free(b);
	card_template_free(t);
}

/* card_lang: the CJK convention from the language column, else the country. */
/*
 * Shaped runs are cached per font: the same run in another context (Arabic joins across it),
 * direction, script or language shapes anew, and every result equals a fresh font's.
 */
static int same_shape(struct cardfont *cached, struct cardfont *fresh, const uint32_t *text, size_t len, size_t off,
                      size_t n, int rtl, uint32_t script, const char *lang)
{
	struct cardfont_glyph *a, *b;
	size_t na = cardfont_shape(cached, text, len, off, n, rtl, script, lang, &a);
	size_t nb = cardfont_shape(fresh, text, len, off, n, rtl, script, lang, &b);
	int same = na == nb;
	for (size_t i = 0; same && i < na; i++)
		same = a[i].gid == b[i].gid && a[i].cluster == b[i].cluster && a[i].adv == b[i].adv && a[i].dx == b[i].dx &&
		       a[i].dy == b[i].dy;
	free(a);
	free(b);
	return same;
}

static void test_shape_cache(void)
{
	/* beh alone, and beh between two lams (medial form): the run is the same code point. */
	static const uint32_t alone[] = {0x0628}, mid[] = {0x0644, 0x0628, 0x0644}, latin[] = {'A', 'V', 'A', 'V', 'x'};
	uint32_t script = cardfont_script(0x0628);
	struct cardfont *c = NULL, *f1 = NULL, *f2 = NULL, *f3 = NULL, *f4 = NULL;
	struct cardfont_glyph *g1, *g2;
	size_t n1, n2;
	char err[ERR_LEN];

	if (cardfont_load("fonts/DejaVuSans.ttf", 0, &c, err) != 0 || cardfont_load("fonts/DejaVuSans.ttf", 0, &f1, err) ||
	    cardfont_load("fonts/DejaVuSans.ttf", 0, &f2, err) || cardfont_load("fonts/DejaVuSans.ttf", 0, &f3, err) ||
	    cardfont_load("fonts/DejaVuSans.ttf", 0, &f4, err)) {
		CHECK(0, "DejaVu Sans loads: %s", err);
		goto out;
	}
	n1 = cardfont_shape(c, alone, 1, 0, 1, 1, script, "ar", &g1);
	n2 = cardfont_shape(c, mid, 3, 1, 1, 1, script, "ar", &g2);
	CHECK(n1 == 1 && n2 == 1 && g1[0].gid != g2[0].gid && g2[0].cluster == 1,
	      "shape cache: a run in other context is shaped anew (isolated and medial beh differ; cluster counts from the text)");
	free(g1);
	free(g2);
	CHECK(same_shape(c, f1, alone, 1, 0, 1, 1, script, "ar"), "shape cache: isolated beh again, as a fresh font shapes it");
	CHECK(same_shape(c, f2, mid, 3, 1, 1, 1, script, "ar"), "shape cache: medial beh again, as a fresh font shapes it");
	CHECK(same_shape(c, f3, latin, 5, 1, 3, 0, cardfont_script('A'), NULL) &&
	      same_shape(c, f3, latin, 5, 1, 3, 0, cardfont_script('A'), NULL) &&
	      same_shape(c, f4, latin, 5, 0, 4, 0, cardfont_script('A'), "en"),
	      "shape cache: Latin runs with kerning at other offsets and languages, as a fresh font shapes them");
out:
	cardfont_free(c);
	cardfont_free(f1);
	cardfont_free(f2);
	cardfont_free(f3);
	cardfont_free(f4);
}

static void test_lang(void)
{
	static const struct {
		const char *country, *language, *want;
	} t[] = {
		{"China", NULL, "zh-cn"}, {"CN", "", "zh-cn"}, {"中国", NULL, "zh-cn"}, {"Singapore", NULL, "zh-cn"},
		{"taiwan", NULL, "zh-tw"}, {"台灣", NULL, "zh-tw"}, {"Hong Kong", NULL, "zh-hk"}, {"MO", NULL, "zh-hk"},
		{"Japan", NULL, "ja"}, {"日本", NULL, "ja"}, {"South Korea", NULL, "ko"}, {"KR", NULL, "ko"},
		{"Germany", NULL, NULL}, {"", NULL, NULL}, {NULL, NULL, NULL},
		{"Germany", "zh-TW", "zh-tw"}, {"Germany", "zh_Hant", "zh-tw"}, {"Hong Kong", "zh-Hant", "zh-hk"},
		{"Taiwan", "zh-Hans", "zh-cn"}, {"USA", "zh", "zh-cn"}, {"Taiwan", "zh", "zh-tw"},
		{"China", "ja-JP", "ja"}, {"", "ko", "ko"}, {"", "yue", "zh-hk"}, {"Japan", "en", "ja"},
		{"", "zh-Hant-HK", "zh-hk"}, {"", "zhx", NULL},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *got = card_lang(t[i].country, t[i].language);
		CHECK_STR(got ? got : "(none)", t[i].want ? t[i].want : "(none)", "card_lang(%s, %s)",
		          t[i].country ? t[i].country : "NULL", t[i].language ? t[i].language : "NULL");
	}
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_card.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	{
		/* The system's fonts, as fontconfig sees them here: one directory of the test's own. */
		char *conf = xasprintf("%s/fonts.conf", tmpdir), *dir = xasprintf("%s/fonts", tmpdir);
		char *text = xasprintf("<?xml version=\"1.0\"?>\n<fontconfig><dir>%s</dir><cachedir>%s/cache</cachedir>"
		                       "</fontconfig>\n", dir, tmpdir);
		mkdir(dir, 0700);
		write_file(conf, text);
		setenv("FONTCONFIG_FILE", conf, 1);
		free(conf);
		free(dir);
		free(text);
	}
	test_shipped_templates();
	test_sizes();
	test_batch();
	test_all_templates_render();
	test_missing_glyphs();
	test_composite_glyphs();
	test_bad_templates();
	test_deterministic();
	test_cover();
	test_lang();
	test_shape_cache();
	{
		char *cmd = xasprintf(getenv("KEEP") ? "true %s" : "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return check_done();
}
