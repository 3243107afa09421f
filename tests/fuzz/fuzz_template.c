/*
 * Fuzzes the Mustache engine: the input is the template and also every partial (so a
 * template that includes itself is exercised), rendered against a small context.
 */
#include <stdlib.h>
#include <string.h>

#include "occasiond/template.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct src {
	const char *s;
};

static int self_partial(void *ud, const char *name, char **text, char err[ERR_LEN])
{
	const struct src *src = ud;
	(void)err;
	*text = strcmp(name, "none") == 0 ? NULL : xstrdup(src->s);
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = xmalloc(size + 1), err[ERR_LEN];
	struct src src;
	struct tval *ctx = tval_map(), *list = tval_list(), *m = tval_map();
	struct strbuf out = {0};
	struct template_opts o = {0};

	memcpy(s, data, size);
	s[size] = '\0';
	src.s = s;
	tval_map_set_str(ctx, "first_name", "Zoë");
	tval_map_set_str(ctx, "empty", "");
	tval_map_set(ctx, "yes", tval_bool(1));
	tval_map_set_str(m, "name", "Birthday");
	tval_map_set(ctx, "occasion", m);
	tval_list_add(list, tval_string("a"));
	tval_list_add(list, tval_string("<b>"));
	tval_map_set(ctx, "list", list);
	o.escape_html = size > 0 && (data[0] & 1);
	o.empty_is_false = 1;
	o.partial = self_partial;
	o.ud = &src;
	(void)template_check(s, err);
	(void)template_render(s, ctx, &o, &out, err);
	sb_free(&out);
	tval_free(ctx);
	free(s);
	return 0;
}
