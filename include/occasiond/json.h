/*
 * json: a strict reader (RFC 8259) for the small JSON documents web APIs answer with, such
 * as an OAuth2 token response. It checks the whole document and picks out the top-level
 * members asked for; it builds no tree.
 */
#ifndef OCCASIOND_JSON_H
#define OCCASIOND_JSON_H

#include <stddef.h>

#include "occasiond/util.h"

/*
 * json_object_get: text[0..len) must be one JSON object (whitespace around it allowed,
 * nesting at most 64 deep, valid UTF-8, no NUL in strings). For each keys[i] (i < n),
 * vals[i] receives the top-level member's value as a malloc'd string when it is a string
 * (decoded) or a number (as written), else NULL (absent, or another type). When a key occurs
 * twice the last one counts. The caller frees each vals[i]. 0, or -1 with err giving the
 * byte offset (vals all NULL then).
 */
int json_object_get(const char *text, size_t len, const char *const *keys, size_t n, char **vals,
                    char err[ERR_LEN]);

#endif
