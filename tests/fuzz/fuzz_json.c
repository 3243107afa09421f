/* Fuzzes the JSON reader that token endpoints' answers go through. */
#include <stdlib.h>
#include <string.h>

#include "occasiond/json.h"
#include "occasiond/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const keys[] = {"access_token", "expires_in", "refresh_token", "error"};
	char *v[4], err[ERR_LEN];
	if (json_object_get((const char *)data, size, keys, 4, v, err) == 0)
		for (int i = 0; i < 4; i++) {
			if (v[i] && strlen(v[i]) > size)
				abort();   /* a value is never longer than the text it came from */
			free(v[i]);
		}
	return 0;
}
