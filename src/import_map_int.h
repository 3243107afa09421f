/*
 * import_map internals shared by import_map.c (loading a map file into a struct imap, and
 * what matches a name to ours) and import_map_row.c (binding a map to a header and mapping
 * each row). The dependency runs one way: import_map_row.c uses import_map.c's internals,
 * never the reverse. Not a public header; only import_map*.c include it.
 */
#ifndef OCCASIOND_IMPORT_MAP_INT_H
#define OCCASIOND_IMPORT_MAP_INT_H

#include <stddef.h>

#include "occasiond/import_map.h"
#include "occasiond/util.h"

/* How a target gets its value. */
enum tkind { TK_COLUMN, TK_TEMPLATE, TK_FROM_EMAIL, TK_DEFAULT, TK_KEEP };

/* One column of ours the map fills, and how. */
struct target {
	char *field;            /* our column (standard or custom) */
	enum tkind kind;
	char *column;           /* TK_COLUMN, TK_KEEP: the source column's name */
	char **alts;            /* TK_COLUMN: other names it may go by (a list in the map: the first present) */
	size_t nalts;
	size_t col;             /* its index once bound */
	char *tmpl;             /* TK_TEMPLATE, its names encoded (imap_name_encode) */
	char *tmpl_src;         /* as the map writes it */
	char *format;           /* a date format, or NULL */
	int is_date;            /* a date column (standard, or given a format) */
	char **vfrom, **vto;    /* the value table ("*": any other non-empty value) */
	size_t nvalues;
	char *split;            /* a list separator: the first item is taken */
	char *def;              /* the default when the value is empty */
	char *where;            /* "FILE:LINE:COL" of its map entry, for messages */
	struct strbuf val;      /* this row's value, when it is not the source's own */
};

/* A map: loaded (import_map.c), then bound to a header and applied to rows (import_map_row.c). */
struct imap {
	int identity;           /* no map file: the header is our names */
	int delimiter;
	char *encoding;
	struct target *t;
	size_t nt;
	int keep_all;
	int missing_skip;       /* missing: skip (presets): a mapped column the file lacks is left out */
	char **keep;            /* before binding: names in keep: */
	size_t nkeep;
	char *path;

	/* Bound */
	char **src;             /* the source header */
	size_t nsrc;
	int *used;              /* per source column: target index + 1 of its first use, or 0 */
	char **names;           /* our header, one per target */
	char **vals;
	size_t *lens;
	char *const *row;       /* the last source row */
	size_t rown;
	long email_target;      /* index of the target that gives email, or -1 */
};

/* imap_target_free: frees what t holds (not t itself, which lives in its map's array). */
void imap_target_free(struct target *t);
/* imap_target_add: a new zeroed target for our column field at the end of m's; owned by m. */
struct target *imap_target_add(struct imap *m, const char *field);
/* imap_target_find: m's target for our column field, or NULL. */
struct target *imap_target_find(struct imap *m, const char *field);
/*
 * imap_our_name: the standard column a header h means (its index in sh_field_names into
 * *field): exact (1), the same once case, spaces and punctuation go (2), one typo away (3,
 * *near set to our name), or none (0).
 */
int imap_our_name(const char *h, int *field, const char **near);
/*
 * imap_name_encode: appends the n bytes of s to out with ' ' as 0x01 and '.' as 0x02, so a
 * source column's name is one Mustache name (used in a map's templates and the row's context).
 */
void imap_name_encode(const char *s, size_t n, struct strbuf *out);

#endif
