/* log: one line per message on stderr, control characters made visible. */
#include "occasiond/log.h"

#include <stdio.h>

static int use_prefix;
static int verbose;

void log_set_prefix(int on)
{
	use_prefix = on;
}

void log_set_verbose(int on)
{
	verbose = on;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	struct strbuf sb = {0}, line = {0};
	va_list ap;
	if (lvl == LOG_LVL_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (use_prefix)
		sb_addf(&line, "<%d>", (int)lvl);
	else
		sb_adds(&line, lvl == LOG_LVL_ERR ? "occasiond: error: " :
		        lvl == LOG_LVL_WARN ? "occasiond: warning: " : "occasiond: ");
	/* One message is one line: data in it can never forge a second log line. */
	for (size_t i = 0; i < sb.len; i++) {
		unsigned char c = (unsigned char)sb.s[i];
		if (c < 0x20 || c == 0x7f)
			sb_addf(&line, "\\x%02x", c);
		else
			sb_addc(&line, (char)c);
	}
	sb_addc(&line, '\n');
	fputs(line.s, stderr);
	fflush(stderr);
	sb_free(&sb);
	sb_free(&line);
}
