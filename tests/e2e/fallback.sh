#!/bin/sh
# `fallback: email` for a card that cannot be drawn (no font has a character of the name, a
# template broken since it was checked): the pass sends the email instead, once, and its
# record says why; the other cards of the batch go on. Without `fallback`, or without an
# address, the card fails as before. Crash rules: a pass killed while that email is going out
# over SMTP leaves it queued, and the next pass sends it, once.
. tests/e2e/lib.inc
setup
# fontconfig sees one empty directory of the test's own: no font has U+1FAE0.
mkdir -p "$T/sysfonts"
printf '<?xml version="1.0"?>\n<fontconfig><dir>%s</dir><cachedir>%s</cachedir></fontconfig>\n' \
	"$T/sysfonts" "$T/fccache" > "$T/fonts.conf"
export FONTCONFIG_FILE="$T/fonts.conf"

mkdir -p "$T/templates"
cp "$ROOT"/templates/birthday.* "$ROOT"/templates/thank-you.* "$ROOT"/templates/*.mustache "$T/templates/"
cp -R "$ROOT/templates/images" "$T/templates/"
sed -i "s|^templates: .*|templates: $T/templates|" "$CFG"
cat > "$T/etc/fb.yaml" <<'EOF'
occasions:
  - id: bday
    name: Birthday
    when: {anniversary_of: birthday}
    lead: 10 days
    channel: card
    fallback: email
    template: birthday
    audience: {type: customer}
  - id: bday-plain
    name: Birthday
    when: {anniversary_of: birthday}
    lead: 10 days
    channel: card
    template: birthday
    audience: {type: partner}
  - id: thanks
    name: Thank you
    when: {anniversary_of: customer_since}
    lead: 10 days
    channel: card
    fallback: email
    template: thank-you
EOF
sed -i 's/^rules: .*/rules: fb.yaml/' "$CFG"
printf '  remind_signers: false\n' >> "$CFG"
# f1 and f4 cannot be drawn; f1 has fallback and an address, f3 has no address, f4 no
# fallback; f2's card is fine. f5's thank-you card meets a template broken after the check.
cat > "$T/people.csv" <<'EOF'
id,first_name,last_name,type,email,owner,street,city,postal_code,country,birthday,customer_since
f1,Ada 🫠,Lovelace,customer,ada@example.org,Dana Ruiz,1 Main St,Springfield,62701,USA,1980-12-13,
f2,Zoë,Łukasiewicz,customer,zoe@example.org,Dana Ruiz,ul. Mokotowska 12,Warszawa,00-561,Poland,1984-12-13,
f3,Bob 🫠,Nomail,customer,,Dana Ruiz,2 Main St,Springfield,62701,USA,1981-12-13,
f4,Cy 🫠,Partner,partner,cy@example.org,Dana Ruiz,3 Main St,Springfield,62701,USA,1982-12-13,
f5,Eve,Thanks,customer,eve@example.org,Dana Ruiz,4 Main St,Springfield,62701,USA,,2010-12-13
EOF
OCC import stakeholders "$T/people.csv" > "$T/import.out" 2>&1
eq "import five stakeholders" "$?" 0
OCC check > "$T/check.out" 2>&1
eq "check passes (every template is sound now)" "$?" 0
# The thank-you card's image goes away after the check (a template broken since).
sed -i 's|file: images/flourish-teal.png|file: images/gone.png|' "$T/templates/thank-you.card.yaml"

# rec ID FIELD...: fields of the stakeholder's last record (log --format json), | joined.
rec() {
	id=$1
	shift
	OCC log --stakeholder "$id" --format json | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
print("|".join(str(r[-1].get(k) if r else "") for k in sys.argv[1:]))' "$@"
}
# to_count ADDR: messages in the outbox addressed to ADDR.
to_count() { grep -l "^To: .*<$1>" "$T"/var/spool/outbox/new/* 2>/dev/null | wc -l; }

OCC run --once --at 2026-12-03T10:00 > "$T/run1" 2> "$T/run1.err"; rc=$?
eq "run --once exits 1 (two cards failed: no fallback, no address)" "$rc" 1
check_out "the summary counts the card, the two emails and the two failures" \
	"1 card in 1 batch, 2 emails, 0 skipped, 0 missed, 0 to retry, 2 failed" "$T/run1"
check_out "the log says the card goes as an email, and why" \
	"stakeholder=f1: the card cannot be drawn, so it goes as an email (fallback: email): no font has U+1FAE0" "$T/run1.err"
eq "f1: an email, sent" "$(rec f1 channel status)" "email|sent"
rec f1 reason > "$T/r1"
check_out "f1's record's reason says the card was not drawn" "card not drawn:" "$T/r1"
check_out "and names the character no font has" "U+1FAE0" "$T/r1"
eq "f1: one message in the outbox" "$(to_count ada@example.org)" 1
f1=$(grep -l "^To: .*<ada@example.org>" "$T"/var/spool/outbox/new/* | head -1)
check "it is the birthday email, without a PDF" sh -c "grep -q '^Subject: Happy birthday' '$f1' && ! grep -q 'application/pdf' '$f1'"
eq "f5: the broken template's card went as an email" "$(rec f5 channel status)" "email|sent"
rec f5 reason > "$T/r5"
check_out "and its reason names the missing image" "gone.png" "$T/r5"
eq "f5: one message in the outbox" "$(to_count eve@example.org)" 1
eq "f2: the sound card is rendered on page 2" "$(rec f2 channel status page)" "card|rendered|2"
eq "f3 (no address): the card failed, as without fallback" "$(rec f3 channel status)" "card|failed"
eq "f4 (no fallback): the card failed" "$(rec f4 channel status)" "card|failed"
rec f4 error > "$T/r4"
check_out "its error names the character" "U+1FAE0" "$T/r4"
B="$T/var/spool/batches/2026-12-03/Dana_Ruiz.pdf"
if have pdftotext; then
	pdftotext "$B" "$T/batch.txt" 2>/dev/null
	check_out "the batch holds one card" "· 1 card ·" "$T/batch.txt"
	check_out "f2's" "Zoë Łukasiewicz" "$T/batch.txt"
	check_not "no card page for the ones that went by email" "Lovelace" "$T/batch.txt"
fi
OCC log > "$T/log.table" 2>&1
check_out "log (a table) shows the reason" "card not drawn:" "$T/log.table"

# Again at the same time, and later the same day: nothing goes twice.
OCC run --once --at 2026-12-03T10:00 > "$T/run2" 2>&1
OCC run --once --at 2026-12-03T16:00 >> "$T/run2" 2>&1
check_not "later passes send nothing more" "1 email" "$T/run2"
eq "still one message to f1" "$(to_count ada@example.org)" 1
eq "one record each for f1 and f5" "$(sql "$T/var/occasiond.db" "SELECT count(*) FROM dispatches WHERE stakeholder IN ('f1','f5')")" 2

# A card past its mail-by date goes as an email too, and its record says so.
printf 'id,first_name,last_name,type,email,street,city,country,birthday\nf6,Max,Late,customer,max@example.org,5 Main St,Springfield,USA,1985-12-14\n' > "$T/f6.csv"
OCC import stakeholders "$T/f6.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-12T10:00 > /dev/null 2>&1
eq "f6 (too late to post): an email, sent, with its reason" "$(rec f6 channel status reason)" "email|sent|card too late to post"

# The crash rules: killed while the fallback email waits on the server's RCPT reply, the
# pass leaves it queued (nothing reached the server); the next pass sends it, once.
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	not_ok "python3-aiosmtpd is needed"
	exit 0
fi
SRV_PID=
stop_srv() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=; }
trap 'stop_srv; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT
# server DIR MODE: smtpd.py on a free port, the config pointed at it.
server() {
	stop_srv
	mkdir -p "$1"
	"$PY" "$ROOT/tests/e2e/smtpd.py" "$1" --tls none --mode "$2" --delay 120 2> "$1.err" &
	SRV_PID=$!
	wait_for 60 test -s "$1/port"
	sed -i "/^  transport:/,\$d" "$CFG"
	printf '  transport: smtp\n  smtp: {url: "smtp://127.0.0.1:%s", tls: none, timeout: 300s, rate_per_minute: 0}\n' \
		"$(cat "$1/port")" >> "$CFG"
}
rm -rf "$T/var"
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
cp "$ROOT/templates/thank-you.card.yaml" "$T/templates/"
server "$T/srv1" slowrcpt
"$OCCASIOND" -c "$CFG" run --once --at 2026-12-03T10:00 > "$T/run3" 2>&1 &
pid=$!
wait_for 120 grep -q '^RCPT' "$T/srv1/events.log"
eq "the fallback email reached RCPT" "$?" 0
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
eq "killed there, f1's record is a queued email that says why" \
	"$(sql "$T/var/occasiond.db" "SELECT channel, status, data_sent, substr(reason, 1, 14) FROM dispatches WHERE stakeholder = 'f1'")" \
	"email|queued|0|card not drawn"
server "$T/srv2" ok
OCC run --once --at 2026-12-03T10:05 > "$T/run4" 2> "$T/run4.err"
eq "the next pass sends it" "$(rec f1 channel status)" "email|sent"
OCC run --once --at 2026-12-03T10:10 > /dev/null 2>&1
n=$(grep -l 'ada@example.org' "$T"/srv1/*.eml "$T"/srv2/*.eml 2>/dev/null | wc -l)
eq "the servers got f1's email once" "$n" 1
rec f1 reason > "$T/r6"
check_out "its reason is kept" "card not drawn:" "$T/r6"

# A long-running serve finds a font installed after it started: the card that failed for it
# is retried (`retry` changes the store, which wakes serve for a pass) and now renders.
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
CJK=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
if [ -z "$FT" ] || [ ! -e "$CJK" ]; then
	not_ok "serve and a new font: libfaketime and fonts-noto-cjk are needed"
	exit 0
fi
case "$OCCASIOND" in *san*) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS ;; esac
stop_srv
rm -rf "$T/var"
sed -i "/^  transport:/,\$d" "$CFG"
printf '  transport: maildir\n' >> "$CFG"
printf 'occasions:\n  - {id: srv, when: {anniversary_of: birthday}, lead: 10 days, channel: card, template: birthday}\n' \
	> "$T/etc/srv.yaml"
sed -i 's/^rules: .*/rules: srv.yaml/' "$CFG"
printf 'id,first_name,last_name,country,type,owner,birthday\ns1,太郎,山田,Japan,customer,Dana Ruiz,1970-12-13\n' > "$T/s1.csv"
OCC import stakeholders "$T/s1.csv" > /dev/null 2>&1
TZ=UTC FAKETIME="@2026-12-03 10:00:00" LD_PRELOAD="$FT" "$OCCASIOND" -v -c "$CFG" serve 2> "$T/serve.log" &
SP=$!
trap 'kill $SP 2>/dev/null; stop_srv; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT
status_is() { [ "$(rec s1 status)" = "$1" ]; }
wait_for 120 status_is failed
eq "serve: without a CJK font the card fails" "$(rec s1 status)" failed
ln -s "$CJK" "$T/sysfonts/"
OCC retry --status failed > /dev/null 2>&1
wait_for 120 status_is rendered
eq "once the font is installed, serve renders the retried card without a restart" "$(rec s1 status)" rendered
kill -TERM "$SP"
wait "$SP"
eq "serve stops cleanly" "$?" 0
