#!/usr/bin/python3
"""A hostile CardDAV server for tests/e2e/carddav.sh: each request answers as MODE says.

Usage: davd.py OUTDIR
It listens on a free port of 127.0.0.1, writes that port to OUTDIR/port, and reads the mode
for each request from OUTDIR/mode (one word):
  redirect   302 to another host
  badxml     a multistatus that is not well-formed
  doctype    a multistatus with an entity expansion bomb in its DTD
  truncated  a Content-Length longer than the body, then the connection closes
  badcard    a listing, then a card that never ends
  hugecard   a listing, then a card of 5 MB
  nested     elements nested 100 deep
  missing    a listing, then a multiget that answers for no card
  many       a sync-collection listing of 100,001 entries (one more than allowed)
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = sys.argv[1]


def listing(n=1):
    rs = "".join(
        '<d:response><d:href>/book/c%d.vcf</d:href><d:propstat><d:prop><d:getetag>"e%d"</d:getetag>'
        '</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>' % (i, i) for i in range(n))
    return ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:sync-token>tok-1</d:sync-token>%s'
            '</d:multistatus>' % rs)


def card(data):
    return ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
            '<d:response><d:href>/book/c0.vcf</d:href><d:propstat><d:prop><d:getetag>"e0"</d:getetag>'
            '<c:address-data>%s</c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>'
            '</d:response></d:multistatus>' % data)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_dav(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = self.rfile.read(n).decode("utf-8", "replace")
        with open(os.path.join(OUT, "mode")) as f:
            mode = f.read().strip()
        multiget = "addressbook-multiget" in req
        if mode == "redirect":
            self.answer(302, "", [("Location", "https://elsewhere.example/book/")])
        elif mode == "badxml":
            self.answer(207, '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>x')
        elif mode == "doctype":
            bomb = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
                    + "".join('<!ENTITY %s "%s">' % (chr(98 + i), ("&%s;" % chr(97 + i)) * 10) for i in range(8))
                    + ']><d:multistatus xmlns:d="DAV:"><d:sync-token>&i;</d:sync-token></d:multistatus>')
            self.answer(207, bomb)
        elif mode == "truncated":
            body = listing(3).encode()
            self.send_response(207)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body) * 2))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
        elif mode == "badcard":
            self.answer(207, card("BEGIN:VCARD\nVERSION:3.0\nUID:c0\nFN:Never Ended\n") if multiget else listing())
        elif mode == "hugecard":
            big = "BEGIN:VCARD\nVERSION:3.0\nUID:c0\nFN:Big\nNOTE:" + "x" * (5 * 1024 * 1024) + "\nEND:VCARD\n"
            self.answer(207, card(big) if multiget else listing())
        elif mode == "missing":
            self.answer(207, '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"></d:multistatus>' if multiget
                        else listing())
        elif mode == "nested":
            self.answer(207, '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">' + "<x>" * 100 + "</x>" * 100
                        + "</d:multistatus>")
        elif mode == "many":
            self.answer(207, listing(100001))
        else:
            self.answer(500, "")

    do_REPORT = handle_dav
    do_PROPFIND = handle_dav


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(OUT, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(OUT, "port.tmp"), os.path.join(OUT, "port"))
srv.serve_forever()
