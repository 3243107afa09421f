/*
 * table: rows of text cells printed with their columns aligned (by display width: wide CJK
 * characters count two columns, combining marks none, so names in any script line up), for
 * the table formats of plan, log and report.
 */
#ifndef OCCASIOND_TABLE_H
#define OCCASIOND_TABLE_H

#include <stddef.h>
#include <stdint.h>
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
/*
 * For rows too many to hold (report's silences): tbl_measure widens the column widths
 * w[0..ncol) (start at 0) to hold row; tbl_print_row prints row with widths w as tbl_print
 * prints each of its rows. A NULL cell is "".
 */
void tbl_measure(size_t *w, size_t ncol, const char *const *row);
void tbl_print_row(FILE *fp, const size_t *w, size_t ncol, const char *const *row);
/* tbl_width: the width of UTF-8 s in terminal columns (the sum of tbl_cp_width). */
size_t tbl_width(const char *s);
/* tbl_cp_width: the columns code point cp takes: 0 (a combining mark, a format or control
 * character), 2 (East Asian Wide or Fullwidth) or 1. */
int tbl_cp_width(uint32_t cp);
/* tbl_free: frees the cells; the table can be reused (empty). */
void tbl_free(struct table *t);

#endif
