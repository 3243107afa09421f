/* Unit tests of report_data: coverage, silences, tallies, months and budget periods on fixed data. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "occasiond/report_data.h"

static void make_sh(struct stakeholder *sh, const char *id, const char *type, const char *tier,
                    const char *since, const char *opted_out)
{
	char *header[] = {"id", "first_name", "type", "tier", "customer_since", "opted_out"};
	char *values[] = {(char *)id, "Ann", (char *)type, (char *)tier, (char *)since, (char *)opted_out};
	char err[ERR_LEN];
	memset(sh, 0, sizeof *sh);
	if (model_stakeholder_from_row(header, 6, values, NULL, 6, sh, err) != 0)
		printf("# %s\n", err);
}

static void make_rec(struct dispatch_rec *r, int64_t id, const char *rule, const char *sh, const char *occ,
                     const char *fire, int channel, int status, int64_t cost)
{
	memset(r, 0, sizeof *r);
	r->id = id;
	r->rule = xstrdup(rule);
	r->stakeholder = xstrdup(sh);
	r->occasion_date = xstrdup(occ);
	r->fire_date = xstrdup(fire);
	r->channel = (enum channel)channel;
	r->status = (enum dispatch_status)status;
	r->cost_cents = cost;
	r->error = status == DS_FAILED ? xstrdup("550 no such user") : NULL;
}

static day_t D(const char *s)
{
	day_t d = DAY_NONE;
	dates_parse_iso(s, &d);
	return d;
}

/* build: the report over 5 stakeholders (in id order) with their records, then all 7 records in log order. */
static int build(const struct report_input *in, const struct stakeholder *sh, const struct dispatch_rec *rec,
                 struct report_data *d, char err[ERR_LEN])
{
	if (report_data_begin(in, d, err) != 0)
		return -1;
	for (int i = 0; i < 5; i++) {
		struct dispatch_rec hist[7];
		size_t n = 0;
		for (int k = 0; k < 7; k++)
			if (strcmp(rec[k].stakeholder, sh[i].f[SH_ID]) == 0)
				hist[n++] = rec[k];
		if (report_data_add_stakeholder(d, &sh[i], hist, n, err) != 0)
			return -1;
	}
	for (int k = 0; k < 7; k++)
		report_data_add_record(d, &rec[k]);
	return report_data_end(d, err);
}

/*
 * many_silences: more silences than one window of the sorted file holds (one with a field as
 * long as a field may be): longest first (unknown before all), equals in id order, every
 * field as found, read through twice (the page shows the first ones, then the whole list).
 */
static void many_silences(void)
{
	enum { N = 40000 };
	struct report_input in;
	struct report_data d;
	char err[ERR_LEN];
	size_t bad = 0, i;
	long prev = 0;
	int pk = -1;
	char *owner = xmalloc(4097);

	memset(&in, 0, sizeof in);
	in.today = D("2026-11-02");
	in.from = in.to = DAY_NONE;
	in.silence_weeks = 8;
	CHECK(report_data_begin(&in, &d, err) == 0, "many silences: begin");
	for (int k = 0; k < N && !bad; k++) {
		struct stakeholder sh;
		char id[16], since[11] = "";
		char *header[] = {"id", "first_name", "type", "customer_since", "owner"};
		char *values[5];
		size_t olen = k == 20000 ? 4096 : 100;
		memset(owner, 'a' + k % 26, olen);
		owner[olen] = '\0';
		snprintf(id, sizeof id, "k%06d", k);
		if (k % 10)   /* one in ten has no start date: unknown */
			dates_format_iso(D("2026-01-01") - (day_t)(k % 997), since);
		values[0] = id, values[1] = "Kim", values[2] = "customer", values[3] = since, values[4] = owner;
		memset(&sh, 0, sizeof sh);
		if (model_stakeholder_from_row(header, 5, values, NULL, 5, &sh, err) != 0 ||
		    report_data_add_stakeholder(&d, &sh, NULL, 0, err) != 0) {
			printf("# %s: %s\n", id, err);
			bad++;
		}
		stakeholder_clear(&sh);
	}
	CHECK(bad == 0 && report_data_end(&d, err) == 0 && d.nsil == N, "many silences: %zu of %d", d.nsil, N);
	for (int pass = 0; pass < 2; pass++) {
		prev = LONG_MAX;
		pk = -1;
		for (i = 0; i < d.nsil; i++) {
			struct report_silence s;
			int k;
			long days;
			report_data_silence(&d, i, &s);
			days = s.days < 0 ? LONG_MAX : s.days;
			if (sscanf(s.id, "k%06d", &k) != 1 || days > prev || (days == prev && k <= pk) ||
			    strlen(s.owner) != (k == 20000 ? 4096u : 100u) || s.owner[0] != 'a' + k % 26 ||
			    strcmp(s.name, "Kim") != 0 || (s.days < 0) != (k % 10 == 0))
				bad++;
			prev = days;
			pk = k;
			if (pass == 1 && i == 14)   /* as the page reads them: the first few, then all again */
				break;
		}
	}
	CHECK(bad == 0 && !report_data_broken(&d), "many silences: longest first, equals in id order, fields whole (%zu wrong)",
	      bad);
	report_data_free(&d);
	free(owner);
}

int main(void)
{
	struct stakeholder sh[5];
	struct dispatch_rec rec[7];
	struct ruleset rs;
	struct report_input in;
	struct report_data d;
	char err[ERR_LEN];

	/* ids in order, as the store's scan hands them over */
	make_sh(&sh[0], "a1", "customer", "gold", "2020-01-01", "no");
	make_sh(&sh[1], "a2", "customer", "silver", "2026-10-01", "no");
	make_sh(&sh[2], "a3", "partner", "", "", "no");
	make_sh(&sh[3], "a4", "customer", "gold", "2019-05-05", "no");
	make_sh(&sh[4], "a5", "customer", "gold", "2019-05-05", "yes");
	make_rec(&rec[0], 1, "birthday", "a1", "2026-11-20", "2026-11-10", CH_CARD, DS_MAILED, 350);
	make_rec(&rec[1], 2, "quarterly", "a1", "2026-08-01", "2026-08-01", CH_EMAIL, DS_SENT, 0);
	make_rec(&rec[2], 3, "quarterly", "a3", "2026-09-01", "2026-09-01", CH_EMAIL, DS_SENT, 0);
	make_rec(&rec[3], 4, "quarterly", "a4", "2026-11-01", "2026-11-01", CH_EMAIL, DS_FAILED, 0);
	make_rec(&rec[4], 5, "quarterly", "a4", "2026-05-01", "2026-05-01", CH_EMAIL, DS_UNKNOWN, 0);
	make_rec(&rec[5], 6, "birthday", "a4", "2025-12-01", "2025-11-20", CH_CARD, DS_RENDERED, 1200);
	make_rec(&rec[6], 7, "birthday", "a5", "2026-11-01", "2026-10-20", CH_CARD, DS_MAILED, 350);

	memset(&rs, 0, sizeof rs);
	rs.has_budget = 1;
	rs.budget_cents = 100000;
	rs.budget_per = PER_QUARTER;
	memset(&in, 0, sizeof in);
	in.rs = &rs;
	in.today = D("2026-11-23");
	in.from = DAY_NONE;
	in.to = DAY_NONE;
	in.silence_weeks = 8;
	CHECK(build(&in, sh, rec, &d, err) == 0, "report_data built (%s)", err);

	CHECK(d.stakeholders == 4 && d.opted_out == 1, "opted-out stakeholders are counted apart (%ld, %ld)",
	      d.stakeholders, d.opted_out);
	CHECK(d.ncov > 0 && strcmp(d.cov[0].dimension, "all") == 0, "coverage starts with everyone");
	CHECK(d.cov[0].reached[0] == 1 && d.cov[0].reached[1] == 1 && d.cov[0].reached[2] == 2,
	      "everyone: 1 in 30 days (a1 on 10 Nov), 1 in 60, 2 in 90 (a3 on 1 Sep) (%ld %ld %ld)",
	      d.cov[0].reached[0], d.cov[0].reached[1], d.cov[0].reached[2]);
	for (size_t i = 0; i < d.ncov; i++)
		if (strcmp(d.cov[i].dimension, "tier") == 0 && strcmp(d.cov[i].segment, "gold") == 0)
			CHECK(d.cov[i].total == 2 && d.cov[i].reached[2] == 1, "gold: 2 stakeholders (a5 opted out), 1 reached");
	for (size_t i = 0; i < d.ncov; i++)
		if (strcmp(d.cov[i].dimension, "tier") == 0 && strcmp(d.cov[i].segment, "(none)") == 0)
			CHECK(d.cov[i].total == 1, "an empty tier is its own segment, (none)");

	/* Silences: a3 was reached on 1 Sep (83 days ago); a4 only by a card a year back. */
	CHECK(d.nsil == 2, "two silences over 8 weeks (%zu)", d.nsil);
	if (d.nsil == 2) {
		struct report_silence s;
		report_data_silence(&d, 0, &s);
		CHECK_STR(s.id, "a4", "the longest first: a4, whose failed and unknown mails are not contact");
		CHECK(s.last == D("2025-11-20") && s.days == D("2026-11-23") - D("2025-11-20"),
		      "a4 silent since its last card (rendered counts as contact)");
		CHECK(s.last_rule && strcmp(s.last_rule, "birthday") == 0 && strcmp(s.type, "customer") == 0 &&
		      strcmp(s.tier, "gold") == 0 && strcmp(s.name, "Ann") == 0, "a4's rule, type, tier and name read back");
		report_data_silence(&d, 1, &s);
		CHECK_STR(s.id, "a3", "then a3 (83 days)");
		CHECK(!report_data_broken(&d), "the silences were read back");
	}
	CHECK(d.total == 7 && d.total_cost_cents == 350 + 1200 + 350, "all 7 records counted; cost of what went out");
	CHECK(d.nattention == 2 && d.attention[0].id == 4 && strcmp(d.attention[0].error, "550 no such user") == 0,
	      "failed and unknown need a person, kept with their error (%zu)", d.nattention);
	CHECK(d.months[REPORT_MONTHS - 1].year == 2026 && d.months[REPORT_MONTHS - 1].month == 11 &&
	      d.months[REPORT_MONTHS - 1].count[0] == 1, "November 2026: one card");
	CHECK(d.months[0].year == 2025 && d.months[0].month == 12, "twelve months back: December 2025");
	CHECK(d.nbudget >= 2 && strcmp(d.budget[0].label, "2025-Q4") == 0 && d.budget[0].spent_cents == 1200 &&
	      d.budget[0].budget_cents == 100000, "quarterly budget: 2025-Q4 spent 12.00 of 1000.00");
	CHECK(strcmp(d.budget[d.nbudget - 1].label, "2026-Q4") == 0 && d.budget[d.nbudget - 1].spent_cents == 700,
	      "2026-Q4 spent 7.00 (a5's card counts in cost though a5 opted out later)");
	report_data_free(&d);

	/* --from/--to: counts by occasion date, reference date for coverage. */
	in.from = D("2026-08-01");
	in.to = D("2026-09-30");
	CHECK(build(&in, sh, rec, &d, err) == 0, "with --from and --to");
	CHECK(d.total == 2, "two occasions between 1 August and 30 September (%ld)", d.total);
	CHECK(d.cov[0].reached[0] == 1, "coverage as of 30 September: a3 reached 1 Sep within 30 days");
	report_data_free(&d);
	in.from = D("2026-10-01");
	CHECK(build(&in, sh, rec, &d, err) != 0, "--from after --to is refused");
	report_data_free(&d);

	/* Two contacts on the same day: the last rule is the one first in the log's order (fire_at, id). */
	{
		struct dispatch_rec two[2];
		struct report_silence s;
		make_rec(&two[0], 9, "partner", "a1", "2025-01-01", "2025-01-01", CH_EMAIL, DS_SENT, 0);
		make_rec(&two[1], 8, "birthday", "a1", "2025-01-01", "2025-01-01", CH_EMAIL, DS_SENT, 0);
		two[0].fire_at = 100;
		two[1].fire_at = 200;
		in.from = in.to = DAY_NONE;
		CHECK(report_data_begin(&in, &d, err) == 0 && report_data_add_stakeholder(&d, &sh[0], two, 2, err) == 0 &&
		      report_data_end(&d, err) == 0, "one stakeholder, two contacts a day");
		report_data_silence(&d, 0, &s);
		CHECK(d.nsil == 1 && s.last_rule && strcmp(s.last_rule, "partner") == 0,
		      "the earlier fire time wins the tie, whatever the record ids");
		report_data_free(&d);
		dispatch_rec_clear(&two[0]);
		dispatch_rec_clear(&two[1]);
	}

	for (int i = 0; i < 5; i++)
		stakeholder_clear(&sh[i]);
	for (int i = 0; i < 7; i++)
		dispatch_rec_clear(&rec[i]);
	many_silences();
	return check_done();
}
