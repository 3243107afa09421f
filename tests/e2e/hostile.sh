#!/bin/sh
# Hostile input: each case must end in a clear one-line error (FILE:LINE where there is one), a
# non-zero exit, no crash, and a database that is exactly as it was.
. tests/e2e/lib.inc
setup
OCC import stakeholders examples/stakeholders.csv >/dev/null
OCC import events examples/events.csv >/dev/null
db_sum() {
	echo "$(db_integrity)" "$(db_sql 'SELECT count(*), coalesce(sum(length(first_name) + length(last_name) + length(email)), 0) FROM stakeholders')" \
		"$(db_sql 'SELECT count(*) FROM events')" "$(db_sql 'SELECT count(*) FROM dispatches')"
}
BASE=$(db_sum)
case "$BASE" in ok*) ok "the database starts intact" ;; *) not_ok "the database starts intact: $BASE" ;; esac

# expect_fail DESC WANT_IN_ERR CMD...: exit 1 (not a crash), the message on stderr, one line per problem.
expect_fail() {
	d=$1; want=$2; shift 2
	[ "$1" = OCC ] && { shift; set -- "$OCCASIOND" -c "$CFG" "$@"; }
	timeout 30 "$@" > "$T/out" 2> "$T/err"; rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$T/err"; then ok "$d"
	else not_ok "$d (exit $rc)"; echo "#   wanted [$want] in:"; head -c 600 "$T/err" | sed 's/^/#   /'; fi
	if [ "$(wc -c < "$T/err")" -gt 20000 ]; then not_ok "$d: the error output stays short"; fi
}
intact() { eq "$1: the database is unchanged" "$(db_sum)" "$BASE"; }

# --- YAML ---
R="$T/etc/occasions.yaml"; cp "$R" "$T/etc/good.yaml"
"$PY" -c "print('occasions: ' + '[' * 20000 + ']' * 20000)" > "$R"
expect_fail "YAML nested 20,000 deep is refused quickly" "$R:1:" OCC check
"$PY" -c "
import sys
sys.stdout.write('occasions:\n')
for i in range(120000): sys.stdout.write('  - {id: r%d, when: {date: \"01-01\"}, channel: email}\n' % i)" > "$R"
expect_fail "a YAML file of megabytes is refused" "$R" OCC check
printf 'a: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c]\noccasions: [*d,*d,*d,*d,*d,*d,*d,*d]\n' > "$R"
expect_fail "an alias bomb is refused" "anchors are not supported" OCC check
printf 'occasions:\n  - id: x\n    when: {date: "01-01"}\n    channel: email\n    template: ../../etc/passwd\n' > "$R"
expect_fail "a template name with ../ is refused at its line" "$R:5:15: error: template: '../../etc/passwd' is not a template name" OCC check
printf 'occasions:\n  - id: x\n    when: {date: "01-01"}\n    channel: email\n    template: /etc/passwd\n' > "$R"
expect_fail "an absolute template path is refused" "is not a template name" OCC check
printf 'occasions:\n  - id: "x\\ny"\n    when: {date: "01-01"}\n    channel: email\n' > "$R"
expect_fail "a rule id with a line break is refused" "$R:2:" OCC check
printf '\377\376occasions: []\n' > "$R"
expect_fail "a rules file that is not UTF-8 is refused" "$R" OCC check
cp "$T/etc/good.yaml" "$R"
intact "after the YAML cases"

# --- CSV ---
H=$(head -1 examples/stakeholders.csv)
csv() { { echo "$H"; cat; } > "$T/h.csv"; }
row() { # row ID FIRST LAST EMAIL: a stakeholder row for the shipped header
	"$PY" - "$H" "$@" <<'PYEOF'
import csv, sys
head = sys.argv[1].split(','); vals = dict(zip(['id', 'first_name', 'last_name', 'email'], sys.argv[2:]))
vals.setdefault('type', 'customer')
w = csv.writer(sys.stdout, lineterminator='\r\n'); w.writerow([vals.get(h, '') for h in head])
PYEOF
}
printf 'h1,Ann\377e,Lee,ann@x.example\n' | "$PY" -c "
import sys; head = open('examples/stakeholders.csv', encoding='utf-8').readline().strip().split(',')
raw = sys.stdin.buffer.read().rstrip(b'\n').split(b',')
vals = dict(zip(['id','first_name','last_name','email'], raw))
sys.stdout.buffer.write(','.join(head).encode() + b'\r\n' + b','.join(vals.get(h, b'') for h in head) + b'\r\n')" > "$T/h.csv"
expect_fail "invalid UTF-8 in a name is refused at its line" "$T/h.csv:2: error: column first_name" OCC import stakeholders "$T/h.csv"
"$PY" -c "
import sys; head = open('examples/stakeholders.csv', encoding='utf-8').readline().strip().split(',')
vals = {'id': b'h2', 'first_name': b'A\x00nn', 'type': b'customer'}
sys.stdout.buffer.write(','.join(head).encode() + b'\n' + b','.join(vals.get(h, b'') for h in head) + b'\n')" > "$T/h.csv"
expect_fail "a NUL in a field is refused at its line" "$T/h.csv:2:" OCC import stakeholders "$T/h.csv"
"$PY" -c "
import sys; head = open('examples/stakeholders.csv', encoding='utf-8').readline().strip().split(',')
rows = [{'id': 'h3', 'first_name': 'Ann', 'type': 'customer'}, {'id': 'h4', 'first_name': 'B' * (1024 * 1024 + 10), 'type': 'customer'}]
sys.stdout.write(','.join(head) + '\\n' + ''.join(','.join(r.get(h, '') for h in head) + '\\n' for r in rows))" > "$T/h.csv"
expect_fail "a field over 1 MB is refused at its line" "$T/h.csv:3:" OCC import stakeholders "$T/h.csv"
"$PY" -c "print('id,first_name,notes'); print('h5,Ann,' + 'n' * 900000)" > "$T/h.csv"
OCC import stakeholders "$T/h.csv" > "$T/out" 2>&1; rc=$?
eq "a 900 KB custom field is accepted (under the 1 MB limit)" "$rc" 0
OCC import stakeholders examples/stakeholders.csv >/dev/null  # back to the base set
db_sql "DELETE FROM stakeholders WHERE id='h5'"
BASE=$(db_sum)
row h6 "$(printf 'Ann\033[31mRed')" Lee ann@x.example | csv
expect_fail "an escape sequence in a name is refused" "$T/h.csv:2: error: column first_name" OCC import stakeholders "$T/h.csv"
row h7 "$(printf 'Ann\r\nBcc: evil@x.example')" Lee ann@x.example | csv
expect_fail "CR LF inside a quoted name is refused" "$T/h.csv:2: error: column first_name" OCC import stakeholders "$T/h.csv"
row h8 Ann Lee "$(printf 'ann@x.example\r\nRCPT TO:<evil@x.example>')" | csv
expect_fail "CR LF in an email address is refused" "$T/h.csv:2: error: column email" OCC import stakeholders "$T/h.csv"
row h9 Ann Lee 'ann@x.example, evil@x.example' | csv
expect_fail "two addresses in the email column are refused" "$T/h.csv:2: error: column email" OCC import stakeholders "$T/h.csv"
row h10 Ann Lee '<evil@x.example>' | csv
expect_fail "angle brackets in the email column are refused" "$T/h.csv:2: error: column email" OCC import stakeholders "$T/h.csv"
row '../etc' Ann Lee ann@x.example | csv
expect_fail "an id with a slash is refused" "$T/h.csv:2: error:" OCC import stakeholders "$T/h.csv"
printf 'stakeholder_id,kind,date,title\nc001,../../x,2026-12-01,T\n' > "$T/e.csv"
expect_fail "an event kind with ../ is refused" "$T/e.csv:2: error: column kind" OCC import events "$T/e.csv"
printf 'id,first_name\n"h11,Ann\n' > "$T/h.csv"
expect_fail "an unterminated quote is refused with its line" "$T/h.csv:2: error:" OCC import stakeholders "$T/h.csv"
intact "after the CSV cases"

# Right-to-left text and emoji are stored as written and come back in JSON and email unchanged.
row h12 'مريم' 'Zoë 🎉' miriam@x.example | csv
OCC import stakeholders "$T/h.csv" > "$T/out" 2>&1; eq "RTL text and emoji import" "$?" 0
OCC log --format json >/dev/null 2>&1
eq "RTL text and emoji are stored byte for byte" "$(db_sql "SELECT first_name, last_name FROM stakeholders WHERE id='h12'")" 'مريم|Zoë 🎉'
printf 'id,first_name,last_name,type,birthday,street,city,country,email,consent_personal,tier\nh13,مريم,Haddad,customer,1990-06-01,1 Main St,Springfield,USA,m@x.example,yes,gold\nh14,Zoë,Party 🎉,customer,1990-06-01,1 Main St,Springfield,USA,z@x.example,yes,gold\n' > "$T/h2.csv"
OCC import stakeholders "$T/h2.csv" >/dev/null 2>&1
OCC preview --rule birthday --stakeholder h13 -o "$T/rtl.pdf" > /dev/null 2>&1
eq "an Arabic name on a card is shaped and printed" "$?" 0
if have pdftotext; then
	pdftotext "$T/rtl.pdf" - 2>/dev/null | grep -c 'مريم' > "$T/rtl.txt"
	check_out "and extracts as written" "1" "$T/rtl.txt"
fi
expect_fail "an emoji no card font has is refused, naming it" "U+1F389" \
	OCC preview --rule birthday --stakeholder h14 -o "$T/emoji.pdf"
check "and no half card is written" test ! -e "$T/emoji.pdf"
BASE=$(db_sum)

# --- Templates ---
mkdir -p "$T/tpl"; cp -R templates/. "$T/tpl/"
sed -i "s|^templates: .*|templates: $T/tpl|" "$CFG"
printf 'Kind regards,\n{{> signature}}\n' > "$T/tpl/signature.mustache"
printf 'Subject: Hello {{first_name}}\n\nHi {{first_name}},\n{{> signature}}\n' > "$T/tpl/thank-you.email"
expect_fail "a partial that includes itself fails the render, not the program" "partial" \
	OCC preview --rule thanksgiving --stakeholder c001 -o "$T/p.eml"
check "and writes no file" test ! -e "$T/p.eml"
printf 'Subject: Hello\n\n{{> ../../../etc/passwd}}\n' > "$T/tpl/thank-you.email"
expect_fail "a partial name with ../ is refused" "partial" OCC preview --rule thanksgiving --stakeholder c001 -o "$T/p.eml"
printf 'Subject: Hello {{first_name}}\nBcc: evil@x.example\n\nHi\n' > "$T/tpl/thank-you.email"
OCC check > "$T/out" 2>&1; rc=$?
eq "a Bcc: header in an email template is refused by check" "$rc" 1
intact "after the template cases"

# --- database: a server URI is never taken for a file path ---
cp "$CFG" "$T/etc/good-config.yaml"
sed -i "s|^database: .*|database: postgresql://occ:secret@db.example/occ|" "$CFG"
expect_fail "a postgresql:// URI with a password is refused" "put it in the password file" \
	OCC import stakeholders examples/stakeholders.csv
check_not "its password never shows" "secret" "$T/err"
sed -i "s|^database: .*|database: mysql://db.example/occ|" "$CFG"
expect_fail "another scheme is an error, not a file" "unknown database scheme 'mysql://'" OCC log
eq "no file or directory was made for either" "$(find "$T" -name 'mysql:*' -o -name 'postgresql:*' | wc -l)" 0
cp "$T/etc/good-config.yaml" "$CFG"
intact "after the database URI cases"

# --- A symlink planted in the spool does not redirect a write ---
mkdir -p "$T/var/spool" "$T/elsewhere"
rm -rf "$T/var/spool/batches"
ln -s "$T/elsewhere" "$T/var/spool/batches"
OCC run --once --at 2026-12-03T10:00 > "$T/sym.out" 2>&1
check_out "a symlinked batches directory is refused" "(a symlink)" "$T/sym.out"
eq "nothing was written through the link" "$(find "$T/elsewhere" -type f | wc -l)" 0
n=$(db_sql "SELECT count(*) FROM dispatches WHERE channel='card' AND status='rendered'")
eq "no card is recorded as rendered into it" "$n" 0
rm "$T/var/spool/batches"
OCC run --once --at 2026-12-03T10:30 > "$T/sym2.out" 2>&1
n=$(db_sql "SELECT count(*) FROM dispatches WHERE channel='card' AND status='rendered'")
[ "$n" -gt 0 ] && ok "once the link is gone the cards go out ($n)" || not_ok "once the link is gone the cards go out"
