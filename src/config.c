/* config: occasiond.yaml -> struct config, every problem reported with its position. */
#include "occasiond/config.h"
#include "occasiond/card.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "occasiond/import_map.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"
#include "occasiond/ytree.h"

static const char *const top_keys[] = {
	"database", "spool", "templates", "fonts", "rules", "timezone", "send_window", "lookback",
	"database_lease", "organization", "mail", "cards", "sources", NULL
};
static const char *const source_keys[] = {"id", "carddav", "username", "password_file", "ca_file", "every", "map",
                                          NULL};
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
                                         "labels", "signers", NULL};

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
	for (size_t i = 0; i < c->cards.nsigners; i++) {
		free(c->cards.signers[i].name);
		free(c->cards.signers[i].email);
	}
	free(c->cards.signers);
	for (size_t i = 0; i < c->nsources; i++) {
		struct config_source *s = &c->sources[i];
		free(s->id);
		free(s->url);
		free(s->username);
		free(s->password_file);
		free(s->ca_file);
		free(s->map);
	}
	free(c->sources);
	free(c);
}

/* path_value: a path relative to the config's directory, or def when the key is absent. */
static char *path_value(const struct config *c, const struct ynode *map, const char *key,
                        const char *def, struct diags *d)
{
	const struct ynode *n = ytree_get(map, key);
	const char *v = n ? ytree_scalar(n, key, d) : def;
	if (!v)
		return NULL;
	if (!*v) {
		ytree_diag(d, 0, n, "%s: a path is needed", key);
		return NULL;
	}
	/* A database URI (postgresql://...) names a server, not a file: kept as written for the store. */
	if (strcmp(key, "database") == 0 && util_uri_scheme_len(v))
		return xstrdup(v);
	return util_path_join(c->dir, v);
}

static void parse_window(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *n = ytree_get(root, "send_window");
	const char *v = n ? ytree_scalar(n, "send_window", d) : "09:00-18:00";
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

static const char *const transport_names[] = {"maildir", "smtp"};   /* enum mail_transport */
static const char *const tls_names[] = {"starttls", "implicit", "none"}; /* enum smtp_tls */

static void parse_mail(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *mail = ytree_map(ytree_get(root, "mail"), "mail", mail_keys, d);
	const struct ynode *smtp, *retry, *oauth;
	char err[ERR_LEN];
	int v;

	c->mail_from = ytree_strdup(ytree_get(mail, "from"), "from", "occasiond <occasiond@localhost.localdomain>", d);
	if (c->mail_from && mime_parse_mailbox(c->mail_from, &c->mail_from_name, &c->mail_from_addr, err) != 0)
		ytree_diag(d, 0, ytree_get(mail, "from"), "from: %s", err);
	c->transport = TRANSPORT_MAILDIR;
	if (ytree_enum(ytree_get(mail, "transport"), "transport", transport_names, 2, NULL, &v, d) == 0)
		c->transport = (enum mail_transport)v;

	smtp = ytree_map(ytree_get(mail, "smtp"), "smtp", smtp_keys, d);
	c->smtp.url = ytree_strdup(ytree_get(smtp, "url"), "url", NULL, d);
	c->smtp.username = ytree_strdup(ytree_get(smtp, "username"), "username", NULL, d);
	if (ytree_get(smtp, "password_file"))
		c->smtp.password_file = path_value(c, smtp, "password_file", NULL, d);
	if (ytree_get(smtp, "ca_file"))
		c->smtp.ca_file = path_value(c, smtp, "ca_file", NULL, d);
	c->smtp.tls = TLS_STARTTLS;
	if (ytree_enum(ytree_get(smtp, "tls"), "tls", tls_names, 3, NULL, &v, d) == 0)
		c->smtp.tls = (enum smtp_tls)v;
	c->smtp.rate_per_minute = 120;
	ytree_long(ytree_get(smtp, "rate_per_minute"), "rate_per_minute", 0, 1000000, &c->smtp.rate_per_minute, d);
	c->smtp.timeout_secs = 30;
	{
		int64_t secs;
		if (ytree_seconds(ytree_get(smtp, "timeout"), "timeout", &secs, NULL, d) == 0) {
			if (secs < 1)
				ytree_diag(d, 0, ytree_get(smtp, "timeout"), "timeout: must be at least 1 second");
			c->smtp.timeout_secs = (long)secs;
		}
	}
	c->smtp.connections = 1;
	ytree_long(ytree_get(smtp, "connections"), "connections", 1, 32, &c->smtp.connections, d);
	c->smtp.auth = AUTH_PASSWORD;
	if (ytree_enum(ytree_get(smtp, "auth"), "auth", smtp_auth_names, 3, NULL, &v, d) == 0)
		c->smtp.auth = (enum smtp_auth)v;
	c->smtp.token_command = ytree_strdup(ytree_get(smtp, "token_command"), "token_command", NULL, d);
	oauth = ytree_map(ytree_get(smtp, "oauth2"), "oauth2", oauth2_keys, d);
	if (oauth) {
		c->smtp.oauth2.token_url = ytree_strdup(ytree_get(oauth, "token_url"), "token_url", NULL, d);
		c->smtp.oauth2.client_id = ytree_strdup(ytree_get(oauth, "client_id"), "client_id", NULL, d);
		c->smtp.oauth2.scope = ytree_strdup(ytree_get(oauth, "scope"), "scope", NULL, d);
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
	if (c->transport == TRANSPORT_SMTP)
		check_smtp(c, mail, smtp, d);

	c->unsubscribe = ytree_strdup(ytree_get(mail, "unsubscribe"), "unsubscribe", NULL, d);
	if (c->unsubscribe && mime_unsubscribe_check(c->unsubscribe, err) != 0)
		ytree_diag(d, 0, ytree_get(mail, "unsubscribe"), "unsubscribe: %s", err);

	retry = ytree_map(ytree_get(mail, "retry"), "retry", retry_keys, d);
	c->retry.attempts = 8;
	ytree_long(ytree_get(retry, "attempts"), "attempts", 1, 1000, &c->retry.attempts, d);
	c->retry.first_delay = 5 * 60;
	ytree_seconds(ytree_get(retry, "first_delay"), "first_delay", &c->retry.first_delay, NULL, d);
	c->retry.max_delay = 6 * 3600;
	ytree_seconds(ytree_get(retry, "max_delay"), "max_delay", &c->retry.max_delay, NULL, d);
	if (c->retry.first_delay > c->retry.max_delay)
		ytree_diag(d, 0, ytree_get(retry, "first_delay"), "first_delay is longer than max_delay");
}

/* parse_signers: cards.signers, a map of signer name to their own email address. */
static void parse_signers(struct config *c, const struct ynode *n, struct diags *d)
{
	if (!n)
		return;
	if (n->type != Y_MAP) {
		ytree_diag(d, 0, n, "signers: expected a map of signer name to email address");
		return;
	}
	c->cards.signers = xcalloc(n->n ? n->n : 1, sizeof *c->cards.signers);
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *v = n->items[i];
		if (v->type != Y_SCALAR || !mime_addr_valid(v->value)) {
			ytree_diag(d, 0, v, "signers: '%s': expected an email address like name@example.org",
			           n->keys[i]->value);
			continue;
		}
		c->cards.signers[c->cards.nsigners].name = xstrdup(n->keys[i]->value);
		c->cards.signers[c->cards.nsigners++].email = xstrdup(v->value);
	}
}

static void parse_cards(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *cards = ytree_map(ytree_get(root, "cards"), "cards", cards_keys, d);
	const struct ynode *n;
	const char *s;
	c->cards.signing = (struct duration){2, DUR_BUSINESS_DAYS};
	ytree_duration(ytree_get(cards, "signing"), "signing", &c->cards.signing, d);
	c->cards.transit = (struct duration){3, DUR_BUSINESS_DAYS};
	ytree_duration(ytree_get(cards, "transit"), "transit", &c->cards.transit, d);
	ytree_bool(ytree_get(cards, "remind_signers"), "remind_signers", &c->cards.remind_signers, d);
	/* A line break is allowed through here to be refused below in words of its own. */
	if ((n = ytree_get(cards, "print_command")) && (s = ytree_text(n, "print_command", d))) {
		if (!*s || util_has_ctl(s, NULL))
			ytree_diag(d, 0, n, "print_command must be one line of text");
		else
			c->cards.print_command = xstrdup(s);
	}
	c->cards.envelope = CARD_ENV_C6;
	ytree_enum(ytree_get(cards, "envelope"), "envelope", card_envelope_names, CARD_ENV_COUNT, NULL,
	           &c->cards.envelope, d);
	c->cards.labels = CARD_LABELS_NONE;
	ytree_enum(ytree_get(cards, "labels"), "labels", card_labels_names, CARD_LABELS_COUNT, NULL,
	           &c->cards.labels, d);
	parse_signers(c, ytree_get(cards, "signers"), d);
	if (c->cards.signing.unit < DUR_DAYS && c->cards.signing.unit != DUR_SECONDS)
		ytree_diag(d, 0, ytree_get(cards, "signing"), "signing: give days or business days");
	if (c->cards.transit.unit < DUR_DAYS && c->cards.transit.unit != DUR_SECONDS)
		ytree_diag(d, 0, ytree_get(cards, "transit"), "transit: give days or business days");
}

/* source_id_ok: [a-z0-9-]+, at most 64: it names the source in messages and in the store. */
static int source_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

/*
 * check_source_url: https://HOST/..., or http:// to a loopback host only; no credentials in
 * it (they belong in username and password_file) and nothing a header could be split with.
 */
static void check_source_url(struct config_source *s, const struct ynode *n, struct diags *d)
{
	char host[256];
	const char *rest = strstr(s->url, "://"), *at;
	url_host(s->url, host, sizeof host);
	if (!rest || !host[0] || util_has_ctl(s->url, "") || strpbrk(s->url, " \"\\<>{}|^`") ||
	    (strncmp(s->url, "https://", 8) != 0 && strncmp(s->url, "http://", 7) != 0)) {
		ytree_diag(d, 0, n, "carddav: expected an https:// URL of an address book, got '%s'", s->url);
		return;
	}
	rest += 3;
	at = strchr(rest, '@');
	if (at && at < rest + strcspn(rest, "/?#")) {
		ytree_diag(d, 0, n, "carddav: no user or password in the URL (use username and password_file)");
		return;
	}
	if (strchr(s->url, '#') || strchr(s->url, '?')) {
		ytree_diag(d, 0, n, "carddav: the URL of an address book has no query or fragment");
		return;
	}
	if (strncmp(s->url, "http://", 7) == 0) {
		if (!host_is_loopback(host))
			ytree_diag(d, 0, n, "carddav: http:// is only allowed to a loopback host (localhost, 127.0.0.1, ::1), "
			           "not '%s': use https://", host);
		s->allow_http = 1;
	}
	if (s->url[strlen(s->url) - 1] != '/') {
		/* A collection's URL ends in '/'; the hrefs the server gives are compared with it. */
		char *u = xasprintf("%s/", s->url);
		free(s->url);
		s->url = u;
	}
}

/* parse_sources: sources:, a list of CardDAV address books (CONTRACT §3, §5a). */
static void parse_sources(struct config *c, const struct ynode *root, struct diags *d)
{
	const struct ynode *list = ytree_get(root, "sources");
	if (!list)
		return;
	if (list->type != Y_SEQ) {
		ytree_diag(d, 0, list, "sources: expected a list of sources (- id: ..., carddav: https://...)");
		return;
	}
	c->sources = xcalloc(list->n ? list->n : 1, sizeof *c->sources);
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *m = ytree_map(list->items[i], "a source", source_keys, d), *n;
		struct config_source *s = &c->sources[c->nsources];
		char err[ERR_LEN];
		if (!m)
			continue;
		c->nsources++;
		s->every = 15 * 60;
		s->id = ytree_strdup(ytree_get(m, "id"), "id", NULL, d);
		if (!ytree_get(m, "id"))
			ytree_diag(d, 0, m, "a source needs an id ([a-z0-9-]+)");
		else if (s->id && !source_id_ok(s->id))
			ytree_diag(d, 0, ytree_get(m, "id"), "id: expected [a-z0-9-]+ (at most 64), got '%s'", s->id);
		for (size_t k = 0; s->id && k + 1 < c->nsources; k++)
			if (c->sources[k].id && strcmp(c->sources[k].id, s->id) == 0)
				ytree_diag(d, 0, ytree_get(m, "id"), "id: a second source with the id '%s'", s->id);
		s->url = ytree_strdup(ytree_get(m, "carddav"), "carddav", NULL, d);
		if (!ytree_get(m, "carddav"))
			ytree_diag(d, 0, m, "source '%s': carddav: the address book's URL is needed", s->id ? s->id : "");
		else if (s->url)
			check_source_url(s, ytree_get(m, "carddav"), d);
		s->username = ytree_strdup(ytree_get(m, "username"), "username", NULL, d);
		if (ytree_get(m, "password_file"))
			s->password_file = path_value(c, m, "password_file", NULL, d);
		if (ytree_get(m, "ca_file"))
			s->ca_file = path_value(c, m, "ca_file", NULL, d);
		if (ytree_get(m, "map"))
			s->map = path_value(c, m, "map", NULL, d);
		if (s->username && (!s->username[0] || strchr(s->username, ':')))
			ytree_diag(d, 0, ytree_get(m, "username"), "username: expected a user name without ':'");
		if (s->password_file && !s->username)
			ytree_diag(d, 0, ytree_get(m, "password_file"), "password_file needs a username");
		if (s->username && !s->password_file)
			ytree_diag(d, 0, ytree_get(m, "username"), "username needs a password_file (the password never "
			           "stands in the config)");
		if (s->password_file && mail_password_check(s->password_file, err) != 0)
			ytree_diag(d, 0, ytree_get(m, "password_file"), "password_file: %s", err);
		if (s->ca_file && access(s->ca_file, R_OK) != 0)
			ytree_diag(d, 0, ytree_get(m, "ca_file"), "ca_file: cannot read %s: %s", s->ca_file, strerror(errno));
		if ((n = ytree_get(m, "every")) && ytree_seconds(n, "every", &s->every, NULL, d) == 0 && s->every < 1)
			ytree_diag(d, 0, n, "every: must be at least 1 second");
		if (s->map) {
			struct imap *im = NULL;
			if (imap_load(s->map, &im, d) == 0)
				imap_free(im);
		}
	}
}

struct config *config_load(const char *path, struct diags *d)
{
	struct ynode *root = NULL;
	struct config *c = xcalloc(1, sizeof *c);
	const struct ynode *org, *n;
	const char *s;
	char err[ERR_LEN];
	int64_t secs;
	size_t before = d->nerrors;

	c->path = xstrdup(path);
	c->dir = util_dirname(path);
	if (ytree_load_file(path, &root, err) != 0) {
		struct stat st;
		/* Not there or not a file: most often the wrong config was looked for. */
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, R_OK) != 0)
			diags_add(d, 0, "%s (name the config with -c FILE or OCCASIOND_CONFIG=FILE)", err);
		else
			diags_add(d, 0, "%s", err);
		goto fail;
	}
	if (root->type != Y_MAP) {
		ytree_diag(d, 0, root, "the config must be a mapping of keys to values");
		goto fail;
	}
	ytree_check_keys(root, top_keys, "the config", d);
	c->database = path_value(c, root, "database", CONFIG_DEFAULT_DATABASE, d);
	c->spool = path_value(c, root, "spool", CONFIG_DEFAULT_SPOOL, d);
	c->templates = path_value(c, root, "templates", CONFIG_DEFAULT_TEMPLATES, d);
	c->fonts = path_value(c, root, "fonts", CONFIG_DEFAULT_FONTS, d);
	c->rules = path_value(c, root, "rules", CONFIG_DEFAULT_RULES, d);

	c->timezone = ytree_strdup(ytree_get(root, "timezone"), "timezone", "UTC", d);
	if (c->timezone && !dates_zone_valid(c->timezone))
		ytree_diag(d, 0, ytree_get(root, "timezone"),
		           "timezone: unknown time zone '%s' (an IANA name such as Europe/Berlin)", c->timezone);
	parse_window(c, root, d);
	c->lookback = (struct duration){7, DUR_DAYS};
	ytree_seconds(ytree_get(root, "lookback"), "lookback", &secs, &c->lookback, d);
	/* Long enough to ride out a busy moment, short enough that a dead daemon's work moves on soon. */
	c->database_lease = 30;
	if (ytree_seconds(ytree_get(root, "database_lease"), "database_lease", &secs, NULL, d) == 0) {
		if (secs < 3 || secs > 3600)
			ytree_diag(d, 0, ytree_get(root, "database_lease"), "database_lease: must be between 3 seconds and 1 hour");
		else
			c->database_lease = secs;
	}

	org = ytree_map(ytree_get(root, "organization"), "organization", org_keys, d);
	c->org_name = ytree_strdup(ytree_get(org, "name"), "name", "", d);
	/* A postal address runs over lines. */
	n = ytree_get(org, "return_address");
	s = n ? ytree_text(n, "return_address", d) : "";
	c->return_address = s ? xstrdup(s) : NULL;

	parse_mail(c, root, d);
	parse_cards(c, root, d);
	parse_sources(c, root, d);
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
