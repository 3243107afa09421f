/*
 * daemon: `serve`. One single-threaded loop: run a pass, sleep until the next due time
 * (or a signal), repeat. SIGHUP reloads config and rules (a broken reload keeps the old
 * ones); SIGTERM/SIGINT finish the pass in hand and exit. Signal handlers only set flags.
 */
#ifndef OCCASIOND_DAEMON_H
#define OCCASIOND_DAEMON_H

/* daemon_serve: runs until SIGTERM/SIGINT. 0 on a clean stop, -1 when it could not start. */
int daemon_serve(const char *config_path);

#endif
