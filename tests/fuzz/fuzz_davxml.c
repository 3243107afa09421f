/* Fuzzes the multistatus reader behind `sync` (a CardDAV server's answers). */
#include <stdlib.h>
#include <string.h>

#include "occasiond/davxml.h"
#include "occasiond/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct dav_multistatus ms;
	char err[ERR_LEN];
	if (davxml_parse((const char *)data, size, 1000, 65536, &ms, err) == 0) {
		for (size_t i = 0; i < ms.n; i++) {
			/* What passes goes back into a request body and into the kept state: one line. */
			if (!ms.items[i].href[0] || util_has_ctl(ms.items[i].href, NULL) ||
			    (ms.items[i].etag && util_has_ctl(ms.items[i].etag, NULL)))
				abort();
			if (ms.items[i].data && strlen(ms.items[i].data) > ms.items[i].data_len)
				abort();
		}
		if (ms.sync_token && util_has_ctl(ms.sync_token, NULL))
			abort();
		davxml_free(&ms);
	} else if (ms.n || ms.items || ms.sync_token || !err[0]) {
		abort();   /* a failure leaves nothing behind and says why */
	}
	return 0;
}
