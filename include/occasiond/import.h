/*
 * import: stakeholders and events from CSV into the store, all or nothing: every row is
 * validated first; one bad row means nothing is written, unless skip_invalid.
 */
#ifndef OCCASIOND_IMPORT_H
#define OCCASIOND_IMPORT_H

#include <stddef.h>

#include "occasiond/store.h"
#include "occasiond/util.h"

struct import_stats {
	size_t rows;       /* data rows read */
	size_t written;    /* rows inserted or updated */
	size_t invalid;    /* rows reported */
};

/*
 * import_csv: reads path (stakeholders, or events when events is 1), reports each bad row in
 * d as "FILE:LINE: error: MESSAGE", then writes in one transaction. Returns 0 when it wrote
 * (with skip_invalid, even if some rows were bad), -1 when nothing was written.
 */
int import_csv(struct store *st, const char *path, int events, int skip_invalid, struct import_stats *stats,
               struct diags *d);

#endif
