/*
 * planner internals shared by planner_rules.c (what the rules make of one stakeholder: its
 * occasions, audience, channel, variant and times) and planner.c (the plan: what is kept of
 * each item, surprise, fire order, due states and limits). Not a public header.
 */
#ifndef OCCASIOND_PLANNER_INT_H
#define OCCASIOND_PLANNER_INT_H

#include "occasiond/planner.h"

/* One stakeholder with what is its own: the unit the rules are applied to. */
struct sh_in {
	const struct stakeholder *sh;
	const struct event *ev;                 /* its events */
	size_t nev;
	const struct dispatch_rec *hist;        /* its dispatch records (at most once) */
	size_t nhist;
	day_t last;                             /* the last day a dispatch went out, or DAY_NONE */
};

struct ctx;
/* A sink takes each item the rules make (its times not yet set: planner_set_times). */
typedef void (*plan_sink)(struct ctx *c, struct plan_item *it, const struct sh_in *s);

/* What the rules need: set up once (planner_ctx_rules), lo and hi set per rule. */
struct ctx {
	const struct config *cfg;
	const struct ruleset *rs;
	plan_sink sink;
	void *sink_arg;
	day_t lo, hi;                 /* occasion dates looked at */
	int *field;                   /* per rule: the standard field of anniversary_of/every, or -1 */
	struct years {                /* per rule: the years of lo and hi, remembered */
		day_t lo, hi;
		int ylo, mlo, yhi;
		day_t fixed[4];       /* a yearly date's days in the range, when few (nfixed >= 0) */
		int nfixed;
	} *years;
};

/* planner_ctx_rules: the per-rule lookups (c->field); planner_ctx_rules_free frees them. */
void planner_ctx_rules(struct ctx *c, const struct config *cfg, const struct ruleset *rs);
void planner_ctx_rules_free(struct ctx *c);
/* planner_occasions: every occasion of rule r (not surprise) for s within [c->lo, c->hi] to the sink. */
void planner_occasions(struct ctx *c, const struct rule *r, const struct sh_in *s);
/* planner_emit: one occasion on day d: audience, at-most-once, channel and variants, then the sink. */
void planner_emit(struct ctx *c, const struct rule *r, const struct sh_in *s, day_t d, long years);
/* planner_set_times: fire date, fire instant, mail-by date and deadline for the item's channel. */
void planner_set_times(const struct ctx *c, struct plan_item *it);
/* planner_reachable: a surprise only goes to someone the rule's channel can reach. */
int planner_reachable(const struct rule *r, const struct stakeholder *sh);
/* planner_has_email: the stakeholder has an email address. */
int planner_has_email(const struct stakeholder *sh);
/* planner_lead_bound: an upper bound in days of the rule's lead (the occasions looked at ahead). */
long planner_lead_bound(const struct config *cfg, const struct rule *r);
/* planner_duration_bound: an upper bound in days of a duration. */
long planner_duration_bound(const struct duration *d);
/* planner_budget_key: the budget period of a day, and its name for people (name may be NULL). */
long planner_budget_key(int per, day_t day, char *name, size_t size);
/* planner_money_grouped: "4,996.50". */
void planner_money_grouped(int64_t cents, char *buf, size_t size);

/* The notes the rules and the due states write (the plan keeps their index). */
enum {
	NOTE_NONE, NOTE_NO_POSTAL_EMAIL, NOTE_NO_EMAIL_CARD, NOTE_NO_ADDRESS, NOTE_NO_EMAIL, NOTE_HAND_OVER,
	NOTE_LEAD_SHORT, NOTE_CARD_LATE, NOTE__FIXED, NOTE_LIMIT = NOTE__FIXED, NOTE_BUDGET
};
extern const char *const planner_notes[NOTE__FIXED];

#endif
