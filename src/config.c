/* config: occasiond.yaml -> struct config, every problem reported with its position. */
#include "occasiond/config.h"
#include "occasiond/card.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "occasiond/mail.h"
#include "occasiond/mime.h"
#include "occasiond/ytree.h"

static const char *const top_keys[] = {
	"database", "spool", "templates", "fonts", "rules", "timezone", "send_window", "lookback",
	"organization", "mail", "cards", NULL
};
static const char *const org_keys[] = {"name", "return_address", NULL};
static const char *const mail_keys[] = {"from", "transport", "smtp", "retry", "unsubscribe", NULL};
static const char *const smtp_keys[] = {
	"url", "tls", "username", "password_file", "ca_file", "rate_per_minute", "timeout", "connections",
	"auth", "oauth2", "token_command", NULL
};
static const char *const oauth2_keys[] = {"token_url", "client_id", "client_secret_file", "refresh_token_file",
                                          "scope", "ca_file", NULL};
const char *const smtp_auth_names[] = {"password", "xoauth2", "oauthbearer", NULL};
static const char *const retry_keys[] = {"attempts", "first_delay", "max_delay", NULL};
static const char *const cards_keys[] = {"signing", "transit", "remind_signers", "print_command", "envelope",
                                         "labels", NULL};

const char *config_resolve_path(const char *opt)
{
	const char *env;
	if (opt && *opt)
		return opt;
	env = getenv("OCCASIOND_CONFIG");
	if (env && *env)
		return env;
	return CONFIG_DEFAULT_PATH;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->dir);
	free(c->database);
	free(c->spool);
	free(c->templates);
	free(c->fonts);
	free(c->rules);
	free(c->timezone);
	free(c->org_name);
	free(c->return_address);
	free(c->mail_from);
	free(c->mail_from_name);
	free(c->mail_from_addr);
	free(c->smtp.url);
	free(c->smtp.username);
	free(c->smtp.password_file);
	free(c->smtp.ca_file);
	free(c->smtp.oauth2.token_url);
	free(c->smtp.oauth2.client_id);
	free(c->smtp.oauth2.client_secret_file);
	free(c->smtp.oauth2.refresh_token_file);
	free(c->smtp.oauth2.scope);
	free(c->smtp.oauth2.ca_file);
	free(c->smtp.token_command);
	free(c->unsubscribe);
	free(c->cards.print_command);
	free(c);
}

/* scalar: the text of a scalar node, or a diag naming what was expected. */
static const char *scalar(const struct ynode *n, const char *what, struct diags *d)
{
	if (!n)
		return NULL;
	if (n->type != Y_SCALAR) {
		ytree_diag(d, 0, n, "%s must be a single value, not %s", what, ytree_type_name(n->type));
		return NULL;
	}
	if (util_has_ctl(n->value, "\n\t")) {
		ytree_diag(d, 0, n, "%s holds a control character", what);
		return NULL;
	}
	return n->value;
}

static char *path_value(const struct config *c, const struct ynode *map, const char *key,
                        const char *def, struct diags *d)
{
	const struct ynode *n = ytree_get(map, key);
	const char *v = n ? scalar(n, key, d) : def;
	if (!v)
		return NULL;
	if (!*v || strchr(v, '\n')) {
		ytree_diag(d, 0, n, "%s: a path is needed", key);
		return NULL;
	}
	return util_path_join(c->dir, v);
}

static void get_duration(const struct ynode *map, const char *key, const char *def,
                         struct duration *out, struct diags *d)
{
	char err[ERR_LEN];
	const struct ynode *n = ytree_get(map, key);
	const char *v = n ? scalar(n, key, d) : def;
	if (!v)
		return;
	if (dates_parse_duration(v, out, err) != 0) {
		if (n)
			ytree_diag(d, 0, n, "%s: %s", key, err);
		else
			diags_add(d, 0, "internal default for %s: %s", key, err);
	}
}

static int64_t get_secs(const struct ynode *map, const char *key, const char *def, struct diags *d)
{
	struct duration du = {0, DUR_SECONDS};
	const struct ynode *n = ytree_get(map, key);
	int64_t s;
	size_t before = d->nerrors;
	get_duration(map, key, def, &du, d);
	if (d->nerrors != before)
		return 0;
	s = dates_duration_secs(&du);
	if (s < 0) {
		ytree_diag(d, 0, n, "%s: must be in seconds, minutes, hours, days or weeks", key);
		return 0;
	}
	return s;
}

static long get_long(const struct ynode *map, const char *key, long def, long min, long max, struct diags *d)
{
	const struct ynode *n = ytree_get(map, key);
	const char *v;
	long out;
	if (!n)
		return def;
	v = scalar(n, key, d);
	if (!v)
		return def;
	if (util_parse_long(v, min, max, &out) != 0) {
		ytree_diag(d, 0, n, "%s: expected a whole number from %ld to %ld, got '%s'", key, min, max, v);
		return def;
	}
	return out;
}

static int get_bool(const struct ynode *map, const char *key, int def, struct diags *d)
{
	const struct ynode *n = ytree_get(map, key);
	const char *v;
	int out;
	if (!n)
		return def;
	v = scalar(n, key, d);
	if (!v)
		return def;
	if (util_parse_bool(v, &out) != 0 || !*v) {
		ytree_diag(d, 0, n, "%s: expected yes/no or true/false, got '%s'", key, v);
		return def;
	}
	return out;
}

static char *get_str(const struct ynode *map, const char *key, const char *def, struct diags *d)
{
	const struct ynode *n = ytree_get(map, key);
	const char *v = n ? scalar(n, key, d) : def;
	return v ? xstrdup(v) : NULL;
}

static const struct ynode *get_map(const struct ynode *map, const char *key, const char *const *keys,
                                   struct diags *d)
{
	const struct ynode *n = ytree_get(map, key);
	if (!n)
		return NULL;
	if (n->type != Y_MAP) {
		ytree_diag(d, 0, n, "%s must be a mapping, not %s", key, ytree_type_name(n->type));
		return NULL;
	}
	ytree_check_keys(n, keys, key, d);
	return n;
}

static void parse_window(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *n = ytree_get(root, "send_window");
	const char *v = n ? scalar(n, "send_window", d) : "09:00-18:00";
	char a[16], b[16];
	const char *dash;
	if (!v)
		return;
	dash = strchr(v, '-');
	if (!dash || (size_t)(dash - v) >= sizeof a || strlen(dash + 1) >= sizeof b) {
		ytree_diag(d, 0, n, "send_window: expected \"HH:MM-HH:MM\", got '%s'", v);
		return;
	}
	memcpy(a, v, (size_t)(dash - v));
	a[dash - v] = '\0';
	util_strlcpy(b, dash + 1, sizeof b);
	util_trim(a);
	util_trim(b);
	if (dates_parse_clock(a, &c->window_start) != 0 || dates_parse_clock(b, &c->window_end) != 0 ||
	    c->window_start >= c->window_end) {
		ytree_diag(d, 0, n, "send_window: expected \"HH:MM-HH:MM\" with the start before the end, got '%s'", v);
	}
}

/* url_host: the host of smtp[s]://[user@]HOST[:PORT][/...] into buf ("" when malformed). */
static void url_host(const char *url, char *buf, size_t size)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n;
	buf[0] = '\0';
	if (!p)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb)
			return;
		p++;
		end = rb;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon)
			end = colon;
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= size)
		return;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

/* A loopback host: localhost, 127.0.0.0/8 or ::1. Only there may mail go out without TLS. */
static int host_is_loopback(const char *h)
{
	int a, b, c, e, len = 0;
	if (util_strcaseeq(h, "localhost") || strcmp(h, "::1") == 0 || strcmp(h, "0:0:0:0:0:0:0:1") == 0)
		return 1;
	return sscanf(h, "%3d.%3d.%3d.%3d%n", &a, &b, &c, &e, &len) == 4 && h[len] == '\0' && a == 127 &&
	       b >= 0 && b <= 255 && c >= 0 && c <= 255 && e >= 0 && e <= 255;
}

/* get_choice: one of names (case-insensitive), or def when the key is absent. */
static int get_choice(const struct ynode *map, const char *key, const char *const *names, int count, int def,
                      struct diags *d)
{
	const struct ynode *n = map ? ytree_get(map, key) : NULL;
	const char *s;
	struct strbuf sb = {0};
	if (!n || !(s = scalar(n, key, d)))
		return def;
	for (int i = 0; i < count; i++)
		if (util_strcaseeq(s, names[i]))
			return i;
	for (int i = 0; i < count; i++)
		sb_addf(&sb, "%s%s", i ? (i == count - 1 ? " or " : ", ") : "", names[i]);
	ytree_diag(d, 0, n, "%s: expected %s, got '%s'", key, sb.s, s);
	sb_free(&sb);
	return def;
}

/* secret_check: a secret file that must exist and be private (0600), reported at node n. */
static void secret_check(const char *path, const struct ynode *n, const char *key, struct diags *d)
{
	char err[ERR_LEN];
	if (path && mail_password_check(path, err) != 0)
		ytree_diag(d, 0, n, "%s: %s", key, err);
}

/*
 * check_oauth: auth xoauth2/oauthbearer: the mailbox (username), and exactly one token
 * source: the oauth2 section (https token_url, client_id, a private refresh token file) or
 * token_command. A password_file has no use there and is refused rather than ignored.
 */
static void check_oauth(const struct config *c, const struct ynode *smtp, struct diags *d)
{
	const struct oauth2_cfg *o = &c->smtp.oauth2;
	const struct ynode *on = ytree_get(smtp, "oauth2"), *an = ytree_get(smtp, "auth");
	if (!c->smtp.username)
		ytree_diag(d, 0, an, "auth: %s needs username (the mailbox the token belongs to)",
		           smtp_auth_names[c->smtp.auth]);
	if (c->smtp.password_file)
		ytree_diag(d, 0, ytree_get(smtp, "password_file"), "password_file: not used with auth: %s (remove it)",
		           smtp_auth_names[c->smtp.auth]);
	if (!on == !c->smtp.token_command) {
		ytree_diag(d, 0, an, "auth: %s needs either an oauth2 section or token_command (one of them)",
		           smtp_auth_names[c->smtp.auth]);
		return;
	}
	if (c->smtp.token_command) {
		if (!c->smtp.token_command[0] || util_has_ctl(c->smtp.token_command, NULL))
			ytree_diag(d, 0, ytree_get(smtp, "token_command"), "token_command must be one line of text");
		return;
	}
	if (!o->token_url || strncmp(o->token_url, "https://", 8) != 0 || strlen(o->token_url) < 9 ||
	    strchr(o->token_url, ' ') || util_has_ctl(o->token_url, NULL))
		ytree_diag(d, 0, ytree_get(on, "token_url") ? ytree_get(on, "token_url") : on,
		           "oauth2.token_url: an https:// URL is needed");
	if (!o->client_id || !o->client_id[0] || util_has_ctl(o->client_id, NULL))
		ytree_diag(d, 0, ytree_get(on, "client_id") ? ytree_get(on, "client_id") : on,
		           "oauth2.client_id is needed (the application's id at the provider)");
	if (!o->refresh_token_file)
		ytree_diag(d, 0, on, "oauth2.refresh_token_file is needed (see occasiond oauth login)");
	if (o->scope && util_has_ctl(o->scope, NULL))
		ytree_diag(d, 0, ytree_get(on, "scope"), "oauth2.scope must be one line of text");
	if (o->refresh_token_file && access(o->refresh_token_file, F_OK) != 0 && errno == ENOENT)
		ytree_diag(d, 1, ytree_get(on, "refresh_token_file"),
		           "refresh_token_file: %s does not exist yet: run occasiond oauth login (or write the first "
		           "refresh token there, chmod 600)", o->refresh_token_file);
	else
		secret_check(o->refresh_token_file, ytree_get(on, "refresh_token_file"), "refresh_token_file", d);
	secret_check(o->client_secret_file, ytree_get(on, "client_secret_file"), "client_secret_file", d);
	if (o->ca_file && access(o->ca_file, R_OK) != 0)
		ytree_diag(d, 0, ytree_get(on, "ca_file"), "ca_file: cannot read %s: %s", o->ca_file, strerror(errno));
}

/*
 * check_smtp: the smtp section when the transport is smtp: url scheme against tls, tls none
 * only to loopback, the password file present and private (checked again at send time).
 */
static void check_smtp(struct config *c, const struct ynode *mail, const struct ynode *smtp, struct diags *d)
{
	const struct ynode *un = ytree_get(smtp, "url"), *tn = ytree_get(smtp, "tls");
	char host[256], err[ERR_LEN];
	if (!c->smtp.url) {
		ytree_diag(d, 0, ytree_key(mail, "transport"), "transport smtp needs mail.smtp.url");
		return;
	}
	url_host(c->smtp.url, host, sizeof host);
	if (!host[0] || util_has_ctl(c->smtp.url, "") || strchr(c->smtp.url, ' ') ||
	    (strncmp(c->smtp.url, "smtp://", 7) != 0 && strncmp(c->smtp.url, "smtps://", 8) != 0))
		ytree_diag(d, 0, un, "url: expected smtp://HOST[:PORT] or smtps://HOST[:PORT], got '%s'", c->smtp.url);
	else if (strncmp(c->smtp.url, "smtps://", 8) == 0 && c->smtp.tls != TLS_IMPLICIT)
		ytree_diag(d, 0, tn ? tn : un, "url: smtps:// is implicit TLS: set tls: implicit");
	else if (strncmp(c->smtp.url, "smtp://", 7) == 0 && c->smtp.tls == TLS_IMPLICIT)
		ytree_diag(d, 0, tn ? tn : un, "tls: implicit needs an smtps:// url");
	else if (c->smtp.tls == TLS_NONE && !host_is_loopback(host))
		ytree_diag(d, 0, tn, "tls: none is only allowed to a loopback host (localhost, 127.0.0.1, ::1), not '%s'",
		           host);
	if (c->smtp.auth != AUTH_PASSWORD) {
		check_oauth(c, smtp, d);
	} else {
		if (c->smtp.password_file && !c->smtp.username)
			ytree_diag(d, 0, ytree_get(smtp, "password_file"), "password_file needs a username");
		if (c->smtp.username && !c->smtp.password_file)
			ytree_diag(d, 0, ytree_get(smtp, "username"), "username needs a password_file");
		if (c->smtp.password_file && mail_password_check(c->smtp.password_file, err) != 0)
			ytree_diag(d, 0, ytree_get(smtp, "password_file"), "password_file: %s", err);
	}
	if (c->smtp.ca_file && access(c->smtp.ca_file, R_OK) != 0)
		ytree_diag(d, 0, ytree_get(smtp, "ca_file"), "ca_file: cannot read %s: %s", c->smtp.ca_file, strerror(errno));
}

static void parse_mail(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *mail = get_map(root, "mail", mail_keys, d);
	const struct ynode *smtp, *retry, *n, *oauth;
	char err[ERR_LEN];
	char *t;

	c->mail_from = get_str(mail, "from", "occasiond <occasiond@localhost.localdomain>", d);
	n = ytree_get(mail, "from");
	if (c->mail_from && mime_parse_mailbox(c->mail_from, &c->mail_from_name, &c->mail_from_addr, err) != 0)
		ytree_diag(d, 0, n, "from: %s", err);

	t = get_str(mail, "transport", "maildir", d);
	n = ytree_get(mail, "transport");
	if (t && strcmp(t, "maildir") == 0)
		c->transport = TRANSPORT_MAILDIR;
	else if (t && strcmp(t, "smtp") == 0)
		c->transport = TRANSPORT_SMTP;
	else if (t)
		ytree_diag(d, 0, n, "transport: expected maildir or smtp, got '%s'", t);
	free(t);

	smtp = get_map(mail, "smtp", smtp_keys, d);
	c->smtp.url = get_str(smtp, "url", NULL, d);
	c->smtp.username = get_str(smtp, "username", NULL, d);
	if (ytree_get(smtp, "password_file"))
		c->smtp.password_file = path_value(c, smtp, "password_file", NULL, d);
	if (ytree_get(smtp, "ca_file"))
		c->smtp.ca_file = path_value(c, smtp, "ca_file", NULL, d);
	t = get_str(smtp, "tls", "starttls", d);
	n = ytree_get(smtp, "tls");
	if (t && strcmp(t, "starttls") == 0)
		c->smtp.tls = TLS_STARTTLS;
	else if (t && strcmp(t, "implicit") == 0)
		c->smtp.tls = TLS_IMPLICIT;
	else if (t && strcmp(t, "none") == 0)
		c->smtp.tls = TLS_NONE;
	else if (t)
		ytree_diag(d, 0, n, "tls: expected starttls, implicit or none, got '%s'", t);
	free(t);
	c->smtp.rate_per_minute = get_long(smtp, "rate_per_minute", 120, 0, 1000000, d);
	c->smtp.timeout_secs = (long)get_secs(smtp, "timeout", "30s", d);
	c->smtp.connections = get_long(smtp, "connections", 1, 1, 32, d);
	c->smtp.auth = get_choice(smtp, "auth", smtp_auth_names, 3, AUTH_PASSWORD, d);
	c->smtp.token_command = get_str(smtp, "token_command", NULL, d);
	oauth = get_map(smtp, "oauth2", oauth2_keys, d);
	if (oauth) {
		c->smtp.oauth2.token_url = get_str(oauth, "token_url", NULL, d);
		c->smtp.oauth2.client_id = get_str(oauth, "client_id", NULL, d);
		c->smtp.oauth2.scope = get_str(oauth, "scope", NULL, d);
		if (ytree_get(oauth, "client_secret_file"))
			c->smtp.oauth2.client_secret_file = path_value(c, oauth, "client_secret_file", NULL, d);
		if (ytree_get(oauth, "refresh_token_file"))
			c->smtp.oauth2.refresh_token_file = path_value(c, oauth, "refresh_token_file", NULL, d);
		if (ytree_get(oauth, "ca_file"))
			c->smtp.oauth2.ca_file = path_value(c, oauth, "ca_file", NULL, d);
	}
	if (c->smtp.auth == AUTH_PASSWORD && (oauth || c->smtp.token_command))
		ytree_diag(d, 0, oauth ? ytree_key(smtp, "oauth2") : ytree_get(smtp, "token_command"),
		           "%s is for auth: xoauth2 or oauthbearer (set auth)", oauth ? "oauth2" : "token_command");
	if (ytree_get(smtp, "timeout") && c->smtp.timeout_secs < 1)
		ytree_diag(d, 0, ytree_get(smtp, "timeout"), "timeout: must be at least 1 second");
	if (c->transport == TRANSPORT_SMTP)
		check_smtp(c, mail, smtp, d);

	c->unsubscribe = get_str(mail, "unsubscribe", NULL, d);
	n = ytree_get(mail, "unsubscribe");
	if (c->unsubscribe && mime_unsubscribe_check(c->unsubscribe, err) != 0)
		ytree_diag(d, 0, n, "unsubscribe: %s", err);

	retry = get_map(mail, "retry", retry_keys, d);
	c->retry.attempts = get_long(retry, "attempts", 8, 1, 1000, d);
	c->retry.first_delay = get_secs(retry, "first_delay", "5m", d);
	c->retry.max_delay = get_secs(retry, "max_delay", "6h", d);
	if (c->retry.first_delay > c->retry.max_delay)
		ytree_diag(d, 0, ytree_get(retry, "first_delay"), "first_delay is longer than max_delay");
}

static void parse_cards(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *cards = get_map(root, "cards", cards_keys, d);
	get_duration(cards, "signing", "2 business days", &c->cards.signing, d);
	get_duration(cards, "transit", "3 business days", &c->cards.transit, d);
	c->cards.remind_signers = get_bool(cards, "remind_signers", 0, d);
	c->cards.print_command = get_str(cards, "print_command", NULL, d);
	c->cards.envelope = get_choice(cards, "envelope", card_envelope_names, CARD_ENV_COUNT, CARD_ENV_C6, d);
	c->cards.labels = get_choice(cards, "labels", card_labels_names, CARD_LABELS_COUNT, CARD_LABELS_NONE, d);
	if (c->cards.print_command && (!c->cards.print_command[0] || util_has_ctl(c->cards.print_command, NULL)))
		ytree_diag(d, 0, ytree_get(cards, "print_command"), "print_command must be one line of text");
	if (c->cards.signing.unit < DUR_DAYS && c->cards.signing.unit != DUR_SECONDS)
		ytree_diag(d, 0, ytree_get(cards, "signing"), "signing: give days or business days");
	if (c->cards.transit.unit < DUR_DAYS && c->cards.transit.unit != DUR_SECONDS)
		ytree_diag(d, 0, ytree_get(cards, "transit"), "transit: give days or business days");
}

struct config *config_load(const char *path, struct diags *d)
{
	struct ynode *root = NULL;
	struct config *c = xcalloc(1, sizeof *c);
	const struct ynode *org, *n;
	char err[ERR_LEN];
	size_t before = d->nerrors;

	c->path = xstrdup(path);
	c->dir = util_dirname(path);
	if (ytree_load_file(path, &root, err) != 0) {
		diags_add(d, 0, "%s", err);
		goto fail;
	}
	if (root->type != Y_MAP) {
		ytree_diag(d, 0, root, "the config must be a mapping of keys to values");
		goto fail;
	}
	ytree_check_keys(root, top_keys, "the config", d);
	c->database = path_value(c, root, "database", "/var/lib/occasiond/occasiond.db", d);
	c->spool = path_value(c, root, "spool", "/var/lib/occasiond/spool", d);
	c->templates = path_value(c, root, "templates", OCCASIOND_DATADIR "/templates", d);
	c->fonts = path_value(c, root, "fonts", OCCASIOND_DATADIR "/fonts", d);
	c->rules = path_value(c, root, "rules", "occasions.yaml", d);

	c->timezone = get_str(root, "timezone", "UTC", d);
	n = ytree_get(root, "timezone");
	if (c->timezone && !dates_zone_valid(c->timezone))
		ytree_diag(d, 0, n, "timezone: unknown time zone '%s' (an IANA name such as Europe/Berlin)", c->timezone);
	parse_window(c, root, d);
	get_duration(root, "lookback", "7 days", &c->lookback, d);
	if (dates_duration_secs(&c->lookback) < 0)
		ytree_diag(d, 0, ytree_get(root, "lookback"), "lookback: give days, hours or weeks");

	org = get_map(root, "organization", org_keys, d);
	c->org_name = get_str(org, "name", "", d);
	c->return_address = get_str(org, "return_address", "", d);

	parse_mail(c, root, d);
	parse_cards(c, root, d);
	ytree_free(root);
	if (d->nerrors != before) {
		config_free(c);
		return NULL;
	}
	return c;
fail:
	ytree_free(root);
	config_free(c);
	return NULL;
}
