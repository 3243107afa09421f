/*
 * oauth: OAuth2 access tokens for SMTP (XOAUTH2, OAUTHBEARER). From the refresh-token grant
 * (RFC 6749 section 6) at the configured token endpoint, over net.c, or from the output of
 * token_command. A token is kept in this process's memory only (never in a file, a log line
 * or a record) and reused until shortly before it expires; a refresh token the endpoint
 * rotates is written back to refresh_token_file (0600, atomically) before the new access
 * token is handed out. And the device-code grant (RFC 8628) for `occasiond oauth login`.
 */
#ifndef OCCASIOND_OAUTH_H
#define OCCASIOND_OAUTH_H

#include <stdio.h>

#include "occasiond/config.h"
#include "occasiond/util.h"

enum oauth_status {
	OAUTH_OK,
	OAUTH_GRANT,        /* the grant is revoked or expired (invalid_grant): a person must sign in again */
	OAUTH_UNREACHABLE,  /* the endpoint did not answer (or answered 5xx): tried again later */
	OAUTH_FAILED        /* anything else: a bad answer, a bad file, the command failed */
};

/*
 * oauth_token: an access token for cfg->smtp (its oauth2 section, or token_command). The
 * cached one while it has more than a minute (a fifth of its lifetime, for short ones) left,
 * unless force (the server refused it); else a new one, fetched now. *token receives a
 * malloc'd copy (free it with oauth_token_free). On failure *token is NULL and err is one
 * line that says what went wrong and what the user must do; it never holds a token.
 * *fetched (may be NULL) is set to 1 when a new token was fetched.
 */
enum oauth_status oauth_token(const struct config *cfg, int force, char **token, int *fetched, char err[ERR_LEN]);
/* oauth_token_free: wipes and frees a token from oauth_token. NULL is fine. */
void oauth_token_free(char *token);
/* oauth_forget: wipes the cached token (the next oauth_token fetches anew). */
void oauth_forget(void);

/*
 * oauth_login: the device-code grant (RFC 8628) for cfg->smtp.oauth2: asks device_url for a
 * code, prints to out what the user must open and enter, polls token_url until the user has
 * signed in (or the code expires), then writes the refresh token to refresh_token_file
 * (0600, atomically). 0, or -1 with err.
 */
int oauth_login(const struct config *cfg, const char *device_url, FILE *out, char err[ERR_LEN]);

#endif
