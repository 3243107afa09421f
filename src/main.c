/* main: the command line (CONTRACT §2): parse, dispatch to a command, map to exit codes. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "occasiond/card.h"
#include "occasiond/carddav.h"
#include "occasiond/check.h"
#include "occasiond/cli.h"
#include "occasiond/config.h"
#include "occasiond/daemon.h"
#include "occasiond/dispatch.h"
#include "occasiond/import.h"
#include "occasiond/init.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/oauth.h"
#include "occasiond/mime.h"
#include "occasiond/planner.h"
#include "occasiond/report.h"
#include "occasiond/report_data.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"


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
	/* The store makes a new database's directory itself. */
	if (need_store && store_open(w->cfg->database, &w->st, err) != 0) {
		log_err("%s", err);
		world_close(w);
		return -1;
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
		return cli_usage_error("unknown format '%s'", s);
	*fmt = f;
	return EXIT_OK;
}

/* check */

static int cmd_check(const char *config_path, int argc, char **argv)
{
	int data = 0, smtp = 0, nrest, rc;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{"--data", 0, NULL, &data}, {"--smtp", 0, NULL, &smtp}, {NULL, 0, NULL, NULL}};
	struct diags d = {0};
	struct config *cfg = NULL;
	struct ruleset *rs = NULL;

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = cli_usage_error("check: unexpected argument '%s'", rest[0]);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	cfg = config_load(config_path, &d);
	if (cfg)
		rs = rules_load(cfg->rules, &d);
	if (rs)
		check_templates(cfg, rs, &d);
	if (rs && !store_present(cfg->database))
		check_template_names(cfg, rs, NULL, &d);
	if (rs && (data || store_present(cfg->database))) {
		struct store *st = NULL;
		char err[ERR_LEN], *name = store_safe_name(cfg->database);
		if (!store_present(cfg->database))
			diags_add(&d, 1, "%s: warning: no database yet: import the stakeholders first", name);
		else if (store_open(cfg->database, &st, err) != 0)
			diags_add(&d, 0, "%s: error: %s", name, err);
		else {
			check_template_names(cfg, rs, st, &d);
			check_columns(rs, st, name, &d);
			if (data)
				check_data(cfg, rs, st, &d);
		}
		store_close(st);
		free(name);
	}
	if (cfg && smtp) {
		char err[ERR_LEN];
		if (cfg->transport != TRANSPORT_SMTP)
			diags_add(&d, 0, "%s: error: --smtp: mail.transport is not smtp", config_path);
		else if (mail_smtp_check(cfg, err) != 0)
			diags_add(&d, 0, "%s: error: %s", config_path, err);
		else
			printf("%s: smtp: logged in to %s and quit, nothing sent\n", config_path, cfg->smtp.url);
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
	int skip = 0, dry = 0, nrest, rc, events;
	const char *map = NULL, *preset = NULL, *format = NULL, *encoding = NULL, *delim = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{"--skip-invalid", 0, NULL, &skip}, {"--dry-run", 0, NULL, &dry},
	                     {"--map", 1, &map, NULL}, {"--preset", 1, &preset, NULL},
	                     {"--format", 1, &format, NULL}, {"--encoding", 1, &encoding, NULL},
	                     {"--delimiter", 1, &delim, NULL}, {NULL, 0, NULL, NULL}};
	struct import_opts io = {0};
	struct world w;
	struct diags d = {0};
	struct import_stats stats;
	static const char usage[] = "usage: occasiond import stakeholders FILE [--map MAP.yaml | --preset NAME] "
	                            "[--format csv|vcard] [--encoding ENC] [--delimiter C] [--dry-run] [--skip-invalid]\n"
	                            "       occasiond import events FILE.csv [--skip-invalid]";

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && (nrest != 2 || (strcmp(rest[0], "stakeholders") != 0 && strcmp(rest[0], "events") != 0)))
		rc = cli_usage_error("%s", usage);
	if (rc == EXIT_OK && map && preset)
		rc = cli_usage_error("--map and --preset: one or the other%s", "");
	if (rc == EXIT_OK && format && strcmp(format, "csv") != 0 && strcmp(format, "vcard") != 0)
		rc = cli_usage_error("--format is csv or vcard, not '%s'", format);
	if (rc == EXIT_OK && delim && strcmp(delim, ",") != 0 && strcmp(delim, ";") != 0 && strcmp(delim, "\t") != 0 &&
	    strcmp(delim, "tab") != 0 && strcmp(delim, "\\t") != 0 && strcmp(delim, "|") != 0)
		rc = cli_usage_error("--delimiter is ',', ';', tab or '|', not '%s'", delim);
	if (rc != EXIT_OK) {
		free(rest);
		return rc;
	}
	events = strcmp(rest[0], "events") == 0;
	io.events = events;
	io.skip_invalid = skip;
	io.dry_run = dry;
	io.map = map;
	io.preset = preset;
	io.format = format;
	io.encoding = encoding;
	io.delimiter = !delim ? 0 : (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0) ? '\t' : delim[0];
	if (world_open(&w, config_path, 0, 1) != 0) {
		free(rest);
		return EXIT_FAIL;
	}
	rc = import_file(w.st, rest[1], &io, &stats, &d);
	diags_print(&d, stderr);
	if (rc == 0 && !dry)
		printf("%s: %zu %s imported%s", rest[1], stats.written,
		       events ? util_plural((long long)stats.written, "event", "events") :
		                util_plural((long long)stats.written, "stakeholder", "stakeholders"),
		       stats.invalid ? "" : "\n");
	if (rc == 0 && !dry && stats.invalid)
		printf(", %zu invalid row%s skipped\n", stats.invalid, stats.invalid == 1 ? "" : "s");
	if (rc != 0 && stats.invalid)   /* else the one error above says why (a file that cannot be read) */
		fprintf(stderr, "occasiond: %s: nothing imported (%zu invalid row%s)\n", rest[1], stats.invalid,
		        stats.invalid == 1 ? "" : "s");
	else if (rc != 0)
		fprintf(stderr, "occasiond: %s: nothing imported\n", rest[1]);
	rc = rc != 0 || d.nerrors ? EXIT_FAIL : EXIT_OK;
	diags_free(&d);
	world_close(&w);
	free(rest);
	return rc;
}

/*
 * plan_warn_columns: a rule on a date column no stakeholder has never fires; plan and run say
 * so on stderr, once per rule, as check does (a plan or a pass is silent about what never comes).
 */
static void plan_warn_columns(const struct world *w)
{
	struct diags d = {0};
	char *name = store_safe_name(w->cfg->database);
	check_columns(w->rs, w->st, name, &d);
	free(name);
	diags_print(&d, stderr);
	diags_free(&d);
}

static int cmd_plan(const char *config_path, int argc, char **argv)
{
	const char *from_s = NULL, *days_s = NULL, *fmt_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{"--from", 1, &from_s, NULL}, {"--days", 1, &days_s, NULL},
	                     {"--format", 1, &fmt_s, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	long days = 30;
	day_t from = 0;
	struct world w;
	struct planner *pl = NULL;
	char err[ERR_LEN];

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = cli_usage_error("plan: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 1, 0, &fmt);
	if (rc == EXIT_OK && from_s && dates_parse_iso(from_s, &from) != 0)
		rc = cli_usage_error("--from: expected a date YYYY-MM-DD, got '%s'", from_s);
	if (rc == EXIT_OK && days_s && util_parse_long(days_s, 1, 3660, &days) != 0)
		rc = cli_usage_error("--days: expected a number of days from 1 to 3660, got '%s'", days_s);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	if (!from_s)
		from = today_in(w.cfg, now_utc());
	plan_warn_columns(&w);
	/* Streamed: memory grows with what is planned, not with the stakeholders (README, Decisions). */
	fflush(stdout);   /* setvbuf only before the stream's next output */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);   /* a long plan: fewer, larger writes */
	rc = EXIT_OK;
	if (planner_from_store(planner_new_range(w.cfg, w.rs, from, from + (day_t)days), w.st, &pl, err) != 0 ||
	    report_plan(stdout, pl, (enum report_format)fmt, now_utc()) != 0) {
		if (pl)
			log_err("cannot write the plan: %s", strerror(errno));
		else
			log_err("%s", err);
		rc = EXIT_FAIL;
	}
	planner_free(pl);
	world_close(&w);
	return rc;
}

static int cmd_run(const char *config_path, int argc, char **argv)
{
	const char *at_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int once = 0, dry = 0, nrest, rc;
	struct cli_opt opts[] = {{"--once", 0, NULL, &once}, {"--at", 1, &at_s, NULL}, {"--dry-run", 0, NULL, &dry},
	                     {NULL, 0, NULL, NULL}};
	struct world w;
	struct dispatch_stats stats;
	int64_t now, wake;
	char err[ERR_LEN];

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = cli_usage_error("run: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK && !once)
		rc = cli_usage_error("run needs --once (the daemon is 'occasiond serve')%s", "");
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	now = now_utc();
	if (at_s && dates_parse_time(at_s, w.cfg->timezone, &now, err) != 0) {
		world_close(&w);
		return cli_usage_error("--at: %s", err);
	}
	plan_warn_columns(&w);
	store_set_lease(w.st, w.cfg->database_lease);   /* several daemons: run --once claims like serve */
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
	struct cli_opt opts[] = {{"--rule", 1, &rule, NULL}, {"--stakeholder", 1, &shid, NULL}, {"-o", 1, &out, NULL},
	                     {"--output", 1, &out, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc;
	struct world w;
	char err[ERR_LEN];
	char *path = NULL;

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && (nrest || !rule || !shid))
		rc = cli_usage_error("usage: occasiond preview --rule ID --stakeholder ID [-o FILE]%s", "");
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	rc = dispatch_preview(w.cfg, w.rs, w.st, rule, shid, out, now_utc(), &path, err);
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
	struct cli_opt opts[] = {{"--since", 1, &since, NULL}, {"--status", 1, &status, NULL}, {"--rule", 1, &rule, NULL},
	                     {"--stakeholder", 1, &shid, NULL}, {"--format", 1, &fmt_s, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	day_t d;
	struct world w;
	struct dispatch_filter f = {.channel = -1};
	struct dispatch_rec *v = NULL;
	size_t n = 0;
	char err[ERR_LEN];

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = cli_usage_error("log: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 0, 0, &fmt);
	if (rc == EXIT_OK && since && dates_parse_iso(since, &d) != 0)
		rc = cli_usage_error("--since: expected a date YYYY-MM-DD, got '%s'", since);
	if (rc == EXIT_OK && status && dispatch_status_parse(status) < 0)
		rc = cli_usage_error("--status: unknown status '%s'", status);
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
	struct cli_opt opts[] = {{"--as", 1, &as, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc, to = -1, bad = 0;
	struct world w;
	char err[ERR_LEN];

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && as)
		to = dispatch_status_parse(as);
	if (rc == EXIT_OK && (nrest == 0 || !as))
		rc = cli_usage_error("usage: occasiond mark ID... --as printed|signed|mailed|cancelled%s", "");
	else if (rc == EXIT_OK && to != DS_PRINTED && to != DS_SIGNED && to != DS_MAILED && to != DS_CANCELLED)
		rc = cli_usage_error("--as: expected printed, signed, mailed or cancelled, got '%s'", as);
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
		if (util_parse_long(rest[i], 1, INT64_MAX > LONG_MAX ? LONG_MAX : (long)INT64_MAX, &id) != 0) {
			log_err("mark: '%s' is not a dispatch id", rest[i]);
			bad = 1;
		} else if (store_mark_dispatch(w.st, id, (enum dispatch_status)to, err) != 0) {
			/* The store's states: forward only, cancelled before mailed or after a failure. */
			log_err("mark: %s", err);
			bad = 1;
		} else {
			printf("%ld %s\n", id, dispatch_status_names[to]);
		}
	}
	world_close(&w);
	free(rest);
	return bad ? EXIT_FAIL : EXIT_OK;
}

static int cmd_init(const char *config_path, int argc, char **argv)
{
	const char *zone = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{"--timezone", 1, &zone, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc;
	char err[ERR_LEN], *datadir = NULL, *cfg = NULL;

	(void)config_path;   /* init writes a config; it reads none */
	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest != 1)
		rc = cli_usage_error("usage: occasiond init DIR [--timezone ZONE]%s", "");
	if (rc == EXIT_OK && zone && !dates_zone_valid(zone))
		rc = cli_usage_error("--timezone: unknown time zone '%s' (an IANA name such as Europe/Berlin)", zone);
	if (rc == EXIT_OK && !(datadir = init_find_datadir(err))) {
		log_err("init: %s", err);
		rc = EXIT_FAIL;
	}
	if (rc == EXIT_OK && init_site(rest[0], datadir, zone, stdout, err) != 0) {
		log_err("init: %s", err);
		rc = EXIT_FAIL;
	}
	if (rc == EXIT_OK) {
		cfg = util_path_join(rest[0], "occasiond.yaml");
		printf("next:\n  occasiond -c %s check\n  occasiond -c %s import stakeholders people.csv\n"
		       "  occasiond -c %s plan --days 30\n", cfg, cfg, cfg);
	}
	free(cfg);
	free(datadir);
	free(rest);
	return rc;
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
	struct cli_opt opts[] = {{"--rule", 1, &rule, NULL}, {"--status", 1, &status, NULL}, {"--since", 1, &since, NULL},
	                     {NULL, 0, NULL, NULL}};
	struct dispatch_rec *v = NULL;
	size_t n = 0, done = 0;
	int nrest, rc, bad = 0;
	struct world w;
	char err[ERR_LEN];
	day_t d;

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && status && strcmp(status, "failed") != 0)
		rc = cli_usage_error("--status: only failed dispatches are retried in bulk, not '%s'", status);
	else if (rc == EXIT_OK && since && dates_parse_iso(since, &d) != 0)
		rc = cli_usage_error("--since: expected a date YYYY-MM-DD, got '%s'", since);
	else if (rc == EXIT_OK && nrest == 0 && !rule && !status)
		rc = cli_usage_error("usage: occasiond retry ID... | --rule ID | --status failed [--since DATE]%s", "");
	else if (rc == EXIT_OK && nrest > 0 && (rule || status || since))
		rc = cli_usage_error("retry: give dispatch ids or --rule/--status, not both%s", "");
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
			if (found)
				log_err("retry: %s", err);
			else
				log_err("retry: no dispatch with id %ld", id);
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
		return cli_usage_error("serve: unexpected argument '%s'", argv[0]);
	return daemon_serve(config_path) == 0 ? EXIT_OK : EXIT_FAIL;
}

/*
 * report_file_format: -o FILE's extension says what is in it: without --format it chooses
 * the format (.html/.htm html, .json json, else the table); with --format, a file named for
 * another format is refused, as preview refuses a card in an .eml.
 */
static int report_file_format(const char *out, int given, int *fmt)
{
	static const struct {
		const char *ext;
		int fmt;
	} exts[] = {{".html", FMT_HTML}, {".htm", FMT_HTML}, {".json", FMT_JSON}, {".txt", FMT_TABLE}};
	size_t n = strlen(out);
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		size_t k = strlen(exts[i].ext);
		if (n <= k || strcasecmp(out + n - k, exts[i].ext) != 0)
			continue;
		if (!given)
			*fmt = exts[i].fmt;
		else if (*fmt != exts[i].fmt)
			return cli_usage_error("report: -o '%s' is named for another format than --format gives", out);
		return EXIT_OK;
	}
	return EXIT_OK;
}

static int cmd_report(const char *config_path, int argc, char **argv)
{
	const char *from_s = NULL, *to_s = NULL, *fmt_s = NULL, *out = NULL, *sil_s = NULL, *at_s = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{"--from", 1, &from_s, NULL}, {"--to", 1, &to_s, NULL}, {"--format", 1, &fmt_s, NULL},
	                     {"-o", 1, &out, NULL}, {"--silence", 1, &sil_s, NULL}, {"--at", 1, &at_s, NULL},
	                     {NULL, 0, NULL, NULL}};
	int nrest, rc, fmt = FMT_TABLE;
	long silence = 8;
	day_t from = DAY_NONE, to = DAY_NONE, today;
	int64_t now;
	struct world w;
	struct planner *pl = NULL;
	struct report_input ri;
	struct report_data rd;
	char err[ERR_LEN], *tmp = NULL;
	FILE *fp = stdout;

	memset(&rd, 0, sizeof rd);
	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest)
		rc = cli_usage_error("report: unexpected argument '%s'", rest[0]);
	if (rc == EXIT_OK)
		rc = get_format(fmt_s, 0, 1, &fmt);
	if (rc == EXIT_OK && fmt == FMT_CSV)
		rc = cli_usage_error("report: the formats are table, json and html%s", "");
	if (rc == EXIT_OK && out)
		rc = report_file_format(out, fmt_s != NULL, &fmt);
	if (rc == EXIT_OK && from_s && dates_parse_iso(from_s, &from) != 0)
		rc = cli_usage_error("--from: expected a date YYYY-MM-DD, got '%s'", from_s);
	if (rc == EXIT_OK && to_s && dates_parse_iso(to_s, &to) != 0)
		rc = cli_usage_error("--to: expected a date YYYY-MM-DD, got '%s'", to_s);
	if (rc == EXIT_OK && sil_s && util_parse_long(sil_s, 1, 520, &silence) != 0)
		rc = cli_usage_error("--silence: expected a number of weeks from 1 to 520, got '%s'", sil_s);
	if (rc == EXIT_OK && from != DAY_NONE && to != DAY_NONE && from > to)
		rc = cli_usage_error("report: --from %s is after --to", from_s);
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 1, 1) != 0)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	now = now_utc();
	if (at_s && dates_parse_time(at_s, w.cfg->timezone, &now, err) != 0) {
		world_close(&w);
		return cli_usage_error("--at: %s", err);
	}
	today = today_in(w.cfg, now);
	/* The plan ahead feeds the signing load, the calendar and the planned cost. */
	pl = planner_new_range(w.cfg, w.rs, today, today + 7 * REPORT_WEEKS_AHEAD + 7);
	planner_keep_names(pl, 0);   /* the report holds the silences' counts and the plan whole besides */
	if (planner_from_store(pl, w.st, &pl, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	ri = (struct report_input){w.cfg, w.rs, pl, today, from, to, silence};
	if (report_data_from_store(&ri, w.st, &rd, err) != 0) {
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
	if (report_data_broken(&rd)) {
		log_err("report: cannot read back its temporary file");
		if (out) {
			fclose(fp);
			unlink(tmp);
		}
		goto out;
	}
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
	planner_free(pl);
	world_close(&w);
	return rc;
}

/* optout */

static int cmd_optout(const char *config_path, int argc, char **argv)
{
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{NULL, 0, NULL, NULL}};
	int nrest, rc, bad = 0;
	struct world w;
	char err[ERR_LEN];

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest == 0)
		rc = cli_usage_error("usage: occasiond optout ID|EMAIL...%s", "");
	if (rc != EXIT_OK || world_open(&w, config_path, 0, 1) != 0) {
		free(rest);
		return rc != EXIT_OK ? rc : EXIT_FAIL;
	}
	for (int i = 0; i < nrest; i++) {
		char **ids = NULL;
		size_t n = 0;
		if (util_has_ctl(rest[i], NULL) || !rest[i][0]) {
			log_err("optout: '%s' is not a stakeholder id or an email", rest[i]);
			bad = 1;
		} else if (store_optout(w.st, rest[i], &ids, &n, err) != 0) {
			log_err("optout: %s", err);
			bad = 1;
		} else if (n == 0) {
			log_err("optout: no stakeholder with the id or email '%s'", rest[i]);
			bad = 1;
		}
		for (size_t k = 0; k < n; k++) {
			printf("%s opted out\n", ids[k]);
			free(ids[k]);
		}
		free(ids);
	}
	world_close(&w);
	free(rest);
	return bad ? EXIT_FAIL : EXIT_OK;
}

/* sync */

/* sync_report: one line of what a pull did. */
static void sync_report(const char *id, const struct carddav_stats *s)
{
	printf("%s: %zu new or changed, %zu gone", id, s->updated, s->gone);
	if (s->back)
		printf(", %zu back", s->back);
	printf(" (%s)\n", s->etags ? "the whole book listed by ETags" : s->full ? "the whole book" :
	       "changes since the last pull");
}

static int cmd_sync(const char *config_path, int argc, char **argv)
{
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{NULL, 0, NULL, NULL}};
	int nrest, rc, bad = 0, found = 0;
	struct world w;
	char err[ERR_LEN];

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && nrest > 1)
		rc = cli_usage_error("usage: occasiond sync [SOURCE]%s", "");
	if (rc != EXIT_OK || world_open(&w, config_path, 0, 1) != 0) {
		free(rest);
		return rc != EXIT_OK ? rc : EXIT_FAIL;
	}
	if (w.cfg->nsources == 0) {
		log_err("sync: %s has no sources (see sources: in occasiond.yaml(5))", config_path);
		bad = 1;
	}
	for (size_t i = 0; i < w.cfg->nsources; i++) {
		const struct config_source *src = &w.cfg->sources[i];
		struct carddav_stats s;
		if (nrest == 1 && strcmp(rest[0], src->id) != 0)
			continue;
		found = 1;
		if (carddav_sync(w.st, src, now_utc(), &s, err) != 0) {
			log_err("sync: source %s: %s", src->id, err);
			bad = 1;
		} else {
			sync_report(src->id, &s);
		}
	}
	if (nrest == 1 && !found && w.cfg->nsources) {
		struct strbuf ids = {0};
		for (size_t i = 0; i < w.cfg->nsources; i++)
			sb_addf(&ids, "%s%s", i ? ", " : "", w.cfg->sources[i].id);
		log_err("sync: no source '%s' in %s (there are: %s)", rest[0], config_path, ids.s);
		sb_free(&ids);
		bad = 1;
	}
	world_close(&w);
	free(rest);
	return bad ? EXIT_FAIL : EXIT_OK;
}

/* oauth login */

static int cmd_oauth(const char *config_path, int argc, char **argv)
{
	const char *device_url = NULL;
	const char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	struct cli_opt opts[] = {{"--device-url", 1, &device_url, NULL}, {NULL, 0, NULL, NULL}};
	int nrest, rc;
	struct world w;
	char err[ERR_LEN], *derived = NULL;

	rc = cli_parse_opts(argc, argv, opts, &rest, &nrest);
	if (rc == EXIT_OK && (nrest != 1 || strcmp(rest[0], "login") != 0))
		rc = cli_usage_error("usage: occasiond oauth login [--device-url URL]%s", "");
	free(rest);
	if (rc != EXIT_OK)
		return rc;
	if (world_open(&w, config_path, 0, 0) != 0)
		return EXIT_FAIL;
	if (!w.cfg->smtp.oauth2.token_url) {
		log_err("oauth login: %s has no mail.smtp.oauth2 section", config_path);
		world_close(&w);
		return EXIT_FAIL;
	}
	if (!device_url) {
		/* Microsoft's device endpoint sits beside its token endpoint: .../oauth2/v2.0/devicecode */
		const char *t = w.cfg->smtp.oauth2.token_url;
		size_t n = strlen(t);
		if (n > 6 && strcmp(t + n - 6, "/token") == 0)
			device_url = derived = xasprintf("%.*s/devicecode", (int)(n - 6), t);
	}
	if (!device_url) {
		log_err("oauth login: give --device-url (the provider's device authorization endpoint)");
		rc = EXIT_USAGE;
	} else if (oauth_login(w.cfg, device_url, stdout, err) != 0) {
		log_err("%s", err);
		rc = EXIT_FAIL;
	}
	free(derived);
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
	{"report", cmd_report}, {"init", cmd_init}, {"optout", cmd_optout}, {"retry", cmd_retry},
	{"oauth", cmd_oauth}, {"sync", cmd_sync},
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
			return cli_print_help("");   /* no command: the whole usage */
		} else if (strcmp(argv[i], "-v") == 0) {
			log_set_verbose(1);
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config_opt = argv[++i];
		} else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2]) {
			config_opt = argv[i] + 2;
		} else {
			return cli_usage_error("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc)
		return cli_usage_error("no command given%s", "");
	cmd = argv[i++];
	if (cli_wants_help(argc - i, argv + i))
		return cli_print_help(cmd);
	config_opt = config_resolve_path(config_opt);
	for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
		if (strcmp(cmd, commands[k].name) == 0)
			return commands[k].fn(config_opt, argc - i, argv + i);
	return cli_usage_error("unknown command '%s'", cmd);
}
