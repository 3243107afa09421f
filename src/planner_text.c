/*
 * planner_text: what the plan keeps of each stakeholder planned for beyond its number (owner,
 * zone, flags, id, display name), written once as it is added and read when an item is read
 * out. A range plan over a million stakeholders keeps tens of megabytes of it, read once per
 * item printed: past the first chunk it goes to a temporary file and is read back with
 * pread(2), so `plan` and `report` stay in bounded memory. A pass (due mode) keeps its few in
 * memory: the items it hands out point into them for as long as the planner lives.
 */
#include "planner_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXT_CHUNK (1u << 20)   /* kept in memory; a plan of up to ~25,000 stakeholders never spills */
#define TEXT_READ 1024          /* a read: a record, and those after it (items of a group ascend) */
#define TEXT_MAX 0x7fffffffu    /* offsets are 31 bits (RF_DAYS is the 32nd) */

struct ptext {
	unsigned char *buf;     /* bytes [base, base + len) */
	size_t len, cap;
	uint64_t base;
	FILE *fp;               /* the bytes before base, when spilling */
	int spill;              /* may spill (range mode) */
	unsigned char *rbuf;    /* what was read back from the file: [roff, roff + rlen) */
	size_t rcap, rlen;
	uint64_t roff;
};

static void fatal(const char *what)
{
	/* Like running out of memory: a plan cannot go on without its stakeholders' names. */
	fprintf(stderr, "occasiond: plan: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct ptext *planner_text_new(int spill)
{
	struct ptext *t = xcalloc(1, sizeof *t);
	t->spill = spill;
	return t;
}

void planner_text_free(struct ptext *t)
{
	if (!t)
		return;
	if (t->fp)
		fclose(t->fp);
	free(t->buf);
	free(t->rbuf);
	free(t);
}

/* flush: the chunk in memory to the file (made on first use; without one the text stays in memory). */
static void flush(struct ptext *t)
{
	if (!t->fp) {
		if (!(t->fp = tmpfile())) {
			t->spill = 0;   /* no temporary directory: memory, as a pass does */
			return;
		}
	}
	if (fwrite(t->buf, 1, t->len, t->fp) != t->len || fflush(t->fp) != 0)
		fatal("cannot write its temporary file");
	t->base += t->len;
	t->len = 0;
}

uint32_t planner_text_add(struct ptext *t, uint32_t owner, uint32_t zone, uint32_t flags, const char *id,
                          const char *name)
{
	size_t lid = strlen(id) + 1, lname = strlen(name) + 1, n = 16 + lid + lname;
	uint32_t head[4] = {(uint32_t)n, owner, zone, flags};
	uint64_t off;
	if (t->spill && t->len + n > TEXT_CHUNK && t->len)
		flush(t);
	off = t->base + t->len;
	if (off + n > TEXT_MAX) {
		errno = EFBIG;
		fatal("more than 2 GiB of stakeholders' names");
	}
	if (t->len + n > t->cap) {
		while (t->len + n > t->cap)
			t->cap = t->cap ? 2 * t->cap : 1 << 16;
		t->buf = xrealloc(t->buf, t->cap);
	}
	memcpy(t->buf + t->len, head, sizeof head);
	memcpy(t->buf + t->len + 16, id, lid);
	memcpy(t->buf + t->len + 16 + lid, name, lname);
	t->len += n;
	return (uint32_t)off;
}

/* pread_all: n bytes at off into p, or fatal. */
static void pread_all(struct ptext *t, unsigned char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t k = pread(fileno(t->fp), p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			fatal("cannot read its temporary file");
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
}

void planner_text_get(const struct ptext *ct, uint32_t off, struct ptext_rec *r)
{
	struct ptext *t = (struct ptext *)ct;   /* the read buffer changes, the text does not */
	const unsigned char *p;
	uint32_t head[4];
	if (off >= t->base) {
		p = t->buf + (off - t->base);
	} else if (off >= t->roff && off + 16 <= t->roff + t->rlen &&
	           (memcpy(head, t->rbuf + (off - t->roff), sizeof head), off + head[0] <= t->roff + t->rlen)) {
		p = t->rbuf + (off - t->roff);   /* read with the one before */
	} else {
		uint64_t avail = t->base - off;
		size_t want = avail < TEXT_READ ? (size_t)avail : TEXT_READ;
		if (t->rcap < TEXT_READ) {
			t->rcap = TEXT_READ;
			t->rbuf = xrealloc(t->rbuf, t->rcap);
		}
		pread_all(t, t->rbuf, want, off);
		t->roff = off;
		t->rlen = want;
		memcpy(head, t->rbuf, sizeof head);
		if (head[0] > want) {
			if (head[0] > t->rcap) {
				t->rcap = head[0];
				t->rbuf = xrealloc(t->rbuf, t->rcap);
			}
			pread_all(t, t->rbuf + want, head[0] - want, off + want);
			t->rlen = head[0];
		}
		p = t->rbuf;
	}
	memcpy(head, p, sizeof head);
	r->owner = head[1];
	r->zone = head[2];
	r->flags = head[3];
	r->id = (const char *)p + 16;
	r->name = r->id + strlen(r->id) + 1;
}
