/*
 * planner: the pure function from (config, rules, stakeholders, events, dispatch history,
 * now) to the dispatches that fire, in fire order. It never reads the clock and never
 * writes anything: `plan` prints its output, `run` and `serve` dispatch it.
 */
#ifndef OCCASIOND_PLANNER_H
#define OCCASIOND_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/config.h"
#include "occasiond/dates.h"
#include "occasiond/model.h"
#include "occasiond/rules.h"

enum plan_state {
	PS_DUE,       /* inside its window now: dispatch it */
	PS_WAITING,   /* fire time still ahead, or outside the send window now */
	PS_MISSED,    /* deadline passed within lookback: record skipped/missed */
	PS_SKIPPED,   /* record skipped with reason (no-address, limit, budget) */
};
extern const char *const plan_state_names[];

struct plan_item {
	const struct rule *rule;
	const struct stakeholder *sh;
	const struct event *ev;       /* WHEN_EVENT, else NULL */
	day_t occasion;               /* D */
	day_t fire_date;
	int64_t fire_at;
	int64_t deadline;
	day_t mail_by;                /* cards, else DAY_NONE */
	int channel;                  /* CH_CARD or CH_EMAIL, after preference, fallback and variants */
	const char *template_name;
	const char *signer;
	const char *zone;             /* the zone of fire_at */
	int64_t cost_cents;
	long years;                   /* years since the anniversary's date, -1 when unknown */
	long priority;
	enum plan_state state;
	const char *reason;           /* PS_SKIPPED / PS_MISSED: the record's reason */
	char note[160];               /* for people: why a channel, what limits would do */
};

struct plan_list {
	struct plan_item *v;
	size_t n;
};
void plan_list_free(struct plan_list *l);

struct plan_input {
	const struct config *cfg;
	const struct ruleset *rs;
	const struct stakeholder *sh;
	size_t nsh;
	const struct event *ev;
	size_t nev;
	const struct dispatch_rec *hist;   /* every dispatch record (at-most-once, last contact) */
	size_t nhist;
};

/*
 * planner_range: every dispatch whose fire date is in [from, to) and that has no record
 * yet, in fire order; states are as seen from the start of each fire date's window
 * (limits applied in order). For `plan`.
 */
int planner_range(const struct plan_input *in, day_t from, day_t to, struct plan_list *out, char err[ERR_LEN]);

/*
 * planner_due: what `run` must do at instant now: PS_DUE items (to dispatch),
 * PS_MISSED and PS_SKIPPED items (to record), in dispatch order (fire time, then priority).
 * *next_wake receives the earliest later instant at which something may become due
 * (INT64_MAX when none within the horizon).
 */
int planner_due(const struct plan_input *in, int64_t now, struct plan_list *out, int64_t *next_wake,
                char err[ERR_LEN]);

/*
 * planner_went_out: 1 when a record of this status counts as contact (last contact,
 * per_stakeholder, budget): everything but skipped, failed and cancelled.
 */
int planner_went_out(int status);

/* Periods of surprise (week from Monday, month) and budgets (month, quarter, year). */
day_t planner_period_start(int per, day_t day);   /* per: enum budget_period */
day_t planner_period_next(int per, day_t start);  /* the first day of the period after */
/* planner_surprise_hash: FNV-1a of (rule, period start, stakeholder id): picks the surprise's day. */
uint64_t planner_surprise_hash(const char *rule, day_t period, const char *sh_id);

/* planner_signer: the signer of a card or note: variant, rule, owner, else the organization. */
const char *planner_default_signer(const struct config *cfg, const struct stakeholder *sh);

#endif
