/*
 * daemon: `serve`. One thread, one ppoll over three descriptors:
 *   - a signalfd for SIGTERM, SIGINT and SIGHUP (blocked, so no handler runs at all and a
 *     signal that arrives during a pass waits in the descriptor);
 *   - a timerfd on CLOCK_REALTIME armed at the absolute next due instant, with
 *     TFD_TIMER_CANCEL_ON_SET so that a wall-clock step wakes it (read fails ECANCELED);
 *   - the store's change watch (store_watch_fd): readable when another process (an import,
 *     a mark) may have committed; store_changed tells a foreign commit from our own writes.
 * The ppoll timeout is infinite unless systemd's watchdog is on (then half of WatchdogSec).
 */
#include "occasiond/daemon.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "occasiond/card.h"
#include "occasiond/carddav.h"
#include "occasiond/config.h"
#include "occasiond/dispatch.h"
#include "occasiond/log.h"
#include "occasiond/mime.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

#define CACHE_KIB 512          /* the store's cache between and during passes */
#define RECHECK_MS 1000        /* a change seen without a visible commit: look again once */
#define BACKOFF_MAX 60         /* seconds: the longest wait between tries of a lost database */

/* ---- sd_notify ---- */

#ifndef HAVE_SYSTEMD
/* notify_socket: the sd_notify protocol by hand: one datagram to $NOTIFY_SOCKET. */
static void notify_socket(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd;
	if (!path || (path[0] != '/' && path[0] != '@') || (len = strlen(path)) >= sizeof sa.sun_path)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}
#endif

static void notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	notify_socket(state);
#endif
}

/* watchdog_usec: WatchdogSec as systemd passes it (WATCHDOG_USEC for our pid), 0 when off. */
static uint64_t watchdog_usec(void)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
#else
	const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long usec;
	if (!u)
		return 0;
	if (p && strtol(p, &end, 10) != (long)getpid())
		return 0;
	errno = 0;
	usec = strtoull(u, &end, 10);
	return errno || *end || end == u ? 0 : (uint64_t)usec;
#endif
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * wall_now: the wall clock's second, read exactly: time() may read a coarse clock that lags
 * behind the timer that just woke us, and a due time would then look a second away.
 */
static int64_t wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static int64_t wd_interval_ms;   /* half of WatchdogSec; 0: no watchdog */
static int64_t wd_last_ms;

/* watchdog_kick: WATCHDOG=1 when half the interval has passed; cheap enough for util_keepalive. */
static void watchdog_kick(void)
{
	int64_t now;
	if (!wd_interval_ms)
		return;
	now = mono_ms();
	if (now - wd_last_ms >= wd_interval_ms) {
		notify("WATCHDOG=1");
		wd_last_ms = now;
	}
}

/* stop_pending: SIGTERM or SIGINT waiting in the signalfd (asked between dispatches). */
static int stop_pending(void)
{
	sigset_t p;
	if (sigpending(&p) != 0)
		return 0;
	return sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1;
}

/* the store of the running daemon, for the stop check (a lost connection stops a pass too) */
static struct store *serving;

/* stop_or_lost: a stop request, or the database's connection gone: a pass stops at the next item. */
static int stop_or_lost(void)
{
	return stop_pending() || store_lost(serving);
}

/* ---- config, rules and templates, whole ---- */

static void check_one(const struct config *cfg, const struct rule *r, const char *name, int channel, struct diags *d)
{
	char err[ERR_LEN];
	if (channel == CH_CARD || channel == CH_PREFERRED) {
		char *file = xasprintf("%s.card.yaml", name), *path = util_path_join(cfg->templates, file);
		struct card_template *t = NULL;
		if (card_template_load(path, cfg->fonts, &t, err) != 0)
			diags_add(d, 0, "%s:%ld:%ld: error: occasion '%s': card template '%s': %s", r->file, r->line, r->col,
			          r->id, name, err);
		card_template_free(t);
		free(file);
		free(path);
	}
	if (channel == CH_EMAIL || channel == CH_PREFERRED) {
		struct email_template *t = NULL;
		if (email_template_load(cfg->templates, name, &t, err) != 0)
			diags_add(d, 0, "%s:%ld:%ld: error: occasion '%s': email template '%s': %s", r->file, r->line, r->col,
			          r->id, name, err);
		email_template_free(t);
	}
}

/* check_templates: every template a rule or variant names loads and parses. */
static void check_templates(const struct config *cfg, const struct ruleset *rs, struct diags *d)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		check_one(cfg, r, r->template_name, r->channel, d);
		if (r->fallback == CH_EMAIL && r->channel != CH_PREFERRED)
			check_one(cfg, r, r->template_name, CH_EMAIL, d);
		for (size_t k = 0; k < r->nvariants; k++) {
			const struct variant *v = &r->variants[k];
			int ch = v->set_channel >= 0 ? v->set_channel : v->channel >= 0 ? v->channel : r->channel;
			if (v->template_name)
				check_one(cfg, r, v->template_name, ch, d);
		}
	}
}

/* load: config, rules and templates, whole; NULL out-params on failure with every problem logged. */
static int load(const char *path, struct config **cfg, struct ruleset **rs)
{
	struct diags d = {0};
	*cfg = config_load(path, &d);
	*rs = *cfg ? rules_load((*cfg)->rules, &d) : NULL;
	if (*rs)
		check_templates(*cfg, *rs, &d);
	for (size_t i = 0; i < d.n; i++)
		log_msg(d.warning[i] ? LOG_LVL_WARN : LOG_LVL_ERR, "%s", d.msgs[i]);
	if (!*cfg || !*rs || d.nerrors) {
		rules_free(*rs);
		config_free(*cfg);
		*cfg = NULL;
		*rs = NULL;
	}
	diags_free(&d);
	return *cfg ? 0 : -1;
}

/* ---- the loop ---- */

struct daemon {
	const char *config_path;
	struct config *cfg;
	struct ruleset *rs;
	struct store *st;
	int sigfd, tfd, watch;   /* watch: the store's change watch, -1 without one */
	int64_t recheck_ms;      /* monotonic ms of a pending look at the store, 0: none */
	int64_t *src_due;        /* when each of cfg->sources is next pulled (0: at once) */
	int64_t down_since;      /* the database could not be reached since then (wall clock), 0: it can */
	int64_t backoff;         /* seconds of the last wait before another try (before jitter) */
	uint32_t rnd;            /* the jitter's state */
};


/*
 * sources_due: the pull times after a (re)load: a source kept by id keeps its time, a new
 * one is pulled at the next pass.
 */
static void sources_due(struct daemon *dm, const struct config *old)
{
	int64_t *due = xcalloc(dm->cfg->nsources + 1, sizeof *due);
	for (size_t i = 0; old && i < dm->cfg->nsources; i++)
		for (size_t k = 0; k < old->nsources; k++)
			if (strcmp(old->sources[k].id, dm->cfg->sources[i].id) == 0 &&
			    strcmp(old->sources[k].url, dm->cfg->sources[i].url) == 0)
				due[i] = dm->src_due[k];
	free(dm->src_due);
	dm->src_due = due;
}

/*
 * pull_sources: each source whose time has come, before the pass plans: what changed at the
 * source counts at once. A pull waits on the network (bounded by its timeouts; the watchdog
 * is fed meanwhile); one that fails is logged and tried again after its `every`.
 */
static void pull_sources(struct daemon *dm, int64_t now)
{
	for (size_t i = 0; i < dm->cfg->nsources; i++) {
		const struct config_source *src = &dm->cfg->sources[i];
		struct carddav_stats s;
		char err[ERR_LEN];
		if (dm->src_due[i] > now || stop_pending())
			continue;
		if (carddav_sync(dm->st, src, now, &s, err) != 0)
			log_err("source %s: %s; the stakeholders stay as they were", src->id, err);
		else if (s.updated || s.gone)
			log_info("source %s: %zu new or changed, %zu gone%s", src->id, s.updated, s.gone,
			         s.full ? " (the whole book)" : "");
		else
			log_debug("source %s: nothing changed", src->id);
		dm->src_due[i] = wall_now() + src->every;
		watchdog_kick();
	}
}

/* watch_db: the change watch of the store now open. */
static void watch_db(struct daemon *dm)
{
	char err[ERR_LEN];
	dm->watch = store_watch_fd(dm->st, err);
	if (dm->watch < 0)
		log_warn("%s: new stakeholders are seen at the next due time or SIGHUP", err);
}

static int reload(struct daemon *dm)
{
	struct config *ncfg;
	struct ruleset *nrs;
	struct store *nst = NULL;
	char err[ERR_LEN], *name;
	if (load(dm->config_path, &ncfg, &nrs) != 0) {
		log_err("reload failed: the previous config, rules and templates stay in force");
		return -1;
	}
	if (strcmp(ncfg->database, dm->cfg->database) != 0) {
		if (store_open(ncfg->database, &nst, err) != 0) {
			log_err("%s", err);
			log_err("reload failed: the previous config, rules and templates stay in force");
			rules_free(nrs);
			config_free(ncfg);
			return -1;
		}
		store_close(dm->st);
		dm->st = serving = nst;
		store_trim(dm->st, CACHE_KIB);
	}
	store_set_lease(dm->st, ncfg->database_lease);
	rules_free(dm->rs);
	{
		struct config *old = dm->cfg;
		dm->cfg = ncfg;
		sources_due(dm, old);
		config_free(old);
	}
	dm->rs = nrs;
	if (nst)
		watch_db(dm);
	name = store_safe_name(dm->cfg->database);
	log_info("reloaded: config=%s rules=%zu database=%s", dm->cfg->path, dm->rs->nrules, name);
	free(name);
	return 0;
}

/* next_midnight: the start of the day after now's, in zone: a new day's plan begins there. */
static int64_t next_midnight(const char *zone, int64_t now)
{
	day_t d;
	int secs;
	int64_t at;
	if (dates_utc_to_local(zone, now, &d, &secs) != 0 || dates_local_to_utc(zone, d + 1, 0, &at) != 0 || at <= now)
		return now + 86400 - now % 86400;
	return at;
}

/*
 * db_down: the database cannot be reached (why): the next try after a back-off of 1 s doubled
 * each time up to BACKOFF_MAX, jittered to 50-100 % so that daemons do not come back at once;
 * one log line when it is lost, STATUS= says so. Returns the instant of the next try.
 */
static int64_t db_down(struct daemon *dm, const char *why)
{
	int64_t now = wall_now(), wait;
	char status[256], name[40] = "";
	day_t day;
	int secs;

	if (!dm->down_since) {
		dm->down_since = now;
		dm->backoff = 1;
		log_err("%s; trying again with back-off (the watchdog is fed meanwhile)", why);
	} else {
		dm->backoff = dm->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : dm->backoff * 2;
	}
	dm->rnd = dm->rnd * 1103515245u + 12345u;
	wait = dm->backoff * (50 + (int64_t)((dm->rnd >> 16) % 51)) / 100;
	if (wait < 1)
		wait = 1;
	if (dates_utc_to_local(dm->cfg->timezone, dm->down_since, &day, &secs) == 0)
		snprintf(name, sizeof name, "%02d:%02d:%02d", secs / 3600, secs / 60 % 60, secs % 60);
	snprintf(status, sizeof status, "STATUS=database unreachable since %s, next try in %lld s", name,
	         (long long)wait);
	notify(status);
	log_debug("%s", status + 7);
	dm->recheck_ms = 0;
	return now + wait;
}

/* pass: one dispatch_run at the present instant; returns the instant to wake at. */
static int64_t pass(struct daemon *dm)
{
	struct dispatch_stats s;
	int64_t now = wall_now(), plan_wake = INT64_MAX, retry_wake = INT64_MAX, take_wake = INT64_MAX, midnight, wake;
	char err[ERR_LEN], when[48], status[256];

	/* A round trip first: a dead connection is found (and made again) before any work. */
	if (store_ping(dm->st, err) != 0)
		return db_down(dm, err);
	if (dm->down_since) {
		char *name = store_safe_name(dm->cfg->database);
		log_info("%s is reachable again after %lld s", name, (long long)(wall_now() - dm->down_since));
		free(name);
		dm->down_since = 0;
		dm->backoff = 0;
	}
	store_watch_mark(dm->st);
	dm->recheck_ms = 0;
	pull_sources(dm, now);
	now = wall_now();
	memset(&s, 0, sizeof s);
	if (dispatch_run(dm->cfg, dm->rs, dm->st, now, 0, &s, &plan_wake, err) != 0)
		log_err("%s", err);
	if (store_lost(dm->st))
		return db_down(dm, "store: the connection to the database was lost during a pass");
	if (store_next_retry(dm->st, &retry_wake, err) != 0)
		log_err("%s", err);
	/* Several daemons: a claim of another whose lease runs out is ours to take over then. */
	if (store_next_takeover(dm->st, &take_wake, err) != 0)
		log_err("%s", err);
	/* What a pass allocated is freed; give the pages back so that idle costs nothing. */
	store_trim(dm->st, CACHE_KIB);
	malloc_trim(0);

	/* A retry already due was offered to this pass; one it could not take must not spin the loop. */
	if (retry_wake <= now)
		retry_wake = INT64_MAX;
	now = wall_now();
	midnight = next_midnight(dm->cfg->timezone, now);
	wake = midnight;
	if (plan_wake < wake)
		wake = plan_wake;
	if (retry_wake < wake)
		wake = retry_wake;
	if (take_wake != INT64_MAX && take_wake <= now)
		take_wake = now + 1;
	if (take_wake < wake)
		wake = take_wake;
	for (size_t i = 0; i < dm->cfg->nsources; i++)
		if (dm->src_due[i] < wake)
			wake = dm->src_due[i];
	if (wake <= now)
		wake = now + 1;   /* became due while the pass ran */
	dates_format_instant(wake, dm->cfg->timezone, when, sizeof when);
	snprintf(status, sizeof status, "STATUS=%s %s; last pass: %d %s, %d %s, %d skipped, %d missed, "
	         "%d retry, %d failed", wake == plan_wake ? "next dispatch" : wake == retry_wake ? "next retry" : wake == take_wake ? "next takeover" :
	         wake < midnight ? "next pull" : "nothing due before", when, s.emails, util_plural(s.emails, "email", "emails"), s.cards,
	         util_plural(s.cards, "card", "cards"), s.skipped, s.missed, s.retry, s.failed);
	notify(status);
	log_debug("%s", status + 7);
	return wake;
}

static int arm_timer(struct daemon *dm, int64_t wake)
{
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)wake;
	if (timerfd_settime(dm->tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) != 0) {
		log_err("timerfd_settime: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* poll_timeout: ms until the next watchdog kick or database recheck; -1 for none (sleep until an event). */
static int poll_timeout(const struct daemon *dm)
{
	int64_t now = mono_ms(), t = INT64_MAX;
	if (wd_interval_ms)
		t = wd_last_ms + wd_interval_ms - now;
	if (dm->recheck_ms && dm->recheck_ms - now < t)
		t = dm->recheck_ms - now;
	if (t == INT64_MAX)
		return -1;
	return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

static void db_changed_check(struct daemon *dm, int *need_pass)
{
	int rc;
	dm->recheck_ms = 0;
	if (dm->down_since)
		return;   /* the database is tried again by the back-off's timer alone */
	rc = store_changed(dm->st);
	if (rc == 1) {
		log_debug("database changed by another process: a pass");
		*need_pass = 1;
	} else if (rc == 2 && store_shared(dm->st)) {
		/* PostgreSQL: the watch's connection is gone; a pass finds out (its ping) and backs off. */
		*need_pass = 1;
	} else if (rc == 2) {
		/* Something moved before its commit shows: look once more. */
		dm->recheck_ms = mono_ms() + RECHECK_MS;
	}
}

int daemon_serve(const char *config_path)
{
	struct daemon dm = {config_path, NULL, NULL, NULL, -1, -1, -1, 0, NULL, 0, 0, 0};
	sigset_t mask;
	char err[ERR_LEN], *name;
	int rc = -1, stop = 0, need_pass = 1;
	uint64_t wd;

	log_set_prefix(1);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 || (dm.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (dm.tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
		log_err("cannot set up signals, timer and watch: %s", strerror(errno));
		goto out;
	}
	if (load(config_path, &dm.cfg, &dm.rs) != 0)
		goto out;
	/* A damaged database is refused at start, before anything is written to it. */
	if (store_open(dm.cfg->database, &dm.st, err) != 0 || store_quick_check(dm.st, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	store_trim(dm.st, CACHE_KIB);
	serving = dm.st;
	store_set_lease(dm.st, dm.cfg->database_lease);
	dm.rnd = (uint32_t)getpid() ^ (uint32_t)wall_now();
	watch_db(&dm);
	sources_due(&dm, NULL);
	/* Half of WatchdogSec between kicks; util_keepalive lets a long SMTP transfer kick too. */
	if ((wd = watchdog_usec()) > 0) {
		wd_interval_ms = (int64_t)(wd / 2000);
		if (wd_interval_ms < 1)
			wd_interval_ms = 1;
		wd_last_ms = mono_ms();
		util_set_keepalive(watchdog_kick);
		log_debug("watchdog: a kick every %lld ms", (long long)wd_interval_ms);
	}
	dispatch_set_stop_check(stop_or_lost);
	dispatch_set_spread(1);
	notify("READY=1");
	name = store_safe_name(dm.cfg->database);
	log_info("serving: config=%s rules=%zu database=%s", dm.cfg->path, dm.rs->nrules, name);
	free(name);

	while (!stop) {
		struct pollfd pfd[3];
		if (need_pass && !stop_pending()) {
			int64_t wake = pass(&dm);
			need_pass = 0;
			if (arm_timer(&dm, wake) != 0)
				goto out;
			/* Our own commits moved the watch too and do not count; a foreign commit
			 * during the pass gets a pass of its own. */
			if (!dm.down_since && store_changed(dm.st) == 1)
				need_pass = 1;
			continue;
		}
		pfd[0] = (struct pollfd){.fd = dm.sigfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = dm.tfd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = dm.watch, .events = POLLIN};   /* ignored when -1 */
		if (poll(pfd, 3, poll_timeout(&dm)) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			goto out;
		}
		watchdog_kick();
		store_keepalive(dm.st);   /* leases of claims still held (a pass renews them itself) */
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(dm.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					notify("RELOADING=1");
					log_info("SIGHUP: reloading %s", config_path);
					reload(&dm);
					notify("READY=1");
					need_pass = 1;
				} else {
					log_info("%s: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
					stop = 1;
				}
			}
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t ticks;
			if (read(dm.tfd, &ticks, sizeof ticks) < 0 && errno == ECANCELED)
				log_info("the wall clock changed: planning again");
			need_pass = 1;
		}
		if (pfd[2].revents & POLLIN) {
			db_changed_check(&dm, &need_pass);
		} else if (dm.recheck_ms && mono_ms() >= dm.recheck_ms) {
			db_changed_check(&dm, &need_pass);
		}
	}
	notify("STOPPING=1");
	log_info("stopped");
	rc = 0;
out:
	dispatch_set_stop_check(NULL);
	dispatch_set_spread(0);
	util_set_keepalive(NULL);
	serving = NULL;
	if (dm.sigfd >= 0)
		close(dm.sigfd);
	if (dm.tfd >= 0)
		close(dm.tfd);
	store_close(dm.st);
	rules_free(dm.rs);
	config_free(dm.cfg);
	free(dm.src_due);
	return rc;
}
