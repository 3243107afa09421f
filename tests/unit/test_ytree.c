/*
 * Unit tests of src/ytree.c's typed getters: what each returns for a good value, an absent
 * key (1, the default left standing) and a wrong one (-1, one message at FILE:LINE:COL).
 */
#include "occasiond/ytree.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "occasiond/dates.h"

static const char doc[] =
	"n: 42\n"                 /* 1 */
	"big: 4200\n"
	"x: 2.5\n"
	"hex: 0x10\n"
	"yes: yes\n"              /* 5 */
	"maybe: maybe\n"
	"money: 3.50\n"
	"neg: -1\n"
	"dur: 2 business days\n"
	"secs: 5m\n"              /* 10 */
	"months: 3 months\n"
	"tls: STARTTLS\n"
	"tsl: starttsl\n"
	"far: pigeon\n"
	"list: [a, B]\n"          /* 15 */
	"one: b\n"
	"empty: []\n"
	"bad: [a, c, x]\n"
	"map: {k: v}\n"
	"tab: \"a\\tb\"\n"        /* 20 */
	"lines: \"a\\nb\"\n"
	"esc: \"a\\eb\"\n";

static struct diags d;

/* last: the last message, or "" */
static const char *last(void)
{
	return d.n ? d.msgs[d.n - 1] : "";
}

static void want_msg(const char *what, const char *want)
{
	CHECK(strstr(last(), want) != NULL, "%s", what);
	if (!strstr(last(), want))
		printf("#   got:  %s\n#   want: %s\n", last(), want);
}

int main(void)
{
	struct ynode *root = NULL;
	char err[ERR_LEN];
	static const char *const tls[] = {"starttls", "implicit", "none"};
	static const char *const abc[] = {"a", "b", "c"};
	long l = 7;
	double x = 0;
	int b = -1, e = -1;
	int64_t cents = 0, secs = 0;
	struct duration du = {0, DUR_SECONDS};
	char **v = NULL;
	size_t nv = 0;
	char *s;

	if (ytree_load_mem("t.yaml", doc, sizeof doc - 1, &root, err) != 0) {
		printf("not ok - load: %s\n", err);
		return 1;
	}
	CHECK(ytree_long(ytree_get(root, "n"), "n", 0, 100, &l, &d) == 0 && l == 42, "long: 42");
	CHECK(ytree_long(ytree_get(root, "none"), "none", 0, 100, &l, &d) == 1 && l == 42, "long: absent is 1, default stands");
	CHECK(ytree_long(ytree_get(root, "big"), "big", 0, 100, &l, &d) == -1 && l == 42, "long: out of range is -1");
	want_msg("long: the message", "t.yaml:2:6: error: big: expected a whole number from 0 to 100, got '4200'");
	CHECK(ytree_number(ytree_get(root, "x"), "x", 0, 10, &x, &d) == 0 && x == 2.5, "number: 2.5");
	CHECK(ytree_number(ytree_get(root, "hex"), "hex (pt)", 0, 100, &x, &d) == -1 && x == 2.5, "number: 0x10 refused");
	want_msg("number: the message", "t.yaml:4:6: error: hex (pt): expected a number from 0 to 100, got '0x10'");
	CHECK(ytree_bool(ytree_get(root, "yes"), "yes", &b, &d) == 0 && b == 1, "bool: yes");
	CHECK(ytree_bool(ytree_get(root, "maybe"), "maybe", &b, &d) == -1 && b == 1, "bool: maybe refused");
	want_msg("bool: the message", "t.yaml:6:8: error: maybe: expected yes/no or true/false, got 'maybe'");
	CHECK(ytree_money(ytree_get(root, "money"), "money", &cents, &d) == 0 && cents == 350, "money: 3.50");
	CHECK(ytree_money(ytree_get(root, "neg"), "neg", &cents, &d) == -1 && cents == 350, "money: negative refused");
	want_msg("money: the message", "t.yaml:8:6: error: neg: expected an amount such as 3.50, got '-1'");
	CHECK(ytree_duration(ytree_get(root, "dur"), "dur", &du, &d) == 0 && du.n == 2 && du.unit == DUR_BUSINESS_DAYS,
	      "duration: business days");
	CHECK(ytree_seconds(ytree_get(root, "secs"), "secs", &secs, &du, &d) == 0 && secs == 300 && du.unit == DUR_MINUTES,
	      "seconds: 5m");
	CHECK(ytree_seconds(ytree_get(root, "months"), "months", &secs, NULL, &d) == -1 && secs == 300,
	      "seconds: months have no fixed length");
	want_msg("seconds: the message", "t.yaml:11:9: error: months: must be in seconds, minutes, hours, days or weeks");
	CHECK(ytree_enum(ytree_get(root, "tls"), "tls", tls, 3, NULL, &e, &d) == 0 && e == 0, "enum: case ignored");
	CHECK(ytree_enum(ytree_get(root, "tsl"), "tls", tls, 3, NULL, &e, &d) == -1 && e == 0, "enum: a misspelling refused");
	want_msg("enum: the nearest name suggested",
	         "t.yaml:13:6: error: tls: expected starttls, implicit or none, got 'starttsl' (did you mean 'starttls'?)");
	CHECK(ytree_enum(ytree_get(root, "far"), "far", tls, 3, "a way to send", &e, &d) == -1, "enum: far from any");
	CHECK(strcmp(last(), "t.yaml:14:6: error: far: expected a way to send, got 'pigeon'") == 0,
	      "enum: no suggestion when nothing is near, the phrase replaces the list");
	CHECK(ytree_strlist(ytree_get(root, "list"), "list", abc, 3, &v, &nv, &d) == 0 && nv == 2 && strcmp(v[1], "b") == 0,
	      "strlist: a list, stored as the table spells it");
	CHECK(ytree_strlist(ytree_get(root, "one"), "one", NULL, 0, &v, &nv, &d) == 0 && nv == 3 && strcmp(v[2], "b") == 0,
	      "strlist: a single value appends one");
	CHECK(ytree_strlist(ytree_get(root, "empty"), "empty", NULL, 0, &v, &nv, &d) == -1 && nv == 3, "strlist: empty refused");
	want_msg("strlist: empty message", "t.yaml:17:8: error: empty: the list is empty");
	CHECK(ytree_strlist(ytree_get(root, "bad"), "bad", abc, 3, &v, &nv, &d) == -1 && nv == 5,
	      "strlist: a bad item is refused, the good ones kept");
	want_msg("strlist: the bad item's message", "t.yaml:18:13: error: bad: expected a, b or c, got 'x'");
	for (size_t i = 0; i < nv; i++)
		free(v[i]);
	free(v);
	CHECK(ytree_scalar(ytree_get(root, "map"), "map", &d) == NULL, "scalar: a mapping refused");
	want_msg("scalar: the message", "t.yaml:19:6: error: map must be a single value, not a mapping");
	CHECK(ytree_scalar(ytree_get(root, "tab"), "tab", &d) == NULL, "scalar: a tab refused");
	want_msg("scalar: the control character named", "t.yaml:20:6: error: tab holds a control character (U+0009)");
	CHECK(ytree_text(ytree_get(root, "lines"), "lines", &d) != NULL, "text: lines allowed");
	CHECK(ytree_text(ytree_get(root, "esc"), "esc", &d) == NULL, "text: other control characters refused");
	want_msg("text: the message", "t.yaml:22:6: error: esc holds a control character (U+001B)");
	s = ytree_strdup(ytree_get(root, "none"), "none", "dflt", &d);
	CHECK(s && strcmp(s, "dflt") == 0, "strdup: the default when absent");
	free(s);
	CHECK(ytree_strdup(ytree_get(root, "none"), "none", NULL, &d) == NULL, "strdup: NULL when absent without a default");
	CHECK(ytree_map(ytree_get(root, "n"), "n", NULL, &d) == NULL, "map: a value refused");
	want_msg("map: the message", "t.yaml:1:4: error: n must be a mapping, not a single value");
	CHECK(d.nerrors == 13, "one message per mistake (%zu)", d.nerrors);
	ytree_free(root);
	diags_free(&d);
	return check_done();
}
