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
	int variant;                  /* the rule's variant applied, -1 none */
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

/* A dispatch of the plan as text, as `plan` prints it. */
struct plan_row {
	int64_t fire_at;              /* UTC seconds */
	const char *at;               /* the fire time in its zone, "2026-12-01T09:00:00+01:00" */
	const char *occasion;         /* YYYY-MM-DD */
	const char *rule, *rule_name, *stakeholder, *name, *channel, *template_name, *signer;
	const char *cost;             /* "3.50" */
	const char *note;             /* for people, "" when none */
	const char *reason;           /* skipped: the record's reason, else NULL */
	const char *mail_by;          /* cards: YYYY-MM-DD, else NULL */
	int skipped;
	long years;                   /* -1 unknown */
};

/*
 * The streamed plan: planner_range's result for `plan`, built one stakeholder at a time in
 * memory that grows with what is planned (about 16 bytes a dispatch, and the id and name of
 * each stakeholder planned for), not with everything loaded. Usage: plan_stream_new, then
 * plan_stream_add for every stakeholder in id order, plan_stream_finish, then
 * plan_stream_row for 0 .. plan_stream_count - 1, and plan_stream_free (frees everything).
 */
struct plan_stream;
/* plan_stream_new: the plan of fire dates [from, to); cfg and rs must outlive it. */
struct plan_stream *plan_stream_new(const struct config *cfg, const struct ruleset *rs, day_t from, day_t to);
/*
 * plan_stream_fields: the stakeholder fields (mask of 1u << enum sh_field) the plan reads;
 * *custom: a rule reads a custom column; *events: a rule reads events.
 */
uint32_t plan_stream_fields(const struct ruleset *rs, int *custom, int *events);
/*
 * plan_stream_add: one stakeholder with its events (any order) and its dispatch records
 * (rule, occasion_date, fire_date, status and cost_cents are read). Ids must ascend (strcmp)
 * from call to call. Nothing passed in is kept.
 */
void plan_stream_add(struct plan_stream *ps, const struct stakeholder *sh, const struct event *ev, size_t nev,
                     const struct dispatch_rec *hist, size_t nhist);
/* plan_stream_finish: surprise picks, fire order and limits. Call once, after the last add. */
void plan_stream_finish(struct plan_stream *ps);
size_t plan_stream_count(const struct plan_stream *ps);
/* plan_stream_row: dispatch i in fire order; row's strings are valid until the next call or the free. */
void plan_stream_row(struct plan_stream *ps, size_t i, struct plan_row *row);
void plan_stream_free(struct plan_stream *ps);   /* NULL is fine */

#endif
