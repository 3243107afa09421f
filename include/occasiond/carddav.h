/*
 * carddav: pulls a CardDAV address book (RFC 6352) into the stakeholders, for `sync` and
 * serve. The first pull reads the whole book; later ones ask only for what changed since
 * (RFC 6578 sync-collection with the sync-token kept in the store), else list the ETags and
 * fetch the cards whose ETag moved. Changed contacts are updated; a contact deleted at the
 * source is marked gone (the custom field `gone` holds the date and the source, and it is
 * opted out, so nothing more goes to it; its records stay); one that comes back is no longer
 * gone. A pull is all or nothing: any failure (network, 401, a redirect, a broken card or
 * answer) leaves the stakeholders and the kept state as they were.
 *
 * The state of a source lives in the store's meta table: carddav:ID:token (the sync-token),
 * carddav:ID:url (the URL it belongs to) and carddav:ID:items (one "HREF TAB ETAG TAB ID"
 * line per contact).
 */
#ifndef OCCASIOND_CARDDAV_H
#define OCCASIOND_CARDDAV_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/config.h"
#include "occasiond/store.h"
#include "occasiond/util.h"

#define CARDDAV_MAX_CONTACTS 100000   /* in one address book */
#define CARDDAV_BATCH 100             /* cards asked for in one addressbook-multiget */

struct carddav_stats {
	size_t listed;    /* contacts the server listed as new or changed (all of them on a full pull) */
	size_t fetched;   /* vCards read */
	size_t updated;   /* stakeholders written (new or changed) */
	size_t gone;      /* marked gone */
	size_t back;      /* gone before, at the source again */
	int full;         /* the whole book was listed (first pull, or the sync-token was refused) */
	int etags;        /* the server has no sync-collection: ETags were compared */
};

/*
 * carddav_sync: one pull of src into st at now (the date of a gone mark, in UTC). 0 with
 * *stats, or -1 with a one-line err (without the source's id: the caller names it).
 */
int carddav_sync(struct store *st, const struct config_source *src, int64_t now, struct carddav_stats *stats,
                 char err[ERR_LEN]);

#endif
