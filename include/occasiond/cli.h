/*
 * cli: the words of the command line (CONTRACT §2) that main.c's commands share: the usage
 * text and each command's help, "--name VALUE" option parsing, and the one-line usage error.
 */
#ifndef OCCASIOND_CLI_H
#define OCCASIOND_CLI_H

/* The exit statuses: done, failed, a usage error. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* An option after the command: "--name VALUE", "--name=VALUE", or a flag "--name". */
struct cli_opt {
	const char *name;
	int takes_value;
	const char **value;   /* set when given (points into argv) */
	int *flag;            /* set to 1 when given */
};

/* cli_usage_error: prints "occasiond: MESSAGE" (fmt with at most one %s for arg) and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, const char *arg);
/* cli_wants_help: 1 when argv holds --help or -h. */
int cli_wants_help(int argc, char **argv);
/* cli_print_help: the help of command cmd (the whole usage when it has none) to stdout; returns EXIT_OK. */
int cli_print_help(const char *cmd);
/*
 * cli_parse_opts: argv's options into opts (ended by a NULL name), the other words into
 * (*rest)[0 .. *nrest) (the caller's array of argc entries). EXIT_OK, or the usage error's status.
 */
int cli_parse_opts(int argc, char **argv, struct cli_opt *opts, const char ***rest, int *nrest);

#endif
