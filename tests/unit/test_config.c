/*
 * Unit tests of src/config.c: the defaults of a config that gives nothing, held to what
 * occasiond.yaml(5) says they are, and the messages of a config's mistakes.
 */
#include "occasiond/config.h"
#include "occasiond/card.h"

#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static char tmpdir[] = "/tmp/occ-config-XXXXXX";

/* load: config text -> config, with every message in *msgs (caller frees). */
static struct config *load(const char *text, char **msgs)
{
	char path[300], err[ERR_LEN];
	struct diags d = {0};
	struct strbuf all = {0};
	struct config *c;
	snprintf(path, sizeof path, "%s/occasiond.yaml", tmpdir);
	if (util_write_atomic(path, text, strlen(text), err) != 0)
		printf("# %s\n", err);
	c = config_load(path, &d);
	for (size_t i = 0; i < d.n; i++)
		sb_addf(&all, "%s\n", d.msgs[i]);
	*msgs = all.s ? sb_detach(&all) : xstrdup("");
	diags_free(&d);
	return c;
}

static void expect(const char *what, const char *text, const char *want)
{
	char *msgs;
	struct config *c = load(text, &msgs);
	CHECK(c == NULL && strstr(msgs, want), "%s", what);
	if (!strstr(msgs, want))
		printf("#   want: %s\n#   got:  %s\n", want, msgs);
	config_free(c);
	free(msgs);
}

/* Each default the code uses stands in the man page, so neither can change alone. */
static void defaults_documented(void)
{
	char *man = NULL, *msgs, err[ERR_LEN], *rules;
	struct config *c = load("", &msgs);
	CHECK(c != NULL && !*msgs, "an empty config loads");
	if (util_read_file("man/occasiond.yaml.5", 1 << 20, &man, NULL, err) != 0) {
		CHECK(0, "the man page is readable (run from the repo root): %s", err);
		config_free(c);
		free(msgs);
		return;
	}
	if (c) {
		rules = xasprintf("%s/occasions.yaml", tmpdir);
		CHECK(strcmp(c->database, CONFIG_DEFAULT_DATABASE) == 0 && strstr(man, ".Pa " CONFIG_DEFAULT_DATABASE "\n"),
		      "database defaults to %s, as occasiond.yaml(5) says", c->database);
		CHECK(strcmp(c->spool, CONFIG_DEFAULT_SPOOL) == 0 && strstr(man, ".Pa " CONFIG_DEFAULT_SPOOL "\n"),
		      "spool defaults to %s, as the man page says", c->spool);
		/* The man page names them as under the default PREFIX and says how DATADIR follows it. */
		CHECK(strcmp(c->templates, OCCASIOND_DATADIR "/templates") == 0 &&
		      strstr(man, ".Pa /usr/local/share/occasiond/templates\n") && strstr(man, "DATADIR/templates"),
		      "templates default to the installed ones, as the man page says");
		CHECK(strcmp(c->fonts, OCCASIOND_DATADIR "/fonts") == 0 &&
		      strstr(man, ".Pa /usr/local/share/occasiond/fonts\n") && strstr(man, "DATADIR/fonts"),
		      "fonts default to the installed ones, as the man page says");
		CHECK(strcmp(c->rules, rules) == 0 && strstr(man, ".Pa occasions.yaml\nbeside the config"),
		      "rules default to occasions.yaml beside the config, as the man page says");
		CHECK(strcmp(c->timezone, "UTC") == 0 && strstr(man, "(default UTC)"), "timezone defaults to UTC, as the man page says");
		CHECK(c->smtp.tls == TLS_STARTTLS && c->smtp.rate_per_minute == 120 && c->smtp.timeout_secs == 30 &&
		      c->smtp.connections == 1 && c->retry.attempts == 8 && c->retry.first_delay == 300 &&
		      c->retry.max_delay == 6 * 3600 && c->lookback.n == 7 && c->cards.signing.n == 2 &&
		      c->cards.transit.n == 3 && c->cards.envelope == CARD_ENV_C6 && !c->cards.remind_signers,
		      "the other defaults");
		free(rules);
	}
	free(man);
	free(msgs);
	config_free(c);
}

static void mistakes(void)
{
	char *msgs;
	struct config *c;
	expect("a misspelt transport", "mail:\n  transport: smpt\n",
	       ":2:14: error: transport: expected maildir or smtp, got 'smpt' (did you mean 'smtp'?)");
	expect("a misspelt envelope", "cards:\n  envelope: c5\n",
	       ":2:13: error: envelope: expected none, c6, dl, a7 or no10, got 'c5' (did you mean 'c6'?)");
	expect("yes/no as in the rules", "cards:\n  remind_signers: maybe\n",
	       ":2:19: error: remind_signers: expected yes/no or true/false, got 'maybe'");
	expect("a whole number", "mail:\n  smtp: {connections: 99}\n",
	       ":2:23: error: connections: expected a whole number from 1 to 32, got '99'");
	expect("a timeout in months", "mail:\n  smtp: {timeout: 1 month}\n",
	       ":2:19: error: timeout: must be in seconds, minutes, hours, days or weeks");
	expect("a section that is not a mapping", "mail: [a]\n", ":1:7: error: mail must be a mapping, not a list");
	expect("a line break in a path", "database: \"a\\nb\"\n", ":1:11: error: database holds a control character (U+000A)");
	expect("a line break in print_command", "cards:\n  print_command: \"lp\\nrm -rf x\"\n",
	       ":2:18: error: print_command must be one line of text");
	c = load("organization:\n  return_address: \"Acme\\n1 Main St\"\n", &msgs);
	CHECK(c && strcmp(c->return_address, "Acme\n1 Main St") == 0, "a return address runs over lines");
	config_free(c);
	free(msgs);
}

/* sources: read with their defaults; the URL checked; the map loaded. */
static void sources(void)
{
	char *msgs, mp[300], err[ERR_LEN];
	struct config *c;
	c = load("sources:\n  - id: book\n    carddav: http://127.0.0.1:5232/occ/book\n", &msgs);
	CHECK(c && c->nsources == 1, "a source is read");
	if (c && c->nsources == 1) {
		CHECK_STR(c->sources[0].url, "http://127.0.0.1:5232/occ/book/", "the collection URL gets its '/'");
		CHECK(c->sources[0].allow_http && c->sources[0].every == 900 && !c->sources[0].username,
		      "http to loopback, every 15 minutes by default, no login");
	}
	config_free(c);
	free(msgs);
	expect("sources must be a list", "sources: {id: x}\n", ":1:10: error: sources: expected a list of sources");
	expect("a source needs its URL", "sources:\n  - id: x\n", ":2:5: error: source 'x': carddav: the address book's URL is needed");
	expect("a source needs an id", "sources:\n  - carddav: https://d.example/b/\n", "a source needs an id");
	expect("no query in the URL", "sources:\n  - {id: x, carddav: \"https://d.example/b/?a=1\"}\n",
	       "the URL of an address book has no query or fragment");
	expect("not ftp", "sources:\n  - {id: x, carddav: \"ftp://d.example/b/\"}\n", "expected an https:// URL");
	snprintf(mp, sizeof mp, "%s/bad.map.yaml", tmpdir);
	if (util_write_atomic(mp, "columns: [x]\n", 13, err) != 0)
		printf("# %s\n", err);
	c = load("sources:\n  - {id: x, carddav: \"https://d.example/b/\", map: bad.map.yaml}\n", &msgs);
	CHECK(!c && strstr(msgs, "bad.map.yaml:1:"), "the source's map is checked with the config");
	if (c || !strstr(msgs, "bad.map.yaml:1:"))
		printf("#   got: %s\n", msgs);
	config_free(c);
	free(msgs);
}

static void missing_file(void)
{
	struct diags d = {0};
	char *path = xasprintf("%s/nowhere.yaml", tmpdir);
	struct config *c = config_load(path, &d);
	int ok = c == NULL && d.n == 1 &&
	         strstr(d.msgs[0], "No such file or directory (name the config with -c FILE or OCCASIOND_CONFIG=FILE)");
	CHECK(ok, "a config that is not there: the message names -c and OCCASIOND_CONFIG");
	if (!ok && d.n)
		printf("#   got: %s\n", d.msgs[0]);
	diags_free(&d);
	free(path);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("not ok - mkdtemp\n");
		return 1;
	}
	defaults_documented();
	mistakes();
	sources();
	missing_file();
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return check_done();
}
