/*
 * ytree: the only libyaml user. Loads a YAML file into a small tree whose every node
 * keeps its FILE:LINE:COL, within limits (file size, nesting depth, node count) that keep
 * hostile files cheap; anchors and aliases are refused, so nothing can expand.
 */
#ifndef OCCASIOND_YTREE_H
#define OCCASIOND_YTREE_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/util.h"

#define YTREE_MAX_BYTES (4 * 1024 * 1024)
#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 200000

enum ynode_type { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ynode_type type;
	char *value;            /* Y_SCALAR: UTF-8 text */
	int plain;              /* Y_SCALAR: written without quotes (so `yes`, `12` may be typed) */
	size_t n;               /* Y_SEQ, Y_MAP: number of items */
	struct ynode **items;   /* Y_SEQ: items; Y_MAP: values */
	struct ynode **keys;    /* Y_MAP: keys (scalars) */
	const char *file;       /* owned by the root */
	long line, col;         /* 1-based */
	char *file_owned;       /* the root's copy of the file name */
};

/*
 * ytree_load_file: parses path (one document). An empty document gives an empty map.
 * Errors are "FILE:LINE:COL: error: MESSAGE". 0 or -1. Free with ytree_free.
 */
int ytree_load_file(const char *path, struct ynode **out, char err[ERR_LEN]);
/* ytree_load_mem: the same from a buffer; name is used in messages. */
int ytree_load_mem(const char *name, const char *data, size_t len, struct ynode **out, char err[ERR_LEN]);
void ytree_free(struct ynode *n);           /* NULL is fine */

/* ytree_get: the value under key in a map, or NULL (also when map is not a map). */
const struct ynode *ytree_get(const struct ynode *map, const char *key);
/* ytree_key: the key node of the value under key, or NULL. */
const struct ynode *ytree_key(const struct ynode *map, const char *key);
const char *ytree_type_name(enum ynode_type t);   /* "a scalar", "a list", "a mapping" */

/* ytree_err: formats "FILE:LINE:COL: error: MESSAGE" for node n into err; returns -1. */
int ytree_err(char err[ERR_LEN], const struct ynode *n, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* ytree_diag: the same into a diags list (warning 0 or 1). */
void ytree_diag(struct diags *d, int warning, const struct ynode *n, const char *fmt, ...) PRINTF_LIKE(4, 5);
/*
 * ytree_check_keys: every key of map must be one of allowed (NULL-terminated); each unknown
 * key is a diag "unknown key 'X' in WHAT (did you mean 'Y'?)". Duplicate keys are diags too.
 * Returns the number of problems.
 */
int ytree_check_keys(const struct ynode *map, const char *const *allowed, const char *what, struct diags *d);

/*
 * Typed getters: the one place where a YAML value becomes a string, number, duration, ...,
 * so that the same mistake reads the same in every file (config, rules, card templates).
 *
 * Each takes n as found by ytree_get (NULL when the key is absent) and what, the name the
 * message gives (usually the key). A wrong value is reported into d at n as
 * "FILE:LINE:COL: error: WHAT: expected ..., got 'VALUE'". Unless said otherwise they return
 * 0 when *out was set, 1 when n is NULL (*out untouched, so a default set before stands) and
 * -1 after reporting an error (*out untouched). Nothing they return needs freeing unless said.
 */

/*
 * ytree_scalar: the text of a single value without control characters, or NULL: when n is
 * NULL (no diag), a list or mapping ("WHAT must be a single value, not a list"), or holding a
 * control character ("WHAT holds a control character (U+000A)"). Owned by the tree.
 */
const char *ytree_scalar(const struct ynode *n, const char *what, struct diags *d);
/* ytree_text: the same for text that may run over lines: line feeds and tabs are allowed. */
const char *ytree_text(const struct ynode *n, const char *what, struct diags *d);
/*
 * ytree_strdup: a malloc'd copy (caller frees) of ytree_scalar's value, or of def when n is
 * NULL; NULL when n is NULL and def is NULL, or after a reported error.
 */
char *ytree_strdup(const struct ynode *n, const char *what, const char *def, struct diags *d);
/* ytree_long: a whole decimal number from min to max. */
int ytree_long(const struct ynode *n, const char *what, long min, long max, long *out, struct diags *d);
/* ytree_number: a finite decimal number (fractions allowed) from lo to hi. */
int ytree_number(const struct ynode *n, const char *what, double lo, double hi, double *out, struct diags *d);
/* ytree_bool: yes/no, true/false or 1/0 (any case) as 1 or 0. */
int ytree_bool(const struct ynode *n, const char *what, int *out, struct diags *d);
/* ytree_money: an amount such as 12, 12.5 or 12.50, not negative, in cents. */
int ytree_money(const struct ynode *n, const char *what, int64_t *cents, struct diags *d);
struct duration;
/* ytree_duration: a duration of CONTRACT §3 ("3 days", "2 business days", "30s"). */
int ytree_duration(const struct ynode *n, const char *what, struct duration *out, struct diags *d);
/*
 * ytree_seconds: a duration of fixed length (seconds to weeks; not months, years or business
 * days) as seconds into *secs, and as written into *dur unless dur is NULL.
 */
int ytree_seconds(const struct ynode *n, const char *what, int64_t *secs, struct duration *dur, struct diags *d);
/*
 * ytree_enum: which of names[0..count) the value is (ASCII case ignored), as its index.
 * A wrong one: "WHAT: expected A, B or C, got 'X' (did you mean 'B'?)", the suggestion when
 * a name is near enough, as for keys; expected, when not NULL, replaces the list of names.
 */
int ytree_enum(const struct ynode *n, const char *what, const char *const *names, int count,
               const char *expected, int *out, struct diags *d);
/*
 * ytree_bad_value: reports value at n as ytree_enum does, for values read by a parser of
 * their own (months also take 1-12): "WHAT: expected EXPECTED, got 'X' (did you mean 'Y'?)",
 * the suggestion taken from names[0..count); expected NULL lists the names. Returns -1.
 */
int ytree_bad_value(const struct ynode *n, const char *what, const char *value, const char *const *names,
                    int count, const char *expected, struct diags *d);
/*
 * ytree_strlist: a single value or a non-empty list of them, appended to (*v, *nv) as
 * malloc'd strings (the caller frees each and *v). With names, each must be one of
 * names[0..count) (reported as ytree_enum does) and the name is stored as the table spells
 * it. Every bad item is reported; -1 when any was, with the good ones appended.
 */
int ytree_strlist(const struct ynode *n, const char *what, const char *const *names, int count, char ***v,
                  size_t *nv, struct diags *d);
/*
 * ytree_map: n when it is a mapping (its keys checked against keys, when not NULL, as
 * ytree_check_keys does); NULL when n is NULL, or after "WHAT must be a mapping, not a list".
 */
const struct ynode *ytree_map(const struct ynode *n, const char *what, const char *const *keys, struct diags *d);

#endif
