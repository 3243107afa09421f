/*
 * log: messages to stderr. Under the daemon (log_set_prefix(1)) each line starts with an
 * sd-daemon priority prefix (<3> error, <4> warning, <6> info, <7> debug) for journald.
 */
#ifndef OCCASIOND_LOG_H
#define OCCASIOND_LOG_H

#include "occasiond/util.h"

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* log_set_prefix: 1 to print sd-daemon prefixes instead of "occasiond: ". */
void log_set_prefix(int on);
/* log_set_verbose: 1 to show debug lines. */
void log_set_verbose(int on);
void log_msg(enum log_level lvl, const char *fmt, ...) PRINTF_LIKE(2, 3);
#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
