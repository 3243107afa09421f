/* table: aligned text tables. */
#include "occasiond/table.h"

#include <stdlib.h>
#include <string.h>

#include "occasiond/util.h"

void tbl_init(struct table *t, size_t ncol)
{
	t->ncol = ncol;
	t->cells = NULL;
	t->nrow = 0;
}

void tbl_add(struct table *t, const char *const *row)
{
	t->cells = xreallocarray(t->cells, (t->nrow + 1) * t->ncol, sizeof *t->cells);
	for (size_t i = 0; i < t->ncol; i++)
		t->cells[t->nrow * t->ncol + i] = xstrdup(row[i] ? row[i] : "");
	t->nrow++;
}

/* tbl_width: code points, not bytes: a UTF-8 continuation byte adds nothing. */
size_t tbl_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void tbl_print(FILE *fp, const struct table *t)
{
	size_t *w = xcalloc(t->ncol ? t->ncol : 1, sizeof *w);
	for (size_t r = 0; r < t->nrow; r++)
		for (size_t c = 0; c < t->ncol; c++) {
			size_t x = tbl_width(t->cells[r * t->ncol + c]);
			if (x > w[c])
				w[c] = x;
		}
	for (size_t r = 0; r < t->nrow; r++) {
		struct strbuf line = {0};
		sb_adds(&line, "");
		for (size_t c = 0; c < t->ncol; c++) {
			const char *cell = t->cells[r * t->ncol + c];
			sb_adds(&line, cell);
			if (c + 1 < t->ncol)
				for (size_t k = tbl_width(cell); k < w[c] + 2; k++)
					sb_addc(&line, ' ');
		}
		while (line.len && line.s[line.len - 1] == ' ')
			line.s[--line.len] = '\0';
		fprintf(fp, "%s\n", line.s);
		sb_free(&line);
	}
	free(w);
}

void tbl_free(struct table *t)
{
	for (size_t i = 0; i < t->nrow * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrow = 0;
}
