/* Unit tests of the CSV reader. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "occasiond/csv.h"

/* next_ok: reads one record and checks its field count and start line. */
static int next_ok(struct csv_reader *r, struct csv_record *rec, size_t n, long line, const char *what)
{
	char err[ERR_LEN] = "";
	int rc = csv_next(r, rec, err);
	CHECK(rc == 1, "%s: a record (%s)", what, err);
	if (rc != 1)
		return 0;
	CHECK(rec->n == n, "%s: %zu fields (got %zu)", what, n, rec->n);
	CHECK(rec->line == line, "%s: starts on line %ld (got %ld)", what, line, rec->line);
	return rec->n == n;
}

/* first_error: the first error of reading all of data, or "" when it reads cleanly. */
static const char *first_error(const char *data, size_t len)
{
	static char err[ERR_LEN];
	struct csv_reader *r = csv_open_mem(data, len, "t.csv");
	struct csv_record rec;
	int rc;
	err[0] = '\0';
	while ((rc = csv_next(r, &rec, err)) == 1)
		;
	if (rc == 0)
		err[0] = '\0';
	csv_close(r);
	return err;
}

static void test_basic(void)
{
	const char *d = "id,first_name,note\n1,Ann,\"a, b\"\n2,\"Bo \"\"B\"\"\",\n";
	struct csv_reader *r = csv_open_mem(d, strlen(d), "t.csv");
	struct csv_record rec;
	char err[ERR_LEN];
	CHECK_STR(csv_name(r), "t.csv", "name kept");
	if (next_ok(r, &rec, 3, 1, "header"))
		CHECK_STR(rec.fields[1], "first_name", "header field");
	if (next_ok(r, &rec, 3, 2, "row 1")) {
		CHECK_STR(rec.fields[2], "a, b", "quoted comma");
		CHECK(rec.lens[2] == 4, "length of a quoted field");
	}
	if (next_ok(r, &rec, 3, 3, "row 2")) {
		CHECK_STR(rec.fields[1], "Bo \"B\"", "doubled quotes");
		CHECK_STR(rec.fields[2], "", "trailing empty field");
		CHECK(rec.lens[2] == 0, "empty field length 0");
	}
	CHECK(csv_next(r, &rec, err) == 0, "end of input");
	CHECK(csv_next(r, &rec, err) == 0, "end stays the end");
	csv_close(r);
	csv_close(NULL);
}

static void test_newlines_and_lines(void)
{
	const char *d = "a,b\r\n\"line1\r\nline2\nline3\",x\r\n\r\n\n,\nlast,\"\"";
	struct csv_reader *r = csv_open_mem(d, strlen(d), "t.csv");
	struct csv_record rec;
	char err[ERR_LEN];
	if (next_ok(r, &rec, 2, 1, "crlf header"))
		CHECK_STR(rec.fields[1], "b", "CRLF not part of the field");
	if (next_ok(r, &rec, 2, 2, "multi-line record"))
		CHECK_STR(rec.fields[0], "line1\r\nline2\nline3", "line breaks kept inside quotes");
	/* the multi-line record spans lines 2-4; blank lines 5 and 6 are skipped */
	if (next_ok(r, &rec, 2, 7, "two empty fields")) {
		CHECK_STR(rec.fields[0], "", "empty 1");
		CHECK_STR(rec.fields[1], "", "empty 2");
	}
	if (next_ok(r, &rec, 2, 8, "last record without line end"))
		CHECK_STR(rec.fields[1], "", "quoted empty");
	CHECK(csv_next(r, &rec, err) == 0, "end after unterminated last line");
	csv_close(r);
}

static void test_bom_and_nul(void)
{
	static const char d[] = "\xEF\xBB\xBFid,x\n1,a\0b\n";
	struct csv_reader *r = csv_open_mem(d, sizeof d - 1, "t.csv");
	struct csv_record rec;
	if (next_ok(r, &rec, 2, 1, "BOM header"))
		CHECK_STR(rec.fields[0], "id", "BOM skipped");
	if (next_ok(r, &rec, 2, 2, "NUL row")) {
		CHECK(rec.lens[1] == 3, "NUL inside a field counted");
		CHECK(memcmp(rec.fields[1], "a\0b", 4) == 0, "NUL kept");
		CHECK(strlen(rec.fields[1]) != rec.lens[1], "callers can see the NUL");
	}
	csv_close(r);

	/* A BOM alone, and an empty input. */
	CHECK_STR(first_error("\xEF\xBB\xBF", 3), "", "BOM only");
	r = csv_open_mem("", 0, NULL);
	CHECK(csv_next(r, &rec, NULL) == 0, "empty input has no record");
	CHECK_STR(csv_name(r), "(memory)", "default name");
	csv_close(r);
	/* A BOM not at the start is data. */
	r = csv_open_mem("a\n\xEF\xBB\xBF" "b\n", 6, "t");
	if (next_ok(r, &rec, 1, 1, "a") && next_ok(r, &rec, 1, 2, "bom later"))
		CHECK(rec.lens[0] == 4, "later BOM kept");
	csv_close(r);
}

static void test_errors(void)
{
	CHECK_STR(first_error("a,b\n\"open,x\ny\n", 14),
	          "t.csv:2: error: unterminated quoted field (the quote opens here)", "unterminated quote");
	CHECK_STR(first_error("a\n\"x\"y,z\n", 9),
	          "t.csv:2: error: text after a closing quote (a quote inside a quoted field is written \"\")",
	          "text after closing quote");
	CHECK_STR(first_error("a\nb\nab\"c\n", 9),
	          "t.csv:3: error: quote inside an unquoted field (quote the whole field and write \"\" for the quote)",
	          "bare quote");
	CHECK_STR(first_error("a\rb\n", 4), "t.csv:1: error: carriage return not followed by a line feed", "bare CR");
	CHECK_STR(first_error("a\n\r", 3), "t.csv:2: error: carriage return not followed by a line feed", "bare CR at end");
	CHECK_STR(first_error("\"a\nb\"\"\n\"x\"", 11),
	          "t.csv:3: error: text after a closing quote (a quote inside a quoted field is written \"\")",
	          "error line counts lines inside quotes");
	CHECK_STR(first_error("\"a\"\r\n\"b\" \n", 10),
	          "t.csv:2: error: text after a closing quote (a quote inside a quoted field is written \"\")",
	          "space after closing quote");

	/* too many fields: 257 */
	struct strbuf sb = {0};
	for (int i = 0; i <= CSV_MAX_FIELDS; i++)
		sb_adds(&sb, i ? ",x" : "x");
	sb_adds(&sb, "\n");
	CHECK_STR(first_error(sb.s, sb.len), "t.csv:1: error: more than 256 fields", "too many fields");
	sb_reset(&sb);
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		sb_adds(&sb, i ? ",x" : "x");
	CHECK_STR(first_error(sb.s, sb.len), "", "exactly 256 fields");
	sb_free(&sb);
}

static void test_recovery(void)
{
	/* After a syntax error the next call resumes on the next line. */
	const char *d = "h1,h2\nx\"y,1\ngood,2\n";
	struct csv_reader *r = csv_open_mem(d, strlen(d), "t.csv");
	struct csv_record rec;
	char err[ERR_LEN];
	next_ok(r, &rec, 2, 1, "header");
	CHECK(csv_next(r, &rec, err) == -1, "bad row");
	if (next_ok(r, &rec, 2, 3, "resumed"))
		CHECK_STR(rec.fields[0], "good", "resumed on the next line");
	CHECK(csv_next(r, &rec, err) == 0, "then the end");
	csv_close(r);
}

static void test_big_fields(void)
{
	size_t n = CSV_MAX_FIELD;
	char *big = xmalloc(n + 64);
	struct csv_reader *r;
	struct csv_record rec;
	char err[ERR_LEN];
	size_t len;

	/* exactly CSV_MAX_FIELD bytes, quoted with a line break inside: accepted */
	big[0] = '"';
	memset(big + 1, 'x', n);
	big[1 + n / 2] = '\n';
	memcpy(big + 1 + n, "\",y\nz,w\n", 8);
	len = n + 9;
	r = csv_open_mem(big, len, "big.csv");
	if (next_ok(r, &rec, 2, 1, "1 MB field")) {
		CHECK(rec.lens[0] == n, "1 MB field length");
		CHECK_STR(rec.fields[1], "y", "field after the big one");
	}
	next_ok(r, &rec, 2, 3, "record after the big one");
	csv_close(r);

	/* one byte more: an error naming the line, and reading resumes at the next record */
	memset(big, 'x', n + 1);
	memcpy(big + n + 1, ",y\n\"q\",w\n", 9);
	r = csv_open_mem(big, n + 10, "big.csv");
	CHECK(csv_next(r, &rec, err) == -1, "field over the limit");
	CHECK_STR(err, "big.csv:1: error: field longer than 1048576 bytes", "field too long message");
	if (next_ok(r, &rec, 2, 2, "after the long field"))
		CHECK_STR(rec.fields[0], "q", "resumed after the long field");
	csv_close(r);
	free(big);
}

static void test_file(void)
{
	char dir[] = "/tmp/occ-csv-XXXXXX";
	char path[64], err[ERR_LEN];
	struct csv_reader *r = NULL;
	struct csv_record rec;
	FILE *fp;
	long i, rows = 50000;
	int ok = 1;

	CHECK(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof path, "%s/s.csv", dir);
	CHECK(csv_open(path, &r, err) == -1 && r == NULL, "missing file");
	CHECK(strstr(err, "cannot open") && strstr(err, "s.csv"), "missing file message: %s", err);
	CHECK(csv_open(dir, &r, err) == -1, "a directory is refused: %s", err);

	/* many records across buffer refills, with a BOM and a field spanning lines */
	fp = fopen(path, "w");
	fputs("\xEF\xBB\xBFid,text\r\n", fp);
	for (i = 0; i < rows; i++)
		fprintf(fp, "%ld,\"row %ld\nsecond line, with comma\"\r\n", i, i);
	fclose(fp);
	CHECK(csv_open(path, &r, err) == 0, "open file");
	CHECK_STR(csv_name(r), path, "file name");
	if (next_ok(r, &rec, 2, 1, "file header"))
		CHECK_STR(rec.fields[0], "id", "BOM skipped in a file");
	for (i = 0; i < rows && ok; i++) {
		char want[64];
		ok = csv_next(r, &rec, err) == 1 && rec.n == 2 && rec.line == 2 + 2 * i;
		snprintf(want, sizeof want, "row %ld\nsecond line, with comma", i);
		ok = ok && strcmp(rec.fields[1], want) == 0;
	}
	CHECK(ok, "%ld records streamed with their lines (stopped at %ld)", rows, i);
	CHECK(csv_next(r, &rec, err) == 0, "file end");
	csv_close(r);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_basic();
	test_newlines_and_lines();
	test_bom_and_nul();
	test_errors();
	test_recovery();
	test_big_fields();
	test_file();
	return check_done();
}
