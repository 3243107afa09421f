#!/bin/sh
# CardDAV sources against a real server: Debian's Radicale on a loopback port with an
# htpasswd file and its own storage. Contacts are added, changed and deleted with curl
# between syncs, and what occasiond holds is read back (sqlite3, plan). Then serve pulls on
# its `every`, and a hostile server (tests/e2e/davd.py) answers with redirects, broken XML,
# an entity bomb, a truncated body, a broken card, a card of 5 MB, a card left out and too
# many entries: each one line, exit 1, nothing written. The 10,000-contact book runs on the
# plain build only (heavy: radicale reads every new card once to build its cache).
. tests/e2e/lib.inc

if ! "$PY" -c 'import radicale' 2>/dev/null || ! have curl || ! have htpasswd; then
	echo "skip - radicale, curl or htpasswd missing (scripts/deps.sh test)"
	exit 0
fi
case "$OCCASIOND" in *san*) san=1 ;; *) san= ;; esac

R=$T/radicale
mkdir -p "$R/store" "$T/dav"
htpasswd -c -b -p "$R/users" occ s3cret >/dev/null 2>&1 || { not_ok "htpasswd wrote the users file"; exit 0; }
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$R/config" <<EOF
[server]
hosts = 127.0.0.1:$PORT
[auth]
type = htpasswd
htpasswd_filename = $R/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $R/store
[logging]
level = warning
EOF
RP= DP= SP=
trap 'kill $RP $DP $SP 2>/dev/null; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT
"$PY" -m radicale --config "$R/config" >"$R/log" 2>&1 &
RP=$!
"$PY" "$ROOT/tests/e2e/davd.py" "$T/dav" 2>"$T/dav/stderr" &
DP=$!
U=http://127.0.0.1:$PORT/occ/book
# up: radicale answers HTTP at all (a 404 or 401 is an answer).
up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" != 000 ]; }
wait_for 30 up && wait_for 20 test -s "$T/dav/port" ||
	{ not_ok "radicale and the hostile server started"; sed 's/^/#   /' "$R/log" | head; exit 0; }
code=$(curl -s -o /dev/null -w '%{http_code}' -u occ:s3cret -X MKCOL -H 'Content-Type: application/xml' --data \
	'<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>' \
	"$U/")
eq "the address book is made on radicale" "$code" 201

# put NAME: the vCard on stdin becomes NAME.vcf in the book.
put() { curl -s -o /dev/null -w '%{http_code}' -u occ:s3cret -X PUT -H 'Content-Type: text/vcard' --data-binary @- "$U/$1.vcf"; }
crlf() { sed 's/$/\r/'; }
# As Apple Contacts writes them (3.0, item groups, X-ABDATE), Google (3.0) and Nextcloud (4.0).
crlf <<'EOF' | put apple >/dev/null
BEGIN:VCARD
VERSION:3.0
PRODID:-//Apple Inc.//macOS 14.0//EN
N:Appleseed;Johnny;;;
FN:Johnny Appleseed
ORG:Acme Orchards;
item1.EMAIL;type=INTERNET;type=pref:johnny@orchard.example
BDAY:1980-12-20
item2.X-ABDATE:2010-06-01
item2.X-ABLabel:_$!<Anniversary>!$_
UID:9A1B2C3D-0000-4000-8000-AAAAAAAAAAAA
END:VCARD
EOF
crlf <<'EOF' | put google >/dev/null
BEGIN:VCARD
VERSION:3.0
N:Müller;Grete;;;
FN:Grete Müller
EMAIL;TYPE=INTERNET:grete@example.de
BDAY:--1222
UID:google-grete
END:VCARD
EOF
code=$(crlf <<'EOF' | put nextcloud
BEGIN:VCARD
VERSION:4.0
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1
FN:Ana Lima
N:Lima;Ana;;;
EMAIL;TYPE=work;PREF=1:ana@lima.example
BDAY:19851224
END:VCARD
EOF
)
eq "three contacts are on the server" "$code" 201

setup
cat > "$T/etc/occasions.yaml" <<'EOF'
occasions:
  - id: birthday
    when: {anniversary_of: birthday}
    lead: 0 days
    channel: email
    template: birthday
EOF
printf 's3cret\n' > "$T/etc/dav-password"
chmod 600 "$T/etc/dav-password"
cp "$CFG" "$T/etc/base.yaml"
cat >> "$CFG" <<EOF
sources:
  - id: team
    carddav: $U/
    username: occ
    password_file: dav-password
    every: 1s
EOF
DB=$T/var/occasiond.db
check "check passes with a source" OCC check
OCC sync > "$T/out" 2> "$T/err"
eq "the first sync exits 0" "$?" 0
check_out "the first sync reads the whole book" "team: 3 new or changed, 0 gone (the whole book)" "$T/out"
eq "the three contacts are stakeholders" "$(sql "$DB" "SELECT id, first_name, last_name, email, birthday FROM stakeholders ORDER BY id")" \
"4fbe8971-0bc3-424c-9c26-36c3e1eff6b1|Ana|Lima|ana@lima.example|1985-12-24
9A1B2C3D-0000-4000-8000-AAAAAAAAAAAA|Johnny|Appleseed|johnny@orchard.example|1980-12-20
google-grete|Grete|Müller|grete@example.de|--12-22"
eq "Apple's anniversary comes in as a custom date" \
	"$(sql "$DB" "SELECT value FROM stakeholder_fields WHERE stakeholder_id LIKE '9A1B%' AND name = 'anniversary'")" "2010-06-01"
OCC sync > "$T/out" 2>&1
check_out "a second sync asks only for changes" "team: 0 new or changed, 0 gone (changes since the last pull)" "$T/out"

# Change one, delete one, add one.
crlf <<'EOF' | put google >/dev/null
BEGIN:VCARD
VERSION:3.0
N:Müller;Grete;;;
FN:Grete Müller
EMAIL;TYPE=INTERNET:grete.mueller@example.de
BDAY:--1222
UID:google-grete
END:VCARD
EOF
curl -s -o /dev/null -u occ:s3cret -X DELETE "$U/apple.vcf"
crlf <<'EOF' | put new >/dev/null
BEGIN:VCARD
VERSION:3.0
N:Neu;Nina;;;
FN:Nina Neu
EMAIL:nina@neu.example
BDAY:1990-12-21
UID:nina-neu
END:VCARD
EOF
OCC sync > "$T/out" 2>&1
check_out "the third sync: one changed, one new, one gone" "team: 2 new or changed, 1 gone (changes since the last pull)" "$T/out"
eq "the changed contact is updated" "$(sql "$DB" "SELECT email FROM stakeholders WHERE id = 'google-grete'")" "grete.mueller@example.de"
eq "the new contact is there" "$(sql "$DB" "SELECT first_name FROM stakeholders WHERE id = 'nina-neu'")" "Nina"
eq "the deleted contact stays, marked gone and opted out" \
	"$(sql "$DB" "SELECT s.opted_out, substr(f.value, 12) FROM stakeholders s JOIN stakeholder_fields f ON f.stakeholder_id = s.id AND f.name = 'gone' WHERE s.id LIKE '9A1B%'")" "1|team"
OCC plan --from 2026-12-15 --days 15 --format csv > "$T/plan" 2>&1
check_out "plan has the live contacts" "nina-neu" "$T/plan"
check_not "plan leaves out the gone one" "9A1B2C3D" "$T/plan"

# Failures leave everything as it was.
snap() { sql "$DB" "SELECT id, email, opted_out FROM stakeholders ORDER BY id"; sql "$DB" "SELECT value FROM meta WHERE key LIKE 'carddav:%' ORDER BY key"; }
before=$(snap)
printf 'wrong\n' > "$T/etc/dav-password"
OCC sync > "$T/out" 2> "$T/err"
eq "a refused login exits 1" "$?" 1
check_out "a refused login is one line naming 401" "sync: source team: sync-collection: the server refused the login (401)" "$T/err"
eq "a refused login is one line" "$(wc -l < "$T/err" | tr -d ' ')" 1
printf 's3cret\n' > "$T/etc/dav-password"
chmod 644 "$T/etc/dav-password"
OCC sync > "$T/out" 2> "$T/err"
check_out "a password file readable by others is refused" "chmod 600" "$T/err"
chmod 600 "$T/etc/dav-password"
kill $RP 2>/dev/null; wait $RP 2>/dev/null
OCC sync > "$T/out" 2> "$T/err"
eq "a server that is down exits 1" "$?" 1
check_out "a server that is down is one line" "sync: source team:" "$T/err"
eq "after the failures the stakeholders and the kept state are as they were" "$(snap)" "$before"

# The config: credentials never inline, http only to loopback, one line with FILE:LINE each.
badconf() {
	cp "$T/etc/base.yaml" "$T/etc/bad.yaml"
	cat >> "$T/etc/bad.yaml"
	"$OCCASIOND" -c "$T/etc/bad.yaml" check > "$T/out" 2>&1
}
badconf <<EOF
sources:
  - id: team
    carddav: https://occ:pw@dav.example/book/
EOF
check_out "a password in the URL is refused" "bad.yaml:20:14: error: carddav: no user or password in the URL" "$T/out"
badconf <<EOF
sources:
  - id: team
    carddav: http://dav.example/book/
EOF
check_out "http to another host is refused" "carddav: http:// is only allowed to a loopback host" "$T/out"
badconf <<EOF
sources:
  - id: Team
    carddav: https://dav.example/book/
    username: occ
    every: 0s
  - id: Team
    carddav: https://dav.example/book/
    pasword_file: x
EOF
check_out "a bad id is refused" "id: expected [a-z0-9-]+" "$T/out"
check_out "a username without password_file is refused" "username needs a password_file" "$T/out"
check_out "every must be positive" "every: must be at least 1 second" "$T/out"
check_out "a misspelt key is named" "unknown key 'pasword_file'" "$T/out"
check_out "a second source with the same id is refused" "a second source with the id" "$T/out"

# The hostile server: one line each, exit 1, nothing written.
cat > "$T/etc/hostile.yaml" <<EOF
$(cat "$T/etc/base.yaml")
sources:
  - id: bad
    carddav: http://127.0.0.1:$(cat "$T/dav/port")/book/
EOF
before=$(snap)
hostile() {
	echo "$1" > "$T/dav/mode"
	"$OCCASIOND" -c "$T/etc/hostile.yaml" sync > "$T/out" 2> "$T/err"
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(wc -l < "$T/err" | tr -d ' ')" -eq 1 ] && grep -qF -- "$2" "$T/err"; then
		ok "hostile server, $1: one line, exit 1"
	else
		not_ok "hostile server, $1: one line, exit 1 (exit $rc)"
		echo "#   wanted [$2] in:"; sed 's/^/#   /' "$T/err" | head -5
	fi
}
hostile redirect "redirects (302) to elsewhere.example; redirects are not followed"
hostile badxml "a broken answer: line 1:"
hostile doctype "a document type declaration"
hostile truncated "sync: source bad:"
hostile badcard "c0.vcf:1: error:"
hostile hugecard "a value longer than 4194304 bytes"
hostile nested "elements nested deeper than 32"
hostile missing "addressbook-multiget: no answer for /book/c0.vcf"
[ -n "$san" ] || hostile many "more than 100000 contacts in the address book"
eq "after the hostile answers nothing was written" "$(snap)" "$before"
eq "the hostile source left no state" "$(sql "$DB" "SELECT count(*) FROM meta WHERE key LIKE 'carddav:bad:%'")" 0

# serve pulls on its every: a contact added at the source shows up without a sync.
"$PY" -m radicale --config "$R/config" >>"$R/log" 2>&1 &
RP=$!
wait_for 30 up || not_ok "radicale started again"
"$OCCASIOND" -c "$CFG" -v serve > "$T/serve.log" 2>&1 &
SP=$!
crlf <<'EOF' | put later >/dev/null
BEGIN:VCARD
VERSION:3.0
N:Later;Lou;;;
FN:Lou Later
EMAIL:lou@later.example
UID:lou-later
END:VCARD
EOF
if wait_for 60 sh -c "[ \"\$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM stakeholders WHERE id = ?\", (\"lou-later\",)).fetchone()[0])' '$DB')\" = 1 ]"; then
	ok "serve pulled the new contact on its every"
else
	not_ok "serve pulled the new contact on its every"; sed 's/^/#   /' "$T/serve.log" | tail -5
fi
curl -s -o /dev/null -u occ:s3cret -X DELETE "$U/later.vcf"
if wait_for 60 sh -c "grep -q 'source team: 0 new or changed, 1 gone' '$T/serve.log'"; then
	ok "serve marks a contact deleted at the source gone"
else
	not_ok "serve marks a contact deleted at the source gone"; sed 's/^/#   /' "$T/serve.log" | tail -5
fi
kill $SP; wait $SP 2>/dev/null
SP=

# TLS is verified: a Radicale of its own over https with a certificate of the test's own CA.
# Without ca_file the sync is refused (one line, nothing written); with it, it reads the book.
if have openssl; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$R/key.pem" -out "$R/cert.pem" >/dev/null 2>&1
	TPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed "s/^hosts = .*/hosts = 127.0.0.1:$TPORT\nssl = True\ncertificate = $(printf '%s' "$R/cert.pem" | sed 's,/,\\/,g')\nkey = $(printf '%s' "$R/key.pem" | sed 's,/,\\/,g')/" \
		"$R/config" > "$R/tls.config"
	"$PY" -m radicale --config "$R/tls.config" >"$R/tls.log" 2>&1 &
	TP=$!
	tls_up() { [ "$(curl -s -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TPORT/")" != 000 ]; }
	if wait_for 30 tls_up; then
		before=$(snap)
		tlsconf() {
			cat "$T/etc/base.yaml"
			printf 'sources:\n  - id: tls\n    carddav: https://127.0.0.1:%s/occ/book/\n    username: occ\n    password_file: dav-password\n' "$TPORT"
			[ -z "$1" ] || printf '    ca_file: %s\n' "$1"
		}
		tlsconf > "$T/etc/tls.yaml"
		"$OCCASIOND" -c "$T/etc/tls.yaml" sync > "$T/out" 2> "$T/err"
		eq "https with a certificate no CA of the system signed exits 1" "$?" 1
		check_out "it names the source and the certificate" "source tls:" "$T/err"
		check_out "it says the certificate was not verified" "certificate" "$T/err"
		eq "it is one line" "$(wc -l < "$T/err" | tr -d ' ')" 1
		eq "nothing was written" "$(snap)" "$before"
		tlsconf "$R/cert.pem" > "$T/etc/tls.yaml"
		"$OCCASIOND" -c "$T/etc/tls.yaml" sync > "$T/out" 2> "$T/err"
		eq "with ca_file the https sync exits 0" "$?" 0
		check_out "and reads the whole book" "tls: " "$T/out"
		check_out "the whole book" "(the whole book)" "$T/out"
	else
		not_ok "radicale over https started"; sed 's/^/#   /' "$R/tls.log" | head -5
	fi
	kill $TP 2>/dev/null; wait $TP 2>/dev/null
fi

# 10,000 contacts (plain build only: heavy): a book written straight into radicale's storage.
if [ -z "$san" ]; then
	B=$R/store/collection-root/occ/big
	mkdir -p "$B"
	echo '{"tag": "VADDRESSBOOK"}' > "$B/.Radicale.props"
	"$PY" - "$B" <<'EOF'
import sys
for i in range(10000):
    with open("%s/p%05d.vcf" % (sys.argv[1], i), "w", newline="") as f:
        f.write("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p%05d\r\nN:Person%05d;Pat;;;\r\nFN:Pat Person%05d\r\n"
                "EMAIL:p%05d@big.example\r\nBDAY:1970-01-01\r\nEND:VCARD\r\n" % (i, i, i, i))
EOF
	cat > "$T/etc/big.yaml" <<EOF
$(cat "$T/etc/base.yaml")
sources:
  - id: big
    carddav: http://127.0.0.1:$PORT/occ/big/
    username: occ
    password_file: dav-password
EOF
	# Radicale reads every new file once to build its cache (minutes on a busy machine): done
	# first, so that what is timed out below is occasiond's sync, not the server's warm-up.
	curl -s -o /dev/null -m 900 -u occ:s3cret -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$PORT/occ/big/"
	"$OCCASIOND" -c "$T/etc/big.yaml" sync > "$T/out" 2>&1
	check_out "10,000 contacts in one sync" "big: 10000 new or changed, 0 gone (the whole book)" "$T/out"
	eq "10,000 more stakeholders" "$(sql "$DB" "SELECT count(*) FROM stakeholders WHERE id LIKE 'p%'")" 10000
	for i in 00007 04242; do
		printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p%s\r\nN:Changed;Pat;;;\r\nFN:Pat Changed\r\nEMAIL:p%s@big.example\r\nEND:VCARD\r\n' $i $i |
			curl -s -o /dev/null -u occ:s3cret -X PUT -H 'Content-Type: text/vcard' --data-binary @- "http://127.0.0.1:$PORT/occ/big/p$i.vcf"
	done
	"$OCCASIOND" -c "$T/etc/big.yaml" sync > "$T/out" 2>&1
	check_out "then only the two changed are read" "big: 2 new or changed, 0 gone (changes since the last pull)" "$T/out"
	eq "the changed ones are updated" "$(sql "$DB" "SELECT count(*) FROM stakeholders WHERE last_name = 'Changed'")" 2
fi
