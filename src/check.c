/* check: templates, columns and data problems for `occasiond check [--data]`. */
#include "occasiond/check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "occasiond/card.h"
#include "occasiond/dispatch.h"
#include "occasiond/mime.h"
#include "occasiond/planner.h"
#include "occasiond/template.h"

static void check_template(const struct config *cfg, const struct rule *r, const char *name, int channel,
                           long line, long col, struct diags *d)
{
	char err[ERR_LEN];
	if (channel == CH_CARD || channel == CH_PREFERRED) {
		char *file = xasprintf("%s.card.yaml", name), *path = util_path_join(cfg->templates, file);
		struct card_template *t = NULL;
		if (!util_file_exists(path))
			diags_add(d, 0, "%s:%ld:%ld: error: occasion '%s': card template '%s' not found (%s)", r->file, line,
			          col, r->id, name, path);
		else if (card_template_load(path, cfg->fonts, &t, err) != 0)
			diags_add(d, 0, "%s", err);
		card_template_free(t);
		free(file);
		free(path);
	}
	if (channel == CH_EMAIL || channel == CH_PREFERRED) {
		char *file = xasprintf("%s.email", name), *path = util_path_join(cfg->templates, file);
		struct email_template *t = NULL;
		if (!util_file_exists(path))
			diags_add(d, 0, "%s:%ld:%ld: error: occasion '%s': email template '%s' not found (%s)", r->file, line,
			          col, r->id, name, path);
		else if (email_template_load(cfg->templates, name, &t, err) != 0)
			diags_add(d, 0, "%s", err);
		email_template_free(t);
		free(file);
		free(path);
	}
}

void check_templates(const struct config *cfg, const struct ruleset *rs, struct diags *d)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		check_template(cfg, r, r->template_name, r->channel, r->line, r->col, d);
		if (r->fallback == CH_EMAIL && r->channel != CH_PREFERRED)
			check_template(cfg, r, r->template_name, CH_EMAIL, r->line, r->col, d);
		for (size_t k = 0; k < r->nvariants; k++) {
			const struct variant *v = &r->variants[k];
			int ch = v->set_channel >= 0 ? v->set_channel : v->channel >= 0 ? v->channel : r->channel;
			if (v->template_name)
				check_template(cfg, r, v->template_name, ch, v->line, v->col, d);
		}
	}
}

static void free_strs(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

void check_columns(const struct ruleset *rs, struct store *st, const char *db_name, struct diags *d)
{
	char **cols = NULL;
	size_t ncols = 0;
	char err[ERR_LEN];
	if (!st)
		return;
	if (store_custom_columns(st, &cols, &ncols, err) != 0) {
		diags_add(d, 0, "%s: error: %s", db_name, err);
		return;
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		const char *f = r->when == WHEN_ANNIVERSARY || r->when == WHEN_EVERY ? r->field : NULL;
		int known;
		if (!f)
			continue;
		known = sh_field_lookup(f) >= 0;
		for (size_t k = 0; k < ncols && !known; k++)
			known = strcmp(cols[k], f) == 0;
		if (!known)
			diags_add(d, 1, "%s:%ld:%ld: warning: occasion '%s': no stakeholder has a '%s' column (%s), so it "
			          "never fires%s%s%s", r->file, r->field_line, r->field_col, r->id, f, db_name,
			          ncols ? "; custom columns: " : "", ncols ? cols[0] : "", ncols > 1 ? ", ..." : "");
	}
	free_strs(cols, ncols);
}

/* reaches: the rule's audience, consent and opt-out would let it reach sh (dates aside): the planner's test. */
static int reaches(const struct ruleset *rs, const struct rule *r, const struct stakeholder *sh)
{
	return planner_in_audience(rs, r, sh, DAY_NONE);
}

static char *lower_dup(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

static void check_dates(const struct ruleset *rs, const struct stakeholder *s, const char *db, struct diags *d)
{
	static const enum sh_field std[] = {SH_BIRTHDAY, SH_HIRE_DATE, SH_CUSTOMER_SINCE, SH_CONTRACT_RENEWAL};
	for (size_t k = 0; k < sizeof std / sizeof *std; k++)
		if (strstr(s->f[std[k]], "-02-29"))
			diags_add(d, 1, "%s: warning: stakeholder '%s': %s is 29 February: in common years it comes on "
			          "28 February", db, s->f[SH_ID], sh_field_names[std[k]]);
	/* custom date columns that a rule uses */
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		const char *v;
		int dup = 0;
		if (!r->field || sh_field_lookup(r->field) >= 0 || !(v = stakeholder_get(s, r->field)))
			continue;
		for (size_t j = 0; j < i; j++)
			dup |= rs->rules[j].field && strcmp(rs->rules[j].field, r->field) == 0;
		if (dup)
			continue;
		day_t day;
		if (*v && dates_parse_iso(v, &day) != 0)
			diags_add(d, 1, "%s: warning: stakeholder '%s': %s '%s' is not a date YYYY-MM-DD (occasion '%s')", db,
			          s->f[SH_ID], r->field, v, r->id);
		else if (strstr(v, "-02-29"))
			diags_add(d, 1, "%s: warning: stakeholder '%s': %s is 29 February: in common years it comes on "
			          "28 February", db, s->f[SH_ID], r->field);
	}
}

/*
 * Every stakeholder, in id order, through the store's scan (all columns and custom fields):
 * check --data holds none of them. fn gets each with its place in the scan (0, 1, ...).
 */
typedef void (*each_fn)(void *arg, const struct stakeholder *sh, size_t ord);

static int each_stakeholder(struct store *st, each_fn fn, void *arg, char err[ERR_LEN])
{
	struct store_scan *sc = NULL;
	const struct store_sh_row *row;
	size_t ord = 0;
	int rc = store_scan_open(st, (1u << SH_NFIELDS) - 1, 1, 0, 0, &sc, err);
	while (rc == 0 && (rc = store_scan_next(sc, &row, err)) == 1) {
		fn(arg, &row->sh, ord++);
		rc = 0;
	}
	store_scan_close(sc);
	return rc;
}

/* check_fonts: every card a rule may make for a stakeholder, laid out, so a missing glyph shows now. */
struct font_check {
	const struct config *cfg;
	const struct ruleset *rs;
	const struct rule *r;
	size_t vi;
	const char *name, *db;
	struct card_template *t;
	struct diags *d;
};

static void font_one(void *arg, const struct stakeholder *sh, size_t ord)
{
	struct font_check *fc = arg;
	const struct rule *r = fc->r;
	struct tval *ctx;
	char *full, err[ERR_LEN];
	(void)ord;
	if (!reaches(fc->rs, r, sh))
		return;
	if (fc->vi > 0 && r->variants[fc->vi - 1].tiers.n && !strlist_has(&r->variants[fc->vi - 1].tiers, sh->f[SH_TIER]))
		return;
	full = stakeholder_display_name(sh);
	ctx = dispatch_context(fc->cfg, r, sh, NULL, dates_from_ymd(2000, 1, 1), 1,
	                       planner_signer(fc->cfg, r, (int)fc->vi - 1, sh->f[SH_OWNER], full));
	free(full);
	if (card_check(fc->t, ctx, err) != 0)
		diags_add(fc->d, 1, "%s: warning: stakeholder '%s', occasion '%s', card '%s': %s", fc->db, sh->f[SH_ID], r->id,
		          fc->name, err);
	tval_free(ctx);
}

/* One scan per card template, so the warnings come template by template as they always did. */
static int check_fonts(const struct config *cfg, const struct ruleset *rs, struct store *st, const char *db,
                       struct diags *d, char err[ERR_LEN])
{
	for (size_t k = 0; k < rs->nrules; k++) {
		const struct rule *r = &rs->rules[k];
		for (size_t vi = 0; vi <= r->nvariants; vi++) {
			const char *name = vi == 0 ? r->template_name : r->variants[vi - 1].template_name;
			struct font_check fc = {cfg, rs, r, vi, name, db, NULL, d};
			char *file, *path, why[ERR_LEN];
			int rc = 0;
			if (r->channel == CH_EMAIL || !name)
				continue;
			file = xasprintf("%s.card.yaml", name);
			path = util_path_join(cfg->templates, file);
			if (card_template_load(path, cfg->fonts, &fc.t, why) == 0)
				rc = each_stakeholder(st, font_one, &fc, err);
			card_template_free(fc.t);
			free(file);
			free(path);
			if (rc != 0)
				return -1;
		}
	}
	return 0;
}

/*
 * Duplicates (the same email in any case; the same name and birthday) without holding every
 * key: the first scan keeps a 64-bit hash of each key with the stakeholder's place; the
 * places whose hash is shared are the candidates, whose keys a second scan reads. They are
 * reported as before: sorted by key, then id order, equal neighbours.
 */
struct hkey {
	uint64_t h;
	uint32_t ord;
};

struct dups {
	struct hkey *v;
	size_t n, cap;
	uint32_t *cand;        /* candidates' places, ascending */
	size_t ncand;
	struct keyed *keys;    /* their keys (second scan) */
	char **ids;
	size_t nkeys;
};

struct keyed {
	char *key;
	size_t idx;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int k = strcmp(x->key, y->key);
	return k ? k : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static int hkey_cmp(const void *a, const void *b)
{
	const struct hkey *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t key_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void dups_add(struct dups *u, const char *key, size_t ord)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 1024;
		u->v = xreallocarray(u->v, u->cap, sizeof *u->v);
	}
	u->v[u->n++] = (struct hkey){key_hash(key), (uint32_t)ord};
}

/* dups_candidates: the places of keys whose hash another key shares; frees the hashes. */
static void dups_candidates(struct dups *u)
{
	if (u->n > 1)
		qsort(u->v, u->n, sizeof *u->v, hkey_cmp);
	for (size_t i = 0; i < u->n; i++)
		if ((i > 0 && u->v[i].h == u->v[i - 1].h) || (i + 1 < u->n && u->v[i].h == u->v[i + 1].h)) {
			u->cand = xreallocarray(u->cand, u->ncand + 1, sizeof *u->cand);
			u->cand[u->ncand++] = u->v[i].ord;
		}
	free(u->v);
	u->v = NULL;
	u->n = u->cap = 0;
	if (u->ncand > 1)
		qsort(u->cand, u->ncand, sizeof *u->cand, u32_cmp);
}

static void dups_keep(struct dups *u, char *key, const char *id, size_t ord)
{
	uint32_t o = (uint32_t)ord;
	if (!bsearch(&o, u->cand, u->ncand, sizeof *u->cand, u32_cmp)) {
		free(key);
		return;
	}
	u->keys = xreallocarray(u->keys, u->nkeys + 1, sizeof *u->keys);
	u->ids = xreallocarray(u->ids, u->nkeys + 1, sizeof *u->ids);
	u->keys[u->nkeys] = (struct keyed){key, u->nkeys};
	u->ids[u->nkeys++] = xstrdup(id);
}

static void dups_free(struct dups *u);

static void dups_report(struct dups *u, const char *db, const char *what, struct diags *d)
{
	if (u->nkeys > 1)
		qsort(u->keys, u->nkeys, sizeof *u->keys, keyed_cmp);
	for (size_t i = 1; i < u->nkeys; i++)
		if (strcmp(u->keys[i].key, u->keys[i - 1].key) == 0)
			diags_add(d, 1, "%s: warning: stakeholders '%s' and '%s' have the same %s: a duplicate?", db,
			          u->ids[u->keys[i - 1].idx], u->ids[u->keys[i].idx], what);
	dups_free(u);
}

static void dups_free(struct dups *u)
{
	for (size_t i = 0; i < u->nkeys; i++) {
		free(u->keys[i].key);
		free(u->ids[i]);
	}
	free(u->keys);
	free(u->ids);
	free(u->cand);
	free(u->v);
	memset(u, 0, sizeof *u);
}

static char *name_key(const struct stakeholder *s)
{
	return xasprintf("%s\x1f%s\x1f%s", s->f[SH_FIRST_NAME], s->f[SH_LAST_NAME], s->f[SH_BIRTHDAY]);
}

struct data_check {
	const struct config *cfg;
	const struct ruleset *rs;
	const char *db;
	struct diags *d;
	struct dups mails, names;
};

/* data_one: one stakeholder's own problems, and its duplicate keys' hashes. */
static void data_one(void *arg, const struct stakeholder *s, size_t ord)
{
	struct data_check *dc = arg;
	const struct ruleset *rs = dc->rs;
	const char *id = s->f[SH_ID], *db = dc->db;
	struct diags *d = dc->d;
	int postal = *s->f[SH_STREET] && *s->f[SH_CITY];
	if (*s->f[SH_EMAIL]) {
		char *k = lower_dup(s->f[SH_EMAIL]);
		dups_add(&dc->mails, k, ord);
		free(k);
	}
	if (*s->f[SH_BIRTHDAY]) {
		char *k = name_key(s);
		dups_add(&dc->names, k, ord);
		free(k);
	}
	if (*s->f[SH_TIMEZONE] && !dates_zone_valid(s->f[SH_TIMEZONE]))
		diags_add(d, 1, "%s: warning: stakeholder '%s': unknown time zone '%s' (the config's %s is used)", db, id,
		          s->f[SH_TIMEZONE], dc->cfg->timezone);
	if (stakeholder_flag(s, SH_OPTED_OUT))
		return;
	if (!*s->f[SH_EMAIL] && !postal)
		diags_add(d, 1, "%s: warning: stakeholder '%s' has neither an email nor a postal address", db, id);
	check_dates(rs, s, db, d);
	if (strncmp(s->f[SH_BIRTHDAY], "--", 2) == 0)
		diags_add(d, 1, "%s: warning: stakeholder '%s' has a birthday without a year: no age is known", db, id);
	{
		struct strbuf no_mail = {0}, no_post = {0};
		for (size_t k = 0; k < rs->nrules; k++) {
			const struct rule *r = &rs->rules[k];
			struct strbuf *to = NULL;
			if (!reaches(rs, r, s))
				continue;
			if (r->channel == CH_EMAIL && !*s->f[SH_EMAIL])
				to = &no_mail;
			else if (r->channel == CH_CARD && !postal && !(r->fallback == CH_EMAIL && *s->f[SH_EMAIL]))
				to = &no_post;
			if (to)
				sb_addf(to, "%s'%s'", to->len ? ", " : "", r->id);
		}
		/* with no address at all, the line above says it all */
		if (no_mail.len && postal)
			diags_add(d, 1, "%s: warning: stakeholder '%s' has no email address for %s", db, id, no_mail.s);
		if (no_post.len && *s->f[SH_EMAIL])
			diags_add(d, 1, "%s: warning: stakeholder '%s' has no postal address for %s (cards to hand over)", db,
			          id, no_post.s);
		sb_free(&no_mail);
		sb_free(&no_post);
	}
}

/* dup_keys: the second scan: the candidates' keys and ids. */
static void dup_keys(void *arg, const struct stakeholder *s, size_t ord)
{
	struct data_check *dc = arg;
	if (*s->f[SH_EMAIL] && dc->mails.ncand)
		dups_keep(&dc->mails, lower_dup(s->f[SH_EMAIL]), s->f[SH_ID], ord);
	if (*s->f[SH_BIRTHDAY] && dc->names.ncand)
		dups_keep(&dc->names, name_key(s), s->f[SH_ID], ord);
}

void check_data(const struct config *cfg, const struct ruleset *rs, struct store *st, struct diags *d)
{
	struct data_check dc;
	char err[ERR_LEN];
	int rc;

	memset(&dc, 0, sizeof dc);
	dc.cfg = cfg;
	dc.rs = rs;
	dc.db = cfg->database;
	dc.d = d;
	rc = each_stakeholder(st, data_one, &dc, err);
	if (rc == 0) {
		dups_candidates(&dc.mails);
		dups_candidates(&dc.names);
		if (dc.mails.ncand || dc.names.ncand)
			rc = each_stakeholder(st, dup_keys, &dc, err);
	}
	if (rc == 0) {
		dups_report(&dc.mails, dc.db, "email", d);
		dups_report(&dc.names, dc.db, "name and birthday", d);
		rc = check_fonts(cfg, rs, st, dc.db, d, err);
	}
	if (rc != 0)
		diags_add(d, 0, "%s: error: %s", dc.db, err);
	dups_free(&dc.mails);
	dups_free(&dc.names);
}

/* ---- names a template uses ---- */

struct name_check {
	const struct config *cfg;
	struct tval *ctx;       /* a context as dispatch_context makes it: the names there are */
	char **custom;          /* the database's custom columns */
	size_t ncustom;
	int have_db;            /* 0: custom columns are not known yet */
	const char *file;       /* the template file being read */
	struct diags *d;
	char **seen;            /* "FILE:LINE:COL" already reported, and partial files already read */
	size_t nseen;
	int depth;              /* partials within partials */
};

/* ctx_get: the context's value under the name s[0..n), or NULL. */
static const struct tval *ctx_get(const struct tval *map, const char *s, size_t n)
{
	char buf[MODEL_MAX_COLUMN_NAME + 1];
	if (!map || map->type != TV_MAP || n >= sizeof buf)
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return tval_map_get(map, buf);
}

/* map_of: the context map a name stands for (occasion, event), or NULL when it is not a map. */
static const struct tval *map_of(const struct name_check *nc, const char *s, size_t n)
{
	const struct tval *v = ctx_get(nc->ctx, s, n);
	return v && v->type == TV_MAP ? v : NULL;
}

static int top_known(const struct name_check *nc, const char *s, size_t n)
{
	if (ctx_get(nc->ctx, s, n))
		return 1;
	for (size_t i = 0; i < nc->ncustom; i++)
		if (strlen(nc->custom[i]) == n && strncmp(nc->custom[i], s, n) == 0)
			return 1;
	return 0;
}

/* scope_has: a section around the tag is one of the context's maps and has the key s. */
static int scope_has(const struct name_check *nc, const struct template_use *outer, const char *s, size_t n)
{
	for (; outer; outer = outer->outer)
		if (outer->kind == '#' && ctx_get(map_of(nc, outer->name, outer->len), s, n))
			return 1;
	return 0;
}

/* name_known: Mustache's lookup over what dispatch_context provides: a plain name in the
 * sections' maps or at the top, a dotted one through a map. */
static int name_known(const struct name_check *nc, const struct template_use *u)
{
	const char *dot = memchr(u->name, '.', u->len);
	size_t head;
	if (u->len == 1 && u->name[0] == '.')
		return 1;
	if (!dot)
		return top_known(nc, u->name, u->len) || scope_has(nc, u->outer, u->name, u->len);
	head = (size_t)(dot - u->name);
	{
		const char *rest = dot + 1;
		size_t nrest = u->len - head - 1;
		return !memchr(rest, '.', nrest) && ctx_get(map_of(nc, u->name, head), rest, nrest);
	}
}

/* consider: keeps in best (a buffer of size) the candidate closest to name so far. */
static void consider(const char *prefix, const char *cand, const char *name, char *best, size_t size, int *bestd)
{
	char full[384];
	int dist;
	snprintf(full, sizeof full, "%s%s", prefix, cand);
	dist = util_levenshtein(name, full);
	if (dist < *bestd) {
		*bestd = dist;
		util_strlcpy(best, full, size);
	}
}

/* suggest: the known name closest to name, when it is close enough to be a typo; else NULL. */
static const char *suggest(const struct name_check *nc, const char *name, const struct template_use *u,
                           char *best, size_t size)
{
	int bestd = 1000;
	for (size_t i = 0; i < nc->ncustom; i++)
		consider("", nc->custom[i], name, best, size, &bestd);
	for (size_t i = 0; i < nc->ctx->n; i++) {
		const struct tval *v = nc->ctx->items[i];
		char prefix[256];
		consider("", nc->ctx->keys[i], name, best, size, &bestd);
		snprintf(prefix, sizeof prefix, "%s.", nc->ctx->keys[i]);
		for (size_t k = 0; v->type == TV_MAP && k < v->n; k++)
			consider(prefix, v->keys[k], name, best, size, &bestd);
	}
	for (const struct template_use *o = u->outer; o; o = o->outer) {
		const struct tval *m = o->kind == '#' ? map_of(nc, o->name, o->len) : NULL;
		for (size_t k = 0; m && k < m->n; k++)
			consider("", m->keys[k], name, best, size, &bestd);
	}
	return bestd <= 3 && bestd < (int)strlen(name) ? best : NULL;
}

static int seen_before(struct name_check *nc, const char *key)
{
	for (size_t i = 0; i < nc->nseen; i++)
		if (strcmp(nc->seen[i], key) == 0)
			return 1;
	nc->seen = xreallocarray(nc->seen, nc->nseen + 1, sizeof *nc->seen);
	nc->seen[nc->nseen++] = xstrdup(key);
	return 0;
}

static void check_names_in(struct name_check *nc, const char *path, int quiet_missing);

static int on_use(void *ud, const struct template_use *u)
{
	struct name_check *nc = ud;
	char name[128], where[64], alt[80];
	const char *best;
	if (u->kind == '>') {
		char *file = xasprintf("%.*s.mustache", (int)(u->len < 64 ? u->len : 64), u->name);
		char *path = util_path_join(nc->cfg->templates, file), *key;
		const char *saved = nc->file;
		free(file);
		if (!util_file_exists(path)) {
			key = xasprintf("%s:%d:%d", nc->file, u->line, u->col);
			if (!seen_before(nc, key))
				diags_add(nc->d, 1, "%s:%d:%d: warning: partial '%.*s' not found (%s): it renders as nothing",
				          nc->file, u->line, u->col, (int)(u->len < 64 ? u->len : 64), u->name, path);
			free(key);
		} else if (nc->depth < 8) {
			nc->depth++;
			check_names_in(nc, path, 1);
			nc->depth--;
			nc->file = saved;
		}
		free(path);
		return 0;
	}
	if (name_known(nc, u) || u->len >= sizeof name)
		return 0;
	memcpy(name, u->name, u->len);
	name[u->len] = '\0';
	snprintf(where, sizeof where, "%d:%d", u->line, u->col);
	{
		char *key = xasprintf("%s:%s", nc->file, where);
		int dup = seen_before(nc, key);
		free(key);
		if (dup)
			return 0;
	}
	best = suggest(nc, name, u, alt, sizeof alt);
	diags_add(nc->d, 1, "%s:%s: warning: unknown name '%s': %s; it renders empty%s%s%s", nc->file, where, name,
	          nc->have_db ? "not a stakeholder column, a custom column or a template name" :
	          "not a stakeholder column or a template name (custom columns are known after an import)",
	          best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
	return 0;
}

/* check_names_in: the names of one template file (a partial once, whoever includes it). */
static void check_names_in(struct name_check *nc, const char *path, int once)
{
	char *src = NULL, err[ERR_LEN];
	size_t len;
	if (once) {
		char *key = xasprintf("partial:%s", path);
		int dup = seen_before(nc, key);
		free(key);
		if (dup)
			return;
	}
	if (util_read_file(path, 4u << 20, &src, &len, err) != 0)
		return;   /* loading the template reported it already */
	nc->file = path;
	/* A whole file is one template: header lines and YAML around the tags are plain text, so every
	 * tag is found at its own line and column. A file that does not parse whole (a stray {{ in a
	 * YAML comment) has had its own pieces checked when it was loaded. */
	(void)template_uses(src, 1, on_use, nc, err);
	free(src);
}

/* context_shape: what dispatch_context gives a template, for an empty stakeholder and event,
 * so that the names known here are the names a dispatch has, never a second list of them. */
static struct tval *context_shape(const struct config *cfg, const struct rule *r)
{
	static char empty[] = "";
	struct stakeholder sh;
	struct event ev = {empty, empty, empty, empty, empty};
	memset(&sh, 0, sizeof sh);
	for (int i = 0; i < SH_NFIELDS; i++)
		sh.f[i] = empty;
	return dispatch_context(cfg, r, &sh, &ev, 0, 1, "");
}

void check_template_names(const struct config *cfg, const struct ruleset *rs, struct store *st, struct diags *d)
{
	struct name_check nc = {.cfg = cfg, .d = d};
	char err[ERR_LEN];
	if (!rs->nrules)
		return;
	nc.ctx = context_shape(cfg, &rs->rules[0]);
	if (st && store_custom_columns(st, &nc.custom, &nc.ncustom, err) == 0)
		nc.have_db = 1;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		for (size_t k = 0; k <= r->nvariants; k++) {
			const char *name = k ? r->variants[k - 1].template_name : r->template_name;
			static const char *const ext[] = {".card.yaml", ".email", ".email.html"};
			if (!name)
				continue;
			for (int e = 0; e < 3; e++) {
				char *file = xasprintf("%s%s", name, ext[e]), *path = util_path_join(cfg->templates, file);
				char *key = xasprintf("template:%s", path);
				if (util_file_exists(path) && !seen_before(&nc, key))
					check_names_in(&nc, path, 0);
				free(key);
				free(file);
				free(path);
			}
		}
	}
	free_strs(nc.custom, nc.ncustom);
	free_strs(nc.seen, nc.nseen);
	tval_free(nc.ctx);
}
