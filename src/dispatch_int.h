/*
 * dispatch internals shared by dispatch.c (the pass, records, skips, preview),
 * dispatch_mail.c (the email path: build, deliver, retry, recover) and
 * dispatch_card.c (the card path: batches per signer and fire date). Not a public header.
 */
#ifndef OCCASIOND_DISPATCH_INT_H
#define OCCASIOND_DISPATCH_INT_H

#include "occasiond/card.h"
#include "occasiond/dispatch.h"
#include "occasiond/planner.h"

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
	struct mail_run *mail;   /* the email path's state for this pass (dispatch_mail.c), or NULL */
};

struct tmpl_cache {
	char *name;
	struct card_template *t;
	char *err;
};

void dispatch_pass_free(struct pass *p);
int dispatch_pass_load(struct pass *p, char err[ERR_LEN]);
const struct stakeholder *dispatch_find_sh(const struct pass *p, const char *id);
const struct event *dispatch_find_event(const struct pass *p, const char *sh_id, const char *kind, const char *date);
void dispatch_rec_from_item(struct dispatch_rec *rec, const struct plan_item *it);
void dispatch_log_rec(const struct dispatch_rec *r);
int dispatch_record_skip(struct pass *p, const struct plan_item *it, char err[ERR_LEN]);
int dispatch_mail_build(const struct pass *p, const struct rule *r, const struct stakeholder *sh,
                       const struct event *ev, day_t occasion, long years, const char *tmpl_name,
                       const char *signer, int64_t id, struct strbuf *out, char err[ERR_LEN]);
void dispatch_mail_recover(struct pass *p);
int dispatch_item_of_record(const struct pass *p, const struct dispatch_rec *rec, const struct rule **r,
                          const struct stakeholder **sh, const struct event **ev, day_t *occasion, long *years);
void dispatch_mail_retry_due(struct pass *p);
/*
 * dispatch_mail_items: claims the due emails items[0..n) (committed in groups before anything
 * of a group goes out) and delivers them over the configured transport. -1 (err) only when
 * the store failed; a failed email is a record, not an error of the pass.
 */
int dispatch_mail_items(struct pass *p, const struct plan_item *const *items, size_t n, char err[ERR_LEN]);
/* dispatch_mail_finish: commits what is pending, closes the SMTP connection. Safe to call twice. */
void dispatch_mail_finish(struct pass *p);
void dispatch_card_cache_free(struct tmpl_cache *c, size_t n);
int dispatch_card_render(const struct pass *p, struct card_batch *b, struct tmpl_cache **cache, size_t *ncache,
                       const struct rule *r, const struct stakeholder *sh, const struct event *ev, day_t occ,
                       long years, const char *tmpl_name, const char *signer, int *page, char err[ERR_LEN]);

/* dispatch_card_items: renders the due cards (any order) grouped by fire date and signer. */
void dispatch_card_items(struct pass *p, const struct plan_item **cards, size_t ncards,
                         struct tmpl_cache **cache, size_t *ncache);

/* dispatch_stopping: a stop was requested (serve's SIGTERM): long loops end at the next item. */
int dispatch_stopping(void);

#endif
