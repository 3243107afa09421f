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
#include "occasiond/check.h"
#include "occasiond/config.h"
#include "occasiond/daemon.h"
#include "occasiond/dispatch.h"
#include "occasiond/import.h"
#include "occasiond/log.h"
#include "occasiond/mime.h"
#include "occasiond/planner.h"
#include "occasiond/report.h"
#include "occasiond/report_data.h"
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
	"  retry ID... | --rule ID | --status failed [--since DATE]\n"
	"                                      put failed dispatches back for the next pass\n"
	"  report [--from DATE] [--to DATE] [--silence WEEKS] [--format table|json|html] [-o FILE]\n"
	"                                      coverage, silences, cost, signing load, failures\n"
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
	          "print, 29 February dates, birthdays without a year, unknown time zones and\n"
	          "duplicates (the same email, or the same name and birthday).\n"},
	{"import", "usage: occasiond import stakeholders|events FILE.csv [--skip-invalid]\n"
	           "Inserts or updates by id in one transaction. A bad row is reported as\n"
	           "FILE:LINE: error: MESSAGE and nothing is written, unless --skip-invalid.\n"},
	{"plan", "usage: occasiond plan [--from DATE] [--days N] [--format table|csv|json|ics]\n"
	         "The dispatches that will fire from DATE (default today) for N days (default 30),\n"
	         "in fire order, without sending or recording anything. What limits would skip is\n"
	         "shown with a note saying which limit and why.\n"},
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
	         "Moves card dispatches along: rendered -> printed -> signed -> mailed, or cancelled\n"
	         "(a failed one too).\n"},
	{"retry", "usage: occasiond retry ID... | --rule ID | --status failed [--since DATE]\n"
	          "Puts failed dispatches (and an unknown one named by id) back: the next pass plans\n"
	          "them afresh, so a card that failed for a missing font goes out once it is installed.\n"},
	{"report", "usage: occasiond report [--from DATE] [--to DATE] [--silence WEEKS] [--at TIME]\n"
	           "                       [--format table|json|html] [-o FILE]\n"
	           "Coverage (share of stakeholders reached in the last 30, 60 and 90 days, by type and\n"
	           "tier), the longest silences (no dispatch for more than WEEKS, default 8), dispatches\n"
	           "by occasion, channel and status (occasion dates from --from to --to), dispatches per\n"
	           "month, cost against the budget, the signing load of the weeks ahead, and the failed\n"
	           "and unknown dispatches that need a person. --to is the reference date (default\n"
	           "today); --at makes the report as of TIME. html is one self-contained page.\n"},
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
	if (rs)
		check_templates(cfg, rs, &d);
	if (rs && (data || util_file_exists(cfg->database))) {
		struct store *st = NULL;
		char err[ERR_LEN];
		if (!util_file_exists(cfg->database))
			diags_add(&d, 1, "%s: warning: no database yet: import the stakeholders first", cfg->database);
		else if (store_open(cfg->database, &st, err) != 0)
			diags_add(&d, 0, "%s: error: %s", cfg->database, err);
		else {
			check_columns(rs, st, cfg->database, &d);
			if (data)
				check_data(cfg, rs, st, &d);
		}
		store_close(st);
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
	/* Streamed: memory grows with what is planned, not with the stakeholders (README, Decisions). */
	fflush(stdout);   /* setvbuf only before the stream's next output */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);   /* a long plan: fewer, larger writes */
	rc = EXIT_OK;
	if (report_plan_streamed(stdout, w.cfg, w.rs, w.st, from, from + (day_t)days, (enum report_format)fmt, now_utc(),
	                         err) != 0) {
		log_err("%s", err);
		rc = EXIT_FAIL;
	}
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
	if (store_quick_check(w.st, err) != 0 || dispatch_run(w.cfg, w.rs, w.st, now, dry, &stats, &wake, err) != 0) {
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
		} else if ((rank[rec.status] == 0 && !(to == DS_CANCELLED && rec.status == DS_FAILED)) ||
		           (to != DS_CANCELLED && rank[to] <= rank[rec.status]) ||
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

/*
 * retry: a failed dispatch (or an unknown one named by id) is taken back: its record is
 * removed, so the next pass plans it afresh (a card that failed for a font goes out once the
 * font is installed; one whose deadline has passed is recorded missed, as any other).
 */
static int cmd_retry(const char *config_path, int argc, char **argv)
{
	const char *rule = NULL, *status = NULL, *since = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--rule", 1, &rule, NULL}, {"--status", 1, &status, NULL}, {"--since", 1, &since, NULL},
	                     {NULL, 0, NULL, NULL}};
	struct dispatch_rec *v = NULL;
	size_t n = 0, done = 0;
	int nrest, rc, bad = 0;
	struct world w;
	char err[ERR_LEN];
	day_t d;

	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && status && strcmp(status, "failed") != 0)
		rc = usage_error("--status: only failed dispatches are retried in bulk, not '%s'", status);
	else if (rc == EXIT_OK && since && dates_parse_iso(since, &d) != 0)
		rc = usage_error("--since: expected a date YYYY-MM-DD, got '%s'", since);
	else if (rc == EXIT_OK && nrest == 0 && !rule && !status)
		rc = usage_error("usage: occasiond retry ID... | --rule ID | --status failed [--since DATE]%s", "");
	else if (rc == EXIT_OK && nrest > 0 && (rule || status || since))
		rc = usage_error("retry: give dispatch ids or --rule/--status, not both%s", "");
	if (rc != EXIT_OK) {
		free(rest);
		return rc;
	}
	if (world_open(&w, config_path, 0, 1) != 0) {
		free(rest);
		return EXIT_FAIL;
	}
	if (nrest == 0) {
		struct dispatch_filter f = {.channel = -1};
		f.status = "failed";
		f.rule = rule;
		f.since_date = since;
		if (store_list_dispatches(w.st, &f, &v, &n, err) != 0) {
			log_err("retry: %s", err);
			bad = 1;
		}
		for (size_t i = 0; i < n; i++) {
			if (store_delete_dispatch(w.st, v[i].id, err) != 0) {
				log_err("retry: %s", err);
				bad = 1;
				continue;
			}
			printf("%lld %s %s %s requeued\n", (long long)v[i].id, v[i].rule, v[i].stakeholder, v[i].occasion_date);
			done++;
		}
		dispatch_recs_free(v, n);
	}
	for (int i = 0; i < nrest; i++) {
		long id;
		int found = 0;
		struct dispatch_rec rec = {0};
		if (util_parse_long(rest[i], 1, INT64_MAX > LONG_MAX ? LONG_MAX : (long)INT64_MAX, &id) != 0) {
			log_err("retry: '%s' is not a dispatch id", rest[i]);
			bad = 1;
			continue;
		}
		if (store_get_dispatch(w.st, id, &rec, &found, err) != 0 || !found) {
			log_err("retry: %s", found ? err : "no dispatch with that id");
			bad = 1;
		} else if (rec.status != DS_FAILED && rec.status != DS_UNKNOWN) {
			log_err("retry: dispatch %ld is %s; only a failed or unknown one is retried", id,
			        dispatch_status_names[rec.status]);
			bad = 1;
		} else if (store_delete_dispatch(w.st, id, err) != 0) {
			log_err("retry: %s", err);
			bad = 1;
		} else {
			printf("%ld %s %s %s requeued\n", id, rec.rule, rec.stakeholder, rec.occasion_date);
			done++;
		}
		dispatch_rec_clear(&rec);
	}
	if (nrest == 0 && done == 0 && !bad)
		printf("nothing to retry\n");
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
	const char *from_s = NULL, *to_s = NULL, *fmt_s = NULL, *out = NULL, *sil_s = NULL, *at_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct opt opts[] = {{"--from", 1, &from_s, NULL}, {"--to", 1, &to_s, NULL}, {"--format", 1, &fmt_s, NULL},
	                     {"-o", 1, &out, NULL}, {"--silence", 1, &sil_s, NULL}, {"--at", 1, &at_s, NULL},
	                     {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	long silence = 8;
	day_t from = DAY_NONE, to = DAY_NONE, today;
	int64_t now;
	struct world w;
	struct plan_input in;
	struct plan_list pl = {0};
	struct report_input ri;
	struct report_data rd;
	struct stakeholder *sh = NULL;
	struct event *ev = NULL;
	struct dispatch_rec *hist = NULL;
	size_t nsh = 0, nev = 0, nhist = 0;
	char err[ERR_LEN], *tmp = NULL;
	FILE *fp = stdout;

	memset(&rd, 0, sizeof rd);
	rc = parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = usage_error("report: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 0, 1, &fmt);
	if (rc == EXIT_OK && fmt == FMT_CSV)
		rc = usage_error("report: the formats are table, json and html%s", "");
	if (rc == EXIT_OK && from_s && dates_parse_iso(from_s, &from) != 0)
		rc = usage_error("--from: expected a date YYYY-MM-DD, got '%s'", from_s);
	if (rc == EXIT_OK && to_s && dates_parse_iso(to_s, &to) != 0)
		rc = usage_error("--to: expected a date YYYY-MM-DD, got '%s'", to_s);
	if (rc == EXIT_OK && sil_s && util_parse_long(sil_s, 1, 520, &silence) != 0)
		rc = usage_error("--silence: expected a number of weeks from 1 to 520, got '%s'", sil_s);
	if (rc == EXIT_OK && from != DAY_NONE && to != DAY_NONE && from > to)
		rc = usage_error("report: --from %s is after --to", from_s);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	now = now_utc();
	if (at_s && dates_parse_time(at_s, w.cfg->timezone, &now, err) != 0) {
		world_close(&w);
		return usage_error("--at: %s", err);
	}
	today = today_in(w.cfg, now);
	if (load_plan_input(&w, &in, &sh, &nsh, &ev, &nev, &hist, &nhist) != 0)
		goto out;
	/* The plan ahead feeds the signing load, the calendar and the planned cost. */
	if (planner_range(&in, today, today + 7 * REPORT_WEEKS_AHEAD + 7, &pl, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	ri = (struct report_input){w.cfg, w.rs, sh, nsh, hist, nhist, &pl, today, from, to, silence};
	if (report_data_build(&ri, &rd, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (out) {
		/* Written whole to a temporary file and renamed, so a reader never sees half a page. */
		tmp = xasprintf("%s.tmp", out);
		if (!(fp = fopen(tmp, "w"))) {
			log_err("cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
	}
	if (fmt == FMT_HTML)
		report_html(fp, w.cfg, &rd);
	else
		report_data_print(fp, w.cfg, &rd, fmt == FMT_JSON);
	if (out) {
		int bad = ferror(fp) | (fflush(fp) != 0) | (fsync(fileno(fp)) != 0);
		bad |= fclose(fp) != 0;
		if (bad || rename(tmp, out) != 0) {
			log_err("cannot write %s: %s", out, strerror(errno));
			unlink(tmp);
			goto out;
		}
	}
	rc = EXIT_OK;
out:
	free(tmp);
	report_data_free(&rd);
	plan_list_free(&pl);
	stakeholders_free(sh, nsh);
	events_free(ev, nev);
	dispatch_recs_free(hist, nhist);
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
	{"report", cmd_report}, {"retry", cmd_retry},
};

int main(int argc, char **argv)
{
	const char *config_opt = NULL, *cmd;
	int i = 1;

	/*
	 * A file-size limit (RLIMIT_FSIZE) or a full disk must fail a write with an error we can
	 * report and retry, not kill the process in the middle of a pass.
	 */
	signal(SIGXFSZ, SIG_IGN);
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
