/*
 * dispatch, the email path: builds the message of a claimed dispatch, delivers it, and
 * moves the record along (sent, retry with back-off, failed, unknown); recovers dispatches
 * a pass that died left queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch_int.h"
#include "occasiond/log.h"
#include "occasiond/mail.h"
#include "occasiond/mime.h"


static char *message_id(const struct pass *p, int64_t id)
{
	const char *at = strrchr(p->cfg->mail_from_addr, '@');
	return xasprintf("occasiond.%lld.%s@%s", (long long)id, p->install_id, at ? at + 1 : "localhost");
}

static char *maildir_name(const struct pass *p, int64_t id)
{
	return xasprintf("occasiond-%s-%lld", p->install_id, (long long)id);
}

int dispatch_mail_build(const struct pass *p, const struct rule *r, const struct stakeholder *sh,
                       const struct event *ev, day_t occasion, long years, const char *tmpl_name,
                       const char *signer, int64_t id, struct strbuf *out, char err[ERR_LEN])
{
	struct email_template *t = NULL;
	struct email_rendered er = {0};
	struct tval *ctx = NULL;
	struct mime_message m;
	struct mime_addr *cc = NULL;
	size_t ncc = 0;
	char date[64], did[32];
	char *full = NULL, *mid = NULL, *rt_name = NULL, *rt_addr = NULL;
	int rc = -1;

	if (email_template_load(p->cfg->templates, tmpl_name, &t, err) != 0)
		goto out;
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
	rc = mime_build(&m, out, err);
out:
	free(full);
	free(mid);
	mime_addr_list_free(cc, ncc);
	free(rt_name);
	free(rt_addr);
	email_rendered_clear(&er);
	tval_free(ctx);
	email_template_free(t);
	return rc;
}

/* deliver_email: builds and writes one claimed email; rec is updated and stored. */
static void deliver_email(struct pass *p, struct dispatch_rec *rec, const struct rule *r,
                          const struct stakeholder *sh, const struct event *ev, day_t occasion, long years)
{
	struct strbuf msg = {0};
	char err[ERR_LEN], uerr[ERR_LEN];
	char *name = maildir_name(p, rec->id), *outbox = util_path_join(p->cfg->spool, "outbox"), *path = NULL;

	rec->attempts++;
	free(rec->message_id);
	rec->message_id = message_id(p, rec->id);
	if (dispatch_mail_build(p, r, sh, ev, occasion, years, rec->template_name, rec->signer, rec->id, &msg, err) != 0) {
		rec->status = DS_FAILED;
		free(rec->error);
		rec->error = xstrdup(err);
		p->stats->failed++;
	} else if (util_mkdirs(outbox, err) != 0 ||
	           mail_maildir_deliver(outbox, name, msg.s, msg.len, &path, err) != 0) {
		/* A local write that failed (disk full, permissions) is transient: try again later. */
		rec->status = DS_RETRY;
		free(rec->error);
		rec->error = xstrdup(err);
		rec->next_attempt_at = p->now + p->cfg->retry.first_delay;
		p->stats->retry++;
	} else {
		rec->status = DS_SENT;
		free(rec->artifact);
		rec->artifact = path;
		path = NULL;
		free(rec->error);
		rec->error = NULL;
		p->stats->emails++;
	}
	if (store_update_dispatch(p->st, rec, uerr) != 0)
		log_err("%s", uerr);
	dispatch_log_rec(rec);
	sb_free(&msg);
	free(name);
	free(outbox);
	free(path);
}

/* recover: emails left queued by a pass that died: delivered (the file is there) or not. */
void dispatch_mail_recover(struct pass *p)
{
	char *outbox = util_path_join(p->cfg->spool, "outbox");
	char err[ERR_LEN];
	for (size_t i = 0; i < p->nhist; i++) {
		struct dispatch_rec *rec = &p->hist[i];
		char *name;
		if (rec->channel != CH_EMAIL || rec->status != DS_QUEUED)
			continue;
		name = maildir_name(p, rec->id);
		if (mail_maildir_has(outbox, name)) {
			rec->status = DS_SENT;
			free(rec->artifact);
			rec->artifact = xasprintf("%s/new/%s", outbox, name);
		} else {
			rec->status = DS_RETRY;
			rec->next_attempt_at = p->now;
		}
		if (store_update_dispatch(p->st, rec, err) != 0)
			log_err("%s", err);
		else
			log_info("recovered dispatch id=%lld status=%s", (long long)rec->id, dispatch_status_names[rec->status]);
		free(name);
	}
	free(outbox);
}

/* retry_due: emails in retry whose time has come. */
void dispatch_mail_retry_due(struct pass *p)
{
	for (size_t i = 0; i < p->nhist; i++) {
		struct dispatch_rec *rec = &p->hist[i];
		const struct rule *r;
		const struct stakeholder *sh;
		const struct event *ev;
		day_t occ;
		long years;
		if (rec->channel != CH_EMAIL || rec->status != DS_RETRY || rec->next_attempt_at > p->now)
			continue;
		if (dispatch_item_of_record(p, rec, &r, &sh, &ev, &occ, &years) != 0) {
			char err[ERR_LEN];
			rec->status = DS_FAILED;
			free(rec->error);
			rec->error = xstrdup("its rule or stakeholder no longer exists");
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			p->stats->failed++;
			continue;
		}
		if (rec->attempts >= p->cfg->retry.attempts) {
			char err[ERR_LEN];
			rec->status = DS_FAILED;
			if (store_update_dispatch(p->st, rec, err) != 0)
				log_err("%s", err);
			p->stats->failed++;
			continue;
		}
		deliver_email(p, rec, r, sh, ev, occ, years);
	}
}

int dispatch_mail_send_item(struct pass *p, const struct plan_item *it, char err[ERR_LEN])
{
	struct dispatch_rec rec;
	int claimed = 0;
	dispatch_rec_from_item(&rec, it);
	rec.status = DS_QUEUED;
	if (store_claim(p->st, &rec, &claimed, err) != 0) {
		dispatch_rec_clear(&rec);
		return -1;
	}
	if (claimed)
		deliver_email(p, &rec, it->rule, it->sh, it->ev, it->occasion, it->years);
	dispatch_rec_clear(&rec);
	return 0;
}
