/*
 * Helpers more than one unit test needs: golden files, a config from text, a bare
 * stakeholder. Static inline, so a test that uses none of them pays nothing.
 */
#ifndef OCCASIOND_TEST_TESTLIB_H
#define OCCASIOND_TEST_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "occasiond/config.h"
#include "occasiond/model.h"
#include "occasiond/util.h"

/*
 * golden_file: compares got with DIR/NAME and on a difference prints its first differing
 * line; with UPDATE_GOLDEN=1 it rewrites the file instead (read the diff before committing).
 */
static inline void golden_file(const char *dir, const char *name, const char *got)
{
	char path[256], err[ERR_LEN];
	char *want = NULL;
	size_t wlen = 0;
	const char *upd = getenv("UPDATE_GOLDEN");
	int eq;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (upd && strcmp(upd, "1") == 0) {
		int ok = util_mkdirs(dir, err) == 0 && util_write_atomic(path, got, strlen(got), err) == 0;
		CHECK(ok, "golden %s rewritten", name);
		return;
	}
	if (util_read_file(path, 1 << 22, &want, &wlen, err) < 0) {
		CHECK(0, "golden %s readable (run from the repo root; UPDATE_GOLDEN=1 writes it): %s", name, err);
		return;
	}
	eq = strcmp(want, got) == 0;
	CHECK(eq, "golden %s matches", name);
	if (!eq) {
		const char *a = got, *b = want;
		int line = 1;
		while (*a && *a == *b) {
			if (*a == '\n')
				line++;
			a++, b++;
		}
		while (a > got && a[-1] != '\n')
			a--, b--;
		printf("#   first difference at line %d\n#   got:  %.*s\n#   want: %.*s\n", line,
		       (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
	}
	free(want);
}

/* config_from_text: writes text to DIR/occasiond.yaml and loads it, diagnostics printed. NULL on error. */
static inline struct config *config_from_text(const char *dir, const char *text)
{
	char path[300], err[ERR_LEN];
	struct diags d = {0};
	struct config *c;
	snprintf(path, sizeof path, "%s/occasiond.yaml", dir);
	if (util_write_atomic(path, text, strlen(text), err) != 0)
		printf("# %s\n", err);
	c = config_load(path, &d);
	diags_print(&d, stdout);
	diags_free(&d);
	return c;
}

/* sh_make: a stakeholder with every standard field "" but id and first_name (stakeholder_clear frees it). */
static inline void sh_make(struct stakeholder *sh, const char *id, const char *first)
{
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh->f[i] = xstrdup("");
	free(sh->f[SH_ID]);
	free(sh->f[SH_FIRST_NAME]);
	sh->f[SH_ID] = xstrdup(id);
	sh->f[SH_FIRST_NAME] = xstrdup(first);
}

#endif
