/*
 * report_data: the measurements behind `report`: coverage, the longest silences, dispatches
 * by occasion x channel x status, dispatches per month, cost against the budget, the
 * signing load ahead and what needs a person. A pure computation over the stakeholders,
 * the dispatch records and the plan of the days ahead; printing is report_data_print
 * (table, json) and report_html (one self-contained page).
 *
 * "Reached" means a dispatch that went out: sent, rendered, printed, signed or mailed, on its
 * fire date. queued, retry and unknown are not (yet) contact; unknown is listed as needing a
 * person. Opted-out stakeholders are left out of coverage and silences.
 */
#ifndef OCCASIOND_REPORT_DATA_H
#define OCCASIOND_REPORT_DATA_H

#include <stdio.h>

#include "occasiond/config.h"
#include "occasiond/dates.h"
#include "occasiond/model.h"
#include "occasiond/planner.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

#define REPORT_COVERAGE_WINDOWS 3      /* 30, 60, 90 days */
extern const int report_coverage_days[REPORT_COVERAGE_WINDOWS];
#define REPORT_MONTHS 12               /* the per-month chart */
#define REPORT_WEEKS_AHEAD 13          /* signing load and calendar: 91 days */

struct report_coverage {
	char *dimension;   /* "all", "type" or "tier" */
	char *segment;     /* "all", "customer", "gold", "(none)" ... */
	long total;
	long reached[REPORT_COVERAGE_WINDOWS];
};

/* A silence, as report_data_silence hands it out: strings valid until the next call. */
struct report_silence {
	const char *id, *name, *type, *tier, *owner;
	day_t last;        /* last contact, DAY_NONE when never */
	day_t since;       /* last contact, else the relationship's start, else DAY_NONE */
	long days;         /* days silent as of the reference date, -1 when unknown (never, no start) */
	const char *last_rule;   /* the rule of the last contact, or NULL */
};

struct report_tally {
	char *rule;
	int channel;
	int status;
	long count;
	int64_t cost_cents;
};

struct report_month {
	int year, month;
	long count[2];     /* CH_CARD, CH_EMAIL: dispatches that went out */
	int64_t cost_cents;
};

struct report_budget {
	char label[24];    /* "2026", "2026-Q4", "2026-11" */
	day_t start, end;  /* inclusive */
	int64_t spent_cents;    /* went out, fire date in the period */
	int64_t planned_cents;  /* in the plan ahead, fire date in the period */
	int64_t budget_cents;   /* -1 when no budget is set */
};

struct report_load {
	char *signer;
	long cards[REPORT_WEEKS_AHEAD];   /* week k starts on the Monday of today's week + 7k */
};

/* A dispatch of the plan ahead, as report_data_upcoming hands it out: strings valid until the next call. */
struct report_upcoming {
	day_t date;        /* fire date */
	day_t occasion;
	const char *rule, *rule_name, *stakeholder, *name, *signer;
	int channel;
	int skipped;       /* limits would skip it */
	const char *note;
};

struct report_spill;   /* where the silences wait to be printed */

struct report_data {
	day_t today;       /* the day the report is made */
	day_t ref;         /* the reference date: --to, else today */
	day_t from;        /* DAY_NONE: all history */
	long silence_weeks;
	long stakeholders; /* not opted out */
	long opted_out;
	struct report_coverage *cov;
	size_t ncov;
	size_t nsil;                 /* silences, longest first: report_data_silence */
	struct report_tally *tally;  /* by rule, channel, status */
	size_t ntally;
	long total;
	int64_t total_cost_cents;    /* of dispatches that went out */
	struct report_month months[REPORT_MONTHS];   /* oldest first, the last is ref's month */
	struct report_budget *budget;
	size_t nbudget;
	int budget_per;              /* enum budget_period, or -1 when no budget */
	day_t week0;                 /* Monday of today's week */
	struct report_load *load;    /* by signer name */
	size_t nload;
	struct dispatch_rec *attention;   /* failed and unknown, in the log's order (id, rule, stakeholder,
	                                   * occasion_date, channel, status and error only) */
	size_t nattention;
	size_t nup;                  /* the next REPORT_WEEKS_AHEAD weeks by fire date: report_data_upcoming */
	/* private */
	const struct ruleset *rs;
	struct planner *plan;        /* its items in date order (planner_sort_dates) */
	size_t up0;                  /* the first item shown */
	struct plan_item *item;      /* report_data_upcoming's */
	struct report_spill *spill;
};

struct report_input {
	const struct config *cfg;
	const struct ruleset *rs;
	struct planner *plan;              /* finished, from today for REPORT_WEEKS_AHEAD weeks; or NULL.
	                                    * It must outlive the report_data, which puts its items in
	                                    * date order (planner_sort_dates). */
	day_t today;
	day_t from;                        /* DAY_NONE for all */
	day_t to;                          /* DAY_NONE for today */
	long silence_weeks;
};

/*
 * Building a report from any source, in memory that does not grow with the stakeholders
 * (the silences wait in a temporary file) nor with the records: report_data_begin, then
 * every stakeholder in id order (strcmp) with its records (hist: rule, fire_date and status
 * are read) through report_data_add_stakeholder, every record through report_data_add_record
 * (in the log's order: fire_at, id), and report_data_end. Each returns 0 or -1 with err;
 * after -1 only report_data_free is left to call. report_data_from_store does it all over
 * the store's scan.
 */
int report_data_begin(const struct report_input *in, struct report_data *d, char err[ERR_LEN]);
int report_data_add_stakeholder(struct report_data *d, const struct stakeholder *sh, const struct dispatch_rec *hist,
                                size_t nhist, char err[ERR_LEN]);
void report_data_add_record(struct report_data *d, const struct dispatch_rec *rec);
int report_data_end(struct report_data *d, char err[ERR_LEN]);
/* report_data_from_store: the whole report over st (its scan and its records). 0 or -1 with err. */
int report_data_from_store(const struct report_input *in, struct store *st, struct report_data *d, char err[ERR_LEN]);
void report_data_free(struct report_data *d);   /* zeroed or built; may be called twice */

/*
 * report_data_silence: silence i (0 .. nsil - 1) into *s; report_data_upcoming: the plan's
 * dispatch i (0 .. nup - 1) into *u. What they point to is valid until the next call of the
 * same function. A silence that cannot be read back comes out empty, and report_data_broken
 * then says 1: what was printed is wrong (the caller says so and fails).
 */
void report_data_silence(const struct report_data *d, size_t i, struct report_silence *s);
void report_data_upcoming(const struct report_data *d, size_t i, struct report_upcoming *u);
int report_data_broken(const struct report_data *d);

/* report_went_out: 1 for the statuses that count as contact. */
int report_went_out(int status);

/* report_data_print: table (for people) or json (for scripts) to fp. */
void report_data_print(FILE *fp, const struct config *cfg, const struct report_data *d, int json);

/* report_html: the whole report as one self-contained HTML page (inline CSS and SVG). */
void report_html(FILE *fp, const struct config *cfg, const struct report_data *d);

#endif
