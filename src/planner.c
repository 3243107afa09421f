/*
 * planner: rules x stakeholders x history x now -> timed dispatches. Pure: "now" and
 * every input come in as arguments, so the same inputs give the same plan.
 */
#include "planner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const plan_state_names[] = {"due", "waiting", "missed", "skipped"};

void plan_list_free(struct plan_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static char *make_key(const char *rule, const char *sh, const char *date)
{
	return xasprintf("%s\x1f%s\x1f%s", rule, sh, date);
}

int planner_went_out(int status)
{
	/* Everything that reached, or may have reached, the stakeholder: a card once rendered is
	 * going to be posted; an email queued, retried or of unknown fate may have been delivered. */
	return status != DS_SKIPPED && status != DS_FAILED && status != DS_CANCELLED;
}

static size_t sh_find(const struct ctx *c, const char *id)
{
	size_t j;
	if (!c->sh_cap)
		return SIZE_MAX;
	for (j = hash_str(id) & (c->sh_cap - 1); c->sh_slot[j]; j = (j + 1) & (c->sh_cap - 1))
		if (strcmp(c->in->sh[c->sh_slot[j] - 1].f[SH_ID], id) == 0)
			return c->sh_slot[j] - 1;
	return SIZE_MAX;
}

static int contact_cmp(const void *a, const void *b)
{
	const struct contact *x = a, *y = b;
	if (x->sh != y->sh)
		return x->sh < y->sh ? -1 : 1;
	return x->day < y->day ? -1 : x->day > y->day;
}

static int ev_ptr_cmp(const void *a, const void *b)
{
	const struct event *x = *(const struct event *const *)a, *y = *(const struct event *const *)b;
	int k = strcmp(x->stakeholder_id, y->stakeholder_id);
	return k ? k : x < y ? -1 : x > y;   /* the input's order within a stakeholder */
}

static int hist_ptr_cmp(const void *a, const void *b)
{
	const struct dispatch_rec *x = *(const struct dispatch_rec *const *)a;
	const struct dispatch_rec *y = *(const struct dispatch_rec *const *)b;
	int k = strcmp(x->stakeholder, y->stakeholder);
	return k ? k : x < y ? -1 : x > y;
}

void planner_ctx_rules(struct ctx *c, const struct config *cfg, const struct ruleset *rs)
{
	c->cfg = cfg;
	c->rs = rs;
	c->field = xcalloc(rs->nrules ? rs->nrules : 1, sizeof *c->field);
	c->years = xcalloc(rs->nrules ? rs->nrules : 1, sizeof *c->years);
	for (size_t i = 0; i < rs->nrules; i++) {
		c->field[i] = sh_field_lookup(rs->rules[i].field);
		c->years[i].lo = c->years[i].hi = DAY_NONE;
	}
}

void planner_ctx_rules_free(struct ctx *c)
{
	free(c->field);
	free(c->years);
	c->field = NULL;
	c->years = NULL;
}

static void sink_list(struct ctx *c, struct plan_item *it, const struct sh_in *s);

/* ctx_init: the per-stakeholder indexes every pass over loaded stakeholders needs. */
static void ctx_init(struct ctx *c, const struct plan_input *in, struct plan_list *out, day_t anchor)
{
	memset(c, 0, sizeof *c);
	c->in = in;
	planner_ctx_rules(c, in->cfg, in->rs);
	c->sink = sink_list;
	c->out = out;
	c->cap = out->n;
	c->anchor = anchor;
	c->sh_cap = 16;
	while (c->sh_cap < in->nsh * 2 + 16)
		c->sh_cap *= 2;
	c->sh_slot = xcalloc(c->sh_cap, sizeof *c->sh_slot);
	for (size_t i = 0; i < in->nsh; i++) {
		size_t j = hash_str(in->sh[i].f[SH_ID]) & (c->sh_cap - 1);
		while (c->sh_slot[j])
			j = (j + 1) & (c->sh_cap - 1);
		c->sh_slot[j] = i + 1;
	}
	c->last_all = xcalloc(in->nsh ? in->nsh : 1, sizeof *c->last_all);
	for (size_t i = 0; i < in->nsh; i++)
		c->last_all[i] = DAY_NONE;
	c->contacts = xcalloc(in->nhist ? in->nhist : 1, sizeof *c->contacts);
	for (size_t i = 0; i < in->nhist; i++) {
		const struct dispatch_rec *h = &in->hist[i];
		size_t k;
		day_t d;
		if (!planner_went_out(h->status) || dates_parse_iso(h->fire_date, &d) != 0 ||
		    (k = sh_find(c, h->stakeholder)) == SIZE_MAX)
			continue;
		c->contacts[c->ncontacts++] = (struct contact){k, d, h->cost_cents};
		if (d > c->last_all[k])
			c->last_all[k] = d;
	}
	if (c->ncontacts > 1)
		qsort(c->contacts, c->ncontacts, sizeof *c->contacts, contact_cmp);
	c->ev_by_sh = xcalloc(in->nev ? in->nev : 1, sizeof *c->ev_by_sh);
	for (size_t i = 0; i < in->nev; i++)
		c->ev_by_sh[i] = &in->ev[i];
	if (in->nev > 1)
		qsort(c->ev_by_sh, in->nev, sizeof *c->ev_by_sh, ev_ptr_cmp);
	c->hist_by_sh = xcalloc(in->nhist ? in->nhist : 1, sizeof *c->hist_by_sh);
	for (size_t i = 0; i < in->nhist; i++)
		c->hist_by_sh[i] = &in->hist[i];
	if (in->nhist > 1)
		qsort(c->hist_by_sh, in->nhist, sizeof *c->hist_by_sh, hist_ptr_cmp);
}

static void ctx_free(struct ctx *c)
{
	planner_ctx_rules_free(c);
	free(c->sh_slot);
	free(c->last_all);
	free(c->contacts);
	free(c->ev_by_sh);
	free(c->hist_by_sh);
}

/* sh_in_of: the loaded stakeholder i with its events and records. */
static void sh_in_of(const struct ctx *c, size_t i, struct sh_in *s)
{
	const struct plan_input *in = c->in;
	const char *id = in->sh[i].f[SH_ID];
	size_t lo = 0, hi = in->nev;
	memset(s, 0, sizeof *s);
	s->sh = &in->sh[i];
	s->last = c->last_all[i];
	s->arg = (void *)&in->sh[i];
	while (lo < hi) {   /* the first event of this stakeholder */
		size_t mid = (lo + hi) / 2;
		if (strcmp(c->ev_by_sh[mid]->stakeholder_id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	s->ev = c->ev_by_sh + lo;
	while (lo + s->nev < in->nev && strcmp(c->ev_by_sh[lo + s->nev]->stakeholder_id, id) == 0)
		s->nev++;
	lo = 0, hi = in->nhist;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(c->hist_by_sh[mid]->stakeholder, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	s->hist = c->hist_by_sh + lo;
	while (lo + s->nhist < in->nhist && strcmp(c->hist_by_sh[lo + s->nhist]->stakeholder, id) == 0)
		s->nhist++;
}

static const char *sh_zone(const struct config *cfg, const struct stakeholder *sh)
{
	const char *z = sh->f[SH_TIMEZONE];
	return z && *z ? z : cfg->timezone;
}

static int has_postal(const struct stakeholder *sh)
{
	return *sh->f[SH_STREET] && *sh->f[SH_CITY];
}

static int has_email(const struct stakeholder *sh)
{
	return *sh->f[SH_EMAIL] != '\0';
}

const char *planner_default_signer(const struct config *cfg, const struct stakeholder *sh)
{
	if (*sh->f[SH_OWNER])
		return sh->f[SH_OWNER];
	if (cfg->org_name && *cfg->org_name)
		return cfg->org_name;
	return "occasiond";
}

/* duration_days_bound: an upper bound in days of a duration (for the ranges looked at). */
long planner_duration_bound(const struct duration *d)
{
	switch (d->unit) {
	case DUR_SECONDS: return d->n / 86400 + 1;
	case DUR_MINUTES: return d->n / 1440 + 1;
	case DUR_HOURS: return d->n / 24 + 1;
	case DUR_DAYS: return d->n;
	case DUR_WEEKS: return d->n * 7;
	case DUR_MONTHS: return d->n * 31 + 1;
	case DUR_YEARS: return d->n * 366 + 1;
	case DUR_BUSINESS_DAYS: return d->n * 3 + 14;   /* generous: holidays and weekends */
	}
	return d->n;
}

long planner_lead_bound(const struct config *cfg, const struct rule *r)
{
	if (r->has_lead)
		return planner_duration_bound(&r->lead) + 7;
	return planner_duration_bound(&cfg->cards.signing) + planner_duration_bound(&cfg->cards.transit) + 7;
}

/*
 * parse_field_date: a date column as year (0 for "--MM-DD"), month and day, read straight
 * into its parts (it runs for every stakeholder and rule).
 */
static int parse_field_date(const char *v, int *y, int *m, int *d)
{
	if (!v || !*v)
		return -1;
	if (v[0] == '-' && v[1] == '-') {
		*y = 0;
		return dates_parse_md(v, m, d);
	}
	return dates_parse_ymd(v, y, m, d);
}

/* flag: stakeholder_flag, inline: it runs for every stakeholder and rule. */
static int flag(const struct stakeholder *sh, enum sh_field f)
{
	const char *v = sh->f[f];
	return v && v[0] == '1' && v[1] == '\0';
}

int planner_audience(const struct ctx *c, const struct rule *r, const struct stakeholder *sh, day_t d)
{
	if (flag(sh, SH_OPTED_OUT))
		return 0;
	if (r->personal && !flag(sh, SH_CONSENT_PERSONAL))
		return 0;
	if (!strlist_has(&r->types, sh->f[SH_TYPE]) || !strlist_has(&r->tiers, sh->f[SH_TIER]))
		return 0;
	if (r->has_min_tenure) {
		const char *since = *sh->f[SH_CUSTOMER_SINCE] ? sh->f[SH_CUSTOMER_SINCE] : sh->f[SH_HIRE_DATE];
		day_t s;
		if (dates_parse_iso(since, &s) != 0)
			return 0;
		if (dates_add_duration(&c->rs->cal, s, &r->min_tenure) > d)
			return 0;
	}
	return 1;
}

static int variant_match(const struct variant *v, const struct stakeholder *sh, long years, int channel)
{
	if (v->nyears) {
		size_t i;
		for (i = 0; i < v->nyears; i++)
			if (v->years[i] == years)
				break;
		if (i == v->nyears)
			return 0;
	}
	if (!strlist_has(&v->tiers, sh->f[SH_TIER]) || !strlist_has(&v->types, sh->f[SH_TYPE]))
		return 0;
	return v->channel < 0 || v->channel == channel;
}

/* set_times: fire date, fire instant, mail-by date and deadline for the item's channel. */
void planner_set_times(const struct ctx *c, struct plan_item *it)
{
	const struct config *cfg = c->cfg;
	const struct calendar *cal = &c->rs->cal;
	const struct rule *r = it->rule;
	day_t fire, last;

	if (r->has_lead)
		fire = dates_sub_duration(cal, it->occasion, &r->lead);
	else if (it->channel == CH_CARD)
		fire = dates_sub_duration(cal, dates_sub_duration(cal, it->occasion, &cfg->cards.transit),
		                          &cfg->cards.signing);
	else
		fire = it->occasion;
	if (it->channel == CH_CARD) {
		fire = calendar_prev_business(cal, fire);
		it->mail_by = calendar_prev_business(cal, dates_sub_duration(cal, it->occasion, &cfg->cards.transit));
		it->zone = cfg->timezone;
		last = it->mail_by;
	} else {
		it->mail_by = DAY_NONE;
		it->zone = sh_zone(cfg, it->sh);
		last = it->occasion;
	}
	it->fire_date = fire;
	if (it->channel == CH_CARD && fire > it->mail_by && !it->note[0])
		util_strlcpy(it->note, planner_notes[NOTE_LEAD_SHORT], sizeof it->note);
	last = dates_add_duration(cal, last, &r->late);
	if (dates_local_to_utc(it->zone, fire, cfg->window_start, &it->fire_at) != 0 ||
	    dates_local_to_utc(it->zone, last + 1, 0, &it->deadline) != 0) {
		it->fire_at = (int64_t)fire * 86400;
		it->deadline = (int64_t)(last + 1) * 86400;
	}
}

const char *const planner_notes[NOTE__FIXED] = {
	"", "no postal address: email instead", "no email address: card instead", "no email and no postal address",
	"no email address", "no postal address: hand it over", "lead shorter than transit: fires after its mail-by date",
};

/*
 * resolve: channel (preference, address fallback) and variant overrides; the times are
 * the sink's (planner_set_times). Returns 0 when the item stands, -1 when it is not for
 * this stakeholder.
 */
static int resolve(const struct ctx *c, struct plan_item *it)
{
	const struct rule *r = it->rule;
	const struct stakeholder *sh = it->sh;
	int ch = r->channel;

	it->template_name = r->template_name;
	it->cost_cents = r->cost_cents;
	it->priority = r->priority;
	it->signer = r->signer ? r->signer : planner_default_signer(c->cfg, sh);
	it->state = PS_WAITING;
	it->variant = -1;
	it->reason = NULL;
	it->note[0] = '\0';

	if (ch == CH_PREFERRED) {
		int want = util_streq(sh->f[SH_PREFERRED_CHANNEL], "card") ? CH_CARD :
		           util_streq(sh->f[SH_PREFERRED_CHANNEL], "email") ? CH_EMAIL :
		           has_email(sh) ? CH_EMAIL : CH_CARD;
		int ok = want == CH_CARD ? has_postal(sh) : has_email(sh);
		if (!ok) {
			int other = want == CH_CARD ? CH_EMAIL : CH_CARD;
			if (other == CH_CARD ? has_postal(sh) : has_email(sh)) {
				util_strlcpy(it->note, planner_notes[want == CH_CARD ? NOTE_NO_POSTAL_EMAIL : NOTE_NO_EMAIL_CARD],
				             sizeof it->note);
				want = other;
			} else {
				it->state = PS_SKIPPED;
				it->reason = "no-address";
				util_strlcpy(it->note, planner_notes[NOTE_NO_ADDRESS], sizeof it->note);
			}
		}
		ch = want;
	}
	for (size_t i = 0; i < r->nvariants; i++) {
		const struct variant *v = &r->variants[i];
		if (!variant_match(v, sh, it->years, ch))
			continue;
		it->variant = (int)i;
		if (v->template_name)
			it->template_name = v->template_name;
		if (v->set_channel >= 0)
			ch = v->set_channel;
		if (v->cost_cents >= 0)
			it->cost_cents = v->cost_cents;
		if (v->signer)
			it->signer = v->signer;
		break;
	}
	it->channel = ch;
	if (it->state != PS_SKIPPED && ch == CH_EMAIL && !has_email(sh)) {
		it->state = PS_SKIPPED;
		it->reason = "no-address";
		util_strlcpy(it->note, planner_notes[NOTE_NO_EMAIL], sizeof it->note);
	}
	if (it->state != PS_SKIPPED && ch == CH_CARD && !has_postal(sh) && !it->note[0])
		util_strlcpy(it->note, planner_notes[NOTE_HAND_OVER], sizeof it->note);
	return 0;
}

/* done: the at-most-once check: s has a record of (rule, occasion d). */
static int done(const struct sh_in *s, const char *rule, day_t d)
{
	char date[11];
	dates_format_iso(d, date);
	for (size_t i = 0; i < s->nhist; i++)
		if (strcmp(s->hist[i]->rule, rule) == 0 && strcmp(s->hist[i]->occasion_date, date) == 0)
			return 1;
	return 0;
}

void planner_emit(struct ctx *c, const struct rule *r, const struct sh_in *s, const struct event *ev, day_t d,
                  long years)
{
	struct plan_item it;
	if (d < c->lo || d > c->hi)
		return;
	if (!planner_audience(c, r, s->sh, d))
		return;
	if (s->nhist && done(s, r->id, d))
		return;
	memset(&it, 0, sizeof it);
	it.rule = r;
	it.sh = s->sh;
	it.ev = ev;
	it.occasion = d;
	it.years = years;
	if (resolve(c, &it) != 0)
		return;
	c->sink(c, &it, s);
}

/* sink_list: the loaded plan keeps every item whole. */
static void sink_list(struct ctx *c, struct plan_item *it, const struct sh_in *s)
{
	(void)s;
	planner_set_times(c, it);
	if (c->out->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->out->v = xreallocarray(c->out->v, c->cap, sizeof *c->out->v);
	}
	c->out->v[c->out->n++] = *it;
}

#define EVERY_MAX 100000   /* k of `every` stops here */

/* every_day: the k-th date of an `every` rule from day from. */
static day_t every_day(const struct calendar *cal, const struct rule *r, day_t from, long k)
{
	struct duration step = r->period;
	step.n *= k;
	return dates_add_duration(cal, from, &step);
}

/* month_step: dates_add_months of y-m-d by k months, from its parts (no day number round trip). */
static day_t month_step(int y, int m, int d, long k)
{
	long t = (long)y * 12 + (m - 1) + k, ny = t / 12;   /* t >= 0: y >= 1, k >= 1 */
	int nm = (int)(t - ny * 12) + 1, dim = dates_days_in_month((int)ny, nm);
	return dates_from_ymd((int)ny, nm, d > dim ? dim : d);
}

/* occasions: every occasion date of rule r for stakeholder sh within [lo, hi]. */
void planner_occasions(struct ctx *c, const struct rule *r, const struct sh_in *s)
{
	const struct calendar *cal = &c->rs->cal;
	const struct stakeholder *sh = s->sh;
	int f = c->field[r - c->rs->rules];
	struct years *yr = &c->years[r - c->rs->rules];
	int ylo, yhi, y, by, bm, bd;
	if (c->lo != yr->lo || c->hi != yr->hi) {   /* the same for every stakeholder */
		dates_to_ymd(c->lo, &yr->ylo, &yr->mlo, NULL);
		dates_to_ymd(c->hi, &yr->yhi, NULL, NULL);
		yr->lo = c->lo;
		yr->hi = c->hi;
		yr->nfixed = -1;
		if (yr->yhi - yr->ylo < (int)(sizeof yr->fixed / sizeof *yr->fixed) &&
		    ((r->when == WHEN_DATE && r->once == DAY_NONE) || r->when == WHEN_NTH_WEEKDAY)) {
			/* A yearly date or weekday: the same days for everybody. */
			yr->nfixed = 0;
			for (y = yr->ylo; y <= yr->yhi; y++) {
				day_t d = r->when == WHEN_DATE ? dates_anniversary(y, r->month, r->day) :
				          dates_nth_weekday(y, r->month, r->nth, r->weekday);
				if (r->when == WHEN_DATE || d != DAY_NONE)
					yr->fixed[yr->nfixed++] = d;
			}
		}
	}
	ylo = yr->ylo;
	yhi = yr->yhi;
	if (yr->nfixed >= 0) {
		for (int i = 0; i < yr->nfixed; i++)
			planner_emit(c, r, s, NULL, yr->fixed[i], -1);
		return;
	}

	switch (r->when) {
	case WHEN_DATE:
		if (r->once != DAY_NONE) {
			planner_emit(c, r, s, NULL, r->once, -1);
			break;
		}
		for (y = ylo; y <= yhi; y++)
			planner_emit(c, r, s, NULL, dates_anniversary(y, r->month, r->day), -1);
		break;
	case WHEN_NTH_WEEKDAY:
		for (y = ylo; y <= yhi; y++) {
			day_t d = dates_nth_weekday(y, r->month, r->nth, r->weekday);
			if (d != DAY_NONE)
				planner_emit(c, r, s, NULL, d, -1);
		}
		break;
	case WHEN_ANNIVERSARY:
		if (parse_field_date(f >= 0 ? sh->f[f] : stakeholder_get(sh, r->field), &by, &bm, &bd) != 0)
			break;
		for (y = ylo; y <= yhi; y++) {
			long years = by ? y - by : -1;
			if (by && years <= 0)
				continue;   /* year 0 is the date itself: it never fires */
			if (r->nyears) {
				size_t i;
				for (i = 0; i < r->nyears; i++)
					if (r->years[i] == years)
						break;
				if (i == r->nyears)
					continue;
			}
			if (r->every_years && (years < 0 || years % r->every_years != 0))
				continue;
			planner_emit(c, r, s, NULL, dates_anniversary(y, bm, bd), years);
		}
		break;
	case WHEN_EVENT:
		for (size_t i = 0; i < s->nev; i++) {
			const struct event *ev = s->ev[i];
			day_t d;
			if (strcmp(ev->kind, r->event_kind) == 0 && dates_parse_iso(ev->date, &d) == 0)
				planner_emit(c, r, s, ev, d, -1);
		}
		break;
	case WHEN_EVERY: {
		day_t from;
		const char *v = f >= 0 ? sh->f[f] : stakeholder_get(sh, r->field);
		long k = 1, below = 1, above = 2, months = 0;
		int fy, fm, fd;
		if (parse_field_date(v, &fy, &fm, &fd) != 0 || fy == 0)   /* a full date only */
			break;
		from = dates_from_ymd(fy, fm, fd);
		/*
		 * The dates grow with k: find the first one at or after lo by doubling and halving,
		 * rather than stepping through the decades since from.
		 */
		if ((r->period.unit == DUR_MONTHS || r->period.unit == DUR_YEARS) && r->period.n > 0) {
			/* Whole months: every k below (months to lo) / step - 1 lands in an earlier month. */
			long step = r->period.n * (r->period.unit == DUR_YEARS ? 12 : 1);
			k = ((long)(ylo - fy) * 12 + (yr->mlo - fm)) / step - 1;
			if (step <= 1200000 / EVERY_MAX)   /* dates_add_duration's range: month_step is the same */
				months = step;
			if (k < 1)
				k = 1;
		} else if (every_day(cal, r, from, 1) < c->lo) {
			while (above < EVERY_MAX && every_day(cal, r, from, above) < c->lo) {
				below = above;
				above *= 2;
			}
			if (above > EVERY_MAX)
				above = EVERY_MAX;
			while (above - below > 1) {
				long mid = below + (above - below) / 2;
				if (every_day(cal, r, from, mid) < c->lo)
					below = mid;
				else
					above = mid;
			}
			k = above;
		}
		for (; k < EVERY_MAX; k++) {
			day_t d = months ? month_step(fy, fm, fd, k * months) : every_day(cal, r, from, k);
			if (d > c->hi)
				break;
			if (d >= c->lo)
				planner_emit(c, r, s, NULL, d, -1);
		}
		break;
	}
	case WHEN_NO_CONTACT: {
		day_t last = s->last;
		if (last == DAY_NONE && dates_parse_iso(sh->f[SH_CUSTOMER_SINCE], &last) != 0)
			break;
		planner_emit(c, r, s, NULL, dates_add_duration(cal, last, &r->period), -1);
		break;
	}
	default:
		/* surprise is planned over the whole audience, not one stakeholder at a time */
		break;
	}
}

static int item_cmp(const void *a, const void *b)
{
	const struct plan_item *x = a, *y = b;
	int k;
	if (x->fire_at != y->fire_at)
		return x->fire_at < y->fire_at ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if ((k = strcmp(x->rule->id, y->rule->id)) != 0)
		return k;
	if ((k = strcmp(x->sh->f[SH_ID], y->sh->f[SH_ID])) != 0)
		return k;
	return x->occasion < y->occasion ? -1 : x->occasion > y->occasion;
}

/* ---- surprise ---- */

day_t planner_period_start(int per, day_t day)
{
	int y, m, d;
	if (per == PER_WEEK)
		return day - (dates_weekday(day) + 6) % 7;   /* weeks start on Monday (ISO 8601) */
	dates_to_ymd(day, &y, &m, &d);
	if (per == PER_QUARTER)
		m = (m - 1) / 3 * 3 + 1;
	else if (per == PER_YEAR)
		m = 1;
	return dates_from_ymd(y, m, 1);
}

day_t planner_period_next(int per, day_t start)
{
	if (per == PER_WEEK)
		return start + 7;
	return dates_add_months(start, per == PER_MONTH ? 1 : per == PER_QUARTER ? 3 : 12);
}

uint64_t planner_surprise_hash(const char *rule, day_t period, const char *sh_id)
{
	char date[11];
	char *k;
	uint64_t h;
	dates_format_iso(period, date);
	k = make_key(rule, date, sh_id);
	h = hash_str(k);
	free(k);
	return h;
}

int planner_reachable(const struct rule *r, const struct stakeholder *sh)
{
	if (r->channel == CH_EMAIL)
		return has_email(sh);
	if (r->channel == CH_PREFERRED)
		return has_email(sh) || has_postal(sh);
	return 1;   /* a card without a postal address is handed over */
}

/* more_silent: a has gone longer without a dispatch than b (never is longest; ties by id). */
static int more_silent(const struct ctx *c, const day_t *last, size_t a, size_t b)
{
	if (last[a] != last[b])
		return last[a] < last[b];
	return strcmp(c->in->sh[a].f[SH_ID], c->in->sh[b].f[SH_ID]) < 0;
}

/*
 * surprise: per period (week from Monday, or month), the rule's count stakeholders silent
 * longest as of the period's first day, each on a business day picked by a stable hash. The
 * ordering only looks at dispatches before the period, so every pass within the period picks
 * the same people; those already recorded for the rule in the period keep their place. For a
 * period after the anchor's, the picks of the periods before are taken as sent.
 */
static void surprise(struct ctx *c, const struct rule *r)
{
	const struct plan_input *in = c->in;
	const struct calendar *cal = &c->rs->cal;
	size_t nsh = in->nsh, k = (size_t)r->surprise_count;
	day_t *last = xcalloc(nsh ? nsh : 1, sizeof *last);
	unsigned char *taken = xcalloc(nsh ? nsh : 1, 1);
	size_t *best = xcalloc(k, sizeof *best);
	struct contact *sims = NULL;   /* picks of earlier periods of this pass, taken as sent */
	size_t nsims = 0;
	day_t biz[31];

	for (day_t p = planner_period_start(r->surprise_per, c->lo); p <= c->hi;
	     p = planner_period_next(r->surprise_per, p)) {
		day_t end = planner_period_next(r->surprise_per, p) - 1;
		size_t nbiz = 0, nbest = 0, ntaken = 0;
		for (day_t d = p; d <= end; d++)
			if (calendar_is_business(cal, d))
				biz[nbiz++] = d;
		for (size_t i = 0; i < nsh; i++)
			last[i] = DAY_NONE;
		memset(taken, 0, nsh ? nsh : 1);
		for (size_t i = 0; i < c->ncontacts; i++)
			if (c->contacts[i].day < p && c->contacts[i].day > last[c->contacts[i].sh])
				last[c->contacts[i].sh] = c->contacts[i].day;
		for (size_t i = 0; i < nsims; i++)
			if (sims[i].day > last[sims[i].sh])
				last[sims[i].sh] = sims[i].day;
		for (size_t i = 0; i < in->nhist; i++) {
			const struct dispatch_rec *h = &in->hist[i];
			day_t d;
			size_t s;
			if (strcmp(h->rule, r->id) == 0 && dates_parse_iso(h->occasion_date, &d) == 0 && d >= p && d <= end &&
			    (s = sh_find(c, h->stakeholder)) != SIZE_MAX && !taken[s]) {
				taken[s] = 1;
				ntaken++;
			}
		}
		for (size_t i = 0; i < nsh && nbiz && ntaken < k; i++) {
			const struct stakeholder *sh = &in->sh[i];
			size_t at;
			if (taken[i] || !planner_reachable(r, sh) || !planner_audience(c, r, sh, p))
				continue;
			if (nbest == k - ntaken && !more_silent(c, last, i, best[nbest - 1]))
				continue;
			at = nbest < k - ntaken ? nbest++ : nbest - 1;   /* drop the least silent when full */
			while (at > 0 && more_silent(c, last, i, best[at - 1])) {
				best[at] = best[at - 1];
				at--;
			}
			best[at] = i;
		}
		for (size_t j = 0; j < nbest; j++) {
			struct sh_in s;
			day_t d = biz[planner_surprise_hash(r->id, p, in->sh[best[j]].f[SH_ID]) % nbiz];
			sh_in_of(c, best[j], &s);
			planner_emit(c, r, &s, NULL, d, -1);
			if (end >= c->anchor) {
				sims = xreallocarray(sims, nsims + 1, sizeof *sims);
				sims[nsims++] = (struct contact){best[j], d, 0};
			}
		}
	}
	free(sims);
	free(best);
	free(taken);
	free(last);
}

/* ---- limits ---- */

void planner_money_grouped(int64_t cents, char *buf, size_t size)
{
	char plain[40], out[64];
	size_t n, j = 0, intlen;
	const char *p = plain;
	util_format_money(cents, plain, sizeof plain);
	if (*p == '-')
		out[j++] = *p++;
	n = strlen(p);
	intlen = n - 3;
	for (size_t i = 0; i < n && j + 2 < sizeof out; i++) {
		if (i < intlen && i > 0 && (intlen - i) % 3 == 0)
			out[j++] = ',';
		out[j++] = p[i];
	}
	out[j] = '\0';
	util_strlcpy(buf, out, size);
}

long planner_budget_key(int per, day_t day, char *name, size_t size)
{
	int y, m, d;
	dates_to_ymd(day, &y, &m, &d);
	switch (per) {
	case PER_MONTH:
		if (name)
			snprintf(name, size, "in %s %d", dates_month_names[m], y);
		return (long)y * 12 + m - 1;
	case PER_QUARTER:
		if (name)
			snprintf(name, size, "in %d-Q%d", y, (m - 1) / 3 + 1);
		return (long)y * 4 + (m - 1) / 3;
	default:
		if (name)
			snprintf(name, size, "in %d", y);
		return y;
	}
}

struct spent {
	long key;
	int64_t cents;
};

/*
 * apply_limits: walks the items in the order given (the order they would go out) and
 * turns into PS_SKIPPED (limit or budget) each one that would break per_stakeholder or the
 * budget, counting what went out before (history) and the items before it that stand.
 * today: for run, the day it would go out (an item may wait past its fire date); DAY_NONE
 * for plan, where that is its fire date.
 */
static void apply_limits(const struct ctx *c, struct plan_item **v, size_t n, day_t today)
{
	const struct ruleset *rs = c->in->rs;
	size_t *head, *next;
	struct spent *sp = NULL;
	size_t nsp = 0;
	if (!rs->has_per_stakeholder && !rs->has_budget)
		return;
	head = xcalloc(c->in->nsh ? c->in->nsh : 1, sizeof *head);   /* index + 1 of the latest item standing */
	next = xcalloc(n ? n : 1, sizeof *next);
	for (size_t i = 0; i < n; i++) {
		struct plan_item *it = v[i];
		size_t s = (size_t)(it->sh - c->in->sh);
		day_t on = today != DAY_NONE ? today : it->fire_date;
		if (it->state != PS_DUE && it->state != PS_WAITING)
			continue;
		if (rs->has_per_stakeholder) {
			day_t start = dates_sub_duration(&rs->cal, on, &rs->per_stakeholder_within);
			long count = 0;
			size_t lo = 0, hi = c->ncontacts;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (c->contacts[mid].sh < s || (c->contacts[mid].sh == s && c->contacts[mid].day <= start))
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < c->ncontacts && c->contacts[lo].sh == s && c->contacts[lo].day <= on; lo++)
				count++;
			for (size_t j = head[s]; j; j = next[j - 1])
				if (today != DAY_NONE || (v[j - 1]->fire_date > start && v[j - 1]->fire_date <= on))
					count++;   /* in a run, what stands before goes out today */
			if (count >= rs->per_stakeholder_max) {
				char within[48];
				dates_format_duration(&rs->per_stakeholder_within, within, sizeof within);
				it->state = PS_SKIPPED;
				it->reason = "limit";
				snprintf(it->note, sizeof it->note, "limit: %ld dispatch%s to this stakeholder within %s (max %ld)",
				         count, count == 1 ? "" : "es", within, rs->per_stakeholder_max);
				continue;
			}
		}
		if (rs->has_budget && it->cost_cents > 0) {
			char pname[24], a[28], b[28], cost[28];
			long key = planner_budget_key(rs->budget_per, on, pname, sizeof pname);
			size_t k;
			for (k = 0; k < nsp && sp[k].key != key; k++)
				;
			if (k == nsp) {
				sp = xreallocarray(sp, nsp + 1, sizeof *sp);
				sp[nsp] = (struct spent){key, 0};
				for (size_t j = 0; j < c->ncontacts; j++)
					if (planner_budget_key(rs->budget_per, c->contacts[j].day, NULL, 0) == key)
						sp[nsp].cents += c->contacts[j].cost_cents;
				nsp++;
			}
			if (sp[k].cents + it->cost_cents > rs->budget_cents) {
				planner_money_grouped(sp[k].cents, a, sizeof a);
				planner_money_grouped(rs->budget_cents, b, sizeof b);
				planner_money_grouped(it->cost_cents, cost, sizeof cost);
				it->state = PS_SKIPPED;
				it->reason = "budget";
				snprintf(it->note, sizeof it->note, "budget: %s of %s spent %s; this costs %s", a, b, pname, cost);
				continue;
			}
			sp[k].cents += it->cost_cents;
		}
		next[i] = head[s];
		head[s] = i + 1;
	}
	free(sp);
	free(next);
	free(head);
}

static void collect(struct ctx *c, const struct plan_input *in, day_t from, day_t to)
{
	for (size_t i = 0; i < in->rs->nrules; i++) {
		const struct rule *r = &in->rs->rules[i];
		c->lo = from;
		c->hi = to + (day_t)planner_lead_bound(in->cfg, r);
		if (r->when == WHEN_SURPRISE) {
			surprise(c, r);
			continue;
		}
		for (size_t j = 0; j < in->nsh; j++) {
			struct sh_in s;
			sh_in_of(c, j, &s);
			planner_occasions(c, r, &s);
		}
	}
}

int planner_range(const struct plan_input *in, day_t from, day_t to, struct plan_list *out, char err[ERR_LEN])
{
	struct ctx c;
	struct plan_item **order;
	size_t k = 0;
	(void)err;
	ctx_init(&c, in, out, from);
	collect(&c, in, from, to);
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].fire_date >= from && out->v[i].fire_date < to)
			out->v[k++] = out->v[i];
	out->n = k;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, item_cmp);
	order = xcalloc(out->n ? out->n : 1, sizeof *order);
	for (size_t i = 0; i < out->n; i++)
		order[i] = &out->v[i];
	apply_limits(&c, order, out->n, DAY_NONE);
	free(order);
	ctx_free(&c);
	return 0;
}

/* next_window: the first instant >= t inside the send window in zone, or -1. */
static int64_t next_window(const struct config *cfg, const char *zone, int64_t t)
{
	day_t d;
	int secs;
	int64_t at;
	if (dates_utc_to_local(zone, t, &d, &secs) != 0)
		return -1;
	if (secs >= cfg->window_start && secs < cfg->window_end)
		return t;
	if (secs >= cfg->window_end)
		d++;
	if (dates_local_to_utc(zone, d, cfg->window_start, &at) != 0)
		return -1;
	return at;
}

/* due_cmp: what is due at once goes by priority first (CONTRACT §4), then fire order. */
static int due_cmp(const void *a, const void *b)
{
	const struct plan_item *x = *(const struct plan_item *const *)a, *y = *(const struct plan_item *const *)b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return item_cmp(x, y);
}

int planner_due(const struct plan_input *in, int64_t now, struct plan_list *out, int64_t *next_wake,
                char err[ERR_LEN])
{
	const struct config *cfg = in->cfg;
	struct ctx c;
	struct plan_list all = {0};
	struct plan_item **order;
	day_t today;
	int secs;
	int64_t lookback = dates_duration_secs(&cfg->lookback), wake = INT64_MAX;
	long late_max = 0;
	(void)err;

	if (dates_utc_to_local(cfg->timezone, now, &today, &secs) != 0)
		today = (day_t)(now / 86400);
	for (size_t i = 0; i < in->rs->nrules; i++) {
		long l = planner_duration_bound(&in->rs->rules[i].late);
		if (l > late_max)
			late_max = l;
	}
	ctx_init(&c, in, &all, today);
	/* Occasions whose deadline may still be ahead, or whose fire time is within lookback. */
	collect(&c, in, today - (day_t)(lookback / 86400 + late_max + 3), today + 3);

	for (size_t i = 0; i < all.n; i++) {
		struct plan_item it = all.v[i];
		if (it.fire_at > now) {
			if (it.state != PS_SKIPPED && it.fire_at < wake)
				wake = it.fire_at;
			continue;
		}
		if (it.state == PS_SKIPPED) {
			if (it.fire_at + lookback < now && it.deadline <= now)
				continue;   /* too old to be worth a record */
		} else if (now >= it.deadline) {
			const struct rule *r = it.rule;
			if (it.channel == CH_CARD && r->fallback == CH_EMAIL && has_email(it.sh)) {
				/* Too late to post a card: a note by email, due until the end of the day itself. */
				it.channel = CH_EMAIL;
				it.zone = sh_zone(cfg, it.sh);
				it.mail_by = DAY_NONE;
				if (dates_local_to_utc(it.zone, dates_add_duration(&in->rs->cal, it.occasion, &r->late) + 1, 0,
				                       &it.deadline) != 0)
					it.deadline = now;
				snprintf(it.note, sizeof it.note, "card too late to post: email instead");
			}
			if (now >= it.deadline) {
				if (it.fire_at + lookback < now)
					continue;   /* older than lookback: ignored, no flood on old data */
				it.state = PS_MISSED;
				it.reason = "missed";
			}
		}
		if (it.state == PS_WAITING) {
			int64_t at = next_window(cfg, it.zone, now);
			if (at == now) {
				it.state = PS_DUE;
			} else {
				if (at > 0 && at < it.deadline && at < wake)
					wake = at;
				continue;
			}
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
		out->v[out->n++] = it;
	}
	order = xcalloc(out->n ? out->n : 1, sizeof *order);
	for (size_t i = 0; i < out->n; i++)
		order[i] = &out->v[i];
	if (out->n > 1)
		qsort(order, out->n, sizeof *order, due_cmp);
	apply_limits(&c, order, out->n, today);
	free(order);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, item_cmp);
	plan_list_free(&all);
	ctx_free(&c);
	if (next_wake)
		*next_wake = wake;
	return 0;
}
