/*
 * dispatch, the email path: builds the message of a claimed dispatch, delivers it (maildir
 * or SMTP), and moves the record along (sent, retry with back-off, failed, unknown);
 * recovers dispatches a pass that died left queued.
 *
 * Crash safety over SMTP: the claims of a group are committed (queued) before any byte goes
 * to the server; the moment the server says 354 and the data is about to go out, the record
 * is committed with data_sent set (and status queued again for a retry). A record found
 * queued at the start of a pass is therefore unknown when data_sent is set (the server may
 * have the message: never resent by itself), else retry. To keep one commit per message,
 * the outcome of a message is committed together with the data_sent mark of the next one
 * (or at the end of the group): a crash in between leaves that message queued with
 * data_sent, which recovery turns into unknown, never into a second copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch_int.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"

#define CLAIM_GROUP 256     /* claims committed per transaction, and messages built ahead */
/*
 * On a database several daemons share, claims go a few at a time, each daemon starting at a
 * place of its own in the due list: the work is shared, and one that wins none moves on.
 */
#define SHARED_GROUP 16

struct mail_run {
	struct pass *p;
	struct mail_smtp *smtp;
	int open_tried;
	char open_err[ERR_LEN];     /* mail_smtp_open failed: every message of the pass is retried */
	int down;                   /* a connection-level failure: the rest of the pass is not tried */
	struct mail_result down_res;
	struct dispatch_rec **pending;   /* outcomes decided, not yet committed */
	size_t npending;
	char attach_note[ERR_LEN];       /* the last message went without its card: why */
	struct etpl { char *name; struct email_template *t; } *etpl;   /* email templates loaded */
	size_t netpl;
};

/* One email to deliver: its record and what its message is built from. */
struct mail_item {
	struct dispatch_rec *rec;
	const struct rule *r;
	const struct stakeholder *sh;
	const struct event *ev;
	day_t occ;
	long years;
};

/* A job's tag: the item and the message built for it. */
struct job_ctx {
	const struct mail_item *it;
	struct strbuf msg;
	char **rcpt;
	size_t nrcpt;
	int withdrawn;          /* a stop kept it from starting: its claim is withdrawn */
	int lost;               /* its claim is no longer this process's: nothing more is done for it */
};

static char *message_id(const struct pass *p, int64_t id)
{
	const char *at = strrchr(p->cfg->mail_from_addr, '@');
	return xasprintf("occasiond.%lld.%s@%s", (long long)id, p->install_id, at ? at + 1 : "localhost");
}

static char *maildir_name(const struct pass *p, int64_t id)
{
	return xasprintf("occasiond-%s-%lld", p->install_id, (long long)id);
}

static void rcpt_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * card_pdf: the dispatch's card as a one-card PDF of its own (attach_card), rendered into a
 * new batch, saved under SPOOL/tmp, read back and deleted. *data malloc'd.
 */
static int card_pdf(struct pass *p, const struct rule *r,
                    const struct stakeholder *sh, const struct event *ev, day_t occasion, long years,
                    const char *tmpl_name, const char *signer, int64_t id, char **data, size_t *len,
                    char err[ERR_LEN])
{
	struct card_batch *b = NULL;
	char *dir = util_path_join(p->cfg->spool, "tmp"), *path = NULL;
	int page, rc = -1;
	*data = NULL;
	if (util_mkdirs_under(p->cfg->spool, dir, err) != 0)
		goto out;
	path = xasprintf("%s/card-%lld-%ld.pdf", dir, (long long)id, (long)getpid());
	if (card_batch_new(&b, err) != 0 ||
	    dispatch_card_render(p, b, r, sh, ev, occasion, years, tmpl_name, signer, &page, err) != 0 ||
	    card_batch_save(b, path, err) != 0)
		goto out;
	if (util_read_file(path, 64u << 20, data, len, err) != 0)
		goto out;
	rc = 0;
out:
	if (path)
		unlink(path);
	if (rc != 0 && err[0] && strncmp(err, "attach_card", 11) != 0) {
		char tmp[ERR_LEN];
		util_strlcpy(tmp, err, sizeof tmp);
		err_set(err, "attach_card: %s", tmp);
	}
	card_batch_free(b);
	free(path);
	free(dir);
	return rc;
}

/*
 * build: the message of one dispatch and its envelope recipients (To, then each Cc;
 * malloc'd, free with rcpt_free; rcpt NULL: not wanted). 0 or -1 with err.
 */
static int build(struct pass *p, struct mail_run *mr, const struct rule *r, const struct stakeholder *sh, const struct event *ev, day_t occasion,
                 long years, const char *tmpl_name, const char *signer, int64_t id, struct strbuf *out, char ***rcpt,
                 size_t *nrcpt, char err[ERR_LEN])
{
	struct email_template *t = NULL, *own = NULL;
	struct email_rendered er = {0};
	struct tval *ctx = NULL;
	struct mime_message m;
	struct mime_addr *cc = NULL;
	struct mime_attachment att;
	size_t ncc = 0, pdf_len = 0;
	char date[64], did[32];
	char *full = NULL, *mid = NULL, *rt_name = NULL, *rt_addr = NULL, *pdf = NULL, *fname = NULL;
	int rc = -1;

	/* Within a pass, each email template is read and parsed once. */
	for (size_t i = 0; mr && i < mr->netpl && !t; i++)
		if (strcmp(mr->etpl[i].name, tmpl_name) == 0)
			t = mr->etpl[i].t;
	if (!t) {
		if (email_template_load(p->cfg->templates, tmpl_name, &t, err) != 0)
			goto out;
		if (mr) {
			mr->etpl = xreallocarray(mr->etpl, mr->netpl + 1, sizeof *mr->etpl);
			mr->etpl[mr->netpl].name = xstrdup(tmpl_name);
			mr->etpl[mr->netpl++].t = t;
		} else {
			own = t;
		}
	}
	ctx = dispatch_context(p->cfg, r, sh, ev, occasion, years, signer);
	if (email_template_render(t, ctx, p->cfg->templates, &er, err) != 0)
		goto out;
	memset(&m, 0, sizeof m);
	m.from.name = p->cfg->mail_from_name;
	m.from.addr = p->cfg->mail_from_addr;
	full = stakeholder_display_name(sh);
	m.to.name = full;
	m.to.addr = sh->f[SH_EMAIL];
	if (er.reply_to && *er.reply_to) {
		if (mime_parse_mailbox(er.reply_to, &rt_name, &rt_addr, err) != 0)
			goto out;
		m.reply_to.name = rt_name;
		m.reply_to.addr = rt_addr;
	} else if (*sh->f[SH_OWNER_EMAIL]) {
		/* Replies go to the person who owns the relationship. */
		m.reply_to.name = *sh->f[SH_OWNER] ? sh->f[SH_OWNER] : NULL;
		m.reply_to.addr = sh->f[SH_OWNER_EMAIL];
	}
	if (er.cc && *er.cc) {
		if (mime_parse_mailbox_list(er.cc, &cc, &ncc, err) != 0)
			goto out;
		m.cc = cc;
		m.ncc = ncc;
	}
	m.subject = er.subject;
	dates_format_rfc5322(p->now, p->cfg->timezone, date, sizeof date);
	m.date = date;
	mid = message_id(p, id);
	m.message_id = mid;
	m.text = er.text;
	m.html = er.html;
	snprintf(did, sizeof did, "%lld", (long long)id);
	m.dispatch_id = did;
	m.unsubscribe = p->cfg->unsubscribe;
	if (mr)
		mr->attach_note[0] = 0;
	if (r->attach_card &&
	    card_pdf(p, r, sh, ev, occasion, years, tmpl_name, signer, id, &pdf, &pdf_len, err) != 0) {
		/* A card that cannot be drawn does not hold the email back: it goes without it. */
		log_warn("dispatch %lld: the email goes without its card: %s", (long long)id, err);
		if (mr)
			util_strlcpy(mr->attach_note, err, sizeof mr->attach_note);
		err[0] = 0;
	} else if (r->attach_card) {
		fname = xasprintf("%s.pdf", r->id);
		att.filename = fname;
		att.content_type = "application/pdf";
		att.data = pdf;
		att.len = pdf_len;
		m.attachments = &att;
		m.nattachments = 1;
	}
	if (mime_build(&m, out, err) != 0)
		goto out;
	if (rcpt) {
		/* mime_build validated every address; the envelope is the same list. */
		*rcpt = xcalloc(1 + ncc, sizeof **rcpt);
		(*rcpt)[0] = xstrdup(m.to.addr);
		for (size_t i = 0; i < ncc; i++)
			(*rcpt)[1 + i] = xstrdup(cc[i].addr);
		*nrcpt = 1 + ncc;
	}
	rc = 0;
out:
	free(full);
	free(mid);
	free(pdf);
	free(fname);
	mime_addr_list_free(cc, ncc);
	free(rt_name);
	free(rt_addr);
	email_rendered_clear(&er);
	tval_free(ctx);
	email_template_free(own);
	return rc;
}

int dispatch_mail_build(struct pass *p, const struct rule *r, const struct stakeholder *sh, const struct event *ev,
                        day_t occasion, long years, const char *tmpl_name, const char *signer, int64_t id,
                        struct strbuf *out, char err[ERR_LEN])
{
	return build(p, NULL, r, sh, ev, occasion, years, tmpl_name, signer, id, out, NULL, NULL, err);
}

static struct mail_run *run_of(struct pass *p)
{
	if (!p->mail) {
		p->mail = xcalloc(1, sizeof *p->mail);
		p->mail->p = p;
	}
	return p->mail;
}

/*
 * update_claim: writes rec while its claim is still this process's: 0, 1 lost (logged; write
 * and send nothing more for it), -1 error (in p->claim_err).
 */
static int update_claim(struct pass *p, struct dispatch_rec *rec)
{
	int rc = store_update_claim(p->st, rec, p->claim_err);
	if (rc == 1)
		log_warn("%s", p->claim_err);
	return rc;
}

/* flush: commits the outcomes not yet committed, in one transaction. */
static void flush(struct mail_run *m)
{
	char err[ERR_LEN];
	size_t i;
	if (m->npending == 0)
		return;
	if (store_begin(m->p->st, err) != 0) {
		log_err("%s", err);
		return;
	}
	for (i = 0; i < m->npending; i++)
		if (update_claim(m->p, m->pending[i]) < 0)
			break;
	if (i < m->npending || store_commit(m->p->st, err) != 0) {
		store_rollback(m->p->st);
		log_err("%s", i < m->npending ? m->p->claim_err : err);
		/* Left queued in the store: recovery settles them (unknown or retry), never resends blindly. */
	}
	m->npending = 0;
}

static void add_pending(struct mail_run *m, struct dispatch_rec *rec)
{
	m->pending = xreallocarray(m->pending, m->npending + 1, sizeof *m->pending);
	m->pending[m->npending++] = rec;
	if (m->npending >= CLAIM_GROUP)
		flush(m);
}

/*
 * before_data: the servers said 354 to these jobs: commit data_sent for them (with the
 * outcomes still pending) before the first byte of their data goes out. A failed commit
 * aborts them.
 */
static int before_data(void *arg, struct mail_job *const *ready, size_t k)
{
	struct mail_run *m = arg;
	char err[ERR_LEN];
	size_t i, j;
	int lost = 0;
	for (i = 0; i < k; i++) {
		struct dispatch_rec *rec = ((struct job_ctx *)ready[i]->tag)->it->rec;
		rec->data_sent = 1;
		rec->status = DS_QUEUED;
	}
	if (store_begin(m->p->st, err) != 0)
		goto fail;
	/* Each write checks that the claim is still ours (fencing): a lost one sends nothing. */
	for (i = 0; i < m->npending; i++)
		if (update_claim(m->p, m->pending[i]) < 0)
			break;
	for (j = 0; i == m->npending && j < k; j++) {
		struct job_ctx *c = ready[j]->tag;
		int rc = update_claim(m->p, c->it->rec);
		if (rc < 0)
			break;
		if (rc == 1)
			c->lost = lost = 1;
	}
	if (i < m->npending || j < k) {
		util_strlcpy(err, m->p->claim_err, sizeof err);
		store_rollback(m->p->st);
		goto fail;
	}
	if (store_commit(m->p->st, err) != 0) {
		store_rollback(m->p->st);
		goto fail;
	}
	m->npending = 0;
	/* A lost claim among them: none of them goes now (the others are tried again later). */
	if (lost) {
		for (i = 0; i < k; i++)
			((struct job_ctx *)ready[i]->tag)->it->rec->data_sent = 0;
		return -1;
	}
	return 0;
fail:
	log_err("cannot record that %zu message%s start%s to go out: %s", k, k == 1 ? "" : "s", k == 1 ? "s" : "", err);
	for (i = 0; i < k; i++)
		((struct job_ctx *)ready[i]->tag)->it->rec->data_sent = 0;
	return -1;
}

/* backoff: first_delay doubled per attempt already made, capped at max_delay. */
static int64_t backoff(const struct config *cfg, int attempts)
{
	int64_t d = cfg->retry.first_delay;
	for (int i = 1; i < attempts && d < cfg->retry.max_delay; i++)
		d *= 2;
	return d > cfg->retry.max_delay ? cfg->retry.max_delay : d;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v && *v ? xstrdup(v) : NULL;
}

/* note_attach: a message built without its card says so in its record's reason. */
static void note_attach(const struct mail_run *m, struct dispatch_rec *rec)
{
	char *note;
	if (!m || !m->attach_note[0] || (rec->reason && strncmp(rec->reason, "card not drawn: ", 16) == 0))
		return;   /* a card's fallback email already says why it has no card */
	note = xasprintf("card not attached: %s", m->attach_note);
	set_str(&rec->reason, note);
	free(note);
}

/* settle: the outcome of one attempt into rec (not stored yet), counted and logged. */
static void settle(struct pass *p, struct dispatch_rec *rec, const struct mail_result *res)
{
	set_str(&rec->last_reply, res->reply);
	rec->next_attempt_at = 0;
	switch (res->outcome) {
	case MAIL_SENT:
		rec->status = DS_SENT;
		set_str(&rec->error, NULL);
		p->stats->emails++;
		break;
	case MAIL_RETRY:
		rec->data_sent = 0;   /* the server cannot have it: no final "." went out */
		if (res->not_counted && rec->attempts > 0)
			rec->attempts--;   /* no token, throttled, stopped: not this message's fault */
		if (rec->attempts >= p->cfg->retry.attempts) {
			char *e = xasprintf("%d attempts spent; last: %s", rec->attempts, res->err);
			rec->status = DS_FAILED;
			set_str(&rec->error, e);
			free(e);
			p->stats->failed++;
		} else {
			rec->status = DS_RETRY;
			set_str(&rec->error, res->err);
			rec->next_attempt_at = p->now + backoff(p->cfg, rec->attempts);
			p->stats->retry++;
		}
		break;
	case MAIL_FAILED:
		rec->status = DS_FAILED;
		set_str(&rec->error, res->err);
		p->stats->failed++;
		break;
	case MAIL_UNKNOWN:
		rec->status = DS_UNKNOWN;
		set_str(&rec->error, res->err);
		p->stats->unknown++;
		break;
	}
	dispatch_log_rec(rec);
}

/* prepare: builds a job's message just before it starts (while other transfers are under way). */
static int prepare(void *arg, struct mail_job *j)
{
	struct mail_run *m = arg;
	struct pass *p = m->p;
	struct job_ctx *c = j->tag;
	const struct mail_item *it = c->it;
	struct dispatch_rec *rec = it->rec;
	if (dispatch_stopping()) {
		/* Not started: its claim is withdrawn after the run, and the next start plans it again. */
		c->withdrawn = 1;
		j->res.outcome = MAIL_RETRY;
		util_strlcpy(j->res.err, "stopped before it was sent", sizeof j->res.err);
		return -1;
	}
	rec->attempts++;
	free(rec->message_id);
	rec->message_id = message_id(p, rec->id);
	if (build(p, m, it->r, it->sh, it->ev, it->occ, it->years, rec->template_name,
	          rec->signer, rec->id, &c->msg, &c->rcpt, &c->nrcpt, j->res.err) != 0) {
		/* Bad data (a control character in a name, an invalid address): nothing is sent. */
		j->res.outcome = MAIL_FAILED;
		return -1;
	}
	note_attach(m, rec);
	j->from = p->cfg->mail_from_addr;
	j->rcpt = (const char *const *)c->rcpt;
	j->nrcpt = c->nrcpt;
	j->msg = c->msg.s;
	j->len = c->msg.len;
	return 0;
}

/* on_done: a message's outcome is known: into its record, committed with the next data_sent marks. */
static void on_done(void *arg, struct mail_job *j)
{
	struct mail_run *m = arg;
	struct job_ctx *c = j->tag;
	if (c->withdrawn)
		return;
	if (c->lost) {
		sb_free(&c->msg);
		rcpt_free(c->rcpt, c->nrcpt);
		c->rcpt = NULL;
		c->nrcpt = 0;
		return;
	}
	if (j->res.conn_failed && !m->down) {
		m->down = 1;
		m->down_res = j->res;
	}
	settle(m->p, c->it->rec, &j->res);
	add_pending(m, c->it->rec);
	sb_free(&c->msg);
	rcpt_free(c->rcpt, c->nrcpt);
	c->rcpt = NULL;
	c->nrcpt = 0;
}

/*
 * deliver_smtp: one attempt for each of items[0..n) (claimed and queued, or due for a
 * retry) over the run's SMTP session; the outcomes are committed at the end.
 */
/* withdraw: the claims of messages a stop kept from starting go away, so nothing waits as queued. */
static void withdraw(struct pass *p, const struct job_ctx *ctx, size_t n)
{
	char err[ERR_LEN];
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (ctx[i].withdrawn) {
			int rc = store_withdraw_claim(p->st, ctx[i].it->rec->id, err);
			if (rc == 1)
				log_warn("%s", err);
			else if (rc != 0)
				log_err("%s", err);
			k++;
		}
	if (k)
		log_info("stop requested: %zu %s left for the next start", k, util_plural((long long)k, "email", "emails"));
}

static void deliver_smtp(struct pass *p, const struct mail_item *items, size_t n)
{
	struct mail_run *m = run_of(p);
	struct mail_job *jobs = xcalloc(n, sizeof *jobs);
	struct job_ctx *ctx = xcalloc(n, sizeof *ctx);

	for (size_t i = 0; i < n; i++) {
		ctx[i].it = &items[i];
		jobs[i].tag = &ctx[i];
	}
	if (n && !m->open_tried) {
		m->open_tried = 1;
		if (mail_smtp_open(p->cfg, &m->smtp, m->open_err) != 0)
			log_err("%s", m->open_err);
		mail_smtp_set_stop(m->smtp, dispatch_stopping);
	}
	if (m->smtp && !m->down) {
		mail_smtp_send_many(m->smtp, jobs, n, prepare, before_data, on_done, m);
	} else {
		for (size_t i = 0; i < n; i++) {
			memset(&jobs[i].res, 0, sizeof jobs[i].res);
			if (prepare(m, &jobs[i]) != 0) {
				/* res says failed */
			} else if (!m->smtp) {
				jobs[i].res.outcome = MAIL_RETRY;
				util_strlcpy(jobs[i].res.err, m->open_err, sizeof jobs[i].res.err);
			} else {
				/* The server could not be reached a moment ago: this message waits for the next try too. */
				jobs[i].res = m->down_res;
				jobs[i].res.data_started = 0;
			}
			on_done(m, &jobs[i]);
		}
	}
	flush(m);
	withdraw(p, ctx, n);
	free(jobs);
	free(ctx);
}

/* A local write that failed (disk full, permissions) is transient: try again later. */
static void write_failed(struct pass *p, struct dispatch_rec *rec, const char *err)
{
	rec->status = rec->attempts >= p->cfg->retry.attempts ? DS_FAILED : DS_RETRY;
	set_str(&rec->error, err);
	rec->next_attempt_at = rec->status == DS_RETRY ? p->now + backoff(p->cfg, rec->attempts) : 0;
	if (rec->status == DS_RETRY)
		p->stats->retry++;
	else
		p->stats->failed++;
}

/*
 * stage_maildir: builds one claimed email and writes it into the chunk (tmp/). Returns its
 * index in the chunk; -1 when its outcome is already decided in rec (found delivered by an
 * earlier attempt, or failed); *note receives the card-not-attached note for its record.
 */
static long stage_maildir(struct pass *p, struct maildir_chunk *ch, const char *open_err, const char *outbox,
                          struct dispatch_rec *rec, const struct mail_item *it, char **note)
{
	struct mail_run *m = run_of(p);
	struct strbuf msg = {0};
	char err[ERR_LEN];
	char *name = maildir_name(p, rec->id);
	long k = -1;

	*note = NULL;
	rec->attempts++;
	free(rec->message_id);
	rec->message_id = message_id(p, rec->id);
	if (mail_maildir_has(outbox, name)) {
		/* An earlier attempt wrote it and died before recording that: it is sent, not again. */
		rec->attempts--;
		rec->status = DS_SENT;
		free(rec->artifact);
		rec->artifact = xasprintf("%s/new/%s", outbox, name);
		set_str(&rec->error, NULL);
		p->stats->emails++;
	} else if (build(p, m, it->r, it->sh, it->ev, it->occ, it->years, rec->template_name, rec->signer, rec->id,
	                 &msg, NULL, NULL, err) != 0) {
		rec->status = DS_FAILED;
		set_str(&rec->error, err);
		p->stats->failed++;
	} else if (!ch) {
		write_failed(p, rec, open_err);
	} else if ((k = mail_maildir_chunk_add(ch, name, msg.s, msg.len, err)) < 0) {
		write_failed(p, rec, err);
	} else if (m->attach_note[0]) {
		*note = xstrdup(m->attach_note);
	}
	sb_free(&msg);
	free(name);
	return k;
}

/*
 * deliver_maildir: items[0..n) (claimed) written as one chunk into SPOOL/outbox: every file
 * to tmp/, synced together, moved to new/, new/ synced once; then the outcomes are recorded
 * in one transaction. A record says sent only for a file durably in new/; a crash before
 * the transaction leaves the records queued, and recovery finds their files: sent, not
 * again (or, for a file that never reached new/, a retry).
 */
static void deliver_maildir(struct pass *p, const struct mail_item *items, size_t n)
{
	struct maildir_chunk *ch = NULL;
	char *outbox = util_path_join(p->cfg->spool, "outbox"), **notes = xcalloc(n ? n : 1, sizeof *notes);
	long *idx = xcalloc(n ? n : 1, sizeof *idx);
	char err[ERR_LEN], open_err[ERR_LEN] = "";
	size_t i, staged;
	int tx, rc;

	if (util_mkdirs_under(p->cfg->spool, outbox, open_err) != 0 || mail_maildir_chunk_open(outbox, &ch, open_err) != 0)
		ch = NULL;   /* every message of the chunk: a write that failed, with open_err */
	for (staged = 0; staged < n; staged++) {
		if (dispatch_stopping())
			break;
		if (staged % 64 == 63)
			util_keepalive();
		idx[staged] = stage_maildir(p, ch, open_err, outbox, items[staged].rec, &items[staged], &notes[staged]);
	}
	if (ch)
		mail_maildir_chunk_commit(ch);
	tx = staged > 1 && store_begin(p->st, err) == 0;
	for (i = 0; i < staged; i++) {
		struct dispatch_rec *rec = items[i].rec;
		const char *e;
		if (idx[i] >= 0 && (e = mail_maildir_chunk_error(ch, (size_t)idx[i])) != NULL) {
			write_failed(p, rec, e);
		} else if (idx[i] >= 0) {
			rec->status = DS_SENT;
			char *name = maildir_name(p, rec->id);
			free(rec->artifact);
			rec->artifact = xasprintf("%s/new/%s", outbox, name);
			free(name);
			set_str(&rec->error, NULL);
			if (notes[i]) {
				char *note = xasprintf("card not attached: %s", notes[i]);
				if (!(rec->reason && strncmp(rec->reason, "card not drawn: ", 16) == 0))
					set_str(&rec->reason, note);   /* a card's fallback email already says why */
				free(note);
			}
			p->stats->emails++;
		}
		/* Fenced: a claim lost meanwhile is logged and left to its new owner (the file's name dedups). */
		if ((rc = update_claim(p, rec)) == 0)
			dispatch_log_rec(rec);
		else if (rc < 0)
			log_err("%s", p->claim_err);
	}
	if (tx && store_commit(p->st, err) != 0) {
		log_err("%s", err);   /* left queued: recovery finds the files */
		store_rollback(p->st);
	}
	if (staged < n) {
		/* Stop between messages: the rest's claims are withdrawn, left for the next start. */
		struct job_ctx *ctx = xcalloc(n - staged, sizeof *ctx);
		for (size_t k = staged; k < n; k++) {
			ctx[k - staged].it = &items[k];
			ctx[k - staged].withdrawn = 1;
		}
		withdraw(p, ctx, n - staged);
		free(ctx);
	}
	mail_maildir_chunk_close(ch);
	for (i = 0; i < n; i++)
		free(notes[i]);
	free(notes);
	free(idx);
	free(outbox);
}

/* deliver: items[0..n) over the transport (maildir: one chunk). */
static void deliver(struct pass *p, const struct mail_item *items, size_t n)
{
	if (p->cfg->transport == TRANSPORT_SMTP)
		deliver_smtp(p, items, n);
	else if (n)
		deliver_maildir(p, items, n);
}

/*
 * recover: emails left queued by a pass that died. Data had started to go out: unknown
 * (never resent by itself). A maildir file with its name: sent. Otherwise: retry now.
 */
size_t dispatch_mail_recover(struct pass *p)
{
	struct dispatch_rec *v = NULL;
	size_t n = 0;
	char *outbox = util_path_join(p->cfg->spool, "outbox");
	char err[ERR_LEN];
	int synced = 0;
	/* Several daemons: only claims whose lease ran out, now this process's. */
	if (store_take_over(p->st, CH_EMAIL, &v, &n, err) != 0)
		log_err("%s", err);
	for (size_t i = 0; i < n; i++) {
		struct dispatch_rec *rec = &v[i];
		char *name = maildir_name(p, rec->id);
		if (rec->data_sent) {
			rec->status = DS_UNKNOWN;
			set_str(&rec->error, "the process stopped while the message was going out; the server may have it, "
			        "so it is not sent again");
			p->stats->unknown++;
		} else if (mail_maildir_has(outbox, name)) {
			/* Maybe moved to new/ by a pass that died before its sync: made durable first, then sent. */
			if (!synced && mail_maildir_sync(outbox, err) != 0) {
				log_err("%s", err);   /* still queued: the next pass looks again */
				free(name);
				continue;
			}
			synced = 1;
			rec->status = DS_SENT;
			free(rec->artifact);
			rec->artifact = xasprintf("%s/new/%s", outbox, name);
		} else {
			rec->status = DS_RETRY;
			rec->next_attempt_at = p->now;
		}
		int rc = update_claim(p, rec);
		if (rc < 0)
			log_err("%s", p->claim_err);
		else if (rc == 0)
			log_info("recovered dispatch id=%lld status=%s", (long long)rec->id, dispatch_status_names[rec->status]);
		free(name);
	}
	dispatch_recs_free(v, n);
	free(outbox);
	return n;
}

/*
 * retry_due: emails in retry whose time has come, delivered in groups; each group's
 * stakeholders are fetched for it and dropped after it.
 */
void dispatch_mail_retry_due(struct pass *p)
{
	struct dispatch_filter f = {.status = "retry", .channel = CH_EMAIL};
	struct dispatch_rec *v = NULL;
	struct mail_item *due = xcalloc(CLAIM_GROUP, sizeof *due);
	size_t n = 0, ndue = 0;
	char err[ERR_LEN];
	if (store_list_dispatches(p->st, &f, &v, &n, err) != 0)
		log_err("%s", err);
	for (size_t i = 0; i <= n; i++) {
		struct dispatch_rec *rec;
		struct mail_item it = {NULL, NULL, NULL, NULL, 0, -1};
		if (i == n || ndue == CLAIM_GROUP) {
			deliver(p, due, ndue);
			dispatch_forget(p);
			ndue = 0;
		}
		if (i == n)
			break;
		it.rec = rec = &v[i];
		if (rec->next_attempt_at > p->now)
			continue;
		if (dispatch_item_of_record(p, rec, &it.r, &it.sh, &it.ev, &it.occ, &it.years) != 0) {
			rec->status = DS_FAILED;
			set_str(&rec->error, "its rule or stakeholder no longer exists");
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			p->stats->failed++;
			continue;
		}
		if (it.sh && stakeholder_flag(it.sh, SH_OPTED_OUT)) {
			/* Opted out since: nothing more goes to them. */
			rec->status = DS_SKIPPED;
			set_str(&rec->reason, "opted-out");
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			dispatch_log_rec(rec);
			continue;
		}
		if (rec->attempts >= p->cfg->retry.attempts) {
			rec->status = DS_FAILED;
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			p->stats->failed++;
			continue;
		}
		{
			/* Several daemons: the retry is claimed first, so that one alone tries it. */
			int claimed = 0;
			if (store_claim_retry(p->st, rec, p->now, &claimed, err) != 0)
				log_err("%s", err);
			if (!claimed)
				continue;
		}
		due[ndue++] = it;
	}
	free(due);
	dispatch_recs_free(v, n);
}

/*
 * dispatch_mail_fallbacks: the card path committed these records as queued emails; they are
 * read back (what is committed is what goes) and delivered in groups, as claimed emails are.
 * One no longer queued (another process settled it) is left alone.
 */
void dispatch_mail_fallbacks(struct pass *p)
{
	struct dispatch_rec *recs = xcalloc(CLAIM_GROUP, sizeof *recs);
	struct mail_item *group = xcalloc(CLAIM_GROUP, sizeof *group);
	char err[ERR_LEN];

	for (size_t g = 0; g < p->nfallback; g += CLAIM_GROUP) {
		size_t k = p->nfallback - g < CLAIM_GROUP ? p->nfallback - g : CLAIM_GROUP, n = 0;
		for (size_t i = 0; i < k; i++) {
			struct dispatch_rec *rec = &recs[n];
			struct mail_item *it = &group[n];
			int found = 0;
			memset(it, 0, sizeof *it);
			it->years = -1;
			if (store_get_dispatch(p->st, p->fallback[g + i], rec, &found, err) != 0 || !found) {
				if (found)
					log_err("%s", err);
				dispatch_rec_clear(rec);
				continue;
			}
			if (rec->status != DS_QUEUED || rec->channel != CH_EMAIL ||
			    !rec->handled_by || strcmp(rec->handled_by, store_owner(p->st)) != 0 ||
			    dispatch_item_of_record(p, rec, &it->r, &it->sh, &it->ev, &it->occ, &it->years) != 0) {
				/* Gone since (its rule or stakeholder): a later pass's recovery settles it. */
				dispatch_rec_clear(rec);
				continue;
			}
			it->rec = rec;
			n++;
		}
		deliver(p, group, n);
		dispatch_forget(p);
		for (size_t i = 0; i < n; i++)
			dispatch_rec_clear(&recs[i]);
	}
	free(recs);
	free(group);
	free(p->fallback);
	p->fallback = NULL;
	p->nfallback = 0;
}

/*
 * dispatch_mail_items: claims the due emails in groups (one transaction per group, committed
 * before anything of the group is sent), then delivers each claimed one.
 */
int dispatch_mail_items(struct pass *p, const struct plan_item *const *items, size_t n, char err[ERR_LEN])
{
	struct dispatch_rec *recs = xcalloc(CLAIM_GROUP, sizeof *recs);
	struct mail_item group[CLAIM_GROUP];
	int claimed[CLAIM_GROUP];
	size_t nitems, size = store_shared(p->st) ? SHARED_GROUP : CLAIM_GROUP;
	size_t ngroups = (n + size - 1) / size, first = 0, done = 0;
	time_t last_look = 0;
	int rc = 0;

	/* Several daemons: each starts at a place of its own (its owner's hash) and goes round. */
	if (store_shared(p->st) && dispatch_spreading() && ngroups > 1) {
		uint32_t h = 2166136261u;
		for (const char *c = store_owner(p->st); *c; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
		first = (size_t)((h ^ (uint32_t)p->now) % ngroups);
	}
	for (size_t gi = 0; gi < ngroups && rc == 0; gi++) {
		size_t g = ((first + gi) % ngroups) * size;
		size_t k = n - g < size ? n - g : size, i, won = 0;
		if (dispatch_stopping()) {
			log_info("stop requested: %zu %s left for the next start", n - done,
			         util_plural((long long)(n - done), "email", "emails"));
			break;
		}
		done += k;
		/* The group's stakeholders, fetched before its claims (one gone since the plan: not claimed). */
		for (i = 0; i < k; i++) {
			const struct plan_item *it = items[g + i];
			memset(&group[i], 0, sizeof group[i]);
			group[i].r = it->rule;
			group[i].occ = it->occasion;
			group[i].years = it->years;
			(void)dispatch_item_parts(p, it, &group[i].sh, &group[i].ev);
		}
		if (store_begin(p->st, err) != 0) {
			rc = -1;
			break;
		}
		for (i = 0; i < k; i++) {
			dispatch_rec_from_item(&recs[i], items[g + i]);
			recs[i].status = DS_QUEUED;
			claimed[i] = 0;
			if (group[i].sh && store_claim(p->st, &recs[i], &claimed[i], err) != 0)
				break;
		}
		if (i < k || store_commit(p->st, err) != 0) {
			store_rollback(p->st);
			for (size_t j = 0; j < k && j <= i; j++)
				dispatch_rec_clear(&recs[j]);
			rc = -1;
			break;
		}
		nitems = 0;
		for (i = 0; i < k; i++)
			if (claimed[i]) {
				group[nitems] = group[i];
				group[nitems++].rec = &recs[i];
				won++;
			}
		/* None won: another daemon has them; on to the next group. */
		if (won)
			deliver(p, group, nitems);
		dispatch_forget(p);
		for (i = 0; i < k; i++)
			dispatch_rec_clear(&recs[i]);
		/*
		 * Several daemons: a busy pass looks about once a second for claims of a daemon
		 * that died (their lease ran out) and delivers them now, not after its own work.
		 */
		if (store_shared(p->st)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (ts.tv_sec != last_look) {
				last_look = ts.tv_sec;
				if (dispatch_mail_recover(p) > 0)
					dispatch_mail_retry_due(p);
			}
		}
	}
	free(recs);
	return rc;
}

/*
 * dispatch_mail_reminders: the card path's reminders. Maildir: under its deterministic name
 * (delivery refuses an existing name, so it is never written twice). SMTP: on the pass's own
 * session, paced with the rest, and its name noted in the store's meta table once the server
 * has accepted it, so a later pass does not send it again; a reminder that cannot be sent now
 * is logged (the batch itself is safe on disk) and not retried.
 */
void dispatch_mail_reminders(struct pass *p)
{
	struct mail_run *m = run_of(p);
	char *outbox = util_path_join(p->cfg->spool, "outbox");
	for (size_t i = 0; i < p->nrem; i++) {
		const struct reminder *rm = &p->rem[i];
		char err[ERR_LEN] = "", *key = NULL, *seen = NULL;
		int rc = -1;
		if (p->cfg->transport != TRANSPORT_SMTP) {
			if (mail_maildir_has(outbox, rm->name))
				continue;   /* made by an earlier pass */
			rc = util_mkdirs_under(p->cfg->spool, outbox, err) == 0 &&
			     mail_maildir_deliver(outbox, rm->name, rm->msg.s, rm->msg.len, NULL, err) == 0 ? 0 : -1;
		} else if ((rc = store_meta_get(p->st, key = xasprintf("reminder:%s", rm->name), &seen, err)) != 1) {
			/* Sent by an earlier pass (0), or the store cannot say (-1): either way, not again. */
			free(seen);
			free(key);
			if (rc < 0)
				log_err("batch %s: reminder to %s not sent: %s", rm->batch, rm->to, err);
			continue;
		} else {
			rc = -1;
			struct mail_result res;
			const char *rcpt[1] = {rm->to};
			memset(&res, 0, sizeof res);
			if (!m->open_tried) {
				m->open_tried = 1;
				if (mail_smtp_open(p->cfg, &m->smtp, m->open_err) != 0)
					log_err("%s", m->open_err);
			}
			if (!m->smtp)
				util_strlcpy(err, m->open_err, sizeof err);
			else if (mail_smtp_send(m->smtp, p->cfg->mail_from_addr, rcpt, 1, rm->msg.s, rm->msg.len, NULL, NULL,
			                        &res) == MAIL_SENT)
				rc = store_meta_set(p->st, key, "sent", err);
			else
				err_set(err, "%s", res.err[0] ? res.err : res.reply);
		}
		free(key);
		if (rc != 0)
			log_err("batch %s: reminder to %s not sent: %s", rm->batch, rm->to, err);
		else
			log_info("batch %s: reminder sent to %s", rm->batch, rm->to);
	}
	free(outbox);
}

void dispatch_mail_finish(struct pass *p)
{
	struct mail_run *m = p->mail;
	if (!m)
		return;
	flush(m);
	mail_smtp_close(m->smtp);
	for (size_t i = 0; i < m->netpl; i++) {
		free(m->etpl[i].name);
		email_template_free(m->etpl[i].t);
	}
	free(m->etpl);
	free(m->pending);
	free(m);
	p->mail = NULL;
}
