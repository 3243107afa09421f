/*
 * davxml: a DAV:multistatus through expat's streaming parser with namespaces resolved
 * ("DAV: href"). Elements are matched by their place (multistatus > response > propstat >
 * prop > getetag), everything else is skipped; text is gathered only inside the few elements
 * kept, each within its own limit, so a hostile answer costs at most what it takes to read it.
 * A propstat's values are taken only once its status says 2xx (the status comes after them).
 */
#include "occasiond/davxml.h"

#include <expat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_DAV "DAV:"
#define NS_CARD "urn:ietf:params:xml:ns:carddav"

enum el {
	EL_OTHER, EL_MULTISTATUS, EL_RESPONSE, EL_HREF, EL_STATUS, EL_PROPSTAT, EL_PROP, EL_GETETAG,
	EL_ADDRESS_DATA, EL_SYNC_TOKEN
};

struct parse {
	XML_Parser p;
	struct dav_multistatus *ms;
	size_t max_items, max_data;
	enum el stack[DAVXML_MAX_DEPTH];
	int depth;
	int in_text;             /* gathering text into text */
	struct strbuf text;
	size_t text_max;
	/* the response being read */
	struct dav_item cur;
	int have_href;
	/* the propstat being read */
	char *ps_etag, *ps_data;
	size_t ps_data_len;
	int ps_status;
	char err[ERR_LEN];
	int failed;
};

static enum el classify(const char *name)
{
	const char *sp = strchr(name, ' '), *local;
	size_t nslen;
	if (!sp)
		return EL_OTHER;   /* no namespace: not a DAV element */
	nslen = (size_t)(sp - name);
	local = sp + 1;
	if (nslen == strlen(NS_DAV) && strncmp(name, NS_DAV, nslen) == 0) {
		static const struct {
			const char *name;
			enum el el;
		} dav[] = {{"multistatus", EL_MULTISTATUS}, {"response", EL_RESPONSE}, {"href", EL_HREF},
		           {"status", EL_STATUS},           {"propstat", EL_PROPSTAT}, {"prop", EL_PROP},
		           {"getetag", EL_GETETAG},         {"sync-token", EL_SYNC_TOKEN}};
		for (size_t i = 0; i < sizeof dav / sizeof *dav; i++)
			if (strcmp(local, dav[i].name) == 0)
				return dav[i].el;
	} else if (nslen == strlen(NS_CARD) && strncmp(name, NS_CARD, nslen) == 0 && strcmp(local, "address-data") == 0) {
		return EL_ADDRESS_DATA;
	}
	return EL_OTHER;
}

static void fail(struct parse *ps, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	if (ps->failed)
		return;
	ps->failed = 1;
	snprintf(ps->err, sizeof ps->err, "line %lu: ", (unsigned long)XML_GetCurrentLineNumber(ps->p));
	n = strlen(ps->err);
	va_start(ap, fmt);
	vsnprintf(ps->err + n, sizeof ps->err - n, fmt, ap);
	va_end(ap);
	XML_StopParser(ps->p, XML_FALSE);
}

static enum el parent(const struct parse *ps)
{
	return ps->depth > 0 ? ps->stack[ps->depth - 1] : EL_OTHER;
}

static void begin_text(struct parse *ps, size_t max)
{
	ps->in_text = 1;
	ps->text_max = max;
	sb_reset(&ps->text);
	sb_addn(&ps->text, "", 0);
}

static void XMLCALL on_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct parse *ps = arg;
	enum el e = classify(name), up = parent(ps);
	(void)atts;
	if (ps->failed)
		return;
	if (ps->depth == 0 && e != EL_MULTISTATUS) {
		fail(ps, "%s", "the answer is not a DAV multistatus");
		return;
	}
	if (ps->depth >= DAVXML_MAX_DEPTH) {
		fail(ps, "elements nested deeper than %d", DAVXML_MAX_DEPTH);
		return;
	}
	if (ps->in_text) {
		/* Markup inside a value (address-data is text, an href is text). */
		fail(ps, "%s", "an element inside a text value");
		return;
	}
	/* An element counts only in its place; anywhere else it is skipped like any unknown one. */
	switch (e) {
	case EL_MULTISTATUS: if (ps->depth != 0) e = EL_OTHER; break;
	case EL_RESPONSE: if (up != EL_MULTISTATUS) e = EL_OTHER; break;
	case EL_SYNC_TOKEN: if (up != EL_MULTISTATUS) e = EL_OTHER; break;
	case EL_HREF: if (up != EL_RESPONSE) e = EL_OTHER; break;
	case EL_STATUS: if (up != EL_RESPONSE && up != EL_PROPSTAT) e = EL_OTHER; break;
	case EL_PROPSTAT: if (up != EL_RESPONSE) e = EL_OTHER; break;
	case EL_PROP: if (up != EL_PROPSTAT) e = EL_OTHER; break;
	case EL_GETETAG: case EL_ADDRESS_DATA: if (up != EL_PROP) e = EL_OTHER; break;
	default: break;
	}
	/* Inside a skipped element nothing counts. */
	for (int i = 0; i < ps->depth; i++)
		if (ps->stack[i] == EL_OTHER)
			e = EL_OTHER;
	ps->stack[ps->depth++] = e;
	switch (e) {
	case EL_RESPONSE:
		if (ps->ms->n >= ps->max_items) {
			fail(ps, "more than %zu entries in one answer", ps->max_items);
			return;
		}
		memset(&ps->cur, 0, sizeof ps->cur);
		ps->have_href = 0;
		break;
	case EL_PROPSTAT:
		free(ps->ps_etag);
		free(ps->ps_data);
		ps->ps_etag = ps->ps_data = NULL;
		ps->ps_data_len = 0;
		ps->ps_status = 0;
		break;
	case EL_HREF:
	case EL_STATUS:
	case EL_GETETAG:
	case EL_SYNC_TOKEN:
		begin_text(ps, DAVXML_MAX_HREF);
		break;
	case EL_ADDRESS_DATA:
		begin_text(ps, ps->max_data);
		break;
	default:
		break;
	}
}

static void XMLCALL on_text(void *arg, const XML_Char *s, int len)
{
	struct parse *ps = arg;
	if (ps->failed || !ps->in_text)
		return;
	if (ps->text.len + (size_t)len > ps->text_max) {
		fail(ps, "a value longer than %zu bytes", ps->text_max);
		return;
	}
	sb_addn(&ps->text, s, (size_t)len);
}

/* one_line: the gathered text trimmed; a control character (a NUL too) in it is an error. */
static char *one_line(struct parse *ps, const char *what)
{
	const char *s = ps->text.s ? ps->text.s : "";
	size_t n = ps->text.len;
	char *v;
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	v = xstrndup(s, n);
	if (strlen(v) != n || util_has_ctl(v, NULL)) {
		free(v);
		fail(ps, "%s holds a control character", what);
		return NULL;
	}
	return v;
}

/* parse_status: "HTTP/1.1 404 Not Found" -> 404; 0 when not a status line. */
static int parse_status(const char *s)
{
	const char *sp = strchr(s, ' ');
	int v = 0;
	if (strncmp(s, "HTTP/", 5) != 0 || !sp)
		return 0;
	for (int i = 1; i <= 3; i++) {
		if (sp[i] < '0' || sp[i] > '9')
			return 0;
		v = v * 10 + (sp[i] - '0');
	}
	return (sp[4] == ' ' || sp[4] == '\0') && v >= 100 ? v : 0;
}

static void XMLCALL on_end(void *arg, const XML_Char *name)
{
	struct parse *ps = arg;
	enum el e, up;
	char *v = NULL;
	(void)name;
	if (ps->failed || ps->depth == 0)
		return;
	e = ps->stack[--ps->depth];
	up = parent(ps);
	if (ps->in_text && e != EL_ADDRESS_DATA) {
		ps->in_text = 0;
		if (!(v = one_line(ps, e == EL_HREF ? "an href" : e == EL_SYNC_TOKEN ? "the sync-token" :
		                         e == EL_GETETAG ? "an etag" : "a status")))
			return;
	}
	switch (e) {
	case EL_HREF:
		if (ps->have_href) {
			fail(ps, "%s", "a response with more than one href");
			break;
		}
		if (!*v) {
			fail(ps, "%s", "an empty href");
			break;
		}
		ps->cur.href = v;
		v = NULL;
		ps->have_href = 1;
		break;
	case EL_STATUS: {
		int st = parse_status(v);
		if (!st) {
			fail(ps, "'%.80s' is not an HTTP status line", v);
			break;
		}
		if (up == EL_RESPONSE)
			ps->cur.status = st;
		else
			ps->ps_status = st;
		break;
	}
	case EL_GETETAG:
		free(ps->ps_etag);
		ps->ps_etag = v;
		v = NULL;
		break;
	case EL_ADDRESS_DATA:
		ps->in_text = 0;
		free(ps->ps_data);
		ps->ps_data_len = ps->text.len;
		ps->ps_data = sb_detach(&ps->text);
		if (!ps->ps_data)
			ps->ps_data = xstrdup("");
		break;
	case EL_SYNC_TOKEN:
		free(ps->ms->sync_token);
		ps->ms->sync_token = v;
		v = NULL;
		break;
	case EL_PROPSTAT:
		if (ps->ps_status >= 200 && ps->ps_status < 300) {
			if (ps->ps_etag) {
				free(ps->cur.etag);
				ps->cur.etag = ps->ps_etag;
				ps->ps_etag = NULL;
			}
			if (ps->ps_data) {
				free(ps->cur.data);
				ps->cur.data = ps->ps_data;
				ps->cur.data_len = ps->ps_data_len;
				ps->ps_data = NULL;
			}
			if (!ps->cur.status)
				ps->cur.status = ps->ps_status;
		}
		break;
	case EL_RESPONSE:
		if (!ps->have_href) {
			fail(ps, "%s", "a response without an href");
			break;
		}
		if (ps->ms->n % 64 == 0)
			ps->ms->items = xreallocarray(ps->ms->items, ps->ms->n + 64, sizeof *ps->ms->items);
		ps->ms->items[ps->ms->n++] = ps->cur;
		memset(&ps->cur, 0, sizeof ps->cur);
		ps->have_href = 0;
		break;
	default:
		break;
	}
	free(v);
}

static void XMLCALL on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
	struct parse *ps = arg;
	(void)name, (void)sysid, (void)pubid, (void)has_internal;
	fail(ps, "%s", "a document type declaration (not allowed in an answer)");
}

static void item_free(struct dav_item *it)
{
	free(it->href);
	free(it->etag);
	free(it->data);
	memset(it, 0, sizeof *it);
}

void davxml_free(struct dav_multistatus *ms)
{
	if (!ms)
		return;
	for (size_t i = 0; i < ms->n; i++)
		item_free(&ms->items[i]);
	free(ms->items);
	free(ms->sync_token);
	memset(ms, 0, sizeof *ms);
}

int davxml_parse(const char *body, size_t len, size_t max_items, size_t max_data, struct dav_multistatus *out,
                 char err[ERR_LEN])
{
	struct parse ps;
	int rc = -1;

	memset(out, 0, sizeof *out);
	memset(&ps, 0, sizeof ps);
	ps.ms = out;
	ps.max_items = max_items;
	ps.max_data = max_data;
	if (len > (size_t)INT32_MAX)
		return err_set(err, "the answer is too large");
	ps.p = XML_ParserCreateNS(NULL, ' ');
	if (!ps.p)
		return err_set(err, "out of memory");
	XML_SetUserData(ps.p, &ps);
	XML_SetElementHandler(ps.p, on_start, on_end);
	XML_SetCharacterDataHandler(ps.p, on_text);
	XML_SetStartDoctypeDeclHandler(ps.p, on_doctype);
	if (XML_Parse(ps.p, body, (int)len, XML_TRUE) != XML_STATUS_OK) {
		if (!ps.failed)
			snprintf(ps.err, sizeof ps.err, "line %lu: %s", (unsigned long)XML_GetCurrentLineNumber(ps.p),
			         XML_ErrorString(XML_GetErrorCode(ps.p)));
		err_set(err, "%s", ps.err);
		goto out;
	}
	if (ps.failed) {
		err_set(err, "%s", ps.err);
		goto out;
	}
	rc = 0;
out:
	XML_ParserFree(ps.p);
	sb_free(&ps.text);
	free(ps.ps_etag);
	free(ps.ps_data);
	item_free(&ps.cur);
	if (rc != 0)
		davxml_free(out);
	return rc;
}

void davxml_escape(const char *s, struct strbuf *out)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': sb_adds(out, "&amp;"); break;
		case '<': sb_adds(out, "&lt;"); break;
		case '>': sb_adds(out, "&gt;"); break;
		case '"': sb_adds(out, "&quot;"); break;
		default: sb_addc(out, *s); break;
		}
	}
}
