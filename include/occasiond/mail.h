/*
 * mail: delivery. The maildir writer (tmp/ then new/) in mail.c, and SMTP through libcurl
 * (the only libcurl user) in mail_smtp.c: one connection reused for a run of messages,
 * TLS required unless the server is on loopback, outcomes classified by the server's reply.
 */
#ifndef OCCASIOND_MAIL_H
#define OCCASIOND_MAIL_H

#include <stddef.h>

#include "occasiond/config.h"
#include "occasiond/util.h"

/*
 * mail_maildir_deliver: writes msg into maildir/tmp/NAME (created O_EXCL, fsync), then
 * renames it to maildir/new/NAME and syncs the directory. Creates tmp/, new/, cur/ when
 * missing. NAME must be a safe file-name component. *path_out (malloc'd, or pass NULL)
 * receives the final path. An existing new/NAME is an error (never overwritten). 0 or -1.
 */
int mail_maildir_deliver(const char *maildir, const char *name, const char *msg, size_t len,
                         char **path_out, char err[ERR_LEN]);
/*
 * A chunk of maildir deliveries, for a pass that writes thousands: mail_maildir_chunk_add
 * writes each message to tmp/NAME (not yet synced), mail_maildir_chunk_commit syncs every
 * file, moves each to new/NAME (never replacing) and syncs new/ once. A message is delivered
 * only when the commit says so (mail_maildir_chunk_error NULL): it is then durably in new/.
 * A crash before the commit's end leaves names in tmp/ (leftovers a new delivery replaces)
 * or in new/ (whole messages, not yet synced).
 *
 * mail_maildir_chunk_open: opens maildir (tmp/, new/, cur/ created when missing) for a chunk.
 * 0, or -1 with err. Close with mail_maildir_chunk_close.
 */
struct maildir_chunk;
int mail_maildir_chunk_open(const char *maildir, struct maildir_chunk **out, char err[ERR_LEN]);
/*
 * mail_maildir_chunk_add: writes msg to tmp/NAME (a leftover of that name is replaced) and
 * keeps it open for the commit. NAME as for mail_maildir_deliver; an existing new/NAME is an
 * error. Returns the message's index in the chunk (0, 1, ...), or -1 with err (nothing of it
 * is left in tmp/).
 */
long mail_maildir_chunk_add(struct maildir_chunk *c, const char *name, const char *msg, size_t len,
                            char err[ERR_LEN]);
/*
 * mail_maildir_chunk_commit: syncs the chunk's files, moves each to new/ and syncs new/ (once
 * per chunk; a second call does nothing). Returns how many were delivered; each message's
 * outcome from mail_maildir_chunk_error.
 */
size_t mail_maildir_chunk_commit(struct maildir_chunk *c);
/*
 * mail_maildir_chunk_error: NULL when message i was delivered by the commit, else why not
 * (the file and errno's text; the chunk's string, valid until close).
 */
const char *mail_maildir_chunk_error(const struct maildir_chunk *c, size_t i);
/* mail_maildir_chunk_close: frees c; a message added and never committed leaves nothing in tmp/. NULL is fine. */
void mail_maildir_chunk_close(struct maildir_chunk *c);
/* mail_maildir_sync: syncs maildir/new (what a crashed pass moved there is then durable). 0 or -1 with err. */
int mail_maildir_sync(const char *maildir, char err[ERR_LEN]);
/* mail_maildir_has: 1 when maildir/new/NAME or maildir/cur/NAME... exists (a delivery that completed). */
int mail_maildir_has(const char *maildir, const char *name);

/*
 * mail_password_check: the password file exists, is a regular file and is not readable
 * (nor writable) by group or others. 0, or -1 with err saying what is wrong.
 */
int mail_password_check(const char *path, char err[ERR_LEN]);

/* mail_addr_envelope_ok: 1 when addr may go to MAIL FROM / RCPT TO (mime_addr_valid, no controls). */
int mail_addr_envelope_ok(const char *addr);

enum mail_outcome {
	MAIL_SENT,      /* 2xx after the data: delivered */
	MAIL_RETRY,     /* 4xx, or a connection, TLS, AUTH or timeout failure before the data was complete */
	MAIL_FAILED,    /* 5xx (or an envelope we refuse to send) */
	MAIL_UNKNOWN    /* the whole message went out but no final reply came: the server may have it */
};
extern const char *const mail_outcome_names[];

struct mail_result {
	enum mail_outcome outcome;
	long code;                /* the last SMTP reply code, 0 when none */
	char reply[256];          /* the server's last reply line (printable ASCII only), or "" */
	char err[ERR_LEN];        /* what happened, for the record's error ("" when sent) */
	int data_started;         /* the data phase began (the server said 354) */
	int conn_failed;          /* the connection itself failed (connect, TLS, AUTH, 421): the next
	                             messages of this run would fail the same way */
	int not_counted;          /* not the message's fault (no OAuth2 token, the server throttling,
	                             a stop): the attempt is not counted against mail.retry.attempts */
};

/* One message for mail_smtp_send_many; the caller owns every pointer. */
struct mail_job {
	const char *from;
	const char *const *rcpt;
	size_t nrcpt;
	const char *msg;
	size_t len;
	void *tag;                /* the caller's, untouched */
	struct mail_result res;   /* the outcome, filled in */
};

struct mail_smtp;
/*
 * mail_smtp_open: a session for cfg->smtp: checks the URL, the TLS mode against the host and
 * the password file (mode re-checked, read now, never logged). No connection is made yet:
 * the first send connects; later ones reuse the connection(s), at most
 * cfg->smtp.connections at once. 0 or -1 with err. Close with mail_smtp_close.
 */
int mail_smtp_open(const struct config *cfg, struct mail_smtp **out, char err[ERR_LEN]);
void mail_smtp_close(struct mail_smtp *s);    /* NULL is fine */
/*
 * mail_smtp_set_stop: stopping (may be NULL) is asked while the session waits to send a
 * message again that the server throttled; non-zero gives that message up for this run
 * (MAIL_RETRY, not counted).
 */
void mail_smtp_set_stop(struct mail_smtp *s, int (*stopping)(void));
/*
 * mail_smtp_check: connects to cfg's server, says EHLO, STARTTLS and AUTH (an OAuth2 token
 * fetched as for sending) and QUIT; sends no message. 0, or -1 with err saying what failed
 * and what to do.
 */
int mail_smtp_check(const struct config *cfg, char err[ERR_LEN]);
/*
 * mail_smtp_send: one message (already CRLF, never altered: libcurl dot-stuffs it) from
 * envelope sender from to rcpt[0..nrcpt). Paces itself to rate_per_minute (sleeping, with
 * util_keepalive calls). on_data, when not NULL, is called once, when the server has
 * answered DATA with 354 and before the first byte of the message goes out; when it
 * returns non-zero the transfer is aborted before any data (outcome MAIL_RETRY). Every
 * address is checked first (mail_addr_envelope_ok): a bad one is MAIL_FAILED and nothing
 * goes out. The outcome and the server's last reply are in *res. Returns res->outcome.
 */
enum mail_outcome mail_smtp_send(struct mail_smtp *s, const char *from, const char *const *rcpt, size_t nrcpt,
                                 const char *msg, size_t len, int (*on_data)(void *), void *arg,
                                 struct mail_result *res);
/*
 * mail_smtp_send_many: jobs[0..n) over the session's connections (in parallel when it has
 * several), each checked and paced as in mail_smtp_send. prepare (may be NULL) is called
 * for each job just before it starts, so that the caller can build the message while other
 * transfers are under way; it fills the job's envelope and message, or returns non-zero
 * with res.outcome and res.err set (the job is then done). before_data (may be NULL) is called
 * with the k jobs that have just reached the server's 354, before any of their data goes
 * out; transfers reaching 354 at about the same time share one call. Non-zero aborts those
 * k (MAIL_RETRY). on_done (may be NULL) is called once per job as soon as its outcome is
 * in its res. A connection-level failure leaves the jobs not yet started with the same
 * result, untried. With auth xoauth2/oauthbearer the access token comes from oauth.c before
 * the first job; a token the server refuses is replaced once and the job tried again. A
 * reply that says the server throttles (421 4.7.0, 451 4.7.28, 452 4.5.3, 4.3.2) halves the
 * session's pace (logged; it creeps back towards rate_per_minute, never past it) and puts
 * the job back in the queue, a few times at most. Returns 0.
 */
int mail_smtp_send_many(struct mail_smtp *s, struct mail_job *jobs, size_t n,
                        int (*prepare)(void *arg, struct mail_job *job),
                        int (*before_data)(void *arg, struct mail_job *const *ready, size_t k),
                        void (*on_done)(void *arg, struct mail_job *job), void *arg);

#endif
