/*
 * dispatch: claim -> render -> deliver -> record.
 *
 * Emails: the claim (status queued) is committed before anything is written, the maildir
 * file name is derived from the dispatch id, so a pass interrupted after the delivery but
 * before the record finds the file and marks it sent instead of writing it twice.
 * Cards: every card of one signer and fire date is rendered into one batch, saved
 * atomically, and its records committed with it; a later pass on the same date rebuilds
 * the batch from all its records so one signer has one batch per day.
 */
#include "occasiond/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "occasiond/card.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"
#include "occasiond/planner.h"

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
	tval_map_set_str(ctx, "greeting_name", *sh->f[SH_NICKNAME] ? sh->f[SH_NICKNAME] : sh->f[SH_FIRST_NAME]);

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

/* The data one pass works on. */
struct pass {
	const struct config *cfg;
	const struct ruleset *rs;
	struct store *st;
	struct stakeholder *sh;
	size_t nsh;
	struct event *ev;
	size_t nev;
	struct dispatch_rec *hist;
	size_t nhist;
	char *install_id;
	int64_t now;
	struct dispatch_stats *stats;
};

static void pass_free(struct pass *p)
{
	stakeholders_free(p->sh, p->nsh);
	events_free(p->ev, p->nev);
	dispatch_recs_free(p->hist, p->nhist);
	free(p->install_id);
}

static int pass_load(struct pass *p, char err[ERR_LEN])
{
	struct dispatch_filter all = {.channel = -1};
	if (store_load_stakeholders(p->st, &p->sh, &p->nsh, err) != 0 ||
	    store_load_events(p->st, &p->ev, &p->nev, err) != 0 ||
	    store_list_dispatches(p->st, &all, &p->hist, &p->nhist, err) != 0)
		return -1;
	p->install_id = store_meta_get(p->st, "install_id");
	if (!p->install_id)
		p->install_id = xstrdup("0");
	return 0;
}

static const struct stakeholder *find_sh(const struct pass *p, const char *id)
{
	size_t lo = 0, hi = p->nsh;
	while (lo < hi) {   /* loaded ordered by id */
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->sh[mid].f[SH_ID], id);
		if (c == 0)
			return &p->sh[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const struct event *find_event(const struct pass *p, const char *sh_id, const char *kind, const char *date)
{
	for (size_t i = 0; i < p->nev; i++)
		if (strcmp(p->ev[i].stakeholder_id, sh_id) == 0 && util_streq(p->ev[i].kind, kind) &&
		    strcmp(p->ev[i].date, date) == 0)
			return &p->ev[i];
	return NULL;
}

static void rec_from_item(struct dispatch_rec *rec, const struct plan_item *it)
{
	char buf[11];
	memset(rec, 0, sizeof *rec);
	rec->rule = xstrdup(it->rule->id);
	rec->stakeholder = xstrdup(it->sh->f[SH_ID]);
	dates_format_iso(it->occasion, buf);
	rec->occasion_date = xstrdup(buf);
	dates_format_iso(it->fire_date, buf);
	rec->fire_date = xstrdup(buf);
	rec->fire_at = it->fire_at;
	rec->channel = (enum channel)it->channel;
	rec->signer = xstrdup(it->signer);
	rec->cost_cents = it->cost_cents;
	rec->template_name = xstrdup(it->template_name);
}

static void log_rec(const struct dispatch_rec *r)
{
	enum log_level lvl = r->status == DS_FAILED ? LOG_LVL_ERR : r->status == DS_SKIPPED ? LOG_LVL_WARN : LOG_LVL_INFO;
	log_msg(lvl, "dispatch id=%lld rule=%s stakeholder=%s occasion=%s channel=%s status=%s%s%s%s%s%s%s",
	        (long long)r->id, r->rule, r->stakeholder, r->occasion_date, channel_names[r->channel],
	        dispatch_status_names[r->status], r->reason ? " reason=" : "", r->reason ? r->reason : "",
	        r->artifact ? " artifact=" : "", r->artifact ? r->artifact : "",
	        r->error ? " error=" : "", r->error ? r->error : "");
}

/* record_skip: a skipped (missed, no-address...) dispatch is a record too: nothing is dropped silently. */
static int record_skip(struct pass *p, const struct plan_item *it, char err[ERR_LEN])
{
	struct dispatch_rec rec;
	int claimed = 0, rc;
	rec_from_item(&rec, it);
	rec.status = DS_SKIPPED;
	rec.reason = xstrdup(it->reason ? it->reason : "missed");
	rec.cost_cents = 0;
	rc = store_claim(p->st, &rec, &claimed, err);
	if (rc == 0 && claimed) {
		log_rec(&rec);
		if (it->state == PS_MISSED)
			p->stats->missed++;
		else
			p->stats->skipped++;
	}
	dispatch_rec_clear(&rec);
	return rc;
}

/* Emails */

static char *message_id(const struct pass *p, int64_t id)
{
	const char *at = strrchr(p->cfg->mail_from_addr, '@');
	return xasprintf("occasiond.%lld.%s@%s", (long long)id, p->install_id, at ? at + 1 : "localhost");
}

static char *maildir_name(const struct pass *p, int64_t id)
{
	return xasprintf("occasiond-%s-%lld", p->install_id, (long long)id);
}

static int build_email(const struct pass *p, const struct rule *r, const struct stakeholder *sh,
                       const struct event *ev, day_t occasion, long years, const char *tmpl_name,
                       const char *signer, int64_t id, struct strbuf *out, char err[ERR_LEN])
{
	struct email_template *t = NULL;
	struct email_rendered er = {0};
	struct tval *ctx = NULL;
	struct mime_message m;
	struct mime_addr *cc = NULL;
	size_t ncc = 0;
	char date[64], did[32];
	char *full = NULL, *mid = NULL, *rt_name = NULL, *rt_addr = NULL;
	int rc = -1;

	if (email_template_load(p->cfg->templates, tmpl_name, &t, err) != 0)
		goto out;
	ctx = dispatch_context(p->cfg, r, sh, ev, occasion, years, signer);
	if (email_template_render(t, ctx, p->cfg->templates, &er, err) != 0)
		goto out;
	memset(&m, 0, sizeof m);
	m.from.name = p->cfg->mail_from_name;
	m.from.addr = p->cfg->mail_from_addr;
	full = stakeholder_display_name(sh);
	m.to.name = full;
	m.to.addr = sh->f[SH_EMAIL];
	if (er.reply_to && *er.reply_to) {
		if (mime_parse_mailbox(er.reply_to, &rt_name, &rt_addr, err) != 0)
			goto out;
		m.reply_to.name = rt_name;
		m.reply_to.addr = rt_addr;
	} else if (*sh->f[SH_OWNER_EMAIL]) {
		/* Replies go to the person who owns the relationship. */
		m.reply_to.name = *sh->f[SH_OWNER] ? sh->f[SH_OWNER] : NULL;
		m.reply_to.addr = sh->f[SH_OWNER_EMAIL];
	}
	if (er.cc && *er.cc) {
		if (mime_parse_mailbox_list(er.cc, &cc, &ncc, err) != 0)
			goto out;
		m.cc = cc;
		m.ncc = ncc;
	}
	m.subject = er.subject;
	dates_format_rfc5322(p->now, p->cfg->timezone, date, sizeof date);
	m.date = date;
	mid = message_id(p, id);
	m.message_id = mid;
	m.text = er.text;
	m.html = er.html;
	snprintf(did, sizeof did, "%lld", (long long)id);
	m.dispatch_id = did;
	rc = mime_build(&m, out, err);
out:
	free(full);
	free(mid);
	mime_addr_list_free(cc, ncc);
	free(rt_name);
	free(rt_addr);
	email_rendered_clear(&er);
	tval_free(ctx);
	email_template_free(t);
	return rc;
}

/* deliver_email: builds and writes one claimed email; rec is updated and stored. */
static void deliver_email(struct pass *p, struct dispatch_rec *rec, const struct rule *r,
                          const struct stakeholder *sh, const struct event *ev, day_t occasion, long years)
{
	struct strbuf msg = {0};
	char err[ERR_LEN], uerr[ERR_LEN];
	char *name = maildir_name(p, rec->id), *outbox = util_path_join(p->cfg->spool, "outbox"), *path = NULL;

	rec->attempts++;
	free(rec->message_id);
	rec->message_id = message_id(p, rec->id);
	if (build_email(p, r, sh, ev, occasion, years, rec->template_name, rec->signer, rec->id, &msg, err) != 0) {
		rec->status = DS_FAILED;
		free(rec->error);
		rec->error = xstrdup(err);
		p->stats->failed++;
	} else if (util_mkdirs(outbox, err) != 0 ||
	           mail_maildir_deliver(outbox, name, msg.s, msg.len, &path, err) != 0) {
		/* A local write that failed (disk full, permissions) is transient: try again later. */
		rec->status = DS_RETRY;
		free(rec->error);
		rec->error = xstrdup(err);
		rec->next_attempt_at = p->now + p->cfg->retry.first_delay;
		p->stats->retry++;
	} else {
		rec->status = DS_SENT;
		free(rec->artifact);
		rec->artifact = path;
		path = NULL;
		free(rec->error);
		rec->error = NULL;
		p->stats->emails++;
	}
	if (store_update_dispatch(p->st, rec, uerr) != 0)
		log_err("%s", uerr);
	log_rec(rec);
	sb_free(&msg);
	free(name);
	free(outbox);
	free(path);
}

/* recover: emails left queued by a pass that died: delivered (the file is there) or not. */
static void recover(struct pass *p)
{
	char *outbox = util_path_join(p->cfg->spool, "outbox");
	char err[ERR_LEN];
	for (size_t i = 0; i < p->nhist; i++) {
		struct dispatch_rec *rec = &p->hist[i];
		char *name;
		if (rec->channel != CH_EMAIL || rec->status != DS_QUEUED)
			continue;
		name = maildir_name(p, rec->id);
		if (mail_maildir_has(outbox, name)) {
			rec->status = DS_SENT;
			free(rec->artifact);
			rec->artifact = xasprintf("%s/new/%s", outbox, name);
		} else {
			rec->status = DS_RETRY;
			rec->next_attempt_at = p->now;
		}
		if (store_update_dispatch(p->st, rec, err) != 0)
			log_err("%s", err);
		else
			log_info("recovered dispatch id=%lld status=%s", (long long)rec->id, dispatch_status_names[rec->status]);
		free(name);
	}
	free(outbox);
}

/* item_of_record: the rule, stakeholder, event and years of an existing record. */
static int item_of_record(const struct pass *p, const struct dispatch_rec *rec, const struct rule **r,
                          const struct stakeholder **sh, const struct event **ev, day_t *occasion, long *years)
{
	const char *f;
	int y, m, d, by = 0, bm, bd;
	*r = rules_find(p->rs, rec->rule);
	*sh = find_sh(p, rec->stakeholder);
	if (!*r || !*sh || dates_parse_iso(rec->occasion_date, occasion) != 0)
		return -1;
	*ev = (*r)->when == WHEN_EVENT ? find_event(p, rec->stakeholder, (*r)->event_kind, rec->occasion_date) : NULL;
	*years = -1;
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

/* retry_due: emails in retry whose time has come. */
static void retry_due(struct pass *p)
{
	for (size_t i = 0; i < p->nhist; i++) {
		struct dispatch_rec *rec = &p->hist[i];
		const struct rule *r;
		const struct stakeholder *sh;
		const struct event *ev;
		day_t occ;
		long years;
		if (rec->channel != CH_EMAIL || rec->status != DS_RETRY || rec->next_attempt_at > p->now)
			continue;
		if (item_of_record(p, rec, &r, &sh, &ev, &occ, &years) != 0) {
			char err[ERR_LEN];
			rec->status = DS_FAILED;
			free(rec->error);
			rec->error = xstrdup("its rule or stakeholder no longer exists");
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			p->stats->failed++;
			continue;
		}
		if (rec->attempts >= p->cfg->retry.attempts) {
			char err[ERR_LEN];
			rec->status = DS_FAILED;
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			p->stats->failed++;
			continue;
		}
		deliver_email(p, rec, r, sh, ev, occ, years);
	}
}

static int send_email_item(struct pass *p, const struct plan_item *it, char err[ERR_LEN])
{
	struct dispatch_rec rec;
	int claimed = 0;
	rec_from_item(&rec, it);
	rec.status = DS_QUEUED;
	if (store_claim(p->st, &rec, &claimed, err) != 0) {
		dispatch_rec_clear(&rec);
		return -1;
	}
	if (claimed)
		deliver_email(p, &rec, it->rule, it->sh, it->ev, it->occasion, it->years);
	dispatch_rec_clear(&rec);
	return 0;
}

/* Cards */

struct tmpl_cache {
	char *name;
	struct card_template *t;
	char *err;
};

static struct card_template *card_tmpl(const struct pass *p, struct tmpl_cache **cache, size_t *n,
                                       const char *name, char err[ERR_LEN])
{
	char *file, *path;
	struct tmpl_cache *c;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*cache)[i].name, name) == 0) {
			if (!(*cache)[i].t)
				util_strlcpy(err, (*cache)[i].err, ERR_LEN);
			return (*cache)[i].t;
		}
	*cache = xreallocarray(*cache, *n + 1, sizeof **cache);
	c = &(*cache)[(*n)++];
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

static void tmpl_cache_free(struct tmpl_cache *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		card_template_free(c[i].t);
		free(c[i].err);
	}
	free(c);
}

static int render_card(const struct pass *p, struct card_batch *b, struct tmpl_cache **cache, size_t *ncache,
                       const struct rule *r, const struct stakeholder *sh, const struct event *ev, day_t occ,
                       long years, const char *tmpl_name, const char *signer, int *page, char err[ERR_LEN])
{
	struct card_template *t = card_tmpl(p, cache, ncache, tmpl_name, err);
	struct tval *ctx;
	int rc;
	if (!t)
		return -1;
	ctx = dispatch_context(p->cfg, r, sh, ev, occ, years, signer);
	rc = card_batch_add(b, t, ctx, page, err);
	tval_free(ctx);
	return rc;
}

static char *batch_path(const struct pass *p, const char *fire_date, const char *signer, int suffix)
{
	char safe[128], *name, *path;
	util_safe_component(signer, safe, sizeof safe);
	name = suffix ? xasprintf("batches/%s/%s-%d.pdf", fire_date, safe, suffix) : xasprintf("batches/%s/%s.pdf", fire_date, safe);
	path = util_path_join(p->cfg->spool, name);
	free(name);
	return path;
}

/* card_group: the new cards items[0..n) share a fire date and a signer. */
static void card_group(struct pass *p, const struct plan_item *const *items, size_t n,
                       struct tmpl_cache **cache, size_t *ncache)
{
	struct dispatch_filter f = {.channel = CH_CARD};
	struct dispatch_rec *old = NULL, *recs = xcalloc(n, sizeof *recs);
	size_t nold = 0;
	struct card_batch *b = NULL;
	char fire_date[11], err[ERR_LEN];
	char *path = NULL, *dir = NULL;
	int ok_new = 0, rebuild = 1, page, suffix = 0;

	dates_format_iso(items[0]->fire_date, fire_date);
	f.fire_date = fire_date;
	f.signer = items[0]->signer;
	if (store_list_dispatches(p->st, &f, &old, &nold, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (card_batch_new(&b, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* The batch's existing cards first, in their page order, so their pages stay true. */
	for (size_t i = 0; i < nold && rebuild; i++) {
		const struct rule *r;
		const struct stakeholder *sh;
		const struct event *ev;
		day_t occ;
		long years;
		if (old[i].page <= 0 || old[i].status == DS_FAILED || old[i].status == DS_SKIPPED)
			continue;
		if (item_of_record(p, &old[i], &r, &sh, &ev, &occ, &years) != 0 ||
		    render_card(p, b, cache, ncache, r, sh, ev, occ, years, old[i].template_name, old[i].signer,
		                &page, err) != 0 || page != old[i].page) {
			log_warn("batch %s/%s: card %lld cannot be rendered again; new cards go into a batch of their own",
			         fire_date, items[0]->signer, (long long)old[i].id);
			rebuild = 0;
		}
	}
	if (!rebuild) {
		card_batch_free(b);
		b = NULL;
		if (card_batch_new(&b, err) != 0) {
			log_err("%s", err);
			goto out;
		}
		for (suffix = 2; suffix < 1000; suffix++) {
			free(path);
			path = batch_path(p, fire_date, items[0]->signer, suffix);
			if (!util_file_exists(path))
				break;
		}
	} else {
		path = batch_path(p, fire_date, items[0]->signer, 0);
	}
	for (size_t i = 0; i < n; i++) {
		const struct plan_item *it = items[i];
		rec_from_item(&recs[i], it);
		if (render_card(p, b, cache, ncache, it->rule, it->sh, it->ev, it->occasion, it->years,
		                it->template_name, it->signer, &page, err) != 0) {
			recs[i].status = DS_FAILED;
			recs[i].error = xstrdup(err);
			recs[i].cost_cents = 0;
		} else {
			recs[i].status = DS_RENDERED;
			recs[i].page = page;
			recs[i].artifact = xstrdup(path);
			ok_new++;
		}
	}
	/* Records and batch go together: the claims commit only once the batch is on disk. */
	if (store_begin(p->st, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int claimed = 0;
		if (store_claim(p->st, &recs[i], &claimed, err) != 0) {
			log_err("%s", err);
			store_rollback(p->st);
			goto out;
		}
	}
	if (ok_new) {
		dir = util_dirname(path);
		if (util_mkdirs(dir, err) != 0 || card_batch_save(b, path, err) != 0) {
			log_err("batch %s: %s", path, err);
			store_rollback(p->st);
			p->stats->failed += ok_new;
			goto out;
		}
	}
	if (store_commit(p->st, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (ok_new)
		p->stats->batches++;
	for (size_t i = 0; i < n; i++) {
		log_rec(&recs[i]);
		if (recs[i].status == DS_RENDERED)
			p->stats->cards++;
		else
			p->stats->failed++;
	}
out:
	card_batch_free(b);
	dispatch_recs_free(old, nold);
	dispatch_recs_free(recs, n);
	free(path);
	free(dir);
}

static int group_cmp(const void *a, const void *b)
{
	const struct plan_item *x = *(const struct plan_item *const *)a, *y = *(const struct plan_item *const *)b;
	int k;
	if (x->fire_date != y->fire_date)
		return x->fire_date < y->fire_date ? -1 : 1;
	if ((k = strcmp(x->signer, y->signer)) != 0)
		return k;
	return x < y ? -1 : x > y;   /* keep plan order within a batch */
}

static void print_dry(const struct plan_item *it)
{
	char occ[11], fire[11];
	dates_format_iso(it->occasion, occ);
	dates_format_iso(it->fire_date, fire);
	printf("would %s: rule=%s stakeholder=%s occasion=%s channel=%s%s%s\n",
	       it->state == PS_DUE ? (it->channel == CH_CARD ? "render" : "send") : "skip",
	       it->rule->id, it->sh->f[SH_ID], occ, channel_names[it->channel],
	       it->reason ? " reason=" : "", it->reason ? it->reason : "");
}

int dispatch_run(const struct config *cfg, const struct ruleset *rs, struct store *st, int64_t now,
                 int dry_run, struct dispatch_stats *stats, int64_t *next_wake, char err[ERR_LEN])
{
	struct pass p = {0};
	struct plan_input in;
	struct plan_list due = {0};
	const struct plan_item **cards = NULL;
	struct tmpl_cache *cache = NULL;
	size_t ncards = 0, ncache = 0;
	int rc = -1;

	memset(stats, 0, sizeof *stats);
	p.cfg = cfg;
	p.rs = rs;
	p.st = st;
	p.now = now;
	p.stats = stats;
	if (pass_load(&p, err) != 0)
		goto out;
	if (!dry_run) {
		recover(&p);
		retry_due(&p);
	}
	in = (struct plan_input){cfg, rs, p.sh, p.nsh, p.ev, p.nev, p.hist, p.nhist};
	if (planner_due(&in, now, &due, next_wake, err) != 0)
		goto out;
	for (size_t i = 0; i < due.n; i++) {
		const struct plan_item *it = &due.v[i];
		if (dry_run) {
			print_dry(it);
			continue;
		}
		if (it->state == PS_MISSED || it->state == PS_SKIPPED) {
			if (record_skip(&p, it, err) != 0)
				goto out;
		} else if (it->channel == CH_EMAIL) {
			if (send_email_item(&p, it, err) != 0)
				goto out;
		} else {
			cards = xreallocarray(cards, ncards + 1, sizeof *cards);
			cards[ncards++] = it;
		}
	}
	if (ncards > 1)
		qsort(cards, ncards, sizeof *cards, group_cmp);
	for (size_t i = 0; i < ncards;) {
		size_t j = i + 1;
		while (j < ncards && cards[j]->fire_date == cards[i]->fire_date &&
		       strcmp(cards[j]->signer, cards[i]->signer) == 0)
			j++;
		card_group(&p, cards + i, j - i, &cache, &ncache);
		i = j;
	}
	rc = 0;
out:
	free(cards);
	tmpl_cache_free(cache, ncache);
	plan_list_free(&due);
	pass_free(&p);
	return rc;
}

int dispatch_preview(const struct config *cfg, const struct ruleset *rs, struct store *st, const char *rule_id,
                     const char *sh_id, const char *out_path, int64_t now, char err[ERR_LEN])
{
	struct pass p = {0};
	struct plan_input in;
	struct plan_list pl = {0};
	struct dispatch_stats stats;
	const struct plan_item *it = NULL;
	const struct rule *r = rules_find(rs, rule_id);
	struct tmpl_cache *cache = NULL;
	size_t ncache = 0;
	day_t today;
	int secs, rc = -1;

	p.cfg = cfg;
	p.rs = rs;
	p.st = st;
	p.now = now;
	p.stats = &stats;
	if (!r)
		return err_set(err, "no occasion rule with id '%s'", rule_id);
	if (pass_load(&p, err) != 0)
		goto out;
	if (!find_sh(&p, sh_id)) {
		err_set(err, "no stakeholder with id '%s'", sh_id);
		goto out;
	}
	if (dates_utc_to_local(cfg->timezone, now, &today, &secs) != 0)
		today = (day_t)(now / 86400);
	/* Preview ignores history so that a dispatch already made can be looked at again. */
	in = (struct plan_input){cfg, rs, p.sh, p.nsh, p.ev, p.nev, NULL, 0};
	if (planner_range(&in, today - 1, today + 800, &pl, err) != 0)
		goto out;
	for (size_t i = 0; i < pl.n && !it; i++)
		if (pl.v[i].rule == r && strcmp(pl.v[i].sh->f[SH_ID], sh_id) == 0)
			it = &pl.v[i];
	if (!it) {
		err_set(err, "rule '%s' has no occasion for stakeholder '%s' in the next two years "
		        "(audience, consent, opt-out or missing date)", rule_id, sh_id);
		goto out;
	}
	if (it->channel == CH_CARD) {
		struct card_batch *b = NULL;
		int page;
		if (card_batch_new(&b, err) == 0 &&
		    render_card(&p, b, &cache, &ncache, it->rule, it->sh, it->ev, it->occasion, it->years,
		                it->template_name, it->signer, &page, err) == 0 &&
		    card_batch_save(b, out_path, err) == 0)
			rc = 0;
		card_batch_free(b);
	} else {
		struct strbuf msg = {0};
		if (build_email(&p, it->rule, it->sh, it->ev, it->occasion, it->years, it->template_name, it->signer,
		                0, &msg, err) == 0 &&
		    util_write_atomic(out_path, msg.s, msg.len, err) == 0)
			rc = 0;
		sb_free(&msg);
	}
out:
	tmpl_cache_free(cache, ncache);
	plan_list_free(&pl);
	pass_free(&p);
	return rc;
}
