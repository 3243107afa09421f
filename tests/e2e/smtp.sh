#!/bin/sh
# Email over SMTP against a real server (aiosmtpd, tests/e2e/smtpd.py) on loopback: TLS modes,
# certificates, AUTH, reply codes and their outcomes, retries, crash marks, header injection.
. tests/e2e/lib.inc

if ! "$PY" -c 'import aiosmtpd' 2>/dev/null || ! have openssl; then
	echo "skip - aiosmtpd or openssl missing (scripts/deps.sh test)"
	exit 0
fi
db_start   # on pg: the script's server; each case below has a database of its own in it

# Certificates: a test CA and a server certificate for localhost/127.0.0.1 it signed, and a
# self-signed certificate for the same names that no configured CA vouches for.
C=$T/certs
mkdir -p "$C"
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$C/san.ext"
{
	openssl req -x509 $EC -keyout "$C/ca.key" -out "$C/ca.pem" -days 2 -subj /CN=occasiond-test-ca &&
	openssl req $EC -keyout "$C/srv.key" -out "$C/srv.csr" -subj /CN=localhost &&
	openssl x509 -req -in "$C/srv.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
		-extfile "$C/san.ext" -out "$C/srv.pem" &&
	openssl req -x509 $EC -keyout "$C/self.key" -out "$C/self.pem" -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
} >/dev/null 2>&1 || { not_ok "openssl made the test certificates"; exit 0; }

printf 's3cret-pass\n' > "$T/pw"
chmod 600 "$T/pw"

# Stakeholders: all with a 13 December occasion; some carry hostile names and addresses.
cat > "$T/people.csv" <<'EOF'
id,first_name,last_name,email,owner,owner_email
p1,Zoë,Łukasiewicz,zoe@example.com,Dana Ruiz,dana@acme.example
EOF
# The CSV importer refuses control characters and bad addresses itself; the same values
# are then written straight into the database (as another tool could) to test the sender.
cat > "$T/hostile.csv" <<'EOF'
id,first_name,last_name,email,owner,owner_email
h1,Eve,Smith,h1@example.com,,
h2,Mal,Jones,h2@example.com,,
h3,"Bcc: evil3@attacker.example, <evil3b@attacker.example>","Doe, ""Jr"" <x@attacker.example>",h3@example.com,,
h4,Ann,Lee,h4@example.com,,
h5,Bob,Ray,h5@example.com,,
h6,Cy,Fox,h6@example.com,,
h7,Di,Kim,h7@example.com,,
h8,"Eve
Bcc: evil8@attacker.example",Smith,h8@example.com,,
h9,Bob,Ray,"h9@example.com, evil9@attacker.example",,
EOF
# A template whose body has a line that is a single dot (SMTP's end-of-data, if unescaped).
mkdir -p "$T/tpl"
cp -R "$ROOT"/templates/. "$T/tpl/"
cat > "$T/tpl/note.email" <<'EOF'
Subject: A note for {{first_name}} {{last_name}}

Dear {{first_name}},
.
..two dots
The end.
EOF

# newcase NAME TLS URL-SCHEME EXTRA-SMTP-YAML [CSV] [RULE-EXTRA]: a fresh database and config in $T/NAME.
newcase() {
	D=$T/$1
	mkdir -p "$D"
	db_new "$D/var"
	cat > "$D/rules.yaml" <<EOR
occasions:
  - id: note
    when: {date: "12-13"}
    channel: email
    template: note
$6
EOR
	cat > "$D/occasiond.yaml" <<EOC
database: $(db_uri "$D/var")
spool: $D/var/spool
templates: $T/tpl
fonts: $ROOT/fonts
rules: rules.yaml
timezone: Europe/Berlin
send_window: "09:00-18:00"
organization: {name: Acme Corp}
mail:
  from: "Acme Team <team@acme.example>"
  transport: smtp
  smtp:
    url: $3://127.0.0.1:PORT
    tls: $2
    timeout: 2s
    rate_per_minute: 0
$4
  retry: {attempts: 3, first_delay: 1m, max_delay: 10m}
EOC
	CFG=$D/occasiond.yaml
	OCC import stakeholders "${5:-$T/people.csv}" >/dev/null 2>"$D/import.err"
}
AUTHCFG="    username: occasiond
    password_file: $T/pw
    ca_file: $C/ca.pem"

OCC() { "$OCCASIOND" -c "$CFG" "$@"; }
SRV_PID=
# server DIR ARGS...: starts smtpd.py writing into DIR/srv, puts its port into the config.
server() {
	sd=$1/srv
	shift
	rm -rf "$sd"
	mkdir -p "$sd"
	: > "$sd/events.log"
	"$PY" "$ROOT/tests/e2e/smtpd.py" "$sd" --cert "$C/srv.pem" --key "$C/srv.key" "$@" 2>"$sd/stderr" &
	SRV_PID=$!
	wait_for 30 test -s "$sd/port"   # a busy machine may take seconds to start Python
	PORT=$(cat "$sd/port" 2>/dev/null)
	sed -i "s/:PORT\$/:$PORT/; s/127\.0\.0\.1:[0-9]*\$/127.0.0.1:$PORT/" "$CFG"
}
stop() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=; }
trap 'stop; lib_exit' EXIT

# field RULE-STAKEHOLDER FIELD: one field of the dispatch record (log --format json).
field() {
	OCC log --format json 2>/dev/null | "$PY" -c '
import json, sys
for r in json.load(sys.stdin):
    if r["stakeholder"] == sys.argv[1]:
        v = r.get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}
AT=2026-12-13T10:00

# 1. STARTTLS + AUTH PLAIN: delivered, parsed back header by header.
newcase starttls starttls smtp "$AUTHCFG"
server "$D" --tls starttls --auth occasiond:s3cret-pass
OCC check > "$D/check.out" 2>&1
eq "check accepts the smtp config" "$?" 0
OCC check --smtp > "$D/check.out" 2>&1
eq "check --smtp with a password: exit 0" "$?" 0
check_out "check --smtp: AUTH PLAIN inside TLS" "AUTH PLAIN ok tls=yes" "$D/srv/events.log"
check_not "check --smtp: nothing sent" "MAIL " "$D/srv/events.log"
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "starttls: run exits 0" "$?" 0
eq "starttls: status sent" "$(field p1 status)" sent
check_out "starttls: EHLO again inside TLS" "tls=yes" "$D/srv/events.log"
check_out "starttls: AUTH PLAIN accepted, inside TLS" "AUTH PLAIN ok tls=yes" "$D/srv/events.log"
eq "starttls: envelope recipient" "$(cat "$D/srv/1.rcpt" 2>/dev/null)" "zoe@example.com"
check_out "starttls: MAIL FROM is the from address" "MAIL team@acme.example" "$D/srv/events.log"
"$PY" - "$D/srv/1.eml" > "$D/parsed" 2>&1 <<'PYEOF'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
print("crlf", b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""))
print("maxline", max(len(l) for l in raw.split(b"\r\n")))
for h in ["From", "To", "Reply-To", "Subject", "MIME-Version", "Message-ID"]:
    print(h + ":", m[h])
print("Date-ok:", m["Date"] is not None and m["Date"].datetime is not None)
print("headers:", ",".join(sorted(set(k.lower() for k in m.keys()))))
body = m.get_body(("plain",)).get_content()
print("dotline:", "\n.\n" in body.replace("\r\n", "\n"))
print("twodots:", "\n..two dots\n" in body.replace("\r\n", "\n"))
PYEOF
check_out "starttls: CRLF line ends only" "crlf True" "$D/parsed"
maxline=$(sed -n 's/^maxline //p' "$D/parsed")
check "starttls: no line over 78 characters ($maxline)" test "${maxline:-999}" -le 78
check_out "starttls: From" "From: Acme Team <team@acme.example>" "$D/parsed"
check_out "starttls: To with the UTF-8 name" "To: Zoë Łukasiewicz <zoe@example.com>" "$D/parsed"
check_out "starttls: Reply-To is the owner" "Reply-To: Dana Ruiz <dana@acme.example>" "$D/parsed"
check_out "starttls: Subject decoded" "Subject: A note for Zoë Łukasiewicz" "$D/parsed"
check_out "starttls: MIME-Version" "MIME-Version: 1.0" "$D/parsed"
check_out "starttls: Date parses" "Date-ok: True" "$D/parsed"
mid=$(field p1 message_id)
check_out "starttls: Message-ID from the dispatch id" "Message-ID: <$mid>" "$D/parsed"
check_out "starttls: a body line of a single dot survives" "dotline: True" "$D/parsed"
check_out "starttls: a body line starting with two dots survives" "twodots: True" "$D/parsed"
check_out "starttls: no header beyond the structured ones" \
	"headers: content-transfer-encoding,content-type,date,from,message-id,mime-version,reply-to,subject,to,x-occasiond-dispatch" "$D/parsed"
eq "starttls: last reply recorded" "$(field p1 last_reply)" "250 2.0.0 Ok: queued as Q1"
OCC run --once --at 2026-12-13T11:00 >/dev/null 2>&1
eq "starttls: a second run sends nothing again" "$(ls "$D/srv/" | grep -c '\.eml$')" 1
grep -q 's3cret-pass' "$D/run.out" "$D/run.err" && not_ok "the password never appears in the output" || ok "the password never appears in the output"
stop

# 2. Implicit TLS (smtps://).
newcase implicit implicit smtps "$AUTHCFG"
server "$D" --tls implicit --auth occasiond:s3cret-pass
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "implicit TLS: status sent" "$(field p1 status)" sent
check "implicit TLS: message received" test -s "$D/srv/1.eml"
stop

# 3. A server without STARTTLS: refused, no AUTH in plain text, nothing sent.
newcase notls starttls smtp "$AUTHCFG"
server "$D" --tls none --auth occasiond:s3cret-pass
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "no STARTTLS offered: status retry" "$(field p1 status)" retry
check_not "no STARTTLS offered: no AUTH sent in clear" "AUTH" "$D/srv/events.log"
check_not "no STARTTLS offered: no MAIL sent" "MAIL" "$D/srv/events.log"
stop

# 4. A certificate no configured CA signed: refused before anything is sent.
newcase badcert starttls smtp "$AUTHCFG"
"$PY" "$ROOT/tests/e2e/smtpd.py" "$D/srv" --cert "$C/self.pem" --key "$C/self.key" --tls starttls \
	--auth occasiond:s3cret-pass 2>/dev/null &
SRV_PID=$!
i=0; while [ ! -s "$D/srv/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sed -i "s/:PORT\$/:$(cat "$D/srv/port")/" "$CFG"
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "wrong certificate: status retry" "$(field p1 status)" retry
check_out "wrong certificate: the error says so" "certificate" "$D/run.err"
check_not "wrong certificate: no AUTH" "AUTH" "$D/srv/events.log"
stop

# 5. 421 at the greeting: retry.
newcase greet421 none smtp ""
server "$D" --tls none --mode greet421
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "421 greeting: status retry" "$(field p1 status)" retry
check_out "421 greeting: reply kept" "421 4.3.2" "$D/run.err"
eq "back-off: first retry after first_delay (1m)" "$(field p1 next_attempt_at)" "2026-12-13T10:01:00+01:00"
OCC run --once --at 2026-12-13T10:01 >/dev/null 2>&1
eq "back-off: second attempt counted" "$(field p1 attempts)" 2
eq "back-off: then doubled (2m)" "$(field p1 next_attempt_at)" "2026-12-13T10:03:00+01:00"
OCC run --once --at 2026-12-13T10:03 > "$D/run3.out" 2>&1
eq "back-off: attempts spent (3): failed" "$(field p1 status)" failed
check_out "back-off: the error says the attempts are spent" "3 attempts spent" "$D/run3.out"
eq "back-off: three connections in all" "$(grep -c '^CONNECT' "$D/srv/events.log")" 3
stop

# 6. 451 then success on the next attempt, after next_attempt_at.
newcase r451 none smtp ""
server "$D" --tls none --mode rcpt451once
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "451: status retry" "$(field p1 status)" retry
eq "451: attempts 1" "$(field p1 attempts)" 1
eq "451: last reply kept" "$(field p1 last_reply)" "451 4.3.0 Try again later"
eq "451: next attempt after first_delay" "$(field p1 next_attempt_at)" "2026-12-13T10:01:00+01:00"
mid1=$(field p1 message_id)
OCC run --once --at 2026-12-13T10:00:30 >/dev/null 2>&1
eq "451: not retried before next_attempt_at" "$(field p1 attempts)" 1
OCC run --once --at 2026-12-13T10:02 > "$D/run2.out" 2>"$D/run2.err"
eq "451: sent on the second attempt" "$(field p1 status)" sent
eq "451: attempts 2" "$(field p1 attempts)" 2
eq "451: one message received" "$(ls "$D/srv/" | grep -c '\.eml$')" 1
eq "451: the Message-ID is the same on the retry" "$(field p1 message_id)" "$mid1"
check_out "451: the message carries that Message-ID" "Message-ID: <$mid1>" "$D/srv/1.eml"
stop

# 6b. An email waiting to be retried for someone who opts out meanwhile is never sent.
newcase r451opt none smtp ""
server "$D" --tls none --mode rcpt451once
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "opt-out while waiting: first attempt is a retry" "$(field p1 status)" retry
OCC optout p1 > /dev/null 2>&1
OCC run --once --at 2026-12-13T10:02 > "$D/run2.out" 2>"$D/run2.err"
eq "opt-out while waiting: skipped, not sent" "$(field p1 status)" skipped
eq "... with the reason" "$(field p1 reason)" opted-out
eq "... and nothing reached the server" "$(ls "$D/srv/" | grep -c '\.eml$')" 0
eq "... nor the attempt counted again" "$(field p1 attempts)" 1
stop

# 7. 550: failed after one attempt, never retried.
newcase r550 none smtp ""
server "$D" --tls none --mode rcpt550
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "550: run exits 1" "$?" 1
eq "550: status failed" "$(field p1 status)" failed
eq "550: one attempt" "$(field p1 attempts)" 1
check_out "550: error has the reply" "550 5.1.1" "$D/run.err"
OCC run --once --at 2026-12-13T12:00 >/dev/null 2>&1
eq "550: not tried again" "$(grep -c '^RCPT' "$D/srv/events.log")" 1
stop

# 8. Connection dropped after the data: unknown, and not sent again by the next run.
newcase drop none smtp ""
server "$D" --tls none --mode dropafterdata
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "dropped after DATA: status unknown" "$(field p1 status)" unknown
check_out "dropped after DATA: the summary says unknown" "1 unknown" "$D/run.out"
OCC run --once --at 2026-12-13T12:00 >/dev/null 2>&1
OCC run --once --at 2026-12-13T16:00 >/dev/null 2>&1
eq "dropped after DATA: never resent" "$(grep -c '^DATA' "$D/srv/events.log")" 1
eq "dropped after DATA: still unknown" "$(field p1 status)" unknown
stop

# 9. A slow server (no answer within the timeout): retry.
newcase slow none smtp ""
server "$D" --tls none --mode slowrcpt --delay 20
t0=$(date +%s)
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
t1=$(date +%s)
eq "slow server: status retry" "$(field p1 status)" retry
check "slow server: gave up long before the server answered (timeout 2s)" test $((t1 - t0)) -lt 12
check_out "slow server: timeout in the error" "imeout" "$D/run.err"
stop

# 10. A pass that died while a message was in flight: data_sent -> unknown, else retry.
newcase crash none smtp ""
server "$D" --tls none
OCC run --once --at $AT >/dev/null 2>&1
db_sql "UPDATE dispatches SET status='queued', data_sent=1" "$D/var"
db_lease_expire "$D/var"
OCC run --once --at 2026-12-13T10:05 >/dev/null 2>&1
eq "crash with data out: unknown on recovery" "$(field p1 status)" unknown
eq "crash with data out: not resent" "$(ls "$D/srv/" | grep -c '\.eml$')" 1
db_sql "UPDATE dispatches SET status='queued', data_sent=0" "$D/var"
db_lease_expire "$D/var"
OCC run --once --at 2026-12-13T10:06 >/dev/null 2>&1
eq "crash before data: retried and sent" "$(field p1 status)" sent
eq "crash before data: sent once more" "$(ls "$D/srv/" | grep -c '\.eml$')" 2
stop

# 11. Injection: hostile names and addresses never add a header or a recipient.
newcase inject none smtp ""
OCC import stakeholders --skip-invalid "$T/hostile.csv" > "$D/import.out" 2>&1
check_out "injection: the importer refuses a CR/LF in a name" "hostile.csv:9: error: column first_name: holds a control character" "$D/import.out"
check_out "injection: the importer refuses an address list" "hostile.csv:11: error: column email" "$D/import.out"
CRLF="$SQL_CR || $SQL_LF"
db_sql - "$D/var" <<EOSQL
UPDATE stakeholders SET first_name = 'Eve' || $CRLF || 'Bcc: evil1@attacker.example' WHERE id = 'h1';
UPDATE stakeholders SET first_name = 'Mal' || $CRLF || '.' || $CRLF || 'RCPT TO:<evil2@attacker.example>' WHERE id = 'h2';
UPDATE stakeholders SET email = 'h4@example.com' || $CRLF || 'RCPT TO:<evil4@attacker.example>' WHERE id = 'h4';
UPDATE stakeholders SET email = 'h5@example.com, evil5@attacker.example' WHERE id = 'h5';
UPDATE stakeholders SET email = '<evil6@attacker.example>' WHERE id = 'h6';
UPDATE stakeholders SET email = 'h7@example.com>' || $SQL_LF || 'Bcc: evil7@attacker.example' WHERE id = 'h7';
EOSQL
server "$D" --tls none
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
cat "$D/srv/"*.rcpt > "$D/all.rcpt" 2>/dev/null
check_not "injection: no attacker address in any RCPT TO" "attacker" "$D/srv/events.log"
check_not "injection: no attacker recipient received" "attacker" "$D/all.rcpt"
for f in "$D/srv/"*.eml; do
	[ -f "$f" ] || continue
	"$PY" - "$f" >> "$D/hdrs" <<'PYEOF'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
print("keys:", ",".join(sorted(set(k.lower() for k in m.keys()))))
print("to-count:", len(m["To"].addresses))
PYEOF
done
check_not "injection: no Bcc header in any message" "bcc" "$D/hdrs"
check_not "injection: To never holds two addresses" "to-count: 2" "$D/hdrs"
eq "injection: h3 (specials, no controls) is delivered to its own address only" "$(grep -l h3@example.com "$D/srv/"*.rcpt 2>/dev/null | xargs cat 2>/dev/null)" "h3@example.com"
for s in h1 h2 h4 h5 h6 h7; do
	st=$(field $s status)
	case "$st" in failed|skipped) ok "injection: $s refused ($st)" ;; *) not_ok "injection: $s refused (got '$st')" ;; esac
done
stop

# 12. attach_card: the card as its own PDF attachment in multipart/mixed.
newcase attach none smtp "" "" "    attach_card: true"
sed -i 's/template: note/template: birthday/' "$D/rules.yaml"
server "$D" --tls none
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "attach_card: status sent" "$(field p1 status)" sent
"$PY" - "$D/srv/1.eml" "$D/card.pdf" > "$D/att" 2>&1 <<'PYEOF'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
print("type:", m.get_content_type())
atts = list(m.iter_attachments())
print("attachments:", len(atts))
for a in atts:
    print("att-type:", a.get_content_type(), a.get_filename())
    open(sys.argv[2], "wb").write(a.get_content())
print("alternative:", any(p.get_content_type() == "multipart/alternative" for p in m.walk()))
PYEOF
check_out "attach_card: multipart/mixed" "type: multipart/mixed" "$D/att"
check_out "attach_card: one application/pdf attachment" "att-type: application/pdf note.pdf" "$D/att"
check_out "attach_card: the text and HTML alternative kept" "alternative: True" "$D/att"
check "attach_card: the attachment passes qpdf --check" qpdf --check "$D/card.pdf"
if have pdftotext; then
	pdftotext "$D/card.pdf" "$D/card.txt" 2>/dev/null
	check_out "attach_card: the card names the stakeholder" "Zoë" "$D/card.txt"
fi
check "attach_card: no temporary card file left" test -z "$(ls -A "$D/var/spool/tmp" 2>/dev/null)"
stop

# 13. password_file readable by others: check refuses it, run sends nothing.
newcase pwmode starttls smtp "$AUTHCFG"
chmod 644 "$T/pw"
OCC check > "$D/check.out" 2>&1
eq "password_file 0644: check fails" "$?" 1
check_out "password_file 0644: the error names the line and the mode" "occasiond.yaml:18:20: error: password_file:" "$D/check.out"
chmod 600 "$T/pw"

# 14. Several connections: 30 stakeholders, each message sent exactly once, every record sent.
{
	echo "id,first_name,last_name,email,owner,owner_email"
	i=1; while [ $i -le 30 ]; do echo "m$i,Name$i,Ünïcode,m$i@example.com,,"; i=$((i + 1)); done
} > "$T/many.csv"
newcase multi none smtp "    connections: 4" "$T/many.csv"
server "$D" --tls none
OCC run --once --at $AT > "$D/run.out" 2>"$D/run.err"
eq "4 connections: run exits 0" "$?" 0
eq "4 connections: 30 messages received" "$(ls "$D/srv/" | grep -c '\.eml$')" 30
eq "4 connections: 30 distinct recipients" "$(cat "$D/srv/"*.rcpt | sort -u | wc -l)" 30
eq "4 connections: 30 records sent, each with data_sent" \
	"$(db_sql "SELECT count(*) FROM dispatches WHERE status = 'sent' AND data_sent = 1 AND attempts = 1" "$D/var")" 30
check "4 connections: more than one connection was used" test "$(grep -c '^EHLO' "$D/srv/events.log")" -gt 1
stop

# 15. A real crash (kill -9) while a message is in flight.
# kill_when CASE MODE EVENT: a run against a server stalling 30 s in MODE, killed with
# SIGKILL once the server has logged EVENT (a regex).
kill_when() {
	newcase "$1" none smtp ""
	sed -i 's/timeout: 2s/timeout: 20s/' "$CFG"
	server "$D" --tls none --mode "$2" --delay 30
	"$OCCASIOND" -c "$CFG" run --once --at $AT > "$D/run.out" 2>&1 &
	RUN_PID=$!
	wait_for 15 grep -q "$3" "$D/srv/events.log"
	kill -9 "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
	db_lease_expire "$D/var"   # PostgreSQL: as if the killed pass's lease had run out
}
# After the whole message went out, before the server's reply: unknown, never sent again.
kill_when kill1 slowdata '^DATA'
eq "killed after the data: the record was queued with data_sent" \
	"$(db_sql "SELECT status || ',' || data_sent FROM dispatches" "$D/var")" "queued,1"
stop
server "$D" --tls none
OCC run --once --at 2026-12-13T10:30 >/dev/null 2>&1
eq "killed after the data: unknown on the next start" "$(field p1 status)" unknown
OCC run --once --at 2026-12-13T11:30 >/dev/null 2>&1
check_not "killed after the data: never sent again" "MAIL" "$D/srv/events.log"
stop
# Before the data (waiting for the RCPT reply): retry, sent once on the next start.
kill_when kill2 slowrcpt '^RCPT'
eq "killed before the data: the record was queued without data_sent" \
	"$(db_sql "SELECT status || ',' || data_sent FROM dispatches" "$D/var")" "queued,0"
stop
server "$D" --tls none
OCC run --once --at 2026-12-13T10:30 >/dev/null 2>&1
eq "killed before the data: sent on the next start" "$(field p1 status)" sent
eq "killed before the data: exactly one message received" "$(ls "$D/srv/" | grep -c '\.eml$')" 1
stop

# Signer reminders over SMTP: one per batch, to the signer's address, never twice.
newcase remind none smtp "" "$T/people.csv" "  - id: card-note
    when: {date: \"12-23\"}
    channel: card
    template: birthday"
cat >> "$CFG" <<'EOC'
cards:
  signing: 2 business days
  transit: 3 business days
  remind_signers: true
EOC
printf 'id,first_name,last_name,email,owner,owner_email,street,city,country\np1,Zoë,Łukasiewicz,zoe@example.com,Dana Ruiz,dana@acme.example,1 Main St,Springfield,USA\n' > "$D/card.csv"
OCC import stakeholders "$D/card.csv" >/dev/null 2>&1
server "$D" --tls none
OCC run --once --at 2026-12-16T10:00 > "$D/run.out" 2>&1
n=$(grep -l "dana@acme.example" "$D"/srv/*.rcpt 2>/dev/null | wc -l)
eq "the signer's reminder goes over SMTP to the signer" "$n" 1
f=$(grep -l "dana@acme.example" "$D"/srv/*.rcpt 2>/dev/null | head -1)
"$PY" -c "
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(m.get_payload(decode=True).decode())" "${f%.rcpt}.eml" > "$D/remind.txt" 2>&1
check_out "the reminder names the batch file" "Dana_Ruiz.pdf" "$D/remind.txt"
check_out "and the card's recipient" "Zoë Łukasiewicz" "$D/remind.txt"
OCC run --once --at 2026-12-16T11:00 > "$D/run2.out" 2>&1
n=$(grep -l "dana@acme.example" "$D"/srv/*.rcpt 2>/dev/null | wc -l)
eq "a later pass with nothing new sends no second reminder" "$n" 1
eq "nothing goes to the maildir" "$(ls "$D/var/spool/outbox/new" 2>/dev/null | wc -l)" 0
# The store's record of sent reminders unreadable (its table gone): an error is not "never
# sent", so nothing goes out again; the pass stops with a message naming the store.
db_sql "ALTER TABLE meta RENAME TO meta_gone" "$D/var"
OCC run --once --at 2026-12-16T12:00 > "$D/run3.out" 2>&1; rc=$?
eq "the store cannot be read: the pass fails" "$rc" 1
# SQLite keeps the schema version in the file's header, so the pass stops at the integrity
# check; PostgreSQL keeps it in meta, so the store is refused at opening as not occasiond's.
why=": cannot"
[ "$BACKEND" = pg ] && why=": schema occasiond has tables but no meta table"
check_out "and says why, naming the store" "store: $(db_uri "$D/var")$why" "$D/run3.out"
n=$(grep -l "dana@acme.example" "$D"/srv/*.rcpt 2>/dev/null | wc -l)
eq "and no reminder goes out again" "$n" 1
stop

# A slow SMTP server does not starve systemd's watchdog: serve keeps sending WATCHDOG=1 while
# one message takes 4 s to be answered (util_keepalive from libcurl's progress callback).
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [ -n "$FT" ]; then
	case "$OCCASIOND" in *san*) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"; export ASAN_OPTIONS ;; esac
	newcase watchdog none smtp ""
	sed -i 's/timeout: 2s/timeout: 20s/' "$CFG"
	server "$D" --tls none --mode slowdata --delay 4
	"$PY" "$ROOT/tests/e2e/notify_listen.py" "$D/notify.sock" "$D/notify.log" &
	NP=$!
	wait_for 5 test -S "$D/notify.sock"
	NOTIFY_SOCKET="$D/notify.sock" WATCHDOG_USEC=2000000 TZ=UTC FAKETIME="@2026-12-13 09:00:00" \
		sh -c 'WATCHDOG_PID=$$ LD_PRELOAD="$0" exec "$@"' "$FT" "$OCCASIOND" -c "$CFG" serve 2> "$D/serve.err" &
	WP=$!
	wait_for 15 has_line "STATUS=" "$D/notify.log"
	kill -TERM "$WP"; wait "$WP" 2>/dev/null
	kill "$NP" 2>/dev/null; wait "$NP" 2>/dev/null
	kicks=$(sed '/STATUS=/q' "$D/notify.log" | grep -c "WATCHDOG=1")
	[ "$kicks" -ge 3 ] && ok "WATCHDOG=1 keeps coming (WatchdogSec 2 s) during a 4 s SMTP reply ($kicks kicks before the pass ended)" \
		|| { not_ok "WATCHDOG=1 during a slow SMTP reply ($kicks kicks)"; sed 's/^/#   /' "$D/notify.log" | head; }
	eq "the slow message is sent" "$(field p1 status)" sent
	stop
else
	echo "skip - libfaketime missing: the watchdog under a slow server is not checked"
fi

# No password in any log line, debug included, nor in the records, also when AUTH fails.
newcase secret starttls smtp "$AUTHCFG"
server "$D" --tls starttls --auth occasiond:s3cret-pass
"$OCCASIOND" -v -c "$CFG" run --once --at $AT > "$D/v.out" 2>&1
stop
printf 'wrong-pass\n' > "$T/pw"
server "$D" --tls starttls --auth occasiond:s3cret-pass
newcase secret2 starttls smtp "$AUTHCFG"
sed -i "s/:PORT\$/:$PORT/" "$CFG"
"$OCCASIOND" -v -c "$CFG" run --once --at $AT >> "$D/v.out" 2>&1
OCC log --format json >> "$D/v.out" 2>&1
stop
printf 's3cret-pass\n' > "$T/pw"
check_not "the password never appears in the log (with -v), nor in a record" "s3cret-pass" "$D/v.out"
check_not "nor the wrong one after a failed AUTH" "wrong-pass" "$D/v.out"

# Throttling: a server answering 451 4.7.28 to every third MAIL FROM. Every message is sent
# once, none spends an attempt on it, and the log says the pace went down.
{
	echo "id,first_name,last_name,email"
	for i in 1 2 3 4 5 6 7 8 9; do echo "t$i,Tia,Number$i,t$i@example.com"; done
} > "$T/nine.csv"
newcase throttle none smtp "" "$T/nine.csv"
sed -i 's|^  from: .*|&\n  unsubscribe: "https://acme.example/unsubscribe?list=notes"|' "$CFG"
server "$D" --tls none --mode throttle3
"$OCCASIOND" -v -c "$CFG" run --once --at $AT > "$D/run.out" 2> "$D/run.err"
eq "throttled: run exits 0" "$?" 0
eq "throttled: all nine sent" "$(db_sql "select count(*) from dispatches where status='sent'" "$D/var")" 9
eq "throttled: each exactly once at the server" "$(cat "$D"/srv/*.rcpt | sort | uniq -d | wc -l) $(ls "$D"/srv/*.eml | wc -l)" "0 9"
eq "throttled: one attempt each" "$(db_sql "select max(attempts) from dispatches" "$D/var")" 1
check_out "throttled: the slower pace is logged" "the server throttles (451 4.7.28" "$D/run.err"
check_out "... with the new rate" "pace slowed to" "$D/run.err"
stop
check_out "mail.unsubscribe: List-Unsubscribe on the message" "List-Unsubscribe: <https://acme.example/unsubscribe?list=notes>" "$D/srv/1.eml"
check_out "... and RFC 8058 one-click for an https URL" "List-Unsubscribe-Post: List-Unsubscribe=One-Click" "$D/srv/1.eml"

# optout: by id and by email (any case); an unknown one is an error naming it.
OCC optout t1 T2@EXAMPLE.COM > "$D/optout.out" 2> "$D/optout.err"
eq "optout: exit 0" "$?" 0
eq "optout: both marked at once" "$(db_sql "select id from stakeholders where opted_out='1' order by id" "$D/var" | paste -sd,)" "t1,t2"
OCC optout nobody > "$D/optout.out" 2> "$D/optout.err"
eq "optout unknown: exit 1" "$?" 1
check_out "optout unknown: said" "no stakeholder with the id or email 'nobody'" "$D/optout.err"
sed -i 's|^  unsubscribe: .*|  unsubscribe: "http://acme.example/u"|' "$CFG"
OCC check > "$D/check.out" 2>&1
check_out "mail.unsubscribe: http (not https or mailto) refused" "unsubscribe: expected mailto:ADDRESS or an https:// URL" "$D/check.out"
