/*
 * dispatch internals. The pass is a one-way chain: dispatch_common.c holds what every part of
 * a pass shares (the pass's state, stakeholders fetched by id, records, skips, log lines, the
 * template context, card templates); dispatch_mail.c (the email path) and dispatch_card.c with
 * dispatch_card_batch.c (the card path) depend on it alone and never on each other;
 * dispatch.c (the orchestrator) plans and hands the work to both, and the card path's signer
 * reminders to the mail path. Not a public header.
 */
#ifndef OCCASIOND_DISPATCH_INT_H
#define OCCASIOND_DISPATCH_INT_H

#include "occasiond/card.h"
#include "occasiond/dispatch.h"
#include "occasiond/planner.h"

/* A stakeholder fetched again by id for rendering, with its events (title and details too). */
struct pass_sh {
	struct stakeholder sh;
	struct event *ev;
	size_t nev;
};

struct tmpl_cache {
	char *name;
	struct card_template *t;
	char *err;
};

/* A signer's reminder the card path made: the orchestrator sends it through the mail path. */
struct reminder {
	char *name;                   /* its deterministic name: maildir file, and the sent mark */
	char *to;                     /* the signer's address */
	char *batch;                  /* the batch it is about (for the log) */
	struct strbuf msg;            /* the whole message */
};

/* The state of one pass. */
struct pass {
	const struct config *cfg;
	const struct ruleset *rs;
	struct store *st;
	char *install_id;
	int64_t now;
	struct dispatch_stats *stats;
	struct mail_run *mail;        /* the email path's state for this pass (dispatch_mail.c), or NULL */
	struct pass_sh **shs;         /* stakeholders fetched (dispatch_sh), hashed by id */
	size_t nshs, shcap;
	struct tmpl_cache *cards;     /* card templates loaded, each once a pass */
	size_t ncards;
	struct reminder *rem;         /* reminders made by the card path, not yet sent */
	size_t nrem;
	int64_t *fallback;            /* cards that could not be drawn, committed as queued emails */
	size_t nfallback;
	int offline;                  /* a card worker: dispatch_sh answers from what is fetched only */
	int busy_batches;             /* batches another process was building: a pass again soon */
	char claim_err[ERR_LEN];      /* the last write on a claim that failed or found it lost */
};

/*
 * dispatch_pass_begin: a pass at now over st (install_id read). dispatch_pass_end frees what it
 * holds, also after a failure. 0, or -1 with err when the store cannot be read.
 */
int dispatch_pass_begin(struct pass *p, const struct config *cfg, const struct ruleset *rs, struct store *st,
                        int64_t now, struct dispatch_stats *stats, char err[ERR_LEN]);
void dispatch_pass_end(struct pass *p);

/*
 * dispatch_sh: the stakeholder id with its events, fetched from the store on first use and
 * kept until dispatch_forget (owned by the pass). NULL when it no longer exists or the store
 * failed (logged).
 */
const struct pass_sh *dispatch_sh(struct pass *p, const char *id);
/* dispatch_forget: drops every stakeholder fetched (pointers from dispatch_sh become invalid). */
void dispatch_forget(struct pass *p);
/* dispatch_event: the event of (kind, date) among s's, or NULL. */
const struct event *dispatch_event(const struct pass_sh *s, const char *kind, day_t date);

/*
 * dispatch_item_parts: what renders a plan item: its stakeholder and event (WHEN_EVENT), from
 * dispatch_sh. -1 when the stakeholder no longer exists.
 */
int dispatch_item_parts(struct pass *p, const struct plan_item *it, const struct stakeholder **sh,
                        const struct event **ev);
/*
 * dispatch_item_of_record: the rule, stakeholder, event and years of an existing record (its
 * stakeholder from dispatch_sh). -1 when its rule or stakeholder no longer exists.
 */
int dispatch_item_of_record(struct pass *p, const struct dispatch_rec *rec, const struct rule **r,
                            const struct stakeholder **sh, const struct event **ev, day_t *occasion, long *years);
/* dispatch_rec_from_item: a new record (every string malloc'd: dispatch_rec_clear) of a plan item. */
void dispatch_rec_from_item(struct dispatch_rec *rec, const struct plan_item *it);
/* dispatch_log_rec: the record's log line (level by status). */
void dispatch_log_rec(const struct dispatch_rec *r);
/* dispatch_record_skip: a skipped or missed item as a record (counted, logged). 0 or -1 with err. */
int dispatch_record_skip(struct pass *p, const struct plan_item *it, char err[ERR_LEN]);

/* dispatch_card_tmpl: a card template by name, loaded once a pass (NULL with err). */
struct card_template *dispatch_card_tmpl(struct pass *p, const char *name, char err[ERR_LEN]);
/* dispatch_card_render: one card of the dispatch into batch b; *page its first page. 0 or -1 with err. */
int dispatch_card_render(struct pass *p, struct card_batch *b, const struct rule *r, const struct stakeholder *sh,
                         const struct event *ev, day_t occ, long years, const char *tmpl_name, const char *signer,
                         int *page, char err[ERR_LEN]);

/* dispatch_stopping: a stop was requested (serve's SIGTERM): long loops end at the next item. */
int dispatch_stopping(void);
/* dispatch_spreading: claims start at a place of this process's own (dispatch_set_spread). */
int dispatch_spreading(void);

/* ---- the email path (dispatch_mail.c) ---- */

/* dispatch_mail_build: the message of one dispatch (preview: id 0). 0 or -1 with err. */
int dispatch_mail_build(struct pass *p, const struct rule *r, const struct stakeholder *sh, const struct event *ev,
                        day_t occasion, long years, const char *tmpl_name, const char *signer, int64_t id,
                        struct strbuf *out, char err[ERR_LEN]);
/* dispatch_mail_recover: emails a pass that died left queued: unknown, sent (maildir) or retry. Returns how many it took. */
size_t dispatch_mail_recover(struct pass *p);
/* dispatch_mail_retry_due: emails in retry whose time has come, delivered again. */
void dispatch_mail_retry_due(struct pass *p);
/*
 * dispatch_mail_items: claims the due emails items[0..n) (committed in groups before anything
 * of a group goes out) and delivers them over the configured transport. -1 (err) only when
 * the store failed; a failed email is a record, not an error of the pass.
 */
int dispatch_mail_items(struct pass *p, const struct plan_item *const *items, size_t n, char err[ERR_LEN]);
/*
 * dispatch_mail_reminders: sends the reminders p->rem over the pass's own session (SMTP,
 * paced with the rest) or into the maildir, each at most once (they stay the pass's).
 */
void dispatch_mail_reminders(struct pass *p);
/*
 * dispatch_mail_fallbacks: delivers the emails p->fallback names (records the card path
 * turned from cards that could not be drawn into queued emails, `fallback: email`), once
 * each, like any claimed email; then forgets them.
 */
void dispatch_mail_fallbacks(struct pass *p);
/* dispatch_mail_finish: commits what is pending, closes the SMTP connection. Safe to call twice. */
void dispatch_mail_finish(struct pass *p);

/* ---- the card path (dispatch_card.c, dispatch_card_batch.c) ---- */

/* dispatch_card_recover: card claims a pass that died left queued are withdrawn (planned again). */
void dispatch_card_recover(struct pass *p);
/*
 * dispatch_card_items: renders the due cards (any order) grouped by fire date and signer; the
 * claims are committed before rendering, the outcomes after, no transaction held between. The
 * signers' reminders go to p->rem. A card that cannot be drawn fails, unless its rule has
 * `fallback: email` and the stakeholder an address: then its record is committed as a queued
 * email whose reason says why, and its id goes to p->fallback for the email path.
 */
void dispatch_card_items(struct pass *p, const struct plan_item **cards, size_t ncards);

#endif
