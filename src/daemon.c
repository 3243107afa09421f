/* daemon: the serve loop, signals, sd_notify. */
#include "occasiond/daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "occasiond/config.h"
#include "occasiond/dispatch.h"
#include "occasiond/log.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

#define MAX_SLEEP 3600   /* wake at least hourly: a new day, a changed database */

static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static void notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/* load: config and rules, whole; NULL out-params on failure with every problem logged. */
static int load(const char *path, struct config **cfg, struct ruleset **rs)
{
	struct diags d = {0};
	*cfg = config_load(path, &d);
	*rs = *cfg ? rules_load((*cfg)->rules, &d) : NULL;
	for (size_t i = 0; i < d.n; i++)
		log_msg(d.warning[i] ? LOG_LVL_WARN : LOG_LVL_ERR, "%s", d.msgs[i]);
	diags_free(&d);
	if (!*cfg || !*rs) {
		rules_free(*rs);
		config_free(*cfg);
		*cfg = NULL;
		*rs = NULL;
		return -1;
	}
	return 0;
}

int daemon_serve(const char *config_path)
{
	struct config *cfg = NULL;
	struct ruleset *rs = NULL;
	struct store *st = NULL;
	struct sigaction sa;
	sigset_t block, orig;
	char err[ERR_LEN];
	int rc = -1;

	log_set_prefix(1);
	if (load(config_path, &cfg, &rs) != 0)
		return -1;
	if (store_open(cfg->database, &st, err) != 0) {
		log_err("%s", err);
		goto out;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Signals are blocked except inside ppoll, so none is lost between a check and the sleep. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &orig);
	notify("READY=1");
	log_info("serving: config=%s rules=%zu database=%s", cfg->path, rs->nrules, cfg->database);

	while (!got_term) {
		struct dispatch_stats stats;
		int64_t now = (int64_t)time(NULL), wake = INT64_MAX, sleep_s;
		struct timespec ts;
		char status[160], when[48];

		if (got_hup) {
			struct config *ncfg;
			struct ruleset *nrs;
			got_hup = 0;
			notify("RELOADING=1");
			if (load(config_path, &ncfg, &nrs) == 0) {
				rules_free(rs);
				config_free(cfg);
				cfg = ncfg;
				rs = nrs;
				log_info("reloaded: rules=%zu", rs->nrules);
			} else {
				log_err("reload failed: the previous config and rules stay in force");
			}
			notify("READY=1");
		}
		if (dispatch_run(cfg, rs, st, now, 0, &stats, &wake, err) != 0)
			log_err("%s", err);
		sleep_s = wake == INT64_MAX ? MAX_SLEEP : wake - (int64_t)time(NULL);
		if (sleep_s > MAX_SLEEP)
			sleep_s = MAX_SLEEP;
		if (sleep_s < 1)
			sleep_s = 1;
		dates_format_instant((int64_t)time(NULL) + sleep_s, cfg->timezone, when, sizeof when);
		snprintf(status, sizeof status, "STATUS=idle until %s", when);
		notify(status);
		log_debug("sleeping %llds", (long long)sleep_s);
		ts.tv_sec = (time_t)sleep_s;
		ts.tv_nsec = 0;
		if (!got_term && !got_hup && ppoll(NULL, 0, &ts, &orig) < 0 && errno != EINTR)
			log_err("ppoll: %s", strerror(errno));
	}
	notify("STOPPING=1");
	log_info("stopping");
	rc = 0;
out:
	store_close(st);
	rules_free(rs);
	config_free(cfg);
	return rc;
}
