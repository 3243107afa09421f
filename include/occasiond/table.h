/*
 * table: rows of text cells printed with their columns aligned (by code points, so names in
 * any script line up), for the table formats of plan, log and report.
 */
#ifndef OCCASIOND_TABLE_H
#define OCCASIOND_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table {
	size_t ncol;
	char **cells;   /* nrow * ncol, owned */
	size_t nrow;
};

/* tbl_init: an empty table of ncol columns. */
void tbl_init(struct table *t, size_t ncol);
/* tbl_add: appends a row of ncol cells (copied; NULL is ""). */
void tbl_add(struct table *t, const char *const *row);
/* tbl_print: every row to fp, columns two spaces apart, no trailing blanks. */
void tbl_print(FILE *fp, const struct table *t);
/* tbl_width: the width of s in code points (what a terminal column counts, near enough). */
size_t tbl_width(const char *s);
/* tbl_free: frees the cells; the table can be reused (empty). */
void tbl_free(struct table *t);

#endif
