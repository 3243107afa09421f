/*
 * rules: the occasions file (CONTRACT §4): the business calendar, limits and the
 * occasion rules, parsed whole and validated; every problem is reported with FILE:LINE:COL.
 */
#ifndef OCCASIOND_RULES_H
#define OCCASIOND_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/dates.h"
#include "occasiond/model.h"
#include "occasiond/util.h"

enum when_kind {
	WHEN_DATE, WHEN_NTH_WEEKDAY, WHEN_ANNIVERSARY, WHEN_EVENT, WHEN_EVERY,
	WHEN_NO_CONTACT, WHEN_SURPRISE, WHEN__N
};
extern const char *const when_kind_names[WHEN__N];

enum budget_period { PER_MONTH, PER_QUARTER, PER_YEAR, PER_WEEK };

/* A list of accepted values (audience keys, variant matches); n == 0 means "any". */
struct strlist {
	char **v;
	size_t n;
};
int strlist_has(const struct strlist *l, const char *s);

struct variant {
	struct strlist tiers, types;
	long *years;            /* match when the occasion's year count is one of these */
	size_t nyears;
	int channel;            /* -1 any, else CH_CARD / CH_EMAIL (matches the resolved channel) */
	/* overrides, NULL / -1 when not given */
	char *template_name;
	int set_channel;
	int64_t cost_cents;     /* -1: not given */
	char *signer;
	long line, col;
};

struct rule {
	char *id;
	char *name;             /* label, defaults to the id */
	const char *file;       /* the rules file (owned by the ruleset) */
	long line, col;

	enum when_kind when;
	/* WHEN_DATE */
	int month, day;         /* yearly, or */
	day_t once;             /* DAY_NONE unless a one-off date */
	/* WHEN_NTH_WEEKDAY */
	int nth, weekday;       /* month in 'month' */
	/* WHEN_ANNIVERSARY / WHEN_EVERY (from) */
	char *field;
	long field_line, field_col;   /* where the field is named, for check's messages */
	long *years;            /* anniversary: only these year counts */
	size_t nyears;
	long every_years;       /* anniversary: every N years; 0 = every year */
	/* WHEN_EVENT */
	char *event_kind;
	/* WHEN_EVERY / WHEN_NO_CONTACT */
	struct duration period;
	/* WHEN_SURPRISE */
	long surprise_count;
	enum budget_period surprise_per;

	int has_lead;
	struct duration lead;
	int channel;            /* CH_CARD, CH_EMAIL, CH_PREFERRED */
	int fallback;           /* -1 none, else CH_EMAIL */
	int attach_card;
	char *template_name;
	int personal;
	struct strlist types, tiers;
	int has_min_tenure;
	struct duration min_tenure;
	long priority;
	int64_t cost_cents;
	struct duration late;
	char *signer;           /* or NULL: the stakeholder's owner */
	struct variant *variants;
	size_t nvariants;
};

struct ruleset {
	char **files;           /* the files read (owned) */
	size_t nfiles;
	struct calendar cal;
	const char *calendar_file;   /* the file that gave the calendar, or NULL (default) */
	const char *limits_file;
	int has_per_stakeholder;
	long per_stakeholder_max;
	struct duration per_stakeholder_within;
	int has_budget;
	int64_t budget_cents;
	enum budget_period budget_per;
	struct rule *rules;
	size_t nrules;
};

/*
 * rules_load: reads path (a file, or a directory whose *.yaml files are read in name order)
 * and validates it. Template existence is checked by the caller (check). Problems go to d.
 * Returns a new ruleset, or NULL when there was any error. Free with rules_free.
 */
struct ruleset *rules_load(const char *path, struct diags *d);
void rules_free(struct ruleset *rs);
/* rules_find: the rule with this id, or NULL. */
const struct rule *rules_find(const struct ruleset *rs, const char *id);

#endif
