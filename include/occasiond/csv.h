/*
 * csv: an RFC 4180 reader. Quoted fields may hold commas, quotes ("") and line breaks;
 * records end with LF or CRLF; a UTF-8 BOM at the start is skipped. Every record carries
 * the line number it starts on.
 */
#ifndef OCCASIOND_CSV_H
#define OCCASIOND_CSV_H

#include <stddef.h>

#include "occasiond/util.h"

#define CSV_MAX_FIELD (1024 * 1024)   /* a longer field is an error */
#define CSV_MAX_FIELDS 256

struct csv_reader;
struct csv_record {
	size_t n;          /* number of fields */
	char **fields;     /* NUL-terminated; valid until the next csv_next */
	size_t *lens;      /* byte lengths (a field may hold a NUL: callers reject it) */
	long line;         /* the line the record starts on (1-based) */
};

/* csv_open: reads path as UTF-8 (a BOM skipped), comma-separated. 0 or -1 with err. */
int csv_open(const char *path, struct csv_reader **out, char err[ERR_LEN]);

struct csv_opts {
	int delimiter;          /* ',', ';', '\t' or '|'; 0: the one the first line holds most */
	const char *encoding;   /* UTF-8, UTF-16, windows-1252, ISO-8859-1, ISO-8859-15 (or an alias); NULL: detect */
};
/*
 * csv_open_opts: reads path decoded to UTF-8 through iconv. A byte-order mark (UTF-8, UTF-16
 * LE/BE) decides the encoding, else o->encoding, else UTF-8 (whose invalid bytes are the
 * caller's to find). A byte the encoding cannot hold is a csv_next error at its line. o may
 * be NULL.
 * 0 or -1 with err.
 */
int csv_open_opts(const char *path, const struct csv_opts *o, struct csv_reader **out, char err[ERR_LEN]);
/* csv_note: what was detected that the user should hear of ("FILE: note: ..."), or NULL. */
const char *csv_note(const struct csv_reader *r);
const char *csv_encoding(const struct csv_reader *r);   /* the canonical name, e.g. "windows-1252" */
int csv_delimiter(const struct csv_reader *r);
/* csv_open_mem: reads a buffer (copied). */
struct csv_reader *csv_open_mem(const char *data, size_t len, const char *name);
/*
 * csv_next: the next record. Returns 1 with rec filled, 0 at the end, -1 on a syntax error
 * ("FILE:LINE: error: ..." in err: an unterminated quote, text after a closing quote,
 * a field over CSV_MAX_FIELD, too many fields). Blank lines are skipped.
 */
int csv_next(struct csv_reader *r, struct csv_record *rec, char err[ERR_LEN]);
/* csv_name: the file name given at open. */
const char *csv_name(const struct csv_reader *r);
void csv_close(struct csv_reader *r);

#endif
