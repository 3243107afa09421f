/*
 * planner: the one plan, built one stakeholder at a time. The rules (planner_rules.c) make
 * each stakeholder's items; what is kept of an item is 16 bytes (stakeholder, group, state,
 * note): the times, channel, template and cost it shares with others are one group, and a
 * stakeholder is a number whose id, name, owner and zone are written once (planner_text.c,
 * on disk past a megabyte in range mode: 4 bytes a stakeholder stay). Surprise keeps, per
 * period, the few silent longest in a bounded heap. After the last stakeholder come the
 * picks, the fire order and the limits.
 *
 * Range mode (`plan`, `report`, `preview`) keeps what fires in [from, to). Due mode (a pass)
 * decides each item's state at NOW as it comes and keeps only what is due, missed or
 * skipped, so a pass holds what it acts on, not the plan of everybody.
 */
#include "planner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

/* intern_zone: zones are few: a list. */
static uint32_t intern_zone(struct planner *ps, const char *z)
{
	for (size_t i = 0; i < ps->nzones; i++)
		if (strcmp(ps->zones[i], z) == 0)
			return (uint32_t)i;
	ps->zones = xreallocarray(ps->zones, ps->nzones + 1, sizeof *ps->zones);
	ps->zones[ps->nzones] = xstrdup(z);
	return (uint32_t)ps->nzones++;
}

/* intern_owner: index + 1 of an owner (hash set; an owner has many stakeholders). */
static uint32_t intern_owner(struct planner *ps, const char *o)
{
	size_t j;
	if (!*o)
		return 0;
	if (ps->nowners * 2 >= ps->ocap) {
		size_t cap = ps->ocap ? ps->ocap * 2 : 64;
		uint32_t *slot = xcalloc(cap, sizeof *slot);
		for (size_t i = 0; i < ps->nowners; i++) {
			j = fnv(ps->owners[i], strlen(ps->owners[i]), 1469598103934665603ULL) & (cap - 1);
			while (slot[j])
				j = (j + 1) & (cap - 1);
			slot[j] = (uint32_t)i + 1;
		}
		free(ps->oslot);
		ps->oslot = slot;
		ps->ocap = cap;
	}
	for (j = fnv(o, strlen(o), 1469598103934665603ULL) & (ps->ocap - 1); ps->oslot[j]; j = (j + 1) & (ps->ocap - 1))
		if (strcmp(ps->owners[ps->oslot[j] - 1], o) == 0)
			return ps->oslot[j];
	ps->owners = xreallocarray(ps->owners, ps->nowners + 1, sizeof *ps->owners);
	ps->owners[ps->nowners++] = xstrdup(o);
	ps->oslot[j] = (uint32_t)ps->nowners;
	return ps->oslot[j];
}

static uint32_t zone_of(struct planner *ps, const struct stakeholder *sh);

/* record: the current stakeholder's number, its text and days kept on first use. */
static uint32_t record(struct planner *ps, const struct sh_in *s)
{
	const struct stakeholder *sh = s->sh;
	uint32_t no = (uint32_t)ps->nrec, off, ndays = 0;
	char *name;

	if (ps->cur_rec != NONE32)
		return ps->cur_rec;
	if (ps->nrec == UINT32_MAX - 1) {   /* items name stakeholders in 32 bits */
		fputs("occasiond: plan: more than 4 billion stakeholders planned for\n", stderr);
		exit(1);
	}
	for (size_t i = 0; ps->c.rs->has_per_stakeholder && i < s->nhist; i++) {
		day_t d;
		if (planner_went_out(s->hist[i].status) && dates_parse_iso(s->hist[i].fire_date, &d) == 0 &&
		    d >= ps->contact_lo && d < ps->contact_hi)
			ndays++;
	}
	name = stakeholder_display_name(sh);
	off = planner_text_add(ps->text, intern_owner(ps, sh->f[SH_OWNER] ? sh->f[SH_OWNER] : ""), zone_of(ps, sh),
	                       planner_has_email(sh) ? RF_EMAIL : 0, sh->f[SH_ID], name);
	free(name);
	if (ndays) {
		if (ps->ndpos == ps->capdpos)
			ps->dpos = xreallocarray(ps->dpos, ps->capdpos = ps->capdpos ? 2 * ps->capdpos : 64, sizeof *ps->dpos);
		ps->dpos[ps->ndpos++] = (uint32_t)ps->ndays;
		while (ps->ndays + 2 + ndays > ps->capdays)
			ps->days = xreallocarray(ps->days, ps->capdays = ps->capdays ? 2 * ps->capdays : 256, sizeof *ps->days);
		ps->days[ps->ndays++] = (int32_t)no;
		ps->days[ps->ndays++] = (int32_t)ndays;
		for (size_t i = 0; i < s->nhist; i++) {
			day_t d;
			if (planner_went_out(s->hist[i].status) && dates_parse_iso(s->hist[i].fire_date, &d) == 0 &&
			    d >= ps->contact_lo && d < ps->contact_hi)
				ps->days[ps->ndays++] = (int32_t)d;
		}
		off |= RF_DAYS;
	}
	if (ps->nrec == ps->caprec)
		ps->rec = xreallocarray(ps->rec, ps->caprec = ps->caprec ? 2 * ps->caprec : 1024, sizeof *ps->rec);
	ps->rec[ps->nrec++] = off;
	ps->cur_rec = no;
	return no;
}

/* days_of: the days near the plan of stakeholder sh (*n of them), NULL when none. */
static const int32_t *days_of(const struct planner *ps, uint32_t sh, uint32_t *n)
{
	size_t lo = 0, hi = ps->ndpos;
	*n = 0;
	if (!(ps->rec[sh] & RF_DAYS))
		return NULL;
	while (lo < hi) {   /* numbers ascend in dpos */
		size_t mid = lo + (hi - lo) / 2;
		uint32_t k = (uint32_t)ps->days[ps->dpos[mid]];
		if (k == sh) {
			*n = (uint32_t)ps->days[ps->dpos[mid] + 1];
			return &ps->days[ps->dpos[mid] + 2];
		}
		if (k < sh)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static uint64_t group_hash(uint32_t rule, uint32_t zone, int variant, int channel, day_t occasion)
{
	uint64_t h = ((uint64_t)rule << 40) ^ ((uint64_t)zone << 20) ^ ((uint64_t)(variant + 1) << 12) ^
	             ((uint64_t)channel << 8) ^ (uint64_t)(uint32_t)occasion * 0x9E3779B97F4A7C15ULL;
	return (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL >> 20;
}

/* group_of: the group of an item (made with planner_set_times on first use). */
static uint32_t group_of(struct planner *ps, const struct plan_item *it, uint32_t zone)
{
	uint32_t rule = (uint32_t)(it->rule - ps->c.rs->rules);
	uint64_t h = group_hash(rule, zone, it->variant, it->channel, it->occasion);
	size_t j;
	struct pgroup *g;
	struct plan_item t;

	if (ps->ngroups * 2 >= ps->gcap) {
		size_t cap = ps->gcap ? ps->gcap * 2 : 1024;
		free(ps->gslot);
		ps->gslot = xcalloc(cap, sizeof *ps->gslot);
		ps->gcap = cap;
		for (size_t i = 0; i < ps->ngroups; i++)
			ps->groups[i].next = 0;
		for (size_t i = 0; i < ps->ngroups; i++) {
			const struct pgroup *q = &ps->groups[i];
			uint64_t k = group_hash(q->rule, q->zone, q->variant, q->channel, q->occasion);
			ps->groups[i].next = ps->gslot[k & (cap - 1)];
			ps->gslot[k & (cap - 1)] = (uint32_t)i + 1;
		}
	}
	j = h & (ps->gcap - 1);
	for (uint32_t x = ps->gslot[j]; x; x = ps->groups[x - 1].next) {
		g = &ps->groups[x - 1];
		if (g->rule == rule && g->zone == zone && g->variant == it->variant && g->channel == it->channel &&
		    g->occasion == it->occasion)
			return x - 1;
	}
	if (ps->ngroups == ps->capgroups) {
		ps->capgroups = ps->capgroups ? ps->capgroups * 2 : 256;
		ps->groups = xreallocarray(ps->groups, ps->capgroups, sizeof *ps->groups);
	}
	g = &ps->groups[ps->ngroups];
	memset(g, 0, sizeof *g);
	g->rule = rule;
	g->zone = zone;
	g->variant = it->variant;
	g->channel = it->channel;
	g->occasion = it->occasion;
	t = *it;
	t.note[0] = '\0';
	t.zone = ps->zones[zone];
	planner_set_times(&ps->c, &t);
	g->fire_date = t.fire_date;
	g->fire_at = t.fire_at;
	g->deadline = t.deadline;
	g->mail_by = t.mail_by;
	g->lead_note = t.note[0] != '\0';
	g->next = ps->gslot[j];
	ps->gslot[j] = (uint32_t)ps->ngroups + 1;
	return (uint32_t)ps->ngroups++;
}

static uint8_t note_code(const char *note)
{
	for (uint8_t k = 1; k < NOTE__FIXED; k++)
		if (strcmp(note, planner_notes[k]) == 0)
			return k;
	return NOTE_NONE;
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

/* fallback_deadline: a card too late to post goes as an email, due until the end of the day itself. */
int64_t planner_fallback_deadline(const struct planner *ps, const struct pgroup *g, uint32_t zone)
{
	const struct rule *r = &ps->c.rs->rules[g->rule];
	int64_t at;
	if (dates_local_to_utc(ps->zones[zone], dates_add_duration(&ps->c.rs->cal, g->occasion, &r->late) + 1, 0,
	                       &at) != 0)
		return ps->now;
	return at;
}

/*
 * due_state: due mode: the item's state at now (PS_DUE, PS_MISSED, or PS_SKIPPED as the rules
 * left it); 0 when it is not for this pass (its time is ahead, or too old to be worth a
 * record), the wake-up time noted. zone: the stakeholder's, has_email: whether it has one.
 */
static int due_state(struct planner *ps, struct pitem *pi, uint32_t zone, int has_email)
{
	const struct pgroup *g = &ps->groups[pi->group];
	const struct rule *r = &ps->c.rs->rules[g->rule];
	int64_t now = ps->now, deadline = g->deadline;
	int state = pi->state & ST_MASK;
	uint32_t z = g->zone;

	if (g->fire_at > now) {
		if (state != PS_SKIPPED && g->fire_at < ps->wake)
			ps->wake = g->fire_at;
		return 0;
	}
	if (state == PS_SKIPPED) {
		if (g->fire_at + ps->lookback < now && deadline <= now)
			return 0;   /* too old to be worth a record */
	} else if (now >= deadline) {
		if (g->channel == CH_CARD && r->fallback == CH_EMAIL && has_email) {
			pi->state |= ST_FALLBACK;
			pi->note = NOTE_CARD_LATE;
			z = zone;
			deadline = planner_fallback_deadline(ps, g, zone);
		}
		if (now >= deadline) {
			if (g->fire_at + ps->lookback < now)
				return 0;   /* older than lookback: ignored, no flood on old data */
			state = PS_MISSED;
		}
	}
	if (state == PS_WAITING) {
		int64_t at = next_window(ps->c.cfg, ps->zones[z], now);
		if (at != now) {
			if (at > 0 && at < deadline && at < ps->wake)
				ps->wake = at;
			return 0;
		}
		state = PS_DUE;
	}
	pi->state = (uint8_t)((pi->state & ~ST_MASK) | state);
	return 1;
}

static void push(struct planner *ps, const struct pitem *pi)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 1024;
		ps->items = xreallocarray(ps->items, ps->cap, sizeof *ps->items);
	}
	ps->items[ps->n++] = *pi;
}

static uint32_t zone_of(struct planner *ps, const struct stakeholder *sh)
{
	if (ps->cur_zone == NONE32) {
		const char *z = sh->f[SH_TIMEZONE];
		ps->cur_zone = intern_zone(ps, z && *z ? z : ps->c.cfg->timezone);
	}
	return ps->cur_zone;
}

/* sink: an item of the current stakeholder, kept compact when the mode wants it. */
static void sink(struct ctx *c, struct plan_item *it, const struct sh_in *s)
{
	struct planner *ps = c->sink_arg;
	uint32_t zone = zone_of(ps, s->sh), g;
	struct pitem pi;

	g = group_of(ps, it, it->channel == CH_CARD ? ps->cfg_zone : zone);
	if (!ps->due && (ps->groups[g].fire_date < ps->from || ps->groups[g].fire_date >= ps->to))
		return;
	memset(&pi, 0, sizeof pi);
	pi.group = g;
	pi.years = (int16_t)(it->years < -1 ? -1 : it->years > INT16_MAX ? INT16_MAX : it->years);
	pi.state = (uint8_t)it->state;
	pi.note = it->note[0] ? note_code(it->note) : NOTE_NONE;
	if (pi.note == NOTE_NONE && ps->groups[g].lead_note)
		pi.note = NOTE_LEAD_SHORT;
	if (ps->capture) {
		pi.sh = record(ps, s);
		ps->capture->it = pi;
		ps->capture->has = 1;
		return;
	}
	if (ps->due && !due_state(ps, &pi, zone, planner_has_email(s->sh)))
		return;
	pi.sh = record(ps, s);
	push(ps, &pi);
}

uint32_t planner_fields(const struct ruleset *rs, int *custom, int *events)
{
	static const int base[] = {
		SH_ID, SH_FIRST_NAME, SH_LAST_NAME, SH_NICKNAME, SH_TYPE, SH_TIER, SH_EMAIL, SH_PREFERRED_CHANNEL,
		SH_OWNER, SH_TIMEZONE, SH_STREET, SH_CITY, SH_HIRE_DATE, SH_CUSTOMER_SINCE, SH_OPTED_OUT,
		SH_COUNTRY,   /* the name order (stakeholder_display_name) */
	};
	uint32_t m = 0;
	*custom = *events = 0;
	for (size_t i = 0; i < sizeof base / sizeof *base; i++)
		m |= 1u << base[i];
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		if (r->when == WHEN_EVENT)
			*events = 1;
		if (r->personal)   /* the only reader of consent_personal: unread otherwise */
			m |= 1u << SH_CONSENT_PERSONAL;
		if ((r->when == WHEN_ANNIVERSARY || r->when == WHEN_EVERY) && r->field) {
			int f = sh_field_lookup(r->field);
			if (f >= 0)
				m |= 1u << f;
			else
				*custom = 1;
		}
	}
	return m;
}

/*
 * planner_new: the parts of both modes: occasions looked at from lo to hi_base + each rule's
 * lead, contacts counted from contact_lo, budget periods of [key_from, key_to].
 */
static struct planner *planner_new(const struct config *cfg, const struct ruleset *rs, day_t lo, day_t hi_base,
                                   day_t anchor, day_t contact_hi, day_t key_from, day_t key_to)
{
	struct planner *ps = xcalloc(1, sizeof *ps);
	long bound = 0;

	planner_ctx_rules(&ps->c, cfg, rs);
	ps->c.sink = sink;
	ps->c.sink_arg = ps;
	ps->lo = lo;
	ps->anchor = anchor;
	ps->wake = INT64_MAX;
	ps->cfg_zone = intern_zone(ps, cfg->timezone);
	ps->hi = xcalloc(rs->nrules ? rs->nrules : 1, sizeof *ps->hi);
	for (size_t i = 0; i < rs->nrules; i++)
		ps->hi[i] = hi_base + (day_t)planner_lead_bound(cfg, &rs->rules[i]);
	if (rs->has_per_stakeholder)
		bound = planner_duration_bound(&rs->per_stakeholder_within) + 2;
	ps->contact_lo = anchor - (day_t)bound;
	ps->contact_hi = contact_hi;
	if (rs->has_budget) {
		ps->key_lo = planner_budget_key(rs->budget_per, key_from, NULL, 0);
		ps->nkeys = planner_budget_key(rs->budget_per, key_to, NULL, 0) - ps->key_lo + 1;
		ps->spent = xcalloc((size_t)(ps->nkeys > 0 ? ps->nkeys : 1), sizeof *ps->spent);
	}
	/* Surprise: per rule and period, the business days and an empty heap. */
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		struct srule *q;
		if (r->when != WHEN_SURPRISE)
			continue;
		ps->sr = xreallocarray(ps->sr, ps->nsr + 1, sizeof *ps->sr);
		q = &ps->sr[ps->nsr++];
		memset(q, 0, sizeof *q);
		q->r = r;
		q->k = (size_t)r->surprise_count;
		for (day_t p = planner_period_start(r->surprise_per, lo); p <= ps->hi[i];
		     p = planner_period_next(r->surprise_per, p)) {
			struct speriod *sp;
			q->per = xreallocarray(q->per, q->nper + 1, sizeof *q->per);
			sp = &q->per[q->nper];
			memset(sp, 0, sizeof *sp);
			sp->p = p;
			sp->end = planner_period_next(r->surprise_per, p) - 1;
			for (day_t d = p; d <= sp->end; d++)
				if (calendar_is_business(&rs->cal, d))
					sp->biz[sp->nbiz++] = d;
			/* Earlier periods' picks count as contact: room for them to drop out. */
			sp->cap = q->k * (q->nper + 1);
			q->nper++;
		}
	}
	return ps;
}

struct planner *planner_new_range(const struct config *cfg, const struct ruleset *rs, day_t from, day_t to)
{
	struct planner *ps = planner_new(cfg, rs, from, to, from, to, from, to - 1);
	ps->keep_names = (size_t)16 << 20;
	ps->text = planner_text_new(1, ps->keep_names);
	ps->from = from;
	ps->to = to;
	return ps;
}

struct planner *planner_new_due(const struct config *cfg, const struct ruleset *rs, int64_t now)
{
	struct planner *ps;
	int64_t lookback = dates_duration_secs(&cfg->lookback);
	long late_max = 0;
	day_t today;
	int secs;

	if (dates_utc_to_local(cfg->timezone, now, &today, &secs) != 0)
		today = (day_t)(now / 86400);
	for (size_t i = 0; i < rs->nrules; i++) {
		long l = planner_duration_bound(&rs->rules[i].late);
		if (l > late_max)
			late_max = l;
	}
	/* Occasions whose deadline may still be ahead, or whose fire time is within lookback. */
	ps = planner_new(cfg, rs, today - (day_t)(lookback / 86400 + late_max + 3), today + 3, today, today + 1, today,
	                 today);
	ps->due = 1;
	ps->text = planner_text_new(0, 0);   /* the items a pass hands out point into it */
	ps->now = now;
	ps->today = today;
	ps->lookback = lookback;
	return ps;
}

/* planner_renew: an empty planner of pl's mode (a scan started again). */
struct planner *planner_renew(const struct planner *pl)
{
	struct planner *ps;
	if (pl->due)
		return planner_new_due(pl->c.cfg, pl->c.rs, pl->now);
	ps = planner_new_range(pl->c.cfg, pl->c.rs, pl->from, pl->to);
	planner_keep_names(ps, pl->keep_names);
	return ps;
}

/* worse: candidate a ranks after b (less silent, or as silent with a later id). */
static int worse(const struct cand *a, const struct cand *b)
{
	if (a->last != b->last)
		return a->last > b->last;
	return a->sh > b->sh;
}

static void heap_down(struct cand *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && worse(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && worse(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		struct cand t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_up(struct cand *h, size_t i)
{
	while (i > 0 && worse(&h[i], &h[(i - 1) / 2])) {
		struct cand t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* surprise_add: the current stakeholder as a candidate of each period of surprise rule q. */
static void surprise_add(struct planner *ps, struct srule *q, const struct sh_in *s)
{
	const struct rule *r = q->r;
	size_t ri = (size_t)(r - ps->c.rs->rules);
	int reach = -1;
	for (size_t j = 0; j < q->nper; j++) {
		struct speriod *sp = &q->per[j];
		struct cand cd;
		int taken = 0;
		memset(&cd, 0, sizeof cd);
		cd.last = DAY_NONE;
		for (size_t i = 0; i < s->nhist; i++) {
			const struct dispatch_rec *h = &s->hist[i];
			day_t d;
			if (strcmp(h->rule, r->id) == 0 && dates_parse_iso(h->occasion_date, &d) == 0 && d >= sp->p &&
			    d <= sp->end)
				taken = 1;
			if (planner_went_out(h->status) && dates_parse_iso(h->fire_date, &d) == 0 && d < sp->p &&
			    d > cd.last)
				cd.last = d;
		}
		if (taken) {
			sp->ntaken++;
			continue;
		}
		if (!sp->nbiz || !sp->cap)
			continue;
		/* Most stakeholders are less silent than the heap's worst: the cheap test first. */
		cd.sh = ps->cur_rec != NONE32 ? ps->cur_rec : (uint32_t)ps->nrec;   /* ids ascend: so do numbers */
		if (sp->n == sp->cap && !worse(&sp->heap[0], &cd))
			continue;
		if (reach < 0)
			reach = planner_reachable(r, s->sh);
		if (!reach || !planner_in_audience(ps->c.rs, r, s->sh, sp->p))
			continue;
		cd.sh = record(ps, s);
		cd.day = sp->biz[planner_surprise_hash(r->id, sp->p, s->sh->f[SH_ID]) % sp->nbiz];
		ps->capture = &cd;
		ps->c.lo = ps->lo;
		ps->c.hi = ps->hi[ri];
		planner_emit(&ps->c, r, s, cd.day, -1);
		ps->capture = NULL;
		if (sp->n == sp->cap) {
			sp->heap[0] = cd;
			heap_down(sp->heap, sp->n, 0);
		} else {
			if (sp->n == 0)
				sp->heap = xcalloc(sp->cap, sizeof *sp->heap);
			sp->heap[sp->n] = cd;
			heap_up(sp->heap, sp->n++);
		}
	}
}

void planner_add(struct planner *ps, const struct stakeholder *sh, const struct event *ev, size_t nev,
                 const struct dispatch_rec *hist, size_t nhist)
{
	const struct ruleset *rs = ps->c.rs;
	struct sh_in s;

	memset(&s, 0, sizeof s);
	s.sh = sh;
	s.ev = ev;
	s.nev = nev;
	s.hist = hist;
	s.nhist = nhist;
	s.last = DAY_NONE;
	for (size_t i = 0; i < nhist; i++) {
		const struct dispatch_rec *h = &hist[i];
		day_t d;
		if (!planner_went_out(h->status) || dates_parse_iso(h->fire_date, &d) != 0)
			continue;
		if (d > s.last)
			s.last = d;
		if (rs->has_budget) {
			long k = planner_budget_key(rs->budget_per, d, NULL, 0) - ps->key_lo;
			if (k >= 0 && k < ps->nkeys)
				ps->spent[k] += h->cost_cents;
		}
	}
	ps->cur_rec = NONE32;
	ps->cur_zone = NONE32;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		if (r->when == WHEN_SURPRISE)
			continue;
		ps->c.lo = ps->lo;
		ps->c.hi = ps->hi[i];
		planner_occasions(&ps->c, r, &s);
	}
	for (size_t i = 0; i < ps->nsr; i++)
		surprise_add(ps, &ps->sr[i], &s);
}

/* ---- after the scan ---- */

static const struct planner *sort_ps;   /* for the qsort comparators below (single-threaded) */

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return x->sh < y->sh ? -1 : x->sh > y->sh;
}

/* surprise_pick: per period, the count silent longest, earlier periods' picks taken as sent. */
static void surprise_pick(struct planner *ps, struct srule *q)
{
	struct cand *sims = NULL;   /* sh and day of every pick so far */
	size_t nsims = 0;
	for (size_t j = 0; j < q->nper; j++) {
		struct speriod *sp = &q->per[j];
		size_t want;
		if (!sp->nbiz || sp->ntaken >= q->k)
			continue;
		want = q->k - sp->ntaken;
		for (size_t i = 0; i < sp->n; i++)
			for (size_t m = 0; m < nsims; m++)
				if (sims[m].sh == sp->heap[i].sh && sims[m].day > sp->heap[i].last)
					sp->heap[i].last = sims[m].day;
		if (sp->n > 1)
			qsort(sp->heap, sp->n, sizeof *sp->heap, cand_cmp);
		for (size_t i = 0; i < sp->n && i < want; i++) {
			struct cand *cd = &sp->heap[i];
			struct ptext_rec tr;
			if (cd->has && ps->due)
				planner_text_get(ps->text, ps->rec[cd->it.sh] & ~RF_DAYS, &tr);
			if (cd->has && (!ps->due || due_state(ps, &cd->it, tr.zone, (tr.flags & RF_EMAIL) != 0)))
				push(ps, &cd->it);
			if (sp->end >= ps->anchor) {
				sims = xreallocarray(sims, nsims + 1, sizeof *sims);
				sims[nsims++] = *cd;
			}
		}
	}
	free(sims);
}

static int group_order(const void *a, const void *b)
{
	const struct pgroup *x = &sort_ps->groups[*(const uint32_t *)a], *y = &sort_ps->groups[*(const uint32_t *)b];
	const struct rule *rx = &sort_ps->c.rs->rules[x->rule], *ry = &sort_ps->c.rs->rules[y->rule];
	if (x->fire_at != y->fire_at)
		return x->fire_at < y->fire_at ? -1 : 1;
	if (rx->priority != ry->priority)
		return rx->priority > ry->priority ? -1 : 1;
	return strcmp(rx->id, ry->id);
}

/*
 * before: item a goes out before b: fire time, priority, rule, stakeholder id, occasion; for
 * a pass's limits (prio_first) what is due at once goes by priority first (CONTRACT §4).
 */
static int before(const struct planner *ps, const struct pitem *a, const struct pitem *b)
{
	uint32_t x = ps->rank[a->group], y = ps->rank[b->group];
	if (ps->date_order) {
		const struct pgroup *ga = &ps->groups[a->group], *gb = &ps->groups[b->group];
		if (ga->fire_date != gb->fire_date)
			return ga->fire_date < gb->fire_date;
		if (ga->occasion != gb->occasion)
			return ga->occasion < gb->occasion;
		if (a->sh != b->sh)
			return a->sh < b->sh;
	}
	if (ps->prio_first) {
		long pa = ps->c.rs->rules[ps->groups[a->group].rule].priority;
		long pb = ps->c.rs->rules[ps->groups[b->group].rule].priority;
		if (pa != pb)
			return pa > pb;
	}
	if (x != y)
		return x < y;
	if (a->sh != b->sh)
		return a->sh < b->sh;
	return ps->groups[a->group].occasion < ps->groups[b->group].occasion;
}

static void swap_items(struct pitem *a, struct pitem *b)
{
	struct pitem t = *a;
	*a = *b;
	*b = t;
}

static void sift(const struct planner *ps, struct pitem *v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && before(ps, &v[m], &v[l]))
			m = l;
		if (l + 1 < n && before(ps, &v[m], &v[l + 1]))
			m = l + 1;
		if (m == i)
			return;
		swap_items(&v[i], &v[m]);
		i = m;
	}
}

/*
 * sort_items: in place (qsort would take a second copy of the items): quicksort with a
 * median of three, insertion sort for short runs, heapsort when it goes too deep.
 */
static void sort_items(const struct planner *ps, struct pitem *v, size_t n, int depth)
{
	while (n > 24) {
		size_t mid = n / 2, i = 0, j = n - 1;
		if (depth-- == 0) {
			for (size_t k = n / 2; k-- > 0;)
				sift(ps, v, n, k);
			for (size_t k = n - 1; k > 0; k--) {
				swap_items(&v[0], &v[k]);
				sift(ps, v, k, 0);
			}
			return;
		}
		if (before(ps, &v[mid], &v[0]))
			swap_items(&v[mid], &v[0]);
		if (before(ps, &v[n - 1], &v[0]))
			swap_items(&v[n - 1], &v[0]);
		if (before(ps, &v[n - 1], &v[mid]))
			swap_items(&v[n - 1], &v[mid]);
		struct pitem pivot = v[mid];
		for (;;) {   /* Hoare partition */
			while (before(ps, &v[i], &pivot))
				i++;
			while (before(ps, &pivot, &v[j]))
				j--;
			if (i >= j)
				break;
			swap_items(&v[i], &v[j]);
			i++;
			j--;
		}
		/* [0, j] and [j + 1, n): recurse into the smaller part */
		if (j + 1 < n - j - 1) {
			sort_items(ps, v, j + 1, depth);
			v += j + 1;
			n -= j + 1;
		} else {
			sort_items(ps, v + j + 1, n - j - 1, depth);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		struct pitem t = v[i];
		size_t k = i;
		while (k > 0 && before(ps, &t, &v[k - 1])) {
			v[k] = v[k - 1];
			k--;
		}
		v[k] = t;
	}
}

/*
 * apply_limits: walks the items in the order they would go out and turns into PS_SKIPPED
 * (limit or budget) each one that would break per_stakeholder or the budget, counting what
 * went out before (history) and the items before it that stand. Range mode: an item counts on
 * its fire date. Due mode: on today, and in a pass what stands before goes out today.
 */
static void apply_limits(struct planner *ps)
{
	const struct ruleset *rs = ps->c.rs;
	day_t memo_on = DAY_NONE, memo_start = DAY_NONE, key_on = DAY_NONE;
	long key = 0;
	uint32_t *head;   /* per stakeholder: its latest standing item (position + 1), 0 none */
	if (!rs->has_per_stakeholder && !rs->has_budget)
		return;
	head = xcalloc(ps->nrec ? ps->nrec : 1, sizeof *head);
	for (size_t i = 0; i < ps->n; i++) {
		struct pitem *it = &ps->items[i];
		const struct pgroup *g = &ps->groups[it->group];
		int state = it->state & ST_MASK;
		day_t on = ps->due ? ps->today : g->fire_date;
		if (state != PS_WAITING && state != PS_DUE)
			continue;
		if (rs->has_per_stakeholder) {
			uint32_t nd, count = 0;
			const int32_t *dv = days_of(ps, it->sh, &nd);
			day_t start;
			if (on != memo_on) {
				memo_on = on;
				memo_start = dates_sub_duration(&rs->cal, on, &rs->per_stakeholder_within);
			}
			start = memo_start;
			for (uint32_t k = 0; k < nd; k++)
				if (dv[k] > start && dv[k] <= on)
					count++;
			for (uint32_t j = head[it->sh]; j; j = ps->items[j - 1].aux) {
				day_t f = ps->groups[ps->items[j - 1].group].fire_date;
				if (ps->due || (f > start && f <= on))
					count++;
			}
			if (count >= (uint32_t)rs->per_stakeholder_max) {
				it->state = (uint8_t)((it->state & ~ST_MASK) | PS_SKIPPED);
				it->note = NOTE_LIMIT;
				it->aux = count;
				continue;
			}
		}
		if (rs->has_budget) {
			const struct rule *r = &rs->rules[g->rule];
			int64_t cost = g->variant >= 0 && r->variants[g->variant].cost_cents >= 0 ?
			               r->variants[g->variant].cost_cents : r->cost_cents;
			long k;
			if (on != key_on) {
				key_on = on;
				key = planner_budget_key(rs->budget_per, on, NULL, 0) - ps->key_lo;
			}
			k = key;
			if (cost > 0 && k >= 0 && k < ps->nkeys) {
				if (ps->spent[k] + cost > rs->budget_cents) {
					ps->budget_spent = xreallocarray(ps->budget_spent, ps->nbudget + 1, sizeof *ps->budget_spent);
					ps->budget_spent[ps->nbudget] = ps->spent[k];
					it->state = (uint8_t)((it->state & ~ST_MASK) | PS_SKIPPED);
					it->note = NOTE_BUDGET;
					it->aux = (uint32_t)ps->nbudget++;
					continue;
				}
				ps->spent[k] += cost;
			}
		}
		it->aux = head[it->sh];
		head[it->sh] = (uint32_t)i + 1;
	}
	free(head);
}

static int sort_depth(size_t n)
{
	int depth = 0;
	for (; n > 1; n /= 2)
		depth += 2;
	return depth;
}

void planner_finish(struct planner *ps)
{
	uint32_t *order;
	if (ps->finished)
		return;
	ps->finished = 1;
	for (size_t i = 0; i < ps->nsr; i++)
		surprise_pick(ps, &ps->sr[i]);
	/* Groups in fire order give each item its rank; then the items, by rank, id and date. */
	order = xcalloc(ps->ngroups ? ps->ngroups : 1, sizeof *order);
	for (size_t i = 0; i < ps->ngroups; i++)
		order[i] = (uint32_t)i;
	sort_ps = ps;
	if (ps->ngroups > 1)
		qsort(order, ps->ngroups, sizeof *order, group_order);
	ps->rank = xcalloc(ps->ngroups ? ps->ngroups : 1, sizeof *ps->rank);   /* dense: the sort reads it most */
	for (size_t i = 0; i < ps->ngroups; i++)
		ps->rank[order[i]] = i && group_order(&order[i - 1], &order[i]) == 0 ? ps->rank[order[i - 1]] : (uint32_t)i;
	sort_ps = NULL;
	free(order);
	/* A pass applies its limits in dispatch order, then hands the items out in fire order. */
	ps->prio_first = ps->due;
	sort_items(ps, ps->items, ps->n, sort_depth(ps->n));
	apply_limits(ps);
	if (ps->prio_first) {
		ps->prio_first = 0;
		sort_items(ps, ps->items, ps->n, sort_depth(ps->n));
	}
}

void planner_keep_names(struct planner *ps, size_t bytes)
{
	ps->keep_names = bytes;
	planner_text_keep(ps->text, bytes);
}

void planner_sort_dates(struct planner *ps)
{
	/* The states are decided: what limits kept of the fire order (aux) no longer points at positions. */
	ps->date_order = 1;
	sort_items(ps, ps->items, ps->n, sort_depth(ps->n));
}

void planner_free(struct planner *ps)
{
	if (!ps)
		return;
	planner_ctx_rules_free(&ps->c);
	free(ps->hi);
	free(ps->groups);
	free(ps->rank);
	free(ps->gslot);
	free(ps->items);
	free(ps->rec);
	planner_text_free(ps->text);
	free(ps->days);
	free(ps->dpos);
	for (size_t i = 0; i < ps->nzones; i++)
		free(ps->zones[i]);
	free(ps->zones);
	for (size_t i = 0; i < ps->nowners; i++)
		free(ps->owners[i]);
	free(ps->owners);
	free(ps->oslot);
	free(ps->spent);
	free(ps->budget_spent);
	for (size_t i = 0; i < ps->nsr; i++) {
		for (size_t j = 0; j < ps->sr[i].nper; j++)
			free(ps->sr[i].per[j].heap);
		free(ps->sr[i].per);
	}
	free(ps->sr);
	free(ps);
}
