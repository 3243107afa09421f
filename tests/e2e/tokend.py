"""An OAuth2 token endpoint (RFC 6749 section 6, refresh-token grant) over HTTPS on loopback,
for tests/e2e/oauth.sh (run with /usr/bin/python3).

usage: tokend.py DIR --cert PEM --key KEY

It listens on a free port of 127.0.0.1 and writes that port to DIR/port. DIR/refresh holds
the refresh token it accepts; each access token it issues (about 1.5 KB, like Microsoft's)
is appended to DIR/valid, the file smtpd.py --bearer reads, and with every rotated refresh
token to DIR/all (so a test can look for any of them where none may be). DIR/requests.log gets one line
per request (the grant type and the outcome, never a token). The behaviour is read from
small files at each request, so a test changes it without a restart:
  DIR/mode      ok (default) | rotate (a new refresh token each time, the old one dies) |
                invalid_grant | junk (a 200 that is not JSON) | huge (5 MB) | slow (DIR/delay
                seconds, then 503) | e500
  DIR/expires   expires_in of the tokens it issues (default 3600)
.../devicecode answers a device-code request (RFC 8628); the token endpoint then answers the
device-code grant with authorization_pending once, then with a new refresh token.
"""
import argparse
import os
import secrets
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
args = ap.parse_args()
D = args.dir


def setting(name, default):
    try:
        with open(os.path.join(D, name)) as f:
            return f.read().strip() or default
    except OSError:
        return default


def log(line):
    with open(os.path.join(D, "requests.log"), "a") as f:
        f.write(line + "\n")


state = {}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        get = lambda k: form.get(k, [""])[0]
        mode = setting("mode", "ok")
        if mode == "slow":
            # The client has given up by then: nothing is issued, so no token appears late.
            time.sleep(float(setting("delay", "5")))
            log("slow")
            return self.reply(503, '{"error":"temporarily_unavailable"}')
        if mode == "junk":
            log("junk")
            return self.reply(200, "<html>this is not json")
        if mode == "huge":
            log("huge")
            return self.reply(200, b'{"access_token":"' + b"a" * (5 * 1024 * 1024) + b'"}')
        if mode == "e500":
            log("e500")
            return self.reply(500, '{"error":"temporarily_unavailable"}')
        if self.path.endswith("/devicecode"):
            # RFC 8628 3.2: a device code; the user "signs in" at the second poll.
            log("devicecode client_id=%s scope=%s" % (get("client_id"), get("scope")))
            return self.reply(200, '{"device_code":"dc-42","user_code":"WDJB-MJHT","verification_uri":'
                              '"https://login.example/device","expires_in":60,"interval":1}')
        if get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
            state["polls"] = state.get("polls", 0) + 1
            if get("device_code") != "dc-42":
                return self.reply(400, '{"error":"invalid_grant"}')
            if state["polls"] < 2:
                log("authorization_pending")
                return self.reply(400, '{"error":"authorization_pending"}')
            new = secrets.token_urlsafe(600)
            with open(os.path.join(D, "refresh.tmp"), "w") as f:
                f.write(new)
            os.rename(os.path.join(D, "refresh.tmp"), os.path.join(D, "refresh"))
            with open(os.path.join(D, "all"), "a") as f:
                f.write(new + "\n")
            log("device signed in")
            return self.reply(200, '{"token_type":"Bearer","expires_in":3600,"access_token":"x%s","refresh_token":"%s"}'
                              % (secrets.token_urlsafe(30), new))
        if get("grant_type") != "refresh_token" or not get("client_id"):
            log("bad request")
            return self.reply(400, '{"error":"invalid_request"}')
        if mode == "invalid_grant" or get("refresh_token") != setting("refresh", "-"):
            log("invalid_grant client_id=%s" % get("client_id"))
            return self.reply(400, '{"error":"invalid_grant","error_description":"AADSTS70000: The grant is expired or revoked."}')
        tok = secrets.token_urlsafe(1125)   # 1500 characters
        with open(os.path.join(D, "valid"), "a") as f:
            f.write(tok + "\n")
        with open(os.path.join(D, "all"), "a") as f:
            f.write(tok + "\n")
        body = '{"token_type":"Bearer","scope":"%s","expires_in":%s,"access_token":"%s"' % (
            get("scope"), setting("expires", "3600"), tok)
        if mode == "rotate":
            new = secrets.token_urlsafe(600)
            tmp = os.path.join(D, "refresh.tmp")
            with open(tmp, "w") as f:
                f.write(new)
            os.rename(tmp, os.path.join(D, "refresh"))
            with open(os.path.join(D, "all"), "a") as f:
                f.write(new + "\n")
            body += ',"refresh_token":"%s"' % new
        log("issued client_id=%s scope=%s mode=%s" % (get("client_id"), get("scope"), mode))
        self.reply(200, body + "}")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(args.cert, args.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(os.path.join(D, "port.tmp"), "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.path.join(D, "port.tmp"), os.path.join(D, "port"))
try:
    srv.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
