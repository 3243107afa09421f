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

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch_int.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"

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


void dispatch_pass_free(struct pass *p)
{
	stakeholders_free(p->sh, p->nsh);
	events_free(p->ev, p->nev);
	dispatch_recs_free(p->hist, p->nhist);
	free(p->install_id);
}

int dispatch_pass_load(struct pass *p, char err[ERR_LEN])
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

const struct stakeholder *dispatch_find_sh(const struct pass *p, const char *id)
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

const struct event *dispatch_find_event(const struct pass *p, const char *sh_id, const char *kind, const char *date)
{
	for (size_t i = 0; i < p->nev; i++)
		if (strcmp(p->ev[i].stakeholder_id, sh_id) == 0 && util_streq(p->ev[i].kind, kind) &&
		    strcmp(p->ev[i].date, date) == 0)
			return &p->ev[i];
	return NULL;
}

void dispatch_rec_from_item(struct dispatch_rec *rec, const struct plan_item *it)
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

void dispatch_log_rec(const struct dispatch_rec *r)
{
	enum log_level lvl = r->status == DS_FAILED ? LOG_LVL_ERR : r->status == DS_SKIPPED ? LOG_LVL_WARN : LOG_LVL_INFO;
	log_msg(lvl, "dispatch id=%lld rule=%s stakeholder=%s occasion=%s channel=%s status=%s%s%s%s%s%s%s",
	        (long long)r->id, r->rule, r->stakeholder, r->occasion_date, channel_names[r->channel],
	        dispatch_status_names[r->status], r->reason ? " reason=" : "", r->reason ? r->reason : "",
	        r->artifact ? " artifact=" : "", r->artifact ? r->artifact : "",
	        r->error ? " error=" : "", r->error ? r->error : "");
}

/* item_of_record: the rule, stakeholder, event and years of an existing record. */
int dispatch_item_of_record(const struct pass *p, const struct dispatch_rec *rec, const struct rule **r,
                          const struct stakeholder **sh, const struct event **ev, day_t *occasion, long *years)
{
	const char *f;
	int y, m, d, by = 0, bm, bd;
	*r = rules_find(p->rs, rec->rule);
	*sh = dispatch_find_sh(p, rec->stakeholder);
	if (!*r || !*sh || dates_parse_iso(rec->occasion_date, occasion) != 0)
		return -1;
	*ev = (*r)->when == WHEN_EVENT ? dispatch_find_event(p, rec->stakeholder, (*r)->event_kind, rec->occasion_date) : NULL;
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

/* record_skip: a skipped (missed, no-address...) dispatch is a record too: nothing is dropped silently. */
int dispatch_record_skip(struct pass *p, const struct plan_item *it, char err[ERR_LEN])
{
	struct dispatch_rec rec;
	int claimed = 0, rc;
	dispatch_rec_from_item(&rec, it);
	rec.status = DS_SKIPPED;
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

static int (*stop_check)(void);

void dispatch_set_stop_check(int (*fn)(void))
{
	stop_check = fn;
}

int dispatch_stopping(void)
{
	return stop_check && stop_check();
}

/*
 * pass_lock: one pass at a time per database, across processes (serve and a `run --once`
 * beside it): a pass treats the `queued` emails it finds as left by a pass that died, which is
 * only true when no other pass is running. An flock on DATABASE.lock, which the kernel drops
 * when its holder dies. While another pass holds it, this one waits, feeding the watchdog and
 * giving up when a stop is requested. Returns the lock's descriptor, or -1 with err.
 */
static int pass_lock(const struct config *cfg, char err[ERR_LEN])
{
	char *path = xasprintf("%s.lock", cfg->database);
	/* Read-only: closing it then raises no IN_CLOSE_WRITE for serve's watch on this directory. */
	int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640), said = 0;
	if (fd < 0) {
		err_set(err, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err_set(err, "cannot lock %s: %s", path, strerror(errno));
			goto fail;
		}
		if (!said++)
			log_info("another pass is running on %s; waiting for it", cfg->database);
		if (dispatch_stopping()) {
			err_set(err, "stopped while waiting for another pass");
			goto fail;
		}
		util_keepalive();
		usleep(100 * 1000);
	}
	free(path);
	return fd;
fail:
	close(fd);
	free(path);
	return -1;
}

int dispatch_run(const struct config *cfg, const struct ruleset *rs, struct store *st, int64_t now,
                 int dry_run, struct dispatch_stats *stats, int64_t *next_wake, char err[ERR_LEN])
{
	struct pass p = {0};
	struct plan_input in;
	struct plan_list due = {0};
	const struct plan_item **cards = NULL, **emails = NULL;
	struct tmpl_cache *cache = NULL;
	size_t ncards = 0, nemails = 0, ncache = 0;
	int rc = -1, lock = -1;

	memset(stats, 0, sizeof *stats);
	p.cfg = cfg;
	p.rs = rs;
	p.st = st;
	p.now = now;
	p.stats = stats;
	if (!dry_run && (lock = pass_lock(cfg, err)) < 0)
		return -1;
	if (dispatch_pass_load(&p, err) != 0)
		goto out;
	if (!dry_run) {
		dispatch_mail_recover(&p);
		dispatch_mail_retry_due(&p);
	}
	in = (struct plan_input){cfg, rs, p.sh, p.nsh, p.ev, p.nev, p.hist, p.nhist};
	if (planner_due(&in, now, &due, next_wake, err) != 0)
		goto out;
	for (size_t i = 0; i < due.n; i++) {
		const struct plan_item *it = &due.v[i];
		util_keepalive();
		if (stop_check && stop_check()) {
			/* Stop between dispatches: what is done is committed, the rest waits for the next start. */
			log_info("stop requested: %zu dispatches left for the next start", due.n - i);
			ncards = 0;
			break;
		}
		if (dry_run) {
			print_dry(it);
			continue;
		}
		if (it->state == PS_MISSED || it->state == PS_SKIPPED) {
			if (dispatch_record_skip(&p, it, err) != 0)
				goto out;
		} else if (it->channel == CH_EMAIL) {
			emails = xreallocarray(emails, nemails + 1, sizeof *emails);
			emails[nemails++] = it;
		} else {
			cards = xreallocarray(cards, ncards + 1, sizeof *cards);
			cards[ncards++] = it;
		}
	}
	if (dispatch_mail_items(&p, emails, nemails, err) != 0)
		goto out;
	dispatch_card_items(&p, cards, ncards, &cache, &ncache);
	rc = 0;
out:
	dispatch_mail_finish(&p);
	free(cards);
	free(emails);
	dispatch_card_cache_free(cache, ncache);
	plan_list_free(&due);
	dispatch_pass_free(&p);
	if (lock >= 0)
		close(lock);   /* releases the pass lock */
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
	if (dispatch_pass_load(&p, err) != 0)
		goto out;
	if (!dispatch_find_sh(&p, sh_id)) {
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
		    dispatch_card_render(&p, b, &cache, &ncache, it->rule, it->sh, it->ev, it->occasion, it->years,
		                it->template_name, it->signer, &page, err) == 0 &&
		    card_batch_save(b, out_path, err) == 0)
			rc = 0;
		card_batch_free(b);
	} else {
		struct strbuf msg = {0};
		if (dispatch_mail_build(&p, it->rule, it->sh, it->ev, it->occasion, it->years, it->template_name, it->signer,
		                0, &msg, err) == 0 &&
		    util_write_atomic(out_path, msg.s, msg.len, err) == 0)
			rc = 0;
		sb_free(&msg);
	}
out:
	dispatch_card_cache_free(cache, ncache);
	plan_list_free(&pl);
	dispatch_pass_free(&p);
	return rc;
}