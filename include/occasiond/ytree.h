/*
 * ytree: the only libyaml user. Loads a YAML file into a small tree whose every node
 * keeps its FILE:LINE:COL, within limits (file size, nesting depth, node count) that keep
 * hostile files cheap; anchors and aliases are refused, so nothing can expand.
 */
#ifndef OCCASIOND_YTREE_H
#define OCCASIOND_YTREE_H

#include <stddef.h>

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

#endif
