/*
 * planner: the pure function from (config, rules, stakeholders with their events and dispatch
 * history, a range of dates or an instant) to the dispatches that fire, in fire order. It never
 * reads the clock and never writes anything. One planner serves every command: `plan` and
 * `report` in range mode, a pass of `run` and `serve` in due mode, `preview` in range mode over
 * one stakeholder.
 *
 * It is fed one stakeholder at a time (planner_add: the store's scan in production, an array
 * in tests) and keeps a compact plan: per dispatch a few ids and numbers (16 bytes), per
 * stakeholder planned for 4 bytes in memory and its id, display name and owner written aside
 * (range mode: to a temporary file past 16 MiB), never the stakeholder itself. What
 * a dispatch needs beyond that (its stakeholder's other columns, its event's title) the caller
 * fetches again by id.
 */
#ifndef OCCASIOND_PLANNER_H
#define OCCASIOND_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/config.h"
#include "occasiond/dates.h"
#include "occasiond/model.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

enum plan_state {
	PS_DUE,       /* inside its window now: dispatch it */
	PS_WAITING,   /* fire time still ahead, or outside the send window now */
	PS_MISSED,    /* deadline passed within lookback: record skipped/missed */
	PS_SKIPPED,   /* record skipped with reason (no-address, limit, budget) */
};
extern const char *const plan_state_names[];

/*
 * One dispatch of the plan, as planner_item fills it. The pointers point into the rules (rule,
 * template, signer) and the planner (sh_id, name, zone): valid until planner_free, but for a
 * range plan's sh_id and name, valid until the next planner_item on that planner (a range plan
 * over many stakeholders reads them back from a temporary file).
 */
struct plan_item {
	const struct rule *rule;
	const char *sh_id;            /* the stakeholder's id */
	const char *name;             /* its display name (stakeholder_display_name) */
	day_t occasion;               /* D; for WHEN_EVENT the event's date (its kind is the rule's) */
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
	const char *reason;           /* the record's reason (skipped, missed, a late card as email), else NULL */
	char note[160];               /* for people: why a channel, what limits would do; "" when none */
};

struct planner;

/*
 * planner_new_range: a plan of the dispatches whose fire date is in [from, to) and that have no
 * record yet; states as seen from the start of each fire date (limits applied in fire order):
 * PS_WAITING, or PS_SKIPPED with a reason. For `plan`, `report`, `preview`. cfg and rs must
 * outlive the planner. Never NULL; free with planner_free.
 */
struct planner *planner_new_range(const struct config *cfg, const struct ruleset *rs, day_t from, day_t to);
/*
 * planner_new_due: what a pass must do at instant now: PS_DUE items (to dispatch), PS_MISSED
 * and PS_SKIPPED items (to record). Limits are applied in dispatch order (priority, then fire
 * order), counting every earlier item that stands as going out today. Never NULL.
 */
struct planner *planner_new_due(const struct config *cfg, const struct ruleset *rs, int64_t now);
void planner_free(struct planner *pl);   /* frees everything it holds; NULL is fine */

/*
 * planner_keep_names: range mode, before the first planner_add: how many bytes of the
 * stakeholders' ids, names, owners and zones stay in memory (default 16 MiB, some 400,000
 * stakeholders); past them they go to a temporary file and are read back as items are read
 * out. A command that holds much else (report) keeps less.
 */
void planner_keep_names(struct planner *pl, size_t bytes);

/*
 * planner_fields: what planner_add reads of a stakeholder: the returned mask of
 * (1u << enum sh_field) (other fields may be ""), *custom: a rule reads a custom column,
 * *events: a rule reads events (else ev may be empty). For store_scan_open.
 */
uint32_t planner_fields(const struct ruleset *rs, int *custom, int *events);

/*
 * planner_add: one stakeholder with its events (any order; kind and date are read) and its
 * dispatch records (rule, occasion_date, fire_date, status and cost_cents are read). Ids must
 * ascend (strcmp) from call to call. Nothing passed in is kept.
 */
void planner_add(struct planner *pl, const struct stakeholder *sh, const struct event *ev, size_t nev,
                 const struct dispatch_rec *hist, size_t nhist);
/* planner_finish: surprise picks, fire order, due states and limits. Call once, after the last add. */
void planner_finish(struct planner *pl);
/*
 * planner_sort_dates: range mode, after planner_finish: the items (their states decided in
 * fire order) in order of fire date, occasion date, stakeholder id, then fire order, for a
 * calendar (report). planner_item then reads them in that order.
 */
void planner_sort_dates(struct planner *pl);
/* planner_count: the items of the plan (after planner_finish). */
size_t planner_count(const struct planner *pl);
/* planner_item: item i (0 .. planner_count - 1) in fire order (or planner_sort_dates's) into *it. */
void planner_item(const struct planner *pl, size_t i, struct plan_item *it);
/*
 * planner_next_wake: due mode: the earliest instant after now at which something may become
 * due (INT64_MAX when nothing within the horizon). Range mode: INT64_MAX.
 */
int64_t planner_next_wake(const struct planner *pl);

/*
 * planner_from_store: *out a finished planner fed by the store's scan (one read snapshot, one
 * stakeholder at a time, in bounded memory); pl from planner_new_range or planner_new_due,
 * not yet fed. 0, or -1 with err (*out is then NULL and pl freed). On success *out is pl or a
 * fresh planner of the same mode (a scan restarted in id order); the caller frees *out.
 */
int planner_from_store(struct planner *pl, struct store *st, struct planner **out, char err[ERR_LEN]);

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

/*
 * planner_in_audience: 1 when sh is in r's audience on day d: not opted out, consent for a
 * personal rule, type and tier, and min_tenure reached by d (d DAY_NONE: tenure not tested).
 */
int planner_in_audience(const struct ruleset *rs, const struct rule *r, const struct stakeholder *sh, day_t d);

/*
 * planner_signer: who signs a dispatch of rule r (variant: index into r->variants, or -1) to a
 * recipient named name (display name) whose owner is owner ("" or NULL: none): the variant's
 * signer, else the rule's, else the owner, else the organization (cfg->org_name), else
 * "occasiond". A recipient never signs their own card: when the chosen signer is the
 * recipient's name, the owner signs instead (unless that is the recipient too), else the
 * organization. The string returned belongs to the rules, owner or config.
 */
const char *planner_signer(const struct config *cfg, const struct rule *r, int variant, const char *owner,
                           const char *name);

#endif
