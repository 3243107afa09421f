/*
 * dispatch: the state machine of CONTRACT §7. Claims each due dispatch in the store,
 * renders it (card page in its signer's batch, or email), delivers it, records the outcome.
 */
#ifndef OCCASIOND_DISPATCH_H
#define OCCASIOND_DISPATCH_H

#include <stdint.h>

#include "occasiond/config.h"
#include "occasiond/dates.h"
#include "occasiond/model.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"
#include "occasiond/template.h"

struct dispatch_stats {
	int cards;        /* rendered */
	int batches;      /* batch files written */
	int emails;       /* sent or written to the outbox */
	int skipped;
	int missed;
	int failed;
	int retry;
	int unknown;      /* emails that may or may not have reached the server (never resent by themselves) */
};

/*
 * dispatch_context: the template context for one dispatch: every stakeholder column,
 * full_name, greeting_name, occasion.{name,date,iso}, years, ordinal_years, signer,
 * event.{title,details,date,kind}, organization_name. Caller frees with tval_free.
 */
struct tval *dispatch_context(const struct config *cfg, const struct rule *r, const struct stakeholder *sh,
                              const struct event *ev, day_t occasion, long years, const char *signer);

/* dispatch_ordinal: 1 -> "1st", 12 -> "12th", 22 -> "22nd". */
void dispatch_ordinal(long n, char *buf, size_t size);

/*
 * dispatch_run: one pass at instant now: recovers interrupted dispatches, plans, records
 * missed and skipped ones, renders card batches, sends emails. With dry_run nothing is
 * recorded or written; each dispatch that would happen is printed. *next_wake (may be NULL)
 * receives the next instant worth waking for. Returns 0, or -1 on an error that stopped the
 * pass (a failed single dispatch is counted in stats, not an error of the pass).
 */
int dispatch_run(const struct config *cfg, const struct ruleset *rs, struct store *st, int64_t now,
                 int dry_run, struct dispatch_stats *stats, int64_t *next_wake, char err[ERR_LEN]);

/*
 * dispatch_set_stop_check: fn (NULL: none) is asked between dispatches of a pass; when it
 * returns non-zero the pass stops there (cards not yet rendered are left for the next pass).
 * The daemon's SIGTERM uses it.
 */
void dispatch_set_stop_check(int (*fn)(void));

/*
 * dispatch_set_spread: on a database several daemons share (store_shared), each pass of this
 * process claims its emails starting at a place of its own in the due list (a hash of its
 * owner and the instant) and goes round, so that daemons share the work rather than race for
 * the first rows. serve sets it; off (the default) every pass starts at the first due one,
 * so `run --once` dispatches in the same order on both backends.
 */
void dispatch_set_spread(int on);

/*
 * dispatch_preview: renders rule's card (.pdf) or email (.eml) for one stakeholder into
 * out_path, for the rule's next occasion after now, recording nothing. out_path NULL means
 * preview.pdf or preview.eml by what the rule resolves to for that stakeholder; a name that
 * does not end in the extension of what would be written is refused (nothing written).
 * *written (may be NULL) gets the path written, which the caller frees. 0 or -1.
 */
int dispatch_preview(const struct config *cfg, const struct ruleset *rs, struct store *st, const char *rule_id,
                     const char *sh_id, const char *out_path, int64_t now, char **written, char err[ERR_LEN]);

#endif
