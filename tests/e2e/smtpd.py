"""A real SMTP server on loopback for tests/e2e/smtp.sh (aiosmtpd; run with /usr/bin/python3).

usage: smtpd.py OUTDIR [--tls starttls|implicit|none] [--cert PEM --key KEY]
                       [--auth USER:PASS] [--mode MODE] [--delay SECS]

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
"""
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
args = ap.parse_args()
out = args.outdir
os.makedirs(out, exist_ok=True)
state = {"n": 0, "rcpt451": 0}


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
    if args.tls == "starttls":
        kw.update(tls_context=tls_context(), require_starttls=True)
    return SMTP(Handler(), **kw)


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
