/* Unit tests of the multistatus reader: Radicale's answers, prefixes, limits, hostile XML. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "occasiond/davxml.h"

static int parse(const char *xml, struct dav_multistatus *ms, char err[ERR_LEN])
{
	return davxml_parse(xml, strlen(xml), 100, 1024, ms, err);
}

static void test_sync_collection(void)
{
	/* As Radicale 3.1 answers a sync-collection: default namespace, one removed member. */
	const char *xml =
		"<?xml version='1.0' encoding='utf-8'?>\n"
		"<multistatus xmlns=\"DAV:\"><sync-token>http://radicale.org/ns/sync/abc</sync-token>"
		"<response><href>/occ/book/c1.vcf</href><status>HTTP/1.1 404 Not Found</status></response>"
		"<response><href>/occ/book/c2.vcf</href><propstat><prop><getetag>\"757b\"</getetag></prop>"
		"<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";
	struct dav_multistatus ms;
	char err[ERR_LEN];
	CHECK(parse(xml, &ms, err) == 0, "a sync-collection answer parses");
	CHECK(ms.n == 2, "two responses");
	CHECK_STR(ms.sync_token, "http://radicale.org/ns/sync/abc", "the sync-token");
	CHECK_STR(ms.items[0].href, "/occ/book/c1.vcf", "the removed member's href");
	CHECK(ms.items[0].status == 404 && !ms.items[0].etag, "the removed member is 404 without an etag");
	CHECK_STR(ms.items[1].etag, "\"757b\"", "the etag as written, quotes kept");
	CHECK(ms.items[1].status == 200, "the member's status from its propstat");
	davxml_free(&ms);
	davxml_free(&ms);   /* twice is harmless */
}

static void test_multiget(void)
{
	/* Prefixed, address-data with an entity and CDATA, a 404 propstat that gives nothing. */
	const char *xml =
		"<d:multistatus xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">"
		"<d:response><d:href>/a/b%20c.vcf</d:href>"
		"<d:propstat><d:prop><card:address-data>BEGIN:VCARD\r\nFN:A &amp; B\r\n<![CDATA[NOTE:<x>]]>\r\nEND:VCARD\r\n"
		"</card:address-data><d:getetag>\"1\"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
		"<d:propstat><d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
		"</d:response></d:multistatus>";
	struct dav_multistatus ms;
	char err[ERR_LEN];
	CHECK(parse(xml, &ms, err) == 0, "a multiget answer parses");
	CHECK(ms.n == 1 && ms.items[0].data, "its card");
	if (ms.n == 1 && ms.items[0].data) {
		CHECK_STR(ms.items[0].data, "BEGIN:VCARD\nFN:A & B\nNOTE:<x>\nEND:VCARD\n", "the card's text, unescaped (XML makes CR LF a LF)");
		CHECK(ms.items[0].status == 200, "status 200 (the 404 propstat does not count)");
	}
	davxml_free(&ms);
}

static void test_wrong_place(void)
{
	/* An href outside a response, a getetag outside prop, a propstat that failed: not taken. */
	const char *xml =
		"<multistatus xmlns=\"DAV:\"><href>/stray</href><response><href>/x</href><getetag>\"no\"</getetag>"
		"<propstat><prop><getetag>\"bad\"</getetag></prop><status>HTTP/1.1 403 Forbidden</status></propstat>"
		"<foo><sync-token>inner</sync-token></foo></response></multistatus>";
	struct dav_multistatus ms;
	char err[ERR_LEN];
	CHECK(parse(xml, &ms, err) == 0, "elements out of place are skipped");
	CHECK(ms.n == 1 && !ms.items[0].etag && ms.items[0].status == 0, "nothing from a failed propstat");
	CHECK(!ms.sync_token, "a sync-token out of place is not the token");
	davxml_free(&ms);
}

static void bad(const char *xml, const char *want, const char *what)
{
	struct dav_multistatus ms;
	char err[ERR_LEN];
	int rc = parse(xml, &ms, err);
	CHECK(rc == -1 && strstr(err, want) && ms.n == 0 && !ms.items, "%s", what);
	if (rc == 0)
		davxml_free(&ms);
	else if (!strstr(err, want))
		printf("#   got: %s\n", err);
}

static void test_hostile(void)
{
	struct strbuf sb = {0};
	bad("<html>nope</html>", "not a DAV multistatus", "an HTML page is refused");
	bad("<multistatus xmlns=\"DAV:\"><response><href>/x", "line 1:", "a truncated answer is refused");
	bad("<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
	    "<multistatus xmlns=\"DAV:\"><sync-token>&b;</sync-token></multistatus>",
	    "document type declaration", "a DTD (an entity bomb) is refused");
	bad("<multistatus xmlns=\"DAV:\"><response><status>HTTP/1.1 200 OK</status></response></multistatus>",
	    "without an href", "a response without an href is refused");
	bad("<multistatus xmlns=\"DAV:\"><response><href>/a</href><href>/b</href></response></multistatus>",
	    "more than one href", "two hrefs in one response are refused");
	bad("<multistatus xmlns=\"DAV:\"><response><href>/a&#10;b</href></response></multistatus>",
	    "control character", "a line break in an href is refused");
	bad("<multistatus xmlns=\"DAV:\"><response><href>/a</href><status>teapot</status></response></multistatus>",
	    "not an HTTP status line", "a status that is not one is refused");
	bad("<multistatus xmlns=\"DAV:\"><response><href>/a<b/></href></response></multistatus>",
	    "an element inside a text value", "markup inside an href is refused");
	sb_adds(&sb, "<multistatus xmlns=\"DAV:\">");
	for (int i = 0; i < 40; i++)
		sb_adds(&sb, "<x>");
	bad(sb.s, "nested deeper than 32", "deep nesting is refused");
	sb_reset(&sb);
	sb_adds(&sb, "<multistatus xmlns=\"DAV:\">");
	for (int i = 0; i < 101; i++)
		sb_addf(&sb, "<response><href>/%d</href></response>", i);
	sb_adds(&sb, "</multistatus>");
	bad(sb.s, "more than 100 entries", "more entries than allowed are refused");
	sb_reset(&sb);
	sb_adds(&sb, "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><response><href>/a</href>"
	             "<propstat><prop><C:address-data>");
	for (int i = 0; i < 1100; i++)
		sb_addc(&sb, 'x');
	sb_adds(&sb, "</C:address-data></prop></propstat></response></multistatus>");
	bad(sb.s, "longer than 1024 bytes", "a card over the limit is refused");
	sb_free(&sb);
}

static void test_escape(void)
{
	struct strbuf sb = {0};
	davxml_escape("/a&b<c>\"d", &sb);
	CHECK_STR(sb.s, "/a&amp;b&lt;c&gt;&quot;d", "an href sent back is escaped");
	sb_free(&sb);
}

int main(void)
{
	test_sync_collection();
	test_multiget();
	test_wrong_place();
	test_hostile();
	test_escape();
	return check_done();
}
