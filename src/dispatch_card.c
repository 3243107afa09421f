/*
 * dispatch, the card path: every card of one signer and fire date goes into one batch,
 * saved atomically, and its records are committed with it; a later pass on the same date
 * rebuilds the batch from all its records so a signer has one batch per day.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch_int.h"
#include "occasiond/dates.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"
#include "occasiond/rules.h"



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

/* One card of the batch being built: an old record re-rendered or a new one. */
struct bcard {
	struct dispatch_rec *rec;
	int old;
	char *name, *occasion, *address, *owner_email;
	day_t mail_by;
};

static const char *const weekdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

static void long_date(day_t d, char *buf, size_t size)
{
	char tmp[48];
	dates_format_long(d, tmp, sizeof tmp);
	snprintf(buf, size, "%s %s", weekdays[dates_weekday(d)], tmp);
}

static int is_us(const char *country)
{
	return util_strcaseeq(country, "USA") || util_strcaseeq(country, "US") ||
	       util_strcaseeq(country, "United States") || util_strcaseeq(country, "United States of America") ||
	       util_strcaseeq(country, "Canada");
}

/*
 * address_of: the postal lines under the name, from the structured fields: street (its own
 * lines), then "City, REGION POSTCODE" (US, Canada), "CITY" and "POSTCODE" (UK) or
 * "POSTCODE City", then the country in capitals. "" when there is no street or city.
 */
static char *address_of(const struct stakeholder *sh)
{
	const char *street = sh->f[SH_STREET], *city = sh->f[SH_CITY], *region = sh->f[SH_REGION];
	const char *pc = sh->f[SH_POSTAL_CODE], *country = sh->f[SH_COUNTRY];
	struct strbuf sb = {0};

	if (!street[0] || !city[0])
		return xstrdup("");
	if (sh->f[SH_ORGANIZATION][0] && strcmp(sh->f[SH_TYPE], "employee") != 0)
		sb_addf(&sb, "%s\n", sh->f[SH_ORGANIZATION]);
	sb_addf(&sb, "%s\n", street);
	if (is_us(country))
		sb_addf(&sb, "%s%s%s%s%s", city, region[0] ? ", " : "", region, pc[0] ? " " : "", pc);
	else if (util_strcaseeq(country, "United Kingdom") || util_strcaseeq(country, "UK") ||
	         util_strcaseeq(country, "GB")) {
		for (const char *c = city; *c; c++)
			sb_addf(&sb, "%c", *c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		if (pc[0])
			sb_addf(&sb, "\n%s", pc);
	} else {
		sb_addf(&sb, "%s%s%s", pc, pc[0] ? " " : "", city);
		if (region[0])
			sb_addf(&sb, "\n%s", region);
	}
	if (country[0]) {
		/* Upper case for ASCII letters; other scripts as written. */
		sb_adds(&sb, "\n");
		for (const char *c = country; *c; c++)
			sb_addf(&sb, "%c", *c >= 'a' && *c <= 'z' ? *c - 32 : *c);
	}
	return sb.s;
}

static void bcard_fill(const struct pass *p, struct bcard *c, const struct rule *r, const struct stakeholder *sh,
                       day_t occ)
{
	char d[48];
	dates_format_long(occ, d, sizeof d);
	c->name = stakeholder_display_name(sh);
	c->occasion = xasprintf("%s, %s", r->name ? r->name : r->id, d);
	c->address = address_of(sh);
	c->owner_email = xstrdup(sh->f[SH_OWNER_EMAIL]);
	c->mail_by = calendar_prev_business(&p->rs->cal, dates_sub_duration(&p->rs->cal, occ, &p->cfg->cards.transit));
}

static void bcards_free(struct bcard *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].occasion);
		free(v[i].address);
		free(v[i].owner_email);
	}
	free(v);
}

/*
 * run_print_command: /bin/sh -c 'CMD "$1"' sh PATH, so the path is one argument that no
 * shell parses. Its output goes to stderr (the log). A failure is logged; the batch stays.
 */
static void run_print_command(const char *cmd, const char *path)
{
	char *script = xasprintf("%s \"$1\"", cmd);
	char *argv[] = {"sh", "-c", script, "sh", (char *)path, NULL};
	pid_t pid;
	int st = 0;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_err("print_command for %s: fork: %s", path, strerror(errno));
		free(script);
		return;
	}
	if (pid == 0) {
		dup2(2, 1);
		execv("/bin/sh", argv);
		_exit(127);
	}
	free(script);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("batch %s: sent to print_command", path);
	else if (WIFEXITED(st))
		log_err("batch %s: print_command failed with exit status %d; the batch is kept", path, WEXITSTATUS(st));
	else
		log_err("batch %s: print_command killed by signal %d; the batch is kept", path,
		        WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/*
 * remind_deliver: hands a signer's reminder to delivery. For now it goes to the maildir
 * SPOOL/outbox under its deterministic name (delivery refuses an existing name, so a
 * reminder is never written twice).
 */
static int remind_deliver(const struct pass *p, const char *name, const struct strbuf *msg, char err[ERR_LEN])
{
	char *outbox = util_path_join(p->cfg->spool, "outbox");
	int rc = mail_maildir_deliver(outbox, name, msg->s, msg->len, NULL, err);
	free(outbox);
	return rc;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * remind_signer: one email per (fire date, signer, number of cards): the first pass that
 * makes the batch sends one; a later pass that adds cards sends one more, marked as an
 * update, since the file to print changed. Nothing is sent twice.
 */
static void remind_signer(const struct pass *p, const char *signer, const char *fire_iso, const char *path,
                          const struct bcard *cards, size_t n, int nold, day_t sign_by)
{
	char safe[96], name[256], date[64], by[64], fire[64], err[ERR_LEN];
	const char *to = NULL, *at;
	char *outbox, *mid = NULL, *subject = NULL;
	struct strbuf body = {0}, msg = {0};
	struct mime_message m;

	for (size_t i = 0; i < n && !to; i++)
		if (cards[i].owner_email[0] && mime_addr_valid(cards[i].owner_email))
			to = cards[i].owner_email;
	if (!to) {
		log_warn("batch %s: no owner_email among its stakeholders to remind %s", path, signer);
		return;
	}
	util_safe_component(signer, safe, sizeof safe);
	snprintf(name, sizeof name, "remind.%s.%s.%08x.%zu", fire_iso, safe, (unsigned)fnv1a(signer), n);
	outbox = util_path_join(p->cfg->spool, "outbox");
	if (mail_maildir_has(outbox, name)) {
		free(outbox);
		return;
	}
	free(outbox);
	long_date(sign_by, by, sizeof by);
	{
		day_t fd;
		if (dates_parse_iso(fire_iso, &fd) == 0)
			dates_format_long(fd, fire, sizeof fire);
		else
			util_strlcpy(fire, fire_iso, sizeof fire);
	}
	subject = xasprintf("%sCards to sign: %zu card%s, post by %s", nold ? "Updated: " : "", n, n == 1 ? "" : "s", by);
	sb_addf(&body, "Hello %s,\n\n", signer);
	if (nold)
		sb_addf(&body, "Your batch of cards for %s has changed: it now holds %zu cards (%d were in it "
		        "before). Please print the file again:\n\n", fire, n, nold);
	else
		sb_addf(&body, "Your batch of %zu greeting card%s for %s is ready to print and sign:\n\n", n,
		        n == 1 ? "" : "s", fire);
	sb_addf(&body, "    %s\n\n", path);
	sb_addf(&body, "Please sign %s and post %s by %s.\n\n", n == 1 ? "it" : "them", n == 1 ? "it" : "them", by);
	sb_adds(&body, "The cards (page in the file, recipient, occasion):\n\n");
	for (size_t i = 0; i < n; i++)
		sb_addf(&body, "  p. %-4d %s - %s%s\n", cards[i].rec->page, cards[i].name, cards[i].occasion,
		        cards[i].address[0] ? "" : " (no postal address: hand it over)");
	sb_adds(&body, "\nThe file starts with a cover sheet to tick off each card as you sign it.\n");
	at = strrchr(p->cfg->mail_from_addr, '@');
	mid = xasprintf("%s.%08x@%s", name, (unsigned)fnv1a(p->install_id ? p->install_id : ""), at ? at + 1 : "localhost");
	dates_format_rfc5322(p->now, p->cfg->timezone, date, sizeof date);
	memset(&m, 0, sizeof m);
	m.from.name = p->cfg->mail_from_name;
	m.from.addr = p->cfg->mail_from_addr;
	m.to.name = signer;
	m.to.addr = to;
	m.subject = subject;
	m.date = date;
	m.message_id = mid;
	m.text = body.s;
	if (mime_build(&m, &msg, err) != 0 || remind_deliver(p, name, &msg, err) != 0)
		log_err("batch %s: reminder to %s not sent: %s", path, to, err);
	else
		log_info("batch %s: reminder sent to %s", path, to);
	free(subject);
	free(mid);
	sb_free(&body);
	sb_free(&msg);
}

/* card_group: the new cards items[0..n) share a fire date and a signer. */
void dispatch_card_group(struct pass *p, const struct plan_item *const *items, size_t n,
                       struct tmpl_cache **cache, size_t *ncache)
{
	struct dispatch_filter f = {.channel = CH_CARD};
	struct dispatch_rec *old = NULL, *recs = xcalloc(n, sizeof *recs);
	size_t nold = 0, nc = 0;
	struct bcard *bc = xcalloc(n + 1, sizeof *bc);
	struct card_entry *entries = NULL;
	int *old_page = NULL;
	struct card_batch *b = NULL;
	char fire_date[11], err[ERR_LEN], fire_long[64], by_long[64];
	char *path = NULL, *dir = NULL;
	int ok_new = 0, rebuild = 1, page, suffix = 0, k, nold_cards = 0;
	day_t sign_by = 0;

	dates_format_iso(items[0]->fire_date, fire_date);
	f.fire_date = fire_date;
	f.signer = items[0]->signer;
	if (store_list_dispatches(p->st, &f, &old, &nold, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	bc = xreallocarray(bc, n + nold + 1, sizeof *bc);
	memset(bc, 0, (n + nold + 1) * sizeof *bc);
	old_page = xcalloc(nold + 1, sizeof *old_page);
	if (card_batch_new(&b, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* The batch's existing cards first, in their page order, so they keep their places. */
	for (size_t i = 0; i < nold && rebuild; i++) {
		const struct rule *r;
		const struct stakeholder *sh;
		const struct event *ev;
		day_t occ;
		long years;
		old_page[i] = old[i].page;
		if (old[i].page <= 0 || old[i].status == DS_FAILED || old[i].status == DS_SKIPPED)
			continue;
		if (dispatch_item_of_record(p, &old[i], &r, &sh, &ev, &occ, &years) != 0 ||
		    dispatch_card_render(p, b, cache, ncache, r, sh, ev, occ, years, old[i].template_name, old[i].signer,
		                &page, err) != 0 || page != (int)nc + 1) {
			log_warn("batch %s/%s: card %lld cannot be rendered again; new cards go into a batch of their own",
			         fire_date, items[0]->signer, (long long)old[i].id);
			rebuild = 0;
			break;
		}
		bc[nc].rec = &old[i];
		bc[nc].old = 1;
		bcard_fill(p, &bc[nc], r, sh, occ);
		nc++;
	}
	if (!rebuild) {
		bcards_free(bc, nc);
		bc = xcalloc(n + 1, sizeof *bc);
		nc = 0;
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
	nold_cards = (int)nc;
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
			recs[i].artifact = xstrdup(path);
			bc[nc].rec = &recs[i];
			bcard_fill(p, &bc[nc], it->rule, it->sh, it->occasion);
			nc++;
			ok_new++;
		}
	}
	/* The cover sheet comes first: every card's page counts it. */
	k = card_cover_pages(nc);
	entries = xcalloc(nc + 1, sizeof *entries);
	for (size_t i = 0; i < nc; i++) {
		bc[i].rec->page = (int)i + 1 + k;
		entries[i].name = bc[i].name;
		entries[i].occasion = bc[i].occasion;
		entries[i].address = bc[i].address;
		entries[i].page = bc[i].rec->page;
		if (i == 0 || bc[i].mail_by < sign_by)
			sign_by = bc[i].mail_by;
	}
	if (ok_new) {
		struct card_cover cv;
		dates_format_long(items[0]->fire_date, fire_long, sizeof fire_long);
		long_date(sign_by, by_long, sizeof by_long);
		memset(&cv, 0, sizeof cv);
		cv.signer = items[0]->signer;
		cv.fire_date = fire_long;
		cv.sign_by = by_long;
		cv.organization = p->cfg->org_name ? p->cfg->org_name : "";
		cv.return_address = p->cfg->return_address ? p->cfg->return_address : "";
		cv.fonts_dir = p->cfg->fonts;
		cv.cards = entries;
		cv.n = nc;
		cv.envelope = (enum card_envelope)p->cfg->cards.envelope;
		cv.labels = (enum card_labels)p->cfg->cards.labels;
		if (card_batch_finish(b, &cv, err) != 0) {
			log_err("batch %s: %s", path, err);
			p->stats->failed += ok_new;
			goto out;
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
	/* A longer cover sheet moves the old cards back: their records follow. */
	for (size_t i = 0; ok_new && i < nc; i++)
		if (bc[i].old && bc[i].rec->page != old_page[bc[i].rec - old] &&
		    store_update_dispatch(p->st, bc[i].rec, err) != 0) {
			log_err("%s", err);
			store_rollback(p->st);
			goto out;
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
	if (ok_new && p->cfg->cards.print_command)
		run_print_command(p->cfg->cards.print_command, path);
	if (ok_new && p->cfg->cards.remind_signers)
		remind_signer(p, items[0]->signer, fire_date, path, bc, nc, nold_cards, sign_by);
out:
	card_batch_free(b);
	bcards_free(bc, nc);
	free(entries);
	free(old_page);
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
