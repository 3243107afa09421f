/* util: allocation, strings, UTF-8, safe names, atomic files. */
#include "occasiond/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static NORETURN void oom(void)
{
	fputs("occasiond: out of memory\n", stderr);
	exit(70);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		oom();
	return xrealloc(p, nmemb * size);
}

char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	return sb_detach(&sb);
}

int err_set(char *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

void sb_init(struct strbuf *sb)
{
	sb->s = NULL;
	sb->len = 0;
	sb->cap = 0;
}

void sb_free(struct strbuf *sb)
{
	free(sb->s);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->s)
		sb->s[0] = '\0';
}

static void sb_grow(struct strbuf *sb, size_t more)
{
	size_t need;
	if (more > SIZE_MAX - sb->len - 1)
		oom();
	need = sb->len + more + 1;
	if (need <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	sb->s = xrealloc(sb->s, cap);
	sb->cap = cap;
}

void sb_addn(struct strbuf *sb, const char *s, size_t n)
{
	sb_grow(sb, n);
	if (n)
		memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void sb_adds(struct strbuf *sb, const char *s)
{
	sb_addn(sb, s, strlen(s));
}

void sb_addc(struct strbuf *sb, char c)
{
	sb_addn(sb, &c, 1);
}

void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	sb_grow(sb, (size_t)n);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *sb_detach(struct strbuf *sb)
{
	char *s;
	if (!sb->s)
		sb_grow(sb, 0), sb->s[0] = '\0';
	s = sb->s;
	sb_init(sb);
	return s;
}

void sb_add_json_str(struct strbuf *sb, const char *s)
{
	const char *p = s ? s : "", *end = p + strlen(p);
	sb_addc(sb, '"');
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x80) {
			p++;
			switch (c) {
			case '"': sb_adds(sb, "\\\""); break;
			case '\\': sb_adds(sb, "\\\\"); break;
			case '\n': sb_adds(sb, "\\n"); break;
			case '\r': sb_adds(sb, "\\r"); break;
			case '\t': sb_adds(sb, "\\t"); break;
			default:
				if (c < 0x20 || c == 0x7f)
					sb_addf(sb, "\\u%04x", c);
				else
					sb_addc(sb, (char)c);
			}
			continue;
		}
		const char *start = p;
		int32_t cp = util_utf8_next(&p, end);
		if (cp < 0)
			sb_adds(sb, "\xEF\xBF\xBD");
		else if (cp == 0x2028 || cp == 0x2029)
			sb_addf(sb, "\\u%04x", (unsigned)cp);
		else
			sb_addn(sb, start, (size_t)(p - start));
	}
	sb_addc(sb, '"');
}

int util_csv_formula_start(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	if (!s)
		return 0;
	if (u[0] && strchr("=+-@\t\r", u[0]))
		return 1;
	/* The full-width forms (U+FF0B, U+FF0D, U+FF1D, U+FF20): some spreadsheets fold them. */
	return u[0] == 0xEF && u[1] == 0xBC && (u[2] == 0x8B || u[2] == 0x8D || u[2] == 0x9D || u[2] == 0xA0);
}

void sb_add_csv_field(struct strbuf *sb, const char *s)
{
	int guard;
	if (!s)
		s = "";
	guard = util_csv_formula_start(s);
	if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
		if (guard)
			sb_addc(sb, '\'');
		sb_adds(sb, s);
		return;
	}
	sb_addc(sb, '"');
	if (guard)
		sb_addc(sb, '\'');
	for (; *s; s++) {
		if (*s == '"')
			sb_addc(sb, '"');
		sb_addc(sb, *s);
	}
	sb_addc(sb, '"');
}

const char *util_plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

size_t util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int util_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int util_strcaseeq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
	return *a == *b;
}

char *util_trim(char *s)
{
	size_t n = strlen(s), i = 0;
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (s[i] && isspace((unsigned char)s[i]))
		i++;
	if (i)
		memmove(s, s + i, n - i + 1);
	return s;
}

int util_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;
	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_parse_money(const char *s, int64_t *cents)
{
	int64_t whole = 0;
	int frac = 0, nfrac = 0, neg = 0, digits = 0;
	if (!s)
		return -1;
	if (*s == '-')
		neg = 1, s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (whole > (INT64_MAX / 100 - 9) / 10)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (nfrac >= 2)
				return -1;
			frac = frac * 10 + (*s - '0');
			nfrac++;
		}
		if (!nfrac)
			return -1;
	}
	if (*s || !digits)
		return -1;
	if (nfrac == 1)
		frac *= 10;
	*cents = (whole * 100 + frac) * (neg ? -1 : 1);
	return 0;
}

void util_format_money(int64_t cents, char *buf, size_t size)
{
	int64_t a = cents < 0 ? -cents : cents;
	snprintf(buf, size, "%s%lld.%02lld", cents < 0 ? "-" : "", (long long)(a / 100), (long long)(a % 100));
}

int util_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "1", "y"};
	static const char *const no[] = {"no", "false", "0", "n", ""};
	size_t i;
	if (!s)
		s = "";
	for (i = 0; i < sizeof yes / sizeof *yes; i++)
		if (util_strcaseeq(s, yes[i]))
			return *out = 1, 0;
	for (i = 0; i < sizeof no / sizeof *no; i++)
		if (util_strcaseeq(s, no[i]))
			return *out = 0, 0;
	return -1;
}

int32_t util_utf8_next(const char **pp, const char *end)
{
	const unsigned char *p = (const unsigned char *)*pp;
	uint32_t cp, min;
	int n, i;
	if (p >= (const unsigned char *)end)
		return -1;
	if (p[0] < 0x80) {
		*pp += 1;
		return p[0];
	} else if ((p[0] & 0xE0) == 0xC0) {
		n = 1, cp = p[0] & 0x1F, min = 0x80;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 2, cp = p[0] & 0x0F, min = 0x800;
	} else if ((p[0] & 0xF8) == 0xF0) {
		n = 3, cp = p[0] & 0x07, min = 0x10000;
	} else {
		*pp += 1;
		return -1;
	}
	if ((const unsigned char *)end - p <= n) {
		*pp += 1;
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*pp += 1;
			return -1;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		*pp += 1;
		return -1;
	}
	*pp += n + 1;
	return (int32_t)cp;
}

unsigned char *util_bloom_new(void)
{
	return xcalloc(UTIL_BLOOM_BITS / 8, 1);
}

int util_bloom_test_set(unsigned char *bloom, const char *s)
{
	uint64_t h = 1469598103934665603ull, h2;
	int all = 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h2 = (h >> 29 | h << 35) * 0x9e3779b97f4a7c15ull | 1;
	for (int k = 0; k < 4; k++) {
		uint32_t bit = (uint32_t)((h + (uint64_t)k * h2) >> 20) & (UTIL_BLOOM_BITS - 1);
		if (!(bloom[bit >> 3] & (1u << (bit & 7))))
			all = 0;
		bloom[bit >> 3] |= (unsigned char)(1u << (bit & 7));
	}
	return all;
}

int util_utf8_valid(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	while (p < end) {
		if (!((unsigned char)*p & 0x80)) {     /* ASCII runs, the bulk of most data, a byte at a time */
			p++;
			continue;
		}
		if (util_utf8_next(&p, end) < 0)
			return 0;
	}
	return 1;
}

void util_utf8_put(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	if (cp < 0x80) {
		b[0] = (char)cp;
		sb_addn(sb, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		sb_addn(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		sb_addn(sb, b, 3);
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		sb_addn(sb, b, 4);
	}
}

int util_has_ctl(const char *s, const char *allow)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 || c == 0x7f) && !(allow && strchr(allow, c)))
			return 1;
	}
	return 0;
}

int util_levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int row[65];
	if (la > 64 || lb > 64)
		return 1000;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int cur = row[j];
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int v = prev + cost;
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			prev = cur;
		}
	}
	return row[lb];
}

void util_safe_component(const char *in, char *out, size_t size)
{
	size_t o = 0, max = size - 1 < 100 ? size - 1 : 100;
	int pending = 0;
	for (; in && *in && o < max; in++) {
		unsigned char c = (unsigned char)*in;
		if (isalnum(c) || c == '-' || c == '_' || (c == '.' && o > 0)) {
			if (pending && o < max)
				out[o++] = '_';
			pending = 0;
			if (o < max)
				out[o++] = (char)c;
		} else if (o > 0) {
			pending = 1;
		}
	}
	if (o == 0)
		out[o++] = '_';
	out[o] = '\0';
}

char *util_path_join(const char *dir, const char *name)
{
	if (!dir || !*dir || name[0] == '/')
		return xstrdup(name);
	size_t dl = strlen(dir);
	return xasprintf("%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", name);
}

char *util_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int util_mkdirs(const char *path, char err[ERR_LEN])
{
	char *p = xstrdup(path);
	struct stat st;
	int rc = -1;
	for (char *s = p + 1; ; s++) {
		int last = (*s == '\0');
		if (*s != '/' && !last)
			continue;
		char save = *s;
		*s = '\0';
		if (mkdir(p, 0750) != 0 && errno != EEXIST) {
			err_set(err, "cannot create directory %s: %s", p, strerror(errno));
			goto out;
		}
		if (last) {
			if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
				err_set(err, "%s is not a directory", p);
				goto out;
			}
			break;
		}
		*s = save;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

int util_mkdirs_under(const char *root, const char *path, char err[ERR_LEN])
{
	size_t n = strlen(root);
	char *p;
	struct stat st;
	int rc = -1;
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return err_set(err, "%s is not under %s", path, root);
	/* The root itself may be reached through a symlink: stat, not lstat. */
	if ((stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) && util_mkdirs(root, err) != 0)
		return -1;
	p = xstrdup(path);
	for (char *s = p + n + 1; s[-1]; s++) {
		int last = (*s == '\0');
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (s > p + n + 1 && mkdir(p, 0750) != 0 && errno != EEXIST) {
			err_set(err, "cannot create directory %s: %s", p, strerror(errno));
			goto out;
		}
		/* Below the root nothing may be a symlink: one planted there could send a write anywhere. */
		if (s > p + n + 1 && (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode))) {
			err_set(err, "%s is not a directory%s", p, lstat(p, &st) == 0 && S_ISLNK(st.st_mode) ? " (a symlink)" : "");
			goto out;
		}
		if (last)
			break;
		*s = '/';
	}
	rc = 0;
out:
	free(p);
	return rc;
}

int util_fsync_dir(const char *path, char err[ERR_LEN])
{
	char *dir = util_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
	if (fd < 0 || fsync(fd) != 0)
		rc = err_set(err, "cannot sync directory %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/*
 * clean_stale_temps: removes PATH.tmp.PID files left by a writer that was killed before its
 * rename (PID no longer running); a live writer's file is left alone.
 */
static void clean_stale_temps(const char *path)
{
	char *dir = util_dirname(path);
	const char *base = strrchr(path, '/');
	size_t blen;
	DIR *dp;
	struct dirent *e;
	base = base ? base + 1 : path;
	blen = strlen(base);
	if (!(dp = opendir(dir))) {
		free(dir);
		return;
	}
	while ((e = readdir(dp))) {
		char *end;
		long pid;
		if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5) != 0)
			continue;
		errno = 0;
		pid = strtol(e->d_name + blen + 5, &end, 10);
		if (errno || *end || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			char *stale = util_path_join(dir, e->d_name);
			unlink(stale);
			free(stale);
		}
	}
	closedir(dp);
	free(dir);
}

int util_atomic_open(struct util_atomic *a, const char *path, char err[ERR_LEN])
{
	struct stat st;
	memset(a, 0, sizeof *a);
	a->fd = -1;
	/* Never write through a symlink planted where the file goes. */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(err, "%s exists and is not a regular file", path);
	a->tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		err_set(err, "cannot create %s: %s", a->tmp, strerror(errno));
		free(a->tmp);
		a->tmp = NULL;
		return -1;
	}
	a->path = xstrdup(path);
	return 0;
}

int util_atomic_write(struct util_atomic *a, const void *data, size_t len, char err[ERR_LEN])
{
	const char *p = data;
	if (a->fd < 0)
		return err_set(err, "internal: %s is not open for writing", a->tmp ? a->tmp : "the file");
	while (len > 0) {
		ssize_t n = write(a->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(err, "cannot write %s: %s", a->tmp, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void util_atomic_abort(struct util_atomic *a)
{
	if (a->fd >= 0)
		close(a->fd);
	if (a->tmp)
		unlink(a->tmp);
	free(a->tmp);
	free(a->path);
	memset(a, 0, sizeof *a);
	a->fd = -1;
}

int util_atomic_commit(struct util_atomic *a, char err[ERR_LEN])
{
	int rc = -1;
	if (a->fd < 0)
		return err_set(err, "internal: %s is not open for writing", a->tmp ? a->tmp : "the file");
	if (fsync(a->fd) != 0) {
		err_set(err, "cannot sync %s: %s", a->tmp, strerror(errno));
		goto out;
	}
	if (close(a->fd) != 0) {
		a->fd = -1;
		err_set(err, "cannot write %s: %s", a->tmp, strerror(errno));
		goto out;
	}
	a->fd = -1;
	if (rename(a->tmp, a->path) != 0) {
		err_set(err, "cannot rename %s to %s: %s", a->tmp, a->path, strerror(errno));
		goto out;
	}
	free(a->tmp);
	a->tmp = NULL;   /* renamed: nothing for abort to remove */
	clean_stale_temps(a->path);
	rc = util_fsync_dir(a->path, err);
out:
	util_atomic_abort(a);
	return rc;
}

int util_write_atomic(const char *path, const void *data, size_t len, char err[ERR_LEN])
{
	struct util_atomic a;
	if (util_atomic_open(&a, path, err) != 0)
		return -1;
	if (util_atomic_write(&a, data, len, err) != 0) {
		util_atomic_abort(&a);
		return -1;
	}
	return util_atomic_commit(&a, err);
}

int util_read_file(const char *path, size_t max, char **out, size_t *len, char err[ERR_LEN])
{
	struct strbuf sb = {0};
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_set(err, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max) {
			err_set(err, "%s: file larger than %zu bytes", path, max);
			goto fail;
		}
		sb_addn(&sb, buf, (size_t)n);
	}
	close(fd);
	if (len)
		*len = sb.len;
	*out = sb_detach(&sb);
	return 0;
fail:
	close(fd);
	sb_free(&sb);
	return -1;
}

size_t util_uri_scheme_len(const char *s)
{
	size_t n = 0;
	while (s && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
	             (n > 0 && ((s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '-' || s[n] == '.'))))
		n++;
	return n > 0 && strncmp(s + n, "://", 3) == 0 ? n : 0;
}

int util_file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void diags_add(struct diags *d, int warning, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	d->msgs = xreallocarray(d->msgs, d->n + 1, sizeof *d->msgs);
	d->warning = xreallocarray(d->warning, d->n + 1, sizeof *d->warning);
	d->msgs[d->n] = sb_detach(&sb);
	d->warning[d->n] = warning;
	d->n++;
	if (warning)
		d->nwarnings++;
	else
		d->nerrors++;
}

void diags_print(const struct diags *d, void *fp)
{
	for (size_t i = 0; i < d->n; i++) {
		fputs(d->msgs[i], fp);
		fputc('\n', fp);
	}
}

void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	free(d->warning);
	memset(d, 0, sizeof *d);
}

static void (*keepalive_fn)(void);

void util_set_keepalive(void (*fn)(void))
{
	keepalive_fn = fn;
}

static void (*hook_fn)(void *);
static void *hook_arg;

void util_set_keepalive_hook(void (*fn)(void *arg), void *arg)
{
	hook_fn = fn;
	hook_arg = arg;
}

void util_clear_keepalive_hook(void *arg)
{
	if (hook_arg == arg) {
		hook_fn = NULL;
		hook_arg = NULL;
	}
}

void util_keepalive(void)
{
	if (keepalive_fn)
		keepalive_fn();
	if (hook_fn)
		hook_fn(hook_arg);
}
