/* Fuzzes the CSV reader and the stakeholder/event row validation behind `import`. */
#include <stdlib.h>
#include <string.h>

#include "occasiond/csv.h"
#include "occasiond/model.h"
#include "occasiond/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct csv_reader *r = csv_open_mem((const char *)data, size, "fuzz.csv");
	struct csv_record rec;
	char err[ERR_LEN];
	char **header = NULL;
	size_t nheader = 0;
	int rc, events = size > 0 && (data[0] & 1);

	while ((rc = csv_next(r, &rec, err)) == 1) {
		if (!header) {
			header = xcalloc(rec.n ? rec.n : 1, sizeof *header);
			for (size_t i = 0; i < rec.n; i++)
				header[i] = xstrdup(rec.fields[i]);
			nheader = rec.n;
			if (model_check_header(header, nheader, events, err) != 0)
				break;
			continue;
		}
		if (events) {
			struct event ev = {0};
			if (model_event_from_row(header, nheader, rec.fields, rec.lens, rec.n, &ev, err) == 0 &&
			    (strchr(ev.kind, '/') || strchr(ev.stakeholder_id, '\n')))
				abort();
			event_clear(&ev);
		} else {
			struct stakeholder sh;
			memset(&sh, 0, sizeof sh);
			if (model_stakeholder_from_row(header, nheader, rec.fields, rec.lens, rec.n, &sh, err) == 0) {
				/* What passes validation must be safe for headers and paths. */
				if (strpbrk(sh.f[SH_ID], "/\r\n") || strpbrk(sh.f[SH_EMAIL], "\r\n<>,") ||
				    strpbrk(sh.f[SH_FIRST_NAME], "\r\n"))
					abort();
			}
			stakeholder_clear(&sh);
		}
	}
	if (rc < 0 && strchr(err, '\n'))
		abort();
	for (size_t i = 0; i < nheader; i++)
		free(header[i]);
	free(header);
	csv_close(r);
	return 0;
}
