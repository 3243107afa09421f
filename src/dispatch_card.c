/*
 * dispatch, the card path: every card of one signer and fire date goes into one batch,
 * saved atomically, and its records are committed with it; a later pass on the same date
 * rebuilds the batch from all its records so a signer has one batch per day.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch_int.h"
#include "occasiond/log.h"



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

void dispatch_card_cache_free(struct tmpl_cache *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		card_template_free(c[i].t);
		free(c[i].err);
	}
	free(c);
}

int dispatch_card_render(const struct pass *p, struct card_batch *b, struct tmpl_cache **cache, size_t *ncache,
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
void dispatch_card_group(struct pass *p, const struct plan_item *const *items, size_t n,
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
		if (dispatch_item_of_record(p, &old[i], &r, &sh, &ev, &occ, &years) != 0 ||
		    dispatch_card_render(p, b, cache, ncache, r, sh, ev, occ, years, old[i].template_name, old[i].signer,
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
		dispatch_rec_from_item(&recs[i], it);
		if (dispatch_card_render(p, b, cache, ncache, it->rule, it->sh, it->ev, it->occasion, it->years,
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
		dispatch_log_rec(&recs[i]);
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

void dispatch_card_items(struct pass *p, const struct plan_item **cards, size_t ncards,
                         struct tmpl_cache **cache, size_t *ncache)
{
	if (ncards > 1)
		qsort(cards, ncards, sizeof *cards, group_cmp);
	for (size_t i = 0; i < ncards;) {
		size_t j = i + 1;
		while (j < ncards && cards[j]->fire_date == cards[i]->fire_date &&
		       strcmp(cards[j]->signer, cards[i]->signer) == 0)
			j++;
		dispatch_card_group(p, cards + i, j - i, cache, ncache);
		i = j;
	}
}
