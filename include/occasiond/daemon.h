/*
 * daemon: `serve`. One single-threaded loop: run a pass, sleep until the next due time
 * (a fire time, a retry time, the next send window, local midnight), a signal, a wall-clock
 * step or a commit by another process to the database; repeat. No polling: with nothing due
 * and no watchdog it sleeps in one poll() until the next due time.
 * SIGHUP reloads config, rules and templates (parsed whole and validated; a broken reload
 * keeps the old ones and logs each error); SIGTERM/SIGINT stop between two dispatches and
 * exit. Signals are blocked and read from a signalfd: no handler runs; a child process the
 * daemon starts must unblock them (sigprocmask) before exec.
 * sd_notify (READY, STATUS, WATCHDOG, RELOADING, STOPPING) through libsystemd when built
 * with it, else by hand to $NOTIFY_SOCKET.
 */
#ifndef OCCASIOND_DAEMON_H
#define OCCASIOND_DAEMON_H

/* daemon_serve: runs until SIGTERM/SIGINT. 0 on a clean stop, -1 when it could not start. */
int daemon_serve(const char *config_path);

#endif
