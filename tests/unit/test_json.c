/* Tests for json (the strict reader of token responses) and mime_unsubscribe_check. */
#include <stdlib.h>
#include <string.h>

#include "occasiond/json.h"
#include "occasiond/mime.h"
#include "occasiond/util.h"
#include "check.h"

static const char *const keys[] = {"access_token", "expires_in", "refresh_token", "error"};

/* get: parses text; 0/-1, the values in v (freed by free_vals). */
static int get(const char *text, char *v[4], char err[ERR_LEN])
{
	return json_object_get(text, strlen(text), keys, 4, v, err);
}

static void free_vals(char *v[4])
{
	for (int i = 0; i < 4; i++)
		free(v[i]);
}

int main(void)
{
	char *v[4], err[ERR_LEN];
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru}",
		"{\"a\":\"x\\q\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}",
		"{\"a\":\"\xc0\xaf\"}", "{} {}", "{\"a\":1} x", "<html>not json", "{'a':1}", "{\"a\":[1,]}", NULL
	};

	CHECK(get("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"eyJ0.a-b_c\","
	          "\"refresh_token\":\"0.AR\\u00e9\\/x\",\"scope\":\"a b\",\"ext\":{\"x\":[1,2.5e3,null,true,false]}}",
	          v, err) == 0, "a Microsoft-style token response parses");
	CHECK_STR(v[0], "eyJ0.a-b_c", "access_token");
	CHECK_STR(v[1], "3599", "expires_in, a number, as written");
	CHECK_STR(v[2], "0.AR\xc3\xa9/x", "refresh_token with escapes decoded (\\u00e9, \\/)");
	CHECK(v[3] == NULL, "error absent: NULL");
	free_vals(v);

	CHECK(get(" {\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70000\",\"access_token\":{\"x\":1}} ",
	          v, err) == 0 && v[3] && strcmp(v[3], "invalid_grant") == 0 && v[0] == NULL,
	      "an error response: error picked, an object value is not a string (NULL)");
	free_vals(v);
	CHECK(get("{\"access_token\":\"a\",\"access_token\":\"b\"}", v, err) == 0 && strcmp(v[0], "b") == 0,
	      "a key twice: the last counts");
	free_vals(v);
	CHECK(get("{\"access_token\":\"\\ud83d\\ude00\"}", v, err) == 0 && strcmp(v[0], "\xf0\x9f\x98\x80") == 0,
	      "a surrogate pair becomes one UTF-8 character");
	free_vals(v);
	for (int i = 0; bad[i]; i++) {
		int rc = get(bad[i], v, err);
		CHECK(rc == -1 && v[0] == NULL && strstr(err, "JSON: ") != NULL, "refused: %d (%s)", i, rc ? err : "accepted");
	}
	{
		/* Nesting past the limit is refused, not a stack overflow. */
		struct strbuf sb = {0};
		sb_adds(&sb, "{\"a\":");
		for (int i = 0; i < 100000; i++)
			sb_addc(&sb, '[');
		CHECK(json_object_get(sb.s, sb.len, keys, 4, v, err) == -1 && strstr(err, "nested too deeply"),
		      "100,000 open brackets: refused (%s)", err);
		sb_free(&sb);
	}

	CHECK(mime_unsubscribe_check("mailto:unsubscribe@acme.example", err) == 0, "unsubscribe: mailto");
	CHECK(mime_unsubscribe_check("mailto:u@acme.example?subject=unsubscribe%20me", err) == 0,
	      "unsubscribe: mailto with an encoded subject");
	CHECK(mime_unsubscribe_check("https://acme.example/u?l=1&id=2", err) == 0, "unsubscribe: https");
	CHECK(mime_unsubscribe_check("http://acme.example/u", err) == -1, "unsubscribe: http refused");
	CHECK(mime_unsubscribe_check("https://a.example/u>, <mailto:x@evil.example", err) == -1,
	      "unsubscribe: angle brackets and commas refused");
	CHECK(mime_unsubscribe_check("mailto:not an address", err) == -1, "unsubscribe: a bad mailto refused");
	CHECK(mime_unsubscribe_check("mailto:u@acme.example?subject=a b", err) == -1, "unsubscribe: a space refused");
	return check_done();
}
