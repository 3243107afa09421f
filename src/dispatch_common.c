/*
 * dispatch_common: what every part of a pass shares: its state, the stakeholders it fetches
 * again by id (the plan keeps ids, not stakeholders), records and skips, log lines, the
 * template context, card templates. The email and card paths depend on this file alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch_int.h"
#include "occasiond/log.h"

void dispatch_ordinal(long n, char *buf, size_t size)
{
	const char *suf = "th";
	long m100 = n % 100, m10 = n % 10;
	if (m100 < 11 || m100 > 13) {
		if (m10 == 1)
			suf = "st";
		else if (m10 == 2)
			suf = "nd";
		else if (m10 == 3)
			suf = "rd";
	}
	snprintf(buf, size, "%ld%s", n, suf);
}

struct tval *dispatch_context(const struct config *cfg, const struct rule *r, const struct stakeholder *sh,
                              const struct event *ev, day_t occasion, long years, const char *signer)
{
	struct tval *ctx = tval_map(), *occ = tval_map();
	char buf[64], *full;

	for (int i = 0; i < SH_NFIELDS; i++)
		tval_map_set_str(ctx, sh_field_names[i], sh->f[i] ? sh->f[i] : "");
	for (size_t i = 0; i < sh->ncustom; i++)
		tval_map_set_str(ctx, sh->custom[i].key, sh->custom[i].value);
	full = stakeholder_display_name(sh);
	tval_map_set_str(ctx, "full_name", full);
	free(full);
	full = stakeholder_greeting_name(sh);
	tval_map_set_str(ctx, "greeting_name", full);
	free(full);

	tval_map_set_str(occ, "name", r->name);
	dates_format_long(occasion, buf, sizeof buf);
	tval_map_set_str(occ, "date", buf);
	dates_format_iso(occasion, buf);
	tval_map_set_str(occ, "iso", buf);
	tval_map_set_str(occ, "id", r->id);
	tval_map_set(ctx, "occasion", occ);
	if (years >= 0) {
		snprintf(buf, sizeof buf, "%ld", years);
		tval_map_set_str(ctx, "years", buf);
		dispatch_ordinal(years, buf, sizeof buf);
		tval_map_set_str(ctx, "ordinal_years", buf);
	} else {
		tval_map_set_str(ctx, "years", "");
		tval_map_set_str(ctx, "ordinal_years", "");
	}
	tval_map_set_str(ctx, "signer", signer ? signer : "");
	if (ev) {
		struct tval *e = tval_map();
		tval_map_set_str(e, "title", ev->title);
		tval_map_set_str(e, "details", ev->details);
		tval_map_set_str(e, "date", ev->date);
		tval_map_set_str(e, "kind", ev->kind);
		tval_map_set(ctx, "event", e);
	}
	tval_map_set_str(ctx, "organization_name", cfg->org_name ? cfg->org_name : "");
	return ctx;
}


static int (*stop_check)(void);

void dispatch_set_stop_check(int (*fn)(void))
{
	stop_check = fn;
}

int dispatch_stopping(void)
{
	return stop_check && stop_check();
}

static int spread;

void dispatch_set_spread(int on)
{
	spread = on;
}

int dispatch_spreading(void)
{
	return spread;
}

int dispatch_pass_begin(struct pass *p, const struct config *cfg, const struct ruleset *rs, struct store *st,
                        int64_t now, struct dispatch_stats *stats, char err[ERR_LEN])
{
	memset(p, 0, sizeof *p);
	p->cfg = cfg;
	p->rs = rs;
	p->st = st;
	p->now = now;
	p->stats = stats;
	/* An error is not "absent": a pass that cannot read the store must not go on. */
	if (store_meta_get(st, "install_id", &p->install_id, err) < 0)
		return -1;
	if (!p->install_id)
		p->install_id = xstrdup("0");
	return 0;
}

static void reminders_free(struct pass *p)
{
	for (size_t i = 0; i < p->nrem; i++) {
		free(p->rem[i].name);
		free(p->rem[i].to);
		free(p->rem[i].batch);
		sb_free(&p->rem[i].msg);
	}
	free(p->rem);
	p->rem = NULL;
	p->nrem = 0;
}

void dispatch_pass_end(struct pass *p)
{
	dispatch_forget(p);
	free(p->shs);
	p->shs = NULL;
	p->shcap = 0;
	for (size_t i = 0; i < p->ncards; i++) {
		free(p->cards[i].name);
		card_template_free(p->cards[i].t);
		free(p->cards[i].err);
	}
	free(p->cards);
	p->cards = NULL;
	p->ncards = 0;
	reminders_free(p);
	free(p->fallback);
	p->fallback = NULL;
	p->nfallback = 0;
	free(p->install_id);
	p->install_id = NULL;
}

/* ---- stakeholders fetched by id ---- */

static size_t id_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

void dispatch_forget(struct pass *p)
{
	for (size_t i = 0; i < p->shcap; i++) {
		struct pass_sh *s = p->shs[i];
		if (!s)
			continue;
		stakeholder_clear(&s->sh);
		events_free(s->ev, s->nev);
		free(s);
		p->shs[i] = NULL;
	}
	p->nshs = 0;
}

/* sh_slot: the slot of id in the table (its entry, or the empty slot where it goes). */
static size_t sh_slot(const struct pass *p, const char *id)
{
	size_t j = id_hash(id) & (p->shcap - 1);
	while (p->shs[j] && strcmp(p->shs[j]->sh.f[SH_ID], id) != 0)
		j = (j + 1) & (p->shcap - 1);
	return j;
}

const struct pass_sh *dispatch_sh(struct pass *p, const char *id)
{
	struct pass_sh *s;
	char err[ERR_LEN];
	int found = 0;
	size_t j;

	if (p->shcap && p->shs[j = sh_slot(p, id)])
		return p->shs[j];
	if (p->offline)
		return NULL;
	if (p->nshs * 2 + 2 > p->shcap) {   /* grow: open addressing stays at most half full */
		struct pass_sh **old = p->shs;
		size_t oldcap = p->shcap;
		p->shcap = oldcap ? oldcap * 2 : 256;
		p->shs = xcalloc(p->shcap, sizeof *p->shs);
		for (size_t i = 0; i < oldcap; i++)
			if (old[i])
				p->shs[sh_slot(p, old[i]->sh.f[SH_ID])] = old[i];
		free(old);
	}
	s = xcalloc(1, sizeof *s);
	if (store_get_stakeholder(p->st, id, &s->sh, &found, err) != 0 ||
	    (found && store_get_events(p->st, id, &s->ev, &s->nev, err) != 0)) {
		log_err("%s", err);
		found = 0;
	}
	if (!found) {   /* deleted since the plan, or the store failed */
		stakeholder_clear(&s->sh);
		free(s);
		return NULL;
	}
	p->shs[sh_slot(p, id)] = s;
	p->nshs++;
	return s;
}

const struct event *dispatch_event(const struct pass_sh *s, const char *kind, day_t date)
{
	char iso[11];
	dates_format_iso(date, iso);
	for (size_t i = 0; i < s->nev; i++)
		if (util_streq(s->ev[i].kind, kind) && strcmp(s->ev[i].date, iso) == 0)
			return &s->ev[i];
	return NULL;
}

int dispatch_item_parts(struct pass *p, const struct plan_item *it, const struct stakeholder **sh,
                        const struct event **ev)
{
	const struct pass_sh *s = dispatch_sh(p, it->sh_id);
	*sh = NULL;
	*ev = NULL;
	if (!s)
		return -1;
	*sh = &s->sh;
	if (it->rule->when == WHEN_EVENT)
		*ev = dispatch_event(s, it->rule->event_kind, it->occasion);
	return 0;
}

int dispatch_item_of_record(struct pass *p, const struct dispatch_rec *rec, const struct rule **r,
                            const struct stakeholder **sh, const struct event **ev, day_t *occasion, long *years)
{
	const struct pass_sh *s;
	const char *f;
	int y, m, d, by = 0, bm, bd;
	*r = rules_find(p->rs, rec->rule);
	*sh = NULL;
	*ev = NULL;
	*years = -1;
	if (!*r || dates_parse_iso(rec->occasion_date, occasion) != 0 || !(s = dispatch_sh(p, rec->stakeholder)))
		return -1;
	*sh = &s->sh;
	if ((*r)->when == WHEN_EVENT)
		*ev = dispatch_event(s, (*r)->event_kind, *occasion);
	if ((*r)->when == WHEN_ANNIVERSARY && (f = stakeholder_get(*sh, (*r)->field)) && f[0] && f[0] != '-') {
		day_t base;
		if (dates_parse_iso(f, &base) == 0) {
			dates_to_ymd(base, &by, &bm, &bd);
			dates_to_ymd(*occasion, &y, &m, &d);
			*years = y - by;
		}
	}
	return 0;
}

void dispatch_rec_from_item(struct dispatch_rec *rec, const struct plan_item *it)
{
	char buf[11];
	memset(rec, 0, sizeof *rec);
	rec->rule = xstrdup(it->rule->id);
	rec->stakeholder = xstrdup(it->sh_id);
	dates_format_iso(it->occasion, buf);
	rec->occasion_date = xstrdup(buf);
	dates_format_iso(it->fire_date, buf);
	rec->fire_date = xstrdup(buf);
	rec->fire_at = it->fire_at;
	rec->channel = (enum channel)it->channel;
	rec->signer = xstrdup(it->signer);
	rec->cost_cents = it->cost_cents;
	rec->template_name = xstrdup(it->template_name);
	rec->reason = it->reason ? xstrdup(it->reason) : NULL;
}

void dispatch_log_rec(const struct dispatch_rec *r)
{
	enum log_level lvl = r->status == DS_FAILED ? LOG_LVL_ERR : r->status == DS_SKIPPED ? LOG_LVL_WARN : LOG_LVL_INFO;
	log_msg(lvl, "dispatch id=%lld rule=%s stakeholder=%s occasion=%s channel=%s status=%s%s%s%s%s%s%s",
	        (long long)r->id, r->rule, r->stakeholder, r->occasion_date, channel_names[r->channel],
	        dispatch_status_names[r->status], r->reason ? " reason=" : "", r->reason ? r->reason : "",
	        r->artifact ? " artifact=" : "", r->artifact ? r->artifact : "",
	        r->error ? " error=" : "", r->error ? r->error : "");
}

/* record_skip: a skipped (missed, no-address...) dispatch is a record too: nothing is dropped silently. */
int dispatch_record_skip(struct pass *p, const struct plan_item *it, char err[ERR_LEN])
{
	struct dispatch_rec rec;
	int claimed = 0, rc;
	dispatch_rec_from_item(&rec, it);
	rec.status = DS_SKIPPED;
	free(rec.reason);
	rec.reason = xstrdup(it->reason ? it->reason : "missed");
	rec.cost_cents = 0;
	rc = store_claim(p->st, &rec, &claimed, err);
	if (rc == 0 && claimed) {
		dispatch_log_rec(&rec);
		if (it->state == PS_MISSED)
			p->stats->missed++;
		else
			p->stats->skipped++;
	}
	dispatch_rec_clear(&rec);
	return rc;
}

/* ---- card templates ---- */

struct card_template *dispatch_card_tmpl(struct pass *p, const char *name, char err[ERR_LEN])
{
	char *file, *path;
	struct tmpl_cache *c;
	for (size_t i = 0; i < p->ncards; i++)
		if (strcmp(p->cards[i].name, name) == 0) {
			if (!p->cards[i].t)
				util_strlcpy(err, p->cards[i].err, ERR_LEN);
			return p->cards[i].t;
		}
	p->cards = xreallocarray(p->cards, p->ncards + 1, sizeof *p->cards);
	c = &p->cards[p->ncards++];
	c->name = xstrdup(name);
	c->t = NULL;
	c->err = NULL;
	file = xasprintf("%s.card.yaml", name);
	path = util_path_join(p->cfg->templates, file);
	if (card_template_load(path, p->cfg->fonts, &c->t, err) != 0)
		c->err = xstrdup(err);
	free(file);
	free(path);
	return c->t;
}

int dispatch_card_render(struct pass *p, struct card_batch *b, const struct rule *r, const struct stakeholder *sh,
                         const struct event *ev, day_t occ, long years, const char *tmpl_name, const char *signer,
                         int *page, char err[ERR_LEN])
{
	struct card_template *t = dispatch_card_tmpl(p, tmpl_name, err);
	struct tval *ctx;
	int rc;
	if (!t)
		return -1;
	ctx = dispatch_context(p->cfg, r, sh, ev, occ, years, signer);
	rc = card_batch_add(b, t, ctx, page, err);
	tval_free(ctx);
	return rc;
}
