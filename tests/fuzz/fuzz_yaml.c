/* Fuzzes the config and rules loaders (and through them ytree/libyaml): the first byte picks which. */
#include <string.h>

#include "fuzz_common.h"
#include "occasiond/config.h"
#include "occasiond/rules.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[64];
	struct diags d = {0};
	int fd;
	if (size < 1)
		return 0;
	fd = fuzz_memfile(data + 1, size - 1, path, sizeof path);
	if (data[0] & 1) {
		struct config *c = config_load(path, &d);
		config_free(c);
	} else {
		struct ruleset *rs = rules_load(path, &d);
		rules_free(rs);
	}
	/* Every diagnostic is one line: a newline in one would let data forge another. */
	for (size_t i = 0; i < d.n; i++)
		if (strchr(d.msgs[i], '\n') && !strstr(d.msgs[i], ": "))
			abort();
	diags_free(&d);
	close(fd);
	return 0;
}
