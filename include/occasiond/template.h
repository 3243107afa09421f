/*
 * template: a Mustache engine (the spec's core modules: interpolation, sections,
 * inverted sections, comments, partials, set delimiters) over a small value model.
 */
#ifndef OCCASIOND_TEMPLATE_H
#define OCCASIOND_TEMPLATE_H

#include <stddef.h>

#include "occasiond/util.h"

enum tval_type { TV_NULL, TV_BOOL, TV_STRING, TV_LIST, TV_MAP };

/* A value: a string, a boolean, null, a list, or a map with ordered keys. */
struct tval {
	enum tval_type type;
	int b;               /* TV_BOOL */
	char *s;             /* TV_STRING */
	size_t n;            /* TV_LIST, TV_MAP: number of items */
	struct tval **items; /* TV_LIST, TV_MAP */
	char **keys;         /* TV_MAP */
};

/* Constructors: each returns a new value that the caller (or the container it is put in) owns. */
struct tval *tval_null(void);
struct tval *tval_bool(int b);
struct tval *tval_string(const char *s);          /* copies s; NULL gives "" */
struct tval *tval_list(void);
struct tval *tval_map(void);
/* tval_map_set: puts v under key (copied), replacing and freeing any old value; the map owns v. */
void tval_map_set(struct tval *map, const char *key, struct tval *v);
void tval_map_set_str(struct tval *map, const char *key, const char *s);
/* tval_list_add: appends v; the list owns v. */
void tval_list_add(struct tval *list, struct tval *v);
/* tval_map_get: the value under key, or NULL. Not dotted. */
const struct tval *tval_map_get(const struct tval *map, const char *key);
/* tval_free: frees v and everything in it; NULL is fine. */
void tval_free(struct tval *v);

struct template_opts {
	int escape_html;      /* {{x}} HTML-escapes (the spec's default); off for text and cards */
	int empty_is_false;   /* an empty string is falsy in a section (occasiond's templates) */
	/*
	 * partial: loads partial NAME into *text (malloc'd, the engine frees it).
	 * Returns 0 with *text set, 0 with *text NULL when there is no such partial (renders as
	 * nothing), or -1 with err set to fail the render. NULL: no partials.
	 */
	int (*partial)(void *ud, const char *name, char **text, char err[ERR_LEN]);
	void *ud;
	int first_line;       /* the line of src's first line in its file (0: 1), for error messages */
};

/*
 * template_render: renders src with ctx (a TV_MAP, or any value) and appends to out.
 * Errors (unclosed tags or sections, mismatched closing, bad delimiters, partials nested
 * deeper than 32, output over 16 MB) return -1 with "line N: message" in err.
 */
int template_render(const char *src, const struct tval *ctx, const struct template_opts *opts,
                    struct strbuf *out, char err[ERR_LEN]);
/* template_check: syntax check only (partials are not loaded). 0 or -1 with "line N: ..." in err. */
int template_check(const char *src, char err[ERR_LEN]);
/*
 * template_check_at: template_check for a template whose first line is line first_line of its
 * file (a body after header lines): every line number in err, "opened on line N" included, is
 * a line of the file.
 */
int template_check_at(const char *src, int first_line, char err[ERR_LEN]);
/* template_check_pos: template_check_at that also sets *col (may be NULL) to the column, in
 * characters from 1, of the tag the error is about (1 when there is none). */
int template_check_pos(const char *src, int first_line, int *col, char err[ERR_LEN]);

/* One tag of a template, as template_uses reports it. */
struct template_use {
	const char *name;    /* the tag's name as written (not terminated; dotted names whole) */
	size_t len;
	char kind;           /* 0 variable, '&' unescaped, '#' section, '^' inverted, '>' partial */
	int line, col;       /* where its opening delimiter is: file line (from first_line), column */
	const struct template_use *outer;  /* the innermost section around it, or NULL */
};
/* template_use_fn: called for each tag; return 0 to go on, -1 to stop (template_uses returns -1). */
typedef int (*template_use_fn)(void *ud, const struct template_use *u);
/*
 * template_uses: parses src (set delimiters honoured, partials not loaded) and calls fn for
 * every variable, section, inverted section and partial tag, in source order. Returns 0, or -1
 * with "line N: ..." in err when src does not parse (or fn stopped it).
 */
int template_uses(const char *src, int first_line, template_use_fn fn, void *ud, char err[ERR_LEN]);

/*
 * template_dir_partial: a partial loader for template_opts.partial with ud = the templates
 * directory: NAME must match [A-Za-z0-9_-]{1,64} (anything else is an error, so no path can
 * escape the directory); reads DIR/NAME.mustache (at most 256 KB); absent gives *text NULL.
 */
int template_dir_partial(void *ud, const char *name, char **text, char err[ERR_LEN]);

#endif
