/*
 * dispatch_card_batch: one card batch, the cards of one signer and fire date, from its claims
 * to its reminder (see dispatch_card_int.h). The claims of the pass's cards are committed
 * before anything renders, the batch's outcome after it is saved, and no write transaction is
 * held while cards render (an import or a mark beside a long render does not wait). A later
 * pass on the same date rebuilds the batch from all its records so a signer has one batch per
 * day.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch_card_int.h"
#include "occasiond/dates.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"
#include "occasiond/rules.h"

static char *batch_path(const struct pass *p, const char *fire_date, const char *signer, int suffix)
{
	char safe[128], *name, *path;
	util_safe_component(signer, safe, sizeof safe);
	name = suffix ? xasprintf("batches/%s/%s-%d.pdf", fire_date, safe, suffix) : xasprintf("batches/%s/%s.pdf", fire_date, safe);
	path = util_path_join(p->cfg->spool, name);
	free(name);
	return path;
}

/*
 * The batch file is fenced like its records. It is saved under a hidden name beside its
 * place, ".SIGNER.pdf.tmp.HOST_PID" (this process's own: daemons sharing a spool never write
 * the same one, and the dot keeps it out of every listing of batches), and renamed into place
 * by batch_group_commit only inside the records' transaction, once every claim of the batch
 * was found still this process's by a fenced write (which locks its row until the commit)
 * and while that transaction surely still holds them (store_tx_fresh). A temporary file not
 * put in place is removed, so a process that lost a claim leaves the batch as it was.
 *
 * Rename, then commit: a crash between the two leaves the new cards in the file while their
 * claims are still queued; the crash rules withdraw those and render them again into a
 * rebuilt batch, and nothing was printed or reminded yet. The other order would leave records
 * of pages the file lacks, a loss nobody notices. A temporary file a crash left is removed by
 * the next save of the same batch, which holds the batch lock: nobody else may write it then.
 */
static char *batch_tmp(const struct pass *p, const char *path)
{
	const char *base = strrchr(path, '/');
	char owner[128], *dir = util_dirname(path), *name, *tmp;
	util_safe_component(store_owner(p->st), owner, sizeof owner);
	name = xasprintf(".%s.tmp.%s", base ? base + 1 : path, owner);
	tmp = util_path_join(dir, name);
	free(name);
	free(dir);
	return tmp;
}

/* remove_stale_tmps: the temporary files of the batch at path that crashes left beside it. */
static void remove_stale_tmps(const char *path)
{
	const char *base = strrchr(path, '/');
	char *dir = util_dirname(path), *hidden;
	size_t nh, nb;
	DIR *d;
	struct dirent *e;

	base = base ? base + 1 : path;
	hidden = xasprintf(".%s.tmp.", base);
	nh = strlen(hidden);
	nb = nh - 1;
	if ((d = opendir(dir))) {
		while ((e = readdir(d))) {
			/* Ours (".BASE.tmp.OWNER", and util_atomic's under it), or an older version's "BASE.tmp.PID". */
			if (strncmp(e->d_name, hidden, nh) == 0 || strncmp(e->d_name, hidden + 1, nb) == 0) {
				char *f = util_path_join(dir, e->d_name);
				if (unlink(f) == 0)
					log_info("batch %s: removed %s, left by an interrupted save", path, e->d_name);
				free(f);
			}
		}
		closedir(d);
	}
	free(hidden);
	free(dir);
}

/* batch_place: the saved batch into its place; durable (the directory synced) before the commit. */
static int batch_place(const char *tmp, const char *path, char err[ERR_LEN])
{
	if (rename(tmp, path) != 0)
		return err_set(err, "cannot put %s in place: %s", path, strerror(errno));
	remove_stale_tmps(path);
	return util_fsync_dir(path, err);
}

/* One card of the batch being built: an old record re-rendered or a new one. */
struct bcard {
	struct dispatch_rec *rec;
	int old;
	char *name, *occasion, *address, *owner, *owner_email;
	const char *lang;       /* card_lang of the stakeholder */
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
	c->owner = xstrdup(sh->f[SH_OWNER]);
	c->owner_email = xstrdup(sh->f[SH_OWNER_EMAIL]);
	c->lang = card_lang(sh->f[SH_COUNTRY], stakeholder_get(sh, "language"));
	c->mail_by = calendar_prev_business(&p->rs->cal, dates_sub_duration(&p->rs->cal, occ, &p->cfg->cards.transit));
}

static void bcards_free(struct bcard *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].occasion);
		free(v[i].address);
		free(v[i].owner);
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
		sigset_t none;
		/* The daemon blocks its signals (signalfd) and ignores SIGXFSZ: the command gets defaults. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGXFSZ, SIG_DFL);
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

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * signer_address: where a signer's reminder goes (CONTRACT §7): the signer's own address in
 * cards.signers; without one, the owner_email of the batch's stakeholders whose owner is the
 * signer; NULL when neither is known.
 */
static const char *signer_address(const struct pass *p, const char *signer, const struct bcard *cards, size_t n)
{
	for (size_t i = 0; i < p->cfg->cards.nsigners; i++)
		if (strcmp(p->cfg->cards.signers[i].name, signer) == 0)
			return p->cfg->cards.signers[i].email;
	for (size_t i = 0; i < n; i++)
		if (strcmp(cards[i].owner, signer) == 0 && cards[i].owner_email[0] && mime_addr_valid(cards[i].owner_email))
			return cards[i].owner_email;
	return NULL;
}

/*
 * remind_signer: one email per (fire date, signer, number of cards): the first pass that
 * makes the batch sends one; a later pass that adds cards sends one more, marked as an
 * update, since the file to print changed. Made here, sent by the orchestrator through the
 * pass's mail session (dispatch_mail_reminders), which sends nothing twice.
 */
static void remind_signer(struct pass *p, const char *signer, const char *fire_iso, const char *path,
                          const struct bcard *cards, size_t n, int nold, day_t sign_by)
{
	char safe[96], name[256], date[64], by[64], fire[64], err[ERR_LEN];
	const char *to = signer_address(p, signer, cards, n), *at;
	char *mid = NULL, *subject = NULL;
	struct strbuf body = {0}, msg = {0};
	struct mime_message m;

	if (!to) {
		log_warn("batch %s: no address to remind %s (cards.signers, or the owner_email of a stakeholder "
		         "%s owns)", path, signer, signer);
		return;
	}
	util_safe_component(signer, safe, sizeof safe);
	snprintf(name, sizeof name, "remind.%s.%s.%08x.%zu", fire_iso, safe, (unsigned)fnv1a(signer), n);
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
		sb_addf(&body, "Your batch of cards for %s has changed: it now holds %zu %s (%d %s in it "
		        "before). Please print the file again:\n\n", fire, n, util_plural((long long)n, "card", "cards"),
		        nold, nold == 1 ? "was" : "were");
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
	if (mime_build(&m, &msg, err) != 0) {
		log_err("batch %s: reminder to %s not sent: %s", path, to, err);
		sb_free(&msg);
	} else {
		struct reminder *rm;
		p->rem = xreallocarray(p->rem, p->nrem + 1, sizeof *p->rem);
		rm = &p->rem[p->nrem++];
		rm->name = xstrdup(name);
		rm->to = xstrdup(to);
		rm->batch = xstrdup(path);
		rm->msg = msg;
	}
	free(subject);
	free(mid);
	sb_free(&body);
}


void batch_group_free(struct batch_group *g)
{
	dispatch_recs_free(g->old, g->nold);
	dispatch_recs_free(g->recs, g->n);
	free(g->old_page);
	free(g->mine);
	free(g->fell);
	free(g->path);
}

int batch_group_begin(struct pass *p, struct batch_group *g, const struct plan_item *const *items, size_t n)
{
	struct dispatch_filter f = {.channel = CH_CARD};
	char fire_date[11], err[ERR_LEN];

	memset(g, 0, sizeof *g);
	g->items = items;
	g->n = n;
	g->recs = xcalloc(n, sizeof *g->recs);
	dates_format_iso(items[0]->fire_date, fire_date);
	f.fire_date = fire_date;
	f.signer = items[0]->signer;
	/*
	 * One process builds a (fire date, signer) batch at a time (several daemons): another
	 * building it now leaves it alone; a pass soon after adds these cards to what it made.
	 */
	switch (store_batch_lock(p->st, fire_date, items[0]->signer, err)) {
	case 0:
		break;
	case 1:
		log_debug("batch %s/%s: another process is building it; its cards wait", fire_date, items[0]->signer);
		p->busy_batches++;
		g->mine = xcalloc(n + 1, sizeof *g->mine);
		g->old_page = xcalloc(1, sizeof *g->old_page);
		return 0;
	default:
		log_err("%s", err);
		return -1;
	}
	if (store_list_dispatches(p->st, &f, &g->old, &g->nold, err) != 0) {
		log_err("%s", err);
		return -1;
	}
	g->old_page = xcalloc(g->nold + 1, sizeof *g->old_page);
	for (size_t i = 0; i < g->nold; i++)
		g->old_page[i] = g->old[i].page;
	/*
	 * Claim first, in the claims' transaction (committed before anything renders): a card
	 * another process claimed since this pass planned is left out, and a stakeholder gone
	 * since the plan is not claimed.
	 */
	g->mine = xcalloc(n + 1, sizeof *g->mine);
	for (size_t i = 0; i < n; i++) {
		const struct stakeholder *sh;
		const struct event *ev;
		dispatch_rec_from_item(&g->recs[i], items[i]);
		g->recs[i].status = DS_QUEUED;
		if (dispatch_item_parts(p, items[i], &sh, &ev) != 0)
			continue;
		if (store_claim(p->st, &g->recs[i], &g->mine[i], err) != 0) {
			log_err("%s", err);
			return -1;
		}
		g->nmine += g->mine[i] != 0;
	}
	return 0;
}

/*
 * same_batch: whether a record's artifact is the batch at path. The last two components
 * (DATE/SIGNER.pdf) decide, so a spool written differently in the config (relative, moved)
 * still finds its cards, and a SIGNER-2.pdf batch is not this one.
 */
static int same_batch(const char *artifact, const char *path)
{
	const char *a, *b;
	int k = 0;
	if (!artifact || !path)
		return 0;
	a = artifact + strlen(artifact);
	b = path + strlen(path);
	while (a > artifact && b > path && a[-1] == b[-1]) {
		a--, b--;
		if (*a == '/' && ++k == 2)
			return 1;
	}
	/* Identical strings, or one is "DATE/SIGNER.pdf" relative with nothing before it. */
	return (a == artifact && b == path) || (k == 1 && (a == artifact || b == path));
}

/*
 * group_cards: the batch's cards in page order (old records still in it, then the new cards
 * rendered), with what the cover sheet and the reminder show; *sign_by the earliest mail-by.
 */
static struct bcard *group_cards(struct pass *p, struct batch_group *g, size_t *nc, day_t *sign_by)
{
	struct bcard *bc = xcalloc(g->n + g->nold + 1, sizeof *bc);
	*nc = 0;
	for (int pass = 0; pass < 2; pass++) {
		struct dispatch_rec *v = pass ? g->recs : g->old;
		size_t nv = pass ? g->n : g->nold;
		for (size_t i = 0; i < nv; i++) {
			const struct rule *r;
			const struct stakeholder *sh;
			const struct event *ev;
			day_t occ;
			long years;
			if (v[i].page <= 0 || v[i].status == DS_FAILED || v[i].status == DS_SKIPPED ||
			    (!pass && !same_batch(v[i].artifact, g->path)) || (pass && !g->mine[i]))
				continue;
			if (pass) {     /* a new card: its plan item and its stakeholder */
				r = g->items[i]->rule, occ = g->items[i]->occasion;
				if (dispatch_item_parts(p, g->items[i], &sh, &ev) != 0)
					continue;
			} else if (dispatch_item_of_record(p, &v[i], &r, &sh, &ev, &occ, &years) != 0) {
				continue;
			}
			bc[*nc].rec = &v[i];
			bc[*nc].old = !pass;
			bcard_fill(p, &bc[*nc], r, sh, occ);
			if (*nc == 0 || bc[*nc].mail_by < *sign_by)
				*sign_by = bc[*nc].mail_by;
			(*nc)++;
		}
	}
	return bc;
}

/*
 * new_batch: an empty batch whose completed pages wait in SPOOL/tmp (an unlinked file) rather
 * than in memory: a batch of thousands of cards and envelopes. 0 or -1 with err.
 */
static int new_batch(struct pass *p, struct card_batch **b, char err[ERR_LEN])
{
	char *tmp = util_path_join(p->cfg->spool, "tmp"), e[ERR_LEN];
	int rc = card_batch_new(b, err);
	if (rc == 0 && util_mkdirs_under(p->cfg->spool, tmp, e) == 0)
		card_batch_spill_to(*b, tmp);
	free(tmp);
	return rc;
}

/* batch_group_render: see dispatch_card_int.h. The batch is saved under batch_tmp's name. */
void batch_group_render(struct pass *p, struct batch_group *g, int worker)
{
	const struct plan_item *const *items = g->items;
	struct card_batch *b = NULL;
	struct bcard *bc = NULL;
	struct card_entry *entries = NULL;
	char fire_date[11], err[ERR_LEN], fire_long[64], by_long[64];
	char *dir = NULL, *tmp = NULL;
	int rebuild = 1, page, k, cardno = 0;
	size_t nc = 0;
	day_t sign_by = 0;

	dates_format_iso(items[0]->fire_date, fire_date);
	g->path = batch_path(p, fire_date, items[0]->signer, 0);
	if (!g->nmine)
		goto out;   /* another process has them all */
	if (new_batch(p, &b, err) != 0) {
		log_err("%s", err);
		g->failed = 1;
		goto out;
	}
	/* The batch's existing cards first, in their page order, so they keep their places. */
	for (size_t i = 0; i < g->nold && rebuild; i++) {
		const struct rule *r;
		const struct stakeholder *sh;
		const struct event *ev;
		day_t occ;
		long years;
		if (g->old[i].page <= 0 || g->old[i].status == DS_FAILED || g->old[i].status == DS_SKIPPED ||
		    !same_batch(g->old[i].artifact, g->path))
			continue;
		if (!worker)
			util_keepalive();   /* time-gated: a card can take long (a slow machine, a sanitizer) */
		if (dispatch_item_of_record(p, &g->old[i], &r, &sh, &ev, &occ, &years) != 0 ||
		    dispatch_card_render(p, b, r, sh, ev, occ, years, g->old[i].template_name,
		                         g->old[i].signer, &page, err) != 0 || page != cardno + 1) {
			log_warn("batch %s/%s: card %lld cannot be rendered again; new cards go into a batch of their own",
			         fire_date, items[0]->signer, (long long)g->old[i].id);
			rebuild = 0;
			break;
		}
		cardno++;
	}
	if (!rebuild) {
		int suffix;
		card_batch_free(b);
		b = NULL;
		cardno = 0;
		if (new_batch(p, &b, err) != 0) {
			log_err("%s", err);
			g->failed = 1;
			goto out;
		}
		for (suffix = 2; suffix < 1000; suffix++) {
			free(g->path);
			g->path = batch_path(p, fire_date, items[0]->signer, suffix);
			if (!util_file_exists(g->path))
				break;
		}
	}
	for (size_t i = 0; i < g->n; i++) {
		const struct plan_item *it = items[i];
		const struct stakeholder *sh;
		const struct event *ev;
		if (!g->mine[i])
			continue;
		if (!worker)
			util_keepalive();   /* time-gated: the claims' lease outlives no count of cards */
		if (!worker && i % 16 == 15 && dispatch_stopping()) {
			g->stopped = 1;     /* its claims are withdrawn; the next start renders it whole */
			goto out;
		}
		int gone = dispatch_item_parts(p, it, &sh, &ev) != 0;
		if (gone)
			err_set(err, "stakeholder %s no longer exists", it->sh_id);
		if (gone || dispatch_card_render(p, b, it->rule, sh, ev, it->occasion, it->years, it->template_name,
		                                 it->signer, &page, err) != 0) {
			g->recs[i].status = DS_FAILED;
			g->recs[i].error = xstrdup(err);
			g->recs[i].cost_cents = 0;
		} else {
			g->recs[i].status = DS_RENDERED;
			g->recs[i].artifact = xstrdup(g->path);
			g->recs[i].page = 1;   /* numbered below, once the cover's length is known */
			g->ok_new++;
		}
	}
	if (!g->ok_new)
		goto out;
	bc = group_cards(p, g, &nc, &sign_by);
	/* The cover sheet comes first: every card's page counts it. */
	k = card_cover_pages(nc);
	entries = xcalloc(nc + 1, sizeof *entries);
	for (size_t i = 0; i < nc; i++) {
		bc[i].rec->page = (int)i + 1 + k;
		entries[i].name = bc[i].name;
		entries[i].occasion = bc[i].occasion;
		entries[i].address = bc[i].address;
		entries[i].lang = bc[i].lang;
		entries[i].page = bc[i].rec->page;
	}
	{
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
		dir = util_dirname(g->path);
		tmp = batch_tmp(p, g->path);
		if (card_batch_finish(b, &cv, err) != 0 || util_mkdirs_under(p->cfg->spool, dir, err) != 0 ||
		    card_batch_save(b, tmp, err) != 0) {
			log_err("batch %s: %s", g->path, err);
			g->failed = 1;
			goto out;
		}
	}
	g->saved = 1;
out:
	card_batch_free(b);
	bcards_free(bc, nc);
	free(entries);
	free(dir);
	free(tmp);
}

/*
 * fall_back: recs[i] failed to draw; with `fallback: email` and an address it becomes a
 * queued email (the same record, so at most once) whose reason says why the card did not
 * go; the email path sends it after the batches (dispatch_mail_fallbacks), and a pass that
 * dies before that finds it queued and sends it then, as any claimed email.
 */
static void fall_back(struct pass *p, struct batch_group *g, size_t i)
{
	struct dispatch_rec *rec = &g->recs[i];
	const struct plan_item *it = g->items[i];
	const struct stakeholder *sh;
	const struct event *ev;
	char *why;

	if (rec->status != DS_FAILED || it->rule->fallback != CH_EMAIL ||
	    dispatch_item_parts(p, it, &sh, &ev) != 0 || !sh->f[SH_EMAIL][0] || stakeholder_flag(sh, SH_OPTED_OUT))
		return;
	why = xasprintf("card not drawn: %s", rec->error ? rec->error : "");
	free(rec->reason);
	rec->reason = why;
	free(rec->error);
	rec->error = NULL;
	rec->channel = CH_EMAIL;
	rec->status = DS_QUEUED;
	rec->cost_cents = it->cost_cents;
	g->fell[i] = 1;
}

/*
 * group_tmp: where g's batch was saved, or may have been (a worker that did not report, a
 * stop): the temporary file of its path, or of the path it would have had.
 */
static char *group_tmp(const struct pass *p, const struct batch_group *g)
{
	char fire_date[11], *path, *tmp;
	if (g->path)
		return batch_tmp(p, g->path);
	dates_format_iso(g->items[0]->fire_date, fire_date);
	path = batch_path(p, fire_date, g->items[0]->signer, 0);
	tmp = batch_tmp(p, path);
	free(path);
	return tmp;
}

int batch_group_commit(struct pass *p, struct batch_group *g)
{
	char err[ERR_LEN], *tmp;
	int rc = -1, placed = 0, put = g->saved && !g->failed && !g->stopped;
	if (!g->nmine)
		return 0;
	tmp = group_tmp(p, g);
	if (!g->failed && !g->stopped) {
		if (!g->fell)
			g->fell = xcalloc(g->n + 1, sizeof *g->fell);
		for (size_t i = 0; i < g->n; i++)
			if (g->mine[i])
				fall_back(p, g, i);
	}
	if (store_begin(p->st, err) != 0)
		goto fail;
	/* Every claim of the batch still ours (fencing), or nothing of it is recorded nor put in place. */
	for (size_t i = 0; i < g->n; i++) {
		int k;
		if (!g->mine[i])
			continue;
		k = g->failed || g->stopped ? store_withdraw_claim(p->st, g->recs[i].id, err)
		                            : store_update_claim(p->st, &g->recs[i], err);
		if (k == 1) {
			store_rollback(p->st);
			log_warn("%s", err);
			if (put)
				log_warn("batch %s is not put in place: its claims are no longer this process's", g->path);
			g->lost = 1;
			goto out;
		}
		if (k != 0)
			goto fail_tx;
	}
	/* A longer cover sheet moves the old cards back: their records follow. */
	for (size_t i = 0; put && i < g->nold; i++)
		if (g->old[i].page != g->old_page[i] && store_update_dispatch(p->st, &g->old[i], err) != 0)
			goto fail_tx;
	if (put) {
		/* The rows the fenced writes locked are ours until the commit, if the server kept the transaction. */
		if (!store_tx_fresh(p->st)) {
			store_rollback(p->st);
			log_warn("batch %s is not put in place: its claims were found this process's too long ago to rely "
			         "on (was it frozen?); they go by the crash rules", g->path);
			g->lost = 1;
			goto out;
		}
		if (batch_place(tmp, g->path, err) != 0)
			goto fail_tx;
		placed = 1;
	}
	/* Failing now, the file is in place with its new cards' claims still queued: rebuilt by a later pass. */
	if (store_commit(p->st, err) != 0)
		goto fail_tx;
	rc = 0;
	goto out;
fail_tx:
	store_rollback(p->st);
fail:
	if (store_lost(p->st)) {
		/* Its claims may be another daemon's by now: the crash rules decide, not this process. */
		log_warn("batch %s is not %s: the connection to the database was lost, and with it the hold on its "
		         "claims (%s)", g->path ? g->path : g->items[0]->signer, placed ? "recorded" : "put in place", err);
		g->lost = 1;
	} else {
		log_err("cards: %s", err);
	}
out:
	if (!placed)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* batch_group_after: once committed: counts, log lines, print_command and the signer's reminder. */
void batch_group_after(struct pass *p, struct batch_group *g)
{
	char fire_date[11];
	struct bcard *bc = NULL;
	size_t nc = 0;
	int nold_cards = 0;
	day_t sign_by = 0;

	if (g->stopped) {
		log_info("stop requested: the batch %s waits for the next start", g->path);
		return;
	}
	if (g->failed) {
		p->stats->failed += g->ok_new ? g->ok_new : (int)g->nmine;
		return;
	}
	if (g->saved)
		p->stats->batches++;
	for (size_t i = 0; i < g->n; i++) {
		if (!g->mine[i])
			continue;
		if (g->fell && g->fell[i]) {
			log_warn("dispatch id=%lld rule=%s stakeholder=%s: the card cannot be drawn, so it goes as an "
			         "email (fallback: email): %s", (long long)g->recs[i].id, g->recs[i].rule,
			         g->recs[i].stakeholder, g->recs[i].reason + strlen("card not drawn: "));
			p->fallback = xreallocarray(p->fallback, p->nfallback + 1, sizeof *p->fallback);
			p->fallback[p->nfallback++] = g->recs[i].id;
			continue;
		}
		dispatch_log_rec(&g->recs[i]);
		if (g->recs[i].status == DS_RENDERED)
			p->stats->cards++;
		else
			p->stats->failed++;
	}
	if (!g->saved)
		return;
	if (p->cfg->cards.print_command)
		run_print_command(p->cfg->cards.print_command, g->path);
	if (p->cfg->cards.remind_signers) {
		bc = group_cards(p, g, &nc, &sign_by);
		for (size_t i = 0; i < nc; i++)
			nold_cards += bc[i].old;
		dates_format_iso(g->items[0]->fire_date, fire_date);
		remind_signer(p, g->items[0]->signer, fire_date, g->path, bc, nc, nold_cards, sign_by);
		bcards_free(bc, nc);
	}
}
