/* init: a site of one's own in one command (config, rules, templates to edit). */
#include "occasiond/init.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "occasiond/dates.h"

/*
 * The config: every key there is, with what it does; what a new site needs is set, the rest is
 * commented out with its default. Two values are filled in: the fonts directory, the zone.
 */
static const char config_head[] =
	"# occasiond configuration, written by `occasiond init` (see occasiond.yaml(5)).\n"
	"# Relative paths are relative to this file's directory. Lines starting with # are\n"
	"# comments: an optional key is shown commented out with its default.\n"
	"\n"
	"database: var/occasiond.db          # SQLite file, created with its schema on first use\n"
	"spool: var/spool                    # card batches (spool/batches) and emails (spool/outbox)\n"
	"templates: templates                # your copy of the card and email templates, to edit\n";

static const char config_tail[] =
	"rules: occasions.yaml               # a file, or a directory whose *.yaml files are all read\n"
	"# send_window: \"09:00-18:00\"        # local times between which dispatches fire\n"
	"# lookback: 7 days                  # how far back a missed fire time is still recorded\n"
	"# database_lease: 30s               # PostgreSQL, several daemons: how long a claim holds unrenewed\n"
	"\n"
	"organization:\n"
	"  name: Your Organization           # {{organization_name}} in templates; the default signer\n"
	"  # return_address: \"Your Organization\\n1 Main St\\nSpringfield, IL 62701\\nUSA\"\n"
	"                                    # printed on envelopes and labels\n"
	"\n"
	"mail:\n"
	"  from: \"Your Team <team@example.com>\"   # the From of every email\n"
	"  transport: maildir                # maildir: emails are files in spool/outbox/new, nothing is\n"
	"                                    # sent; smtp: sent through mail.smtp below\n"
	"  # smtp:\n"
	"  #   url: smtp://mail.example.com:587   # smtps://HOST for implicit TLS\n"
	"  #   tls: starttls                 # starttls (required, never optional) | implicit | none\n"
	"  #                                 # (none only to localhost)\n"
	"  #   username: occasiond\n"
	"  #   password_file: /etc/occasiond/smtp-password   # first line; not readable by group/others\n"
	"  #   ca_file: /etc/ssl/certs/ca-certificates.crt   # instead of the system's certificates\n"
	"  #   rate_per_minute: 120          # 0: unpaced\n"
	"  #   timeout: 30s                  # connect, each reply, any stall\n"
	"  #   connections: 1                # parallel connections of a pass (at most 32)\n"
	"  #   auth: password                # password | xoauth2 | oauthbearer (Microsoft 365, Google)\n"
	"  #   oauth2:                       # for xoauth2/oauthbearer: a refresh token, see README\n"
	"  #     token_url: https://login.microsoftonline.com/TENANT/oauth2/v2.0/token\n"
	"  #     client_id: 00000000-0000-0000-0000-000000000000\n"
	"  #     client_secret_file: /etc/occasiond/oauth-client-secret   # Google; 0600\n"
	"  #     refresh_token_file: /var/lib/occasiond/oauth-refresh-token   # `occasiond oauth login`\n"
	"  #     scope: \"https://outlook.office.com/SMTP.Send offline_access\"\n"
	"  #   token_command: \"oama access team@example.com\"   # instead of oauth2: prints a token\n"
	"  # unsubscribe: \"mailto:unsubscribe@example.com\"   # List-Unsubscribe of every email\n"
	"  # retry:                          # transient failures (4xx, network) are retried...\n"
	"  #   attempts: 8\n"
	"  #   first_delay: 5m               # ...with exponential back-off from here...\n"
	"  #   max_delay: 6h                 # ...capped here\n"
	"\n"
	"cards:\n"
	"  signing: 2 business days          # time the signer needs once a batch is printed\n"
	"  transit: 3 business days          # postal time: a card is mailed by the occasion minus this\n"
	"  # remind_signers: false           # true: email each signer their batch and sign-by date\n"
	"  # signers:                        # each signer's own address for that reminder\n"
	"  #   Dana Ruiz: dana@example.com\n"
	"  # print_command: \"lp -d office\"   # run on each finished batch PDF (its path appended)\n"
	"  # envelope: c6                    # an envelope page per card: c6, dl, a7, no10 or none\n"
	"  # labels: none                    # or address-label sheets: l7160 (A4), 5160 (Letter)\n"
	"\n"
	"# sources:                          # contact sources: CardDAV address books that `occasiond sync`\n"
	"#   -                               # and serve pull (new and changed contacts come in; one\n"
	"#                                   # deleted there is marked gone)\n"
	"#     id: team-contacts             # [a-z0-9-]+: `occasiond sync team-contacts`\n"
	"#     carddav: https://dav.example.com/addressbooks/occasiond/contacts/\n"
	"#     username: occasiond\n"
	"#     password_file: /etc/occasiond/carddav-password   # first line; chmod 600\n"
	"#     ca_file: /etc/ssl/certs/ca-certificates.crt      # instead of the system's certificates\n"
	"#     every: 15m                    # how often serve pulls it\n"
	"#     map: contacts.map.yaml        # optional, as for import (type, tier, custom fields)\n";

/* Starter rules, on the shipped templates: one of each kind of `when`, more shown commented. */
static const char rules_text[] =
	"# occasiond occasion rules, written by `occasiond init` (see occasiond.yaml(5)).\n"
	"# Each occasion says when, for whom, by which channel and with which template\n"
	"# (templates/NAME.card.yaml for a card, templates/NAME.email for an email).\n"
	"\n"
	"calendar:\n"
	"  weekend: [saturday, sunday]       # no card is due to be signed or posted on these days\n"
	"  holidays: [\"01-01\", \"12-25\", \"12-26\", \"easter-2\", \"easter+1\"]\n"
	"                                    # MM-DD every year, YYYY-MM-DD once, or days from Easter\n"
	"\n"
	"limits:\n"
	"  per_stakeholder: {max: 3, within: 30 days}   # at most 3 dispatches to a person in 30 days\n"
	"  # budget: {amount: 1000.00, per: year}       # the cost of what goes out: month|quarter|year\n"
	"\n"
	"occasions:\n"
	"  - id: birthday                    # [a-z0-9-]+, unique: the records are keyed on it\n"
	"    name: Birthday card\n"
	"    when: {anniversary_of: birthday}\n"
	"    lead: 10 days                   # fire this long before the birthday\n"
	"    channel: card                   # card | email | preferred (the stakeholder's own)\n"
	"    fallback: email                 # when the card can no longer be mailed in time\n"
	"    template: birthday\n"
	"    personal: true                  # only for stakeholders with consent_personal: yes\n"
	"    audience:                       # every key must match; a list means any of them\n"
	"      type: [customer, employee, partner]\n"
	"      # tier: [gold, platinum]\n"
	"      # min_tenure: 1 year          # from customer_since or hire_date\n"
	"    priority: 50                    # higher goes first when a limit bites\n"
	"    cost: 3.50                      # counts towards the budget\n"
	"    # late: 0 days                  # how long after the date it may still go out\n"
	"    # signer: \"Jane Doe\"           # default: the stakeholder's owner, else the organization\n"
	"    # variants:                     # the first that matches overrides template, cost, signer\n"
	"    #   - {tier: platinum, template: birthday, cost: 12.00}\n"
	"\n"
	"  - id: work-anniversary\n"
	"    name: Work anniversary\n"
	"    when: {anniversary_of: hire_date, years: [1, 5, 10, 15, 20, 25]}   # or every_years: 5\n"
	"    channel: card                   # lead defaults to cards.signing + cards.transit\n"
	"    template: work-anniversary\n"
	"    audience: {type: employee}\n"
	"    priority: 60\n"
	"    cost: 3.50\n"
	"\n"
	"  - id: holiday\n"
	"    name: Season's greetings\n"
	"    when: {date: \"12-24\"}            # every year; \"YYYY-MM-DD\" for one day\n"
	"    lead: 3 weeks\n"
	"    channel: preferred\n"
	"    template: holiday\n"
	"    audience: {type: [customer, partner, supplier]}\n"
	"    priority: 30\n"
	"    cost: 2.50\n"
	"\n"
	"  - id: thanksgiving\n"
	"    name: Thanksgiving thank-you\n"
	"    when: {nth_weekday: {n: 4, weekday: thursday, month: 11}}   # n: -1 is the last\n"
	"    channel: email\n"
	"    template: thank-you\n"
	"    audience: {type: customer}\n"
	"\n"
	"  - id: welcome\n"
	"    name: Welcome aboard\n"
	"    when: {event: onboarding}       # the date of each event of that kind (import events)\n"
	"    channel: email\n"
	"    template: welcome\n"
	"    late: 7 days\n"
	"\n"
	"  - id: reach-out\n"
	"    name: Thinking of you\n"
	"    when: {no_contact_for: 8 weeks}\n"
	"    channel: email\n"
	"    template: thinking-of-you\n"
	"    audience: {type: [customer, partner]}\n"
	"    priority: 5\n"
	"\n"
	"  # - id: quarterly-note\n"
	"  #   when: {every: 3 months, from: customer_since}\n"
	"  #   channel: email\n"
	"  #   template: thinking-of-you\n"
	"  # - id: weekly-surprise\n"
	"  #   when: {surprise: {count: 2, per: week}}   # the two silent longest, on a day of the week\n"
	"  #   channel: email\n"
	"  #   template: thinking-of-you\n";

/* is_data_dir: dir holds the shipped templates and fonts. */
static int is_data_dir(const char *dir)
{
	char *t = util_path_join(dir, "templates/birthday.card.yaml"), *f = util_path_join(dir, "fonts");
	struct stat st;
	int ok = util_file_exists(t) && stat(f, &st) == 0 && S_ISDIR(st.st_mode);
	free(t);
	free(f);
	return ok;
}

char *init_find_datadir(char err[ERR_LEN])
{
	const char *env = getenv("OCCASIOND_DATADIR");
	char exe[PATH_MAX];
	ssize_t n;
	if (env && *env) {
		if (is_data_dir(env))
			return xstrdup(env);
		err_set(err, "OCCASIOND_DATADIR=%s holds no templates/birthday.card.yaml and fonts/", env);
		return NULL;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		char *bin, *up, *cand;
		exe[n] = '\0';
		bin = util_dirname(exe);
		up = util_dirname(bin);
		cand = util_path_join(up, "share/occasiond");   /* PREFIX/sbin/occasiond */
		if (!is_data_dir(cand)) {
			free(cand);
			cand = xstrdup(up);                      /* SOURCE/build/occasiond */
		}
		if (!is_data_dir(cand)) {
			free(cand);
			cand = util_dirname(up);                 /* SOURCE/build/san/occasiond */
		}
		free(bin);
		free(up);
		if (is_data_dir(cand))
			return cand;
		free(cand);
	}
	if (is_data_dir(OCCASIOND_DATADIR))
		return xstrdup(OCCASIOND_DATADIR);
	err_set(err, "cannot find the shipped templates (looked next to the binary and in %s); set "
	        "OCCASIOND_DATADIR to the directory that holds templates/ and fonts/", OCCASIOND_DATADIR);
	return NULL;
}

/* machine_zone: the zone /etc/localtime links to, or $TZ when it names one; NULL if neither. */
static char *machine_zone(void)
{
	const char *tz = getenv("TZ");
	char buf[PATH_MAX];
	ssize_t n;
	if (tz && *tz == ':')
		tz++;
	if (tz && *tz && dates_zone_valid(tz))
		return xstrdup(tz);
	n = readlink("/etc/localtime", buf, sizeof buf - 1);
	if (n > 0) {
		const char *z;
		buf[n] = '\0';
		z = strstr(buf, "zoneinfo/");
		if (z && dates_zone_valid(z + 9))
			return xstrdup(z + 9);
	}
	return NULL;
}

/* yaml_quoted: s as a double-quoted YAML scalar. */
static void yaml_quoted(struct strbuf *sb, const char *s)
{
	sb_addc(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addc(sb, '\\');
		sb_addc(sb, *s);
	}
	sb_addc(sb, '"');
}

struct written {
	char **paths;       /* files and directories made, in order (removed in reverse on failure) */
	size_t n;
};

static void note_written(struct written *w, const char *path)
{
	w->paths = xreallocarray(w->paths, w->n + 1, sizeof *w->paths);
	w->paths[w->n++] = xstrdup(path);
}

static int make_dir(struct written *w, const char *path, char err[ERR_LEN])
{
	if (mkdir(path, 0755) != 0)
		return err_set(err, "cannot create %s: %s", path, strerror(errno));
	note_written(w, path);
	return 0;
}

static int write_file(struct written *w, const char *path, const char *data, size_t len, char err[ERR_LEN])
{
	if (util_write_atomic(path, data, len, err) != 0)
		return -1;
	note_written(w, path);
	return 0;
}

/* copy_tree: regular files and directories of src into the new directory dst (no symlinks). */
static int copy_tree(struct written *w, const char *src, const char *dst, int depth, char err[ERR_LEN])
{
	DIR *d;
	struct dirent *e;
	int rc = 0;
	if (depth > 4)
		return 0;
	if (make_dir(w, dst, err) != 0)
		return -1;
	d = opendir(src);
	if (!d)
		return err_set(err, "cannot read %s: %s", src, strerror(errno));
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char *s, *t;
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		s = util_path_join(src, e->d_name);
		t = util_path_join(dst, e->d_name);
		if (lstat(s, &st) != 0) {
			rc = err_set(err, "cannot read %s: %s", s, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = copy_tree(w, s, t, depth + 1, err);
		} else if (S_ISREG(st.st_mode)) {
			char *data = NULL;
			size_t len = 0;
			rc = util_read_file(s, 64u << 20, &data, &len, err);
			if (rc == 0)
				rc = write_file(w, t, data, len, err);
			free(data);
		}
		free(s);
		free(t);
	}
	closedir(d);
	return rc;
}

int init_site(const char *dir, const char *datadir, const char *zone, FILE *out, char err[ERR_LEN])
{
	static const char *const ours[] = {"occasiond.yaml", "occasions.yaml", "templates", "var", NULL};
	struct written w = {0};
	struct strbuf cfg = {0};
	char *path = NULL, *fonts = NULL, *tz = NULL, *tpl = NULL;
	struct stat st;
	int rc = -1;

	for (int i = 0; ours[i]; i++) {
		char *p = util_path_join(dir, ours[i]);
		int there = lstat(p, &st) == 0;
		if (there)
			err_set(err, "%s exists: init writes a new site and never overwrites one (choose another "
			        "directory, or move it away)", p);
		free(p);
		if (there)
			return -1;
	}
	if (stat(dir, &st) != 0) {
		if (util_mkdirs(dir, err) != 0)
			return -1;
		note_written(&w, dir);
	} else if (!S_ISDIR(st.st_mode)) {
		return err_set(err, "%s exists and is not a directory", dir);
	}

	tz = zone ? xstrdup(zone) : machine_zone();
	if (!tz)
		tz = xstrdup("UTC");
	fonts = util_path_join(datadir, "fonts");
	{
		char real[PATH_MAX];
		if (realpath(fonts, real)) {
			free(fonts);
			fonts = xstrdup(real);
		}
	}
	sb_adds(&cfg, config_head);
	sb_adds(&cfg, "# fonts: the shipped fonts the card templates name (a card's fonts are looked up here first)\n");
	sb_adds(&cfg, "fonts: ");
	yaml_quoted(&cfg, fonts);
	sb_adds(&cfg, "\n");
	sb_addf(&cfg, "timezone: %s", tz);
	sb_addf(&cfg, "%*s# IANA zone for stakeholders who have none, and for cards\n",
	        (int)(strlen(tz) < 26 ? 26 - strlen(tz) : 1), "");
	sb_adds(&cfg, config_tail);

	path = util_path_join(dir, "occasiond.yaml");
	if (write_file(&w, path, cfg.s, cfg.len, err) != 0)
		goto out;
	free(path);
	path = util_path_join(dir, "occasions.yaml");
	if (write_file(&w, path, rules_text, strlen(rules_text), err) != 0)
		goto out;
	free(path);
	path = util_path_join(dir, "templates");
	tpl = util_path_join(datadir, "templates");
	if (copy_tree(&w, tpl, path, 0, err) != 0)
		goto out;
	free(path);
	path = util_path_join(dir, "var");
	if (make_dir(&w, path, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		/* Nothing half-written: what this run made goes, newest first. */
		for (size_t i = w.n; i-- > 0;)
			if (remove(w.paths[i]) != 0 && errno != ENOENT)
				break;
	} else if (out) {
		FILE *fp = out;
		fprintf(fp, "%s: a new site (timezone %s)\n", dir, tz);
		fprintf(fp, "  occasiond.yaml   the config: every key explained\n");
		fprintf(fp, "  occasions.yaml   starter rules: birthdays, work anniversaries, holidays, ...\n");
		fprintf(fp, "  templates/       the card and email templates to make your own\n");
		fprintf(fp, "  var/             the database and the spool, once used\n");
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.paths[i]);
	free(w.paths);
	sb_free(&cfg);
	free(path);
	free(fonts);
	free(tz);
	free(tpl);
	return rc;
}
