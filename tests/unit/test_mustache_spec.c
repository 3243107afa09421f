/*
 * The Mustache specification's core modules, read at test time from MUSTACHE_SPEC_DIR
 * (else ../shared/mustache-spec), each test rendered with HTML escaping on.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "check.h"
#include "occasiond/template.h"

static const char *const spec_files[] = {
	"comments", "delimiters", "interpolation", "inverted", "partials", "sections",
};

static int spec_total, spec_passed;

/* A plain YAML number as the spec's expected output prints it: the shortest %g that round-trips. */
static int spec_number(const char *s, char *buf, size_t size)
{
	char *end;
	double d;
	if (!*s || strspn(s, "+-0123456789.eE") != strlen(s) || !strpbrk(s, "0123456789"))
		return 0;
	d = strtod(s, &end);
	if (*end || !isfinite(d))
		return 0;
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return 1;
	}
	return 1;
}

static struct tval *spec_node(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	struct tval *v;
	char num[64];

	if (!node || depth > 64)
		return tval_null();
	switch (node->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)node->data.scalar.value;
		if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return tval_string(s);
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
			return tval_bool(s[0] == 't');
		if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || s[0] == '\0')
			return tval_null();
		if (spec_number(s, num, sizeof num))
			return tval_string(num);
		return tval_string(s);
	}
	case YAML_SEQUENCE_NODE:
		v = tval_list();
		for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++)
			tval_list_add(v, spec_node(doc, yaml_document_get_node(doc, *it), depth + 1));
		return v;
	case YAML_MAPPING_NODE:
		v = tval_map();
		for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);
			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			tval_map_set(v, (const char *)k->data.scalar.value,
			             spec_node(doc, yaml_document_get_node(doc, pr->value), depth + 1));
		}
		return v;
	default:
		return tval_null();
	}
}

/* In-memory partials: ud is the test's `partials` map. */
static int spec_partial(void *ud, const char *name, char **text, char err[ERR_LEN])
{
	const struct tval *v = tval_map_get(ud, name);
	(void)err;
	*text = v && v->type == TV_STRING ? xstrdup(v->s) : NULL;
	return 0;
}

static void spec_run_test(const char *file, const struct tval *test)
{
	const struct tval *name = tval_map_get(test, "name"), *data = tval_map_get(test, "data");
	const struct tval *tpl = tval_map_get(test, "template"), *want = tval_map_get(test, "expected");
	const struct tval *partials = tval_map_get(test, "partials");
	struct template_opts opts = {1, 0, spec_partial, (void *)partials, 1};
	struct strbuf out = {0};
	char err[ERR_LEN] = "";
	const char *tname = name && name->type == TV_STRING ? name->s : "?";

	spec_total++;
	if (!tpl || tpl->type != TV_STRING || !want || want->type != TV_STRING) {
		CHECK(0, "spec %s: %s (malformed test)", file, tname);
		return;
	}
	int rc = template_render(tpl->s, data, &opts, &out, err);
	if (rc != 0)
		printf("# %s\n", err);
	if (rc == 0 && strcmp(out.s ? out.s : "", want->s) == 0)
		spec_passed++;
	CHECK_STR(rc == 0 ? (out.s ? out.s : "") : NULL, want->s, "spec %s: %s", file, tname);
	sb_free(&out);
}

static void spec_run_file(const char *dir, const char *base)
{
	char path[4096];
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s.yml", dir, base);
	fp = fopen(path, "rb");
	if (!fp) {
		CHECK(0, "spec %s: cannot open %s", base, path);
		return;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		CHECK(0, "spec %s: yaml_parser_initialize", base);
		return;
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		CHECK(0, "spec %s: YAML error at line %lu: %s", base, (unsigned long)parser.problem_mark.line + 1,
		      parser.problem ? parser.problem : "?");
		yaml_parser_delete(&parser);
		fclose(fp);
		return;
	}
	struct tval *root = spec_node(&doc, yaml_document_get_root_node(&doc), 0);
	const struct tval *tests = tval_map_get(root, "tests");
	CHECK(tests && tests->type == TV_LIST && tests->n > 0, "spec %s: file has tests", base);
	for (size_t i = 0; tests && tests->type == TV_LIST && i < tests->n; i++)
		spec_run_test(base, tests->items[i]);
	tval_free(root);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(fp);
}

int main(void)
{
	const char *dir = getenv("MUSTACHE_SPEC_DIR");
	struct stat st;

	if (!dir || !*dir)
		dir = "../shared/mustache-spec";
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("skip - mustache spec not found at %s\n", dir);
		return 0;
	}
	for (size_t i = 0; i < sizeof spec_files / sizeof *spec_files; i++)
		spec_run_file(dir, spec_files[i]);
	printf("# mustache spec: %d of %d passed\n", spec_passed, spec_total);
	return check_done();
}
