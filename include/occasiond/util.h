/*
 * util: allocation that cannot fail, a growable string buffer, bounded
 * string helpers, JSON string escaping, safe file names and atomic files.
 */
#ifndef OCCASIOND_UTIL_H
#define OCCASIOND_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ERR_LEN 512

#ifndef OCCASIOND_VERSION
#define OCCASIOND_VERSION "0.1.0"
#endif

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

/* Allocation: on failure these print to stderr and exit(70); they never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: grows an array of nmemb elements of size bytes, checking overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);           /* xstrdup(NULL) returns NULL */
char *xstrndup(const char *s, size_t n);
/* xasprintf: a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* err_set: formats a message into err (ERR_LEN bytes); err may be NULL. Returns -1. */
int err_set(char *err, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* strbuf: a NUL-terminated growable buffer. Zero-initialise, or sb_init. */
struct strbuf {
	char *s;
	size_t len;
	size_t cap;
};
void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);        /* frees the data; the struct may be reused */
void sb_reset(struct strbuf *sb);       /* length 0, keeps the allocation */
void sb_addn(struct strbuf *sb, const char *s, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* sb_detach: returns the data (never NULL) and leaves sb empty; the caller frees it. */
char *sb_detach(struct strbuf *sb);
/* sb_add_json_str: appends s as a quoted JSON string (invalid UTF-8 becomes U+FFFD). */
void sb_add_json_str(struct strbuf *sb, const char *s);
/* util_csv_formula_start: 1 when a spreadsheet would take a cell of text s as a formula: it
 * starts with = + - @, a tab or a CR (or their full-width forms), else 0 (OWASP CSV injection). */
int util_csv_formula_start(const char *s);
/* sb_add_csv_field: appends s as an RFC 4180 field, quoted when needed; a text that
 * util_csv_formula_start would flag is prefixed with ' so it is shown as text. */
void sb_add_csv_field(struct strbuf *sb, const char *s);

/* util_plural: one when n is 1, else many ("1 stakeholder", "2 stakeholders"); returns one of
 * the two pointers given. */
const char *util_plural(long long n, const char *one, const char *many);

/* strlcpy-like: copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);
/* util_streq: NULL-safe string equality. */
int util_streq(const char *a, const char *b);
/* util_strcaseeq: ASCII case-insensitive equality. */
int util_strcaseeq(const char *a, const char *b);
/* util_trim: strips ASCII white space at both ends in place; returns s. */
char *util_trim(char *s);

/* util_parse_long: a whole decimal integer within [min,max]; 0 or -1. */
int util_parse_long(const char *s, long min, long max, long *out);
/* util_parse_money: "12", "12.5", "12.50" -> cents; 0 or -1. */
int util_parse_money(const char *s, int64_t *cents);
/* util_format_money: cents -> "12.50" into buf. */
void util_format_money(int64_t cents, char *buf, size_t size);
/* util_parse_bool: yes/no/true/false/1/0 (any case); empty is 'no'. 0 or -1. */
int util_parse_bool(const char *s, int *out);

/*
 * A Bloom filter of UTIL_BLOOM_BITS bits (1 MiB, util_bloom_new; free it with free): about 1%
 * false "maybe" at 1,000,000 strings, never a false "new". util_bloom_test_set sets s's bits
 * and returns 1 when they were all set already (s may have been added before), else 0.
 */
#define UTIL_BLOOM_BITS (1u << 23)
unsigned char *util_bloom_new(void);
int util_bloom_test_set(unsigned char *bloom, const char *s);

/* util_utf8_valid: 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int util_utf8_valid(const char *s, size_t len);
/*
 * util_utf8_next: decodes one code point at *p (bounded by end), advances *p.
 * Returns the code point, or -1 on malformed input (then *p advances by one byte).
 */
int32_t util_utf8_next(const char **p, const char *end);
/* util_utf8_put: appends code point cp as UTF-8. */
void util_utf8_put(struct strbuf *sb, uint32_t cp);
/* util_has_ctl: 1 when s holds an ASCII control character (below 0x20 or 0x7f) other than those in allow. */
int util_has_ctl(const char *s, const char *allow);

/* util_levenshtein: edit distance (bounded to short strings; long ones give a big number). */
int util_levenshtein(const char *a, const char *b);

/*
 * util_safe_component: turns any text into a single safe file-name component:
 * letters, digits, '-', '_' and '.' kept (ASCII), other bytes and runs of them become '_',
 * no leading '.', never empty, at most 100 bytes. Writes into out (size >= 2).
 */
void util_safe_component(const char *in, char *out, size_t size);

/*
 * util_uri_scheme_len: the length of SCHEME when s is "SCHEME://..." (RFC 3986 scheme
 * characters), else 0: such a value names a server, never a file path.
 */
size_t util_uri_scheme_len(const char *s);
/* util_path_join: dir + "/" + name, or name when it is absolute or dir is NULL/empty. Caller frees. */
char *util_path_join(const char *dir, const char *name);
/* util_dirname: the directory part of path ("." when none). Caller frees. */
char *util_dirname(const char *path);
/* util_mkdirs: mkdir -p with mode 0750; refuses to follow a symlink in the last component. */
int util_mkdirs(const char *path, char err[ERR_LEN]);
/*
 * util_mkdirs_under: util_mkdirs for a directory below root (the spool): root may be a symlink
 * (an administrator's choice), but no component below it may be, so a link planted in the
 * spool cannot redirect a write. path must start with root. 0 or -1 with err.
 */
int util_mkdirs_under(const char *root, const char *path, char err[ERR_LEN]);
/*
 * util_write_atomic: writes data to path through a temporary file in the same directory,
 * fsync, rename, fsync of the directory. Nothing half-written is ever visible at path.
 * PATH.tmp.PID files of writers that were killed (PID gone) are removed afterwards.
 */
int util_write_atomic(const char *path, const void *data, size_t len, char err[ERR_LEN]);
/*
 * The same in pieces, for a file written as it is produced: util_atomic_open creates
 * PATH.tmp.PID (0 or -1 with err; a->path and a->tmp malloc'd), util_atomic_write appends
 * to it (0, or -1 with err naming the file and errno's text), util_atomic_commit syncs it,
 * renames it to path and syncs the directory (0 or -1 with err), util_atomic_abort removes
 * the temporary file. Either commit or abort frees a; both accept a commit or abort already
 * done (then they do nothing).
 */
struct util_atomic {
	char *path, *tmp;
	int fd;
};
int util_atomic_open(struct util_atomic *a, const char *path, char err[ERR_LEN]);
int util_atomic_write(struct util_atomic *a, const void *data, size_t len, char err[ERR_LEN]);
int util_atomic_commit(struct util_atomic *a, char err[ERR_LEN]);
void util_atomic_abort(struct util_atomic *a);
/* util_fsync_dir: fsync the directory that holds path. */
int util_fsync_dir(const char *path, char err[ERR_LEN]);
/* util_read_file: reads a whole file (at most max bytes) into a NUL-terminated buffer. Caller frees *out. */
int util_read_file(const char *path, size_t max, char **out, size_t *len, char err[ERR_LEN]);
/* util_file_exists: 1 when path names a regular file. */
int util_file_exists(const char *path);

/*
 * diags: the problems found while checking files, each "FILE:LINE:COL: error: MESSAGE"
 * (or warning:). Loaders add every problem they find and go on where they can.
 */
struct diags {
	char **msgs;
	int *warning;
	size_t n;
	size_t nerrors;
	size_t nwarnings;
};
/* diags_add: records a formatted, complete line (already "FILE:LINE:COL: error: ..."). */
void diags_add(struct diags *d, int warning, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* diags_print: every line to fp, in order. */
void diags_print(const struct diags *d, void *fp);
void diags_free(struct diags *d);

/*
 * util_keepalive: long operations (an SMTP transfer, a big batch) call this now and then so
 * that the daemon can tell systemd's watchdog it is alive without waiting for them to end.
 * util_set_keepalive installs the function (NULL: none); it must be cheap and rate-limit itself.
 */
void util_set_keepalive(void (*fn)(void));
void util_keepalive(void);
/*
 * util_set_keepalive_hook: a second function util_keepalive calls, with arg (the store's
 * lease renewal, beside the watchdog); NULL: none. util_clear_keepalive_hook removes it when
 * arg is the one installed.
 */
void util_set_keepalive_hook(void (*fn)(void *arg), void *arg);
void util_clear_keepalive_hook(void *arg);

#endif
