/* rules: the occasions file -> struct ruleset, validated whole. */
#include "occasiond/rules.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "occasiond/ytree.h"

const char *const when_kind_names[WHEN__N] = {
	"date", "nth_weekday", "anniversary_of", "event", "every", "no_contact_for", "surprise"
};

static const char *const top_keys[] = {"calendar", "limits", "occasions", NULL};
static const char *const calendar_keys[] = {"weekend", "holidays", NULL};
static const char *const limits_keys[] = {"per_stakeholder", "budget", NULL};
static const char *const pressure_keys[] = {"max", "within", NULL};
static const char *const budget_keys[] = {"amount", "per", NULL};
static const char *const rule_keys[] = {
	"id", "name", "when", "lead", "channel", "fallback", "attach_card", "template", "personal",
	"audience", "priority", "cost", "late", "signer", "variants", NULL
};
static const char *const when_keys[] = {
	"date", "nth_weekday", "anniversary_of", "years", "every_years", "event", "every", "from",
	"no_contact_for", "surprise", NULL
};
static const char *const nth_keys[] = {"n", "weekday", "month", NULL};
static const char *const surprise_keys[] = {"count", "per", NULL};
static const char *const audience_keys[] = {"type", "tier", "min_tenure", NULL};
static const char *const variant_keys[] = {
	"years", "tier", "type", "channel", "template", "use_channel", "cost", "signer", NULL
};
static const char *const stakeholder_types[] = {"customer", "employee", "partner", "supplier", "other"};
#define WEEKDAYS "monday to sunday"   /* what a weekday may be, in messages */
#define N_TYPES ((int)(sizeof stakeholder_types / sizeof *stakeholder_types))

int strlist_has(const struct strlist *l, const char *s)
{
	if (l->n == 0)
		return 1;
	for (size_t i = 0; i < l->n; i++)
		if (util_streq(l->v[i], s))
			return 1;
	return 0;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void rule_clear(struct rule *r)
{
	free(r->id);
	free(r->name);
	free(r->field);
	free(r->years);
	free(r->event_kind);
	free(r->template_name);
	free(r->signer);
	strlist_free(&r->types);
	strlist_free(&r->tiers);
	for (size_t i = 0; i < r->nvariants; i++) {
		struct variant *v = &r->variants[i];
		strlist_free(&v->tiers);
		strlist_free(&v->types);
		free(v->years);
		free(v->template_name);
		free(v->signer);
	}
	free(r->variants);
}

void rules_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nrules; i++)
		rule_clear(&rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs->cal.holidays);
	free(rs);
}

const struct rule *rules_find(const struct ruleset *rs, const char *id)
{
	for (size_t i = 0; i < rs->nrules; i++)
		if (strcmp(rs->rules[i].id, id) == 0)
			return &rs->rules[i];
	return NULL;
}

static int valid_name(const char *s, int allow_upper)
{
	if (!*s || strlen(s) > 64)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      (allow_upper && c >= 'A' && c <= 'Z')))
			return 0;
	}
	return 1;
}

static int get_years(const struct ynode *n, long **years, size_t *nyears, struct diags *d)
{
	size_t count = n->type == Y_SEQ ? n->n : 1;
	if (n->type == Y_MAP || count == 0) {
		ytree_diag(d, 0, n, "years: expected a number or a list of numbers");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const struct ynode *it = n->type == Y_SEQ ? n->items[i] : n;
		long y;
		if (ytree_long(it, "years", 0, 1000, &y, d) != 0)
			return -1;
		if (y == 0) {
			ytree_diag(d, 0, it, "years: 0 never fires (the occasion's own day is year 0)");
			return -1;
		}
		*years = xreallocarray(*years, *nyears + 1, sizeof **years);
		(*years)[(*nyears)++] = y;
	}
	return 0;
}

/* The periods a budget and a surprise may be counted in, and what each means. */
static const char *const budget_pers[] = {"month", "quarter", "year"};
static const enum budget_period budget_per_of[] = {PER_MONTH, PER_QUARTER, PER_YEAR};
static const char *const surprise_pers[] = {"week", "month"};
static const enum budget_period surprise_per_of[] = {PER_WEEK, PER_MONTH};

static void parse_calendar(struct ruleset *rs, const struct ynode *cal, struct diags *d)
{
	const struct ynode *n;
	rs->cal.weekend = (1u << 0) | (1u << 6);
	if (!ytree_map(cal, "calendar", calendar_keys, d))
		return;
	if ((n = ytree_get(cal, "weekend"))) {
		rs->cal.weekend = 0;
		if (n->type != Y_SEQ) {
			ytree_diag(d, 0, n, "weekend: expected a list of weekdays, e.g. [saturday, sunday]");
		} else {
			for (size_t i = 0; i < n->n; i++) {
				int wd;
				if (ytree_enum(n->items[i], "weekend", dates_weekday_names, 7, WEEKDAYS, &wd, d) == 0)
					rs->cal.weekend |= 1u << wd;
			}
			if (rs->cal.weekend == 0x7f)
				ytree_diag(d, 0, n, "weekend: every day is a weekend day; no business day is left");
		}
	}
	if ((n = ytree_get(cal, "holidays"))) {
		if (n->type != Y_SEQ) {
			ytree_diag(d, 0, n, "holidays: expected a list such as [\"12-25\", \"2027-04-02\", \"easter-2\"]");
			return;
		}
		rs->cal.holidays = xcalloc(n->n, sizeof *rs->cal.holidays);
		for (size_t i = 0; i < n->n; i++) {
			const char *v = ytree_scalar(n->items[i], "holidays", d);
			if (!v)
				continue;
			if (dates_parse_holiday(v, &rs->cal.holidays[rs->cal.nholidays]) != 0)
				ytree_diag(d, 0, n->items[i], "holidays: '%s' is not MM-DD, YYYY-MM-DD or easter±N", v);
			else
				rs->cal.nholidays++;
		}
	}
}

static void parse_limits(struct ruleset *rs, const struct ynode *lim, struct diags *d)
{
	const struct ynode *n, *v;
	if (!ytree_map(lim, "limits", limits_keys, d))
		return;
	if ((n = ytree_get(lim, "per_stakeholder"))) {
		if (n->type != Y_MAP) {
			ytree_diag(d, 0, n, "per_stakeholder: expected {max: N, within: DURATION}");
		} else {
			ytree_check_keys(n, pressure_keys, "per_stakeholder", d);
			if (!(v = ytree_get(n, "max")) || !ytree_get(n, "within"))
				ytree_diag(d, 0, n, "per_stakeholder needs both max and within");
			else if (ytree_long(v, "max", 1, 1000, &rs->per_stakeholder_max, d) == 0 &&
			         ytree_duration(ytree_get(n, "within"), "within", &rs->per_stakeholder_within, d) == 0)
				rs->has_per_stakeholder = 1;
		}
	}
	if ((n = ytree_get(lim, "budget"))) {
		if (n->type != Y_MAP) {
			ytree_diag(d, 0, n, "budget: expected {amount: 5000.00, per: year}");
		} else {
			int per = 2;   /* year */
			ytree_check_keys(n, budget_keys, "budget", d);
			if (!ytree_get(n, "amount"))
				ytree_diag(d, 0, n, "budget needs an amount");
			else if (ytree_enum(ytree_get(n, "per"), "per", budget_pers, 3, NULL, &per, d) >= 0 &&
			         ytree_money(ytree_get(n, "amount"), "amount", &rs->budget_cents, d) == 0) {
				rs->budget_per = budget_per_of[per];
				rs->has_budget = 1;
			}
		}
	}
}

static void parse_when(struct rule *r, const struct ynode *w, struct diags *d)
{
	const struct ynode *kind_node = NULL, *n;
	int kinds = 0;
	if (!w) {
		diags_add(d, 0, "%s:%ld:%ld: error: rule '%s' has no 'when'", r->file, r->line, r->col, r->id);
		return;
	}
	if (w->type != Y_MAP) {
		ytree_diag(d, 0, w, "when must be a mapping such as {anniversary_of: birthday}");
		return;
	}
	ytree_check_keys(w, when_keys, "when", d);
	for (int k = 0; k < WHEN__N; k++) {
		if ((n = ytree_get(w, when_kind_names[k]))) {
			if (kinds++) {
				ytree_diag(d, 0, ytree_key(w, when_kind_names[k]),
				           "when holds two kinds ('%s' and '%s'); a rule has exactly one",
				           when_kind_names[r->when], when_kind_names[k]);
				return;
			}
			r->when = (enum when_kind)k;
			kind_node = n;
		}
	}
	if (!kinds) {
		ytree_diag(d, 0, w, "when needs one of date, nth_weekday, anniversary_of, event, every, no_contact_for, surprise");
		return;
	}
	if ((ytree_get(w, "years") || ytree_get(w, "every_years")) && r->when != WHEN_ANNIVERSARY)
		ytree_diag(d, 0, ytree_key(w, ytree_get(w, "years") ? "years" : "every_years"),
		           "years and every_years go with anniversary_of only");
	if (ytree_get(w, "from") && r->when != WHEN_EVERY)
		ytree_diag(d, 0, ytree_key(w, "from"), "from goes with every only");

	switch (r->when) {
	case WHEN_DATE: {
		const char *v = ytree_scalar(kind_node, "date", d);
		r->once = DAY_NONE;
		if (!v)
			break;
		if (dates_parse_iso(v, &r->once) == 0)
			break;
		r->once = DAY_NONE;
		if (strncmp(v, "--", 2) == 0 || dates_parse_md(v, &r->month, &r->day) != 0)
			ytree_diag(d, 0, kind_node, "date: expected \"MM-DD\" (every year) or \"YYYY-MM-DD\" (once), got '%s'", v);
		break;
	}
	case WHEN_NTH_WEEKDAY: {
		const struct ynode *nn, *wd, *mo;
		long nth = 0;
		const char *v;
		if (kind_node->type != Y_MAP) {
			ytree_diag(d, 0, kind_node, "nth_weekday: expected {n: 4, weekday: thursday, month: 11}");
			break;
		}
		ytree_check_keys(kind_node, nth_keys, "nth_weekday", d);
		nn = ytree_get(kind_node, "n");
		wd = ytree_get(kind_node, "weekday");
		mo = ytree_get(kind_node, "month");
		if (!nn || !wd || !mo) {
			ytree_diag(d, 0, kind_node, "nth_weekday needs n, weekday and month");
			break;
		}
		if (ytree_long(nn, "n", -1, 5, &nth, d) == 0 && nth == 0)
			ytree_diag(d, 0, nn, "n: 1 to 5, or -1 for the last");
		r->nth = (int)nth;
		ytree_enum(wd, "weekday", dates_weekday_names, 7, WEEKDAYS, &r->weekday, d);
		if ((v = ytree_scalar(mo, "month", d)) && (r->month = dates_parse_month(v)) < 0)
			ytree_bad_value(mo, "month", v, dates_month_names + 1, 12, "1-12 or a month's name", d);
		break;
	}
	case WHEN_ANNIVERSARY: {
		const char *v = ytree_scalar(kind_node, "anniversary_of", d);
		if (v && !valid_name(v, 1))
			ytree_diag(d, 0, kind_node, "anniversary_of: '%s' is not a column name", v);
		else if (v)
			r->field = xstrdup(v);
		r->field_line = kind_node->line;
		r->field_col = kind_node->col;
		if ((n = ytree_get(w, "years")))
			get_years(n, &r->years, &r->nyears, d);
		if ((n = ytree_get(w, "every_years"))) {
			if (r->nyears)
				ytree_diag(d, 0, n, "give years or every_years, not both");
			else
				ytree_long(n, "every_years", 1, 1000, &r->every_years, d);
		}
		break;
	}
	case WHEN_EVENT: {
		const char *v = ytree_scalar(kind_node, "event", d);
		if (v && !valid_name(v, 0))
			ytree_diag(d, 0, kind_node, "event: '%s' is not an event kind ([a-z0-9_-]+)", v);
		else if (v)
			r->event_kind = xstrdup(v);
		break;
	}
	case WHEN_EVERY: {
		const char *from = "customer_since";
		if (ytree_duration(kind_node, "every", &r->period, d) == 0 && r->period.n <= 0)
			ytree_diag(d, 0, kind_node, "every: the period must be longer than zero");
		if ((n = ytree_get(w, "from")) && (from = ytree_scalar(n, "from", d)) && !valid_name(from, 1)) {
			ytree_diag(d, 0, n, "from: '%s' is not a column name", from);
			from = NULL;
		}
		if (from)
			r->field = xstrdup(from);
		n = ytree_get(w, "from") ? ytree_get(w, "from") : kind_node;
		r->field_line = n->line;
		r->field_col = n->col;
		break;
	}
	case WHEN_NO_CONTACT:
		if (ytree_duration(kind_node, "no_contact_for", &r->period, d) == 0 && r->period.n <= 0)
			ytree_diag(d, 0, kind_node, "no_contact_for: the period must be longer than zero");
		break;
	case WHEN_SURPRISE: {
		int per;
		if (kind_node->type != Y_MAP) {
			ytree_diag(d, 0, kind_node, "surprise: expected {count: 3, per: week}");
			break;
		}
		ytree_check_keys(kind_node, surprise_keys, "surprise", d);
		r->surprise_count = 1;
		r->surprise_per = PER_WEEK;
		ytree_long(ytree_get(kind_node, "count"), "count", 1, 1000, &r->surprise_count, d);
		if (ytree_enum(ytree_get(kind_node, "per"), "per", surprise_pers, 2, NULL, &per, d) == 0)
			r->surprise_per = surprise_per_of[per];
		break;
	}
	default:
		break;
	}
}

/* parse_channel: CH_CARD, CH_EMAIL or (when allowed) CH_PREFERRED; -1 after a diag. */
static int parse_channel(const struct ynode *n, const char *key, int allow_preferred, struct diags *d)
{
	int ch = -1;
	ytree_enum(n, key, channel_names, allow_preferred ? CH__N : CH_PREFERRED, NULL, &ch, d);
	return ch;
}

static void parse_variant(struct variant *v, const struct ynode *n, struct diags *d)
{
	const struct ynode *x;
	const char *s;
	v->channel = -1;
	v->set_channel = -1;
	v->cost_cents = -1;
	v->line = n->line;
	v->col = n->col;
	if (n->type != Y_MAP) {
		ytree_diag(d, 0, n, "a variant must be a mapping such as {tier: platinum, template: birthday-platinum}");
		return;
	}
	ytree_check_keys(n, variant_keys, "a variant", d);
	if ((x = ytree_get(n, "years")))
		get_years(x, &v->years, &v->nyears, d);
	ytree_strlist(ytree_get(n, "tier"), "tier", NULL, 0, &v->tiers.v, &v->tiers.n, d);
	ytree_strlist(ytree_get(n, "type"), "type", stakeholder_types, N_TYPES, &v->types.v, &v->types.n, d);
	if ((x = ytree_get(n, "channel")))
		v->channel = parse_channel(x, "channel", 0, d);
	if ((x = ytree_get(n, "use_channel")))
		v->set_channel = parse_channel(x, "use_channel", 0, d);
	if ((x = ytree_get(n, "template")) && (s = ytree_scalar(x, "template", d))) {
		if (!valid_name(s, 1))
			ytree_diag(d, 0, x, "template: '%s' is not a template name ([A-Za-z0-9_-]+)", s);
		else
			v->template_name = xstrdup(s);
	}
	ytree_money(ytree_get(n, "cost"), "cost", &v->cost_cents, d);
	if ((x = ytree_get(n, "signer")) && (s = ytree_scalar(x, "signer", d)))
		v->signer = xstrdup(s);
}

static void parse_rule(struct ruleset *rs, struct rule *r, const struct ynode *n, const char *file,
                       struct diags *d)
{
	const struct ynode *x;
	const char *s;
	r->file = file;
	r->line = n->line;
	r->col = n->col;
	r->fallback = -1;
	r->once = DAY_NONE;
	r->late.unit = DUR_DAYS;
	if (n->type != Y_MAP) {
		ytree_diag(d, 0, n, "each occasion must be a mapping with id, when, channel and template");
		r->id = xstrdup("?");
		return;
	}
	ytree_check_keys(n, rule_keys, "an occasion", d);
	x = ytree_get(n, "id");
	s = x ? ytree_scalar(x, "id", d) : NULL;
	if (!x)
		ytree_diag(d, 0, n, "occasion without an id");
	else if (s && !valid_name(s, 0))
		ytree_diag(d, 0, x, "id: '%s' must be [a-z0-9-]+ (at most 64)", s);
	r->id = xstrdup(s && valid_name(s, 0) ? s : "?");
	for (size_t i = 0; i < rs->nrules; i++)
		if (s && strcmp(rs->rules[i].id, s) == 0)
			ytree_diag(d, 0, x, "duplicate occasion id '%s' (first at %s:%ld)", s, rs->rules[i].file,
			           rs->rules[i].line);

	r->name = (x = ytree_get(n, "name")) && (s = ytree_scalar(x, "name", d)) ? xstrdup(s) : xstrdup(r->id);
	parse_when(r, ytree_get(n, "when"), d);

	r->channel = CH_EMAIL;
	if ((x = ytree_get(n, "channel")))
		r->channel = parse_channel(x, "channel", 1, d);
	else
		ytree_diag(d, 0, n, "occasion '%s' has no channel (card, email or preferred)", r->id);
	if ((x = ytree_get(n, "fallback"))) {
		r->fallback = parse_channel(x, "fallback", 0, d);
		if (r->fallback == CH_CARD)
			ytree_diag(d, 0, x, "fallback: only email (a card cannot replace a late card)");
	}
	if (ytree_duration(ytree_get(n, "lead"), "lead", &r->lead, d) == 0)
		r->has_lead = 1;
	ytree_duration(ytree_get(n, "late"), "late", &r->late, d);
	ytree_bool(ytree_get(n, "attach_card"), "attach_card", &r->attach_card, d);
	ytree_bool(ytree_get(n, "personal"), "personal", &r->personal, d);
	ytree_long(ytree_get(n, "priority"), "priority", -1000000, 1000000, &r->priority, d);
	ytree_money(ytree_get(n, "cost"), "cost", &r->cost_cents, d);
	if ((x = ytree_get(n, "signer")) && (s = ytree_scalar(x, "signer", d)))
		r->signer = xstrdup(s);
	s = r->id;
	if ((x = ytree_get(n, "template")))
		s = ytree_scalar(x, "template", d);
	if (s && !valid_name(s, 1))
		ytree_diag(d, 0, x ? x : n, "template: '%s' is not a template name ([A-Za-z0-9_-]+)", s);
	else if (s)
		r->template_name = xstrdup(s);

	if ((x = ytree_get(n, "audience"))) {
		if (x->type != Y_MAP) {
			ytree_diag(d, 0, x, "audience must be a mapping of type, tier, min_tenure");
		} else {
			ytree_check_keys(x, audience_keys, "audience", d);
			ytree_strlist(ytree_get(x, "type"), "type", stakeholder_types, N_TYPES, &r->types.v, &r->types.n, d);
			ytree_strlist(ytree_get(x, "tier"), "tier", NULL, 0, &r->tiers.v, &r->tiers.n, d);
			if (ytree_duration(ytree_get(x, "min_tenure"), "min_tenure", &r->min_tenure, d) == 0)
				r->has_min_tenure = 1;
		}
	}
	if ((x = ytree_get(n, "variants"))) {
		if (x->type != Y_SEQ) {
			ytree_diag(d, 0, x, "variants must be a list");
		} else {
			r->variants = xcalloc(x->n, sizeof *r->variants);
			r->nvariants = x->n;
			for (size_t i = 0; i < x->n; i++)
				parse_variant(&r->variants[i], x->items[i], d);
		}
	}
}

static void load_file(struct ruleset *rs, const char *path, struct diags *d)
{
	struct ynode *root = NULL;
	const struct ynode *occ;
	char err[ERR_LEN];
	const char *file;

	if (ytree_load_file(path, &root, err) != 0) {
		diags_add(d, 0, "%s", err);
		return;
	}
	rs->files = xreallocarray(rs->files, rs->nfiles + 1, sizeof *rs->files);
	file = rs->files[rs->nfiles++] = xstrdup(path);
	if (root->type != Y_MAP) {
		ytree_diag(d, 0, root, "the rules file must be a mapping with calendar, limits and occasions");
		goto out;
	}
	ytree_check_keys(root, top_keys, "the rules file", d);
	/* One calendar and one set of limits: a second one in another file would silently win. */
	if (ytree_get(root, "calendar")) {
		if (rs->calendar_file)
			ytree_diag(d, 0, ytree_key(root, "calendar"), "calendar is already given in %s", rs->calendar_file);
		else {
			parse_calendar(rs, ytree_get(root, "calendar"), d);
			rs->calendar_file = file;
		}
	}
	if (ytree_get(root, "limits")) {
		if (rs->limits_file)
			ytree_diag(d, 0, ytree_key(root, "limits"), "limits are already given in %s", rs->limits_file);
		else {
			parse_limits(rs, ytree_get(root, "limits"), d);
			rs->limits_file = file;
		}
	}
	occ = ytree_get(root, "occasions");
	if (!occ)
		goto out;
	if (occ->type != Y_SEQ) {
		ytree_diag(d, 0, occ, "occasions must be a list");
		goto out;
	}
	rs->rules = xreallocarray(rs->rules, rs->nrules + occ->n, sizeof *rs->rules);
	for (size_t i = 0; i < occ->n; i++) {
		struct rule *r = &rs->rules[rs->nrules];
		memset(r, 0, sizeof *r);
		parse_rule(rs, r, occ->items[i], file, d);
		rs->nrules++;
	}
out:
	ytree_free(root);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct ruleset *rules_load(const char *path, struct diags *d)
{
	struct ruleset *rs = xcalloc(1, sizeof *rs);
	size_t before = d->nerrors;
	struct stat st;

	rs->cal.weekend = (1u << 0) | (1u << 6);
	if (stat(path, &st) != 0) {
		diags_add(d, 0, "%s: error: cannot read the rules: no such file or directory", path);
	} else if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;
		while (dir && (de = readdir(dir))) {
			size_t l = strlen(de->d_name);
			if (de->d_name[0] != '.' && l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0) {
				names = xreallocarray(names, n + 1, sizeof *names);
				names[n++] = util_path_join(path, de->d_name);
			}
		}
		if (dir)
			closedir(dir);
		if (n > 1)
			qsort(names, n, sizeof *names, name_cmp);
		for (size_t i = 0; i < n; i++) {
			load_file(rs, names[i], d);
			free(names[i]);
		}
		free(names);
		if (n == 0)
			diags_add(d, 1, "%s: warning: no *.yaml rules files in this directory", path);
	} else {
		load_file(rs, path, d);
	}
	if (d->nerrors != before) {
		rules_free(rs);
		return NULL;
	}
	return rs;
}
