/* Unit tests of util: directories under the spool, safe file-name components, atomic writes. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "occasiond/util.h"

int main(void)
{
	char tmpl[] = "/tmp/occasiond-util-XXXXXX", err[ERR_LEN], buf[PATH_MAX + 64], buf2[PATH_MAX + 64], safe[64];
	char *root = mkdtemp(tmpl);
	struct stat st;

	CHECK(root != NULL, "a scratch directory");
	{
		/* The Bloom filter: never a false "new"; few false "maybe" below its size. */
		unsigned char *bloom = util_bloom_new();
		int again = 0, maybe = 0;
		char id[24];
		for (int i = 0; i < 100000; i++) {
			snprintf(id, sizeof id, "b%07d", i);
			maybe += util_bloom_test_set(bloom, id);
		}
		for (int i = 0; i < 100000; i++) {
			snprintf(id, sizeof id, "b%07d", i);
			again += util_bloom_test_set(bloom, id);
		}
		CHECK(again == 100000, "the Bloom filter knows every string it was given (%d)", again);
		CHECK(maybe < 100, "and says 'maybe' of few new ones (%d of 100,000)", maybe);
		free(bloom);
	}
	if (!root)
		return check_done();
	snprintf(buf, sizeof buf, "%s/spool/batches/2026-12-03", root);
	snprintf(buf2, sizeof buf2, "%s/spool", root);
	CHECK(util_mkdirs_under(buf2, buf, err) == 0, "creates the directories below the spool (%s)", err);
	CHECK(stat(buf, &st) == 0 && S_ISDIR(st.st_mode), "and they exist");
	CHECK(util_mkdirs_under(buf2, buf, err) == 0, "existing directories are fine");

	/* A symlink planted below the spool is refused. */
	snprintf(buf, sizeof buf, "%s/elsewhere", root);
	mkdir(buf, 0700);
	snprintf(buf2, sizeof buf2, "%s/spool/outbox", root);
	CHECK(symlink(buf, buf2) == 0, "a symlink is planted at spool/outbox");
	snprintf(buf, sizeof buf, "%s/spool/outbox/new", root);
	snprintf(buf2, sizeof buf2, "%s/spool", root);
	CHECK(util_mkdirs_under(buf2, buf, err) == -1 && strstr(err, "symlink"), "a planted symlink is refused (%s)", err);
	snprintf(buf, sizeof buf, "%s/elsewhere/new", root);
	CHECK(stat(buf, &st) != 0, "and nothing was created through it");

	/* The spool itself may be a symlink: an administrator's choice. */
	snprintf(buf, sizeof buf, "%s/spool", root);
	snprintf(buf2, sizeof buf2, "%s/spool-link", root);
	CHECK(symlink(buf, buf2) == 0, "the spool is reached through a symlink");
	snprintf(buf, sizeof buf, "%s/spool-link/batches/2026-12-04", root);
	CHECK(util_mkdirs_under(buf2, buf, err) == 0, "a spool that is a symlink works (%s)", err);
	CHECK(util_mkdirs_under(buf2, "/etc/x", err) == -1, "a path outside the root is refused");
	snprintf(buf, sizeof buf, "%s/spool-linkx/a", root);
	CHECK(util_mkdirs_under(buf2, buf, err) == -1, "a path that only starts with the root's name is refused");

	/* File-name components made from names. */
	util_safe_component("../../etc/passwd", safe, sizeof safe);
	CHECK(!strchr(safe, '/') && strcmp(safe, "..") != 0 && safe[0] != '.', "../../etc/passwd is made safe (%s)", safe);
	util_safe_component("Dana Ruiz", safe, sizeof safe);
	CHECK_STR(safe, "Dana_Ruiz", "a signer's name becomes a file name");
	util_safe_component("", safe, sizeof safe);
	CHECK(safe[0] != '\0', "an empty name still gives a name (%s)", safe);

	/* Atomic writes never follow a symlink at the target. */
	snprintf(buf, sizeof buf, "%s/victim", root);
	snprintf(buf2, sizeof buf2, "%s/target.pdf", root);
	CHECK(symlink(buf, buf2) == 0, "a symlink is planted where a batch goes");
	CHECK(util_write_atomic(buf2, "x", 1, err) == -1, "util_write_atomic refuses it (%s)", err);
	CHECK(stat(buf, &st) != 0, "and the link's target was not written");

	/* A temporary file left by a killed writer goes away on the next write; a live one's stays. */
	{
		FILE *fp;
		snprintf(buf, sizeof buf, "%s/batch.pdf.tmp.2147483000", root);
		fp = fopen(buf, "w");
		if (fp)
			fclose(fp);
		snprintf(buf2, sizeof buf2, "%s/batch.pdf.tmp.%ld", root, (long)getppid());
		fp = fopen(buf2, "w");
		if (fp)
			fclose(fp);
		snprintf(safe, sizeof safe, "batch.pdf");
		{
			char target[PATH_MAX + 64];
			snprintf(target, sizeof target, "%s/batch.pdf", root);
			CHECK(util_write_atomic(target, "%PDF", 4, err) == 0, "an atomic write (%s)", err);
		}
		CHECK(access(buf, F_OK) != 0, "the killed writer's temporary file is removed");
		CHECK(access(buf2, F_OK) == 0, "a running writer's temporary file is left alone");
	}

	/* CSV cells that a spreadsheet would run as a formula are shown as text (CONTRACT 7). */
	{
		static const char *const cases[][2] = {
			{"=HYPERLINK(\"http://x\",\"click\") Smith", "\"'=HYPERLINK(\"\"http://x\"\",\"\"click\"\") Smith\""},
			{"@SUM(1)", "'@SUM(1)"}, {"+1", "'+1"}, {"-2+3", "'-2+3"}, {"\tx", "'\tx"},
			{"\rx", "\"'\rx\""}, {"\xEF\xBC\x9D" "1+1", "'\xEF\xBC\x9D" "1+1"},
			{"Smith =1", "Smith =1"}, {"", ""}, {"a,b", "\"a,b\""}, {"3.50", "3.50"},
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			struct strbuf sb = {0};
			sb_add_csv_field(&sb, cases[i][0]);
			CHECK_STR(sb.s ? sb.s : "", cases[i][1], "CSV cell %zu", i);
			sb_free(&sb);
		}
	}

	snprintf(buf, sizeof buf, "rm -rf '%s'", root);
	if (system(buf) != 0)
		printf("# could not remove %s\n", root);
	return check_done();
}
