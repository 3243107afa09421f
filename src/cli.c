/* cli: the words of the command line: the usage and each command's help, option parsing, a usage error. */
#include "occasiond/cli.h"

#include <stdio.h>
#include <string.h>

#include "occasiond/config.h"
#include "occasiond/util.h"

static const char usage_text[] =
	"usage: occasiond [-c CONFIG] [-v] COMMAND [OPTIONS]\n"
	"\n"
	"Greeting cards and personal notes on the occasions that matter.\n"
	"\n"
	"commands:\n"
	"  init DIR [--timezone ZONE]          write a new site: config, rules, templates to edit\n"
	"  check [--data] [--smtp]             validate config, rules, templates (and the data,\n"
	"                                      the SMTP login)\n"
	"  import stakeholders FILE.csv        insert or update stakeholders [--skip-invalid]; also\n"
	"                                      vCard and exports in their own columns through\n"
	"                                      [--map MAP.yaml | --preset hubspot|salesforce|google|outlook]\n"
	"                                      [--format csv|vcard] [--encoding E] [--delimiter C] [--dry-run]\n"
	"                                      [--skip-invalid]\n"
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
	"  optout ID|EMAIL...                  nothing more goes to those stakeholders\n"
	"  sync [SOURCE]                       pull the contact sources (CardDAV) now, or the one named\n"
	"  oauth login [--device-url URL]      sign in (device code) and save the refresh token\n"
	"  retry ID... | --rule ID | --status failed [--since DATE]\n"
	"                                      put failed dispatches back for the next pass\n"
	"  report [--from DATE] [--to DATE] [--silence WEEKS] [--at TIME] [--format table|json|html]\n"
	"         [-o FILE]\n"
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
	{"init", "usage: occasiond init DIR [--timezone ZONE]\n"
	         "Writes a working site into DIR: occasiond.yaml (every key explained), occasions.yaml\n"
	         "(starter rules), templates/ (a copy of the shipped ones, to edit) and var/ (the\n"
	         "database and spool, once used). Then occasiond -c DIR/occasiond.yaml check passes.\n"
	         "It never overwrites: an existing occasiond.yaml, occasions.yaml, templates or var\n"
	         "in DIR is an error. The time zone is ZONE, else the machine's, else UTC.\n"},
	{"check", "usage: occasiond check [--data] [--smtp]\n"
	          "Validates the config, the rules and every template, font and image they name.\n"
	          "Each problem is printed as FILE:LINE:COL: error: MESSAGE (or warning:).\n"
	          "--data also looks at the stakeholders: missing addresses, names a font cannot\n"
	          "print, 29 February dates, birthdays without a year, unknown time zones and\n"
	          "duplicates (the same email, or the same name and birthday).\n"
	          "--smtp also connects to the SMTP server, says STARTTLS and logs in (fetching an\n"
	          "OAuth2 access token when auth is xoauth2 or oauthbearer), then quits: nothing is sent.\n"},
	{"import", "usage: occasiond import stakeholders FILE [--map MAP.yaml | --preset NAME] [--format csv|vcard]\n"
	           "         [--encoding ENC] [--delimiter C] [--dry-run] [--skip-invalid]\n"
	           "       occasiond import events FILE.csv [--skip-invalid]\n"
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
	           "today); --at makes the report as of TIME. html is one self-contained page.\n"
	           "Without --format, -o FILE's extension chooses it (.html, .json, else table).\n"},
	{"oauth", "usage: occasiond oauth login [--device-url URL]\n"
	          "Runs the OAuth2 device-code flow (RFC 8628) for mail.smtp.oauth2: prints a URL and a\n"
	          "code to enter there as the mailbox's user, waits for the sign-in, then writes the\n"
	          "refresh token to refresh_token_file (mode 0600). The device endpoint defaults to the\n"
	          "token_url with /token replaced by /devicecode (Microsoft's); give --device-url else.\n"},
	{"optout", "usage: occasiond optout ID|EMAIL...\n"
	           "Marks the stakeholders with that id, or every one with that email (any case),\n"
	           "opted out at once: nothing more is sent or planned for them, a retry waiting\n"
	           "for them is skipped, and their records stay.\n"},
	{"sync", "usage: occasiond sync [SOURCE]\n"
	         "Pulls every contact source of the config (sources:), or the one named, now: the first\n"
	         "pull reads the whole address book, later ones only what changed. New and changed\n"
	         "contacts are written; one deleted at the source is marked gone (opted out, its\n"
	         "records kept). A source that fails is reported in one line and changes nothing.\n"},
	{NULL, NULL}
};

int cli_usage_error(const char *fmt, const char *arg)
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

int cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int cli_print_help(const char *cmd)
{
	for (int i = 0; helps[i].name; i++)
		if (strcmp(helps[i].name, cmd) == 0) {
			fputs(helps[i].text, stdout);
			return EXIT_OK;
		}
	fputs(usage_text, stdout);
	return EXIT_OK;
}

int cli_parse_opts(int argc, char **argv, struct cli_opt *opts, const char ***rest, int *nrest)
{
	*nrest = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		struct cli_opt *o = NULL;
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
			return cli_usage_error("unknown option '%s'", a);
		if (o->takes_value) {
			if (eq)
				*o->value = eq + 1;
			else if (i + 1 < argc)
				*o->value = argv[++i];
			else
				return cli_usage_error("option '%s' needs a value", o->name);
		} else {
			if (eq)
				return cli_usage_error("option '%s' takes no value", o->name);
			*o->flag = 1;
		}
	}
	return EXIT_OK;
}

