/*
 * planner_rules: what the rules make of one stakeholder: its occasions within the dates looked
 * at, the audience, at-most-once against its records, the channel (preference, address
 * fallback), the variant, the signer and the times. Each item goes to the plan's sink
 * (planner.c), which decides what of it is kept.
 */
#include "planner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const plan_state_names[] = {"due", "waiting", "missed", "skipped"};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int planner_went_out(int status)
{
	/* Everything that reached, or may have reached, the stakeholder: a card once rendered is
	 * going to be posted; an email queued, retried or of unknown fate may have been delivered. */
	return status != DS_SKIPPED && status != DS_FAILED && status != DS_CANCELLED;
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

static const char *sh_zone(const struct config *cfg, const struct stakeholder *sh)
{
	const char *z = sh->f[SH_TIMEZONE];
	return z && *z ? z : cfg->timezone;
}

static int has_postal(const struct stakeholder *sh)
{
	return *sh->f[SH_STREET] && *sh->f[SH_CITY];
}

int planner_has_email(const struct stakeholder *sh)
{
	return *sh->f[SH_EMAIL] != '\0';
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

int planner_in_audience(const struct ruleset *rs, const struct rule *r, const struct stakeholder *sh, day_t d)
{
	if (flag(sh, SH_OPTED_OUT))
		return 0;
	if (r->personal && !flag(sh, SH_CONSENT_PERSONAL))
		return 0;
	if (!strlist_has(&r->types, sh->f[SH_TYPE]) || !strlist_has(&r->tiers, sh->f[SH_TIER]))
		return 0;
	if (r->has_min_tenure && d != DAY_NONE) {
		const char *since = *sh->f[SH_CUSTOMER_SINCE] ? sh->f[SH_CUSTOMER_SINCE] : sh->f[SH_HIRE_DATE];
		day_t s;
		if (dates_parse_iso(since, &s) != 0)
			return 0;
		if (dates_add_duration(&rs->cal, s, &r->min_tenure) > d)
			return 0;
	}
	return 1;
}

const char *planner_signer(const struct config *cfg, const struct rule *r, int variant, const char *owner,
                           const char *name)
{
	const char *org = cfg->org_name && *cfg->org_name ? cfg->org_name : "occasiond";
	const char *s = variant >= 0 && r->variants[variant].signer ? r->variants[variant].signer : r->signer;
	if (!owner)
		owner = "";
	if (!s)
		s = *owner ? owner : org;
	if (name && *name && strcmp(s, name) == 0)   /* never one's own card */
		s = *owner && strcmp(owner, name) != 0 ? owner : org;
	return s;
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
		/* it->zone: the stakeholder's, set by resolve */
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
	"card too late to post: email instead",
};

/*
 * resolve: channel (preference, address fallback), variant overrides and the stakeholder's
 * zone; the times are the sink's (planner_set_times), the signer the plan's (planner_signer).
 */
static void resolve(const struct ctx *c, struct plan_item *it, const struct stakeholder *sh)
{
	const struct rule *r = it->rule;
	int ch = r->channel;

	it->template_name = r->template_name;
	it->cost_cents = r->cost_cents;
	it->priority = r->priority;
	it->zone = sh_zone(c->cfg, sh);
	it->state = PS_WAITING;
	it->variant = -1;
	it->reason = NULL;
	it->note[0] = '\0';

	if (ch == CH_PREFERRED) {
		int want = util_streq(sh->f[SH_PREFERRED_CHANNEL], "card") ? CH_CARD :
		           util_streq(sh->f[SH_PREFERRED_CHANNEL], "email") ? CH_EMAIL :
		           planner_has_email(sh) ? CH_EMAIL : CH_CARD;
		int ok = want == CH_CARD ? has_postal(sh) : planner_has_email(sh);
		if (!ok) {
			int other = want == CH_CARD ? CH_EMAIL : CH_CARD;
			if (other == CH_CARD ? has_postal(sh) : planner_has_email(sh)) {
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
		break;
	}
	it->channel = ch;
	if (it->state != PS_SKIPPED && ch == CH_EMAIL && !planner_has_email(sh)) {
		it->state = PS_SKIPPED;
		it->reason = "no-address";
		util_strlcpy(it->note, planner_notes[NOTE_NO_EMAIL], sizeof it->note);
	}
	if (it->state != PS_SKIPPED && ch == CH_CARD && !has_postal(sh) && !it->note[0])
		util_strlcpy(it->note, planner_notes[NOTE_HAND_OVER], sizeof it->note);
}

/* done: the at-most-once check: s has a record of (rule, occasion d). */
static int done(const struct sh_in *s, const char *rule, day_t d)
{
	char date[11];
	dates_format_iso(d, date);
	for (size_t i = 0; i < s->nhist; i++)
		if (strcmp(s->hist[i].rule, rule) == 0 && strcmp(s->hist[i].occasion_date, date) == 0)
			return 1;
	return 0;
}

void planner_emit(struct ctx *c, const struct rule *r, const struct sh_in *s, day_t d, long years)
{
	struct plan_item it;
	if (d < c->lo || d > c->hi)
		return;
	if (!planner_in_audience(c->rs, r, s->sh, d))
		return;
	if (s->nhist && done(s, r->id, d))
		return;
	memset(&it, 0, sizeof it);
	it.rule = r;
	it.occasion = d;
	it.years = years;
	resolve(c, &it, s->sh);
	c->sink(c, &it, s);
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
			planner_emit(c, r, s, yr->fixed[i], -1);
		return;
	}

	switch (r->when) {
	case WHEN_DATE:
		if (r->once != DAY_NONE) {
			planner_emit(c, r, s, r->once, -1);
			break;
		}
		for (y = ylo; y <= yhi; y++)
			planner_emit(c, r, s, dates_anniversary(y, r->month, r->day), -1);
		break;
	case WHEN_NTH_WEEKDAY:
		for (y = ylo; y <= yhi; y++) {
			day_t d = dates_nth_weekday(y, r->month, r->nth, r->weekday);
			if (d != DAY_NONE)
				planner_emit(c, r, s, d, -1);
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
			planner_emit(c, r, s, dates_anniversary(y, bm, bd), years);
		}
		break;
	case WHEN_EVENT:
		for (size_t i = 0; i < s->nev; i++) {
			const struct event *ev = &s->ev[i];
			day_t d;
			if (strcmp(ev->kind, r->event_kind) == 0 && dates_parse_iso(ev->date, &d) == 0)
				planner_emit(c, r, s, d, -1);
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
				planner_emit(c, r, s, d, -1);
		}
		break;
	}
	case WHEN_NO_CONTACT: {
		day_t last = s->last;
		if (last == DAY_NONE && dates_parse_iso(sh->f[SH_CUSTOMER_SINCE], &last) != 0)
			break;
		planner_emit(c, r, s, dates_add_duration(cal, last, &r->period), -1);
		break;
	}
	default:
		/* surprise is planned over the whole audience, not one stakeholder at a time */
		break;
	}
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
	k = xasprintf("%s\x1f%s\x1f%s", rule, date, sh_id);
	h = hash_str(k);
	free(k);
	return h;
}

int planner_reachable(const struct rule *r, const struct stakeholder *sh)
{
	if (r->channel == CH_EMAIL)
		return planner_has_email(sh);
	if (r->channel == CH_PREFERRED)
		return planner_has_email(sh) || has_postal(sh);
	return 1;   /* a card without a postal address is handed over */
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
