/*
 * csv: an RFC 4180 reader that streams its input through a 64 KB buffer, so a file of any
 * size needs only the memory of its largest record. Lenient where RFC 4180 is strict but
 * harmless (LF alone ends a record, a final record may lack its line end), strict where a
 * mistake would silently shift data between columns (stray quotes, a bare CR).
 */
#include "occasiond/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_BUF_SIZE 65536
#define CSV_EOF (-1)
#define CSV_IOERR (-2)

/* Errors found while a record is still parsed to its end (so that reading can resume). */
enum csv_late_error { LATE_NONE, LATE_FIELD_TOO_LONG, LATE_TOO_MANY_FIELDS };

struct csv_reader {
	char *name;
	int fd;                 /* -1 for a memory reader */
	char *buf;              /* the read buffer, or the whole data of a memory reader */
	size_t len, pos;        /* bytes in buf, next byte to read */
	size_t cap;
	int eof;                /* nothing more to read beyond buf */
	int io_errno;           /* errno of a failed read, else 0 */
	long line;              /* line of the next byte (1-based) */
	int resync;             /* after a syntax error: skip to the next line first */

	struct strbuf data;     /* the current record's fields, each NUL-terminated */
	size_t *offs;           /* field start offsets into data */
	char **fields;
	size_t *lens;
	size_t nalloc;          /* slots in offs, fields, lens */

	enum csv_late_error late;
	long late_line;
};

static struct csv_reader *reader_new(const char *name)
{
	struct csv_reader *r = xcalloc(1, sizeof *r);
	r->name = xstrdup(name ? name : "(memory)");
	r->fd = -1;
	r->line = 1;
	return r;
}

/* rd_fill: appends what read() gives to buf (compacting first). >0 bytes added, 0 at EOF, -1 on error. */
static int rd_fill(struct csv_reader *r)
{
	ssize_t n;
	if (r->fd < 0 || r->eof)
		return 0;
	if (r->pos == r->len)
		r->pos = r->len = 0;
	for (;;) {
		n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0) {
		r->io_errno = errno;
		r->eof = 1;
		return -1;
	}
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	r->len += (size_t)n;
	return 1;
}

static inline int rd_getc(struct csv_reader *r)
{
	if (r->pos == r->len) {
		int rc = rd_fill(r);
		if (rc <= 0)
			return rc < 0 ? CSV_IOERR : CSV_EOF;
	}
	return (unsigned char)r->buf[r->pos++];
}

/* rd_unget: gives back the byte just read (it is still in buf: a refill only happens when all is read). */
static inline void rd_unget(struct csv_reader *r)
{
	r->pos--;
}

static void skip_bom(struct csv_reader *r)
{
	while (r->len - r->pos < 3 && rd_fill(r) > 0)
		;
	if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
		r->pos += 3;
}

int csv_open(const char *path, struct csv_reader **out, char err[ERR_LEN])
{
	struct csv_reader *r;
	struct stat st;
	int fd;
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		err_set(err, "cannot read %s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
		close(fd);
		return -1;
	}
	r = reader_new(path);
	r->fd = fd;
	r->cap = CSV_BUF_SIZE;
	r->buf = xmalloc(r->cap);
	skip_bom(r);
	*out = r;
	return 0;
}

struct csv_reader *csv_open_mem(const char *data, size_t len, const char *name)
{
	struct csv_reader *r = reader_new(name);
	r->buf = xmalloc(len ? len : 1);
	if (len)
		memcpy(r->buf, data, len);
	r->len = r->cap = len;
	r->eof = 1;
	skip_bom(r);
	return r;
}

const char *csv_name(const struct csv_reader *r)
{
	return r->name;
}

void csv_close(struct csv_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->name);
	free(r->buf);
	sb_free(&r->data);
	free(r->offs);
	free(r->fields);
	free(r->lens);
	free(r);
}

/* Record building. Once a late error is noted, bytes are dropped but parsing goes on. */

static void late_error(struct csv_reader *r, enum csv_late_error e, long line)
{
	if (r->late == LATE_NONE) {
		r->late = e;
		r->late_line = line;
	}
}

static void field_begin(struct csv_reader *r, size_t nfields, long line)
{
	if (nfields >= CSV_MAX_FIELDS) {
		late_error(r, LATE_TOO_MANY_FIELDS, line);
		return;
	}
	if (nfields >= r->nalloc) {
		size_t n = r->nalloc ? r->nalloc * 2 : 16;
		if (n > CSV_MAX_FIELDS)
			n = CSV_MAX_FIELDS;
		r->offs = xreallocarray(r->offs, n, sizeof *r->offs);
		r->fields = xreallocarray(r->fields, n, sizeof *r->fields);
		r->lens = xreallocarray(r->lens, n, sizeof *r->lens);
		r->nalloc = n;
	}
	r->offs[nfields] = r->data.len;
}

static inline void field_put(struct csv_reader *r, size_t nfields, int c, long field_line)
{
	if (r->late != LATE_NONE)
		return;
	if (r->data.len - r->offs[nfields] >= CSV_MAX_FIELD) {
		late_error(r, LATE_FIELD_TOO_LONG, field_line);
		return;
	}
	sb_addc(&r->data, (char)c);
}

static void field_end(struct csv_reader *r, size_t nfields)
{
	if (r->late != LATE_NONE)
		return;
	r->lens[nfields] = r->data.len - r->offs[nfields];
	sb_addc(&r->data, '\0');
}

/* syntax_error: reports at line and makes the next call start on the next line. */
static int syntax_error(struct csv_reader *r, long line, int c, const char *msg, char err[ERR_LEN])
{
	if (c == CSV_IOERR)
		return err_set(err, "%s:%ld: error: cannot read: %s", r->name, line, strerror(r->io_errno));
	r->resync = (c != '\n' && c != CSV_EOF);
	return err_set(err, "%s:%ld: error: %s", r->name, line, msg);
}

/*
 * eat_line_end: c is a byte just read after a field. 1 when it ends the record (LF, CRLF
 * or the end of input), 0 for a comma, -1 (err set) otherwise.
 */
static int eat_line_end(struct csv_reader *r, int c, const char *what, char err[ERR_LEN])
{
	if (c == ',')
		return 0;
	if (c == CSV_EOF)
		return 1;
	if (c == '\n') {
		r->line++;
		return 1;
	}
	if (c == '\r') {
		c = rd_getc(r);
		if (c == '\n') {
			r->line++;
			return 1;
		}
		if (c >= 0)
			rd_unget(r);
		return syntax_error(r, r->line, c, "carriage return not followed by a line feed", err);
	}
	if (c == CSV_IOERR)
		return syntax_error(r, r->line, c, "", err);
	return syntax_error(r, r->line, c, what, err);
}

/* skip_blank: skips empty lines (and, after a syntax error, the rest of the bad line). 1 when a record follows, 0 at EOF. */
static int skip_blank(struct csv_reader *r, char err[ERR_LEN])
{
	int c;
	if (r->resync) {
		r->resync = 0;
		while ((c = rd_getc(r)) >= 0 && c != '\n')
			;
		if (c == CSV_IOERR)
			return syntax_error(r, r->line, c, "", err);
		if (c == '\n')
			r->line++;
	}
	for (;;) {
		c = rd_getc(r);
		if (c == CSV_EOF)
			return 0;
		if (c == CSV_IOERR)
			return syntax_error(r, r->line, c, "", err);
		if (c == '\n') {
			r->line++;
			continue;
		}
		if (c == '\r') {
			int c2 = rd_getc(r);
			if (c2 == '\n') {
				r->line++;
				continue;
			}
			if (c2 >= 0)
				rd_unget(r);
			return syntax_error(r, r->line, c2, "carriage return not followed by a line feed", err);
		}
		rd_unget(r);
		return 1;
	}
}

/* read_quoted: after the opening quote; *next is the byte after the closing quote. 0, or -1 with err. */
static int read_quoted(struct csv_reader *r, size_t nf, int *next, char err[ERR_LEN])
{
	long open_line = r->line;
	int c;
	for (;;) {
		c = rd_getc(r);
		if (c < 0)
			return syntax_error(r, open_line, c, "unterminated quoted field (the quote opens here)", err);
		if (c == '"') {
			c = rd_getc(r);
			if (c != '"') {
				*next = c;
				return 0;
			}
		} else if (c == '\n') {
			r->line++;
		}
		field_put(r, nf, c, open_line);
	}
}

int csv_next(struct csv_reader *r, struct csv_record *rec, char err[ERR_LEN])
{
	size_t nf = 0;
	long start;
	int c, rc;

	memset(rec, 0, sizeof *rec);
	rc = skip_blank(r, err);
	if (rc <= 0)
		return rc;
	start = r->line;
	sb_reset(&r->data);
	r->late = LATE_NONE;
	for (;;) {
		long field_line = r->line;
		field_begin(r, nf, start);
		c = rd_getc(r);
		if (c == '"') {
			if (read_quoted(r, nf, &c, err) < 0)
				return -1;
			rc = eat_line_end(r, c, "text after a closing quote (a quote inside a quoted field is written \"\")", err);
		} else {
			while (c >= 0 && c != ',' && c != '\n' && c != '\r' && c != '"') {
				field_put(r, nf, c, field_line);
				c = rd_getc(r);
			}
			rc = eat_line_end(r, c, "quote inside an unquoted field (quote the whole field and write \"\" for the quote)", err);
		}
		if (rc < 0)
			return -1;
		field_end(r, nf);
		nf++;
		if (rc == 1)
			break;
	}
	if (r->late == LATE_FIELD_TOO_LONG)
		return err_set(err, "%s:%ld: error: field longer than %d bytes", r->name, r->late_line, CSV_MAX_FIELD);
	if (r->late == LATE_TOO_MANY_FIELDS)
		return err_set(err, "%s:%ld: error: more than %d fields", r->name, r->late_line, CSV_MAX_FIELDS);
	for (size_t i = 0; i < nf; i++)
		r->fields[i] = r->data.s + r->offs[i];
	rec->n = nf;
	rec->fields = r->fields;
	rec->lens = r->lens;
	rec->line = start;
	return 1;
}
