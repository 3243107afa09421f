/*
 * model: stakeholders, events and dispatch records; validation of CSV rows into them;
 * the name tables of the enums.
 */
#include "occasiond/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/dates.h"
#include "occasiond/mime.h"

const char *const sh_field_names[SH_NFIELDS] = {
	"id", "first_name", "last_name", "nickname", "organization", "title", "type",
	"tier", "email", "preferred_channel", "owner", "owner_email", "timezone",
	"street", "city", "region", "postal_code", "country", "birthday", "hire_date",
	"customer_since", "contract_renewal", "consent_personal", "opted_out",
};

const char *const channel_names[CH__N] = {"card", "email", "preferred"};

const char *const dispatch_status_names[DS__N] = {
	"queued", "rendered", "printed", "signed", "mailed", "cancelled",
	"sent", "retry", "unknown", "failed", "skipped",
};

enum ev_field { EV_STAKEHOLDER_ID, EV_KIND, EV_DATE, EV_TITLE, EV_DETAILS, EV_NFIELDS };
static const char *const ev_field_names[EV_NFIELDS] = {"stakeholder_id", "kind", "date", "title", "details"};

static const char *const sh_types[] = {"customer", "employee", "partner", "supplier", "other"};

#define ID_MAX 64
#define KIND_MAX 64
#define CUSTOM_MAX (1024 * 1024)   /* the CSV reader's field limit */

int sh_field_lookup(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SH_NFIELDS; i++)
		if (strcmp(name, sh_field_names[i]) == 0)
			return i;
	return -1;
}

int channel_parse(const char *s)
{
	for (int i = 0; s && i < CH__N; i++)
		if (util_strcaseeq(s, channel_names[i]))
			return i;
	return -1;
}

int dispatch_status_parse(const char *s)
{
	for (int i = 0; s && i < DS__N; i++)
		if (util_strcaseeq(s, dispatch_status_names[i]))
			return i;
	return -1;
}

/* ---- stakeholders, events, dispatch records: access and freeing ---- */

const char *stakeholder_get(const struct stakeholder *sh, const char *name)
{
	int f = sh_field_lookup(name);
	if (f >= 0)
		return sh->f[f] ? sh->f[f] : "";
	for (size_t i = 0; name && i < sh->ncustom; i++)
		if (strcmp(sh->custom[i].key, name) == 0)
			return sh->custom[i].value;
	return NULL;
}

int stakeholder_flag(const struct stakeholder *sh, enum sh_field f)
{
	return f >= 0 && f < SH_NFIELDS && sh->f[f] && strcmp(sh->f[f], "1") == 0;
}

static int nonempty(const char *s)
{
	return s && *s;
}

/* East Asian scripts whose names put the family name first (CLDR person names, TR35 part 8). */
enum name_script { NS_OTHER, NS_HAN_KANA, NS_HANGUL };

static enum name_script cp_name_script(uint32_t c)
{
	if ((c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029) ||
	    (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
	    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF66 && c <= 0xFF9F) ||
	    (c >= 0x20000 && c <= 0x3FFFF))
		return NS_HAN_KANA;
	if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) || (c >= 0xA960 && c <= 0xA97F) ||
	    (c >= 0xAC00 && c <= 0xD7FF) || (c >= 0xFFA0 && c <= 0xFFDC))
		return NS_HANGUL;
	return NS_OTHER;
}

/* name_script: the first East Asian character's script in s, else NS_OTHER. */
static enum name_script name_script(const char *s)
{
	const char *p = s, *end = s + strlen(s);
	while (p < end) {
		int32_t c = util_utf8_next(&p, end);
		enum name_script k;
		if (c < 0)
			break;
		if ((k = cp_name_script((uint32_t)c)) != NS_OTHER)
			return k;
	}
	return NS_OTHER;
}

/* The countries that write the family name first in every script (CLDR: hu, vi). */
static int family_first_country(const char *country)
{
	static const char *const names[] = {"hungary", "hu", "magyarország", "magyarorszag", "vietnam", "viet nam",
	                                    "vn", "việt nam", NULL};
	for (int i = 0; country && names[i]; i++)
		if (util_strcaseeq(country, names[i]))
			return 1;
	return 0;
}

int stakeholder_family_first(const struct stakeholder *sh)
{
	const char *first = sh->f[SH_FIRST_NAME], *last = sh->f[SH_LAST_NAME];
	if (!nonempty(first) || !nonempty(last))
		return 0;
	return name_script(last) != NS_OTHER || name_script(first) != NS_OTHER ||
	       family_first_country(sh->f[SH_COUNTRY]);
}

char *stakeholder_display_name(const struct stakeholder *sh)
{
	const char *first = sh->f[SH_FIRST_NAME], *last = sh->f[SH_LAST_NAME];
	const char *written = stakeholder_get(sh, "display_name");
	if (nonempty(written))
		return xstrdup(written);
	if (nonempty(first) && nonempty(last)) {
		if (stakeholder_family_first(sh)) {
			/* Chinese, Japanese and Korean names run together: 王伟, 田中花子, 김민준. */
			int joined = name_script(last) != NS_OTHER && name_script(first) != NS_OTHER;
			return xasprintf("%s%s%s", last, joined ? "" : " ", first);
		}
		return xasprintf("%s %s", first, last);
	}
	if (nonempty(first))
		return xstrdup(first);
	if (nonempty(last))
		return xstrdup(last);
	if (nonempty(sh->f[SH_NICKNAME]))
		return xstrdup(sh->f[SH_NICKNAME]);
	return xstrdup(sh->f[SH_ID] ? sh->f[SH_ID] : "");
}

char *stakeholder_greeting_name(const struct stakeholder *sh)
{
	const char *first = sh->f[SH_FIRST_NAME], *last = sh->f[SH_LAST_NAME];
	if (nonempty(sh->f[SH_NICKNAME]))
		return xstrdup(sh->f[SH_NICKNAME]);
	/* A bare given name is too familiar in Chinese, Japanese and Korean: the whole name. */
	if (nonempty(first) && nonempty(last) && (name_script(first) != NS_OTHER || name_script(last) != NS_OTHER))
		return stakeholder_display_name(sh);
	return xstrdup(nonempty(first) ? first : "");
}

void stakeholder_clear(struct stakeholder *sh)
{
	if (!sh)
		return;
	for (int i = 0; i < SH_NFIELDS; i++)
		free(sh->f[i]);
	for (size_t i = 0; i < sh->ncustom; i++) {
		free(sh->custom[i].key);
		free(sh->custom[i].value);
	}
	free(sh->custom);
	memset(sh, 0, sizeof *sh);
}

void stakeholders_free(struct stakeholder *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		stakeholder_clear(&v[i]);
	free(v);
}

void event_clear(struct event *ev)
{
	if (!ev)
		return;
	free(ev->stakeholder_id);
	free(ev->kind);
	free(ev->date);
	free(ev->title);
	free(ev->details);
	memset(ev, 0, sizeof *ev);
}

void events_free(struct event *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		event_clear(&v[i]);
	free(v);
}

void dispatch_rec_clear(struct dispatch_rec *r)
{
	if (!r)
		return;
	free(r->rule);
	free(r->stakeholder);
	free(r->occasion_date);
	free(r->fire_date);
	free(r->reason);
	free(r->error);
	free(r->artifact);
	free(r->message_id);
	free(r->signer);
	free(r->template_name);
	free(r->last_reply);
	free(r->handled_by);
	memset(r, 0, sizeof *r);
}

void dispatch_recs_free(struct dispatch_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		dispatch_rec_clear(&v[i]);
	free(v);
}

/* ---- header names ---- */

/* A header name without its surrounding ASCII white space, as a (pointer, length) span. */
struct span {
	const char *s;
	size_t n;
};

static struct span trim_span(const char *s)
{
	struct span sp;
	size_t n = s ? strlen(s) : 0;
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	sp.s = s ? s : "";
	sp.n = n;
	return sp;
}

static int span_eq(struct span a, const char *b)
{
	/* The first byte first: every row looks each of its columns up among the standard names. */
	return (a.n ? a.s[0] == b[0] : b[0] == '\0') && strlen(b) == a.n && memcmp(a.s, b, a.n) == 0;
}

static int span_caseeq(struct span a, const char *b)
{
	if (strlen(b) != a.n)
		return 0;
	for (size_t i = 0; i < a.n; i++)
		if (tolower((unsigned char)a.s[i]) != (unsigned char)b[i])
			return 0;
	return 1;
}

static int lookup_span(struct span name, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (span_eq(name, names[i]))
			return i;
	return -1;
}

/* Names in messages: at most 64 bytes of the name (header names hold no control characters once checked). */
#define NAME_FMT "%.*s"
#define NAME_ARG(sp) (int)((sp).n > 64 ? 64 : (sp).n), (sp).s

int model_check_header(char *const *header, size_t n, int for_events, char err[ERR_LEN])
{
	const char *const *names = for_events ? ev_field_names : sh_field_names;
	int nnames = for_events ? EV_NFIELDS : SH_NFIELDS;
	int have[SH_NFIELDS] = {0};

	for (size_t i = 0; i < n; i++) {
		struct span name = trim_span(header[i]);
		int f;
		if (name.n == 0)
			return err_set(err, "column %zu: empty column name", i + 1);
		if (!util_utf8_valid(name.s, name.n))
			return err_set(err, "column %zu: name is not valid UTF-8", i + 1);
		for (size_t k = 0; k < name.n; k++)
			if ((unsigned char)name.s[k] < 0x20 || name.s[k] == 0x7f)
				return err_set(err, "column %zu: name holds a control character", i + 1);
		if (name.n > MODEL_MAX_COLUMN_NAME)
			return err_set(err, "column %zu: name longer than %d bytes", i + 1, MODEL_MAX_COLUMN_NAME);
		for (size_t j = 0; j < i; j++) {
			struct span other = trim_span(header[j]);
			if (other.n == name.n && memcmp(other.s, name.s, name.n) == 0)
				return err_set(err, "column " NAME_FMT ": duplicate column", NAME_ARG(name));
		}
		f = lookup_span(name, names, nnames);
		if (f >= 0) {
			have[f] = 1;
			continue;
		}
		for (int k = 0; k < nnames; k++)
			if (span_caseeq(name, names[k]))
				return err_set(err, "column " NAME_FMT ": column names are lower case (%s)",
				               NAME_ARG(name), names[k]);
		if (for_events)
			return err_set(err, "column " NAME_FMT ": unknown column (event columns: "
			               "stakeholder_id, kind, date, title, details)", NAME_ARG(name));
	}
	if (for_events) {
		for (int k = EV_STAKEHOLDER_ID; k <= EV_DATE; k++)
			if (!have[k])
				return err_set(err, "column %s: missing", ev_field_names[k]);
	} else {
		if (!have[SH_ID])
			return err_set(err, "column id: missing");
		if (!have[SH_FIRST_NAME])
			return err_set(err, "column first_name: missing");
	}
	return 0;
}

/* ---- values ---- */

/* first_ctl: the first control character (C0, DEL or C1) of valid UTF-8 s not in allow, or -1. */
static int32_t first_ctl(const char *s, const char *allow)
{
	const char *p = s, *end = s + strlen(s);
	while (p < end) {
		int32_t cp = util_utf8_next(&p, end);
		if ((cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) && !(cp > 0 && cp < 0x20 && strchr(allow, (int)cp)))
			return cp;
	}
	return -1;
}

/*
 * take_text: checks a raw field and returns a trimmed copy (caller frees), or NULL with err.
 * allow: the control characters allowed inside ("" none, "\t", "\t\n").
 */
static char *take_text(struct span col, const char *v, size_t len, size_t max, const char *allow,
                       char err[ERR_LEN])
{
	int32_t ctl;
	char *s;
	if (!v)
		v = "", len = 0;
	if (memchr(v, '\0', len))
		return err_set(err, "column " NAME_FMT ": holds a NUL byte", NAME_ARG(col)), NULL;
	if (!util_utf8_valid(v, len))
		return err_set(err, "column " NAME_FMT ": not valid UTF-8", NAME_ARG(col)), NULL;
	s = util_trim(xstrndup(v, len));
	if (strlen(s) > max) {
		free(s);
		return err_set(err, "column " NAME_FMT ": longer than %zu bytes", NAME_ARG(col), max), NULL;
	}
	ctl = first_ctl(s, allow);
	if (ctl >= 0) {
		free(s);
		return err_set(err, "column " NAME_FMT ": holds a control character (U+%04X)", NAME_ARG(col),
		               (unsigned)ctl), NULL;
	}
	return s;
}

/* crlf_to_lf: in place; a text edited on Windows keeps its line breaks as LF. */
static void crlf_to_lf(char *s)
{
	char *w = s;
	for (; *s; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*w++ = *s;
	*w = '\0';
}

/*
 * take_lines: take_text for a text that may span lines (a street, an event's details):
 * LF and the characters in allow pass, CRLF becomes LF, a bare CR is refused.
 */
static char *take_lines(struct span col, const char *v, size_t len, size_t max, const char *allow,
                        char err[ERR_LEN])
{
	char ok[8];
	char *s;
	snprintf(ok, sizeof ok, "\r\n%s", allow);
	s = take_text(col, v, len, max, ok, err);
	if (!s)
		return NULL;
	crlf_to_lf(s);
	if (strchr(s, '\r')) {
		free(s);
		return err_set(err, "column " NAME_FMT ": holds a control character (U+000D)", NAME_ARG(col)), NULL;
	}
	return s;
}

static void lower_ascii(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* valid_id: [A-Za-z0-9._@-]{1,64}. */
static int valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ID_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._@-", *s))
			return 0;
	return 1;
}

static int valid_kind(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > KIND_MAX)
		return 0;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int valid_iso(const char *s)
{
	day_t d;
	return dates_parse_iso(s, &d) == 0;
}

/* The values quoted in messages are short and free of control characters by then. */
#define VAL_FMT "\"%.64s\""

/* norm_standard: validates and normalises the value of standard field f in place (*v may be replaced). */
static int norm_standard(enum sh_field f, char **v, char err[ERR_LEN])
{
	char *s = *v;
	int b, m, d;

	switch (f) {
	case SH_ID:
		if (!*s)
			return err_set(err, "column id: missing");
		if (!valid_id(s))
			return err_set(err, "column id: " VAL_FMT " is not an id (1 to 64 of A-Z a-z 0-9 . _ @ -)", s);
		return 0;
	case SH_FIRST_NAME:
		if (!*s)
			return err_set(err, "column first_name: missing");
		return 0;
	case SH_TYPE:
		lower_ascii(s);
		if (!*s)
			return 0;
		for (size_t i = 0; i < sizeof sh_types / sizeof *sh_types; i++)
			if (strcmp(s, sh_types[i]) == 0)
				return 0;
		return err_set(err, "column type: " VAL_FMT " is not customer, employee, partner, supplier or other", s);
	case SH_PREFERRED_CHANNEL:
		lower_ascii(s);
		if (!*s || strcmp(s, "card") == 0 || strcmp(s, "email") == 0)
			return 0;
		return err_set(err, "column preferred_channel: " VAL_FMT " is not card or email", s);
	case SH_EMAIL:
	case SH_OWNER_EMAIL:
		if (*s && !mime_addr_valid(s))
			return err_set(err, "column %s: " VAL_FMT " is not an e-mail address", sh_field_names[f], s);
		return 0;
	case SH_TIMEZONE:
		if (*s && !dates_zone_valid(s))
			return err_set(err, "column timezone: " VAL_FMT " is not a time zone (e.g. Europe/Berlin)", s);
		return 0;
	case SH_BIRTHDAY:
		if (!*s || valid_iso(s))
			return 0;
		/* A birthday without a year: "--MM-DD" (ISO 8601), "MM-DD" accepted too. */
		if ((s[0] == '-' || isdigit((unsigned char)s[0])) && dates_parse_md(s, &m, &d) == 0) {
			*v = xasprintf("--%02d-%02d", m, d);
			free(s);
			return 0;
		}
		return err_set(err, "column birthday: " VAL_FMT " is not a date (YYYY-MM-DD, or --MM-DD without a year)", s);
	case SH_HIRE_DATE:
	case SH_CUSTOMER_SINCE:
	case SH_CONTRACT_RENEWAL:
		if (*s && !valid_iso(s))
			return err_set(err, "column %s: " VAL_FMT " is not a date (YYYY-MM-DD)", sh_field_names[f], s);
		return 0;
	case SH_CONSENT_PERSONAL:
	case SH_OPTED_OUT:
		if (util_parse_bool(s, &b) < 0)
			return err_set(err, "column %s: " VAL_FMT " is not yes, no, true, false, 1 or 0",
			               sh_field_names[f], s);
		*v = xstrdup(b ? "1" : "0");
		free(s);
		return 0;
	default:
		return 0;
	}
}

static size_t raw_len(const size_t *lens, char *const *values, size_t i)
{
	return lens ? lens[i] : (values[i] ? strlen(values[i]) : 0);
}

static int count_mismatch(size_t n, size_t nheader, char err[ERR_LEN])
{
	return err_set(err, "%zu field%s where the header has %zu", n, n == 1 ? "" : "s", nheader);
}

/*
 * A header resolved once for the rows under it: per column its trimmed name and its field (or
 * -1: custom), and what is wrong with it (reported at the column's turn in each row, so the
 * messages come in the order they always did).
 */
enum { COL_OK, COL_EMPTY, COL_DUP };
struct model_col {
	struct span name;
	int field;
	int state;
};
struct model_cols {
	struct model_col *c;
	size_t n;
};

struct model_cols *model_cols_new(char *const *header, size_t n)
{
	struct model_cols *mc = xcalloc(1, sizeof *mc);
	uint32_t seen = 0;
	mc->c = xcalloc(n ? n : 1, sizeof *mc->c);
	mc->n = n;
	for (size_t i = 0; i < n; i++) {
		struct model_col *c = &mc->c[i];
		c->name = trim_span(header[i]);
		c->field = lookup_span(c->name, sh_field_names, SH_NFIELDS);
		if (c->name.n == 0)
			c->state = COL_EMPTY;
		else if (c->field >= 0 && (seen & (1u << c->field)))
			c->state = COL_DUP;
		else if (c->field >= 0)
			seen |= 1u << c->field;
	}
	return mc;
}

void model_cols_free(struct model_cols *mc)
{
	if (!mc)
		return;
	free(mc->c);
	free(mc);
}

int model_stakeholder_from_cols(const struct model_cols *mc, char *const *values, const size_t *lens, size_t n,
                                struct stakeholder *sh, char err[ERR_LEN])
{
	size_t ncap = 0;

	stakeholder_clear(sh);
	if (n != mc->n)
		return count_mismatch(n, mc->n, err);
	for (size_t i = 0; i < n; i++) {
		const struct model_col *c = &mc->c[i];
		struct span col = c->name;
		int f = c->field;
		char *v;
		if (c->state == COL_EMPTY) {
			err_set(err, "column %zu: empty column name", i + 1);
			goto fail;
		}
		if (f >= 0) {
			if (c->state == COL_DUP) {
				err_set(err, "column %s: duplicate column", sh_field_names[f]);
				goto fail;
			}
			/* A street may span lines (RFC 4180 quoted newlines): the lines of the address. */
			if (f == SH_STREET)
				v = take_lines(col, values[i], raw_len(lens, values, i), MODEL_MAX_VALUE, "", err);
			else
				v = take_text(col, values[i], raw_len(lens, values, i), MODEL_MAX_VALUE, "", err);
			if (!v)
				goto fail;
			if (norm_standard((enum sh_field)f, &v, err) < 0) {
				free(v);
				goto fail;
			}
			sh->f[f] = v;
			sh->present |= 1u << f;
			continue;
		}
		v = take_text(col, values[i], raw_len(lens, values, i), CUSTOM_MAX, "\t", err);
		if (!v)
			goto fail;
		if (sh->ncustom == ncap) {
			ncap = ncap ? ncap * 2 : 8;
			sh->custom = xreallocarray(sh->custom, ncap, sizeof *sh->custom);
		}
		sh->custom[sh->ncustom].key = xstrndup(col.s, col.n);
		sh->custom[sh->ncustom].value = v;
		sh->ncustom++;
	}
	if (!sh->f[SH_ID] || !sh->f[SH_FIRST_NAME]) {
		err_set(err, "column %s: missing", sh->f[SH_ID] ? "first_name" : "id");
		goto fail;
	}
	for (int f = 0; f < SH_NFIELDS; f++)
		if (!sh->f[f])
			sh->f[f] = xstrdup("");
	return 0;
fail:
	stakeholder_clear(sh);
	return -1;
}

int model_stakeholder_from_row(char *const *header, size_t nheader, char *const *values,
                               const size_t *lens, size_t n, struct stakeholder *sh, char err[ERR_LEN])
{
	struct model_cols *mc;
	int rc;
	if (n != nheader) {
		stakeholder_clear(sh);
		return count_mismatch(n, nheader, err);
	}
	mc = model_cols_new(header, nheader);
	rc = model_stakeholder_from_cols(mc, values, lens, n, sh, err);
	model_cols_free(mc);
	return rc;
}

int model_event_from_row(char *const *header, size_t nheader, char *const *values,
                         const size_t *lens, size_t n, struct event *ev, char err[ERR_LEN])
{
	char *vals[EV_NFIELDS] = {0};

	event_clear(ev);
	if (n != nheader)
		return count_mismatch(n, nheader, err);
	for (size_t i = 0; i < n; i++) {
		struct span col = trim_span(header[i]);
		int f = lookup_span(col, ev_field_names, EV_NFIELDS);
		size_t len = raw_len(lens, values, i);
		char *v;
		if (f < 0) {
			err_set(err, "column " NAME_FMT ": unknown column (event columns: "
			        "stakeholder_id, kind, date, title, details)", NAME_ARG(col));
			goto fail;
		}
		if (vals[f]) {
			err_set(err, "column %s: duplicate column", ev_field_names[f]);
			goto fail;
		}
		if (f == EV_DETAILS)
			v = take_lines(col, values[i], len, MODEL_MAX_DETAILS, "\t", err);
		else
			v = take_text(col, values[i], len, MODEL_MAX_VALUE, "", err);
		if (!v)
			goto fail;
		vals[f] = v;
	}
	for (int f = 0; f < EV_NFIELDS; f++)
		if (!vals[f])
			vals[f] = xstrdup("");
	if (!*vals[EV_STAKEHOLDER_ID]) {
		err_set(err, "column stakeholder_id: missing");
		goto fail;
	}
	if (!valid_id(vals[EV_STAKEHOLDER_ID])) {
		err_set(err, "column stakeholder_id: " VAL_FMT " is not an id (1 to 64 of A-Z a-z 0-9 . _ @ -)",
		        vals[EV_STAKEHOLDER_ID]);
		goto fail;
	}
	lower_ascii(vals[EV_KIND]);
	if (!*vals[EV_KIND]) {
		err_set(err, "column kind: missing");
		goto fail;
	}
	if (!valid_kind(vals[EV_KIND])) {
		err_set(err, "column kind: " VAL_FMT " is not a kind (1 to 64 of a-z 0-9 _ -)", vals[EV_KIND]);
		goto fail;
	}
	if (!*vals[EV_DATE]) {
		err_set(err, "column date: missing");
		goto fail;
	}
	if (!valid_iso(vals[EV_DATE])) {
		err_set(err, "column date: " VAL_FMT " is not a date (YYYY-MM-DD)", vals[EV_DATE]);
		goto fail;
	}
	ev->stakeholder_id = vals[EV_STAKEHOLDER_ID];
	ev->kind = vals[EV_KIND];
	ev->date = vals[EV_DATE];
	ev->title = vals[EV_TITLE];
	ev->details = vals[EV_DETAILS];
	return 0;
fail:
	for (int f = 0; f < EV_NFIELDS; f++)
		free(vals[f]);
	return -1;
}
