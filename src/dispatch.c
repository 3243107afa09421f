/*
 * dispatch: the orchestrator of a pass: claim -> render -> deliver -> record.
 *
 * It plans in due mode over the store's scan (the planner keeps ids, not stakeholders), records
 * what is skipped or missed, hands the due emails to the email path (dispatch_mail.c) and the
 * due cards to the card path (dispatch_card.c), then the card path's signer reminders to the
 * email path, so that they go out through the pass's own session. Neither path calls the
 * other or this file.
 *
 * Emails: the claim (status queued) is committed before anything is written, the maildir
 * file name is derived from the dispatch id, so a pass interrupted after the delivery but
 * before the record finds the file and marks it sent instead of writing it twice.
 * Cards: every card of one signer and fire date is rendered into one batch, saved
 * atomically; its claims are committed before the rendering and its outcomes after; a later
 * pass on the same date rebuilds the batch from all its records so one signer has one batch
 * per day.
 */
#include "occasiond/dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dispatch_int.h"
#include "occasiond/log.h"

static void print_dry(const struct plan_item *it)
{
	char occ[11];
	dates_format_iso(it->occasion, occ);
	printf("would %s: rule=%s stakeholder=%s occasion=%s channel=%s%s%s\n",
	       it->state == PS_DUE ? (it->channel == CH_CARD ? "render" : "send") : "skip",
	       it->rule->id, it->sh_id, occ, channel_names[it->channel],
	       it->reason ? " reason=" : "", it->reason ? it->reason : "");
}

int dispatch_run(const struct config *cfg, const struct ruleset *rs, struct store *st, int64_t now,
                 int dry_run, struct dispatch_stats *stats, int64_t *next_wake, char err[ERR_LEN])
{
	struct pass p;
	struct planner *pl = NULL;
	/* Only the due items are kept (the skips are recorded as they come), emails and cards apart. */
	struct plan_item *eitems = NULL, *citems = NULL;
	const struct plan_item **cards = NULL, **emails = NULL;
	size_t n = 0, ncards = 0, nemails = 0, nskips = 0, ecap = 0, ccap = 0;
	int rc = -1;

	memset(stats, 0, sizeof *stats);
	/*
	 * One pass at a time per database: a pass treats the `queued` emails it finds as left by
	 * a pass that died, which is only true when no other pass is running.
	 */
	if (!dry_run && store_pass_lock(st, dispatch_stopping, err) != 0)
		return -1;
	/* A long-running daemon finds fonts installed since its last pass (a failed card's retry). */
	card_fonts_refresh();
	if (dispatch_pass_begin(&p, cfg, rs, st, now, stats, err) != 0)
		goto out;
	if (!dry_run) {
		dispatch_mail_recover(&p);
		dispatch_card_recover(&p);
		dispatch_mail_retry_due(&p);
	}
	if (planner_from_store(planner_new_due(cfg, rs, now), st, &pl, err) != 0)
		goto out;
	if (next_wake)
		*next_wake = planner_next_wake(pl);
	n = planner_count(pl);
	for (size_t i = 0; i < n; i++) {
		struct plan_item item, *it = &item;
		planner_item(pl, i, it);
		util_keepalive();
		if (dispatch_stopping()) {
			/* Stop between dispatches: what is done is committed, the rest waits for the next start. */
			log_info("stop requested: %zu %s left for the next start", n - i,
			         util_plural((long long)(n - i), "dispatch", "dispatches"));
			ncards = 0;
			break;
		}
		if (dry_run) {
			print_dry(it);
			continue;
		}
		if (it->state == PS_MISSED || it->state == PS_SKIPPED) {
			/* Skips go in groups of 256 a transaction: a commit each would cost a sync each. */
			if (nskips % 256 == 0 && (nskips == 0 || store_commit(st, err) == 0) && store_begin(st, err) != 0)
				goto out;
			if (dispatch_record_skip(&p, it, err) != 0)
				goto out;
			nskips++;
		} else if (it->channel == CH_EMAIL) {
			if (nemails == ecap)
				eitems = xreallocarray(eitems, ecap = ecap ? 2 * ecap : 256, sizeof *eitems);
			eitems[nemails++] = *it;
		} else {
			if (ncards == ccap)
				citems = xreallocarray(citems, ccap = ccap ? 2 * ccap : 256, sizeof *citems);
			citems[ncards++] = *it;
		}
	}
	if (nskips && store_commit(st, err) != 0)
		goto out;
	nskips = 0;
	emails = xcalloc(nemails ? nemails : 1, sizeof *emails);
	for (size_t i = 0; i < nemails; i++)
		emails[i] = &eitems[i];
	if (dispatch_mail_items(&p, emails, nemails, err) != 0)
		goto out;
	/* The emails' items are done with before the cards render (the pass's peak of memory). */
	free(emails);
	free(eitems);
	emails = NULL;
	eitems = NULL;
	cards = xcalloc(ncards ? ncards : 1, sizeof *cards);
	for (size_t i = 0; i < ncards; i++)
		cards[i] = &citems[i];
	dispatch_card_items(&p, cards, ncards);
	/* Cards left because another daemon was building their batch: a pass again soon. */
	if (p.busy_batches && next_wake && *next_wake > now + 2)
		*next_wake = now + 2;
	dispatch_mail_fallbacks(&p);
	dispatch_mail_reminders(&p);
	rc = 0;
out:
	if (nskips)
		store_rollback(st);   /* a failed pass: its open skips' transaction */
	dispatch_mail_finish(&p);
	free(cards);
	free(emails);
	free(eitems);
	free(citems);
	planner_free(pl);
	dispatch_pass_end(&p);
	if (!dry_run)
		store_pass_unlock(st);
	return rc;
}

int dispatch_preview(const struct config *cfg, const struct ruleset *rs, struct store *st, const char *rule_id,
                     const char *sh_id, const char *out_path, int64_t now, char **written, char err[ERR_LEN])
{
	struct pass p;
	struct dispatch_stats stats;
	struct planner *pl = NULL;
	struct plan_item it;
	const struct rule *r = rules_find(rs, rule_id);
	const struct pass_sh *s;
	const struct stakeholder *sh;
	const struct event *ev;
	day_t today;
	int secs, rc = -1, found = 0;

	if (!r)
		return err_set(err, "no occasion rule with id '%s'", rule_id);
	if (dispatch_pass_begin(&p, cfg, rs, st, now, &stats, err) != 0)
		goto out;
	if (!(s = dispatch_sh(&p, sh_id))) {
		err_set(err, "no stakeholder with id '%s'", sh_id);
		goto out;
	}
	if (dates_utc_to_local(cfg->timezone, now, &today, &secs) != 0)
		today = (day_t)(now / 86400);
	/*
	 * The planner over this one stakeholder, without history, so that a dispatch already made
	 * can be looked at again (and a surprise shows what it would be were this one picked).
	 */
	pl = planner_new_range(cfg, rs, today - 1, today + 800);
	planner_add(pl, &s->sh, s->ev, s->nev, NULL, 0);
	planner_finish(pl);
	for (size_t i = 0; i < planner_count(pl) && !found; i++) {
		planner_item(pl, i, &it);
		found = it.rule == r;
	}
	if (!found) {
		err_set(err, "rule '%s' has no occasion for stakeholder '%s' in the next two years "
		        "(audience, consent, opt-out or missing date)", rule_id, sh_id);
		goto out;
	}
	if (dispatch_item_parts(&p, &it, &sh, &ev) != 0) {
		err_set(err, "no stakeholder with id '%s'", sh_id);
		goto out;
	}
	{
		/* The file name says what is in it: a card is a PDF, an email an .eml. */
		const char *ext = it.channel == CH_CARD ? ".pdf" : ".eml";
		size_t n = out_path ? strlen(out_path) : 0;
		if (!out_path)
			out_path = it.channel == CH_CARD ? "preview.pdf" : "preview.eml";
		else if (n <= 4 || strcasecmp(out_path + n - 4, ext) != 0) {
			err_set(err, "rule '%s' gives stakeholder '%s' %s, written as %s: '%s' does not end in %s", rule_id,
			        sh_id, it.channel == CH_CARD ? "a card" : "an email", it.channel == CH_CARD ? "PDF" :
			        "a message file", out_path, ext);
			goto out;
		}
	}
	if (it.channel == CH_CARD) {
		struct card_batch *b = NULL;
		int page;
		if (card_batch_new(&b, err) == 0 &&
		    dispatch_card_render(&p, b, it.rule, sh, ev, it.occasion, it.years, it.template_name, it.signer, &page,
		                         err) == 0 &&
		    card_batch_save(b, out_path, err) == 0)
			rc = 0;
		card_batch_free(b);
	} else {
		struct strbuf msg = {0};
		if (dispatch_mail_build(&p, it.rule, sh, ev, it.occasion, it.years, it.template_name, it.signer, 0, &msg,
		                        err) == 0 &&
		    util_write_atomic(out_path, msg.s, msg.len, err) == 0)
			rc = 0;
		sb_free(&msg);
	}
	if (rc == 0 && written)
		*written = xstrdup(out_path);
out:
	dispatch_mail_finish(&p);
	planner_free(pl);
	dispatch_pass_end(&p);
	return rc;
}
