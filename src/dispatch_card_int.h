/*
 * dispatch_card internals: one card batch (a group: the new cards of one fire date and
 * signer, and the batch they go into), built by dispatch_card_batch.c and driven by
 * dispatch_card.c. Its work is in steps: batch_group_begin claims the cards and reads the
 * batch's existing records (the store, inside the pass's claims transaction),
 * batch_group_render makes the batch and saves it under a temporary name (no store: it may
 * run in a worker process), batch_group_commit records the outcome and puts the file in place
 * (the store), batch_group_after prints and reminds.
 * Not a public header.
 */
#ifndef OCCASIOND_DISPATCH_CARD_INT_H
#define OCCASIOND_DISPATCH_CARD_INT_H

#include "dispatch_int.h"

struct batch_group {
	const struct plan_item *const *items;
	size_t n;
	struct dispatch_rec *old, *recs;
	size_t nold;
	int *old_page;          /* old[i]'s page when the pass began */
	int *mine;              /* recs[i] was claimed by this pass (another process may have it) */
	size_t nmine;
	int *fell;              /* recs[i] could not be drawn and goes as an email (fallback) */
	char *path;             /* where the batch goes */
	int ok_new, failed;
	int saved;              /* saved under its temporary name, for batch_group_commit to put in place */
	int stopped;            /* a stop request ended it before the batch was saved */
	int lost;               /* its claims are no longer surely this process's: nothing recorded */
};

/*
 * batch_group_begin: g for items[0..n) (one fire date and signer; g keeps the pointer): the
 * batch lock (another process building it: nothing claimed, p->busy_batches counted), the
 * batch's records read, the cards claimed, in the caller's open transaction. 0, or -1
 * (logged): the caller rolls back. batch_group_free frees what g holds, whatever happened.
 */
int batch_group_begin(struct pass *p, struct batch_group *g, const struct plan_item *const *items, size_t n);
void batch_group_free(struct batch_group *g);
/*
 * batch_group_render: renders g's batch and saves it beside g->path under a name of this
 * process's own; records' pages and statuses are set in g. worker: in a worker process (the
 * parent feeds the watchdog and watches for a stop).
 */
void batch_group_render(struct pass *p, struct batch_group *g, int worker);
/*
 * batch_group_commit: records what batch_group_render did, in a short transaction of its own:
 * the claims of a batch that could not be saved are withdrawn (a later pass tries again); the
 * rest take their status and page, and the saved batch is renamed into place inside that
 * transaction once every claim was found still this process's. 0, or -1 (logged): the claims
 * stay queued, and the next pass withdraws them and renders the batch again; g->lost when a
 * claim was no longer ours or the database connection was lost. Whatever happens, a saved
 * file not put in place is removed: the batch at g->path stays as it was.
 */
int batch_group_commit(struct pass *p, struct batch_group *g);
/* batch_group_after: once committed: counts, log lines, print_command and the signer's reminder. */
void batch_group_after(struct pass *p, struct batch_group *g);

#endif
