/*
 * Fuzzes the card template loader (.card.yaml) and, when one loads, the text merge and fit.
 * The input is written into a scratch directory next to a link to the shipped images, so
 * templates that name images/... get past the image checks.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "occasiond/card.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char dir[PATH_MAX];

static void setup(void)
{
	char tmpl[] = "/dev/shm/occasiond-fuzz-card-XXXXXX", images[PATH_MAX + 16], cwd[PATH_MAX];
	if (!mkdtemp(tmpl) || !getcwd(cwd, sizeof cwd))
		abort();
	snprintf(dir, sizeof dir, "%s", tmpl);
	snprintf(images, sizeof images, "%s/images", dir);
	{
		char target[PATH_MAX + 32];
		snprintf(target, sizeof target, "%s/templates/images", cwd);
		if (symlink(target, images) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[PATH_MAX + 32], err[ERR_LEN];
	struct card_template *t = NULL;
	FILE *fp;

	if (!dir[0])
		setup();
	snprintf(path, sizeof path, "%s/fuzz.card.yaml", dir);
	if (!(fp = fopen(path, "wb")))
		abort();
	if (size && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
	if (card_template_load(path, "fonts", &t, err) == 0) {
		struct tval *ctx = tval_map();
		tval_map_set_str(ctx, "first_name", "Łukasz");
		tval_map_set_str(ctx, "last_name", "Ελένη Дмитрий");
		tval_map_set_str(ctx, "signer", "Dana Ruiz");
		(void)card_check(t, ctx, err);
		tval_free(ctx);
		card_template_free(t);
	}
	return 0;
}
