/*
 * vcard: cards to rows. Lines are read one at a time through stdio, unfolded (a line that
 * starts with a space or tab continues the one before; in 2.1 a quoted-printable value ending
 * in '=' continues on the next line), split into group, name, parameters and value, and the
 * properties occasiond uses are decoded into the card's columns. Photos and everything else
 * are skipped without being kept, so a card's size costs nothing but reading time.
 */
#include "occasiond/vcard.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "occasiond/import_map.h"

enum vcol {
	VC_UID, VC_GIVEN, VC_FAMILY, VC_FN, VC_NICKNAME, VC_ORG, VC_TITLE, VC_EMAIL, VC_STREET, VC_CITY,
	VC_REGION, VC_POSTAL, VC_COUNTRY, VC_TZ, VC_BDAY, VC_ANNIVERSARY, VC_CATEGORIES, VC_NOTE, VC__N
};
static char *const vc_names[VC__N] = {
	"UID", "N.given", "N.family", "FN", "NICKNAME", "ORG", "TITLE", "EMAIL", "ADR.street", "ADR.city",
	"ADR.region", "ADR.postal_code", "ADR.country", "TZ", "BDAY", "anniversary", "CATEGORIES", "note",
};

static const char vcard_base_map[] =
	"id: UID\n"
	"columns:\n"
	"  first_name: N.given\n"
	"  last_name: N.family\n"
	"  nickname: NICKNAME\n"
	"  organization: ORG\n"
	"  title: TITLE\n"
	"  email: EMAIL\n"
	"  street: ADR.street\n"
	"  city: ADR.city\n"
	"  region: ADR.region\n"
	"  postal_code: ADR.postal_code\n"
	"  country: ADR.country\n"
	"  timezone: TZ\n"
	"  birthday: BDAY\n"
	"keep: [anniversary, note]\n";

#define VC_MAX_DATES 16   /* grouped X-ABDATE entries waiting for their label */

struct vcard_reader {
	char *path;
	FILE *fp;
	long line;              /* lines read so far */
	struct strbuf phys;     /* the physical line read ahead */
	long phys_line;
	int have_phys, eof;
	struct strbuf logical;
	long logical_line;

	struct strbuf col[VC__N];
	int email_pref;         /* the email kept is a preferred one */
	int adr_pref;
	char *fields[VC__N];
	size_t lens[VC__N];
	struct {
		char group[32];
		char date[11];
	} dates[VC_MAX_DATES];
	size_t ndates;
	char anniv_groups[VC_MAX_DATES][32];
	size_t nanniv;
};

char *const *vcard_header(size_t *n)
{
	*n = VC__N;
	return vc_names;
}

struct imap *vcard_map(struct imap *m)
{
	struct imap *base = NULL;
	struct diags d = {0};
	/* The text above is ours: it loads. */
	if (imap_load_mem("(the vCard map)", vcard_base_map, &base, &d) != 0) {
		diags_print(&d, stderr);
		abort();
	}
	diags_free(&d);
	return imap_with_base(m, base);
}

int vcard_open(const char *path, struct vcard_reader **out, char err[ERR_LEN])
{
	struct vcard_reader *r;
	FILE *fp = fopen(path, "rbe");
	*out = NULL;
	if (!fp)
		return err_set(err, "cannot open %s: %s", path, strerror(errno));
	{
		/* UTF-16 cards exist (old Windows tools); say so rather than read them as garbage. */
		int a = getc(fp), b = getc(fp);
		if ((a == 0xFF && b == 0xFE) || (a == 0xFE && b == 0xFF)) {
			fclose(fp);
			return err_set(err, "%s:1: error: a UTF-16 vCard file: save it as UTF-8", path);
		}
		rewind(fp);
	}
	r = xcalloc(1, sizeof *r);
	r->path = xstrdup(path);
	r->fp = fp;
	*out = r;
	return 0;
}

int vcard_open_mem(const char *name, const char *data, size_t len, struct vcard_reader **out, char err[ERR_LEN])
{
	struct vcard_reader *r;
	FILE *fp;
	*out = NULL;
	if (len == 0)
		return err_set(err, "%s:1: error: an empty vCard", name);
	if (!(fp = fmemopen((void *)data, len, "rb")))
		return err_set(err, "%s: cannot read: %s", name, strerror(errno));
	r = xcalloc(1, sizeof *r);
	r->path = xstrdup(name);
	r->fp = fp;
	*out = r;
	return 0;
}

void vcard_close(struct vcard_reader *r)
{
	if (!r)
		return;
	if (r->fp)
		fclose(r->fp);
	sb_free(&r->phys);
	sb_free(&r->logical);
	for (int i = 0; i < VC__N; i++)
		sb_free(&r->col[i]);
	free(r->path);
	free(r);
}

/* read_phys: the next physical line without its CR LF into r->phys. 1, 0 at the end, -1 when too long. */
static int read_phys(struct vcard_reader *r)
{
	int c, any = 0;
	sb_reset(&r->phys);
	while ((c = getc_unlocked(r->fp)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (r->phys.len >= VCARD_MAX_CARD)
			return -1;
		sb_addc(&r->phys, (char)c);
	}
	if (!any)
		return 0;
	r->line++;
	if (r->phys.len && r->phys.s[r->phys.len - 1] == '\r')
		r->phys.s[--r->phys.len] = '\0';
	/* A UTF-8 BOM before the first line. */
	if (r->line == 1 && r->phys.len >= 3 && memcmp(r->phys.s, "\xEF\xBB\xBF", 3) == 0) {
		memmove(r->phys.s, r->phys.s + 3, r->phys.len - 2);
		r->phys.len -= 3;
	}
	r->phys_line = r->line;
	return 1;
}

/* is_qp: the logical line's parameters say QUOTED-PRINTABLE (2.1), looked for before the value's colon. */
static int is_qp(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	for (size_t i = 0; i + 16 <= n; i++)
		if (strncasecmp(s + i, "QUOTED-PRINTABLE", 16) == 0)
			return 1;
	return 0;
}

/* next_logical: one unfolded line into r->logical. 1, 0 at the end, -1 with err. */
static int next_logical(struct vcard_reader *r, char err[ERR_LEN])
{
	int rc;
	if (!r->have_phys) {
		do {
			rc = read_phys(r);
			if (rc < 0)
				return err_set(err, "%s:%ld: error: a line longer than %d bytes", r->path, r->line + 1,
				               VCARD_MAX_CARD);
			if (rc == 0)
				return 0;
		} while (r->phys.len == 0);
	}
	r->have_phys = 0;
	sb_reset(&r->logical);
	sb_addn(&r->logical, r->phys.s, r->phys.len);
	r->logical_line = r->phys_line;
	for (;;) {
		rc = read_phys(r);
		if (rc < 0)
			return err_set(err, "%s:%ld: error: a line longer than %d bytes", r->path, r->line + 1, VCARD_MAX_CARD);
		if (rc == 0)
			return 1;
		if (r->phys.len && (r->phys.s[0] == ' ' || r->phys.s[0] == '\t')) {
			sb_addn(&r->logical, r->phys.s + 1, r->phys.len - 1);
		} else if (r->logical.len && r->logical.s[r->logical.len - 1] == '=' && is_qp(r->logical.s)) {
			/* 2.1's soft line break: the '=' goes, the next line follows as it is. */
			r->logical.s[--r->logical.len] = '\0';
			sb_addn(&r->logical, r->phys.s, r->phys.len);
		} else {
			r->have_phys = 1;
			return 1;
		}
		if (r->logical.len > VCARD_MAX_CARD)
			return err_set(err, "%s:%ld: error: a property longer than %d bytes", r->path, r->logical_line,
			               VCARD_MAX_CARD);
	}
}

/* ---- one property ---- */

struct prop {
	char group[32];
	char name[32];
	char *params;      /* between the name and the value, ';'-separated, upper-cased */
	char *value;
};

/* split_prop: cuts the logical line in place. -1 when it has no colon or no name. */
static int split_prop(char *s, struct prop *p)
{
	char *colon = NULL, *name = s, *dot, *semi;
	int quoted = 0;
	for (char *q = s; *q; q++) {
		if (*q == '"')
			quoted = !quoted;
		else if (*q == ':' && !quoted) {
			colon = q;
			break;
		}
	}
	if (!colon)
		return -1;
	*colon = '\0';
	p->value = colon + 1;
	semi = strchr(name, ';');
	if (semi)
		*semi = '\0';
	p->params = semi ? semi + 1 : colon;
	dot = strchr(name, '.');
	p->group[0] = '\0';
	if (dot) {
		*dot = '\0';
		util_strlcpy(p->group, name, sizeof p->group);
		name = dot + 1;
	}
	if (!*name || strlen(name) >= sizeof p->name)
		return -1;
	for (size_t i = 0; name[i]; i++)
		p->name[i] = (char)toupper((unsigned char)name[i]), p->name[i + 1] = '\0';
	for (char *q = p->params; *q; q++)
		*q = (char)toupper((unsigned char)*q);
	return 0;
}

/* param_has: a parameter NAME=VALUE (or 2.1's bare VALUE, or VALUE in a TYPE list) is present. */
static int param_has(const char *params, const char *name, const char *value)
{
	size_t vl = strlen(value);
	const char *p = params;
	while (*p) {
		size_t n = strcspn(p, ";");
		const char *eq = memchr(p, '=', n), *v = p;
		size_t k = n;
		if (eq) {
			if ((size_t)(eq - p) != strlen(name) || strncmp(p, name, strlen(name)) != 0) {
				p += n + (p[n] == ';');
				continue;
			}
			v = eq + 1;
			k = n - (size_t)(v - p);
		}
		/* A list of values: TYPE=INTERNET,PREF or "home,pref". */
		while (k) {
			size_t w;
			while (k && (*v == '"' || *v == ','))
				v++, k--;
			w = 0;
			while (w < k && v[w] != ',' && v[w] != '"')
				w++;
			if (w == vl && strncmp(v, value, vl) == 0)
				return 1;
			v += w;
			k -= w;
		}
		p += n + (p[n] == ';');
	}
	return 0;
}

/* param_value: the value of NAME=... into out ("" when absent). */
static void param_value(const char *params, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = params;
	out[0] = '\0';
	while (*p) {
		size_t n = strcspn(p, ";");
		if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t k = n - nl - 1;
			const char *v = p + nl + 1;
			if (k && *v == '"')
				v++, k -= k >= 2 ? 2 : 1;
			if (k >= size)
				k = size - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return;
		}
		p += n + (p[n] == ';');
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = toupper(c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* decode: the value's bytes as UTF-8 in out: quoted-printable undone, CHARSET converted. */
static int decode(const struct prop *p, struct strbuf *out)
{
	char charset[40];
	const char *v = p->value;
	struct strbuf raw = {0};
	int qp = param_has(p->params, "ENCODING", "QUOTED-PRINTABLE");
	sb_reset(out);
	if (qp) {
		for (; *v; v++) {
			int h, l;
			if (*v == '=' && (h = hexval((unsigned char)v[1])) >= 0 && (l = hexval((unsigned char)v[2])) >= 0) {
				sb_addc(&raw, (char)(h * 16 + l));
				v += 2;
			} else {
				sb_addc(&raw, *v);
			}
		}
		v = raw.s ? raw.s : "";
	}
	param_value(p->params, "CHARSET", charset, sizeof charset);
	if (!charset[0] && !util_utf8_valid(v, strlen(v)))
		util_strlcpy(charset, "WINDOWS-1252", sizeof charset);   /* what Outlook's 2.1 writes without saying */
	if (charset[0] && strcasecmp(charset, "UTF-8") != 0 && strcasecmp(charset, "US-ASCII") != 0) {
		iconv_t cd = iconv_open("UTF-8", charset);
		char *in = (char *)v, buf[1024];
		size_t inleft = strlen(v);
		if (cd == (iconv_t)-1) {
			sb_free(&raw);
			return -1;
		}
		while (inleft) {
			char *o = buf;
			size_t oleft = sizeof buf;
			size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
			sb_addn(out, buf, (size_t)(o - buf));
			if (rc == (size_t)-1 && errno != E2BIG) {
				iconv_close(cd);
				sb_free(&raw);
				return -1;
			}
		}
		iconv_close(cd);
	} else {
		sb_adds(out, v);
	}
	sb_free(&raw);
	return 0;
}

/*
 * component: the idx-th ';'-separated component of a structured value, unescaped (\n, \, \;
 * \\), and of that its first ','-separated item when first_item. Appends to out.
 */
static void component(const char *v, int idx, int first_item, struct strbuf *out)
{
	int k = 0;
	for (; *v && k < idx; v++) {
		if (*v == '\\' && v[1])
			v++;
		else if (*v == ';')
			k++;
	}
	if (k < idx)
		return;
	for (; *v && *v != ';'; v++) {
		if (*v == ',' && first_item)
			break;
		if (*v == '\\' && v[1]) {
			v++;
			sb_addc(out, *v == 'n' || *v == 'N' ? '\n' : *v);
		} else {
			sb_addc(out, *v);
		}
	}
}

/* text: a whole text value unescaped; line breaks become spaces unless keep_lines. */
static void text(const char *v, int keep_lines, struct strbuf *out)
{
	for (; *v; v++) {
		char c = *v;
		if (c == '\\' && v[1]) {
			c = *++v;
			if (c == 'n' || c == 'N')
				c = '\n';
		}
		if ((c == '\n' || c == '\r') && !keep_lines)
			c = ' ';
		if (c == '\r')
			continue;
		sb_addc(out, c);
	}
	if (out->s)
		util_trim(out->s), out->len = strlen(out->s);
}

int vcard_date(const char *v, char out[11])
{
	int y = -1, m, d;
	char dig[9];
	size_t n = 0;
	out[0] = '\0';
	while (*v == ' ')
		v++;
	if (v[0] == '-' && v[1] == '-') {
		v += 2;
	} else {
		for (int i = 0; i < 4; i++, v++) {
			if (!isdigit((unsigned char)*v))
				return -1;
			dig[n++] = *v;
		}
		y = (dig[0] - '0') * 1000 + (dig[1] - '0') * 100 + (dig[2] - '0') * 10 + (dig[3] - '0');
		n = 0;
		if (*v == '-')
			v++;
	}
	for (int i = 0; i < 2; i++, v++) {
		if (!isdigit((unsigned char)*v))
			return -1;
		dig[n++] = *v;
	}
	if (*v == '-')
		v++;
	for (int i = 0; i < 2; i++, v++) {
		if (!isdigit((unsigned char)*v))
			return -1;
		dig[n++] = *v;
	}
	if (*v && *v != 'T' && *v != ' ')
		return -1;
	m = (dig[0] - '0') * 10 + (dig[1] - '0');
	d = (dig[2] - '0') * 10 + (dig[3] - '0');
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	if (y < 0)
		snprintf(out, 11, "--%02d-%02d", m % 100, d % 100);
	else
		snprintf(out, 11, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
	return 0;
}

static void card_reset(struct vcard_reader *r)
{
	for (int i = 0; i < VC__N; i++)
		sb_reset(&r->col[i]);
	r->email_pref = r->adr_pref = 0;
	r->ndates = r->nanniv = 0;
}

static int is_pref(const char *params)
{
	char v[16];
	param_value(params, "PREF", v, sizeof v);
	return v[0] || param_has(params, "TYPE", "PREF") || param_has(params, "", "PREF");
}

/* date_prop: a BDAY or anniversary value, Apple's X-APPLE-OMIT-YEAR taken as "no year". */
static void date_prop(const struct prop *p, const char *v, struct strbuf *out)
{
	char iso[11], omit[8];
	sb_reset(out);
	if (vcard_date(v, iso) < 0) {
		sb_adds(out, v);   /* not a date: the map's validation names it */
		return;
	}
	param_value(p->params, "X-APPLE-OMIT-YEAR", omit, sizeof omit);
	if (omit[0] && strncmp(omit, iso, 4) == 0 && iso[0] != '-')
		sb_addf(out, "--%.5s", iso + 5);
	else
		sb_adds(out, iso);
}

static void take_prop(struct vcard_reader *r, const struct prop *p, struct strbuf *val)
{
	const char *n = p->name, *v = val->s ? val->s : "";
	struct strbuf *c = r->col;
	if (strcmp(n, "UID") == 0) {
		sb_reset(&c[VC_UID]);
		text(v, 0, &c[VC_UID]);
	} else if (strcmp(n, "FN") == 0) {
		sb_reset(&c[VC_FN]);
		text(v, 0, &c[VC_FN]);
	} else if (strcmp(n, "N") == 0) {
		sb_reset(&c[VC_FAMILY]);
		sb_reset(&c[VC_GIVEN]);
		component(v, 0, 0, &c[VC_FAMILY]);
		component(v, 1, 0, &c[VC_GIVEN]);
	} else if (strcmp(n, "NICKNAME") == 0) {
		sb_reset(&c[VC_NICKNAME]);
		component(v, 0, 1, &c[VC_NICKNAME]);
	} else if (strcmp(n, "ORG") == 0) {
		sb_reset(&c[VC_ORG]);
		component(v, 0, 0, &c[VC_ORG]);
	} else if (strcmp(n, "TITLE") == 0) {
		sb_reset(&c[VC_TITLE]);
		text(v, 0, &c[VC_TITLE]);
	} else if (strcmp(n, "EMAIL") == 0) {
		int pref = is_pref(p->params);
		if (c[VC_EMAIL].len == 0 || (pref && !r->email_pref)) {
			sb_reset(&c[VC_EMAIL]);
			text(v, 0, &c[VC_EMAIL]);
			r->email_pref = pref;
		}
	} else if (strcmp(n, "ADR") == 0) {
		int pref = is_pref(p->params);
		if ((c[VC_STREET].len == 0 && c[VC_CITY].len == 0) || (pref && !r->adr_pref)) {
			for (int i = VC_STREET; i <= VC_COUNTRY; i++)
				sb_reset(&c[i]);
			component(v, 2, 0, &c[VC_STREET]);
			component(v, 3, 0, &c[VC_CITY]);
			component(v, 4, 0, &c[VC_REGION]);
			component(v, 5, 0, &c[VC_POSTAL]);
			component(v, 6, 0, &c[VC_COUNTRY]);
			r->adr_pref = pref;
		}
	} else if (strcmp(n, "TZ") == 0) {
		/* Only a zone name; an offset ("-05:00") says nothing of summer time. */
		sb_reset(&c[VC_TZ]);
		if (strchr(v, '/') && !strchr(v, ':'))
			text(v, 0, &c[VC_TZ]);
	} else if (strcmp(n, "BDAY") == 0) {
		date_prop(p, v, &c[VC_BDAY]);
	} else if (strcmp(n, "ANNIVERSARY") == 0 || strcmp(n, "X-ANNIVERSARY") == 0) {
		date_prop(p, v, &c[VC_ANNIVERSARY]);
	} else if (strcmp(n, "X-ABDATE") == 0 && p->group[0] && r->ndates < VC_MAX_DATES) {
		struct strbuf d = {0};
		date_prop(p, v, &d);
		util_strlcpy(r->dates[r->ndates].group, p->group, sizeof r->dates[0].group);
		util_strlcpy(r->dates[r->ndates].date, d.s ? d.s : "", sizeof r->dates[0].date);
		r->ndates++;
		sb_free(&d);
	} else if (strcmp(n, "X-ABLABEL") == 0 && p->group[0] && r->nanniv < VC_MAX_DATES) {
		if (strcasestr(v, "anniversary"))
			util_strlcpy(r->anniv_groups[r->nanniv++], p->group, sizeof r->anniv_groups[0]);
	} else if (strcmp(n, "CATEGORIES") == 0) {
		if (c[VC_CATEGORIES].len)
			sb_addc(&c[VC_CATEGORIES], ',');
		text(v, 0, &c[VC_CATEGORIES]);
	} else if (strcmp(n, "NOTE") == 0) {
		sb_reset(&c[VC_NOTE]);
		text(v, 0, &c[VC_NOTE]);
	}
}

/* derive: "v-" and a hash of text: the same id on every import of the same card. */
static void derive(const char *text1, const char *text2, struct strbuf *out)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *s = text1; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *s = text2; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	sb_addf(out, "v-%016llx", (unsigned long long)h);
}

static int valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._@-", *s))
			return 0;
	return 1;
}

/* card_end: the columns finished (id, names, the labelled anniversary). -1 with err. */
static int card_end(struct vcard_reader *r, long begin, char err[ERR_LEN])
{
	struct strbuf *c = r->col;
	const char *uid = c[VC_UID].s ? c[VC_UID].s : "";
	struct strbuf id = {0};

	if (strncasecmp(uid, "urn:uuid:", 9) == 0)
		uid += 9;
	if (valid_id(uid))
		sb_adds(&id, uid);
	else if (*uid)
		derive(uid, "", &id);
	else
		derive(c[VC_FN].s ? c[VC_FN].s : "", c[VC_EMAIL].s ? c[VC_EMAIL].s : "", &id);
	sb_reset(&c[VC_UID]);
	sb_adds(&c[VC_UID], id.s);
	sb_free(&id);
	if (c[VC_GIVEN].len == 0) {
		const char *fn = c[VC_FN].s ? c[VC_FN].s : "";
		const char *sp = strrchr(fn, ' ');
		if (c[VC_FAMILY].len == 0 && sp) {
			sb_addn(&c[VC_GIVEN], fn, (size_t)(sp - fn));
			sb_adds(&c[VC_FAMILY], sp + 1);
		} else if (*fn) {
			sb_adds(&c[VC_GIVEN], fn);
		} else if (c[VC_ORG].len) {
			sb_adds(&c[VC_GIVEN], c[VC_ORG].s);
		}
	}
	for (size_t a = 0; a < r->nanniv && c[VC_ANNIVERSARY].len == 0; a++)
		for (size_t i = 0; i < r->ndates; i++)
			if (strcmp(r->dates[i].group, r->anniv_groups[a]) == 0)
				sb_adds(&c[VC_ANNIVERSARY], r->dates[i].date);
	for (int i = 0; i < VC__N; i++) {
		if (!c[i].s)
			sb_adds(&c[i], "");
		if (c[i].len > VCARD_MAX_VALUE)
			return err_set(err, "%s:%ld: error: %s longer than %d bytes", r->path, begin, vc_names[i],
			               VCARD_MAX_VALUE);
		r->fields[i] = c[i].s;
		r->lens[i] = c[i].len;
	}
	return 0;
}

int vcard_next(struct vcard_reader *r, struct csv_record *rec, char err[ERR_LEN])
{
	struct strbuf val = {0};
	long begin = 0;
	int rc, in_card = 0;

	memset(rec, 0, sizeof *rec);
	for (;;) {
		struct prop p;
		rc = next_logical(r, err);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			if (in_card) {
				rc = err_set(err, "%s:%ld: error: the card that begins here has no END:VCARD (the file is cut short?)",
				             r->path, begin);
			}
			goto out;
		}
		if (split_prop(r->logical.s, &p) < 0) {
			if (!in_card && strspn(r->logical.s, " \t") == r->logical.len)
				continue;
			rc = err_set(err, "%s:%ld: error: not a vCard line (NAME:VALUE)", r->path, r->logical_line);
			goto out;
		}
		if (strcmp(p.name, "BEGIN") == 0 && strcasecmp(p.value, "VCARD") == 0) {
			if (in_card) {
				rc = err_set(err, "%s:%ld: error: a card inside the card of line %ld (END:VCARD missing?)",
				             r->path, r->logical_line, begin);
				goto out;
			}
			in_card = 1;
			begin = r->logical_line;
			card_reset(r);
			continue;
		}
		if (!in_card) {
			rc = err_set(err, "%s:%ld: error: %s outside a card (a card starts with BEGIN:VCARD)", r->path,
			             r->logical_line, p.name);
			goto out;
		}
		if (strcmp(p.name, "END") == 0) {
			if (strcasecmp(p.value, "VCARD") != 0) {
				rc = err_set(err, "%s:%ld: error: END:%.20s in a card", r->path, r->logical_line, p.value);
				goto out;
			}
			rc = card_end(r, begin, err);
			if (rc < 0)
				goto out;
			rec->n = VC__N;
			rec->fields = r->fields;
			rec->lens = r->lens;
			rec->line = begin;
			rc = 1;
			goto out;
		}
		if (strcmp(p.name, "PHOTO") == 0 || strcmp(p.name, "LOGO") == 0 || strcmp(p.name, "SOUND") == 0 ||
		    strcmp(p.name, "KEY") == 0)
			continue;
		if (decode(&p, &val) < 0) {
			rc = err_set(err, "%s:%ld: error: %s: a value in an unknown CHARSET or not in its CHARSET", r->path,
			             r->logical_line, p.name);
			goto out;
		}
		take_prop(r, &p, &val);
	}
out:
	sb_free(&val);
	return rc;
}
