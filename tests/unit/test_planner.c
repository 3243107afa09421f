/*
 * Unit and golden tests of the one planner (src/planner.c, src/planner_rules.c) fed by an array
 * source (the stakeholders in id order, each with its events and records) with fixed dates: every `when` kind,
 * leads, the business calendar, time zones across DST, lookback, late, fallback, surprise
 * and limits. Run from the repository root: the golden tables are the .txt files of tests/golden/planner,
 * one line per case; UPDATE_GOLDEN=1 rewrites them (read the diff before committing).
 * Thanksgiving 2000-2100 is compared with remind(1) run by the test.
 */
#include "occasiond/planner.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "occasiond/config.h"
#include "occasiond/rules.h"

#define GOLDEN_DIR "tests/golden/planner"

static char tmpdir[] = "/tmp/occ-planner-XXXXXX";
static struct config *cfg;

/* ---- building the inputs ---- */

static struct config *cfg_load(const char *extra)
{
	char *text = xasprintf("database: x.db\nspool: spool\ntemplates: %s/templates\nfonts: %s/fonts\n"
	                       "rules: rules.yaml\ntimezone: Europe/Berlin\nsend_window: \"09:00-18:00\"\n"
	                       "lookback: 7 days\ncards:\n  signing: 2 business days\n  transit: 3 business days\n%s",
	                       "..", "..", extra ? extra : "");
	struct config *c = config_from_text(tmpdir, text);
	free(text);
	return c;
}

static struct ruleset *rules_text(const char *yaml, struct diags *d)
{
	char path[300], err[ERR_LEN];
	snprintf(path, sizeof path, "%s/rules.yaml", tmpdir);
	if (util_write_atomic(path, yaml, strlen(yaml), err) != 0)
		printf("# %s\n", err);
	return rules_load(path, d);
}

static struct ruleset *rules(const char *yaml)
{
	struct diags d = {0};
	struct ruleset *rs = rules_text(yaml, &d);
	if (!rs)
		diags_print(&d, stdout);
	diags_free(&d);
	return rs;
}

/* sh_init: "id=c1 first_name=Ann email=a@x.example ..." (no spaces in values; '_' stays). */
static void sh_init(struct stakeholder *sh, const char *spec)
{
	char *copy = xstrdup(spec), *p = copy;
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh->f[i] = xstrdup("");
	free(sh->f[SH_CONSENT_PERSONAL]);
	sh->f[SH_CONSENT_PERSONAL] = xstrdup("1");
	free(sh->f[SH_OPTED_OUT]);
	sh->f[SH_OPTED_OUT] = xstrdup("0");
	while (*p) {
		char *end = p + strcspn(p, " "), *eq;
		int f;
		if (*end)
			*end++ = '\0';
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			f = sh_field_lookup(p);
			if (f >= 0) {
				free(sh->f[f]);
				sh->f[f] = xstrdup(eq + 1);
			} else {
				sh->custom = xreallocarray(sh->custom, sh->ncustom + 1, sizeof *sh->custom);
				sh->custom[sh->ncustom].key = xstrdup(p);
				sh->custom[sh->ncustom++].value = xstrdup(eq + 1);
			}
		}
		p = end;
	}
	free(copy);
}

struct world {
	struct ruleset *rs;
	struct stakeholder sh[16];
	size_t nsh;
	struct event ev[4];
	size_t nev;
	struct dispatch_rec hist[32];
	size_t nhist;
};

static void w_sh(struct world *w, const char *spec)
{
	sh_init(&w->sh[w->nsh++], spec);
}

static void w_hist(struct world *w, const char *rule, const char *sh, const char *occ, const char *fire, int status,
                   const char *cost)
{
	struct dispatch_rec *h = &w->hist[w->nhist++];
	day_t d = 0;
	memset(h, 0, sizeof *h);
	h->rule = xstrdup(rule);
	h->stakeholder = xstrdup(sh);
	h->occasion_date = xstrdup(occ);
	h->fire_date = xstrdup(fire);
	dates_parse_iso(fire, &d);
	h->fire_at = (int64_t)d * 86400 + 9 * 3600;
	h->status = (enum dispatch_status)status;
	h->channel = CH_EMAIL;
	if (cost)
		util_parse_money(cost, &h->cost_cents);
}

static void w_free(struct world *w)
{
	for (size_t i = 0; i < w->nsh; i++)
		stakeholder_clear(&w->sh[i]);
	for (size_t i = 0; i < w->nev; i++)
		event_clear(&w->ev[i]);
	for (size_t i = 0; i < w->nhist; i++)
		dispatch_rec_clear(&w->hist[i]);
	rules_free(w->rs);
	memset(w, 0, sizeof *w);
}

/* The items of a finished plan, copied out. */
struct plan_list {
	struct plan_item *v;
	size_t n;
	struct planner *pl;
};

static void plan_list_free(struct plan_list *l)
{
	free(l->v);
	planner_free(l->pl);
	memset(l, 0, sizeof *l);
}

static const struct world *sort_w;

static int sh_order(const void *a, const void *b)
{
	return strcmp(sort_w->sh[*(const size_t *)a].f[SH_ID], sort_w->sh[*(const size_t *)b].f[SH_ID]);
}

/* feed: the array source: each stakeholder in id order with its own events and records. */
static void feed(struct planner *pl, const struct world *w, struct plan_list *out)
{
	size_t order[16];
	for (size_t i = 0; i < w->nsh; i++)
		order[i] = i;
	sort_w = w;
	qsort(order, w->nsh, sizeof *order, sh_order);
	for (size_t k = 0; k < w->nsh; k++) {
		const struct stakeholder *sh = &w->sh[order[k]];
		struct event ev[4];
		struct dispatch_rec hist[32];
		size_t nev = 0, nhist = 0;
		for (size_t i = 0; i < w->nev; i++)
			if (strcmp(w->ev[i].stakeholder_id, sh->f[SH_ID]) == 0)
				ev[nev++] = w->ev[i];
		for (size_t i = 0; i < w->nhist; i++)
			if (strcmp(w->hist[i].stakeholder, sh->f[SH_ID]) == 0)
				hist[nhist++] = w->hist[i];
		planner_add(pl, sh, ev, nev, hist, nhist);
	}
	planner_finish(pl);
	memset(out, 0, sizeof *out);
	out->pl = pl;
	out->n = planner_count(pl);
	out->v = xcalloc(out->n + 1, sizeof *out->v);
	for (size_t i = 0; i < out->n; i++)
		planner_item(pl, i, &out->v[i]);
}

/* planner_range, planner_due: the one planner in its two modes over a world. */
static int planner_range(const struct world *w, day_t from, day_t to, struct plan_list *out, char err[ERR_LEN])
{
	(void)err;
	feed(planner_new_range(cfg, w->rs, from, to), w, out);
	return 0;
}

static int planner_due(const struct world *w, int64_t now, struct plan_list *out, int64_t *wake, char err[ERR_LEN])
{
	(void)err;
	feed(planner_new_due(cfg, w->rs, now), w, out);
	*wake = planner_next_wake(out->pl);
	return 0;
}

static day_t D(const char *iso)
{
	day_t d = DAY_NONE;
	dates_parse_iso(iso, &d);
	return d;
}

static void add_item(struct strbuf *sb, const char *label, const struct plan_item *it)
{
	char occ[11], fire[11], at[40], mail_by[11] = "", cost[32];
	dates_format_iso(it->occasion, occ);
	dates_format_iso(it->fire_date, fire);
	dates_format_instant(it->fire_at, it->zone, at, sizeof at);
	if (it->mail_by != DAY_NONE)
		dates_format_iso(it->mail_by, mail_by);
	util_format_money(it->cost_cents, cost, sizeof cost);
	sb_addf(sb, "%-22s %-10s %-4s D=%s fire=%s at=%s %s %s %s %s %s%s%s%s%s%s%s\n", label, it->rule->id, it->sh_id,
	        occ, fire, at, channel_names[it->channel], it->template_name, it->signer, cost,
	        plan_state_names[it->state], it->reason ? "/" : "",
	        it->reason ? it->reason : "", mail_by[0] ? " mail_by=" : "", mail_by, it->note[0] ? " | " : "", it->note);
}

/* plan_lines: planner_range over [from, from + days) into sb, one line per item. */
static size_t plan_lines(struct strbuf *sb, const char *label, const struct world *w, const char *from, int days)
{
	struct plan_list pl = {0};
	char err[ERR_LEN];
	size_t n;
	if (planner_range(w, D(from), D(from) + days, &pl, err) != 0)
		sb_addf(sb, "%s error %s\n", label, err);
	for (size_t i = 0; i < pl.n; i++)
		add_item(sb, label, &pl.v[i]);
	if (pl.n == 0)
		sb_addf(sb, "%-22s (nothing)\n", label);
	n = pl.n;
	plan_list_free(&pl);
	return n;
}

/* due_lines: planner_due at TIME (in the config's zone) into sb. */
static size_t due_lines(struct strbuf *sb, const char *label, const struct world *w, const char *when)
{
	struct plan_list pl = {0};
	char err[ERR_LEN];
	int64_t now = 0, wake = 0;
	size_t n;
	if (dates_parse_time(when, cfg->timezone, &now, err) != 0 || planner_due(w, now, &pl, &wake, err) != 0)
		sb_addf(sb, "%s error %s\n", label, err);
	sb_addf(sb, "%-22s run at %s\n", label, when);
	for (size_t i = 0; i < pl.n; i++)
		add_item(sb, label, &pl.v[i]);
	if (pl.n == 0)
		sb_addf(sb, "%-22s (nothing due)\n", label);
	n = pl.n;
	plan_list_free(&pl);
	return n;
}

/* ---- dates of every kind ---- */

static void golden_dates(void)
{
	struct strbuf sb = {0};
	struct world w = {0};

	sb_adds(&sb, "# label, rule, stakeholder, occasion date D, fire date, fire time, channel, template, signer, "
	             "cost,\n# state/reason, mail-by | note (default signer: the organization, here occasiond)\n");
	w.rs = rules("calendar:\n  weekend: [saturday, sunday]\n  holidays: [\"12-25\", \"01-01\", \"easter-2\", \"easter+1\"]\n"
	             "occasions:\n"
	             "  - {id: bday, when: {anniversary_of: birthday}, channel: email}\n");
	w_sh(&w, "id=s1 first_name=Leap email=l@x.example birthday=1992-02-29");
	plan_lines(&sb, "feb29-common-2027", &w, "2027-02-01", 60);
	plan_lines(&sb, "feb29-leap-2028", &w, "2028-02-01", 60);
	w_free(&w);

	/* 2 January with a 10-day lead: fires in December of the year before. */
	w.rs = rules("occasions:\n  - {id: bday, when: {anniversary_of: birthday}, lead: 10 days, channel: email}\n");
	w_sh(&w, "id=s2 first_name=Jan email=j@x.example birthday=1980-01-02");
	plan_lines(&sb, "jan2-lead-10-days", &w, "2026-12-01", 31);
	w_free(&w);

	/* every: month ends clamp to the month's last day, counted from the start each time. */
	w.rs = rules("occasions:\n  - {id: monthly, when: {every: 1 month, from: customer_since}, channel: email}\n"
	             "  - {id: quarterly, when: {every: 3 months}, channel: email}\n");
	w_sh(&w, "id=s3 first_name=End email=e@x.example customer_since=2027-01-31");
	plan_lines(&sb, "every-month-end", &w, "2027-02-01", 120);
	w_free(&w);

	/* nth_weekday: the 4th Thursday of November, and n: -1 the last Friday of July. */
	w.rs = rules("occasions:\n  - {id: thanks, when: {nth_weekday: {n: 4, weekday: thursday, month: 11}}, channel: email}\n"
	             "  - {id: sysadmin, when: {nth_weekday: {n: -1, weekday: friday, month: july}}, channel: email}\n");
	w_sh(&w, "id=s4 first_name=Nth email=n@x.example");
	plan_lines(&sb, "nth-weekday", &w, "2026-07-01", 365 + 153);
	w_free(&w);

	/* date: yearly and once; anniversary_of a custom column with years / every_years. */
	w.rs = rules("occasions:\n  - {id: xmas, when: {date: \"12-24\"}, lead: 3 weeks, channel: email}\n"
	             "  - {id: once, when: {date: \"2027-03-15\"}, channel: email}\n"
	             "  - {id: cert, when: {anniversary_of: certified_on, years: [1, 5]}, channel: email}\n"
	             "  - {id: every5, when: {anniversary_of: hire_date, every_years: 5}, channel: email}\n"
	             "  - {id: nozero, when: {anniversary_of: hire_date}, channel: email}\n");
	w_sh(&w, "id=s5 first_name=Cert email=c@x.example certified_on=2026-03-10 hire_date=2017-03-12");
	w_sh(&w, "id=s6 first_name=New email=n@x.example hire_date=2027-03-20 certified_on=2022-03-01");
	plan_lines(&sb, "date-once-custom", &w, "2026-11-20", 140);
	w_free(&w);

	/* event: the date of each event of the kind. */
	w.rs = rules("occasions:\n  - {id: promo, when: {event: promotion}, late: 14 days, channel: email}\n");
	w_sh(&w, "id=s7 first_name=Pro email=p@x.example");
	w.ev[0] = (struct event){xstrdup("s7"), xstrdup("promotion"), xstrdup("2027-05-04"), xstrdup("VP"), xstrdup("")};
	w.ev[1] = (struct event){xstrdup("s7"), xstrdup("onboarding"), xstrdup("2027-05-05"), xstrdup("x"), xstrdup("")};
	w.nev = 2;
	plan_lines(&sb, "event", &w, "2027-05-01", 10);
	w_free(&w);

	/* no_contact_for: after the last dispatch that went out; a failed one does not count. */
	w.rs = rules("occasions:\n  - {id: reach, when: {no_contact_for: 8 weeks}, channel: email}\n");
	w_sh(&w, "id=s8 first_name=Quiet email=q@x.example customer_since=2020-01-01");
	w_sh(&w, "id=s9 first_name=Never email=v@x.example customer_since=2026-12-01");
	w_hist(&w, "other", "s8", "2027-01-05", "2027-01-05", DS_SENT, NULL);
	w_hist(&w, "other", "s8", "2027-01-20", "2027-01-20", DS_FAILED, NULL);
	plan_lines(&sb, "no-contact-for", &w, "2027-01-25", 60);
	w_free(&w);

	/* Cards: default lead (signing + transit, business days); fire dates on a weekend or a
	 * holiday move back. Easter 2026 is 5 April: Good Friday 3 April and Easter Monday 6 April
	 * are holidays, so a fire date on the Monday moves back over the weekend and the Friday. */
	w.rs = rules("calendar:\n  weekend: [saturday, sunday]\n  holidays: [\"12-25\", \"easter-2\", \"easter+1\"]\n"
	             "occasions:\n"
	             "  - {id: mon-hol, when: {date: \"04-08\"}, lead: 2 days, channel: card}\n"
	             "  - {id: sunday, when: {date: \"06-10\"}, lead: 3 days, channel: card}\n"
	             "  - {id: default, when: {date: \"06-17\"}, channel: card}\n"
	             "  - {id: biz, when: {date: \"04-09\"}, lead: 2 business days, channel: email}\n");
	w_sh(&w, "id=c1 first_name=Card email=c@x.example street=1_Main_St city=Springfield");
	plan_lines(&sb, "card-calendar", &w, "2026-03-25", 90);
	w_free(&w);

	/* channel: preferred with fallback on a missing address; no address at all is skipped. */
	w.rs = rules("occasions:\n  - {id: pref, when: {date: \"05-05\"}, channel: preferred, lead: 1 week}\n");
	w_sh(&w, "id=p1 first_name=Card preferred_channel=card street=1_Main city=X email=p1@x.example");
	w_sh(&w, "id=p2 first_name=NoPost preferred_channel=card email=p2@x.example");
	w_sh(&w, "id=p3 first_name=Nothing preferred_channel=email");
	w_sh(&w, "id=p4 first_name=Out email=p4@x.example opted_out=1");
	plan_lines(&sb, "preferred", &w, "2026-04-20", 30);
	w_free(&w);

	/* audience: type, tier, min_tenure, personal; variants by years and tier. */
	w.rs = rules("occasions:\n  - id: wa\n    when: {anniversary_of: hire_date}\n    channel: email\n"
	             "    personal: true\n    audience: {type: employee, min_tenure: 2 years}\n"
	             "    variants:\n      - {years: [10], template: big, cost: 9.00, signer: CEO}\n"
	             "      - {tier: gold, use_channel: card}\n");
	w_sh(&w, "id=e1 first_name=Ten type=employee email=e1@x.example hire_date=2017-06-01");
	w_sh(&w, "id=e2 first_name=One type=employee email=e2@x.example hire_date=2026-06-01");
	w_sh(&w, "id=e3 first_name=Gold type=employee tier=gold email=e3@x.example hire_date=2020-06-01 street=S city=C");
	w_sh(&w, "id=e4 first_name=NoConsent type=employee email=e4@x.example hire_date=2019-06-01 consent_personal=0");
	w_sh(&w, "id=c9 first_name=Cust type=customer email=c9@x.example hire_date=2019-06-01");
	plan_lines(&sb, "audience-variants", &w, "2027-05-20", 20);
	w_free(&w);
	golden_file(GOLDEN_DIR, "dates.txt", sb.s);
	sb_free(&sb);
}

/* ---- time zones: fire at the window's start in the stakeholder's zone, across DST ---- */

static void golden_dst(void)
{
	struct strbuf sb = {0};
	struct world w = {0};
	static const char *const days[] = {"03-07", "03-08", "03-09", "03-28", "03-29", "03-30", "04-04", "04-05",
	                                   "04-06", "10-03", "10-04", "10-05", "10-24", "10-25", "10-26", "10-31",
	                                   "11-01", "11-02"};
	struct strbuf y = {0};
	struct plan_list pl = {0};
	char err[ERR_LEN];
	sb_adds(&sb, "# email fire times at 09:00 in the stakeholder's zone on and around the 2026 DST changes\n"
	             "# (New York 8 Mar / 1 Nov, Berlin 29 Mar / 25 Oct, Sydney 5 Apr / 4 Oct);\n"
	             "# cards fire in the config's zone (Europe/Berlin)\n");
	sb_adds(&y, "occasions:\n");
	for (size_t i = 0; i < sizeof days / sizeof *days; i++)
		sb_addf(&y, "  - {id: d%s, when: {date: \"%s\"}, channel: email}\n", days[i], days[i]);
	sb_adds(&y, "  - {id: card, when: {date: \"04-01\"}, lead: 5 business days, channel: card}\n");
	w.rs = rules(y.s);
	w_sh(&w, "id=ny first_name=Ny email=ny@x.example timezone=America/New_York street=S city=C");
	w_sh(&w, "id=be first_name=Be email=be@x.example timezone=Europe/Berlin");
	w_sh(&w, "id=sy first_name=Sy email=sy@x.example timezone=Australia/Sydney street=S city=C");
	w_sh(&w, "id=zz first_name=Default email=zz@x.example");
	planner_range(&w, D("2026-03-01"), D("2026-11-10"), &pl, err);
	for (size_t i = 0; i < pl.n; i++) {
		const struct plan_item *it = &pl.v[i];
		char at[40], utc[40], fire[11];
		dates_format_iso(it->fire_date, fire);
		dates_format_instant(it->fire_at, it->zone, at, sizeof at);
		dates_format_instant(it->fire_at, "UTC", utc, sizeof utc);
		sb_addf(&sb, "%-5s %-2s %-5s %-16s fire=%s at=%s = %s\n", it->rule->id, it->sh_id,
		        channel_names[it->channel], it->zone, fire, at, utc);
	}
	plan_list_free(&pl);
	w_free(&w);
	sb_free(&y);
	golden_file(GOLDEN_DIR, "dst.txt", sb.s);
	sb_free(&sb);
}

/* ---- run: due, the window, late, lookback/missed, fallback ---- */

static void golden_run(void)
{
	struct strbuf sb = {0};
	struct world w = {0};
	sb_adds(&sb, "# planner_due at fixed instants (config zone Europe/Berlin, window 09:00-18:00, lookback 7 days)\n");
	w.rs = rules("occasions:\n"
	             "  - {id: mail, when: {date: \"06-10\"}, channel: email}\n"
	             "  - {id: late, when: {date: \"06-05\"}, late: 3 days, channel: email}\n"
	             "  - {id: old, when: {date: \"05-01\"}, channel: email}\n"
	             "  - {id: card, when: {date: \"06-12\"}, channel: card, fallback: email}\n"
	             "  - {id: card-nofb, when: {date: \"06-12\"}, channel: card}\n");
	w_sh(&w, "id=a first_name=A email=a@x.example street=S city=C");
	w_sh(&w, "id=b first_name=B email=b@x.example street=S city=C timezone=America/New_York");
	due_lines(&sb, "late-still-due", &w, "2026-06-08T17:59");
	due_lines(&sb, "before-window", &w, "2026-06-10T08:59");
	due_lines(&sb, "in-window", &w, "2026-06-10T10:00");
	due_lines(&sb, "after-window", &w, "2026-06-10T19:00");
	/* late: 3 days: 06-05 is still due on 06-08; the card past its mail-by (06-09) goes by email */
	due_lines(&sb, "late-and-fallback", &w, "2026-06-10T16:00");
	/* lookback: fire times more than 7 days back are ignored, those within are missed */
	due_lines(&sb, "lookback", &w, "2026-06-14T10:00");
	w_free(&w);
	golden_file(GOLDEN_DIR, "run.txt", sb.s);
	sb_free(&sb);
}

/* ---- surprise ---- */

static void surprise_world(struct world *w)
{
	w->rs = rules("calendar:\n  weekend: [saturday, sunday]\n  holidays: [\"12-25\", \"12-26\", \"01-01\"]\n"
	              "occasions:\n  - {id: just-because, when: {surprise: {count: 2, per: week}}, channel: email,"
	              " audience: {type: customer}}\n"
	              "  - {id: monthly, when: {surprise: {count: 1, per: month}}, channel: email, audience: {tier: gold}}\n");
	w_sh(w, "id=k1 first_name=K1 type=customer email=k1@x.example");
	w_sh(w, "id=k2 first_name=K2 type=customer email=k2@x.example tier=gold");
	w_sh(w, "id=k3 first_name=K3 type=customer email=k3@x.example");
	w_sh(w, "id=k4 first_name=K4 type=customer email=k4@x.example tier=gold");
	w_sh(w, "id=k5 first_name=K5 type=customer");                      /* no email: never picked */
	w_sh(w, "id=k6 first_name=K6 type=customer email=k6@x.example opted_out=1");
	w_sh(w, "id=k7 first_name=K7 type=partner email=k7@x.example");   /* not in the audience */
	/* k1 and k3 heard from us lately; k2 long ago; k4 never */
	w_hist(w, "other", "k1", "2026-12-01", "2026-12-01", DS_SENT, NULL);
	w_hist(w, "other", "k3", "2026-12-08", "2026-12-08", DS_MAILED, NULL);
	w_hist(w, "other", "k2", "2026-06-01", "2026-06-01", DS_SENT, NULL);
	w_hist(w, "other", "k4", "2026-12-02", "2026-12-02", DS_FAILED, NULL);   /* failed: not contact */
}

static void golden_surprise(void)
{
	struct strbuf sb = {0}, again = {0};
	struct world w = {0};
	sb_adds(&sb, "# surprise: count per week (Monday to Sunday) or month, the silent longest first, on a\n"
	             "# business day of the period picked by FNV-1a of (rule, period, stakeholder)\n");
	surprise_world(&w);
	plan_lines(&sb, "surprise-plan", &w, "2026-12-14", 28);
	plan_lines(&again, "surprise-plan", &w, "2026-12-14", 28);
	CHECK(strstr(sb.s, again.s) != NULL, "surprise: the same inputs give the same plan");
	/* A plan from the middle of the week picks the same people as one from its Monday. */
	sb_reset(&again);
	plan_lines(&again, "x", &w, "2026-12-17", 4);
	plan_lines(&sb, "surprise-midweek", &w, "2026-12-17", 4);
	plan_lines(&sb, "surprise-month", &w, "2026-12-01", 62);
	due_lines(&sb, "surprise-run", &w, "2026-12-15T10:00");
	/* Once this week's surprise to k2 went out, the other pick stays the same. */
	w_hist(&w, "just-because", "k2", "2026-12-15", "2026-12-15", DS_SENT, NULL);
	plan_lines(&sb, "surprise-after-one-sent", &w, "2026-12-14", 7);
	due_lines(&sb, "surprise-run-later", &w, "2026-12-18T10:00");
	w_free(&w);
	sb_free(&again);
	golden_file(GOLDEN_DIR, "surprise.txt", sb.s);
	sb_free(&sb);
}

/* ---- limits ---- */

static void golden_limits(void)
{
	struct strbuf sb = {0};
	struct world w = {0};
	struct plan_list pl = {0};
	char err[ERR_LEN];
	size_t skipped_limit = 0, skipped_budget = 0;

	sb_adds(&sb, "# limits: per_stakeholder counts what went out (history) and what stands earlier in the\n"
	             "# plan; budget sums the costs of the period; what they stop is skipped with a note\n");
	w.rs = rules("limits:\n  per_stakeholder: {max: 2, within: 30 days}\n  budget: {amount: 25.00, per: year}\n"
	             "occasions:\n"
	             "  - {id: low, when: {date: \"03-10\"}, channel: email, priority: 1, cost: 1.00}\n"
	             "  - {id: high, when: {date: \"03-10\"}, channel: email, priority: 90, cost: 1.00}\n"
	             "  - {id: third, when: {date: \"03-20\"}, channel: email, cost: 1.00}\n"
	             "  - {id: april, when: {date: \"04-20\"}, channel: email, cost: 6.50}\n");
	w_sh(&w, "id=a first_name=A email=a@x.example");
	w_sh(&w, "id=b first_name=B email=b@x.example");
	w_sh(&w, "id=c first_name=C email=c@x.example");
	/* b had a note on 1 March: one more fits in 30 days; c's skipped one does not count */
	w_hist(&w, "x", "b", "2026-03-01", "2026-03-01", DS_SENT, "4.00");
	w_hist(&w, "x", "c", "2026-03-01", "2026-03-01", DS_SKIPPED, NULL);
	w_hist(&w, "x", "a", "2026-01-05", "2026-01-05", DS_RENDERED, "9.00");
	plan_lines(&sb, "limits-plan", &w, "2026-03-01", 60);
	due_lines(&sb, "limits-run", &w, "2026-03-10T12:00");

	planner_range(&w, D("2026-03-01"), D("2026-05-01"), &pl, err);
	for (size_t i = 0; i < pl.n; i++) {
		skipped_limit += pl.v[i].reason && strcmp(pl.v[i].reason, "limit") == 0;
		skipped_budget += pl.v[i].reason && strcmp(pl.v[i].reason, "budget") == 0;
		if (strcmp(pl.v[i].rule->id, "low") == 0 && strcmp(pl.v[i].sh_id, "b") == 0)
			CHECK(pl.v[i].state == PS_SKIPPED, "limits: the lower priority of two at once is the one skipped");
	}
	CHECK(skipped_limit == 4, "limits: four skipped for per_stakeholder (got %zu)", skipped_limit);
	CHECK(skipped_budget >= 1, "limits: the budget stops what is over (got %zu)", skipped_budget);
	plan_list_free(&pl);
	w_free(&w);

	/* budget per month and quarter reset with the period */
	w.rs = rules("limits:\n  budget: {amount: 10.00, per: quarter}\n"
	             "occasions:\n  - {id: card, when: {anniversary_of: birthday}, channel: card, cost: 6.00}\n");
	w_sh(&w, "id=q1 first_name=Q1 birthday=1980-03-20 street=S city=C");
	w_sh(&w, "id=q2 first_name=Q2 birthday=1980-03-25 street=S city=C");
	w_sh(&w, "id=q3 first_name=Q3 birthday=1980-04-20 street=S city=C");
	plan_lines(&sb, "budget-quarter", &w, "2026-03-01", 60);
	w_free(&w);
	golden_file(GOLDEN_DIR, "limits.txt", sb.s);
	sb_free(&sb);
}

/* ---- Thanksgiving 2000-2100 against remind(1) ---- */

static void thanksgiving_remind(void)
{
	char path[300], err[ERR_LEN], line[128], *cmd;
	struct world w = {0};
	struct plan_list pl = {0};
	FILE *fp;
	size_t n = 0, same = 0;
	static const char rem[] = "REM Thu Nov 22 MSG thanksgiving\n";   /* the first Thursday from the 22nd */

	if (access("/usr/bin/remind", X_OK) != 0) {
		CHECK(0, "remind is installed (scripts/deps.sh test)");
		return;
	}
	snprintf(path, sizeof path, "%s/tg.rem", tmpdir);
	util_write_atomic(path, rem, strlen(rem), err);
	cmd = xasprintf("/usr/bin/remind -s1212 %s 2000-01-01", path);
	fp = popen(cmd, "r");
	free(cmd);
	w.rs = rules("occasions:\n  - {id: thanks, when: {nth_weekday: {n: 4, weekday: thursday, month: november}},"
	             " channel: email}\n");
	w_sh(&w, "id=t first_name=T email=t@x.example");
	planner_range(&w, D("2000-01-01"), D("2101-01-01"), &pl, err);
	while (fp && fgets(line, sizeof line, fp)) {
		int y, m, d;
		if (sscanf(line, "%d/%d/%d", &y, &m, &d) != 3)
			continue;
		if (n < pl.n) {
			int py, pm, pd;
			dates_to_ymd(pl.v[n].occasion, &py, &pm, &pd);
			if (py == y && pm == m && pd == d)
				same++;
			else
				printf("#   remind says %04d-%02d-%02d, the planner %04d-%02d-%02d\n", y, m, d, py, pm, pd);
		}
		n++;
	}
	if (fp)
		pclose(fp);
	CHECK(n == 101 && pl.n == 101 && same == 101,
	      "Thanksgiving 2000-2100: the planner agrees with remind on %zu of %zu years (%zu planned)", same, n, pl.n);
	plan_list_free(&pl);
	w_free(&w);
}

/*
 * many: a range plan over more stakeholders' names than it keeps in memory (keep bytes, then a
 * megabyte at a time), so the rest are read back from its temporary file: every item's id and
 * name as fed (long names past one read of it too), the limit counting the days of history
 * kept aside, and the date order of planner_sort_dates.
 */
static void many(size_t keep)
{
	enum { N = 6000 };
	struct ruleset *rs = rules("limits:\n  per_stakeholder: {max: 1, within: 30 days}\noccasions:\n"
	                           "  - {id: bday, when: {anniversary_of: birthday}, channel: email, template: birthday}\n");
	struct planner *pl;
	size_t n, bad_name = 0, bad_limit = 0, bad_order = 0, nlimit = 0;
	char *pad = xmalloc(5001);
	unsigned char *seen = xcalloc(N, 1);
	struct plan_item it;
	day_t pd = DAY_NONE, po = DAY_NONE;
	char pid[16] = "";
	int64_t pat = INT64_MIN;

	if (!rs)
		goto out;
	pl = planner_new_range(cfg, rs, D("2027-01-01"), D("2028-01-01"));
	planner_keep_names(pl, keep);
	for (int i = 0; i < N; i++) {
		struct stakeholder sh;
		struct dispatch_rec h;
		char *spec;
		int len = i % 1000 == 999 ? 5000 : 200, mon = 1 + (i / 28) % 12, day = 1 + i % 28;
		memset(pad, 'a' + i % 26, (size_t)len);
		pad[len] = '\0';
		spec = xasprintf("id=m%05d first_name=F%05d%s last_name=L email=m%d@x.example birthday=1980-%02d-%02d", i, i,
		                 pad, i, mon, day);
		sh_init(&sh, spec);
		free(spec);
		/* Every seventh went out 10 days before its birthday: the limit skips the birthday. */
		memset(&h, 0, sizeof h);
		if (i % 7 == 0) {
			char fire[11];
			dates_format_iso(D("2027-01-01") + (dates_from_ymd(2027, mon, day) - D("2027-01-01")) - 10, fire);
			h.rule = xstrdup("other");
			h.stakeholder = xstrdup(sh.f[SH_ID]);
			h.occasion_date = xstrdup(fire);
			h.fire_date = xstrdup(fire);
			h.status = DS_SENT;
			h.channel = CH_EMAIL;
		}
		planner_add(pl, &sh, NULL, 0, i % 7 == 0 ? &h : NULL, i % 7 == 0);
		if (i % 7 == 0)
			dispatch_rec_clear(&h);
		stakeholder_clear(&sh);
	}
	planner_finish(pl);
	n = planner_count(pl);
	CHECK(n == N, "a range plan over %d stakeholders with long names, %zu bytes of them kept: %zu items", N, keep, n);
	for (size_t i = 0; i < n; i++) {
		int k;
		char want[16];
		planner_item(pl, i, &it);
		if (sscanf(it.sh_id, "m%05d", &k) != 1 || k < 0 || k >= N || seen[k]++) {
			bad_name++;
			continue;
		}
		snprintf(want, sizeof want, "F%05d", k);
		if (strncmp(it.name, want, 6) != 0 || strlen(it.name) != 6 + (k % 1000 == 999 ? 5000u : 200u) + 2 ||
		    (unsigned char)it.name[6] != 'a' + k % 26 || strcmp(it.name + strlen(it.name) - 2, " L") != 0)
			bad_name++;
		if ((k % 7 == 0) != (it.state == PS_SKIPPED && it.reason && strcmp(it.reason, "limit") == 0))
			bad_limit++;
		nlimit += it.state == PS_SKIPPED;
		if (it.fire_at < pat)
			bad_order++;
		pat = it.fire_at;
	}
	CHECK(bad_name == 0, "every item's id and name read back as fed (%zu wrong)", bad_name);
	CHECK(bad_limit == 0 && nlimit == (N + 6) / 7, "the limit counts the history kept aside (%zu wrong, %zu skipped)",
	      bad_limit, nlimit);
	CHECK(bad_order == 0, "the items come in fire order");
	planner_sort_dates(pl);
	bad_order = 0;
	for (size_t i = 0; i < planner_count(pl); i++) {
		planner_item(pl, i, &it);
		if (pd != DAY_NONE && (it.fire_date < pd || (it.fire_date == pd && (it.occasion < po ||
		                       (it.occasion == po && strcmp(it.sh_id, pid) <= 0)))))
			bad_order++;
		pd = it.fire_date;
		po = it.occasion;
		util_strlcpy(pid, it.sh_id, sizeof pid);
	}
	CHECK(bad_order == 0 && planner_count(pl) == n, "planner_sort_dates: by fire date, occasion, id");
	planner_free(pl);
out:
	rules_free(rs);
	free(pad);
	free(seen);
}

static void misc(void)
{
	CHECK(planner_period_start(PER_WEEK, D("2026-12-20")) == D("2026-12-14"), "weeks start on Monday");
	CHECK(planner_period_start(PER_MONTH, D("2026-12-20")) == D("2026-12-01"), "months start on the 1st");
	CHECK(planner_period_start(PER_QUARTER, D("2026-12-20")) == D("2026-10-01"), "quarters start in Oct");
	CHECK(planner_period_next(PER_YEAR, D("2026-01-01")) == D("2027-01-01"), "a year later");
	CHECK(planner_surprise_hash("a", D("2026-12-14"), "k1") == planner_surprise_hash("a", D("2026-12-14"), "k1") &&
	      planner_surprise_hash("a", D("2026-12-14"), "k1") != planner_surprise_hash("a", D("2026-12-21"), "k1"),
	      "the surprise hash is stable and depends on the period");
	CHECK(planner_went_out(DS_SENT) && planner_went_out(DS_RENDERED) && planner_went_out(DS_UNKNOWN) &&
	      planner_went_out(DS_RETRY) && !planner_went_out(DS_SKIPPED) && !planner_went_out(DS_FAILED) &&
	      !planner_went_out(DS_CANCELLED), "which statuses count as contact");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("not ok - mkdtemp\n");
		return 1;
	}
	cfg = cfg_load(NULL);
	CHECK(cfg != NULL, "the test config loads");
	if (!cfg)
		return check_done();
	misc();
	golden_dates();
	golden_dst();
	golden_run();
	golden_surprise();
	golden_limits();
	thanksgiving_remind();
	many(0);
	many(300000);
	many((size_t)16 << 20);
	config_free(cfg);
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return check_done();
}
