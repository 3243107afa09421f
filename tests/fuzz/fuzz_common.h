/*
 * Shared by the libFuzzer harnesses: the loaders take file paths, so the input is put in an
 * anonymous memory file and handed over as /proc/self/fd/N (no disk traffic, no clean-up).
 */
#ifndef OCCASIOND_FUZZ_COMMON_H
#define OCCASIOND_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int fuzz_memfile(const unsigned char *data, size_t size, char *path, size_t pathsz)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		abort();
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	snprintf(path, pathsz, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
