/*
 * store: the front. Picks the backend from the `database:` value and does, once for every
 * backend, what does not depend on where the data lives: validation of what is written, the
 * clock that stamps records, the dispatch record's states (store_mark_dispatch), waiting for
 * the pass lock, the check that a scan comes in id order, and every message ("store: cannot
 * WHAT: why", the backend giving the why). The backends' primitives: src/store_backend.h.
 */
#include "occasiond/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>

#include "occasiond/log.h"
#include "store_backend.h"

struct store {
	const struct store_backend *be;
	struct store_be *b;
	char *where;      /* the `database:` value as messages show it (store_safe_name) */
	int64_t clock;    /* 0: time() */
	int locked;       /* the pass lock is held */
	int importing;    /* between store_import_begin and store_import_end */
	char *owner;      /* "HOST:PID": what claims carry (handled_by) */
	pid_t pid;        /* the process that opened it: a forked child never uses the connection */
	int64_t lease;    /* seconds; 0: store_set_lease not called (no renewal) */
	int64_t renewed_ms;   /* monotonic ms of the last renewal */
	int64_t sent_ms;      /* monotonic ms when the open transaction's last write was sent (store_tx_fresh) */
};

static int64_t store_now(const struct store *st)
{
	return st->clock ? st->clock : (int64_t)time(NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- open, close ---- */

/* backend_for: the backend that serves database, or NULL with err. */
static const struct store_backend *backend_for(const char *database, char err[ERR_LEN])
{
	size_t n = util_uri_scheme_len(database);
	if (n == 0)
		return &store_backend_sqlite;
	/* The URI may hold a password: only its scheme goes into a message. */
	if ((n == 10 && strncasecmp(database, "postgresql", n) == 0) || (n == 8 && strncasecmp(database, "postgres", n) == 0))
		return &store_backend_pg;
	err_set(err, "store: unknown database scheme '%.*s://': the database is a file path or a "
	        "postgresql:// URI", (int)(n > 40 ? 40 : n), database);
	return NULL;
}

int store_open(const char *database, struct store **out, char err[ERR_LEN])
{
	const struct store_backend *be;
	struct store_be *b = NULL;
	struct store *st;
	char why[ERR_LEN];

	*out = NULL;
	if (!database || !*database)
		return err_set(err, "store: no database path");
	if (!(be = backend_for(database, err)))
		return -1;
	st = xcalloc(1, sizeof *st);
	if (be->open(database, store_now(st), &b, why) < 0) {
		free(st);
		return err_set(err, "store: %s", why);
	}
	st->be = be;
	st->b = b;
	st->where = store_safe_name(database);
	{
		char host[256];
		if (gethostname(host, sizeof host) != 0 || !host[0])
			util_strlcpy(host, "localhost", sizeof host);
		host[sizeof host - 1] = '\0';
		st->pid = getpid();
		st->owner = xasprintf("%s:%ld", host, (long)st->pid);
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	util_clear_keepalive_hook(st);
	st->be->close(st->b);   /* drops the pass lock and the watch with it */
	free(st->owner);
	free(st->where);
	free(st);
}

char *store_safe_name(const char *database)
{
	size_t n = database ? util_uri_scheme_len(database) : 0;
	const char *auth, *end, *at;
	if (!database)
		return xstrdup("");
	if (n == 0)
		return xstrdup(database);
	/* scheme://[user[:password]@]host[:port][/db][?params]: the user, password and params go. */
	auth = database + n + 3;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at)
		auth = at + 1;
	return xasprintf("%.*s://%.*s%.*s", (int)n, database, (int)(end - auth), auth, (int)strcspn(end, "?#"), end);
}

int store_present(const char *database)
{
	if (!database || !*database)
		return 0;
	return util_uri_scheme_len(database) > 0 || util_file_exists(database);
}

int store_schema_version(struct store *st)
{
	return st->be->schema_version(st->b);
}

void store_set_clock(struct store *st, int64_t now)
{
	st->clock = now;
}

/* ---- transactions ---- */

int store_begin(struct store *st, char err[ERR_LEN])
{
	char why[ERR_LEN];
	st->sent_ms = mono_ms();
	if (st->be->begin(st->b, why) < 0)
		return err_set(err, "store: cannot begin a transaction: %s", why);
	return 0;
}

int store_commit(struct store *st, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->commit(st->b, why) < 0)
		return err_set(err, "store: cannot commit: %s", why);
	return 0;
}

void store_rollback(struct store *st)
{
	if (st)
		st->be->rollback(st->b);
}

/* ---- meta ---- */

int store_meta_get(struct store *st, const char *key, char **value, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc;
	*value = NULL;
	if (!key || !*key)
		return err_set(err, "store: cannot read a setting without a name");
	rc = st->be->meta_get(st->b, key, value, why);
	if (rc < 0) {
		free(*value);
		*value = NULL;
		return err_set(err, "store: cannot read %.80s: %s", key, why);
	}
	return rc;
}

int store_meta_set(struct store *st, const char *key, const char *value, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (!key || !*key || !value)
		return err_set(err, "store: cannot save a setting without a name and a value");
	if (st->be->meta_set(st->b, key, value, why) < 0)
		return err_set(err, "store: cannot save %.80s: %s", key, why);
	return 0;
}

/* ---- stakeholders and events ---- */

int store_put_stakeholder(struct store *st, const struct stakeholder *sh, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (!sh->f[SH_ID] || !*sh->f[SH_ID])
		return err_set(err, "store: cannot save a stakeholder without an id");
	for (size_t i = 0; i < sh->ncustom; i++)
		if (!sh->custom[i].key || !*sh->custom[i].key)
			return err_set(err, "store: cannot save stakeholder %s: a custom field without a name", sh->f[SH_ID]);
	if (st->be->sh_put(st->b, sh, store_now(st), why) < 0)
		return err_set(err, "store: cannot save stakeholder %s: %s", sh->f[SH_ID], why);
	return 0;
}

int store_get_stakeholder(struct store *st, const char *id, struct stakeholder *out, int *found, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc = st->be->sh_get(st->b, id ? id : "", out, why);
	*found = rc == 0;
	if (rc < 0)
		return err_set(err, "store: cannot load stakeholder %s: %s", id ? id : "", why);
	return 0;
}

int store_load_stakeholders(struct store *st, struct stakeholder **out, size_t *n, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->sh_all(st->b, out, n, why) < 0)
		return err_set(err, "store: cannot load stakeholders: %s", why);
	return 0;
}

int store_custom_columns(struct store *st, char ***out, size_t *n, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->custom_columns(st->b, out, n, why) < 0)
		return err_set(err, "store: cannot list custom columns: %s", why);
	return 0;
}

int store_put_event(struct store *st, const struct event *ev, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc;
	if (!ev->stakeholder_id || !*ev->stakeholder_id || !ev->kind || !*ev->kind || !ev->date || !*ev->date)
		return err_set(err, "store: cannot save an event without stakeholder, kind and date");
	rc = st->be->ev_put(st->b, ev, why);
	if (rc == 1)
		return err_set(err, "store: cannot save event %s of %s: unknown stakeholder %s", ev->kind,
		               ev->stakeholder_id, ev->stakeholder_id);
	if (rc < 0)
		return err_set(err, "store: cannot save event %s of %s: %s", ev->kind, ev->stakeholder_id, why);
	return 0;
}

int store_load_events(struct store *st, struct event **out, size_t *n, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->ev_all(st->b, NULL, out, n, why) < 0)
		return err_set(err, "store: cannot load events: %s", why);
	return 0;
}

int store_get_events(struct store *st, const char *sh_id, struct event **out, size_t *n, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->ev_all(st->b, sh_id, out, n, why) < 0)
		return err_set(err, "store: cannot load the events of %s: %s", sh_id, why);
	return 0;
}

/* ---- dispatch records ---- */

static int check_dispatch(const struct dispatch_rec *r, char why[ERR_LEN])
{
	if (r->channel != CH_CARD && r->channel != CH_EMAIL)
		return err_set(why, "channel must be card or email");
	if ((int)r->status < 0 || r->status >= DS__N)
		return err_set(why, "invalid status %d", (int)r->status);
	return 0;
}

int store_claim(struct store *st, struct dispatch_rec *rec, int *claimed, char err[ERR_LEN])
{
	int64_t now = store_now(st);
	char why[ERR_LEN];
	int rc = -1;

	*claimed = 0;
	if (!rec->rule || !*rec->rule || !rec->stakeholder || !*rec->stakeholder ||
	    !rec->occasion_date || !*rec->occasion_date)
		err_set(why, "rule, stakeholder and occasion date are required");
	else if (check_dispatch(rec, why) == 0) {
		free(rec->handled_by);
		rec->handled_by = xstrdup(st->owner);
		rc = st->be->ds_claim(st->b, rec, now, why);
	}
	if (rc == 0) {
		*claimed = 1;
		rec->created_at = rec->updated_at = now;
		if (!st->renewed_ms)
			st->renewed_ms = mono_ms();
	}
	if (rc >= 0)
		return 0;
	return err_set(err, "store: cannot claim dispatch %.60s/%.60s/%.20s: %s", rec->rule ? rec->rule : "",
	               rec->stakeholder ? rec->stakeholder : "", rec->occasion_date ? rec->occasion_date : "", why);
}

int store_update_dispatch(struct store *st, struct dispatch_rec *rec, char err[ERR_LEN])
{
	int64_t now = store_now(st);
	char why[ERR_LEN];
	int rc = -1;

	st->sent_ms = mono_ms();
	if (check_dispatch(rec, why) == 0 && (rc = st->be->ds_update(st->b, rec, now, why)) == 0) {
		rec->updated_at = now;
		return 0;
	}
	if (rc == 1)
		util_strlcpy(why, "no such record", sizeof why);
	return err_set(err, "store: cannot update dispatch %lld: %s", (long long)rec->id, why);
}

int store_delete_dispatch(struct store *st, int64_t id, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->ds_delete(st->b, id, why) < 0)
		return err_set(err, "store: cannot delete dispatch %lld: %s", (long long)id, why);
	return 0;
}

int store_get_dispatch(struct store *st, int64_t id, struct dispatch_rec *out, int *found, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc = st->be->ds_get(st->b, id, out, why);
	*found = rc == 0;
	if (rc < 0)
		return err_set(err, "store: cannot load dispatch %lld: %s", (long long)id, why);
	return 0;
}

/*
 * mark_refusal: why the hand work's step from rec's status to `to` is not allowed, or NULL.
 * A card goes forward only; a card not yet mailed, or any failed dispatch, may be cancelled.
 */
static const char *mark_refusal(const struct dispatch_rec *rec, enum dispatch_status to)
{
	static const int rank[DS__N] = {[DS_RENDERED] = 1, [DS_PRINTED] = 2, [DS_SIGNED] = 3, [DS_MAILED] = 4};
	if (to == DS_CANCELLED && rec->status == DS_FAILED)
		return NULL;
	if (rec->channel != CH_CARD)
		return "email";
	if (rank[rec->status] == 0 || (to != DS_CANCELLED && rank[to] <= rank[rec->status]) ||
	    (to == DS_CANCELLED && rec->status == DS_MAILED))
		return "order";
	return NULL;
}

int store_mark_dispatch(struct store *st, int64_t id, enum dispatch_status to, char err[ERR_LEN])
{
	struct dispatch_rec rec;
	const char *no;
	int found = 0, rc = -1;

	if (to != DS_PRINTED && to != DS_SIGNED && to != DS_MAILED && to != DS_CANCELLED)
		return err_set(err, "a dispatch can only be marked printed, signed, mailed or cancelled");
	/* Read and write in one transaction: a pass beside it cannot move the record in between. */
	if (store_begin(st, err) != 0)
		return -1;
	if (store_get_dispatch(st, id, &rec, &found, err) != 0)
		goto out;
	if (!found) {
		err_set(err, "no dispatch with id %lld", (long long)id);
	} else if ((no = mark_refusal(&rec, to)) && strcmp(no, "email") == 0) {
		err_set(err, "dispatch %lld is an email; only cards are marked", (long long)id);
	} else if (no) {
		err_set(err, "dispatch %lld is %s; it cannot become %s", (long long)id, dispatch_status_names[rec.status],
		        dispatch_status_names[to]);
	} else {
		rec.status = to;
		rc = store_update_dispatch(st, &rec, err);
	}
out:
	dispatch_rec_clear(&rec);
	if (rc == 0)
		return store_commit(st, err);
	store_rollback(st);
	return -1;
}

/* list_filter: f (NULL: everything) checked and normalised into *v. 0 or -1. */
static int list_filter(const struct dispatch_filter *f, struct dispatch_filter *v, char err[ERR_LEN])
{
	int status;

	*v = (struct dispatch_filter){.channel = -1};
	if (f)
		*v = *f;
	if (v->status) {
		if ((status = dispatch_status_parse(v->status)) < 0)
			return err_set(err, "store: cannot list dispatches: unknown status %.40s", v->status);
		v->status = dispatch_status_names[status];
	}
	if (v->channel >= 0 && v->channel != CH_CARD && v->channel != CH_EMAIL)
		return err_set(err, "store: cannot list dispatches: channel must be card or email");
	if (v->channel < 0)
		v->channel = -1;
	return 0;
}

int store_list_dispatches(struct store *st, const struct dispatch_filter *f,
                          struct dispatch_rec **out, size_t *n, char err[ERR_LEN])
{
	struct dispatch_filter v;
	char why[ERR_LEN];

	*out = NULL;
	*n = 0;
	if (list_filter(f, &v, err) != 0)
		return -1;
	if (st->be->ds_list(st->b, &v, out, n, why) < 0)
		return err_set(err, "store: cannot list dispatches: %s", why);
	return 0;
}

int store_each_dispatch(struct store *st, const struct dispatch_filter *f,
                        int (*fn)(void *arg, const struct dispatch_rec *rec), void *arg, char err[ERR_LEN])
{
	struct dispatch_filter v;
	struct dispatch_rec *all = NULL;
	size_t n = 0;
	char why[ERR_LEN];
	int rc = 0;

	if (list_filter(f, &v, err) != 0)
		return -1;
	if (st->be->ds_each) {
		if ((rc = st->be->ds_each(st->b, &v, fn, arg, why)) < 0)
			return err_set(err, "store: cannot list dispatches: %s", why);
		return rc;
	}
	/* A backend without ds_each: the same records, held at once. */
	if (st->be->ds_list(st->b, &v, &all, &n, why) < 0)
		return err_set(err, "store: cannot list dispatches: %s", why);
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(arg, &all[i]) ? 1 : 0;
	dispatch_recs_free(all, n);
	return rc;
}

int store_next_retry(struct store *st, int64_t *at, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->ds_next_retry(st->b, at, why) < 0)
		return err_set(err, "store: cannot read retry times: %s", why);
	return 0;
}

/* ---- integrity, memory ---- */

int store_quick_check(struct store *st, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc = st->be->check(st->b, why);
	if (rc == 1)
		return err_set(err, "store: %s is damaged (%s): restore it from a backup", st->where, why);
	if (rc < 0)
		return err_set(err, "store: %s: cannot check its integrity: %s", st->where, why);
	return 0;
}

void store_trim(struct store *st, int cache_kib)
{
	st->be->trim(st->b, cache_kib);
}

/* ---- the pass lock ---- */

int store_pass_lock(struct store *st, int (*stop)(void), char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc, said = 0;

	if (st->locked)
		return 0;
	while ((rc = st->be->lock_try(st->b, why)) == 1) {
		if (!said++)
			log_info("another pass is running on %s; waiting for it", st->where);
		if (stop && stop())
			return err_set(err, "stopped while waiting for another pass");
		util_keepalive();
		usleep(100 * 1000);
	}
	if (rc < 0)
		return err_set(err, "store: cannot take the pass lock: %s", why);
	/* Several daemons: what an earlier pass of ours left queued is taken back by this one. */
	if (st->be->release && st->be->release(st->b, st->owner, why) < 0)
		return err_set(err, "store: cannot release the claims of an earlier pass: %s", why);
	st->renewed_ms = 0;
	st->locked = 1;
	return 0;
}

void store_pass_unlock(struct store *st)
{
	if (st && st->locked) {
		st->be->unlock(st->b);
		st->locked = 0;
	}
}

/* ---- the change watch ---- */

int store_watch_fd(struct store *st, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int fd = st->be->watch_fd(st->b, why);
	if (fd < 0 && err)
		err_set(err, "store: %s", why);
	return fd;
}

void store_watch_mark(struct store *st)
{
	st->be->watch_mark(st->b);
}

int store_changed(struct store *st)
{
	return st->be->changed(st->b);
}

/* ---- the stakeholders one at a time ---- */

struct store_scan {
	const struct store_backend *be;
	struct store_be_scan *b;
	int quick;
	struct strbuf last_id;   /* the previous row's id: each must come after it (bytewise) */
};

int store_scan_open(struct store *st, uint32_t fields, int custom, int events, int quick,
                    struct store_scan **out, char err[ERR_LEN])
{
	struct store_scan *sc;
	struct store_be_scan *b = NULL;
	char why[ERR_LEN];

	*out = NULL;
	if (st->be->scan_open(st->b, fields, custom, events, quick, &b, why) < 0)
		return err_set(err, "store: cannot read the stakeholders: %s", why);
	sc = xcalloc(1, sizeof *sc);
	sc->be = st->be;
	sc->b = b;
	sc->quick = quick;
	*out = sc;
	return 0;
}

int store_scan_next(struct store_scan *sc, const struct store_sh_row **row, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc = sc->be->scan_next(sc->b, row, why);
	const char *id;

	if (rc < 0)
		return err_set(err, "store: cannot read the stakeholders: %s", why);
	if (rc == 0)
		return 0;
	/* The planner and the side tables' merge rely on bytewise id order: never trust it blindly. */
	id = (*row)->sh.f[SH_ID];
	if (sc->last_id.len && strcmp(id, sc->last_id.s) <= 0) {
		*row = NULL;
		if (sc->quick)
			return 2;
		return err_set(err, "store: cannot read the stakeholders: id %.60s comes after %.60s", id, sc->last_id.s);
	}
	sb_reset(&sc->last_id);
	sb_adds(&sc->last_id, id);
	return 1;
}

void store_scan_close(struct store_scan *sc)
{
	if (!sc)
		return;
	sc->be->scan_close(sc->b);
	sb_free(&sc->last_id);
	free(sc);
}

/* ---- opt-out (the optout command) ---- */

int store_optout(struct store *st, const char *key, char ***ids, size_t *n, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->be->optout(st->b, key, store_now(st), ids, n, why) < 0)
		return err_set(err, "store: opt-out of %s: %s", key, why);
	return 0;
}

/* ---- bulk import ---- */

int store_import_begin(struct store *st, int flags, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (st->importing)
		return err_set(err, "store: an import is already running");
	if (st->be->import_begin(st->b, (flags & STORE_IMPORT_PER_ROW) != 0, (flags & STORE_IMPORT_DRY) != 0, why) < 0)
		return err_set(err, "store: cannot begin the import: %s", why);
	st->importing = 1;
	return 0;
}

int store_import_seen(struct store *st, const char *id, long line, long *first_line, char err[ERR_LEN])
{
	char why[ERR_LEN];
	*first_line = 0;
	if (!st->importing)
		return err_set(err, "store: no import is running");
	if (st->be->import_seen(st->b, id, line, first_line, why) < 0)
		return err_set(err, "store: cannot check id %s: %s", id, why);
	return 0;
}

int store_import_put(struct store *st, const struct stakeholder *sh, const struct event *ev, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc;
	if (!st->importing)
		return err_set(err, "store: no import is running");
	if (sh) {
		if (!sh->f[SH_ID] || !*sh->f[SH_ID])
			return err_set(err, "store: cannot save a stakeholder without an id");
		for (size_t i = 0; i < sh->ncustom; i++)
			if (!sh->custom[i].key || !*sh->custom[i].key)
				return err_set(err, "store: cannot save stakeholder %s: a custom field without a name",
				               sh->f[SH_ID]);
		if (st->be->import_put(st->b, sh, NULL, store_now(st), why) != 0)
			return err_set(err, "store: cannot save stakeholder %s: %s", sh->f[SH_ID], why);
		return 0;
	}
	if (!ev->stakeholder_id || !*ev->stakeholder_id || !ev->kind || !*ev->kind || !ev->date || !*ev->date)
		return err_set(err, "store: cannot save an event without stakeholder, kind and date");
	rc = st->be->import_put(st->b, NULL, ev, store_now(st), why);
	if (rc == 1)
		return err_set(err, "store: cannot save event %s of %s: unknown stakeholder %s", ev->kind,
		               ev->stakeholder_id, ev->stakeholder_id);
	if (rc < 0)
		return err_set(err, "store: cannot save event %s of %s: %s", ev->kind, ev->stakeholder_id, why);
	return 0;
}

int store_import_end(struct store *st, int commit, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int was = st->importing;
	st->importing = 0;
	if (!was)
		return commit ? err_set(err, "store: no import is running") : 0;
	if (st->be->import_end(st->b, commit, why) < 0)
		return err_set(err, "store: cannot commit the import: %s", why);
	return 0;
}

/* ---- several daemons: owner, lease, fencing ---- */

int store_shared(const struct store *st)
{
	return st->be->ds_update_claim != NULL;
}

const char *store_owner(const struct store *st)
{
	return st->owner;
}

static void keepalive_hook(void *arg)
{
	store_keepalive(arg);
}

void store_set_lease(struct store *st, int64_t secs)
{
	st->lease = secs;
	if (!st->be->lease_set)
		return;
	st->be->lease_set(st->b, secs);
	util_set_keepalive_hook(keepalive_hook, st);
}

void store_keepalive(struct store *st)
{
	char why[ERR_LEN];
	int64_t now;
	/* A card worker (a forked child) shares the connection's socket: never a word on it. */
	if (!st || !st->be->renew || !st->lease || !st->renewed_ms || getpid() != st->pid)
		return;
	now = mono_ms();
	if (now - st->renewed_ms < st->lease * 1000 / 3)
		return;
	st->renewed_ms = now;
	if (st->be->renew(st->b, st->owner, why) < 0)
		log_warn("store: cannot renew the claims of %s: %s", st->owner, why);
}

static int lost_claim(struct store *st, int64_t id, char err[ERR_LEN])
{
	err_set(err, "dispatch %lld is no longer claimed by %s", (long long)id, st->owner);
	return 1;
}

int store_update_claim(struct store *st, struct dispatch_rec *rec, char err[ERR_LEN])
{
	int64_t now = store_now(st);
	char why[ERR_LEN];
	int rc;

	if (!st->be->ds_update_claim)
		return store_update_dispatch(st, rec, err);
	if (check_dispatch(rec, why) != 0)
		return err_set(err, "store: cannot update dispatch %lld: %s", (long long)rec->id, why);
	st->sent_ms = mono_ms();
	rc = st->be->ds_update_claim(st->b, rec, st->owner, now, why);
	if (rc == 1)
		return lost_claim(st, rec->id, err);
	if (rc < 0)
		return err_set(err, "store: cannot update dispatch %lld: %s", (long long)rec->id, why);
	rec->updated_at = now;
	return 0;
}

int store_withdraw_claim(struct store *st, int64_t id, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc;
	if (!st->be->ds_withdraw_claim)
		return store_delete_dispatch(st, id, err);
	st->sent_ms = mono_ms();
	rc = st->be->ds_withdraw_claim(st->b, id, st->owner, why);
	if (rc == 1)
		return lost_claim(st, id, err);
	if (rc < 0)
		return err_set(err, "store: cannot delete dispatch %lld: %s", (long long)id, why);
	return 0;
}

int store_tx_fresh(const struct store *st)
{
	/*
	 * The server ends a transaction left idle for a lease (and with it the row locks that
	 * fencing took); half a lease since the last write was sent leaves room for the clocks.
	 */
	if (!st->be->ds_update_claim || !st->lease)
		return 1;
	return mono_ms() - st->sent_ms < st->lease * 1000 / 2;
}

int store_take_over(struct store *st, enum channel channel, struct dispatch_rec **out, size_t *n, char err[ERR_LEN])
{
	struct dispatch_filter f = {.status = "queued", .channel = (int)channel};
	char why[ERR_LEN];
	*out = NULL;
	*n = 0;
	if (!st->be->take_over)
		return store_list_dispatches(st, &f, out, n, err);
	if (st->be->take_over(st->b, (int)channel, st->owner, out, n, why) < 0)
		return err_set(err, "store: cannot take over expired claims: %s", why);
	if (*n && !st->renewed_ms)
		st->renewed_ms = mono_ms();
	return 0;
}

int store_claim_retry(struct store *st, struct dispatch_rec *rec, int64_t now, int *claimed, char err[ERR_LEN])
{
	char why[ERR_LEN];
	int rc;
	*claimed = 1;
	if (!st->be->claim_retry)
		return 0;
	rc = st->be->claim_retry(st->b, rec, st->owner, now, why);
	if (rc < 0) {
		*claimed = 0;
		return err_set(err, "store: cannot claim dispatch %lld for its retry: %s", (long long)rec->id, why);
	}
	*claimed = rc == 0;
	if (rc == 0) {
		rec->status = DS_QUEUED;
		free(rec->handled_by);
		rec->handled_by = xstrdup(st->owner);
		if (!st->renewed_ms)
			st->renewed_ms = mono_ms();
	}
	return 0;
}

int store_batch_lock(struct store *st, const char *fire_date, const char *signer, char err[ERR_LEN])
{
	char why[ERR_LEN], *key;
	int rc;
	if (!st->be->batch_lock)
		return 0;
	key = xasprintf("%s/%s", fire_date, signer);
	rc = st->be->batch_lock(st->b, key, why);
	free(key);
	if (rc < 0)
		return err_set(err, "store: cannot lock the batch %s/%s: %s", fire_date, signer, why);
	/* Renewals keep a session holding batch locks from looking idle, claims or not (store_pg_claim.c). */
	if (rc == 0 && !st->renewed_ms)
		st->renewed_ms = mono_ms();
	return rc;
}

void store_batch_unlock_all(struct store *st)
{
	if (st->be->batch_unlock_all)
		st->be->batch_unlock_all(st->b);
}

int store_next_takeover(struct store *st, int64_t *at, char err[ERR_LEN])
{
	char why[ERR_LEN];
	*at = INT64_MAX;
	if (!st->be->next_takeover)
		return 0;
	if (st->be->next_takeover(st->b, st->owner, at, why) < 0)
		return err_set(err, "store: cannot read the leases: %s", why);
	return 0;
}

int store_ping(struct store *st, char err[ERR_LEN])
{
	char why[ERR_LEN];
	if (!st->be->ping)
		return 0;
	if (st->be->ping(st->b, why) < 0)
		return err_set(err, "store: %s", why);
	return 0;
}

int store_lost(struct store *st)
{
	return st && st->be->lost && st->be->lost(st->b);
}
