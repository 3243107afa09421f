/* Unit tests of the map's date conversion, its rows, and the vCard reader's dates and cards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "occasiond/import_map.h"
#include "occasiond/vcard.h"

static const char *conv(const char *v, const char *fmt)
{
	static char out[64];
	struct strbuf sb = {0};
	char err[ERR_LEN];
	if (imap_convert_date(v, fmt, &sb, err) < 0)
		snprintf(out, sizeof out, "ERR");
	else
		snprintf(out, sizeof out, "%s", sb.s ? sb.s : "");
	sb_free(&sb);
	return out;
}

static const char *vdate(const char *v)
{
	static char out[11];
	if (vcard_date(v, out) < 0)
		return "ERR";
	return out;
}

static void test_dates(void)
{
	CHECK_STR(conv("12/14/1979", "MM/DD/YYYY"), "1979-12-14", "US date");
	CHECK_STR(conv("3/8/1975", "M/D/YYYY"), "1975-03-08", "US date, short");
	CHECK_STR(conv("14.2.1985", "D.M.YYYY"), "1985-02-14", "German date");
	CHECK_STR(conv("01/04/15", "DD/MM/YY"), "2015-04-01", "two-digit year after 1970 is 20xx below 70");
	CHECK_STR(conv("01/04/85", "DD/MM/YY"), "1985-04-01", "two-digit year 85 is 1985");
	CHECK_STR(conv("2021-03-04T10:00:00Z", NULL), "2021-03-04", "ISO with a time: its date");
	CHECK_STR(conv("2023-05-04 10:15", NULL), "2023-05-04", "HubSpot's date and time");
	CHECK_STR(conv("--02-14", "M/D/YYYY"), "--02-14", "a year-less date whatever the format");
	CHECK_STR(conv("0/0/00", "M/D/YYYY"), "", "Outlook's no date");
	CHECK_STR(conv("00.00.0000", "DD.MM.YYYY"), "", "zeros are no date");
	CHECK_STR(conv("", "M/D/YYYY"), "", "empty is empty");
	CHECK_STR(conv("12-14", "MM-DD"), "--12-14", "a format without a year");
	CHECK_STR(conv("13/45/1980", "MM/DD/YYYY"), "ERR", "month 13");
	CHECK_STR(conv("12/14/1979x", "MM/DD/YYYY"), "ERR", "text after the date");
	CHECK_STR(conv("1979-12-14", "MM/DD/YYYY"), "ERR", "another format");
	CHECK_STR(vdate("1980-02-14"), "1980-02-14", "vCard extended date");
	CHECK_STR(vdate("19800214"), "1980-02-14", "vCard basic date");
	CHECK_STR(vdate("--0214"), "--02-14", "vCard 4.0 year-less");
	CHECK_STR(vdate("--02-14"), "--02-14", "vCard year-less, extended");
	CHECK_STR(vdate("1980-02-14T00:00:00Z"), "1980-02-14", "vCard date with a time");
	CHECK_STR(vdate("1980-13-01"), "ERR", "vCard month 13");
	CHECK_STR(vdate("abc"), "ERR", "vCard no date");
}

static void test_row(void)
{
	static const char map[] =
		"id: {from: email}\n"
		"columns:\n"
		"  first_name: [\"Given Name\", \"First Name\"]\n"
		"  email: {column: Mail, split: \" ::: \"}\n"
		"  type: {column: Stage, values: {Kunde: customer, \"*\": other}}\n"
		"  nickname: {template: \"{{First Name}}!\"}\n"
		"keep: [Team]\n"
		"defaults: {tier: gold}\n";
	char *hdr[] = {"First Name", "Mail", "Stage", "Team", "Junk"};
	char *row[] = {"Ada", " ::: Ada.L@Example.com ::: x@y", "kunde", "Red", "j"};
	char *row2[] = {"Bob", "bob+tag@x.example", "", "", ""};
	struct imap *m = NULL;
	struct diags d = {0};
	char *const *vals, *const *names;
	const size_t *lens;
	size_t n;
	char err[ERR_LEN];
	int ok = imap_load_mem("m.yaml", map, &m, &d) == 0 && imap_bind(m, hdr, 5, "f.csv", 1, &d) == 0;
	CHECK(ok, "a map loads and binds");
	if (!ok) {
		diags_print(&d, stdout);
		imap_free(m);
		diags_free(&d);
		return;
	}
	names = imap_header(m, &n);
	CHECK(imap_row(m, row, NULL, 5, &vals, &lens, err) == 0, "a row maps (%s)", err);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], "id") == 0)
			CHECK_STR(vals[i], "ada.l@example.com", "id from the email, lower case");
		else if (strcmp(names[i], "email") == 0)
			CHECK_STR(vals[i], "Ada.L@Example.com", "the first non-empty item");
		else if (strcmp(names[i], "type") == 0)
			CHECK_STR(vals[i], "customer", "a value table, without case");
		else if (strcmp(names[i], "nickname") == 0)
			CHECK_STR(vals[i], "Ada!", "a template over the source columns");
		else if (strcmp(names[i], "tier") == 0)
			CHECK_STR(vals[i], "gold", "a default");
		else if (strcmp(names[i], "Team") == 0)
			CHECK_STR(vals[i], "Red", "a kept column");
		else if (strcmp(names[i], "first_name") == 0)
			CHECK_STR(vals[i], "Ada", "the second name of a list");
	}
	CHECK(imap_row(m, row2, NULL, 5, &vals, &lens, err) == 0, "a second row maps");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], "id") == 0)
			CHECK(strncmp(vals[i], "e-", 2) == 0 && strlen(vals[i]) == 18, "an email that is no id: e- and a hash");
		else if (strcmp(names[i], "type") == 0)
			CHECK_STR(vals[i], "", "an empty value is not \"*\"");
	}
	CHECK(imap_row(m, row2, NULL, 4, &vals, &lens, err) < 0, "a short row is an error");
	CHECK_STR(imap_source_name(m, "email"), "Mail", "a field's source column");
	imap_free(m);
	diags_free(&d);
}

static void test_bind_errors(void)
{
	char *hdr[] = {"id", "first_name", "emial"};
	char *hdr2[] = {"ID", "First Name", "city2"};
	struct imap *m = imap_identity();
	struct diags d = {0};
	CHECK(imap_bind(m, hdr, 3, "f.csv", 1, &d) < 0, "a header a typo from ours is refused");
	CHECK(d.n && strstr(d.msgs[0], "\"emial\" is one letter from our column email"), "... naming both");
	imap_free(m);
	diags_free(&d);
	memset(&d, 0, sizeof d);
	m = imap_identity();
	CHECK(imap_bind(m, hdr2, 3, "f.csv", 1, &d) == 0 && d.nerrors == 0, "case and punctuation are forgiven");
	CHECK(d.nwarnings == 2, "... with a note each (got %zu)", d.nwarnings);
	imap_free(m);
	diags_free(&d);
	memset(&d, 0, sizeof d);
	CHECK(imap_load_mem("m.yaml", "id: X\ncolumns:\n  first_name: {template: \"{{#a}}\"}\n", &m, &d) < 0,
	      "a template that does not parse is refused at load");
	diags_free(&d);
}

static void test_vcard(void)
{
	char path[] = "/tmp/occasiond-vcard-XXXXXX";
	int fd = mkstemp(path);
	static const char card[] =
		"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jane\r\nNOTE;ENCODING=QUOTED-PRINTABLE:a=\r\nb=3Dc\r\n"
		"EMAIL;INTERNET:j@x.example\r\nEMAIL;PREF;INTERNET:jane@x.example\r\n"
		"X-Y:long\r\n folded\r\nEND:VCARD\r\n";
	struct vcard_reader *r = NULL;
	struct csv_record rec;
	char err[ERR_LEN];
	size_t n;
	char *const *h = vcard_header(&n);
	CHECK(fd >= 0 && write(fd, card, sizeof card - 1) == (ssize_t)(sizeof card - 1), "a card written");
	close(fd);
	CHECK(vcard_open(path, &r, err) == 0, "vcard_open");
	CHECK(vcard_next(r, &rec, err) == 1, "one card (%s)", err);
	for (size_t i = 0; i < n && rec.n == n; i++) {
		if (strcmp(h[i], "EMAIL") == 0)
			CHECK_STR(rec.fields[i], "jane@x.example", "2.1's bare PREF wins");
		else if (strcmp(h[i], "note") == 0)
			CHECK_STR(rec.fields[i], "ab=c", "a soft line break and =3D");
		else if (strcmp(h[i], "N.given") == 0)
			CHECK_STR(rec.fields[i], "Jane", "N's given name");
	}
	CHECK(vcard_next(r, &rec, err) == 0, "then the end");
	vcard_close(r);
	unlink(path);
}

int main(void)
{
	test_dates();
	test_row();
	test_bind_errors();
	test_vcard();
	return check_done();
}
