"""A real SMTP server on loopback for tests/e2e/smtp.sh (aiosmtpd; run with /usr/bin/python3).

usage: smtpd.py OUTDIR [--tls starttls|implicit|none] [--cert PEM --key KEY]
                       [--auth USER:PASS] [--mode MODE] [--delay SECS]
                       [--bearer USER:TOKENFILE]

It listens on a free port of 127.0.0.1 and writes that port to OUTDIR/port once it accepts
connections. Every accepted message becomes OUTDIR/N.eml (the data as received, dot-stuffing
undone) and OUTDIR/N.rcpt (the RCPT TO list, one per line); OUTDIR/events.log gets one line
per command seen (EHLO, STARTTLS, AUTH ..., MAIL, RCPT, DATA), so a test can tell what the
client did. Modes:
  ok              accept everything
  greet421        answer the greeting with 421 and close
  rcpt451once     451 to the first RCPT, then accept
  rcpt550         550 to every RCPT
  dropafterdata   read the whole message, then close without a reply
  slowrcpt        wait --delay seconds before answering RCPT
  slowdata        read the whole message, then wait --delay seconds before answering
  throttle3       451 4.7.28 to every third MAIL FROM (a provider's rate limit)

--bearer USER:TOKENFILE offers AUTH XOAUTH2 and OAUTHBEARER (and no other mechanism) and
accepts the user with any access token listed in TOKENFILE (one a line, read at each AUTH,
so a test can revoke one); a refused token gets the RFC 7628 error challenge, then 535.
The token itself is never written anywhere by this server.
"""
import base64
import json
import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("outdir")
ap.add_argument("--tls", default="starttls", choices=["starttls", "implicit", "none"])
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--auth")
ap.add_argument("--mode", default="ok")
ap.add_argument("--delay", type=float, default=5.0)
ap.add_argument("--bearer")
args = ap.parse_args()
out = args.outdir
os.makedirs(out, exist_ok=True)
state = {"n": 0, "rcpt451": 0, "mail": 0}


def event(line):
    with open(os.path.join(out, "events.log"), "a") as f:
        f.write(line + "\n")


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        event("EHLO %s tls=%s" % (hostname, "yes" if session.ssl else "no"))
        session.host_name = hostname
        return responses

    async def handle_STARTTLS(self, server, session, envelope):
        event("STARTTLS")
        return True

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        event("MAIL " + address)
        state["mail"] += 1
        if args.mode == "throttle3" and state["mail"] % 3 == 0:
            return "451 4.7.28 Our system has detected an unusual rate of mail, try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        event("RCPT " + address)
        if args.mode == "slowrcpt":
            await asyncio.sleep(args.delay)
        if args.mode == "rcpt550":
            return "550 5.1.1 No such user here"
        if args.mode == "rcpt451once" and state["rcpt451"] == 0:
            state["rcpt451"] += 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        event("DATA")
        if args.mode == "dropafterdata":
            server.transport.abort()
            return "250 never seen"
        if args.mode == "slowdata":
            await asyncio.sleep(args.delay)
        state["n"] += 1
        n = state["n"]
        with open(os.path.join(out, "%d.eml" % n), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(out, "%d.rcpt" % n), "w") as f:
            f.write("".join(a + "\n" for a in envelope.rcpt_tos))
        return "250 2.0.0 Ok: queued as Q%d" % n


    async def _bearer(self, server, args, mech):
        if len(args) > 1:
            blob = base64.b64decode(args[1])
        else:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        user, want = args_bearer()
        fields = blob.split(b"\x01")
        if mech == "OAUTHBEARER":
            gs2 = fields[0].split(b",")
            login = gs2[1][2:] if len(gs2) > 1 and gs2[1].startswith(b"a=") else b""
        else:
            login = fields[0][5:] if fields[0].startswith(b"user=") else b""
        tok = b""
        for f in fields[1:]:
            if f.startswith(b"auth=Bearer "):
                tok = f[12:]
        with open(want) as f:
            valid = set(line.strip() for line in f if line.strip())
        ok = login == user.encode() and tok.decode("ascii", "replace") in valid
        event("AUTH %s %s tls=%s len=%d" % (mech, "ok" if ok else "bad", "yes" if session_tls(server) else "no", len(tok)))
        if ok:
            return AuthResult(success=True)
        # RFC 7628 3.2.2: an error challenge, the client's dummy response, then the failure.
        await server.challenge_auth(json.dumps({"status": "invalid_token", "schemes": "bearer"}))
        return AuthResult(success=False)

    async def auth_XOAUTH2(self, server, args):
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server, args):
        return await self._bearer(server, args, "OAUTHBEARER")


def args_bearer():
    user, path = args.bearer.split(":", 1)
    return user, path


def session_tls(server):
    return server.session.ssl is not None


class BigSMTP(SMTP):
    # A Microsoft-sized access token (about 1.5 KB) makes a 2 KB AUTH response line.
    line_length_limit = 16384


def authenticator(server, session, envelope, mechanism, auth_data):
    user, pw = args.auth.split(":", 1)
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == pw.encode()
    event("AUTH %s %s tls=%s" % (mechanism, "ok" if ok else "bad", "yes" if session.ssl else "no"))
    return AuthResult(success=ok)


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


class Greet421(asyncio.Protocol):
    def connection_made(self, transport):
        event("CONNECT")
        transport.write(b"421 4.3.2 Service not available, closing channel\r\n")
        transport.close()


def factory():
    kw = {"decode_data": False, "hostname": "test.example"}
    if args.auth:
        kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=(args.tls == "starttls"))
    if args.bearer:
        kw.update(auth_required=True, auth_require_tls=(args.tls == "starttls"))
        if not args.auth:
            kw.update(authenticator=lambda *a: AuthResult(success=False), auth_exclude_mechanism=["PLAIN", "LOGIN"])
    if args.tls == "starttls":
        kw.update(tls_context=tls_context(), require_starttls=True)
    return BigSMTP(Handler(), **kw)


async def main():
    loop = asyncio.get_running_loop()
    sslctx = tls_context() if args.tls == "implicit" else None
    proto = Greet421 if args.mode == "greet421" else factory
    srv = await loop.create_server(proto, "127.0.0.1", 0, ssl=sslctx)
    port = srv.sockets[0].getsockname()[1]
    tmp = os.path.join(out, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(out, "port"))
    async with srv:
        await srv.serve_forever()


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
