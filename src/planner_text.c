/*
 * planner_text: what the plan keeps of each stakeholder planned for beyond its number (owner,
 * zone, flags, id, display name), written once as it is added and read when an item is read
 * out. A range plan over a million stakeholders keeps tens of megabytes of it, read once per
 * item printed: past the first chunk it goes to a temporary file and is read back with
 * pread(2), so `plan` and `report` stay in bounded memory (the first `keep` bytes stay in
 * memory: reading them back costs nothing). A pass (due mode) keeps its few in memory: the
 * items it hands out point into them for as long as the planner lives.
 */
#include "planner_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXT_CHUNK (1u << 20)   /* written to the file this much at a time */
#define TEXT_READ 1024          /* a read: a record, and those after it (items of a group ascend) */
#define TEXT_MAX 0x7fffffffu    /* offsets are 31 bits (RF_DAYS is the 32nd) */

/*
 * A record: varints of its length, owner and zone, a byte of flags, then the id and the
 * display name, each NUL-ended. The first `keep` bytes stay in memory (head); past them,
 * records collect in a chunk (tail) that goes to the file when full.
 */
struct ptext {
	unsigned char *head;    /* bytes [0, nhead) */
	size_t nhead, caphead, keep;
	unsigned char *buf;     /* bytes [base, base + len) */
	size_t len, cap;
	uint64_t base;          /* nhead + what the file holds */
	FILE *fp;               /* bytes [nhead, base), when spilling */
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

struct ptext *planner_text_new(int spill, size_t keep)
{
	struct ptext *t = xcalloc(1, sizeof *t);
	t->spill = spill;
	t->keep = spill ? keep : SIZE_MAX;
	return t;
}

void planner_text_keep(struct ptext *t, size_t keep)
{
	if (t->spill && t->nhead == 0 && t->base == 0 && t->len == 0)
		t->keep = keep;
}

void planner_text_free(struct ptext *t)
{
	if (!t)
		return;
	if (t->fp)
		fclose(t->fp);
	free(t->head);
	free(t->buf);
	free(t->rbuf);
	free(t);
}

/* flush: the chunk to the file (made on first use; without one the text stays in memory). */
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

static size_t put_varint(unsigned char *p, uint32_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* get_varint: the varint at *p (at most 5 bytes before end), *p moved past it; 0 when cut short. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint32_t *v)
{
	*v = 0;
	for (int sh = 0; sh < 35 && *p < end; sh += 7) {
		unsigned char c = *(*p)++;
		*v |= (uint32_t)(c & 0x7f) << sh;
		if (!(c & 0x80))
			return 1;
	}
	return 0;
}

/* grow: room for n more bytes in *b of length len and capacity *cap. */
static void grow(unsigned char **b, size_t len, size_t *cap, size_t n)
{
	if (len + n > *cap) {
		while (len + n > *cap)
			*cap = *cap ? 2 * *cap : 1 << 16;
		*b = xrealloc(*b, *cap);
	}
}

static size_t varint_len(size_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

uint32_t planner_text_add(struct ptext *t, uint32_t owner, uint32_t zone, uint32_t flags, const char *id,
                          const char *name)
{
	size_t lid = strlen(id) + 1, lname = strlen(name) + 1, nh, n, ll = 1;
	unsigned char hd[16], *dst;
	uint64_t off;

	/* owner, zone, flags; then the length in front, which counts itself */
	nh = put_varint(hd + 5, owner);
	nh += put_varint(hd + 5 + nh, zone);
	hd[5 + nh++] = (unsigned char)flags;
	while (varint_len(nh + lid + lname + ll) != ll)
		ll++;
	n = nh + lid + lname + ll;
	if (n > TEXT_MAX) {
		errno = EFBIG;
		fatal("a stakeholder's name too long to plan");
	}
	put_varint(hd + 5 - ll, (uint32_t)n);
	if (t->base == t->nhead && t->len == 0 && t->nhead + n <= t->keep) {
		off = t->nhead;
		grow(&t->head, t->nhead, &t->caphead, n);
		dst = t->head + t->nhead;
		t->nhead += n;
		t->base = t->nhead;
	} else {
		if (t->spill && t->len + n > TEXT_CHUNK && t->len)
			flush(t);
		off = t->base + t->len;
		grow(&t->buf, t->len, &t->cap, n);
		dst = t->buf + t->len;
		t->len += n;
	}
	if (off + n > TEXT_MAX) {
		errno = EFBIG;
		fatal("more than 2 GiB of stakeholders' names");
	}
	memcpy(dst, hd + 5 - ll, ll + nh);
	memcpy(dst + ll + nh, id, lid);
	memcpy(dst + ll + nh + lid, name, lname);
	return (uint32_t)off;
}

/* pread_all: n bytes at off into p, or fatal. */
static void pread_all(struct ptext *t, unsigned char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t k = pread(fileno(t->fp), p, n, (off_t)(off - t->nhead));   /* the file starts at nhead */
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

/* record_len: the length of the record at p (avail bytes there), 0 when it cannot be told yet. */
static size_t record_len(const unsigned char *p, size_t avail)
{
	uint32_t v;
	return get_varint(&p, p + avail, &v) ? v : 0;
}

void planner_text_get(const struct ptext *ct, uint32_t off, struct ptext_rec *r)
{
	struct ptext *t = (struct ptext *)ct;   /* the read buffer changes, the text does not */
	const unsigned char *p, *end;
	size_t n;
	if (off < t->nhead) {
		p = t->head + off;
	} else if (off >= t->base) {
		p = t->buf + (off - t->base);
	} else if (off >= t->roff && off < t->roff + t->rlen &&
	           (n = record_len(t->rbuf + (off - t->roff), t->roff + t->rlen - off)) != 0 &&
	           off + n <= t->roff + t->rlen) {
		p = t->rbuf + (off - t->roff);   /* read with the one before */
	} else {
		uint64_t avail = t->base - off;
		size_t want = avail < TEXT_READ ? (size_t)avail : TEXT_READ;
		if (t->rcap < TEXT_READ)
			t->rbuf = xrealloc(t->rbuf, t->rcap = TEXT_READ);
		pread_all(t, t->rbuf, want, off);
		t->roff = off;
		t->rlen = want;
		n = record_len(t->rbuf, want);
		if (n > want) {
			if (n > t->rcap)
				t->rbuf = xrealloc(t->rbuf, t->rcap = n);
			pread_all(t, t->rbuf + want, n - want, off + want);
			t->rlen = n;
		}
		p = t->rbuf;
	}
	end = p + 16;   /* the varints and flags are within the first 16 bytes */
	{
		uint32_t len;
		get_varint(&p, end, &len);
		get_varint(&p, end, &r->owner);
		get_varint(&p, end, &r->zone);
		r->flags = *p++;
	}
	r->id = (const char *)p;
	r->name = r->id + strlen(r->id) + 1;
}
