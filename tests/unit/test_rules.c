/*
 * Unit tests of src/rules.c: what the occasions file means once parsed, and each mistake
 * `check` must report, at its FILE:LINE:COL.
 */
#include "occasiond/rules.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static char tmpdir[] = "/tmp/occ-rules-XXXXXX";

static struct ruleset *rules_text(const char *yaml, struct diags *d)
{
	char path[300], err[ERR_LEN];
	snprintf(path, sizeof path, "%s/rules.yaml", tmpdir);
	if (util_write_atomic(path, yaml, strlen(yaml), err) != 0)
		printf("# %s\n", err);
	return rules_load(path, d);
}

/* ---- check: rules problems reported with FILE:LINE:COL ---- */

static void expect_diag(const char *what, const char *yaml, const char *want)
{
	struct diags d = {0};
	struct ruleset *rs = rules_text(yaml, &d);
	struct strbuf all = {0};
	for (size_t i = 0; i < d.n; i++)
		sb_addf(&all, "%s\n", d.msgs[i]);
	CHECK(all.s && strstr(all.s, want) != NULL, "check: %s", what);
	if (!all.s || !strstr(all.s, want))
		printf("#   want: %s\n#   got:  %s\n", want, all.s ? all.s : "(nothing)");
	rules_free(rs);
	diags_free(&d);
	sb_free(&all);
}

static void rules_check(void)
{
	expect_diag("unknown key with the nearest valid one",
	            "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: email, priorty: 3}\n",
	            ":2:52: error: unknown key 'priorty' in an occasion (did you mean 'priority'?)");
	expect_diag("wrong type", "occasions:\n  - {id: a, when: {date: [1]}, channel: email}\n",
	            ":2:26: error: date must be a single value, not a list");
	expect_diag("bad weekday",
	            "occasions:\n  - {id: a, when: {nth_weekday: {n: 1, weekday: thurzday, month: 11}}, channel: email}\n",
	            ":2:49: error: weekday: expected monday to sunday, got 'thurzday' (did you mean 'thursday'?)");
	expect_diag("bad month", "occasions:\n  - {id: a, when: {nth_weekday: {n: 1, weekday: monday, month: 13}}, channel: email}\n",
	            "error: month: expected 1-12 or a month's name, got '13'");
	expect_diag("a weekend day near a weekday's name", "calendar:\n  weekend: [saturday, sundy]\noccasions: []\n",
	            ":2:23: error: weekend: expected monday to sunday, got 'sundy' (did you mean 'sunday'?)");
	expect_diag("a month near a month's name",
	            "occasions:\n  - {id: a, when: {nth_weekday: {n: 1, weekday: monday, month: Septmber}}, channel: email}\n",
	            "error: month: expected 1-12 or a month's name, got 'Septmber' (did you mean 'September'?)");
	expect_diag("a channel near a channel's name", "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: emial}\n",
	            ":2:45: error: channel: expected card, email or preferred, got 'emial' (did you mean 'email'?)");
	expect_diag("fallback may not be preferred",
	            "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: card, fallback: preferred}\n",
	            "error: fallback: expected card or email, got 'preferred'");
	expect_diag("a period near a period's name", "occasions:\n  - {id: a, when: {surprise: {per: wek}}, channel: email}\n",
	            "error: per: expected week or month, got 'wek' (did you mean 'week'?)");
	expect_diag("a budget period near one", "limits:\n  budget: {amount: 10, per: quartr}\noccasions: []\n",
	            "error: per: expected month, quarter or year, got 'quartr' (did you mean 'quarter'?)");
	expect_diag("a stakeholder type near one",
	            "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: email, audience: {type: [customer, suplier]}}\n",
	            "error: type: expected customer, employee, partner, supplier or other, got 'suplier' (did you mean 'supplier'?)");
	expect_diag("nothing near: no suggestion", "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: pigeon}\n",
	            "error: channel: expected card, email or preferred, got 'pigeon'\n");
	expect_diag("yes/no", "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: email, personal: maybe}\n",
	            "error: personal: expected yes/no or true/false, got 'maybe'");
	expect_diag("a control character", "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: email, signer: \"A\\tB\"}\n",
	            "error: signer holds a control character (U+0009)");
	expect_diag("duplicate id", "occasions:\n  - {id: a, when: {date: \"01-01\"}, channel: email}\n"
	            "  - {id: a, when: {date: \"01-02\"}, channel: email}\n",
	            ":3:10: error: duplicate occasion id 'a' (first at ");
	expect_diag("two when kinds", "occasions:\n  - {id: a, when: {date: \"01-01\", every: 3 months}, channel: email}\n",
	            "error: when holds two kinds ('date' and 'every'); a rule has exactly one");
	expect_diag("years: [0]", "occasions:\n  - {id: a, when: {anniversary_of: hire_date, years: [0]}, channel: email}\n",
	            "error: years: 0 never fires");
	expect_diag("surprise per", "occasions:\n  - {id: a, when: {surprise: {count: 2, per: year}}, channel: email}\n",
	            "error: per: expected week or month, got 'year'");
	expect_diag("n out of range", "occasions:\n  - {id: a, when: {nth_weekday: {n: 0, weekday: monday, month: 1}}, channel: email}\n",
	            "error: n: 1 to 5, or -1 for the last");
	expect_diag("budget per", "limits:\n  budget: {amount: 10, per: decade}\noccasions: []\n",
	            ":2:29: error: per: expected month, quarter or year, got 'decade'");
	expect_diag("bad holiday", "calendar:\n  holidays: [\"13-01\"]\noccasions: []\n",
	            "error: holidays: '13-01' is not MM-DD, YYYY-MM-DD or easter±N");
}

static void parsed(void)
{
	struct diags d = {0};
	struct ruleset *rs = rules_text(
		"calendar:\n  weekend: [friday, saturday]\n  holidays: [\"12-25\", \"2027-04-02\", \"easter-2\", \"easter+1\"]\n"
		"limits:\n  per_stakeholder: {max: 2, within: 30 days}\n  budget: {amount: 5000.00, per: quarter}\n"
		"occasions:\n"
		"  - {id: s, when: {surprise: {count: 3, per: month}}, channel: email, priority: 7, cost: 1.25}\n"
		"  - {id: n, when: {nth_weekday: {n: -1, weekday: friday, month: july}}, channel: card, fallback: email}\n"
		"  - id: a\n    when: {anniversary_of: certified_on, every_years: 5}\n    channel: preferred\n"
		"    variants:\n      - {years: [10, 20], tier: gold, template: big, cost: 9.00, signer: CEO}\n"
		"  - {id: e, when: {every: 3 months, from: hire_date}, channel: email, lead: 2 business days}\n",
		&d);
	diags_print(&d, stdout);
	CHECK(rs != NULL, "a rules file with every part loads");
	if (rs) {
		const struct rule *s = rules_find(rs, "s"), *n = rules_find(rs, "n"), *a = rules_find(rs, "a"),
		                  *e = rules_find(rs, "e");
		CHECK(rs->cal.weekend == ((1u << 5) | (1u << 6)), "weekend: Friday and Saturday");
		CHECK(rs->cal.nholidays == 4 && rs->cal.holidays[2].kind == HOL_EASTER && rs->cal.holidays[2].offset == -2,
		      "holidays: yearly, once and Easter-relative");
		CHECK(rs->has_per_stakeholder && rs->per_stakeholder_max == 2 && rs->per_stakeholder_within.n == 30,
		      "per_stakeholder parsed");
		CHECK(rs->has_budget && rs->budget_cents == 500000 && rs->budget_per == PER_QUARTER, "budget parsed");
		CHECK(s && s->when == WHEN_SURPRISE && s->surprise_count == 3 && s->surprise_per == PER_MONTH &&
		      s->priority == 7 && s->cost_cents == 125, "surprise, priority and cost parsed");
		CHECK(n && n->nth == -1 && n->weekday == 5 && n->month == 7 && n->fallback == CH_EMAIL,
		      "nth_weekday n: -1 with month and weekday names");
		CHECK(a && a->every_years == 5 && strcmp(a->field, "certified_on") == 0 && a->field_line == 11 &&
		      a->nvariants == 1 && a->variants[0].nyears == 2 && a->variants[0].cost_cents == 900 &&
		      strcmp(a->variants[0].signer, "CEO") == 0, "anniversary_of a custom column, variants");
		CHECK(e && e->when == WHEN_EVERY && strcmp(e->field, "hire_date") == 0 && e->period.unit == DUR_MONTHS &&
		      e->has_lead && e->lead.unit == DUR_BUSINESS_DAYS, "every with from, lead in business days");
		CHECK(strcmp(e->template_name, "e") == 0, "template defaults to the id");
	}
	rules_free(rs);
	diags_free(&d);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("not ok - mkdtemp\n");
		return 1;
	}
	parsed();
	rules_check();
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return check_done();
}
