/*
 * carddav: one pull of an address book. Three phases, so that nothing is half-written:
 *   1. list: sync-collection (RFC 6578) from the kept sync-token, or from none (the whole
 *      book); a refused token starts over from none; a server without the report is listed
 *      with PROPFIND and its ETags compared with the kept ones;
 *   2. fetch: the cards whose ETag is new or moved, CARDDAV_BATCH at a time with
 *      addressbook-multiget, each read by vcard.c and mapped like an imported vCard into a
 *      stakeholder in memory;
 *   3. write: one store transaction with the stakeholders, the gone marks and the new state.
 * The network is only touched in 1 and 2, the store only in 3 (and for reading the state).
 */
#include "occasiond/carddav.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "occasiond/davxml.h"
#include "occasiond/import_map.h"
#include "occasiond/model.h"
#include "occasiond/net.h"
#include "occasiond/vcard.h"

#define LIST_MAX_BYTES (64u * 1024 * 1024)   /* a listing of CARDDAV_MAX_CONTACTS fits */
#define FETCH_MAX_BYTES (64u * 1024 * 1024)
#define REQUEST_SECS 300      /* a big book on a slow server: its first listing may take minutes */
#define PASSWORD_MAX 1024
#define GONE_FIELD "gone"
#define GONE_WAS_OPTED_OUT " (opted out before)"

/* One contact of the kept state: where it is, its ETag, the stakeholder it became. */
struct entry {
	char *href, *etag, *id;
};

struct state {
	struct entry *v;
	size_t n, cap;
};

/* A card fetched in this pull. */
struct change {
	char *href, *etag;
	struct stakeholder sh;
};

struct syncer {
	const struct config_source *src;
	struct store *st;
	struct imap *map;
	char password[PASSWORD_MAX];
	struct state old;          /* as kept, sorted by href */
	char *token;               /* kept sync-token, or NULL */
	char *new_token;
	char **removed;            /* hrefs the server says are gone */
	size_t nremoved, capremoved;
	char **want;               /* hrefs to fetch, with the ETag listed */
	char **want_etag;
	size_t nwant, capwant, nwant_etag, capwant_etag;
	unsigned char *answered;   /* per want: the multiget answered for it */
	struct change *ch;
	size_t nch, capch;
	char **listed;             /* a full listing: every href the server has */
	size_t nlisted, caplisted;
	struct carddav_stats *stats;
};

/* sort: qsort that takes an empty (NULL) array too. */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

static void *grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	return xreallocarray(p, *cap, size);
}

static void push(char ***v, size_t *n, size_t *cap, char *s)
{
	*v = grow(*v, *n, cap, sizeof **v);
	(*v)[(*n)++] = s;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->href, ((const struct entry *)b)->href);
}

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].href);
		free(s->v[i].etag);
		free(s->v[i].id);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void state_add(struct state *s, const char *href, const char *etag, const char *id)
{
	s->v = grow(s->v, s->n, &s->cap, sizeof *s->v);
	s->v[s->n].href = xstrdup(href);
	s->v[s->n].etag = xstrdup(etag ? etag : "");
	s->v[s->n].id = xstrdup(id);
	s->n++;
}

static const struct entry *state_find(const struct state *s, const char *href)
{
	struct entry key = {(char *)href, NULL, NULL};
	return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, entry_cmp) : NULL;
}

/* state_parse: the kept "HREF TAB ETAG TAB ID" lines; a damaged line is an error, not skipped. */
static int state_parse(const char *text, struct state *s, char err[ERR_LEN])
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n'), *t1, *t2;
		char *href, *etag, *id;
		if (!nl)
			nl = p + strlen(p);
		t1 = memchr(p, '\t', (size_t)(nl - p));
		t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1)) : NULL;
		if (!t2 || t1 == p || t2 + 1 == nl)
			return err_set(err, "the kept state of the source is damaged (store meta)");
		href = xstrndup(p, (size_t)(t1 - p));
		etag = xstrndup(t1 + 1, (size_t)(t2 - t1 - 1));
		id = xstrndup(t2 + 1, (size_t)(nl - t2 - 1));
		state_add(s, href, etag, id);
		free(href);
		free(etag);
		free(id);
		p = *nl ? nl + 1 : nl;
	}
	sort(s->v, s->n, sizeof *s->v, entry_cmp);
	return 0;
}

static char *meta_key(const struct config_source *src, const char *what)
{
	return xasprintf("carddav:%s:%s", src->id, what);
}

/* load_state: the token, the URL it belongs to and the items, as kept. */
static int load_state(struct syncer *sy, char err[ERR_LEN])
{
	char *k, *v = NULL, *url = NULL;
	int rc;
	k = meta_key(sy->src, "items");
	rc = store_meta_get(sy->st, k, &v, err);
	free(k);
	if (rc < 0)
		return -1;
	if (rc == 0 && state_parse(v, &sy->old, err) != 0) {
		free(v);
		return -1;
	}
	free(v);
	k = meta_key(sy->src, "url");
	rc = store_meta_get(sy->st, k, &url, err);
	free(k);
	if (rc < 0)
		return -1;
	k = meta_key(sy->src, "token");
	rc = store_meta_get(sy->st, k, &sy->token, err);
	free(k);
	if (rc < 0) {
		free(url);
		return -1;
	}
	/* A token of another URL means nothing here: start from the whole book. */
	if (sy->token && (!*sy->token || !url || strcmp(url, sy->src->url) != 0)) {
		free(sy->token);
		sy->token = NULL;
	}
	free(url);
	return 0;
}

/* read_password: the first line of the private password file, checked again now. */
static int read_password(const char *path, char *out, size_t size, char err[ERR_LEN])
{
	struct stat st;
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(err, "password_file: cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))) {
		close(fd);
		return err_set(err, "password_file: %s must be a regular file readable by its owner only (chmod 600)", path);
	}
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return err_set(err, "password_file: cannot read %s: %s", path, strerror(errno));
	out[n] = '\0';
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	if (len == 0 || len != strlen(out) || (size_t)n == size - 1)
		return err_set(err, "password_file: %s must hold one line of at most %zu bytes", path, size - 2);
	return 0;
}

/* url_host: the host of a URL, printable and bounded, for messages. */
static void url_host(const char *url, char *out, size_t size)
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t k = 0;
	p = p ? p + 3 : url ? url : "";
	for (; *p && *p != '/' && *p != '?' && *p != '#' && k + 1 < size; p++)
		out[k++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
	out[k] = '\0';
}

/* request: one DAV request to the address book; the status checked by the caller. */
static int request(struct syncer *sy, const char *method, const char *depth, const struct strbuf *body,
                   size_t max, struct net_response *rs, char err[ERR_LEN])
{
	char dh[32];
	/* "Expect:" off: a server that never answers 100 Continue would cost a second a request. */
	const char *headers[3] = {"Content-Type: application/xml; charset=utf-8", dh, "Expect:"};
	struct net_request rq = {0};
	snprintf(dh, sizeof dh, "Depth: %s", depth);
	rq.method = method;
	rq.url = sy->src->url;
	rq.headers = headers;
	rq.nheaders = 3;
	rq.body = body->s;
	rq.body_len = body->len;
	rq.max_response = max;
	rq.timeout_secs = REQUEST_SECS;
	rq.ca_file = sy->src->ca_file;
	rq.username = sy->src->username;
	rq.password = sy->src->username ? sy->password : NULL;
	rq.allow_http = sy->src->allow_http;
	if (net_request(&rq, rs, err) != NET_OK)
		return -1;
	return 0;
}

/* status_error: the words for an answer that is not the multistatus asked for. */
static int status_error(const char *what, const struct net_response *rs, char err[ERR_LEN])
{
	char host[128];
	if (rs->status == 401)
		return err_set(err, "%s: the server refused the login (401): check username and password_file", what);
	if (rs->status == 403)
		return err_set(err, "%s: access forbidden (403)", what);
	if (rs->status == 404)
		return err_set(err, "%s: no address book at that URL (404)", what);
	if (rs->status >= 300 && rs->status < 400) {
		url_host(rs->location, host, sizeof host);
		return err_set(err, "%s: the server redirects (%ld) to %s; redirects are not followed: put the address "
		               "book's own URL in the config", what, rs->status, rs->location ? host : "(no Location)");
	}
	return err_set(err, "%s: the server answered %ld", what, rs->status);
}

/* is_member: an href of a contact (not the collection itself, nor a sub-collection). */
static int is_member(const char *href)
{
	size_t n = strlen(href);
	return n > 0 && href[n - 1] != '/';
}

/* take_listing: the listing's entries into removed and want (an ETag that did not move is kept). */
static int take_listing(struct syncer *sy, struct dav_multistatus *ms, int full, char err[ERR_LEN])
{
	for (size_t i = 0; i < ms->n; i++) {
		struct dav_item *it = &ms->items[i];
		const struct entry *e;
		if (!is_member(it->href))
			continue;
		if (strchr(it->href, '\t') || (it->etag && strchr(it->etag, '\t')))
			return err_set(err, "an href or etag holds a tab");
		if (it->status == 404) {
			if (!full)
				push(&sy->removed, &sy->nremoved, &sy->capremoved, xstrdup(it->href));
			continue;
		}
		if (it->status && (it->status < 200 || it->status >= 300))
			continue;
		if (full)
			push(&sy->listed, &sy->nlisted, &sy->caplisted, xstrdup(it->href));
		if (sy->nlisted > CARDDAV_MAX_CONTACTS)
			return err_set(err, "more than %d contacts in the address book", CARDDAV_MAX_CONTACTS);
		sy->stats->listed++;
		e = state_find(&sy->old, it->href);
		if (e && it->etag && *e->etag && strcmp(e->etag, it->etag) == 0)
			continue;
		push(&sy->want, &sy->nwant, &sy->capwant, xstrdup(it->href));
		push(&sy->want_etag, &sy->nwant_etag, &sy->capwant_etag, xstrdup(it->etag ? it->etag : ""));
	}
	return 0;
}

/* list_sync: sync-collection from token (NULL: the whole book). 0, 1 when the server has no such report, 2 when it refused the token, -1. */
static int list_sync(struct syncer *sy, const char *token, char err[ERR_LEN])
{
	struct strbuf body = {0};
	struct net_response rs = {0};
	struct dav_multistatus ms = {0};
	char perr[ERR_LEN];
	int rc = -1;

	sb_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:sync-collection xmlns:D=\"DAV:\">");
	if (token) {
		sb_adds(&body, "<D:sync-token>");
		davxml_escape(token, &body);
		sb_adds(&body, "</D:sync-token>");
	} else {
		sb_adds(&body, "<D:sync-token/>");
	}
	sb_adds(&body, "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>\n");
	if (request(sy, "REPORT", "0", &body, LIST_MAX_BYTES, &rs, err) != 0)
		goto out;
	if (rs.status != 207) {
		/* A refused token (403 valid-sync-token, or another 4xx/5xx): start over from none;
		 * without a token, an answer that says "no such report": list by ETags instead. */
		if (token && rs.status >= 400 && rs.status != 401)
			rc = 2;
		else if (!token && (rs.status == 400 || rs.status == 403 || rs.status == 405 || rs.status == 415 ||
		                    rs.status == 422 || rs.status == 501))
			rc = 1;
		else
			status_error("sync-collection", &rs, err);
		goto out;
	}
	if (davxml_parse(rs.body, rs.len, CARDDAV_MAX_CONTACTS + 1, 0, &ms, perr) != 0) {
		err_set(err, "sync-collection: a broken answer: %s", perr);
		goto out;
	}
	if (take_listing(sy, &ms, token == NULL, err) != 0)
		goto out;
	sy->new_token = ms.sync_token;
	ms.sync_token = NULL;
	rc = 0;
out:
	davxml_free(&ms);
	net_response_free(&rs);
	sb_free(&body);
	return rc;
}

/* list_etags: PROPFIND Depth 1 of every member's ETag: always the whole book. */
static int list_etags(struct syncer *sy, char err[ERR_LEN])
{
	struct strbuf body = {0};
	struct net_response rs = {0};
	struct dav_multistatus ms = {0};
	char perr[ERR_LEN];
	int rc = -1;

	sb_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/>"
	               "</D:prop></D:propfind>\n");
	if (request(sy, "PROPFIND", "1", &body, LIST_MAX_BYTES, &rs, err) != 0)
		goto out;
	if (rs.status != 207) {
		status_error("PROPFIND", &rs, err);
		goto out;
	}
	if (davxml_parse(rs.body, rs.len, CARDDAV_MAX_CONTACTS + 1, 0, &ms, perr) != 0) {
		err_set(err, "PROPFIND: a broken answer: %s", perr);
		goto out;
	}
	rc = take_listing(sy, &ms, 1, err);
out:
	davxml_free(&ms);
	net_response_free(&rs);
	sb_free(&body);
	return rc;
}

/* card_to_sh: one vCard (exactly one) as the stakeholder the map makes of it. */
static int card_to_sh(struct syncer *sy, const char *href, const char *data, size_t len, struct stakeholder *sh,
                      char err[ERR_LEN])
{
	struct vcard_reader *r = NULL;
	struct csv_record rec;
	char *const *vals, *const *names;
	const size_t *lens;
	size_t n;
	char e2[ERR_LEN];
	int rc = -1, more;

	if (vcard_open_mem(href, data, len, &r, err) != 0)
		return -1;
	more = vcard_next(r, &rec, err);
	if (more == 0)
		err_set(err, "%s: error: no vCard in it", href);
	if (more != 1)
		goto out;
	names = imap_header(sy->map, &n);
	if (imap_row(sy->map, rec.fields, rec.lens, rec.n, &vals, &lens, e2) != 0 ||
	    model_stakeholder_from_row(names, n, vals, lens, n, sh, e2) != 0) {
		err_set(err, "%s: error: %s", href, e2);
		goto out;
	}
	more = vcard_next(r, &rec, e2);
	if (more != 0) {
		err_set(err, "%s: error: more than one vCard in one contact", href);
		goto out;
	}
	rc = 0;
out:
	vcard_close(r);
	return rc;
}

/* want_index: where href is in want (the fetch asked for it), or -1. */
static long want_index(const struct syncer *sy, const char *href, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (strcmp(sy->want[i], href) == 0)
			return (long)i;
	return -1;
}

/* fetch: addressbook-multiget of want[from..to). */
static int fetch(struct syncer *sy, size_t from, size_t to, char err[ERR_LEN])
{
	struct strbuf body = {0};
	struct net_response rs = {0};
	struct dav_multistatus ms = {0};
	char perr[ERR_LEN];
	int rc = -1;

	sb_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:addressbook-multiget xmlns:D=\"DAV:\" "
	               "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:prop><D:getetag/><C:address-data/></D:prop>");
	for (size_t i = from; i < to; i++) {
		sb_adds(&body, "<D:href>");
		davxml_escape(sy->want[i], &body);
		sb_adds(&body, "</D:href>");
	}
	sb_adds(&body, "</C:addressbook-multiget>\n");
	if (request(sy, "REPORT", "0", &body, FETCH_MAX_BYTES, &rs, err) != 0)
		goto out;
	if (rs.status != 207) {
		status_error("addressbook-multiget", &rs, err);
		goto out;
	}
	if (davxml_parse(rs.body, rs.len, (to - from) * 2 + 1, VCARD_MAX_CARD, &ms, perr) != 0) {
		err_set(err, "addressbook-multiget: a broken answer: %s", perr);
		goto out;
	}
	for (size_t i = 0; i < ms.n; i++) {
		struct dav_item *it = &ms.items[i];
		long w = want_index(sy, it->href, from, to);
		struct change *c;
		if (w < 0)
			continue;   /* not asked for: nothing to do with it */
		if (sy->answered[w]) {
			err_set(err, "addressbook-multiget: %.300s answered twice", it->href);
			goto out;
		}
		sy->answered[w] = 1;
		if (!it->data) {
			/* Deleted since it was listed: gone as if the listing had said so. */
			if (it->status == 404)
				push(&sy->removed, &sy->nremoved, &sy->capremoved, xstrdup(it->href));
			continue;
		}
		if (it->etag && strchr(it->etag, '\t')) {
			err_set(err, "an etag holds a tab");
			goto out;
		}
		sy->ch = grow(sy->ch, sy->nch, &sy->capch, sizeof *sy->ch);
		c = &sy->ch[sy->nch];
		memset(c, 0, sizeof *c);
		if (card_to_sh(sy, it->href, it->data, it->data_len, &c->sh, err) != 0) {
			stakeholder_clear(&c->sh);
			goto out;
		}
		c->href = xstrdup(it->href);
		c->etag = xstrdup(it->etag ? it->etag : sy->want_etag[w]);
		sy->nch++;
		sy->stats->fetched++;
	}
	rc = 0;
out:
	davxml_free(&ms);
	net_response_free(&rs);
	sb_free(&body);
	return rc;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has(char **sorted, size_t n, const char *s)
{
	return n && bsearch(&s, sorted, n, sizeof *sorted, str_cmp) != NULL;
}

/*
 * new_state: the state after this pull: the kept entries less those removed (or, on a full
 * listing, not listed) and those fetched anew, plus the fetched ones. Sorted by href.
 */
static void new_state(struct syncer *sy, struct state *out)
{
	char **fetched = xcalloc(sy->nch + 1, sizeof *fetched);
	for (size_t i = 0; i < sy->nch; i++)
		fetched[i] = sy->ch[i].href;
	sort(fetched, sy->nch, sizeof *fetched, str_cmp);
	sort(sy->removed, sy->nremoved, sizeof *sy->removed, str_cmp);
	sort(sy->listed, sy->nlisted, sizeof *sy->listed, str_cmp);
	for (size_t i = 0; i < sy->old.n; i++) {
		const struct entry *e = &sy->old.v[i];
		if (has(fetched, sy->nch, e->href) || has(sy->removed, sy->nremoved, e->href))
			continue;
		if (sy->stats->full && !has(sy->listed, sy->nlisted, e->href))
			continue;
		state_add(out, e->href, e->etag, e->id);
	}
	for (size_t i = 0; i < sy->nch; i++)
		state_add(out, sy->ch[i].href, sy->ch[i].etag, sy->ch[i].sh.f[SH_ID]);
	sort(out->v, out->n, sizeof *out->v, entry_cmp);
	free(fetched);
}

static int entry_id_cmp(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
	int c = strcmp(x->id, y->id);
	return c ? c : strcmp(x->href, y->href);
}

/* check_unique: two contacts of the book that become one stakeholder cannot both be right. */
static int check_unique(const struct state *s, char err[ERR_LEN])
{
	const struct entry **v = xcalloc(s->n + 1, sizeof *v);
	int rc = 0;
	for (size_t i = 0; i < s->n; i++)
		v[i] = &s->v[i];
	sort(v, s->n, sizeof *v, entry_id_cmp);
	for (size_t i = 1; i < s->n && rc == 0; i++)
		if (strcmp(v[i - 1]->id, v[i]->id) == 0)
			rc = err_set(err, "%.300s and %.300s are both the stakeholder '%s' (the same UID)", v[i - 1]->href,
			             v[i]->href, v[i]->id);
	free(v);
	return rc;
}

static void set_custom(struct stakeholder *sh, const char *key, const char *value)
{
	for (size_t i = 0; i < sh->ncustom; i++)
		if (strcmp(sh->custom[i].key, key) == 0) {
			free(sh->custom[i].value);
			sh->custom[i].value = xstrdup(value);
			return;
		}
	sh->custom = xreallocarray(sh->custom, sh->ncustom + 1, sizeof *sh->custom);
	sh->custom[sh->ncustom].key = xstrdup(key);
	sh->custom[sh->ncustom].value = xstrdup(value);
	sh->ncustom++;
}

/* put_fetched: a fetched contact; one that was gone comes back (opted out again only if it was before). */
static int put_fetched(struct syncer *sy, struct stakeholder *sh, char err[ERR_LEN])
{
	struct stakeholder old = {0};
	int found = 0;
	const char *g;
	if (store_get_stakeholder(sy->st, sh->f[SH_ID], &old, &found, err) != 0)
		return -1;
	if (found && (g = stakeholder_get(&old, GONE_FIELD)) && *g) {
		free(sh->f[SH_OPTED_OUT]);
		sh->f[SH_OPTED_OUT] = xstrdup(strstr(g, GONE_WAS_OPTED_OUT) ? "1" : "0");
		sh->present |= 1u << SH_OPTED_OUT;
		set_custom(sh, GONE_FIELD, "");
		sy->stats->back++;
	}
	stakeholder_clear(&old);
	if (store_put_stakeholder(sy->st, sh, err) != 0)
		return -1;
	sy->stats->updated++;
	return 0;
}

/* mark_gone: the stakeholder id no contact of the book stands for any more. */
static int mark_gone(struct syncer *sy, const char *id, const char *today, char err[ERR_LEN])
{
	struct stakeholder sh = {0};
	int found = 0, rc = -1;
	const char *g;
	char *value;
	if (store_get_stakeholder(sy->st, id, &sh, &found, err) != 0)
		return -1;
	if (!found || ((g = stakeholder_get(&sh, GONE_FIELD)) && *g)) {
		stakeholder_clear(&sh);
		return 0;   /* removed by hand, or gone already */
	}
	value = xasprintf("%s %s%s", today, sy->src->id, stakeholder_flag(&sh, SH_OPTED_OUT) ? GONE_WAS_OPTED_OUT : "");
	/* Only opted_out and the custom field are written: the rest stays as it was. */
	sh.present = (1u << SH_ID) | (1u << SH_OPTED_OUT);
	free(sh.f[SH_OPTED_OUT]);
	sh.f[SH_OPTED_OUT] = xstrdup("1");
	for (size_t i = 0; i < sh.ncustom; i++) {
		free(sh.custom[i].key);
		free(sh.custom[i].value);
	}
	sh.ncustom = 0;
	set_custom(&sh, GONE_FIELD, value);
	free(value);
	if (store_put_stakeholder(sy->st, &sh, err) == 0) {
		sy->stats->gone++;
		rc = 0;
	}
	stakeholder_clear(&sh);
	return rc;
}

/* state_text: the kept form of s. */
static char *state_text(const struct state *s)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	for (size_t i = 0; i < s->n; i++)
		sb_addf(&sb, "%s\t%s\t%s\n", s->v[i].href, s->v[i].etag, s->v[i].id);
	return sb_detach(&sb);
}

/* write: phase 3, in one transaction. */
static int write_all(struct syncer *sy, int64_t now, char err[ERR_LEN])
{
	struct state ns = {0};
	char **old_ids = NULL, **new_ids = NULL, *text = NULL, *k;
	char today[16];
	struct tm tm;
	time_t t = (time_t)now;
	int rc = -1, begun = 0;

	new_state(sy, &ns);
	if (check_unique(&ns, err) != 0)
		goto out;
	gmtime_r(&t, &tm);
	strftime(today, sizeof today, "%Y-%m-%d", &tm);
	old_ids = xcalloc(sy->old.n + 1, sizeof *old_ids);
	new_ids = xcalloc(ns.n + 1, sizeof *new_ids);
	for (size_t i = 0; i < sy->old.n; i++)
		old_ids[i] = sy->old.v[i].id;
	for (size_t i = 0; i < ns.n; i++)
		new_ids[i] = ns.v[i].id;
	sort(old_ids, sy->old.n, sizeof *old_ids, str_cmp);
	sort(new_ids, ns.n, sizeof *new_ids, str_cmp);

	text = state_text(&ns);
	{
		/* Nothing changed at the source: nothing to write (a quiet book costs no commit). */
		char *kept = state_text(&sy->old);
		int same = sy->nch == 0 && strcmp(kept, text) == 0 && sy->token && sy->new_token &&
		           strcmp(sy->token, sy->new_token) == 0;
		free(kept);
		if (same) {
			rc = 0;
			goto out;
		}
	}
	if (store_begin(sy->st, err) != 0)
		goto out;
	begun = 1;
	for (size_t i = 0; i < sy->nch; i++) {
		util_keepalive();
		if (put_fetched(sy, &sy->ch[i].sh, err) != 0)
			goto out;
	}
	for (size_t i = 0; i < sy->old.n; i++) {
		if ((i > 0 && strcmp(old_ids[i], old_ids[i - 1]) == 0) || has(new_ids, ns.n, old_ids[i]))
			continue;
		if (mark_gone(sy, old_ids[i], today, err) != 0)
			goto out;
	}
	k = meta_key(sy->src, "items");
	rc = store_meta_set(sy->st, k, text, err);
	free(k);
	if (rc == 0) {
		k = meta_key(sy->src, "url");
		rc = store_meta_set(sy->st, k, sy->src->url, err);
		free(k);
	}
	if (rc == 0) {
		k = meta_key(sy->src, "token");
		rc = store_meta_set(sy->st, k, sy->new_token ? sy->new_token : "", err);
		free(k);
	}
	if (rc != 0)
		goto out;
	rc = -1;
	begun = 0;
	if (store_commit(sy->st, err) != 0)
		goto out;
	rc = 0;
out:
	if (begun)
		store_rollback(sy->st);
	free(text);
	free(old_ids);
	free(new_ids);
	state_free(&ns);
	return rc;
}

int carddav_sync(struct store *st, const struct config_source *src, int64_t now, struct carddav_stats *stats,
                 char err[ERR_LEN])
{
	struct syncer sy;
	struct diags d = {0};
	char *const *h;
	size_t nh;
	int rc = -1, lr;

	memset(&sy, 0, sizeof sy);
	memset(stats, 0, sizeof *stats);
	sy.src = src;
	sy.st = st;
	sy.stats = stats;
	if (src->map && imap_load(src->map, &sy.map, &d) != 0) {
		err_set(err, "%s", d.n ? d.msgs[0] : "the map cannot be read");
		goto out;
	}
	sy.map = vcard_map(sy.map);
	h = vcard_header(&nh);
	if (imap_bind(sy.map, h, nh, src->map ? src->map : "(the vCard map)", 1, &d) != 0) {
		err_set(err, "%s", d.nerrors ? d.msgs[d.n - 1] : "the map does not fit vCards");
		goto out;
	}
	if (src->username && read_password(src->password_file, sy.password, sizeof sy.password, err) != 0)
		goto out;
	if (load_state(&sy, err) != 0)
		goto out;

	lr = list_sync(&sy, sy.token, err);
	if (lr == 2) {
		/* The token is no longer good (expired, or the book was replaced): the whole book. */
		free_list(sy.removed, sy.nremoved);
		sy.removed = NULL;
		sy.nremoved = sy.capremoved = 0;
		free(sy.token);
		sy.token = NULL;
		lr = list_sync(&sy, NULL, err);
	}
	if (lr == 1) {
		stats->etags = 1;
		lr = list_etags(&sy, err);
	}
	if (lr != 0) {
		if (lr > 0)
			err_set(err, "sync-collection: the server refused the request");
		goto out;
	}
	stats->full = sy.token == NULL;
	sy.answered = xcalloc(sy.nwant + 1, 1);
	for (size_t i = 0; i < sy.nwant; i += CARDDAV_BATCH)
		if (fetch(&sy, i, i + CARDDAV_BATCH < sy.nwant ? i + CARDDAV_BATCH : sy.nwant, err) != 0)
			goto out;
	for (size_t i = 0; i < sy.nwant; i++)
		if (!sy.answered[i]) {
			/* Left out, it would silently keep its old version: the pull is not complete. */
			err_set(err, "addressbook-multiget: no answer for %.300s", sy.want[i]);
			goto out;
		}
	rc = write_all(&sy, now, err);
out:
	explicit_bzero(sy.password, sizeof sy.password);
	for (size_t i = 0; i < sy.nch; i++) {
		free(sy.ch[i].href);
		free(sy.ch[i].etag);
		stakeholder_clear(&sy.ch[i].sh);
	}
	free(sy.ch);
	free_list(sy.removed, sy.nremoved);
	free_list(sy.want, sy.nwant);
	free_list(sy.want_etag, sy.nwant_etag);
	free(sy.answered);
	free_list(sy.listed, sy.nlisted);
	state_free(&sy.old);
	free(sy.token);
	free(sy.new_token);
	imap_free(sy.map);
	diags_free(&d);
	return rc;
}
