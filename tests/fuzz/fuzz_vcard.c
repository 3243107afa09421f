/* Fuzzes the vCard reader and the vCard map behind `import stakeholders FILE.vcf`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "occasiond/import_map.h"
#include "occasiond/model.h"
#include "occasiond/util.h"
#include "occasiond/vcard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* The reader takes a path: the input as a memory file. */
	int fd = memfd_create("fuzz.vcf", MFD_CLOEXEC);
	char path[64], err[ERR_LEN];
	struct vcard_reader *r = NULL;
	struct imap *m = vcard_map(NULL);
	struct diags d = {0};
	struct csv_record rec;
	size_t nh;
	char *const *h = vcard_header(&nh);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (imap_bind(m, h, nh, "fuzz.vcf", 1, &d) != 0)
		abort();   /* our own map binds to our own columns */
	if (vcard_open(path, &r, err) == 0) {
		while (vcard_next(r, &rec, err) == 1) {
			char *const *vals, *const *names;
			const size_t *lens;
			size_t n;
			struct stakeholder sh;
			memset(&sh, 0, sizeof sh);
			names = imap_header(m, &n);
			if (imap_row(m, rec.fields, rec.lens, rec.n, &vals, &lens, err) == 0 &&
			    model_stakeholder_from_row(names, n, vals, lens, n, &sh, err) == 0 &&
			    (strchr(sh.f[SH_ID], '/') || strchr(sh.f[SH_EMAIL], '\n')))
				abort();   /* what passes must be safe for headers and paths */
			stakeholder_clear(&sh);
		}
	}
	vcard_close(r);
	imap_free(m);
	diags_free(&d);
	close(fd);
	return 0;
}
