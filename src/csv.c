/*
 * csv: an RFC 4180 reader that streams its input through a 64 KB buffer, so a file of any
 * size needs only the memory of its largest record. Lenient where RFC 4180 is strict but
 * harmless (LF alone ends a record, a final record may lack its line end), strict where a
 * mistake would silently shift data between columns (stray quotes, a bare CR).
 */
#include "occasiond/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_BUF_SIZE 65536
#define CSV_RAW_SIZE 16384   /* undecoded bytes, when the file is not UTF-8 */
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

	int delim;              /* ',', ';' or '\t' */
	const char *encoding;   /* the canonical name of the file's encoding */
	char note[ERR_LEN];     /* what was detected and how, or "" */
	iconv_t cd;             /* (iconv_t)-1 when the file is read as UTF-8 */
	char *raw;              /* undecoded input for cd */
	size_t rawlen;
	int raweof;
	int conv_errno;         /* EILSEQ or EINVAL once decoding failed */
};

static struct csv_reader *reader_new(const char *name)
{
	struct csv_reader *r = xcalloc(1, sizeof *r);
	r->name = xstrdup(name ? name : "(memory)");
	r->fd = -1;
	r->line = 1;
	r->delim = ',';
	r->encoding = "UTF-8";
	r->cd = (iconv_t)-1;
	return r;
}

/* rd_read: read() into p, retried on EINTR. */
static ssize_t rd_read(int fd, char *p, size_t n)
{
	ssize_t got;
	do
		got = read(fd, p, n);
	while (got < 0 && errno == EINTR);
	return got;
}

/* rd_decode: fills buf[len..cap) from raw through iconv. >0 bytes added, 0 at the end, -1 on error. */
static int rd_decode(struct csv_reader *r)
{
	for (;;) {
		char *in = r->raw, *out = r->buf + r->len;
		size_t inleft = r->rawlen, outleft = r->cap - r->len, rc;
		if (inleft) {
			rc = iconv(r->cd, &in, &inleft, &out, &outleft);
			memmove(r->raw, in, inleft);
			r->rawlen = inleft;
			if (out != r->buf + r->len) {
				r->len = (size_t)(out - r->buf);
				return 1;
			}
			if (rc == (size_t)-1 && errno == EILSEQ) {
				r->conv_errno = EILSEQ;
				r->eof = 1;
				return -1;
			}
		}
		if (r->raweof) {
			if (r->rawlen) {
				/* The file ends inside a character (half of a UTF-16 pair, say). */
				r->conv_errno = EINVAL;
				r->eof = 1;
				return -1;
			}
			r->eof = 1;
			return 0;
		}
		{
			ssize_t n = rd_read(r->fd, r->raw + r->rawlen, CSV_RAW_SIZE - r->rawlen);
			if (n < 0) {
				r->io_errno = errno;
				r->eof = 1;
				return -1;
			}
			if (n == 0)
				r->raweof = 1;
			r->rawlen += (size_t)n;
		}
	}
}

/*
 * rd_fill: appends to buf what the file gives next (decoded), after moving the unread rest to
 * the front. >0 bytes added, 0 at EOF, -1 on error. rd_getc calls it only when all is read,
 * so the byte just read stays in place for rd_unget.
 */
static int rd_fill(struct csv_reader *r)
{
	ssize_t n;
	if (r->fd < 0 || r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == r->cap)
		return 1;
	if (r->cd != (iconv_t)-1)
		return rd_decode(r);
	n = rd_read(r->fd, r->buf + r->len, r->cap - r->len);
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

/* The encodings a user may name, with iconv's name for each. */
static const struct enc {
	const char *name;      /* canonical, as shown */
	const char *iconv;
	const char *aliases;   /* space separated, compared without case */
} encodings[] = {
	{"UTF-8", "UTF-8", "utf-8 utf8"},
	{"UTF-16LE", "UTF-16LE", "utf-16 utf16 utf-16le unicode"},
	{"UTF-16BE", "UTF-16BE", "utf-16be"},
	{"windows-1252", "WINDOWS-1252", "windows-1252 cp1252 win1252 ansi"},
	{"ISO-8859-1", "ISO-8859-1", "iso-8859-1 iso8859-1 latin1 latin-1"},
	{"ISO-8859-15", "ISO-8859-15", "iso-8859-15 iso8859-15 latin9 latin-9"},
};

static const struct enc *enc_find(const char *name)
{
	for (size_t i = 0; i < sizeof encodings / sizeof *encodings; i++) {
		const char *a = encodings[i].aliases;
		size_t n = strlen(name);
		while (*a) {
			size_t k = strcspn(a, " ");
			if (k == n && strncasecmp(a, name, n) == 0)
				return &encodings[i];
			a += k;
			a += *a == ' ';
		}
	}
	return NULL;
}

/* peek_raw: reads up to n bytes of the file's start into the buffer (undecoded). */
static int peek_raw(struct csv_reader *r, size_t n)
{
	while (r->len < n && !r->eof) {
		ssize_t got = rd_read(r->fd, r->buf + r->len, n - r->len);
		if (got < 0) {
			r->io_errno = errno;
			return -1;
		}
		if (got == 0)
			r->eof = 1;
		r->len += (size_t)got;
	}
	return 0;
}

/* set_decoder: decodes the rest of the file (the bytes in buf first) from e. */
static int set_decoder(struct csv_reader *r, const struct enc *e, char err[ERR_LEN])
{
	r->encoding = e->name;
	if (strcmp(e->name, "UTF-8") == 0)
		return 0;
	r->cd = iconv_open("UTF-8", e->iconv);
	if (r->cd == (iconv_t)-1)
		return err_set(err, "%s: cannot read %s: %s", r->name, e->name, strerror(errno));
	r->raw = xmalloc(CSV_RAW_SIZE > CSV_BUF_SIZE ? CSV_RAW_SIZE : CSV_BUF_SIZE);
	/* What was peeked becomes raw input (the peek reads at most CSV_RAW_SIZE). */
	memcpy(r->raw, r->buf + r->pos, r->len - r->pos);
	r->rawlen = r->len - r->pos;
	r->raweof = r->eof;
	r->eof = 0;
	r->pos = r->len = 0;
	return 0;
}

/* detect_delimiter: the one of , ; TAB that the first line holds most often outside quotes (ties: comma). */
static void detect_delimiter(struct csv_reader *r)
{
	size_t count[3] = {0, 0, 0}, i;
	int quoted = 0;
	while (!r->eof && !memchr(r->buf + r->pos, '\n', r->len - r->pos) && r->len < r->cap)
		if (rd_fill(r) <= 0)
			break;
	for (i = r->pos; i < r->len; i++) {
		char c = r->buf[i];
		if (c == '"')
			quoted = !quoted;
		else if (!quoted && c == '\n')
			break;
		else if (!quoted)
			count[0] += c == ',', count[1] += c == ';', count[2] += c == '\t';
	}
	if (count[1] > count[0] && count[1] >= count[2])
		r->delim = ';';
	else if (count[2] > count[0] && count[2] > count[1])
		r->delim = '\t';
}

int csv_open_opts(const char *path, const struct csv_opts *o, struct csv_reader **out, char err[ERR_LEN])
{
	static const struct csv_opts none = {0, NULL};
	const struct enc *want = NULL, *e = NULL;
	struct csv_reader *r;
	struct stat st;
	int fd;

	*out = NULL;
	if (!o)
		o = &none;
	if (o->encoding && !(want = enc_find(o->encoding)))
		return err_set(err, "unknown encoding '%.64s' (UTF-8, UTF-16, windows-1252, ISO-8859-1, ISO-8859-15)",
		               o->encoding);
	if (o->delimiter && o->delimiter != ',' && o->delimiter != ';' && o->delimiter != '\t' && o->delimiter != '|')
		return err_set(err, "the delimiter is a comma, semicolon, tab or |");
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
	if (peek_raw(r, CSV_RAW_SIZE) < 0) {
		err_set(err, "cannot read %s: %s", path, strerror(r->io_errno));
		goto fail;
	}
	/*
	 * A byte-order mark says what the file is, whatever was named: a preset names the encoding
	 * of a system's export without one (Outlook's desktop export), and its web export has one.
	 */
	if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
		e = &encodings[0], r->pos = 3;
	else if (r->len >= 2 && memcmp(r->buf, "\xFF\xFE", 2) == 0)
		e = &encodings[1], r->pos = 2;
	else if (r->len >= 2 && memcmp(r->buf, "\xFE\xFF", 2) == 0)
		e = &encodings[2], r->pos = 2;
	if (!e)
		e = want ? want : &encodings[0];
	if (set_decoder(r, e, err) < 0)
		goto fail;
	r->delim = o->delimiter;
	if (!r->delim) {
		r->delim = ',';
		detect_delimiter(r);
		if (r->delim != ',' && !r->note[0])
			snprintf(r->note, sizeof r->note, "%s: note: the columns are separated by %s", path,
			         r->delim == ';' ? "semicolons" : "tabs");
	}
	*out = r;
	return 0;
fail:
	csv_close(r);
	return -1;
}

int csv_open(const char *path, struct csv_reader **out, char err[ERR_LEN])
{
	struct csv_opts o = {',', "UTF-8"};
	return csv_open_opts(path, &o, out, err);
}

const char *csv_note(const struct csv_reader *r)
{
	return r->note[0] ? r->note : NULL;
}

const char *csv_encoding(const struct csv_reader *r)
{
	return r->encoding;
}

int csv_delimiter(const struct csv_reader *r)
{
	return r->delim;
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
	if (r->cd != (iconv_t)-1)
		iconv_close(r->cd);
	free(r->raw);
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
	if (c == CSV_IOERR && r->conv_errno)
		return err_set(err, "%s:%ld: error: %s", r->name, r->line,
		               r->conv_errno == EILSEQ ? "a byte that is not a character of the file's encoding"
		                                       : "the file ends inside a character");
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
	if (c == r->delim)
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

/* read_plain: an unquoted field, a run of bytes at a time; returns the byte that ends it. */
static int read_plain(struct csv_reader *r, size_t nf, long field_line)
{
	const unsigned char delim = (unsigned char)r->delim;
	for (;;) {
		size_t start = r->pos, i = start;
		const unsigned char *b = (const unsigned char *)r->buf;
		while (i < r->len && b[i] != delim && b[i] != '\n' && b[i] != '\r' && b[i] != '"')
			i++;
		if (i > start && r->late == LATE_NONE) {
			if (r->data.len - r->offs[nf] + (i - start) > CSV_MAX_FIELD)
				late_error(r, LATE_FIELD_TOO_LONG, field_line);
			else
				sb_addn(&r->data, r->buf + start, i - start);
		}
		r->pos = i;
		if (i < r->len)
			return (unsigned char)r->buf[r->pos++];
		{
			int c = rd_getc(r);
			if (c < 0)
				return c;
			rd_unget(r);
		}
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
			if (c >= 0)
				rd_unget(r);
			c = read_plain(r, nf, field_line);
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
