/*
 * vcard: a streaming vCard reader (2.1, 3.0 and 4.0; RFC 2426, RFC 6350, and the 2.1 of
 * Outlook and old phones): folded lines, QUOTED-PRINTABLE and CHARSET, grouped Apple labels.
 * Each card comes out as one row of fixed columns (vcard_header), which a map (import_map.h)
 * turns into a stakeholder like any CSV row.
 */
#ifndef OCCASIOND_VCARD_H
#define OCCASIOND_VCARD_H

#include <stddef.h>

#include "occasiond/csv.h"
#include "occasiond/util.h"

#define VCARD_MAX_VALUE (64 * 1024)      /* a kept property's value; longer is an error */
#define VCARD_MAX_CARD (4 * 1024 * 1024) /* a card with everything (photos skipped, not kept) */

struct vcard_reader;
struct imap;

/* vcard_open: 0 with *out, or -1 with err. */
int vcard_open(const char *path, struct vcard_reader **out, char err[ERR_LEN]);
/*
 * vcard_open_mem: the same over len bytes of data (a card a server sent), which must stay
 * unchanged until vcard_close; name stands for the file in messages.
 */
int vcard_open_mem(const char *name, const char *data, size_t len, struct vcard_reader **out, char err[ERR_LEN]);
/*
 * vcard_next: the next card as a row of vcard_header's columns (rec->line: its BEGIN line),
 * valid until the next call. 1, 0 at the end, -1 with "FILE:LINE: error: MESSAGE" (a card
 * inside a card, a card not ended, a value over VCARD_MAX_VALUE, text outside a card): the
 * file cannot be trusted and nothing should be written.
 */
int vcard_next(struct vcard_reader *r, struct csv_record *rec, char err[ERR_LEN]);
void vcard_close(struct vcard_reader *r);        /* NULL is fine */
/* vcard_header: the columns of every row: UID (already an id), N.given, N.family, FN, ... */
char *const *vcard_header(size_t *n);
/*
 * vcard_map: the map from those columns to ours, completed by the user's map m (which may say
 * how CATEGORIES becomes type or tier); takes m, returns the map to use.
 */
struct imap *vcard_map(struct imap *m);
/*
 * vcard_date: a vCard date (19800214, 1980-02-14, --0214, --02-14, with a time or not) as
 * "YYYY-MM-DD" or "--MM-DD" into out (size >= 11); "" when it is not one. 0 or -1.
 */
int vcard_date(const char *v, char out[11]);

#endif
