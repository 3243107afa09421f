/* report_print: the measurements of `report` (report_data.c) as a table for people and as JSON for scripts. */
#include "occasiond/report_data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/table.h"

static void pct(long part, long whole, char *buf, size_t size)
{
	if (whole <= 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%ld%%", (part * 100 + whole / 2) / whole);
}

static void iso_or(day_t day, const char *none, char buf[16])
{
	if (day == DAY_NONE)
		snprintf(buf, 16, "%s", none);
	else
		dates_format_iso(day, buf);
}

static void json_str_or_null(struct strbuf *js, const char *s)
{
	if (s && *s)
		sb_add_json_str(js, s);
	else
		sb_adds(js, "null");
}

static void json_day(struct strbuf *js, day_t day)
{
	char b[11];
	if (day == DAY_NONE) {
		sb_adds(js, "null");
		return;
	}
	dates_format_iso(day, b);
	sb_add_json_str(js, b);
}

/* spill: what js holds so far to fp once it is large: the whole report may not fit in memory. */
static void spill(struct strbuf *js, FILE *fp)
{
	if (js->len >= 1 << 16) {
		fputs(js->s, fp);
		sb_reset(js);
	}
}

static void print_json(FILE *fp, const struct report_data *d)
{
	struct strbuf js = {0};
	char c[32], c2[32], c3[32];
	sb_adds(&js, "{\"from\": ");
	json_day(&js, d->from);
	sb_adds(&js, ", \"to\": ");
	json_day(&js, d->ref);
	sb_adds(&js, ", \"today\": ");
	json_day(&js, d->today);
	sb_addf(&js, ", \"silence_weeks\": %ld, \"stakeholders\": %ld, \"opted_out\": %ld,\n\"coverage\": [",
	        d->silence_weeks, d->stakeholders, d->opted_out);
	for (size_t i = 0; i < d->ncov; i++) {
		const struct report_coverage *cv = &d->cov[i];
		sb_adds(&js, i ? ",\n  {\"dimension\": " : "\n  {\"dimension\": ");
		sb_add_json_str(&js, cv->dimension);
		sb_adds(&js, ", \"segment\": ");
		sb_add_json_str(&js, cv->segment);
		sb_addf(&js, ", \"stakeholders\": %ld", cv->total);
		for (int w = 0; w < REPORT_COVERAGE_WINDOWS; w++)
			sb_addf(&js, ", \"reached_%d\": %ld, \"share_%d\": %.4f", report_coverage_days[w], cv->reached[w],
			        report_coverage_days[w], cv->total ? (double)cv->reached[w] / (double)cv->total : 0.0);
		sb_adds(&js, "}");
	}
	sb_adds(&js, "],\n\"silences\": [");
	for (size_t i = 0; i < d->nsil; i++) {
		struct report_silence sil, *s = &sil;
		report_data_silence(d, i, s);
		spill(&js, fp);
		sb_adds(&js, i ? ",\n  {\"stakeholder\": " : "\n  {\"stakeholder\": ");
		sb_add_json_str(&js, s->id);
		sb_adds(&js, ", \"name\": ");
		sb_add_json_str(&js, s->name);
		sb_adds(&js, ", \"type\": ");
		json_str_or_null(&js, s->type);
		sb_adds(&js, ", \"tier\": ");
		json_str_or_null(&js, s->tier);
		sb_adds(&js, ", \"owner\": ");
		json_str_or_null(&js, s->owner);
		sb_adds(&js, ", \"last_contact\": ");
		json_day(&js, s->last);
		sb_adds(&js, ", \"last_rule\": ");
		json_str_or_null(&js, s->last_rule);
		sb_adds(&js, ", \"silent_since\": ");
		json_day(&js, s->since);
		if (s->days >= 0)
			sb_addf(&js, ", \"silent_days\": %ld}", s->days);
		else
			sb_adds(&js, ", \"silent_days\": null}");
	}
	util_format_money(d->total_cost_cents, c, sizeof c);
	sb_addf(&js, "],\n\"total\": %ld, \"cost\": %s,\n\"by_occasion\": [", d->total, c);
	for (size_t i = 0; i < d->ntally; i++) {
		const struct report_tally *t = &d->tally[i];
		util_format_money(t->cost_cents, c, sizeof c);
		sb_adds(&js, i ? ",\n  {\"rule\": " : "\n  {\"rule\": ");
		sb_add_json_str(&js, t->rule);
		sb_addf(&js, ", \"channel\": \"%s\", \"status\": \"%s\", \"count\": %ld, \"cost\": %s}",
		        channel_names[t->channel], dispatch_status_names[t->status], t->count, c);
	}
	sb_adds(&js, "],\n\"by_month\": [");
	for (int k = 0; k < REPORT_MONTHS; k++) {
		const struct report_month *m = &d->months[k];
		util_format_money(m->cost_cents, c, sizeof c);
		sb_addf(&js, "%s{\"month\": \"%04d-%02d\", \"card\": %ld, \"email\": %ld, \"cost\": %s}", k ? ",\n  " : "\n  ",
		        m->year, m->month, m->count[0], m->count[1], c);
	}
	sb_addf(&js, "],\n\"budget_per\": %s, \"budget\": [",
	        d->budget_per == PER_YEAR ? "\"year\"" : d->budget_per == PER_QUARTER ? "\"quarter\""
	        : d->budget_per == PER_MONTH ? "\"month\"" : "null");
	for (size_t i = 0; i < d->nbudget; i++) {
		const struct report_budget *b = &d->budget[i];
		util_format_money(b->spent_cents, c, sizeof c);
		util_format_money(b->planned_cents, c2, sizeof c2);
		util_format_money(b->budget_cents, c3, sizeof c3);
		sb_addf(&js, "%s{\"period\": \"%s\", \"start\": ", i ? ",\n  " : "\n  ", b->label);
		json_day(&js, b->start);
		sb_adds(&js, ", \"end\": ");
		json_day(&js, b->end);
		sb_addf(&js, ", \"spent\": %s, \"planned\": %s, \"budget\": %s}", c, c2, b->budget_cents >= 0 ? c3 : "null");
	}
	sb_adds(&js, "],\n\"signer_load\": [");
	{
		int first = 1;
		for (size_t i = 0; i < d->nload; i++)
			for (int w = 0; w < REPORT_WEEKS_AHEAD; w++) {
				if (!d->load[i].cards[w])
					continue;
				sb_adds(&js, first ? "\n  {\"signer\": " : ",\n  {\"signer\": ");
				first = 0;
				sb_add_json_str(&js, d->load[i].signer);
				sb_adds(&js, ", \"week\": ");
				json_day(&js, d->week0 + 7 * w);
				sb_addf(&js, ", \"cards\": %ld}", d->load[i].cards[w]);
			}
	}
	sb_adds(&js, "],\n\"attention\": [");
	for (size_t i = 0; i < d->nattention; i++) {
		const struct dispatch_rec *r = &d->attention[i];
		spill(&js, fp);
		sb_addf(&js, "%s{\"id\": %lld, \"rule\": ", i ? ",\n  " : "\n  ", (long long)r->id);
		sb_add_json_str(&js, r->rule);
		sb_adds(&js, ", \"stakeholder\": ");
		sb_add_json_str(&js, r->stakeholder);
		sb_adds(&js, ", \"occasion_date\": ");
		sb_add_json_str(&js, r->occasion_date);
		sb_addf(&js, ", \"channel\": \"%s\", \"status\": \"%s\", \"error\": ", channel_names[r->channel],
		        dispatch_status_names[r->status]);
		json_str_or_null(&js, r->error);
		sb_adds(&js, "}");
	}
	sb_adds(&js, "],\n\"upcoming\": [");
	for (size_t i = 0; i < d->nup; i++) {
		struct report_upcoming up, *u = &up;
		report_data_upcoming(d, i, u);
		spill(&js, fp);
		sb_adds(&js, i ? ",\n  {\"fire_date\": " : "\n  {\"fire_date\": ");
		json_day(&js, u->date);
		sb_adds(&js, ", \"occasion_date\": ");
		json_day(&js, u->occasion);
		sb_adds(&js, ", \"rule\": ");
		sb_add_json_str(&js, u->rule);
		sb_adds(&js, ", \"stakeholder\": ");
		sb_add_json_str(&js, u->stakeholder);
		sb_adds(&js, ", \"name\": ");
		sb_add_json_str(&js, u->name);
		sb_addf(&js, ", \"channel\": \"%s\", \"signer\": ", channel_names[u->channel]);
		json_str_or_null(&js, u->signer);
		sb_addf(&js, ", \"skipped\": %s}", u->skipped ? "true" : "false");
	}
	sb_adds(&js, "]}\n");
	fputs(js.s, fp);
	sb_free(&js);
}

static void heading(FILE *fp, const char *title, int first)
{
	fprintf(fp, "%s%s\n", first ? "" : "\n", title);
}

static void print_table(FILE *fp, const struct report_data *d)
{
	struct table t;
	char a[16], b[16], c[32], c2[32], c3[32], n1[24], n2[24], n3[24];

	iso_or(d->from, "the start", a);
	iso_or(d->ref, "", b);
	fprintf(fp, "Report from %s to %s: %ld %s (%ld opted out, not counted)\n", a, b, d->stakeholders,
	        util_plural(d->stakeholders, "stakeholder", "stakeholders"), d->opted_out);

	heading(fp, "Coverage: share reached in the last 30, 60 and 90 days", 0);
	tbl_init(&t, 6);
	tbl_add(&t, (const char *const[]){"SEGMENT", "", "STAKEHOLDERS", "30 DAYS", "60 DAYS", "90 DAYS"});
	for (size_t i = 0; i < d->ncov; i++) {
		const struct report_coverage *cv = &d->cov[i];
		char tot[24], p[REPORT_COVERAGE_WINDOWS][24];
		snprintf(tot, sizeof tot, "%ld", cv->total);
		for (int w = 0; w < REPORT_COVERAGE_WINDOWS; w++)
			pct(cv->reached[w], cv->total, p[w], sizeof p[w]);
		tbl_add(&t, (const char *const[]){cv->dimension, cv->segment, tot, p[0], p[1], p[2]});
	}
	tbl_print(fp, &t);
	tbl_free(&t);

	{
		char title[96];
		snprintf(title, sizeof title, "Silences: no dispatch for more than %ld %s (%zu)", d->silence_weeks,
		         util_plural(d->silence_weeks, "week", "weeks"), d->nsil);
		heading(fp, title, 0);
	}
	{
		/* Too many rows to hold, perhaps: measured in one pass, printed in a second. */
		static const char *const head[6] = {"STAKEHOLDER", "NAME", "OWNER", "LAST CONTACT", "WEEKS",
		                                    "LAST OCCASION"};
		size_t w[6] = {0};
		tbl_measure(w, 6, head);
		for (int pass = 0; pass < 2; pass++) {
			if (pass)
				tbl_print_row(fp, w, 6, head);
			for (size_t i = 0; i < d->nsil; i++) {
				struct report_silence s;
				char weeks[24];
				const char *row[6];
				report_data_silence(d, i, &s);
				iso_or(s.last, "never", a);
				if (s.days >= 0)
					snprintf(weeks, sizeof weeks, "%ld", s.days / 7);
				else
					snprintf(weeks, sizeof weeks, "?");
				row[0] = s.id, row[1] = s.name, row[2] = s.owner, row[3] = a, row[4] = weeks;
				row[5] = s.last_rule ? s.last_rule : "";
				if (pass)
					tbl_print_row(fp, w, 6, row);
				else
					tbl_measure(w, 6, row);
			}
		}
	}

	heading(fp, "Dispatches by occasion, channel and status (occasion dates in the period)", 0);
	tbl_init(&t, 5);
	tbl_add(&t, (const char *const[]){"OCCASION", "CHANNEL", "STATUS", "COUNT", "COST"});
	for (size_t i = 0; i < d->ntally; i++) {
		const struct report_tally *x = &d->tally[i];
		snprintf(n1, sizeof n1, "%ld", x->count);
		util_format_money(x->cost_cents, c, sizeof c);
		tbl_add(&t, (const char *const[]){x->rule, channel_names[x->channel], dispatch_status_names[x->status], n1,
		                                  c});
	}
	snprintf(n1, sizeof n1, "%ld", d->total);
	util_format_money(d->total_cost_cents, c, sizeof c);
	tbl_add(&t, (const char *const[]){"total", "", "", n1, c});
	tbl_print(fp, &t);
	tbl_free(&t);

	heading(fp, d->budget_per >= 0 ? "Cost against the budget" : "Cost per month (no budget set)", 0);
	tbl_init(&t, 5);
	tbl_add(&t, (const char *const[]){"PERIOD", "SPENT", "PLANNED", "BUDGET", "USED"});
	for (size_t i = 0; i < d->nbudget; i++) {
		const struct report_budget *bu = &d->budget[i];
		char used[24];
		util_format_money(bu->spent_cents, c, sizeof c);
		util_format_money(bu->planned_cents, c2, sizeof c2);
		if (bu->budget_cents >= 0) {
			util_format_money(bu->budget_cents, c3, sizeof c3);
			pct((long)(bu->spent_cents + bu->planned_cents), (long)bu->budget_cents, used, sizeof used);
		} else {
			snprintf(c3, sizeof c3, "-");
			snprintf(used, sizeof used, "-");
		}
		tbl_add(&t, (const char *const[]){bu->label, c, c2, c3, used});
	}
	tbl_print(fp, &t);
	tbl_free(&t);

	heading(fp, "Signing load: cards per signer per week ahead (week of Monday)", 0);
	if (!d->nload) {
		fprintf(fp, "no cards planned in the next %d weeks\n", REPORT_WEEKS_AHEAD);
	} else {
		size_t nweeks = 0;
		int weeks[REPORT_WEEKS_AHEAD];
		for (int w = 0; w < REPORT_WEEKS_AHEAD; w++) {
			int any = 0;
			for (size_t i = 0; i < d->nload; i++)
				any |= d->load[i].cards[w] > 0;
			if (any)
				weeks[nweeks++] = w;
		}
		tbl_init(&t, nweeks + 1);
		{
			const char **row = xcalloc(nweeks + 1, sizeof *row);
			char (*lab)[11] = xcalloc(nweeks ? nweeks : 1, sizeof *lab);
			row[0] = "SIGNER";
			for (size_t k = 0; k < nweeks; k++) {
				dates_format_iso(d->week0 + 7 * weeks[k], lab[k]);
				row[k + 1] = lab[k] + 5;   /* MM-DD */
			}
			tbl_add(&t, row);
			for (size_t i = 0; i < d->nload; i++) {
				char (*num)[24] = xcalloc(nweeks ? nweeks : 1, sizeof *num);
				row[0] = d->load[i].signer;
				for (size_t k = 0; k < nweeks; k++) {
					snprintf(num[k], sizeof num[k], "%ld", d->load[i].cards[weeks[k]]);
					row[k + 1] = num[k];
				}
				tbl_add(&t, row);
				free(num);
			}
			free(lab);
			free(row);
		}
		tbl_print(fp, &t);
		tbl_free(&t);
	}

	{
		char title[96];
		snprintf(title, sizeof title, "Needs a person: failed and unknown dispatches (%zu)", d->nattention);
		heading(fp, title, 0);
	}
	tbl_init(&t, 6);
	tbl_add(&t, (const char *const[]){"ID", "OCCASION", "STAKEHOLDER", "DATE", "STATUS", "ERROR"});
	for (size_t i = 0; i < d->nattention; i++) {
		const struct dispatch_rec *r = &d->attention[i];
		snprintf(n1, sizeof n1, "%lld", (long long)r->id);
		tbl_add(&t, (const char *const[]){n1, r->rule, r->stakeholder, r->occasion_date,
		                                  dispatch_status_names[r->status], r->error ? r->error : ""});
	}
	tbl_print(fp, &t);
	tbl_free(&t);
	(void)n2;
	(void)n3;
}

void report_data_print(FILE *fp, const struct config *cfg, const struct report_data *d, int json)
{
	(void)cfg;
	if (json)
		print_json(fp, d);
	else
		print_table(fp, d);
}
