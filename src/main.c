/* main: the command line (CONTRACT §2): parse, dispatch to a command, map to exit codes. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "occasiond/card.h"
#include "occasiond/config.h"
#include "occasiond/daemon.h"
#include "occasiond/dispatch.h"
#include "occasiond/import.h"
#include "occasiond/log.h"
#include "occasiond/mime.h"
#include "occasiond/planner.h"
#include "occasiond/report.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: occasiond [-c CONFIG] [-v] COMMAND [OPTIONS]\n"
	"\n"
	"Greeting cards and personal notes on the occasions that matter.\n"
	"\n"
	"commands:\n"
	"  check [--data]                      validate config, rules, templates (and the data)\n"
	"  import stakeholders FILE.csv        insert or update stakeholders [--skip-invalid]\n"
	"  import events FILE.csv              insert or update milestone events [--skip-invalid]\n"
	"  plan [--from DATE] [--days N] [--format table|csv|json|ics]\n"
	"                                      what will fire, without sending or recording\n"
	"  run --once [--at TIME] [--dry-run]  fire everything due at TIME (default now), then exit\n"
	"  serve                               the daemon: run until SIGTERM, reload on SIGHUP\n"
	"  preview --rule ID --stakeholder ID [-o FILE]\n"
	"                                      render a card (.pdf) or email (.eml), record nothing\n"
	"  log [--since DATE] [--status S] [--rule ID] [--stakeholder ID] [--format table|csv|json]\n"
	"                                      the dispatch records\n"
	"  mark ID... --as printed|signed|mailed|cancelled\n"
	"                                      move cards along after the hand work\n"
	"  report [--from DATE] [--to DATE] [--format table|json] [-o FILE]\n"
	"                                      dispatch counts and cost by occasion and channel\n"
	"\n"
	"options:\n"
	"  -c CONFIG   config file (default $OCCASIOND_CONFIG, else " CONFIG_DEFAULT_PATH ")\n"
	"  -v          verbose: debug messages\n"
	"  --version   print the version\n"
	"  --help      this text; COMMAND --help for one command\n"
	"\n"
	"DATE is YYYY-MM-DD. TIME is YYYY-MM-DD (noon), or YYYY-MM-DDTHH:MM[:SS] with an optional\n"
	"Z or +HH:MM; without an offset it is in the config's timezone.\n"
	"Exit status: 0 success, 1 invalid input or a failed dispatch, 2 usage error.\n";

struct cmd_help {
	const char *name;
	const char *text;
};

static const struct cmd_help helps[] = {
	{"check", "usage: occasiond check [--data]\n"
	          "Validates the config, the rules and every template, font and image they name.\n"
	          "Each problem is printed as FILE:LINE:COL: error: MESSAGE (or warning:).\n"
	          "--data also looks at the stakeholders: missing addresses, names a font cannot\n"
	          "print, 29 February dates, birthdays without a year, dates a rule needs but lacks.\n"},
	{"import", "usage: occasiond import stakeholders|events FILE.csv [--skip-invalid]\n"
	           "Inserts or updates by id in one transaction. A bad row is reported as\n"
	           "FILE:LINE: error: MESSAGE and nothing is written, unless --skip-invalid.\n"},
	{"plan", "usage: occasiond plan [--from DATE] [--days N] [--format table|csv|json|ics]\n"
	         "The dispatches that will fire from DATE (default today) for N days (default 30),\n"
	         "in fire order, without sending or recording anything.\n"},
	{"run", "usage: occasiond run --once [--at TIME] [--dry-run]\n"
	        "Fires everything due at TIME (default now), waits until it is done, then exits.\n"
	        "--dry-run prints what would happen and records nothing.\n"},
	{"serve", "usage: occasiond serve\n"
	          "Runs in the foreground: sleeps until the next dispatch is due, fires it, records it.\n"
	          "SIGHUP reloads config, rules and templates; SIGTERM or SIGINT stop it.\n"},
	{"preview", "usage: occasiond preview --rule ID --stakeholder ID [-o FILE]\n"
	            "Renders the rule's next card (PDF) or email (.eml) for that stakeholder into FILE\n"
	            "(default preview.pdf or preview.eml), recording nothing.\n"},
	{"log", "usage: occasiond log [--since DATE] [--status S] [--rule ID] [--stakeholder ID]\n"
	        "                     [--format table|csv|json]\n"
	        "The dispatch records, oldest first.\n"},
	{"mark", "usage: occasiond mark ID... --as printed|signed|mailed|cancelled\n"
	         "Moves card dispatches along: rendered -> printed -> signed -> mailed, or cancelled.\n"},
	{"report", "usage: occasiond report [--from DATE] [--to DATE] [--format table|json] [-o FILE]\n"
	           "Dispatch counts and cost by occasion, channel and status.\n"},
	{NULL, NULL}
};

/* usage_error: one line naming the problem (fmt has at most one %s for arg), exit status 2. */
static int usage_error(const char *fmt, const char *arg)
{
	struct strbuf sb = {0};
	const char *p = strstr(fmt, "%s");
	if (p) {
		sb_addn(&sb, fmt, (size_t)(p - fmt));
		sb_adds(&sb, arg ? arg : "");
		sb_adds(&sb, p + 2);
	} else {
		sb_adds(&sb, fmt);
	}
	fprintf(stderr, "occasiond: %s\nTry 'occasiond --help'.\n", sb.s);
	sb_free(&sb);
	return EXIT_USAGE;
}

static int wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

static int print_help(const char *cmd)
{
	for (int i = 0; helps[i].name; i++)
		if (strcmp(helps[i].name, cmd) == 0) {
			fputs(helps[i].text, stdout);
			return EXIT_OK;
		}
	fputs(usage_text, stdout);
	return EXIT_OK;
}

/* Option parsing for "--name VALUE" and "--name=VALUE" after the command. */
struct opt {
	const char *name;
	int takes_value;
	const char **value;   /* set when given */
	int *flag;
};

static int parse_opts(int argc, char **argv, struct opt *opts, const char ***rest, int *nrest)
{
	*nrest = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		struct opt *o = NULL;
		const char *eq;
		size_t len;
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			(*rest)[(*nrest)++] = a;
			continue;
		}
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (int k = 0; opts[k].name; k++)
			if (strlen(opts[k].name) == len && strncmp(opts[k].name, a, len) == 0)
				o = &opts[k];
		if (!o)
			return usage_error("unknown option '%s'", a);
		if (o->takes_value) {
			if (eq)
				*o->value = eq + 1;
			else if (i + 1 < argc)
				*o->value = argv[++i];
			else
				return usage_error("option '%s' needs a value", o->name);
		} else {
			if (eq)
				return usage_error("option '%s' takes no value", o->name);
			*o->flag = 1;
		}
	}
	return EXIT_OK;
}

/* The loaded world a command works on. */
struct world {
	struct config *cfg;
	struct ruleset *rs;
	struct store *st;
};

static void world_close(struct world *w)
{
	store_close(w->st);
	rules_free(w->rs);
	config_free(w->cfg);
}

static int world_open(struct world *w, const char *config_path, int need_rules, int need_store)
{
	struct diags d = {0};
	char err[ERR_LEN];
	memset(w, 0, sizeof *w);
	w->cfg = config_load(config_path, &d);
	if (w->cfg && need_rules)
		w->rs = rules_load(w->cfg->rules, &d);
	if (d.nerrors) {
		diags_print(&d, stderr);
		diags_free(&d);
		world_close(w);
		return -1;
	}
	diags_print(&d, stderr);
	diags_free(&d);
	if (need_store) {
		char *dir = util_dirname(w->cfg->database);
		if (util_mkdirs(dir, err) != 0 || store_open(w->cfg->database, &w->st, err) != 0) {
			log_err("%s", err);
			free(dir);
			world_close(w);
			return -1;
		}
		free(dir);
	}
	return 0;
}

/* display_path: the canonical form of an existing path, for people to copy (static buffer). */
static const char *display_path(const char *p)
{
	static char buf[4096];
	return realpath(p, buf) ? buf : p;
}

static int64_t now_utc(void)
{
	return (int64_t)time(NULL);
}

static day_t today_in(const struct config *cfg, int64_t now)
{
	day_t d;
	int secs;
	if (dates_utc_to_local(cfg->timezone, now, &d, &secs) != 0)
		d = (day_t)(now / 86400);
	return d;
}

static int get_format(const char *s, int allow_ics, int allow_html, int *fmt)
{
	int f = s ? report_format_parse(s) : FMT_TABLE;
	if (f < 0 || (f == FMT_ICS && !allow_ics) || (f == FMT_HTML && !allow_html))
		return usage_error("unknown format '%s'", s);
	*fmt = f;
	return EXIT_OK;
}

/* check */

static void check_template(const struct config *cfg, const struct rule *r, const char *name, int channel,
                           long line, struct diags *d)
{
	char err[ERR_LEN];
	if (channel == CH_CARD || channel == CH_PREFERRED) {
		char *file = xasprintf("%s.card.yaml", name), *path = util_path_join(cfg->templates, file);
		struct card_template *t = NULL;
		if (!util_file_exists(path))
			diags_add(d, 0, "%s:%ld:1: error: occasion '%s': card template '%s' not found (%s)", r->file, line,
			          r->id, name, path);
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
			diags_add(d, 0, "%s:%ld:1: error: occasion '%s': email template '%s' not found (%s)", r->file, line,
			          r->id, name, path);
		else if (email_template_load(cfg->templates, name, &t, err) != 0)
			diags_add(d, 0, "%s", err);
		email_template_free(t);
		free(file);
		free(path);
	}
}

static void check_data(const struct world *w, struct diags *d)
{
	struct stakeholder *sh = NULL;
	size_t nsh = 0;
	char **cols = NULL;
	size_t ncols = 0;
	char err[ERR_LEN];

	if (store_load_stakeholders(w->st, &sh, &nsh, err) != 0 || store_custom_columns(w->st, &cols, &ncols, err) != 0) {
		diags_add(d, 0, "%s: error: %s", w->cfg->database, err);
		goto out;
	}
	for (size_t i = 0; i < w->rs->nrules; i++) {
		const struct rule *r = &w->rs->rules[i];
		const char *f = r->when == WHEN_ANNIVERSARY || r->when == WHEN_EVERY ? r->field : NULL;
		int known = 0;
		if (!f)
			continue;
		known = sh_field_lookup(f) >= 0;
		for (size_t k = 0; k < ncols && !known; k++)
			known = strcmp(cols[k], f) == 0;
		if (!known)
			diags_add(d, 1, "%s:%ld:%ld: warning: occasion '%s': no stakeholder has a '%s' column", r->file, r->line,
			          r->col, r->id, f);
	}
	for (size_t i = 0; i < nsh; i++) {
		const struct stakeholder *s = &sh[i];
		const char *id = s->f[SH_ID];
		if (stakeholder_flag(s, SH_OPTED_OUT))
			continue;
		if (!*s->f[SH_EMAIL] && !(*s->f[SH_STREET] && *s->f[SH_CITY]))
			diags_add(d, 1, "%s: warning: stakeholder '%s' has neither an email nor a postal address",
			          w->cfg->database, id);
		if (strstr(s->f[SH_BIRTHDAY], "-02-29"))
			diags_add(d, 1, "%s: warning: stakeholder '%s' was born on 29 February: in common years the card "
			          "comes for 28 February", w->cfg->database, id);
		if (strncmp(s->f[SH_BIRTHDAY], "--", 2) == 0)
			diags_add(d, 1, "%s: warning: stakeholder '%s' has a birthday without a year: no age is known",
			          w->cfg->database, id);
		for (size_t k = 0; k < w->rs->nrules; k++) {
			const struct rule *r = &w->rs->rules[k];
			if (r->channel == CH_EMAIL && !*s->f[SH_EMAIL] && strlist_has(&r->types, s->f[SH_TYPE]) &&
			    strlist_has(&r->tiers, s->f[SH_TIER]) && (!r->personal || stakeholder_flag(s, SH_CONSENT_PERSONAL)))
				diags_add(d, 1, "%s: warning: stakeholder '%s' has no email address for occasion '%s'",
				          w->cfg->database, id, r->id);
		}
	}
	/* Names a font cannot print: render every card rule's template for every stakeholder it may reach. */
	for (size_t k = 0; k < w->rs->nrules; k++) {
		const struct rule *r = &w->rs->rules[k];
		char *file, *path;
		struct card_template *t = NULL;
		struct card_batch *b = NULL;
		if (r->channel == CH_EMAIL)
			continue;
		file = xasprintf("%s.card.yaml", r->template_name);
		path = util_path_join(w->cfg->templates, file);
		if (card_template_load(path, w->cfg->fonts, &t, err) == 0 && card_batch_new(&b, err) == 0) {
			for (size_t i = 0; i < nsh; i++) {
				struct tval *ctx;
				int page;
				if (stakeholder_flag(&sh[i], SH_OPTED_OUT) || !strlist_has(&r->types, sh[i].f[SH_TYPE]))
					continue;
				ctx = dispatch_context(w->cfg, r, &sh[i], NULL, 0, 1, planner_default_signer(w->cfg, &sh[i]));
				if (card_batch_add(b, t, ctx, &page, err) != 0)
					diags_add(d, 1, "%s: warning: stakeholder '%s', occasion '%s': %s", w->cfg->database,
					          sh[i].f[SH_ID], r->id, err);
				tval_free(ctx);
			}
		}
		card_batch_free(b);
		card_template_free(t);
		free(file);
		free(path);
	}
out:
	for (size_t k = 0; k < ncols; k++)
		free(cols[k]);
	free(cols);
	stakeholders_free(sh, nsh);
}

static int cmd_check(const char *config_path, int argc, char **argv)
{
	int data = 0, nrest, rc;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--data", 0, NULL, &data}, {NULL, 0, NULL, NULL}};
	struct diags d = {0};
	struct config *cfg = NULL;
	struct ruleset *rs = NULL;

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = usage_error("check: unexpected argument '%s'", rest[0]);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	cfg = config_load(config_path, &d);
	if (cfg)
		rs = rules_load(cfg->rules, &d);
	if (rs) {
		for (size_t i = 0; i < rs->nrules; i++) {
			const struct rule *r = &rs->rules[i];
			check_template(cfg, r, r->template_name, r->channel, r->line, &d);
			if (r->fallback == CH_EMAIL && r->channel != CH_PREFERRED)
				check_template(cfg, r, r->template_name, CH_EMAIL, r->line, &d);
			for (size_t k = 0; k < r->nvariants; k++) {
				const struct variant *v = &r->variants[k];
				int ch = v->set_channel >= 0 ? v->set_channel : v->channel >= 0 ? v->channel : r->channel;
				if (v->template_name)
					check_template(cfg, r, v->template_name, ch, v->line, &d);
			}
		}
	}
	if (rs && data) {
		struct world w = {cfg, rs, NULL};
		char err[ERR_LEN];
		if (store_open(cfg->database, &w.st, err) != 0)
			diags_add(&d, 0, "%s: error: %s", cfg->database, err);
		else
			check_data(&w, &d);
		store_close(w.st);
	}
	diags_print(&d, stderr);
	if (d.nerrors == 0)
		printf("%s: ok (%zu occasion rule%s, %zu warning%s)\n", config_path, rs ? rs->nrules : 0,
		       rs && rs->nrules == 1 ? "" : "s", d.nwarnings, d.nwarnings == 1 ? "" : "s");
	rc = d.nerrors ? EXIT_FAIL : EXIT_OK;
	diags_free(&d);
	rules_free(rs);
	config_free(cfg);
	return rc;
}

static int cmd_import(const char *config_path, int argc, char **argv)
{
	int skip = 0, nrest, rc, events;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--skip-invalid", 0, NULL, &skip}, {NULL, 0, NULL, NULL}};
	struct world w;
	struct diags d = {0};
	struct import_stats stats;

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && (nrest != 2 || (strcmp(rest[0], "stakeholders") != 0 && strcmp(rest[0], "events") != 0)))
		rc = usage_error("usage: occasiond import stakeholders|events FILE.csv [--skip-invalid]%s", "");
	if (rc != EXIT_OK) {
		free(rest);
		return rc;
	}
	events = strcmp(rest[0], "events") == 0;
	if (world_open(&w, config_path, 0, 1) != 0) {
		free(rest);
		return EXIT_FAIL;
	}
	rc = import_csv(w.st, rest[1], events, skip, &stats, &d);
	diags_print(&d, stderr);
	if (rc == 0)
		printf("%s: %zu %s imported%s", rest[1], stats.written, events ? "events" : "stakeholders",
		       stats.invalid ? "" : "\n");
	if (rc == 0 && stats.invalid)
		printf(", %zu invalid row%s skipped\n", stats.invalid, stats.invalid == 1 ? "" : "s");
	if (rc != 0)
		fprintf(stderr, "occasiond: %s: nothing imported (%zu invalid row%s)\n", rest[1], stats.invalid,
		        stats.invalid == 1 ? "" : "s");
	rc = rc != 0 || d.nerrors ? EXIT_FAIL : EXIT_OK;
	diags_free(&d);
	world_close(&w);
	free(rest);
	return rc;
}

static int load_plan_input(struct world *w, struct plan_input *in, struct stakeholder **sh, size_t *nsh,
                           struct event **ev, size_t *nev, struct dispatch_rec **hist, size_t *nhist)
{
	char err[ERR_LEN];
	struct dispatch_filter all = {.channel = -1};
	if (store_load_stakeholders(w->st, sh, nsh, err) != 0 || store_load_events(w->st, ev, nev, err) != 0 ||
	    store_list_dispatches(w->st, &all, hist, nhist, err) != 0) {
		log_err("%s", err);
		return -1;
	}
	*in = (struct plan_input){w->cfg, w->rs, *sh, *nsh, *ev, *nev, *hist, *nhist};
	return 0;
}

static int cmd_plan(const char *config_path, int argc, char **argv)
{
	const char *from_s = NULL, *days_s = NULL, *fmt_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--from", 1, &from_s, NULL}, {"--days", 1, &days_s, NULL},
	                     {"--format", 1, &fmt_s, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	long days = 30;
	day_t from = 0;
	struct world w;
	struct plan_input in;
	struct plan_list pl = {0};
	struct stakeholder *sh = NULL;
	struct event *ev = NULL;
	struct dispatch_rec *hist = NULL;
	size_t nsh = 0, nev = 0, nhist = 0;
	char err[ERR_LEN];

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = usage_error("plan: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 1, 0, &fmt);
	if (rc == EXIT_OK && from_s && dates_parse_iso(from_s, &from) != 0)
		rc = usage_error("--from: expected a date YYYY-MM-DD, got '%s'", from_s);
	if (rc == EXIT_OK && days_s && util_parse_long(days_s, 1, 3660, &days) != 0)
		rc = usage_error("--days: expected a number of days from 1 to 3660, got '%s'", days_s);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	if (!from_s)
		from = today_in(w.cfg, now_utc());
	rc = EXIT_FAIL;
	if (load_plan_input(&w, &in, &sh, &nsh, &ev, &nev, &hist, &nhist) != 0)
		goto out;
	if (planner_range(&in, from, from + (day_t)days, &pl, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	report_plan(stdout, w.cfg, &pl, (enum report_format)fmt, now_utc());
	rc = EXIT_OK;
out:
	plan_list_free(&pl);
	stakeholders_free(sh, nsh);
	events_free(ev, nev);
	dispatch_recs_free(hist, nhist);
	world_close(&w);
	return rc;
}

static int cmd_run(const char *config_path, int argc, char **argv)
{
	const char *at_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int once = 0, dry = 0, nrest, rc;
	struct opt opts[] = {{"--once", 0, NULL, &once}, {"--at", 1, &at_s, NULL}, {"--dry-run", 0, NULL, &dry},
	                     {NULL, 0, NULL, NULL}};
	struct world w;
	struct dispatch_stats stats;
	int64_t now, wake;
	char err[ERR_LEN];

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = usage_error("run: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK && !once)
		rc = usage_error("run needs --once (the daemon is 'occasiond serve')%s", "");
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	now = now_utc();
	if (at_s && dates_parse_time(at_s, w.cfg->timezone, &now, err) != 0) {
		world_close(&w);
		return usage_error("--at: %s", err);
	}
	if (dispatch_run(w.cfg, w.rs, w.st, now, dry, &stats, &wake, err) != 0) {
		log_err("%s", err);
		world_close(&w);
		return EXIT_FAIL;
	}
	if (!dry) {
		char *outbox = util_path_join(w.cfg->spool, "outbox/new"), *batches = util_path_join(w.cfg->spool, "batches");
		printf("%d card%s in %d batch%s, %d email%s, %d skipped, %d missed, %d to retry, %d failed",
		       stats.cards, stats.cards == 1 ? "" : "s", stats.batches, stats.batches == 1 ? "" : "es",
		       stats.emails, stats.emails == 1 ? "" : "s", stats.skipped, stats.missed, stats.retry, stats.failed);
		if (stats.unknown)
			printf(", %d unknown", stats.unknown);
		putchar('\n');
		if (stats.cards)
			printf("cards:  %s/\n", display_path(batches));
		if (stats.emails && w.cfg->transport == TRANSPORT_MAILDIR)
			printf("emails: %s/\n", display_path(outbox));
		free(outbox);
		free(batches);
	}
	world_close(&w);
	return stats.failed || stats.unknown ? EXIT_FAIL : EXIT_OK;
}

static int cmd_preview(const char *config_path, int argc, char **argv)
{
	const char *rule = NULL, *shid = NULL, *out = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--rule", 1, &rule, NULL}, {"--stakeholder", 1, &shid, NULL}, {"-o", 1, &out, NULL},
	                     {"--output", 1, &out, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc;
	struct world w;
	char err[ERR_LEN];
	char *path = NULL;

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && (nrest || !rule || !shid))
		rc = usage_error("usage: occasiond preview --rule ID --stakeholder ID [-o FILE]%s", "");
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	if (!out) {
		const struct rule *r = rules_find(w.rs, rule);
		out = r && r->channel == CH_EMAIL ? "preview.eml" : "preview.pdf";
	}
	path = xstrdup(out);
	rc = dispatch_preview(w.cfg, w.rs, w.st, rule, shid, path, now_utc(), err);
	if (rc != 0)
		log_err("%s", err);
	else
		printf("%s\n", path);
	free(path);
	world_close(&w);
	return rc ? EXIT_FAIL : EXIT_OK;
}

static int cmd_log(const char *config_path, int argc, char **argv)
{
	const char *since = NULL, *status = NULL, *rule = NULL, *shid = NULL, *fmt_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--since", 1, &since, NULL}, {"--status", 1, &status, NULL}, {"--rule", 1, &rule, NULL},
	                     {"--stakeholder", 1, &shid, NULL}, {"--format", 1, &fmt_s, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	day_t d;
	struct world w;
	struct dispatch_filter f = {.channel = -1};
	struct dispatch_rec *v = NULL;
	size_t n = 0;
	char err[ERR_LEN];

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = usage_error("log: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 0, 0, &fmt);
	if (rc == EXIT_OK && since && dates_parse_iso(since, &d) != 0)
		rc = usage_error("--since: expected a date YYYY-MM-DD, got '%s'", since);
	if (rc == EXIT_OK && status && dispatch_status_parse(status) < 0)
		rc = usage_error("--status: unknown status '%s'", status);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 0, 1) != 0)
		return EXIT_FAIL;
	f.since_date = since;
	f.status = status;
	f.rule = rule;
	f.stakeholder = shid;
	if (store_list_dispatches(w.st, &f, &v, &n, err) != 0) {
		log_err("%s", err);
		world_close(&w);
		return EXIT_FAIL;
	}
	report_log(stdout, w.cfg, v, n, (enum report_format)fmt);
	dispatch_recs_free(v, n);
	world_close(&w);
	return EXIT_OK;
}

static int cmd_mark(const char *config_path, int argc, char **argv)
{
	const char *as = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--as", 1, &as, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, to = -1, bad = 0;
	struct world w;
	char err[ERR_LEN];

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && as)
		to = dispatch_status_parse(as);
	if (rc == EXIT_OK && (nrest == 0 || !as))
		rc = usage_error("usage: occasiond mark ID... --as printed|signed|mailed|cancelled%s", "");
	else if (rc == EXIT_OK && to != DS_PRINTED && to != DS_SIGNED && to != DS_MAILED && to != DS_CANCELLED)
		rc = usage_error("--as: expected printed, signed, mailed or cancelled, got '%s'", as);
	if (rc != EXIT_OK) {
		free(rest);
		return rc;
	}
	if (world_open(&w, config_path, 0, 1) != 0) {
		free(rest);
		return EXIT_FAIL;
	}
	for (int i = 0; i < nrest; i++) {
		long id;
		int found = 0;
		struct dispatch_rec rec = {0};
		/* The hand work only moves forward: rendered < printed < signed < mailed. */
		static const int rank[DS__N] = {[DS_RENDERED] = 1, [DS_PRINTED] = 2, [DS_SIGNED] = 3, [DS_MAILED] = 4};
		if (util_parse_long(rest[i], 1, INT64_MAX > LONG_MAX ? LONG_MAX : (long)INT64_MAX, &id) != 0) {
			log_err("mark: '%s' is not a dispatch id", rest[i]);
			bad = 1;
			continue;
		}
		if (store_get_dispatch(w.st, id, &rec, &found, err) != 0 || !found) {
			log_err("mark: %s", found ? err : "no dispatch with that id");
			bad = 1;
		} else if (rec.channel != CH_CARD) {
			log_err("mark: dispatch %ld is an email; only cards are marked", id);
			bad = 1;
		} else if (rank[rec.status] == 0 || (to != DS_CANCELLED && rank[to] <= rank[rec.status]) ||
		           (to == DS_CANCELLED && rec.status == DS_MAILED)) {
			log_err("mark: dispatch %ld is %s; it cannot become %s", id, dispatch_status_names[rec.status],
			        dispatch_status_names[to]);
			bad = 1;
		} else {
			rec.status = (enum dispatch_status)to;
			if (store_update_dispatch(w.st, &rec, err) != 0) {
				log_err("mark: %s", err);
				bad = 1;
			} else {
				printf("%ld %s\n", id, dispatch_status_names[to]);
			}
		}
		dispatch_rec_clear(&rec);
	}
	world_close(&w);
	free(rest);
	return bad ? EXIT_FAIL : EXIT_OK;
}

static int cmd_serve(const char *config_path, int argc, char **argv)
{
	if (argc > 0)
		return usage_error("serve: unexpected argument '%s'", argv[0]);
	return daemon_serve(config_path) == 0 ? EXIT_OK : EXIT_FAIL;
}

static int cmd_report(const char *config_path, int argc, char **argv)
{
	const char *from_s = NULL, *to_s = NULL, *fmt_s = NULL, *out = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--from", 1, &from_s, NULL}, {"--to", 1, &to_s, NULL}, {"--format", 1, &fmt_s, NULL},
	                     {"-o", 1, &out, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	day_t d;
	struct world w;
	struct dispatch_filter f = {.channel = -1};
	struct dispatch_rec *v = NULL;
	size_t n = 0;
	char err[ERR_LEN];
	FILE *fp = stdout;

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = usage_error("report: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 0, 0, &fmt);
	if (rc == EXIT_OK && fmt == FMT_CSV)
		rc = usage_error("report: the formats are table and json%s", "");
	if (rc == EXIT_OK && ((from_s && dates_parse_iso(from_s, &d) != 0) || (to_s && dates_parse_iso(to_s, &d) != 0)))
		rc = usage_error("report: expected dates YYYY-MM-DD%s", "");
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 0, 1) != 0)
		return EXIT_FAIL;
	f.since_date = from_s;
	if (store_list_dispatches(w.st, &f, &v, &n, err) != 0) {
		log_err("%s", err);
		world_close(&w);
		return EXIT_FAIL;
	}
	if (out && !(fp = fopen(out, "w"))) {
		log_err("cannot write %s: %s", out, strerror(errno));
		rc = EXIT_FAIL;
	} else {
		report_summary(fp, w.cfg, v, n, from_s, to_s, (enum report_format)fmt);
		if (fp != stdout && fclose(fp) != 0)
			rc = EXIT_FAIL;
	}
	dispatch_recs_free(v, n);
	world_close(&w);
	return rc;
}

typedef int (*cmd_fn)(const char *config_path, int argc, char **argv);

static const struct {
	const char *name;
	cmd_fn fn;
} commands[] = {
	{"check", cmd_check}, {"import", cmd_import}, {"plan", cmd_plan}, {"run", cmd_run},
	{"serve", cmd_serve}, {"preview", cmd_preview}, {"log", cmd_log}, {"mark", cmd_mark},
	{"report", cmd_report},
};

int main(int argc, char **argv)
{
	const char *config_opt = NULL, *cmd;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("occasiond %s\n", OCCASIOND_VERSION);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "-v") == 0) {
			log_set_verbose(1);
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config_opt = argv[++i];
		} else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2]) {
			config_opt = argv[i] + 2;
		} else {
			return usage_error("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc)
		return usage_error("no command given%s", "");
	cmd = argv[i++];
	if (wants_help(argc - i, argv + i))
		return print_help(cmd);
	config_opt = config_resolve_path(config_opt);
	for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
		if (strcmp(cmd, commands[k].name) == 0)
			return commands[k].fn(config_opt, argc - i, argv + i);
	return usage_error("unknown command '%s'", cmd);
}
