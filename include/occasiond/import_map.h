/*
 * import_map: how the columns of someone else's export become stakeholder columns. A map
 * file (CONTRACT 5a: id, columns, keep, defaults, delimiter, encoding) or, without one, the
 * export's own header taken as our column names, forgiving case, spaces and punctuation
 * ("First Name" is first_name, with a note) but not a typo ("emial" is an error naming email).
 * A bound map turns each source row into a row in our columns, which model.c then validates.
 */
#ifndef OCCASIOND_IMPORT_MAP_H
#define OCCASIOND_IMPORT_MAP_H

#include <stddef.h>
#include <stdio.h>

#include "occasiond/util.h"

struct imap;

/*
 * imap_load: reads a map file. Every problem goes into d as "FILE:LINE:COL: error: ...".
 * Returns 0 with *out (free with imap_free), or -1.
 */
int imap_load(const char *path, struct imap **out, struct diags *d);
/* imap_load_mem: the same from text (name in messages). */
int imap_load_mem(const char *name, const char *text, struct imap **out, struct diags *d);
/*
 * imap_with_base: m completed by base: base's columns that m does not map, and its kept
 * columns. Takes both (base is freed); returns the result (base when m is NULL).
 */
struct imap *imap_with_base(struct imap *m, struct imap *base);
/* imap_identity: the map of an export that uses our column names (no map file). */
struct imap *imap_identity(void);
void imap_free(struct imap *m);                    /* NULL is fine */
/* The map's own delimiter (0: none given) and encoding (NULL: none given). */
int imap_delimiter(const struct imap *m);
const char *imap_encoding(const struct imap *m);

/*
 * imap_bind: resolves the map against the source's header (names as read, n of them; file
 * and line name the header in messages). A column the map names that the header lacks, a
 * header one typo from our column, an id or first_name nobody gives: errors in d. Notes
 * (a header taken under another spelling) are warnings in d. 0 or -1.
 */
int imap_bind(struct imap *m, char *const *header, size_t n, const char *file, long line, struct diags *d);
/* imap_header: our column names, in the order imap_row gives values (valid while m lives). */
char *const *imap_header(const struct imap *m, size_t *n);

/*
 * imap_row: one source row (n values, lens may be NULL) in our columns: *values and *lens
 * (owned by m, valid until the next call) in imap_header's order. A value that cannot be
 * converted: -1 with "column NAME: MESSAGE" in err, NAME the source column.
 */
int imap_row(struct imap *m, char *const *src, const size_t *lens, size_t n, char *const **values,
             const size_t **outlens, char err[ERR_LEN]);
/* imap_source_name: model.c's message names our column; this gives the source's column behind field, or field. */
const char *imap_source_name(const struct imap *m, const char *field);

/*
 * For --dry-run. imap_print_row: each of our columns of the last imap_row with its value and
 * where it came from. imap_print_columns: what becomes of every source column (mapped to
 * which of ours, kept as a custom field, or ignored).
 */
void imap_print_row(const struct imap *m, FILE *fp);
void imap_print_columns(const struct imap *m, FILE *fp);

/*
 * imap_convert_date: a date written in fmt ("MM/DD/YYYY", "D.M.YYYY", "YYYY-MM-DD": YYYY YY
 * MM M DD D, any other character a separator that matches any one non-digit) as "YYYY-MM-DD",
 * or "--MM-DD" when fmt has no year. A time after the date ("T10:00:00Z", " 09:30") is
 * dropped. fmt NULL: ISO dates (and "--MM-DD") with any time dropped. An empty value, or one
 * of zeros (Outlook's "0/0/00"), gives "". Appends to out; 0, or -1 with a message in err.
 */
int imap_convert_date(const char *v, const char *fmt, struct strbuf *out, char err[ERR_LEN]);

#endif
