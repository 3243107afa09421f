/*
 * config: occasiond.yaml (CONTRACT §3) parsed whole and validated into a struct config.
 * Relative paths are made relative to the config file's directory; defaults live here.
 */
#ifndef OCCASIOND_CONFIG_H
#define OCCASIOND_CONFIG_H

#include <stdint.h>

#include "occasiond/dates.h"
#include "occasiond/util.h"

#define CONFIG_DEFAULT_PATH "/etc/occasiond/occasiond.yaml"
/* The defaults of the paths, as occasiond.yaml(5) gives them (a unit test holds the two together). */
#define CONFIG_DEFAULT_DATABASE "/var/lib/occasiond/occasiond.db"
#define CONFIG_DEFAULT_SPOOL "/var/lib/occasiond/spool"
#define CONFIG_DEFAULT_TEMPLATES OCCASIOND_DATADIR "/templates"
#define CONFIG_DEFAULT_FONTS OCCASIOND_DATADIR "/fonts"
#define CONFIG_DEFAULT_RULES "occasions.yaml"   /* beside the config */

enum mail_transport { TRANSPORT_MAILDIR, TRANSPORT_SMTP };
enum smtp_tls { TLS_STARTTLS, TLS_IMPLICIT, TLS_NONE };
/* How occasiond authenticates to the SMTP server: a password, or an OAuth2 access token (SASL). */
enum smtp_auth { AUTH_PASSWORD, AUTH_XOAUTH2, AUTH_OAUTHBEARER };
extern const char *const smtp_auth_names[];

/* mail.smtp.oauth2 (CONTRACT §3): where access tokens come from. Paths resolved. */
struct oauth2_cfg {
	char *token_url;          /* https:// */
	char *client_id;
	char *client_secret_file; /* or NULL (public clients) */
	char *refresh_token_file; /* rewritten when the server rotates the refresh token */
	char *scope;              /* or NULL */
	char *ca_file;            /* or NULL: the system's */
};

/* sources: (CONTRACT §3, §5a): a CardDAV address book that serve and `sync` pull. Paths resolved. */
struct config_source {
	char *id;                 /* [a-z0-9-]+, unique among the sources */
	char *url;                /* https://, or http:// to a loopback host; ends in '/' */
	char *username;           /* or NULL (no authentication) */
	char *password_file;      /* with username: refused unless private (0600) */
	char *ca_file;            /* or NULL: the system's certificates */
	char *map;                /* a map file (as for import), or NULL */
	int64_t every;            /* seconds between pulls under serve (default 15 minutes) */
	int allow_http;           /* the URL is http:// to a loopback host */
};

struct config {
	char *path;               /* the config file */
	char *dir;                /* its directory */
	char *database;           /* absolute or relative to the cwd, resolved */
	char *spool;
	char *templates;
	char *fonts;
	char *rules;              /* a file or a directory of *.yaml */
	char *timezone;           /* IANA */
	int window_start;         /* seconds after local midnight */
	int window_end;
	struct duration lookback;
	int64_t database_lease;   /* seconds a claim is held without renewal (several daemons); default 30 */
	char *org_name;           /* or "" */
	char *return_address;     /* or "" */
	char *mail_from;          /* "Name <addr>" as written */
	char *mail_from_name;     /* parsed display name or NULL */
	char *mail_from_addr;     /* parsed address */
	enum mail_transport transport;
	struct {
		char *url;
		enum smtp_tls tls;
		char *username;
		char *password_file;
		char *ca_file;
		long rate_per_minute;
		long timeout_secs;
		long connections;      /* parallel connections, 1 by default */
		enum smtp_auth auth;   /* password unless auth: says otherwise */
		struct oauth2_cfg oauth2;   /* token_url set when the oauth2 section is there */
		char *token_command;   /* or NULL: run as /bin/sh -c CMD, prints an access token */
	} smtp;
	char *unsubscribe;        /* mail.unsubscribe: a mailto: or https: URL, or NULL */
	struct {
		long attempts;
		int64_t first_delay;
		int64_t max_delay;
	} retry;
	struct {
		struct duration signing;
		struct duration transit;
		int remind_signers;
		char *print_command;   /* or NULL: run as /bin/sh -c 'CMD "$1"' sh BATCH.pdf */
		int envelope;          /* enum card_envelope (card.h): default c6 */
		int labels;            /* enum card_labels: default none */
		struct config_signer { /* cards.signers: each signer's own address, for the reminder */
			char *name, *email;
		} *signers;
		size_t nsigners;
	} cards;
	struct config_source *sources;
	size_t nsources;
};

/*
 * config_load: reads and validates path; every problem goes to d as
 * "FILE:LINE:COL: error: ...". Returns a new config (free with config_free), or NULL
 * when there was any error.
 */
struct config *config_load(const char *path, struct diags *d);
void config_free(struct config *c);    /* NULL is fine */
/* config_resolve_path: the config's -c, else $OCCASIOND_CONFIG, else the default. */
const char *config_resolve_path(const char *opt);

#endif
