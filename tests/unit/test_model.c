/* Unit tests of the model: validation of stakeholder and event rows, name tables. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "occasiond/model.h"

#define N(a) (sizeof(a) / sizeof *(a))

static char err[ERR_LEN];

/* row_sh: validates one row given as header and values; returns the rc and leaves err. */
static int row_sh(char *const *hdr, char *const *vals, size_t n, struct stakeholder *sh)
{
	err[0] = '\0';
	return model_stakeholder_from_row(hdr, n, vals, NULL, n, sh, err);
}

/* one_field: a row of id, first_name and one more column name=value; the error, or "" when valid. */
static const char *one_field(const char *name, const char *value, char *out_value, size_t size)
{
	char *hdr[] = {"id", "first_name", (char *)name};
	char *vals[] = {"s1", "Ann", (char *)value};
	struct stakeholder sh = {0};
	int rc = row_sh(hdr, vals, 3, &sh);
	if (out_value) {
		const char *v = rc == 0 ? stakeholder_get(&sh, name) : NULL;
		util_strlcpy(out_value, v ? v : "(none)", size);
	}
	stakeholder_clear(&sh);
	return rc == 0 ? "" : err;
}

static void test_tables(void)
{
	CHECK(sh_field_lookup("id") == SH_ID, "lookup id");
	CHECK(sh_field_lookup("opted_out") == SH_OPTED_OUT, "lookup last field");
	CHECK(sh_field_lookup("customer_since") == SH_CUSTOMER_SINCE, "lookup customer_since");
	CHECK(sh_field_lookup("Email") == -1, "lookup is exact");
	CHECK(sh_field_lookup("favourite") == -1, "custom column");
	CHECK(sh_field_lookup(NULL) == -1, "lookup NULL");
	for (int i = 0; i < SH_NFIELDS; i++)
		if (sh_field_lookup(sh_field_names[i]) != i)
			CHECK(0, "field table in enum order at %d", i);
	CHECK_STR(sh_field_names[SH_POSTAL_CODE], "postal_code", "postal_code name");
	CHECK_STR(sh_field_names[SH_PREFERRED_CHANNEL], "preferred_channel", "preferred_channel name");
	CHECK_STR(channel_names[CH_PREFERRED], "preferred", "channel names");
	CHECK(channel_parse("email") == CH_EMAIL && channel_parse("CARD") == CH_CARD, "channel_parse");
	CHECK(channel_parse("fax") == -1 && channel_parse(NULL) == -1, "channel_parse unknown");
	CHECK_STR(dispatch_status_names[DS_QUEUED], "queued", "status 0");
	CHECK_STR(dispatch_status_names[DS_CANCELLED], "cancelled", "status cancelled");
	CHECK_STR(dispatch_status_names[DS_SKIPPED], "skipped", "status last");
	for (int i = 0; i < DS__N; i++)
		if (dispatch_status_parse(dispatch_status_names[i]) != i)
			CHECK(0, "status round trip %d", i);
	CHECK(dispatch_status_parse("done") == -1, "unknown status");
}

static void test_full_row(void)
{
	char *hdr[] = {" id ", "first_name", "last_name", "type", "email", "preferred_channel", "timezone",
	               "birthday", "hire_date", "consent_personal", "opted_out", "Favourite Colour", "renewal2"};
	char *vals[] = {"acme.ann-1@x", " Ann ", "Lee", "Customer", "ann@example.com", "EMAIL", "Europe/Berlin",
	                "--02-29", "2020-02-29", "Yes", "", "teal\twith tab", "2027-01-31"};
	struct stakeholder sh = {0};
	char *name;
	CHECK(model_check_header(hdr, N(hdr), 0, err) == 0, "header accepted (%s)", err);
	CHECK(row_sh(hdr, vals, N(hdr), &sh) == 0, "full row accepted (%s)", err);
	CHECK_STR(sh.f[SH_ID], "acme.ann-1@x", "id, header name trimmed");
	CHECK_STR(sh.f[SH_FIRST_NAME], "Ann", "value trimmed");
	CHECK_STR(sh.f[SH_TYPE], "customer", "type lower-cased");
	CHECK_STR(sh.f[SH_PREFERRED_CHANNEL], "email", "channel lower-cased");
	CHECK_STR(sh.f[SH_BIRTHDAY], "--02-29", "birthday without a year, 29 February");
	CHECK_STR(sh.f[SH_HIRE_DATE], "2020-02-29", "leap day");
	CHECK_STR(sh.f[SH_CONSENT_PERSONAL], "1", "boolean yes -> 1");
	CHECK_STR(sh.f[SH_OPTED_OUT], "0", "present empty boolean -> 0");
	CHECK_STR(sh.f[SH_COUNTRY], "", "absent column is empty");
	CHECK(sh.present & (1u << SH_OPTED_OUT), "present bit of a column in the header");
	CHECK(!(sh.present & (1u << SH_COUNTRY)), "no present bit for an absent column");
	CHECK(stakeholder_flag(&sh, SH_CONSENT_PERSONAL) && !stakeholder_flag(&sh, SH_OPTED_OUT), "flags");
	CHECK(sh.ncustom == 2, "two custom columns");
	if (sh.ncustom == 2) {
		CHECK_STR(sh.custom[0].key, "Favourite Colour", "custom key as written");
		CHECK_STR(sh.custom[0].value, "teal\twith tab", "tab allowed in a custom column");
		CHECK_STR(sh.custom[1].key, "renewal2", "custom columns in header order");
	}
	CHECK_STR(stakeholder_get(&sh, "renewal2"), "2027-01-31", "get custom");
	CHECK_STR(stakeholder_get(&sh, "city"), "", "get absent standard");
	CHECK(stakeholder_get(&sh, "nope") == NULL, "get unknown column");
	name = stakeholder_display_name(&sh);
	CHECK_STR(name, "Ann Lee", "display name");
	free(name);

	/* the struct may be reused: the next call clears it */
	char *hdr2[] = {"id", "first_name", "birthday", "consent_personal"};
	char *vals2[] = {"b", "Bo", "12-25", "TRUE"};
	CHECK(row_sh(hdr2, vals2, N(hdr2), &sh) == 0, "second row into the same struct");
	CHECK_STR(sh.f[SH_BIRTHDAY], "--12-25", "MM-DD birthday normalised");
	CHECK_STR(sh.f[SH_CONSENT_PERSONAL], "1", "TRUE -> 1");
	CHECK_STR(sh.f[SH_OPTED_OUT], "", "absent boolean is empty");
	CHECK(sh.ncustom == 0, "no custom columns");
	name = stakeholder_display_name(&sh);
	CHECK_STR(name, "Bo", "display name without last name");
	free(name);
	stakeholder_clear(&sh);
	stakeholder_clear(&sh);
	stakeholder_clear(NULL);
	stakeholders_free(NULL, 0);
}

static void test_values(void)
{
	char v[64];
	static const struct {
		const char *col, *value, *want_err;   /* want_err "" when valid */
	} cases[] = {
		{"type", "employee", ""},
		{"type", "", ""},
		{"type", "vendor", "column type: \"vendor\" is not customer, employee, partner, supplier or other"},
		{"preferred_channel", "Card", ""},
		{"preferred_channel", "fax", "column preferred_channel: \"fax\" is not card or email"},
		{"email", "bad@", "column email: \"bad@\" is not an e-mail address"},
		{"email", "a b@example.com", "column email: \"a b@example.com\" is not an e-mail address"},
		{"owner_email", "boss@example.com", ""},
		{"owner_email", "boss", "column owner_email: \"boss\" is not an e-mail address"},
		{"timezone", "Mars/Olympus", "column timezone: \"Mars/Olympus\" is not a time zone (e.g. Europe/Berlin)"},
		{"timezone", "", ""},
		{"birthday", "1980-02-30", "column birthday: \"1980-02-30\" is not a date (YYYY-MM-DD, or --MM-DD without a year)"},
		{"birthday", "--13-01", "column birthday: \"--13-01\" is not a date (YYYY-MM-DD, or --MM-DD without a year)"},
		{"birthday", "1980-1-2", "column birthday: \"1980-1-2\" is not a date (YYYY-MM-DD, or --MM-DD without a year)"},
		{"birthday", "-02-29", "column birthday: \"-02-29\" is not a date (YYYY-MM-DD, or --MM-DD without a year)"},
		{"hire_date", "2021-02-29", "column hire_date: \"2021-02-29\" is not a date (YYYY-MM-DD)"},
		{"customer_since", "--01-01", "column customer_since: \"--01-01\" is not a date (YYYY-MM-DD)"},
		{"contract_renewal", "2027-12-31 ", ""},
		{"contract_renewal", "31/12/2027", "column contract_renewal: \"31/12/2027\" is not a date (YYYY-MM-DD)"},
		{"consent_personal", "maybe", "column consent_personal: \"maybe\" is not yes, no, true, false, 1 or 0"},
		{"opted_out", "No", ""},
		{"last_name", "O\rBrien", "column last_name: holds a control character (U+000D)"},
		{"street", "1 Main St\nApt 2", ""},
		{"street", "1 Main St\rApt 2", "column street: holds a control character (U+000D)"},
		{"street", "1 Main St\tApt 2", "column street: holds a control character (U+0009)"},
		{"city", "Spring\tfield", "column city: holds a control character (U+0009)"},
		{"city", "Spring\x7f", "column city: holds a control character (U+007F)"},
		{"city", "Spring\xc2\x85", "column city: holds a control character (U+0085)"},
		{"city", "M\xc3\xbcnchen", ""},
		{"city", "M\xfcnchen", "column city: not valid UTF-8"},
		{"city", "\xed\xa0\x80", "column city: not valid UTF-8"},
		{"notes", "line1\nline2", "column notes: holds a control character (U+000A)"},
		{"notes", "\x01", "column notes: holds a control character (U+0001)"},
		{"notes", "\xc0\xaf", "column notes: not valid UTF-8"},
	};
	for (size_t i = 0; i < N(cases); i++)
		CHECK_STR(one_field(cases[i].col, cases[i].value, NULL, 0), cases[i].want_err,
		          "value case %zu (column %s)", i, cases[i].col);

	CHECK_STR(one_field("opted_out", "No", v, sizeof v), "", "No accepted");
	CHECK_STR(v, "0", "No -> 0");
	CHECK_STR(one_field("opted_out", "1", v, sizeof v), "", "1 accepted");
	CHECK_STR(v, "1", "1 -> 1");
	CHECK_STR(one_field("contract_renewal", " 2027-12-31 ", v, sizeof v), "", "date with spaces");
	CHECK_STR(v, "2027-12-31", "date trimmed");
	CHECK_STR(one_field("street", "1 Main St\r\nApt 2\r\n", v, sizeof v), "", "street of two lines");
	CHECK_STR(v, "1 Main St\nApt 2", "street: CRLF -> LF, trimmed");
	CHECK_STR(one_field("type", " PARTNER", v, sizeof v), "", "type upper");
	CHECK_STR(v, "partner", "type stored lower");

	/* sizes: 4096 bytes in a standard column is fine, one more is not; custom columns are longer */
	char *big = xmalloc(8200);
	memset(big, 'a', 4097);
	big[4097] = '\0';
	CHECK_STR(one_field("organization", big, NULL, 0), "column organization: longer than 4096 bytes",
	          "4097 bytes in a standard column");
	big[4096] = '\0';
	CHECK_STR(one_field("organization", big, NULL, 0), "", "4096 bytes in a standard column");
	memset(big, 'b', 8199);
	big[8199] = '\0';
	CHECK_STR(one_field("biography", big, NULL, 0), "", "8 KB in a custom column");
	free(big);
}

static void test_row_errors(void)
{
	struct stakeholder sh = {0};
	char *hdr[] = {"id", "first_name", "x"};
	char *ok[] = {"s1", "Ann", "1"};
	char *noid[] = {"", "Ann", "1"};
	char *badid[] = {"a b", "Ann", "1"};
	char *noname[] = {"s1", "  ", "1"};
	char longid[70];
	memset(longid, 'i', 65);
	longid[65] = '\0';
	char *lid[] = {longid, "Ann", "1"};

	CHECK(row_sh(hdr, noid, 3, &sh) == -1, "empty id");
	CHECK_STR(err, "column id: missing", "empty id message");
	CHECK(row_sh(hdr, badid, 3, &sh) == -1, "id with a space");
	CHECK_STR(err, "column id: \"a b\" is not an id (1 to 64 of A-Z a-z 0-9 . _ @ -)", "bad id message");
	CHECK(row_sh(hdr, lid, 3, &sh) == -1, "id of 65 bytes");
	longid[64] = '\0';
	CHECK(row_sh(hdr, lid, 3, &sh) == 0, "id of 64 bytes");
	CHECK(row_sh(hdr, noname, 3, &sh) == -1, "blank first_name");
	CHECK_STR(err, "column first_name: missing", "blank first_name message");
	CHECK(sh.f[SH_ID] == NULL && sh.ncustom == 0, "sh cleared on error");
	CHECK(model_stakeholder_from_row(hdr, 3, ok, NULL, 2, &sh, err) == -1, "too few fields");
	CHECK_STR(err, "2 fields where the header has 3", "field count message");
	CHECK(model_stakeholder_from_row(hdr, 2, ok, NULL, 3, &sh, err) == -1, "too many fields");

	/* a NUL inside a field: the lengths tell */
	char nulval[] = "A\0n";
	char *nv[] = {"s1", nulval, "1"};
	size_t lens[] = {2, 3, 1};
	CHECK(model_stakeholder_from_row(hdr, 3, nv, lens, 3, &sh, err) == -1, "NUL in a field");
	CHECK_STR(err, "column first_name: holds a NUL byte", "NUL message");
	lens[1] = 1;
	CHECK(model_stakeholder_from_row(hdr, 3, nv, lens, 3, &sh, err) == 0, "lengths given");

	char *hdr_noid[] = {"first_name", "x"};
	CHECK(row_sh(hdr_noid, ok, 2, &sh) == -1, "row without an id column");
	CHECK_STR(err, "column id: missing", "missing id column message");
	char *hdr_dup[] = {"id", "first_name", "id"};
	CHECK(row_sh(hdr_dup, ok, 3, &sh) == -1, "duplicate standard column in a row");
	CHECK_STR(err, "column id: duplicate column", "duplicate message");
	stakeholder_clear(&sh);
}

static void test_header(void)
{
	char *good[] = {"id", "first_name", "Region Code", "email"};
	char *dup[] = {"id", "first_name", "x", " x"};
	char *empty[] = {"id", "first_name", " "};
	char *upper[] = {"id", "First_Name"};
	char *noid[] = {"first_name", "email"};
	char *noname[] = {"id", "email"};
	char *ctl[] = {"id", "first_name", "a\tb"};
	char *bad8[] = {"id", "first_name", "\xff"};
	char *ev[] = {"stakeholder_id", "kind", "date", "title", "details"};
	char *ev_min[] = {"date", "kind", "stakeholder_id"};
	char *ev_unknown[] = {"stakeholder_id", "kind", "date", "notes"};
	char *ev_nodate[] = {"stakeholder_id", "kind"};
	char longname[200];
	memset(longname, 'c', 129);
	longname[129] = '\0';
	char *lname[] = {"id", "first_name", longname};

	CHECK(model_check_header(good, N(good), 0, err) == 0, "good header");
	CHECK(model_check_header(dup, N(dup), 0, err) == -1, "duplicate after trimming");
	CHECK_STR(err, "column x: duplicate column", "duplicate message");
	CHECK(model_check_header(empty, N(empty), 0, err) == -1, "empty name");
	CHECK_STR(err, "column 3: empty column name", "empty name message");
	CHECK(model_check_header(upper, N(upper), 0, err) == -1, "case variant of a standard name");
	CHECK_STR(err, "column First_Name: column names are lower case (first_name)", "case message");
	CHECK(model_check_header(noid, N(noid), 0, err) == -1, "no id");
	CHECK_STR(err, "column id: missing", "no id message");
	CHECK(model_check_header(noname, N(noname), 0, err) == -1, "no first_name");
	CHECK_STR(err, "column first_name: missing", "no first_name message");
	CHECK(model_check_header(ctl, N(ctl), 0, err) == -1, "control character in a name");
	CHECK(model_check_header(bad8, N(bad8), 0, err) == -1, "invalid UTF-8 in a name");
	CHECK(model_check_header(lname, N(lname), 0, err) == -1, "129-byte name");
	longname[128] = '\0';
	CHECK(model_check_header(lname, N(lname), 0, err) == 0, "128-byte name");
	CHECK(model_check_header(ev, N(ev), 1, err) == 0, "events header");
	CHECK(model_check_header(ev_min, N(ev_min), 1, err) == 0, "events header, any order, no optional");
	CHECK(model_check_header(ev_unknown, N(ev_unknown), 1, err) == -1, "unknown events column");
	CHECK_STR(err, "column notes: unknown column (event columns: stakeholder_id, kind, date, title, details)",
	          "unknown events column message");
	CHECK(model_check_header(ev_nodate, N(ev_nodate), 1, err) == -1, "events without date");
	CHECK_STR(err, "column date: missing", "events without date message");
	CHECK(model_check_header(good, N(good), 1, err) == -1, "stakeholder header as events");
}

static int row_ev(char *const *hdr, char *const *vals, size_t n, struct event *ev)
{
	err[0] = '\0';
	return model_event_from_row(hdr, n, vals, NULL, n, ev, err);
}

static void test_events(void)
{
	char *hdr[] = {"stakeholder_id", "kind", "date", "title", "details"};
	char *ok[] = {"s1", " Promotion ", "2026-03-01", "Head of Sales", "Line 1\r\nLine 2\n\tindented"};
	char *ok2[] = {"s2", "go-live_2", "2026-03-02", "", ""};
	char *nosid[] = {"", "promotion", "2026-03-01", "", ""};
	char *badsid[] = {"s 1", "promotion", "2026-03-01", "", ""};
	char *nokind[] = {"s1", "", "2026-03-01", "", ""};
	char *badkind[] = {"s1", "pro motion", "2026-03-01", "", ""};
	char *nodate[] = {"s1", "promotion", "", "", ""};
	char *baddate[] = {"s1", "promotion", "2026-02-29", "", ""};
	char *badtitle[] = {"s1", "promotion", "2026-03-01", "a\nb", ""};
	char *crdetails[] = {"s1", "promotion", "2026-03-01", "", "a\rb"};
	char *ctldetails[] = {"s1", "promotion", "2026-03-01", "", "a\x1b[31m"};
	struct event ev = {0};

	CHECK(row_ev(hdr, ok, 5, &ev) == 0, "event accepted (%s)", err);
	CHECK_STR(ev.kind, "promotion", "kind trimmed and lower-cased");
	CHECK_STR(ev.date, "2026-03-01", "event date");
	CHECK_STR(ev.title, "Head of Sales", "title");
	CHECK_STR(ev.details, "Line 1\nLine 2\n\tindented", "details keep LF and tab, CRLF -> LF");
	CHECK(row_ev(hdr, ok2, 5, &ev) == 0, "event with - and _ in kind (%s)", err);
	CHECK_STR(ev.details, "", "empty details");

	char *hdr3[] = {"kind", "stakeholder_id", "date"};
	char *v3[] = {"x", "s1", "2026-01-01"};
	CHECK(row_ev(hdr3, v3, 3, &ev) == 0, "event without optional columns");
	CHECK(ev.title && ev.details && !*ev.title, "absent title is empty");
	event_clear(&ev);

	CHECK(row_ev(hdr, nosid, 5, &ev) == -1, "no stakeholder_id");
	CHECK_STR(err, "column stakeholder_id: missing", "no stakeholder_id message");
	CHECK(row_ev(hdr, badsid, 5, &ev) == -1, "bad stakeholder_id");
	CHECK(row_ev(hdr, nokind, 5, &ev) == -1, "no kind");
	CHECK_STR(err, "column kind: missing", "no kind message");
	CHECK(row_ev(hdr, badkind, 5, &ev) == -1, "bad kind");
	CHECK_STR(err, "column kind: \"pro motion\" is not a kind (1 to 64 of a-z 0-9 _ -)", "bad kind message");
	CHECK(row_ev(hdr, nodate, 5, &ev) == -1, "no date");
	CHECK_STR(err, "column date: missing", "no date message");
	CHECK(row_ev(hdr, baddate, 5, &ev) == -1, "bad date");
	CHECK_STR(err, "column date: \"2026-02-29\" is not a date (YYYY-MM-DD)", "bad date message");
	CHECK(row_ev(hdr, badtitle, 5, &ev) == -1, "newline in a title");
	CHECK_STR(err, "column title: holds a control character (U+000A)", "title message");
	CHECK(row_ev(hdr, crdetails, 5, &ev) == -1, "bare CR in details");
	CHECK_STR(err, "column details: holds a control character (U+000D)", "bare CR message");
	CHECK(row_ev(hdr, ctldetails, 5, &ev) == -1, "escape in details");
	CHECK_STR(err, "column details: holds a control character (U+001B)", "escape message");
	CHECK(model_event_from_row(hdr, 5, ok, NULL, 4, &ev, err) == -1, "event field count");
	char *hdr_unknown[] = {"stakeholder_id", "kind", "date", "note"};
	char *v4[] = {"s1", "x", "2026-01-01", "n"};
	CHECK(row_ev(hdr_unknown, v4, 4, &ev) == -1, "unknown events column in a row");
	CHECK(ev.kind == NULL, "event cleared on error");

	char *big = xmalloc(70000);
	memset(big, 'd', 65537);
	big[65537] = '\0';
	char *vbig[] = {"s1", "x", "2026-01-01", "", big};
	CHECK(row_ev(hdr, vbig, 5, &ev) == -1, "details over 64 KB");
	big[65536] = '\0';
	CHECK(row_ev(hdr, vbig, 5, &ev) == 0, "details of 64 KB");
	free(big);
	event_clear(&ev);
	events_free(NULL, 0);
}

static void test_dispatch_rec(void)
{
	struct dispatch_rec *v = xcalloc(2, sizeof *v);
	v[0].rule = xstrdup("birthday");
	v[0].error = xstrdup("x");
	v[1].signer = xstrdup("Dana");
	dispatch_rec_clear(&v[0]);
	CHECK(v[0].rule == NULL && v[0].id == 0, "dispatch_rec_clear zeroes");
	dispatch_recs_free(v, 2);
	dispatch_rec_clear(NULL);
	CHECK(1, "dispatch records freed");
}

/* Name order (CONTRACT section 5): display_name as written, family first for CJK and hu/vi. */
static void test_name_order(void)
{
	static const struct {
		const char *first, *last, *country, *display, *full, *greet;
	} c[] = {
		{"Ann", "Lee", "", "", "Ann Lee", "Ann"},
		{"伟", "王", "China", "", "王伟", "王伟"},
		{"花子", "田中", "Japan", "", "田中花子", "田中花子"},
		{"ハナコ", "タナカ", "", "", "タナカハナコ", "タナカハナコ"},
		{"민준", "김", "South Korea", "", "김민준", "김민준"},
		{"Péter", "Nagy", "Hungary", "", "Nagy Péter", "Péter"},
		{"An", "Nguyễn Văn", "Viet Nam", "", "Nguyễn Văn An", "An"},
		{"Taro", "Yamada", "Japan", "", "Taro Yamada", "Taro"},
		{"محمد", "الأحمد", "Egypt", "", "محمد الأحمد", "محمد"},
		{"Wei", "Wang", "China", "WANG Wei", "WANG Wei", "Wei"},
		{"花子", "", "", "", "花子", "花子"},
	};
	char *hdr[] = {"id", "first_name", "last_name", "country", "display_name"};
	for (size_t i = 0; i < N(c); i++) {
		char *vals[] = {"x1", (char *)c[i].first, (char *)c[i].last, (char *)c[i].country, (char *)c[i].display};
		struct stakeholder sh = {0};
		char *full, *greet;
		if (row_sh(hdr, vals, N(hdr), &sh) != 0) {
			CHECK(0, "name row %zu: %s", i, err);
			continue;
		}
		full = stakeholder_display_name(&sh);
		greet = stakeholder_greeting_name(&sh);
		CHECK_STR(full, c[i].full, "full_name of %s / %s (%s)", c[i].first, c[i].last, c[i].country);
		CHECK_STR(greet, c[i].greet, "greeting_name of %s / %s", c[i].first, c[i].last);
		free(full);
		free(greet);
		stakeholder_clear(&sh);
	}
}

int main(void)
{
	test_name_order();
	test_tables();
	test_full_row();
	test_values();
	test_row_errors();
	test_header();
	test_events();
	test_dispatch_rec();
	return check_done();
}
