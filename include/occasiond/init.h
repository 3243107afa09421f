/*
 * init: `occasiond init DIR` (CONTRACT §2): a working site of one's own, so that
 * `occasiond -c DIR/occasiond.yaml check` passes at once and `run --once --dry-run` runs.
 */
#ifndef OCCASIOND_INIT_H
#define OCCASIOND_INIT_H

#include <stdio.h>

#include "occasiond/util.h"

/*
 * init_find_datadir: the directory that holds the shipped templates/ and fonts/:
 * $OCCASIOND_DATADIR when set, else share/occasiond next to the running binary (an installed
 * copy), else the source tree the binary was built in (build/occasiond, build/san/occasiond),
 * else the data directory compiled in. Returns a malloc'd path the caller frees, or NULL with err set.
 */
char *init_find_datadir(char err[ERR_LEN]);

/*
 * init_site: writes into dir (created when missing; it may exist, even hold other files):
 * occasiond.yaml (every key explained, the optional ones commented out; paths relative to
 * dir: var/occasiond.db, var/spool, templates; fonts from datadir), occasions.yaml (starter
 * rules on the shipped templates), templates/ (a copy of datadir's templates, partials and
 * images, to edit) and an empty var/. zone is the config's timezone (NULL: the machine's,
 * else UTC). Refuses, writing nothing, when any of occasiond.yaml, occasions.yaml,
 * templates or var exists in dir. What was written is listed on out (NULL: silent).
 * 0, or -1 with err set (then nothing of it is left behind).
 */
int init_site(const char *dir, const char *datadir, const char *zone, FILE *out, char err[ERR_LEN]);

#endif
