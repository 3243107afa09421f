#!/bin/sh
# SMTP with OAuth2 against real local servers: aiosmtpd with STARTTLS offering XOAUTH2 and
# OAUTHBEARER (tests/e2e/smtpd.py --bearer) and an HTTPS token endpoint (tests/e2e/tokend.py)
# that issues, expires, rotates and revokes tokens. The first token, rotation written back,
# invalid_grant, the endpoint down, slow, junk or huge, token_command, check --smtp; under
# serve: expiry between two passes, a token refused then refreshed, the watchdog fed while
# the endpoint is slow. No token in any log line or record.
. tests/e2e/lib.inc

if ! "$PY" -c 'import aiosmtpd' 2>/dev/null || ! have openssl; then
	echo "skip - aiosmtpd or openssl missing (scripts/deps.sh test)"
	exit 0
fi
case "$OCCASIOND" in *san*) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"; export ASAN_OPTIONS ;; esac

C=$T/certs
mkdir -p "$C"
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$C/san.ext"
{
	openssl req -x509 $EC -keyout "$C/ca.key" -out "$C/ca.pem" -days 2 -subj /CN=occasiond-test-ca &&
	openssl req $EC -keyout "$C/srv.key" -out "$C/srv.csr" -subj /CN=localhost &&
	openssl x509 -req -in "$C/srv.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
		-extfile "$C/san.ext" -out "$C/srv.pem"
} >/dev/null 2>&1 || { not_ok "openssl made the test certificates"; exit 0; }

USER=occasiond@acme.example
TK=$T/tok
SV=$T/srv
mkdir -p "$TK" "$SV"
: > "$TK/valid"
printf 'rt-first-%s\n' "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" > "$T/rt"
chmod 600 "$T/rt"
cp "$T/rt" "$T/rt.first"
tr -d '\n' < "$T/rt" > "$TK/refresh"
: > "$SV/events.log"
SP= KP= TP= NP=
trap 'kill $SP $KP $TP $NP 2>/dev/null; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT
"$PY" "$ROOT/tests/e2e/tokend.py" "$TK" --cert "$C/srv.pem" --key "$C/srv.key" 2>"$TK/stderr" &
TP=$!
"$PY" "$ROOT/tests/e2e/smtpd.py" "$SV" --cert "$C/srv.pem" --key "$C/srv.key" --bearer "$USER:$TK/valid" \
	2>"$SV/stderr" &
KP=$!
wait_for 20 test -s "$TK/port" && wait_for 20 test -s "$SV/port" || { not_ok "test servers started"; exit 0; }
TPORT=$(cat "$TK/port")
SPORT=$(cat "$SV/port")

mkdir -p "$T/etc"
cat > "$T/etc/rules.yaml" <<'EOF'
occasions:
  - id: note
    when: {date: "12-10"}
    lead: 7 days
    channel: email
    template: thank-you
EOF
# conf NAME AUTH-YAML: a fresh config and database in $T/NAME; CFG names it.
conf() {
	D=$T/$1
	mkdir -p "$D"
	cat > "$D/occasiond.yaml" <<EOC
database: $D/occasiond.db
spool: $D/spool
templates: $ROOT/templates
fonts: $ROOT/fonts
rules: $T/etc/rules.yaml
timezone: Europe/Berlin
organization: {name: Acme Corp}
mail:
  from: "Acme Team <team@acme.example>"
  transport: smtp
  smtp:
    url: smtp://127.0.0.1:$SPORT
    ca_file: $C/ca.pem
    username: $USER
    timeout: 2s
    rate_per_minute: 0
$2
  retry: {attempts: 1, first_delay: 1m, max_delay: 10m}
EOC
	CFG=$D/occasiond.yaml
}
OAUTH="    auth: xoauth2
    oauth2:
      token_url: https://127.0.0.1:$TPORT/token
      client_id: cid-123
      refresh_token_file: $T/rt
      scope: \"https://outlook.office.com/SMTP.Send offline_access\"
      ca_file: $C/ca.pem"
OCC() { "$OCCASIOND" -c "$CFG" "$@"; }
people() { printf 'id,first_name,last_name,email\n%s,Ann,Lee,%s@example.com\n' "$1" "$1" > "$T/p.csv"; OCC import stakeholders "$T/p.csv" >/dev/null 2>&1; }
field() { sql "$D/occasiond.db" "select $2 from dispatches where stakeholder='$1'"; }
mode() { printf '%s\n' "$1" > "$TK/mode"; }
AT=2026-12-03T10:00
# once NAME AUTH-YAML: a fresh case with one stakeholder (a1), run once with -v.
once() { conf "$1" "$2"; people a1; "$OCCASIOND" -v -c "$CFG" run --once --at $AT > "$D/run.out" 2> "$D/run.err"; }
issued() { grep -c '^issued' "$TK/requests.log" 2>/dev/null || echo 0; }

# 1. The first token: fetched, XOAUTH2 inside TLS with a 1,500-byte token, the mail goes out.
mode ok
OCC_CHECK=
conf check "$OAUTH"
OCC check --smtp > "$D/check.out" 2>&1
eq "check --smtp: exit 0" "$?" 0
check_out "check --smtp: says it logged in" "logged in to smtp://127.0.0.1:$SPORT" "$D/check.out"
check_not "check --smtp: no message sent" "MAIL " "$SV/events.log"
check_out "check --smtp: AUTH XOAUTH2 accepted inside TLS" "AUTH XOAUTH2 ok tls=yes len=1500" "$SV/events.log"
check_out "the token request names the client and the scope" \
	"issued client_id=cid-123 scope=https://outlook.office.com/SMTP.Send offline_access" "$TK/requests.log"
once first "$OAUTH"
eq "first token: sent" "$(field a1 status)" sent
eq "first token: one message at the server" "$(ls "$SV"/*.eml 2>/dev/null | wc -l)" 1

# 2. OAUTHBEARER (RFC 7628) when asked for.
k0=$(grep -c 'AUTH OAUTHBEARER ok' "$SV/events.log")
once bearer "$(printf '%s\n' "$OAUTH" | sed 's/auth: xoauth2/auth: oauthbearer/')"
eq "oauthbearer: sent" "$(field a1 status)" sent
eq "oauthbearer: AUTH OAUTHBEARER accepted" "$(grep -c 'AUTH OAUTHBEARER ok' "$SV/events.log")" $((k0 + 1))

# 3. Rotation: the new refresh token is written back, 0600, the file replaced (a new inode).
mode rotate
ino=$(stat -c %i "$T/rt")
once rotate "$OAUTH"
eq "rotation: sent" "$(field a1 status)" sent
eq "rotation: the file holds the rotated refresh token" "$(tr -d '\n' < "$T/rt")" "$(cat "$TK/refresh")"
eq "rotation: mode 0600" "$(stat -c %a "$T/rt")" 600
check "rotation: replaced, not rewritten in place" test "$(stat -c %i "$T/rt")" != "$ino"
check "rotation: no temporary file left" test ! -e "$T/rt.tmp"
once rotate2 "$OAUTH"
eq "rotation: the next run uses the rotated token" "$(field a1 status)" sent
mode ok

# 4. invalid_grant: one line telling what to do; the dispatch stays retry (attempts: 1).
mode invalid_grant
once grant "$OAUTH"
eq "invalid_grant: status retry, not failed" "$(field a1 status)" retry
eq "invalid_grant: the attempt is not counted" "$(field a1 attempts)" 0
check_out "invalid_grant: the log says to sign in again" "sign in again (occasiond oauth login)" "$D/run.err"
eq "invalid_grant: one error line (the record's line aside)" "$(grep -c '^occasiond: error: oauth2:' "$D/run.err")" 1
check_out "invalid_grant: the record says why" "invalid_grant" "$D/occasiond.db"
OCC check --smtp > "$D/check.out" 2>&1
eq "invalid_grant: check --smtp exits 1" "$?" 1
check_out "invalid_grant: check --smtp says so" "no longer accepts the refresh token" "$D/check.out"
mode ok

# 5. The endpoint down, junk, a multi-megabyte body, slow (timeout 2s): retry, each said clearly.
once down "$(printf '%s\n' "$OAUTH" | sed "s/127.0.0.1:$TPORT/127.0.0.1:1/")"
eq "endpoint down: retry" "$(field a1 status)" retry
check_out "endpoint down: the log says it cannot be reached" "token endpoint cannot be reached" "$D/run.err"
mode junk
once junk "$OAUTH"
eq "junk JSON: retry" "$(field a1 status)" retry
check_out "junk JSON: said" "is not a JSON token response" "$D/run.err"
mode huge
once huge "$OAUTH"
eq "5 MB body: retry" "$(field a1 status)" retry
check_out "5 MB body: refused by size" "larger than" "$D/run.err"
mode slow
printf '6\n' > "$TK/delay"
t0=$(date +%s)
once slow "$OAUTH"
t1=$(date +%s)
eq "slow endpoint: retry" "$(field a1 status)" retry
check_out "slow endpoint: timed out" "token endpoint cannot be reached" "$D/run.err"
check "slow endpoint: given up after the timeout ($((t1 - t0)) s)" test $((t1 - t0)) -lt 6
mode ok

# 6. token_command: a token from its output; failing, or printing nothing: retry, said.
tail -n 1 "$TK/valid" > "$T/cmdtok"
once cmd "    auth: xoauth2
    token_command: \"cat $T/cmdtok\""
eq "token_command: sent" "$(field a1 status)" sent
once cmdfail "    auth: xoauth2
    token_command: \"echo oops >&2; exit 3\""
eq "token_command failing: retry" "$(field a1 status)" retry
check_out "token_command failing: said" "token_command failed (exit status 3)" "$D/run.err"
once cmdempty "    auth: xoauth2
    token_command: \"true\""
eq "token_command printing nothing: retry" "$(field a1 status)" retry
check_out "token_command printing nothing: said" "token_command printed no token" "$D/run.err"

# 7. Config: a refresh token file others can read is refused; oauth2 without auth is refused.
chmod 644 "$T/rt"
conf mode644 "$OAUTH"
OCC check > "$D/check.out" 2>&1
eq "refresh_token_file 0644: check exits 1" "$?" 1
check_out "refresh_token_file 0644: said with its line" "occasiond.yaml:21:" "$D/check.out"
chmod 600 "$T/rt"
conf noauth "$(printf '%s\n' "$OAUTH" | sed '/auth: xoauth2/d')"
OCC check > "$D/check.out" 2>&1
check_out "oauth2 without auth: refused" "oauth2 is for auth: xoauth2 or oauthbearer" "$D/check.out"

# 7b. oauth login: the device-code flow writes a new refresh token (0600), which then works.
rm -f "$T/rt"
conf login "$OAUTH"
OCC check > "$D/check.out" 2>&1
check_out "no refresh token yet: check warns what to run" "run occasiond oauth login" "$D/check.out"
OCC oauth login > "$D/login.out" 2> "$D/login.err"
eq "oauth login: exit 0" "$?" 0
check_out "oauth login: tells where to sign in and the code" "open https://login.example/device and enter the code WDJB-MJHT" "$D/login.out"
check_out "oauth login: it waited for the sign-in" "authorization_pending" "$TK/requests.log"
eq "oauth login: the refresh token written, 0600" "$(tr -d '\n' < "$T/rt") $(stat -c %a "$T/rt")" "$(cat "$TK/refresh") 600"
people a1
OCC run --once --at $AT > "$D/run.out" 2> "$D/run.err"
eq "oauth login: the new refresh token works" "$(field a1 status)" sent

# 8. serve: a token that expires between two passes is fetched anew; one the server refuses
#    mid-run is replaced once and the message goes; a slow endpoint times out while the
#    watchdog keeps being fed.
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [ -n "$FT" ]; then
	"$PY" "$ROOT/tests/e2e/notify_listen.py" "$T/notify.sock" "$T/notify.log" &
	NP=$!
	wait_for 5 test -S "$T/notify.sock"
	# Tomorrow at 10:00 UTC, so that the certificates made today are valid on the faked clock.
	day=$(date -u -d tomorrow +%Y-%m-%d)
	sed -i "s/date: \"12-10\"/date: \"$(date -u -d tomorrow +%m-%d)\"/; s/lead: 7 days/lead: 0 days/" "$T/etc/rules.yaml"
	conf serve "$OAUTH"
	DB=$D/occasiond.db
	printf '1\n' > "$TK/expires"
	people s1
	NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 TZ=UTC FAKETIME="@$day 10:00:00" \
		sh -c 'WATCHDOG_PID=$$ LD_PRELOAD="$0" exec "$@"' "$FT" "$OCCASIOND" -v -c "$CFG" serve 2> "$D/serve.err" &
	SP=$!
	sent() { [ "$(sql "$DB" "select status from dispatches where stakeholder='$1'")" = "$2" ]; }
	wait_for 20 sent s1 sent
	eq "serve: the first pass sends" "$(field s1 status)" sent
	k0=$(issued)
	sleep 2   # the 1-second token expires
	printf '3600\n' > "$TK/expires"
	people s2
	wait_for 20 sent s2 sent
	eq "expiry between passes: sent" "$(field s2 status)" sent
	eq "expiry between passes: a new token was fetched" "$(issued)" $((k0 + 1))
	: > "$TK/valid"   # the provider revokes every token issued so far
	bad=$(grep -c 'AUTH XOAUTH2 bad' "$SV/events.log")
	people s3
	wait_for 20 sent s3 sent
	eq "refused mid-run: sent after a new token" "$(field s3 status)" sent
	eq "refused mid-run: the server refused once" "$(grep -c 'AUTH XOAUTH2 bad' "$SV/events.log")" $((bad + 1))
	eq "refused mid-run: exactly one more token" "$(issued)" $((k0 + 2))
	check_out "refused mid-run: logged" "refused the OAuth2 access token" "$D/serve.err"
	# A reload with another scope fetches anew; the endpoint now answers after 6 s.
	mode slow
	sed -i 's/offline_access/offline_access openid/' "$CFG"
	kill -HUP "$SP"
	wait_for 10 has_line "reloaded" "$D/serve.err"
	w0=$(grep -c WATCHDOG=1 "$T/notify.log")
	people s4
	wait_for 20 sent s4 retry
	eq "slow endpoint under serve: retry" "$(field s4 status)" retry
	w1=$(grep -c WATCHDOG=1 "$T/notify.log")
	check "slow endpoint: the watchdog fed during the 2 s timeout ($((w1 - w0)) kicks)" test $((w1 - w0)) -ge 3
	mode ok
	kill -TERM "$SP"
	wait "$SP"
	SP=
else
	echo "skip - libfaketime missing: the serve cases"
fi

# 9. No token in any log line or record: every access token issued and every refresh token.
cat "$T/rt.first" "$TK/all" | grep -v '^$' > "$T/secrets"
leak=$(find "$T" -name '*.err' -o -name '*.out' -o -name '*.db' -o -name '*.db-wal' -o -name '*.eml' | while read -r f; do
	grep -l -F -f "$T/secrets" "$f"; done)
eq "no access or refresh token in any log, record or message" "$leak" ""
