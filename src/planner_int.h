/*
 * planner internals shared by planner_rules.c (what the rules make of one stakeholder: its
 * occasions, audience, channel, variant and times), planner.c (the plan: what is kept of
 * each item, surprise, fire order, due states and limits) and planner_plan.c (the plan read
 * out, and the store as its source). Not a public header.
 */
#ifndef OCCASIOND_PLANNER_INT_H
#define OCCASIOND_PLANNER_INT_H

#include "occasiond/planner.h"

#include <string.h>

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

/* ---- the plan (planner.c), read out by planner_plan.c ---- */

#define NONE32 UINT32_MAX

/* Everything items share but the stakeholder: the key, and what planner_set_times gives. */
struct pgroup {
	uint32_t rule, zone;
	int variant, channel;
	day_t occasion;
	day_t fire_date, mail_by;
	int64_t fire_at, deadline;
	int lead_note;                /* fires after its mail-by date */
	uint32_t next;                /* hash chain, index + 1 */
};

/* pitem.state: the plan_state in the low bits; a card too late to post goes as an email. */
#define ST_MASK 0x0f
#define ST_FALLBACK 0x80

struct pitem {
	uint32_t sh;                  /* the stakeholder's number (ascends with the id) */
	uint32_t group;
	/* standing: the previous standing item of the stakeholder (position + 1, 0 none);
	 * skipped by limit: the count; by budget: index into budget_spent */
	uint32_t aux;
	int16_t years;
	uint8_t state;                /* enum plan_state, | ST_FALLBACK */
	uint8_t note;                 /* NOTE_* */
};

/*
 * A stakeholder planned for is a number (pitem.sh, cand.sh): they ascend with the ids, as
 * stakeholders are added. ps->rec[sh] is where its text is (planner_text.c), RF_DAYS set when
 * it has days of dispatches near the plan (ps->days: what per_stakeholder counts).
 */
#define RF_DAYS 0x80000000u
#define RF_EMAIL 1u                   /* text flags: has an email address */

struct ptext;
/* What the text of a stakeholder holds; the strings valid until the next planner_text_get. */
struct ptext_rec {
	uint32_t owner;               /* index + 1 into owners, 0 none */
	uint32_t zone;                /* index into zones */
	uint32_t flags;               /* RF_EMAIL */
	const char *id, *name;        /* the id and the display name */
};
/*
 * planner_text_new: an empty text; spill: past its first keep bytes it may go to a temporary
 * file (else all of it stays in memory). planner_text_keep: keep changed while it is empty.
 */
struct ptext *planner_text_new(int spill, size_t keep);
void planner_text_keep(struct ptext *t, size_t keep);
void planner_text_free(struct ptext *t);   /* NULL is fine */
/* planner_text_add: one stakeholder's text; returns its offset (below RF_DAYS). Fatal on I/O errors. */
uint32_t planner_text_add(struct ptext *t, uint32_t owner, uint32_t zone, uint32_t flags, const char *id,
                          const char *name);
/* planner_text_get: the text at off into *r. Fatal on I/O errors. */
void planner_text_get(const struct ptext *t, uint32_t off, struct ptext_rec *r);

/* A surprise candidate: silent since last (before the period), and its item if picked. */
struct cand {
	day_t last;
	day_t day;                    /* the surprise's day (a pick counts as contact from then) */
	uint32_t sh;
	int has;                      /* it makes an item (in the range, not yet recorded) */
	struct pitem it;
};

struct speriod {
	day_t p, end;
	day_t biz[31];
	size_t nbiz, ntaken;
	struct cand *heap;            /* max-heap: the least silent on top */
	size_t n, cap;
};

struct srule {
	const struct rule *r;
	size_t k;
	struct speriod *per;
	size_t nper;
};

struct planner {
	struct ctx c;
	int due;                      /* due mode: at now; else range mode: fire dates [from, to) */
	day_t from, to;
	int64_t now, lookback, wake;
	day_t today;                  /* due mode: now's day in the config's zone */
	day_t lo;                     /* the first occasion date looked at */
	day_t anchor;                 /* the first day looked forward from (range: from; due: today) */
	day_t *hi;                    /* per rule: the last occasion date looked at */
	struct pgroup *groups;
	size_t ngroups, capgroups;
	uint32_t *rank;               /* per group: its place in fire order (same fire time, priority, rule: same rank) */
	uint32_t *gslot;              /* group hash, index + 1 */
	size_t gcap;
	struct pitem *items;
	size_t n, cap;
	uint32_t *rec;                /* per stakeholder planned for: its text's offset | RF_DAYS */
	size_t nrec, caprec;
	struct ptext *text;
	size_t keep_names;            /* range mode: bytes of text kept in memory */
	/* the days near the plan of those with RF_DAYS: per one, its number, the count, the days */
	int32_t *days;
	size_t ndays, capdays;
	uint32_t *dpos;               /* where each one's starts in days, in number order */
	size_t ndpos, capdpos;
	char **zones;                 /* interned zone names */
	size_t nzones;
	char **owners;                /* interned owners */
	size_t nowners;
	uint32_t *oslot;
	size_t ocap;
	uint32_t cfg_zone;
	/* the stakeholder being added */
	uint32_t cur_rec, cur_zone;
	struct cand *capture;         /* a surprise candidate's item goes here, not to items */
	/* limits */
	day_t contact_lo, contact_hi; /* contacts in [lo, hi) may count */
	long key_lo, nkeys;
	int64_t *spent;               /* per budget period from key_lo */
	int64_t *budget_spent;        /* the spent figure each budget skip shows */
	size_t nbudget;
	struct srule *sr;
	size_t nsr;
	int prio_first;               /* the sort's order: priority first (a pass's limits) */
	int date_order;               /* the sort's order: fire date, occasion, stakeholder (planner_sort_dates) */
	int finished;
};

/* planner_fallback_deadline: a card too late to post goes as an email, due until the end of the day itself. */
int64_t planner_fallback_deadline(const struct planner *ps, const struct pgroup *g, uint32_t zone);
/* planner_renew: a fresh, empty planner of pl's mode, range or instant. */
struct planner *planner_renew(const struct planner *pl);

#endif
