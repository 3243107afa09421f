/*
 * The streamed plan (`plan`: store_scan + plan_stream + report_plan_rows) prints exactly what
 * the loaded plan (everything loaded, planner_range, report_plan) prints, in every format:
 * on the shipped examples with the shipped rules, and on 5,000 generated stakeholders (ids
 * stored out of order, custom columns, events, a dispatch history with every status, records
 * of deleted stakeholders) with rules of every kind, variants, and limits tight enough to
 * skip. Run from the repository root.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "occasiond/config.h"
#include "occasiond/import.h"
#include "occasiond/planner.h"
#include "occasiond/report.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

static char tmpdir[] = "/tmp/occ-planstream-XXXXXX";

static const char gen_rules[] =
	"calendar:\n  weekend: [saturday, sunday]\n  holidays: [\"12-25\", \"12-26\", \"01-01\", \"easter-2\", \"easter+1\"]\n"
	"limits:\n  per_stakeholder: {max: 2, within: 20 days}\n  budget: {amount: 600.00, per: month}\n"
	"occasions:\n"
	"  - {id: birthday, when: {anniversary_of: birthday}, lead: 10 days, channel: preferred, template: birthday,"
	" cost: 3.50, priority: 50, personal: true,\n"
	"     variants: [{tier: platinum, template: birthday-vip, cost: 9.00, signer: The CEO}]}\n"
	"  - {id: work, when: {anniversary_of: hire_date, years: [1, 5, 10, 20]}, channel: card, template: work,"
	" cost: 3.50, fallback: email,\n"
	"     variants: [{years: [10, 20], template: work-big, channel: card, cost: 25.00}]}\n"
	"  - {id: partner, when: {anniversary_of: customer_since, every_years: 5}, channel: email, template: partner}\n"
	"  - {id: start, when: {anniversary_of: contract_start}, lead: 3 business days, channel: card, template: start,"
	" cost: 2.00}\n"
	"  - {id: renewal, when: {anniversary_of: contract_renewal}, lead: 2 weeks, channel: email, template: renewal,"
	" signer: Renewals Desk}\n"
	"  - {id: holiday, when: {date: \"12-24\"}, lead: 3 weeks, channel: preferred, template: holiday, cost: 1.00,"
	" audience: {tier: gold}}\n"
	"  - {id: launch, when: {date: \"2026-12-02\"}, channel: email, template: launch, audience: {type: partner}}\n"
	"  - {id: thanks, when: {nth_weekday: {n: 4, weekday: thursday, month: 11}}, channel: email, template: thanks,"
	" audience: {type: customer, min_tenure: 2 years}}\n"
	"  - {id: lastfri, when: {nth_weekday: {n: -1, weekday: friday, month: 12}}, channel: card, template: year-end,"
	" cost: 1.50, priority: 10}\n"
	"  - {id: quarterly, when: {every: 3 months, from: customer_since}, channel: email, template: q,"
	" audience: {tier: [gold, platinum]}}\n"
	"  - {id: fortnight, when: {every: 2 weeks, from: contract_start}, channel: email, template: f}\n"
	"  - {id: reach-out, when: {no_contact_for: 8 weeks}, channel: email, template: r}\n"
	"  - {id: promo, when: {event: promotion}, channel: card, template: promotion, cost: 4.00}\n"
	"  - {id: surprise-w, when: {surprise: {count: 7, per: week}}, channel: email, template: s}\n"
	"  - {id: surprise-m, when: {surprise: {count: 4, per: month}}, channel: preferred, template: s,"
	" audience: {type: customer}}\n";

static struct config *load_cfg(const char *dbpath)
{
	char *text = xasprintf("database: %s\nspool: spool\ntemplates: templates\nfonts: fonts\nrules: rules.yaml\n"
	                       "timezone: Europe/Berlin\nsend_window: \"09:00-18:00\"\nlookback: 7 days\n"
	                       "organization: {name: Acme Corp}\n"
	                       "cards:\n  signing: 2 business days\n  transit: 3 business days\n", dbpath);
	struct config *c = config_from_text(tmpdir, text);
	free(text);
	return c;
}

static struct ruleset *load_rules(const char *path)
{
	struct diags d = {0};
	struct ruleset *rs = rules_load(path, &d);
	diags_print(&d, stdout);
	diags_free(&d);
	return rs;
}

/* ---- a generated population ---- */

static uint64_t rnd_state = 7;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rnd_state >> 33) % n;
}

static char *rnd_date(int y0, int y1)
{
	int y = y0 + (int)rnd((unsigned)(y1 - y0 + 1)), m = 1 + (int)rnd(12);
	int d = 1 + (int)rnd((unsigned)dates_days_in_month(y, m));
	return xasprintf("%04d-%02d-%02d", y, m, d);
}

static void set(struct stakeholder *sh, enum sh_field f, char *v)
{
	free(sh->f[f]);
	sh->f[f] = v;
}

static void gen_stakeholder(struct stakeholder *sh, unsigned i)
{
	static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", ""};
	static const char *const tiers[] = {"", "gold", "platinum", "silver"};
	static const char *const types[] = {"customer", "customer", "partner", "employee", "supplier"};
	static const char *const owners[] = {"", "Dana Ruiz", "Marcus Lee", "Łukasz Nowak"};
	memset(sh, 0, sizeof *sh);
	for (int f = 0; f < SH_NFIELDS; f++)
		sh->f[f] = xstrdup("");
	set(sh, SH_ID, xasprintf("g%05u", i));
	if (rnd(20))
		set(sh, SH_FIRST_NAME, xasprintf("Name%u", i));
	if (rnd(10))
		set(sh, SH_LAST_NAME, xstrdup(rnd(2) ? "Family" : "Müller, Jr."));
	if (!rnd(5))
		set(sh, SH_NICKNAME, xasprintf("Nick%u", i));
	set(sh, SH_TYPE, xstrdup(types[rnd(5)]));
	set(sh, SH_TIER, xstrdup(tiers[rnd(4)]));
	if (rnd(8))
		set(sh, SH_EMAIL, xasprintf("p%u@example.com", i));
	set(sh, SH_PREFERRED_CHANNEL, xstrdup(rnd(3) == 0 ? "card" : rnd(2) ? "email" : ""));
	set(sh, SH_OWNER, xstrdup(owners[rnd(4)]));
	set(sh, SH_TIMEZONE, xstrdup(zones[rnd(5)]));
	if (rnd(6)) {
		set(sh, SH_STREET, xasprintf("%u Main St", i));
		set(sh, SH_CITY, xstrdup("Springfield"));
	}
	if (rnd(10)) {
		char *b = rnd_date(1950, 2000);
		if (!rnd(6))
			memcpy(b, "----", 2), memmove(b + 2, b + 5, 6);   /* "--MM-DD" */
		set(sh, SH_BIRTHDAY, b);
	}
	if (!strcmp(sh->f[SH_TYPE], "employee") || rnd(4) == 0)
		set(sh, SH_HIRE_DATE, rnd_date(2000, 2026));
	if (rnd(5))
		set(sh, SH_CUSTOMER_SINCE, rnd_date(2005, 2026));
	if (rnd(3))
		set(sh, SH_CONTRACT_RENEWAL, rnd_date(2024, 2027));
	set(sh, SH_CONSENT_PERSONAL, xstrdup(rnd(4) ? "1" : "0"));
	set(sh, SH_OPTED_OUT, xstrdup(rnd(25) ? "0" : "1"));
	if (rnd(3)) {
		sh->custom = xcalloc(1, sizeof *sh->custom);
		sh->custom[0].key = xstrdup("contract_start");
		sh->custom[0].value = rnd_date(2020, 2026);
		sh->ncustom = 1;
	}
}

static void put_record(struct store *st, const char *rule, const char *sh, day_t occ, day_t fire, int status,
                       int64_t cost)
{
	struct dispatch_rec r;
	char err[ERR_LEN], o[11], f[11];
	int claimed;
	memset(&r, 0, sizeof r);
	dates_format_iso(occ, o);
	dates_format_iso(fire, f);
	r.rule = xstrdup(rule);
	r.stakeholder = xstrdup(sh);
	r.occasion_date = xstrdup(o);
	r.fire_date = xstrdup(f);
	r.fire_at = (int64_t)fire * 86400 + 9 * 3600;
	r.channel = CH_EMAIL;
	r.status = (enum dispatch_status)status;
	r.cost_cents = cost;
	if (status == DS_SKIPPED)
		r.reason = xstrdup("limit");
	if (store_claim(st, &r, &claimed, err) != 0)
		printf("# %s\n", err);
	dispatch_rec_clear(&r);
}

static int generate(const char *dbpath, unsigned n)
{
	static const char *const rules[] = {"birthday", "thanks", "reach-out", "surprise-w", "surprise-m", "promo",
	                                    "quarterly", "holiday"};
	struct store *st = NULL;
	char err[ERR_LEN];
	unsigned *order = xcalloc(n, sizeof *order);
	day_t base = DAY_NONE;
	int ok = store_open(dbpath, &st, err) == 0 && store_begin(st, err) == 0;

	dates_parse_iso("2026-11-01", &base);
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {   /* stored out of id order */
		unsigned j = rnd(i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned k = 0; ok && k < n; k++) {
		struct stakeholder sh;
		gen_stakeholder(&sh, order[k]);
		ok = store_put_stakeholder(st, &sh, err) == 0;
		if (ok && !rnd(8)) {
			struct event ev = {0};
			ev.stakeholder_id = sh.f[SH_ID];
			ev.kind = rnd(4) ? "promotion" : "certification";
			ev.date = rnd_date(2026, 2027);
			ev.title = "Promoted";
			ev.details = "";
			ok = store_put_event(st, &ev, err) == 0;
			free(ev.date);
		}
		for (unsigned h = rnd(4) == 0 ? 1 + rnd(4) : 0; ok && h > 0; h--) {
			static const int statuses[] = {DS_SENT, DS_SENT, DS_MAILED, DS_RENDERED, DS_FAILED, DS_SKIPPED,
			                               DS_CANCELLED, DS_RETRY, DS_UNKNOWN};
			day_t fire = base - 90 + (day_t)rnd(150);
			put_record(st, rules[rnd(8)], sh.f[SH_ID], fire + (day_t)rnd(10), fire, statuses[rnd(9)],
			           rnd(3) ? 350 : 0);
		}
		stakeholder_clear(&sh);
	}
	/* Records of stakeholders that are gone: no limit or silence counts them. */
	if (ok) {
		put_record(st, "birthday", "zz-gone", base + 5, base, DS_SENT, 100000);
		put_record(st, "surprise-w", "a-gone", base + 2, base + 2, DS_SENT, 100000);
		ok = store_commit(st, err) == 0;
	}
	if (!ok)
		printf("# generate: %s\n", err);
	store_close(st);
	free(order);
	return ok;
}

static int import_examples(const char *dbpath)
{
	struct store *st = NULL;
	struct diags d = {0};
	struct import_stats stats;
	char err[ERR_LEN];
	day_t base = DAY_NONE;
	int ok = store_open(dbpath, &st, err) == 0 && import_csv(st, "examples/stakeholders.csv", 0, 0, &stats, &d) == 0 &&
	         import_csv(st, "examples/events.csv", 1, 0, &stats, &d) == 0;
	diags_print(&d, stdout);
	diags_free(&d);
	dates_parse_iso("2026-11-20", &base);
	if (ok) {   /* a little history: at most once, last contact, per_stakeholder, budget */
		put_record(st, "thanksgiving", "c001", base + 6, base + 6, DS_SENT, 0);
		put_record(st, "weekly-surprise", "c002", base + 10, base + 10, DS_SENT, 0);
		put_record(st, "weekly-surprise", "c003", base - 20, base - 20, DS_SENT, 0);
		put_record(st, "birthday", "c002", base - 3, base - 5, DS_MAILED, 499000);
		put_record(st, "birthday", "e001", base - 1, base - 2, DS_SENT, 0);
	} else {
		printf("# examples: %s\n", err);
	}
	store_close(st);
	return ok;
}

/* ---- the comparison ---- */

static char *loaded_plan(const struct config *cfg, const struct ruleset *rs, struct store *st, day_t from, int days,
                         int fmt, size_t *n)
{
	struct stakeholder *sh = NULL;
	struct event *ev = NULL;
	struct dispatch_rec *hist = NULL;
	size_t nsh = 0, nev = 0, nhist = 0, len = 0;
	struct dispatch_filter all = {.channel = -1};
	struct plan_list pl = {0};
	struct plan_input in;
	char err[ERR_LEN], *buf = NULL;
	FILE *fp = open_memstream(&buf, &len);

	if (store_load_stakeholders(st, &sh, &nsh, err) != 0 || store_load_events(st, &ev, &nev, err) != 0 ||
	    store_list_dispatches(st, &all, &hist, &nhist, err) != 0)
		printf("# load: %s\n", err);
	in = (struct plan_input){cfg, rs, sh, nsh, ev, nev, hist, nhist};
	planner_range(&in, from, from + days, &pl, err);
	report_plan(fp, cfg, &pl, (enum report_format)fmt, 1790000000);
	fclose(fp);
	*n = pl.n;
	plan_list_free(&pl);
	stakeholders_free(sh, nsh);
	events_free(ev, nev);
	dispatch_recs_free(hist, nhist);
	return buf;
}

static char *streamed_plan(const struct config *cfg, const struct ruleset *rs, struct store *st, day_t from, int days,
                           int fmt)
{
	char err[ERR_LEN], *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	if (report_plan_streamed(fp, cfg, rs, st, from, from + days, (enum report_format)fmt, 1790000000, err) != 0)
		printf("# streamed: %s\n", err);
	fclose(fp);
	return buf;
}

static void first_difference(const char *a, const char *b)
{
	int line = 1;
	const char *la = a, *lb = b;
	while (*a && *a == *b) {
		if (*a == '\n')
			line++, la = a + 1, lb = b + 1;
		a++, b++;
	}
	printf("#   first difference at line %d\n#   streamed: %.*s\n#   loaded:   %.*s\n", line, (int)strcspn(la, "\n"),
	       la, (int)strcspn(lb, "\n"), lb);
}

/* compare: every format over each range; returns the number of dispatches of the first range. */
static void compare(const char *label, const struct config *cfg, const struct ruleset *rs, const char *dbpath,
                    const char *const *froms, const int *days, size_t nranges, const char *want_note)
{
	static const char *const fmts[] = {"table", "csv", "json", "ics"};
	struct store *st = NULL;
	char err[ERR_LEN];
	int seen_note = 0;
	if (store_open(dbpath, &st, err) != 0) {
		CHECK(0, "%s: store opens: %s", label, err);
		return;
	}
	for (size_t k = 0; k < nranges; k++) {
		day_t from = DAY_NONE;
		dates_parse_iso(froms[k], &from);
		for (int f = 0; f < 4; f++) {
			size_t n = 0;
			char *a = loaded_plan(cfg, rs, st, from, days[k], f, &n);
			char *b = streamed_plan(cfg, rs, st, from, days[k], f);
			int eq = a && b && strcmp(a, b) == 0;
			CHECK(eq, "%s: plan --from %s --days %d --format %s: streamed = loaded (%zu dispatches)", label,
			      froms[k], days[k], fmts[f], n);
			if (!eq && a && b) {
				const char *dump = getenv("PLAN_STREAM_DUMP");   /* a directory for both plans */
				first_difference(b, a);
				if (dump) {
					char pa[400], pb[400];
					snprintf(pa, sizeof pa, "%s/loaded.txt", dump);
					snprintf(pb, sizeof pb, "%s/streamed.txt", dump);
					util_write_atomic(pa, a, strlen(a), err);
					util_write_atomic(pb, b, strlen(b), err);
				}
			}
			if (f == 1 && want_note && strstr(b, want_note))
				seen_note = 1;
			free(a);
			free(b);
		}
	}
	if (want_note)
		CHECK(seen_note, "%s: the plans show \"%s\"", label, want_note);
	store_close(st);
}

int main(void)
{
	char exdb[300], gendb[300], rpath[300], err[ERR_LEN];
	struct config *cfg;
	struct ruleset *shipped, *gen;
	static const char *const ex_from[] = {"2026-11-01", "2026-12-01", "2026-01-01"};
	static const int ex_days[] = {30, 45, 400};
	static const char *const gen_from[] = {"2026-11-01", "2026-11-20", "2027-03-30"};
	static const int gen_days[] = {30, 60, 14};

	if (!mkdtemp(tmpdir)) {
		printf("not ok - mkdtemp\n");
		return 1;
	}
	snprintf(exdb, sizeof exdb, "%s/examples.db", tmpdir);
	snprintf(gendb, sizeof gendb, "%s/generated.db", tmpdir);
	snprintf(rpath, sizeof rpath, "%s/gen.yaml", tmpdir);
	cfg = load_cfg(exdb);
	shipped = load_rules("config/occasions.yaml");
	if (util_write_atomic(rpath, gen_rules, strlen(gen_rules), err) != 0)
		printf("# %s\n", err);
	gen = load_rules(rpath);
	CHECK(cfg && shipped && gen, "config, shipped rules and generated rules load");
	if (cfg && shipped && gen) {
		CHECK(import_examples(exdb), "the examples import");
		compare("examples", cfg, shipped, exdb, ex_from, ex_days, 3, "skipped: ");
		CHECK(generate(gendb, 5000), "5,000 stakeholders generated");
		compare("generated", cfg, gen, gendb, gen_from, gen_days, 3, "limit: ");
		compare("generated", cfg, gen, gendb, gen_from, gen_days, 1, "budget: ");
		compare("generated, shipped rules", cfg, shipped, gendb, gen_from, gen_days, 2, NULL);
	}
	rules_free(shipped);
	rules_free(gen);
	config_free(cfg);
	if (!getenv("PLAN_STREAM_DUMP")) {
		char *cmd = xasprintf("rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return check_done();
}
