/*
 * dispatch, the card path: every card of one signer and fire date goes into one batch
 * (dispatch_card_batch.c builds each); here the pass's cards are grouped into batches, the
 * claims committed, the batches rendered (in worker processes when CPUs are free) and their
 * outcomes committed in order. Claims left queued by a pass that died are withdrawn by the
 * next (dispatch_card_recover) and planned again. Depends on dispatch_common.c alone: signer
 * reminders are handed to the orchestrator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch_card_int.h"
#include "occasiond/log.h"

/* ------------------------------------------------------------------ workers */

/*
 * A worker is a child process that renders one group's batch (batch_group_render) and reports
 * back through a pipe: "saved ok_new failed path" then, per new record, "status page error",
 * then per old record its page. The parent alone touches the store.
 */
static void report_write(int fd, const struct batch_group *g)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%d %d %d %s\n", g->saved, g->ok_new, g->failed, g->path ? g->path : "");
	for (size_t i = 0; i < g->n; i++) {
		sb_addf(&sb, "%d %d ", (int)g->recs[i].status, g->recs[i].page);
		for (const char *e = g->recs[i].error ? g->recs[i].error : ""; *e; e++)
			sb_addn(&sb, *e == '\n' ? " " : e, 1);
		sb_adds(&sb, "\n");
	}
	for (size_t i = 0; i < g->nold; i++)
		sb_addf(&sb, "%d\n", g->old[i].page);
	for (size_t off = 0; off < sb.len;) {
		ssize_t w = write(fd, sb.s + off, sb.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	sb_free(&sb);
}

static int report_read(FILE *fp, struct batch_group *g)
{
	char *line = NULL, *end;
	size_t cap = 0;
	ssize_t len;
	int rc = -1;
	struct pollfd pf;

	if (!fp)
		return -1;
	/*
	 * While the worker renders, the watchdog and the claims' leases are fed (the stream is
	 * unbuffered, so a readable descriptor is the whole truth).
	 */
	pf.fd = fileno(fp);
	pf.events = POLLIN;
	while (poll(&pf, 1, 1000) == 0)
		util_keepalive();
	if ((len = getline(&line, &cap, fp)) <= 0)
		goto out;
	if (line[len - 1] == '\n')
		line[--len] = 0;
	g->saved = (int)strtol(line, &end, 10);
	g->ok_new = (int)strtol(end, &end, 10);
	g->failed = (int)strtol(end, &end, 10);
	if (*end == ' ')
		end++;
	free(g->path);
	g->path = *end ? xstrdup(end) : NULL;
	for (size_t i = 0; i < g->n; i++) {
		long st;
		if ((len = getline(&line, &cap, fp)) <= 0)
			goto out;
		if (line[len - 1] == '\n')
			line[--len] = 0;
		st = strtol(line, &end, 10);
		g->recs[i].status = (enum dispatch_status)st;
		g->recs[i].page = (int)strtol(end, &end, 10);
		if (*end == ' ')
			end++;
		if (st == DS_FAILED)
			g->recs[i].error = xstrdup(end);
		if (st == DS_RENDERED && g->path)
			g->recs[i].artifact = xstrdup(g->path);
		if (st == DS_FAILED)
			g->recs[i].cost_cents = 0;
	}
	for (size_t i = 0; i < g->nold; i++) {
		if ((len = getline(&line, &cap, fp)) <= 0)
			goto out;
		g->old[i].page = (int)strtol(line, NULL, 10);
	}
	rc = 0;
out:
	free(line);
	return rc;
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

/*
 * free_cpus: how many CPUs are idle or running niced work, measured over 50 ms from
 * /proc/stat (the load average counts niced background jobs that would yield to us).
 * Returns 1..4; 1 when /proc/stat cannot be read.
 */
static size_t free_cpus(long cpus)
{
	unsigned long long a[2][8];
	double avail;
	for (int k = 0; k < 2; k++) {
		FILE *fp = fopen("/proc/stat", "r");
		memset(a[k], 0, sizeof a[k]);
		if (!fp || fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		                  &a[k][0], &a[k][1], &a[k][2], &a[k][3],
		                  &a[k][4], &a[k][5], &a[k][6], &a[k][7]) != 8) {
			if (fp)
				fclose(fp);
			return 1;
		}
		fclose(fp);
		if (k == 0)
			usleep(50 * 1000);
	}
	{
		/* user nice system idle iowait irq softirq steal */
		double total = 0, freeish;
		for (int i = 0; i < 8; i++)
			total += (double)(a[1][i] - a[0][i]);
		freeish = (double)(a[1][1] - a[0][1]) + (double)(a[1][3] - a[0][3])
		        + (double)(a[1][4] - a[0][4]);
		if (total <= 0)
			return 1;
		avail = (double)cpus * freeish / total;
	}
	return avail >= 3.5 ? 4 : avail >= 1.5 ? (size_t)(avail + 0.5) : 1;
}

/*
 * dispatch_card_recover: a pass runs alone (the pass lock), so a card claim found queued was
 * left by a pass that died between its claims and its outcome: withdrawn, it is planned and
 * rendered again (a batch it may have saved is rebuilt from the records).
 */
void dispatch_card_recover(struct pass *p)
{
	struct dispatch_rec *v = NULL;
	size_t n = 0;
	char err[ERR_LEN];
	/* Several daemons: only claims whose lease ran out, now this process's. */
	if (store_take_over(p->st, CH_CARD, &v, &n, err) != 0)
		log_err("%s", err);
	for (size_t i = 0; i < n; i++) {
		if (store_withdraw_claim(p->st, v[i].id, err) != 0)
			log_err("%s", err);
		else
			log_info("recovered dispatch id=%lld: an interrupted card claim is withdrawn", (long long)v[i].id);
	}
	dispatch_recs_free(v, n);
}

/*
 * dispatch_card_items: groups are independent, so with more than one group and more than one
 * CPU, one worker process per CPU (at most 4) renders every W-th group and reports each in
 * turn, while the parent commits the groups in order as their reports come in. Few workers,
 * each reusing its memory from batch to batch, cost far less than a process per batch.
 */
void dispatch_card_items(struct pass *p, const struct plan_item **cards, size_t ncards)
{
	struct batch_group *gs = NULL;
	size_t ngroups = 0, nw;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t pids[4] = {0};
	FILE *fps[4] = {0};
	char err[ERR_LEN];

	if (!ncards)
		return;
	qsort(cards, ncards, sizeof *cards, group_cmp);
	/* The stakeholders, fetched before the claims' transaction (it stays short). */
	for (size_t i = 0; i < ncards; i++) {
		if (i % 256 == 255) {
			util_keepalive();
			if (dispatch_stopping()) {
				log_info("stop requested: %zu %s left for the next start", ncards,
				         util_plural((long long)ncards, "card", "cards"));
				dispatch_forget(p);
				return;
			}
		}
		(void)dispatch_sh(p, cards[i]->sh_id);
	}
	/*
	 * The claims, with the batches' records read, in one short write transaction committed
	 * before anything renders; the pass lock keeps other passes out until the outcomes are in.
	 */
	if (store_begin(p->st, err) != 0) {
		log_err("cards: %s", err);
		p->stats->failed += (int)ncards;
		return;
	}
	gs = xcalloc(ncards + 1, sizeof *gs);
	for (size_t i = 0; i < ncards;) {
		size_t j = i + 1;
		while (j < ncards && cards[j]->fire_date == cards[i]->fire_date &&
		       strcmp(cards[j]->signer, cards[i]->signer) == 0)
			j++;
		if (batch_group_begin(p, &gs[ngroups], cards + i, j - i) != 0) {
			batch_group_free(&gs[ngroups]);
			goto abort;
		}
		ngroups++;
		i = j;
	}
	if (store_commit(p->st, err) != 0) {
		log_err("cards: %s", err);
		goto abort;
	}
	/* The stakeholders of the batches' old cards too: a worker renders without the store. */
	for (size_t i = 0; i < ngroups; i++)
		for (size_t k = 0; k < gs[i].nold; k++)
			(void)dispatch_sh(p, gs[i].old[k].stakeholder);
	/*
	 * Workers pay only with idle CPUs: a worker's fresh heap costs page faults, and measured
	 * on a busy machine two workers were slower than one process. So one worker per CPU that
	 * is free now (idle, or running only niced work that yields to us), at most 4.
	 */
	if (getenv("OCCASIOND_CARD_WORKERS")) {      /* for measuring; 1: render in this process */
		long v = strtol(getenv("OCCASIOND_CARD_WORKERS"), NULL, 10);
		nw = v < 1 ? 1 : v > 4 ? 4 : (size_t)v;
	} else {
		nw = ngroups > 1 && cpus > 1 ? free_cpus(cpus) : 1;
	}
	if (nw > ngroups)
		nw = ngroups;
	if (nw > 1) {
		/* Templates load once, here, so that every worker inherits them. */
		for (size_t i = 0; i < ncards; i++)
			(void)dispatch_card_tmpl(p, cards[i]->template_name, err);
		fflush(NULL);
		for (size_t w = 0; w < nw; w++) {
			int fds[2];
			if (pipe(fds) != 0 || (pids[w] = fork()) < 0) {
				log_err("cannot start a card worker: %s", strerror(errno));
				pids[w] = 0;
				break;
			}
			if (pids[w] == 0) {
				p->offline = 1;   /* the store's connection is the parent's */
				close(fds[0]);
				for (size_t k = 0; k < w; k++)
					if (fps[k])
						fclose(fps[k]);
				for (size_t i = w; i < ngroups; i += nw) {
					batch_group_render(p, &gs[i], 1);
					report_write(fds[1], &gs[i]);
				}
				_exit(0);
			}
			close(fds[1]);
			if ((fps[w] = fdopen(fds[0], "r")))
				setvbuf(fps[w], NULL, _IONBF, 0);
		}
	}
	for (size_t i = 0; i < ngroups; i++) {
		struct batch_group *g = &gs[i];
		util_keepalive();
		if (dispatch_stopping()) {
			/* The rest waits for the next start: workers are ended, their claims withdrawn. */
			for (size_t w = 0; w < nw; w++)
				if (pids[w] > 0)
					kill(pids[w], SIGKILL);
			log_info("stop requested: %zu card batch%s left for the next start", ngroups - i,
			         ngroups - i == 1 ? "" : "es");
			for (size_t k = i; k < ngroups; k++) {
				gs[k].stopped = 1;
				(void)batch_group_commit(p, &gs[k]);
			}
			break;
		}
		if (nw > 1 && pids[i % nw] > 0) {
			if (report_read(fps[i % nw], g) != 0) {
				log_err("batch of %s: the worker rendering it failed", g->items[0]->signer);
				g->failed = 1;
				/* A batch it saved is not put in place: the commit removes it. */
			}
		} else {
			batch_group_render(p, g, 0);   /* one process, or its worker did not start */
		}
		/* A batch goes in place with its records or not at all (a failed commit: rebuilt later). */
		if (batch_group_commit(p, g) == 0)
			batch_group_after(p, g);
		else if (!g->lost)   /* lost: its claims are another process's business now */
			p->stats->failed += (int)g->nmine;
	}
	for (size_t w = 0; w < nw; w++) {
		int st = 0;
		if (fps[w])
			fclose(fps[w]);
		while (pids[w] > 0 && waitpid(pids[w], &st, 0) < 0 && errno == EINTR)
			;
		if (pids[w] > 0 && !dispatch_stopping() && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
			log_err("a card worker ended abnormally (status %d)", st);
	}
	for (size_t i = 0; i < ngroups; i++)
		batch_group_free(&gs[i]);
	free(gs);
	store_batch_unlock_all(p->st);   /* after every outcome is committed */
	dispatch_forget(p);
	return;
abort:
	for (size_t k = 0; k < ngroups; k++)
		batch_group_free(&gs[k]);
	free(gs);
	store_rollback(p->st);
	store_batch_unlock_all(p->st);
	p->stats->failed += (int)ncards;
	dispatch_forget(p);
}
