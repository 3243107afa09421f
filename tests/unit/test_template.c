/* Unit tests for the Mustache engine: the value model, occasiond's options, limits and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "occasiond/template.h"

static char render_err[ERR_LEN];

/* Renders into a static buffer; returns NULL (and leaves the message in render_err) on error. */
static const char *render_opts(const char *src, const struct tval *ctx, const struct template_opts *opts)
{
	static struct strbuf out;
	sb_free(&out);
	render_err[0] = '\0';
	if (template_render(src, ctx, opts, &out, render_err) != 0)
		return NULL;
	return out.s ? out.s : "";
}

static const char *render_html(const char *src, const struct tval *ctx)
{
	struct template_opts o = {1, 0, NULL, NULL, 1};
	return render_opts(src, ctx, &o);
}

static const char *render_text(const char *src, const struct tval *ctx)
{
	struct template_opts o = {0, 1, NULL, NULL, 1};
	return render_opts(src, ctx, &o);
}

static int err_has(const char *want)
{
	return strstr(render_err, want) != NULL;
}

static void test_tval(void)
{
	struct tval *m = tval_map(), *l = tval_list(), *s = tval_string(NULL);
	char key[32];

	CHECK(s->type == TV_STRING && strcmp(s->s, "") == 0, "tval_string(NULL) is \"\"");
	tval_free(s);
	tval_free(NULL);
	tval_map_set_str(m, "a", "1");
	tval_map_set_str(m, "b", "2");
	tval_map_set_str(m, "a", "3");
	CHECK(m->n == 2, "tval_map_set replaces an existing key");
	CHECK_STR(tval_map_get(m, "a")->s, "3", "tval_map_get after replace");
	CHECK(tval_map_get(m, "zz") == NULL, "tval_map_get missing key is NULL");
	CHECK(strcmp(m->keys[0], "a") == 0 && strcmp(m->keys[1], "b") == 0, "map keeps key order");
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "%d", i);
		tval_list_add(l, tval_string(key));
	}
	CHECK(l->n == 1000 && strcmp(l->items[999]->s, "999") == 0, "list grows to 1000 items");
	tval_map_set(m, "list", l);
	tval_map_set(m, "t", tval_bool(7));
	CHECK(tval_map_get(m, "t")->type == TV_BOOL && tval_map_get(m, "t")->b == 1, "tval_bool normalises");
	tval_map_set(m, "nothing", tval_null());
	CHECK(tval_map_get(m, "nothing")->type == TV_NULL, "tval_null");
	CHECK(tval_map_get(m, "a.b") == NULL, "tval_map_get is not dotted");
	tval_free(m);
}

static void test_basics(void)
{
	struct tval *m = tval_map(), *occ = tval_map(), *people = tval_list();
	const char *names[] = {"Ann", "Bo"};

	tval_map_set_str(occ, "name", "Mum's 60th <birthday>");
	tval_map_set(m, "occasion", occ);
	tval_map_set_str(m, "empty", "");
	tval_map_set_str(m, "zero", "0");
	tval_map_set(m, "yes", tval_bool(1));
	for (int i = 0; i < 2; i++) {
		struct tval *p = tval_map();
		tval_map_set_str(p, "first", names[i]);
		tval_list_add(people, p);
	}
	tval_map_set(m, "people", people);

	CHECK_STR(render_html("{{occasion.name}}", m), "Mum&#39;s 60th &lt;birthday&gt;", "HTML escaping on");
	CHECK_STR(render_text("{{occasion.name}}", m), "Mum's 60th <birthday>", "HTML escaping off");
	CHECK_STR(render_html("{{{occasion.name}}}|{{&occasion.name}}", m),
	          "Mum's 60th <birthday>|Mum's 60th <birthday>", "triple mustache and & never escape");
	CHECK_STR(render_opts("{{occasion.name}}", m, NULL), "Mum&#39;s 60th &lt;birthday&gt;", "NULL opts escape");
	CHECK_STR(render_html("{{#occasion}}{{name}}{{/occasion}}", m), "Mum&#39;s 60th &lt;birthday&gt;",
	          "section pushes a map");
	CHECK_STR(render_html("{{occasion.nope.x}}|{{nope}}", m), "|", "missing names render nothing");
	CHECK_STR(render_html("{{#people}}{{first}},{{/people}}", m), "Ann,Bo,", "list section");
	CHECK_STR(render_text("{{#people}}{{first}}: {{occasion.name}}; {{/people}}", m),
	          "Ann: Mum's 60th <birthday>; Bo: Mum's 60th <birthday>; ", "names resolve through the context stack");
	CHECK_STR(render_html("{{yes}}", m), "true", "bool interpolates as true");

	CHECK_STR(render_html("[{{#empty}}E{{/empty}}{{^empty}}N{{/empty}}]", m), "[E]",
	          "empty string truthy without empty_is_false");
	CHECK_STR(render_text("[{{#empty}}E{{/empty}}{{^empty}}N{{/empty}}]", m), "[N]",
	          "empty string falsy with empty_is_false");
	CHECK_STR(render_text("[{{#zero}}Z{{/zero}}{{^nope}}M{{/nope}}]", m), "[ZM]", "\"0\" truthy, missing falsy");

	CHECK_STR(render_text("a\r\n{{#yes}}\r\nb\r\n{{/yes}}\r\nc", m), "a\r\nb\r\nc", "CRLF standalone lines");
	CHECK_STR(render_text("{{=<% %>=}}<%occasion.name%> {{x}}", m), "Mum's 60th <birthday> {{x}}",
	          "set delimiters");
	CHECK_STR(render_text("\xff\xfe{{empty}}\xc3(\xe2\x82", m), "\xff\xfe\xc3(\xe2\x82",
	          "invalid UTF-8 passes through");
	CHECK_STR(render_text("{{>card}}x", m), "x", "partials without a loader render nothing");

	struct tval *s = tval_string("85");
	CHECK_STR(render_text("{{.}} mph", s), "85 mph", "non-map context");
	tval_free(s);
	CHECK_STR(render_text("x{{a}}", NULL), "x", "NULL context");
	tval_free(m);
}

static void test_errors(void)
{
	char err[ERR_LEN];
	struct strbuf out = {0};
	struct tval *m = tval_map();

	CHECK(render_text("a\nb {{name", m) == NULL && err_has("line 2: unclosed tag"), "unclosed tag: %s",
	      render_err);
	CHECK(render_text("a\n\n{{#s}}\nx\n", m) == NULL && err_has("line 3: unclosed section {{#s}}"),
	      "unclosed section: %s", render_err);
	CHECK(render_text("{{#a}}\n{{^b}}\n{{/a}}", m) == NULL && err_has("line 3: {{/a}} does not close {{^b}}"),
	      "mismatched close: %s", render_err);
	CHECK(render_text("x\n{{/a}}", m) == NULL && err_has("line 2: {{/a}} without an open section"),
	      "close without open: %s", render_err);
	CHECK(render_text("{{=<% =}}", m) == NULL && err_has("line 1: bad delimiters"), "bad delimiters: %s",
	      render_err);
	CHECK(render_text("{{}}", m) == NULL && err_has("line 1: empty tag name"), "empty tag: %s", render_err);
	CHECK(render_text("\n{{first name}}", m) == NULL && err_has("line 2: bad tag name"), "name with space: %s",
	      render_err);

	CHECK(template_check("{{#a}}{{b}}{{/a}}{{>p}}{{! c }}", err) == 0, "template_check accepts a good template");
	CHECK(template_check("ok\nok\n{{#a}}", err) == -1 && strncmp(err, "line 3: ", 8) == 0,
	      "template_check reports the line: %s", err);

	/* A failed render leaves what was already in the buffer, and nothing more. */
	sb_adds(&out, "keep");
	CHECK(template_render("more{{#x}}", m, NULL, &out, err) == -1 && strcmp(out.s, "keep") == 0,
	      "failed render appends nothing");
	CHECK(template_render("+{{x}}", m, NULL, &out, err) == 0 && strcmp(out.s, "keep+") == 0,
	      "render appends to out");
	sb_free(&out);
	tval_free(m);
}

static void test_limits(void)
{
	struct strbuf src = {0};
	struct tval *m = tval_map(), *l = tval_list();
	char *big = malloc(1024 * 1024 + 1);
	int i;

	/* A hostile nest of sections is refused while parsing, without deep recursion. */
	for (i = 0; i < 100000; i++)
		sb_adds(&src, "{{#a}}");
	CHECK(render_text(src.s, m) == NULL && err_has("sections nested deeper than 100"), "100k nested sections: %s",
	      render_err);
	CHECK(template_check(src.s, render_err) == -1, "template_check refuses 100k nested sections");
	sb_reset(&src);
	for (i = 0; i < 100; i++)
		sb_adds(&src, "{{#a}}");
	sb_adds(&src, "x");
	for (i = 0; i < 100; i++)
		sb_adds(&src, "{{/a}}");
	tval_map_set(m, "a", tval_bool(1));
	CHECK_STR(render_text(src.s, m), "x", "100 nested sections are fine");

	memset(big, 'x', 1024 * 1024);
	big[1024 * 1024] = '\0';
	tval_map_set_str(m, "big", big);
	for (i = 0; i < 17; i++)
		tval_list_add(l, tval_bool(1));
	tval_map_set(m, "l", l);
	CHECK(render_text("{{#l}}{{big}}{{/l}}", m) == NULL && err_has("output larger than 16 MB"),
	      "output cap: %s", render_err);
	CHECK(render_text("{{#l}}{{#l}}{{/l}}{{/l}}{{big}}", m) != NULL, "under the output cap is fine");
	free(big);
	sb_free(&src);
	tval_free(m);
}

/* In-memory partials: pN includes p(N+1); "fail" fails; "bad" does not parse. */
static int mem_partial(void *ud, const char *name, char **text, char err[ERR_LEN])
{
	int stop = *(int *)ud;
	long n;
	*text = NULL;
	if (strcmp(name, "fail") == 0)
		return err_set(err, "disk on fire");
	if (strcmp(name, "bad") == 0) {
		*text = xstrdup("ok\n{{#x}}");
		return 0;
	}
	if (name[0] == 'p' && util_parse_long(name + 1, 0, 1000, &n) == 0)
		*text = n >= stop ? xstrdup("[end]") : xasprintf("%ld{{>p%ld}}", n, n + 1);
	return 0;
}

static void test_partials(void)
{
	int stop = 32;
	struct template_opts o = {1, 0, mem_partial, &stop, 1};
	struct tval *m = tval_map();
	const char *r;

	r = render_opts("{{>p1}}", m, &o);
	CHECK(r && strstr(r, "31[end]"), "partials nested 32 deep render");
	stop = 33;
	CHECK(render_opts("{{>p1}}", m, &o) == NULL && err_has("partials nested deeper than 32"),
	      "partials nested 33 deep fail: %s", render_err);
	CHECK(render_opts("x\n{{>fail}}", m, &o) == NULL && err_has("line 2: partial 'fail': disk on fire"),
	      "loader error: %s", render_err);
	CHECK(render_opts("\n\n{{>bad}}", m, &o) == NULL &&
	      err_has("line 3: in partial 'bad': line 2: unclosed section {{#x}}"), "partial syntax error: %s",
	      render_err);
	CHECK_STR(render_opts("[{{>missing}}]", m, &o), "[]", "missing partial renders nothing");
	tval_free(m);
}

static int write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *fp;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp)
		return -1;
	fwrite(text, 1, len, fp);
	return fclose(fp);
}

static void test_dir_partial(void)
{
	char dir[] = "/tmp/occasiond-test-template-XXXXXX", err[ERR_LEN], *text = NULL, path[512];
	struct template_opts o = {0, 1, template_dir_partial, dir, 1};
	struct tval *m = tval_map();
	char *big;
	const char *r;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		tval_free(m);
		return;
	}
	write_file(dir, "self.mustache", "again {{>self}}", 15);
	write_file(dir, "sig.mustache", "Love,\n{{from}}\n", 15);
	tval_map_set_str(m, "from", "Ann & Bo");
	big = xcalloc(1, 256 * 1024 + 2);
	memset(big, 'x', 256 * 1024 + 1);
	write_file(dir, "big.mustache", big, 256 * 1024 + 1);
	write_file(dir, "max.mustache", big, 256 * 1024);

	r = render_opts("Hi\n  {{> sig }}\nbye", m, &o);
	CHECK_STR(r, "Hi\n  Love,\n  Ann & Bo\nbye", "standalone partial from a directory, indented");
	CHECK(render_opts("{{>self}}", m, &o) == NULL && err_has("partials nested deeper than 32") &&
	      err_has("in partial 'self'"), "self-including partial fails cleanly: %s", render_err);
	CHECK(render_opts("{{>big}}", m, &o) == NULL && err_has("larger than"), "partial over 256 KB: %s",
	      render_err);
	CHECK(template_dir_partial(dir, "max", &text, err) == 0 && text && strlen(text) == 256 * 1024,
	      "partial of exactly 256 KB loads");
	free(text);
	CHECK(template_dir_partial(dir, "nope", &text, err) == 0 && text == NULL, "missing partial gives NULL");
	CHECK(template_dir_partial(dir, "../etc/passwd", &text, err) == -1 && text == NULL,
	      "path in a partial name is refused: %s", err);
	CHECK(template_dir_partial(dir, "a.b", &text, err) == -1, "dot in a partial name is refused");
	CHECK(template_dir_partial(dir, "", &text, err) == -1, "empty partial name is refused");
	memset(big, 'a', 65);
	big[65] = '\0';
	CHECK(template_dir_partial(dir, big, &text, err) == -1, "65-character partial name is refused");
	big[64] = '\0';
	CHECK(template_dir_partial(dir, big, &text, err) == 0 && text == NULL, "64-character partial name is fine");
	CHECK(render_opts("{{>a/b}}", m, &o) == NULL && err_has("line 1: partial 'a/b': bad partial name"),
	      "bad name fails the render: %s", render_err);

	free(big);
	tval_free(m);
	const char *names[] = {"self", "sig", "big", "max"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(path, sizeof path, "%s/%s.mustache", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int collect(void *ud, const struct template_use *u)
{
	struct strbuf *sb = ud;
	sb_addf(sb, "%c%.*s@%d:%d<%.*s ", u->kind ? u->kind : 'v', (int)u->len, u->name, u->line, u->col,
	        u->outer ? (int)u->outer->len : 0, u->outer ? u->outer->name : "");
	return 0;
}

/* Lines counted from where a template starts in its file; the tags with their places. */
static void test_lines_and_uses(void)
{
	char err[ERR_LEN];
	struct strbuf sb = {0};
	CHECK(template_check_at("{{#a}}\nx\n{{/b}}\n", 3, err) == -1 &&
	      strcmp(err, "line 5: {{/b}} does not close {{#a}} opened on line 3") == 0, "rebased: %s", err);
	CHECK(template_check_at("x\n\n{{^a}}", 10, err) == -1 && strcmp(err, "line 12: unclosed section {{^a}}") == 0,
	      "unclosed, rebased: %s", err);
	CHECK(template_uses("Hi {{ first }},\n\u00e9 {{#event}}{{title}}{{/event}} {{> sig}}{{=<% %>=}} <%&x.y%>", 7,
	                    collect, &sb, err) == 0, "uses");
	CHECK_STR(sb.s, "vfirst@7:4< #event@8:3< vtitle@8:13<event >sig@8:33< &x.y@8:54< ", "every tag, its place, its section");
	sb_free(&sb);
}

int main(void)
{
	test_lines_and_uses();
	test_tval();
	test_basics();
	test_errors();
	test_limits();
	test_partials();
	test_dir_partial();
	render_opts("", NULL, NULL); /* frees the static buffer's data for leak checkers */
	return check_done();
}
