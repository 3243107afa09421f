/*
 * mail: delivery. The maildir writer (tmp/ then new/), and later SMTP through libcurl
 * (the only libcurl user).
 */
#ifndef OCCASIOND_MAIL_H
#define OCCASIOND_MAIL_H

#include <stddef.h>

#include "occasiond/util.h"

/*
 * mail_maildir_deliver: writes msg into maildir/tmp/NAME (created O_EXCL, fsync), then
 * renames it to maildir/new/NAME and syncs the directory. Creates tmp/, new/, cur/ when
 * missing. NAME must be a safe file-name component. *path_out (malloc'd, or pass NULL)
 * receives the final path. An existing new/NAME is an error (never overwritten). 0 or -1.
 */
int mail_maildir_deliver(const char *maildir, const char *name, const char *msg, size_t len,
                         char **path_out, char err[ERR_LEN]);
/* mail_maildir_has: 1 when maildir/new/NAME or maildir/cur/NAME... exists (a delivery that completed). */
int mail_maildir_has(const char *maildir, const char *name);

#endif
