/* check: templates, columns and data problems for `occasiond check [--data]`. */
#include "occasiond/check.h"

#include <stdlib.h>
#include <string.h>

#include "occasiond/card.h"
#include "occasiond/dispatch.h"
#include "occasiond/mime.h"
#include "occasiond/planner.h"

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
			diags_add(d, 1, "%s:%ld:%ld: warning: occasion '%s': no stakeholder has a '%s' column (%s)%s%s%s",
			          r->file, r->field_line, r->field_col, r->id, f, db_name, ncols ? "; custom columns: " : "",
			          ncols ? cols[0] : "", ncols > 1 ? ", ..." : "");
	}
	free_strs(cols, ncols);
}

/* reaches: the rule's audience, consent and opt-out would let it reach sh (dates aside): the planner's test. */
static int reaches(const struct ruleset *rs, const struct rule *r, const struct stakeholder *sh)
{
	return planner_in_audience(rs, r, sh, DAY_NONE);
}

/* A hash-free duplicate finder: sort (key, index) pairs and report equal neighbours. */
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

static void report_dups(struct keyed *v, size_t n, const struct stakeholder *sh, const char *db, const char *what,
                        struct diags *d)
{
	if (n > 1)
		qsort(v, n, sizeof *v, keyed_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].key, v[i - 1].key) == 0)
			diags_add(d, 1, "%s: warning: stakeholders '%s' and '%s' have the same %s: a duplicate?", db,
			          sh[v[i - 1].idx].f[SH_ID], sh[v[i].idx].f[SH_ID], what);
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
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

/* check_fonts: every card a rule may make for a stakeholder, laid out, so a missing glyph shows now. */
static void check_fonts(const struct config *cfg, const struct ruleset *rs, const struct stakeholder *sh, size_t nsh,
                        const char *db, struct diags *d)
{
	char err[ERR_LEN];
	for (size_t k = 0; k < rs->nrules; k++) {
		const struct rule *r = &rs->rules[k];
		for (size_t vi = 0; vi <= r->nvariants; vi++) {
			const char *name = vi == 0 ? r->template_name : r->variants[vi - 1].template_name;
			char *file, *path;
			struct card_template *t = NULL;
			if (r->channel == CH_EMAIL || !name)
				continue;
			file = xasprintf("%s.card.yaml", name);
			path = util_path_join(cfg->templates, file);
			if (card_template_load(path, cfg->fonts, &t, err) == 0) {
				for (size_t i = 0; i < nsh; i++) {
					struct tval *ctx;
					char *full;
					if (!reaches(rs, r, &sh[i]))
						continue;
					if (vi > 0 && r->variants[vi - 1].tiers.n && !strlist_has(&r->variants[vi - 1].tiers, sh[i].f[SH_TIER]))
						continue;
					full = stakeholder_display_name(&sh[i]);
					ctx = dispatch_context(cfg, r, &sh[i], NULL, dates_from_ymd(2000, 1, 1), 1,
					                       planner_signer(cfg, r, (int)vi - 1, sh[i].f[SH_OWNER], full));
					free(full);
					if (card_check(t, ctx, err) != 0)
						diags_add(d, 1, "%s: warning: stakeholder '%s', occasion '%s', card '%s': %s", db,
						          sh[i].f[SH_ID], r->id, name, err);
					tval_free(ctx);
				}
			}
			card_template_free(t);
			free(file);
			free(path);
		}
	}
}

void check_data(const struct config *cfg, const struct ruleset *rs, struct store *st, struct diags *d)
{
	struct stakeholder *sh = NULL;
	size_t nsh = 0, nmail = 0, nname = 0;
	struct keyed *mails = NULL, *names = NULL;
	const char *db = cfg->database;
	char err[ERR_LEN];

	if (store_load_stakeholders(st, &sh, &nsh, err) != 0) {
		diags_add(d, 0, "%s: error: %s", db, err);
		return;
	}
	mails = xcalloc(nsh ? nsh : 1, sizeof *mails);
	names = xcalloc(nsh ? nsh : 1, sizeof *names);
	for (size_t i = 0; i < nsh; i++) {
		const struct stakeholder *s = &sh[i];
		const char *id = s->f[SH_ID];
		int postal = *s->f[SH_STREET] && *s->f[SH_CITY];
		if (*s->f[SH_EMAIL])
			mails[nmail++] = (struct keyed){lower_dup(s->f[SH_EMAIL]), i};
		if (*s->f[SH_BIRTHDAY])
			names[nname++] = (struct keyed){xasprintf("%s\x1f%s\x1f%s", s->f[SH_FIRST_NAME], s->f[SH_LAST_NAME],
			                                          s->f[SH_BIRTHDAY]), i};
		if (*s->f[SH_TIMEZONE] && !dates_zone_valid(s->f[SH_TIMEZONE]))
			diags_add(d, 1, "%s: warning: stakeholder '%s': unknown time zone '%s' (the config's %s is used)", db, id,
			          s->f[SH_TIMEZONE], cfg->timezone);
		if (stakeholder_flag(s, SH_OPTED_OUT))
			continue;
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
	report_dups(mails, nmail, sh, db, "email", d);
	report_dups(names, nname, sh, db, "name and birthday", d);
	free(mails);
	free(names);
	check_fonts(cfg, rs, sh, nsh, db, d);
	stakeholders_free(sh, nsh);
}
