#!/bin/sh
# Cards end to end: a signer's batch (cover sheet, cards, envelopes or labels) read back with
# pdfinfo, pdffonts, qpdf and pdftotext; names in four scripts; a missing glyph failing its
# dispatch; print_command; the signer's reminder (parsed with Python's email); a later pass
# keeping pages true; a failed save leaving the old batch intact; preview of every template.
. tests/e2e/lib.inc
setup
# fontconfig sees one empty directory of the test's own: no system font covers the CJK name
# here, so that card fails as a card with a character no font has must.
mkdir -p "$T/sysfonts"
printf '<?xml version="1.0"?>\n<fontconfig><dir>%s</dir><cachedir>%s</cachedir></fontconfig>\n' \
	"$T/sysfonts" "$T/fccache" > "$T/fonts.conf"
export FONTCONFIG_FILE="$T/fonts.conf"

cat > "$T/etc/cards.yaml" <<'EOF'
occasions:
  - id: bday
    name: Birthday
    when: {anniversary_of: birthday}
    lead: 10 days
    channel: card
    template: birthday
    variants:
      - {tier: platinum, template: birthday-folded}
EOF
cat > "$T/print.sh" <<EOF
#!/bin/sh
# A stand-in printer: keeps a copy of what it was given (one argument, the batch).
[ \$# -eq 1 ] || exit 3
mkdir -p "$T/printed" && cp "\$1" "$T/printed/"
EOF
chmod +x "$T/print.sh"
sed -i 's/^rules: .*/rules: cards.yaml/' "$CFG"
cat >> "$CFG" <<EOF
  remind_signers: true
  print_command: "$T/print.sh"
  envelope: c6
EOF
H=id,first_name,last_name,organization,type,tier,email,owner,owner_email,street,city,region,postal_code,country,birthday,consent_personal
cat > "$T/people.csv" <<'EOF'
id,first_name,last_name,organization,type,tier,email,owner,owner_email,street,city,region,postal_code,country,birthday,consent_personal
k1,Zoë,Łukasiewicz,Chemia Sp. z o.o.,customer,gold,zoe@chemia.example,Dana Ruiz,dana.ruiz@acme.example,ul. Mokotowska 12,Warszawa,,00-561,Poland,1984-12-13,yes
k2,Łukasz,Nowak,,customer,gold,lukasz@nowak.example,Dana Ruiz,dana.ruiz@acme.example,"Flat 4
22 Baker Street",London,,NW1 6XE,United Kingdom,1979-12-13,yes
k3,Ελένη,Παπαδοπούλου,,customer,platinum,eleni@example.gr,Dana Ruiz,dana.ruiz@acme.example,Οδός Αθηνάς 5,Αθήνα,,105 51,Greece,1990-12-13,yes
k4,Дмитрий,Иванов,,customer,gold,dmitry@example.ru,Dana Ruiz,dana.ruiz@acme.example,,,,,,1988-12-13,yes
k5,太郎,山田,,customer,gold,taro@example.jp,Dana Ruiz,dana.ruiz@acme.example,1-1 Chiyoda,Tokyo,,100-0001,Japan,1970-12-13,yes
EOF
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
eq "import the card people" "$(db_sql 'select count(*) from stakeholders')" 5

# check --data names the character no font has, and the package that has it.
OCC check --data > "$T/check.out" 2>&1
# The name is 山田太郎: family name first for a Japanese name.
check_out "check --data reports the missing glyph by code point" "U+5C71" "$T/check.out"
check_out "and the Debian package that would cover it" "installing the Debian package fonts-noto-cjk" "$T/check.out"

OCC run --once --at 2026-12-03T10:00 > "$T/run1" 2>"$T/run1.err"; rc=$?
eq "run --once exits 1: one dispatch failed" "$rc" 1
B="$T/var/spool/batches/2026-12-03/Dana_Ruiz.pdf"
check "the batch is written" test -s "$B"
OCC log --format json > "$T/log.json"
"$PY" - "$T/log.json" > "$T/recs" <<'EOF'
import json, sys
recs = [r for r in json.load(open(sys.argv[1])) if r["channel"] == "card"]
for r in recs:
    print(r["stakeholder"], r["status"], r["page"], (r["error"] or "").replace(" ", "_"))
EOF
sed -n "s/^k5 \([a-z]*\) .*/\1/p" "$T/recs" > "$T/k5"
check_out "the CJK card failed" "failed" "$T/k5"
check_out "its error names U+5C71" "U+5C71" "$T/recs"
eq "four cards rendered" "$(grep -c ' rendered ' "$T/recs")" 4
pages=$(awk '$2 == "rendered" {print $3}' "$T/recs" | sort -n | tr '\n' ' ')
eq "cards are pages 2-5, after the cover sheet" "$pages" "2 3 4 5 "

if have pdfinfo && have pdftotext && have qpdf && have pdffonts; then
	check "qpdf --check passes" qpdf --check "$B"
	pdffonts "$B" 2>/dev/null > "$T/fonts"
	awk 'NR > 2 && $(NF-4) != "yes" {bad=1} END {exit bad}' "$T/fonts"
	eq "pdffonts: every font embedded" "$?" 0
	npages=$(pdfinfo "$B" 2>/dev/null | awk '/^Pages:/ {print $2}')
	eq "1 cover + 4 cards + 3 envelopes (one card has no address)" "$npages" 8
	pdfinfo -f 1 -l 8 "$B" 2>/dev/null > "$T/info"
	check_out "cover sheet is A4" "Page    1 size:  595.276 x 841.89 pts" "$T/info"
	check_out "a flat birthday card is A6" "Page    2 size:  297.638 x 419.528 pts" "$T/info"
	check_out "an envelope is C6" "Page    6 size:  459.213 x 323.15 pts" "$T/info"
	pdftotext "$B" "$T/all.txt" 2>/dev/null
	for n in "Zoë Łukasiewicz" "Łukasz Nowak" "Дмитрий Иванов"; do
		check_out "pdftotext gives back $n" "$n" "$T/all.txt"
	done
	check_out "pdftotext gives back Ελένη (folded card)" "Ελένη" "$T/all.txt"
	check_not "no replacement question marks" "?" "$T/all.txt"
	# Each record's page is that card.
	while read -r id st pg rest; do
		[ "$st" = rendered ] || continue
		first=$(awk -F, -v id="$id" '$1 == id {print $2}' "$T/people.csv")
		pdftotext -f "$pg" -l "$pg" "$B" - 2>/dev/null > "$T/page"
		check_out "record $id: page $pg is its card" "$first" "$T/page"
	done < "$T/recs"
	# The folded card: its page is a whole A4 sheet.
	pg=$(awk '$1 == "k3" {print $3}' "$T/recs")
	check_out "the folded card (page $pg) is an A4 sheet" "Page    $pg size:  595.276 x 841.89 pts" "$T/info"
	# The cover sheet.
	pdftotext -layout -f 1 -l 1 "$B" "$T/cover" 2>/dev/null
	check_out "cover: the signer" "Dana Ruiz" "$T/cover"
	check_out "cover: sign and post by" "SIGN AND POST BY" "$T/cover"
	check_out "cover: the mail-by date (13 Dec minus 3 business days)" "Wednesday 9 December 2026" "$T/cover"
	check_out "cover: the batch date" "Batch of 3 December 2026" "$T/cover"
	check_out "cover: the card count" "4 cards" "$T/cover"
	check_out "cover: the occasion" "Birthday, 13 December 2026" "$T/cover"
	check_out "cover: a card without an address is flagged" "no postal address" "$T/cover"
	for n in "Zoë Łukasiewicz" "Łukasz Nowak" "Ελένη Παπαδοπούλου" "Дмитрий Иванов"; do
		pg=$(grep -F "$n" "$T/cover" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) {print $i; exit}}')
		id=$(grep -F "${n%% *}" "$T/people.csv" | cut -d, -f1)
		want=$(awk -v id="$id" '$1 == id {print $3}' "$T/recs")
		eq "cover: $n is listed with page $want" "$pg" "$want"
	done
	# The envelopes: return address and the structured address, street lines kept.
	pdftotext -f 6 -l 8 "$B" "$T/env" 2>/dev/null
	check_out "envelope: return address" "1 Main St" "$T/env"
	check_out "envelope: first street line" "Flat 4" "$T/env"
	check_out "envelope: second street line" "22 Baker Street" "$T/env"
	check_out "envelope: UK town in capitals and postcode" "LONDON" "$T/env"
	check_out "envelope: Polish postcode before the town" "00-561 Warszawa" "$T/env"
	check_out "envelope: Greek address as written" "Οδός Αθηνάς 5" "$T/env"
	check_not "envelope: none for the card without an address" "Дмитрий" "$T/env"
else
	not_ok "poppler-utils and qpdf are needed (scripts/deps.sh test)"
fi

# print_command got the finished batch, as one argument.
check "print_command received the batch" cmp "$B" "$T/printed/Dana_Ruiz.pdf"
check_out "print_command success is logged" "sent to print_command" "$T/run1.err"

# The reminder: one message in the outbox, to the signer, listing the batch.
ls "$T/var/spool/outbox/new" | grep '^remind\.' > "$T/reminders"
eq "one reminder written" "$(wc -l < "$T/reminders")" 1
"$PY" - "$T/var/spool/outbox/new/$(head -1 "$T/reminders")" "$B" > "$T/rem" <<'EOF'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
body = m.get_body(("plain",)).get_content()
print("to", m["To"].addresses[0].addr_spec == "dana.ruiz@acme.example")
print("from", m["From"].addresses[0].addr_spec == "team@acme.example")
print("subject", "Cards to sign: 4 cards" in str(m["Subject"]) and "Wednesday 9 December 2026" in str(m["Subject"]))
print("message-id", m["Message-ID"].startswith("<remind."))
print("path", sys.argv[2] in body)
print("names", all(n in body for n in ["Zoë Łukasiewicz", "Łukasz Nowak", "Ελένη Παπαδοπούλου", "Дмитрий Иванов"]))
print("sign-by", "by Wednesday 9 December 2026" in body)
print("pages", "p. 2" in body and "p. 5" in body)
print("no-address", "no postal address" in body)
EOF
for k in to from subject message-id path names sign-by pages no-address; do
	check_out "reminder: $k" "$k True" "$T/rem"
done
OCC run --once --at 2026-12-03T10:30 > /dev/null 2>&1
eq "a pass with nothing new sends no second reminder" "$(ls "$T/var/spool/outbox/new" | grep -c '^remind\.')" 1

# A later pass adds a card: the batch is rebuilt, the old pages stay true, an update goes out.
cp "$B" "$T/before.pdf"
printf '%s\n' "$H" "k6,Hannah,Becker,,customer,gold,h@example.de,Dana Ruiz,dana.ruiz@acme.example,Hauptstraße 1,Berlin,,10115,Germany,1985-12-13,yes" > "$T/more.csv"
OCC import stakeholders "$T/more.csv" > /dev/null 2>&1
# First make that pass's save fail (its temp file name is taken): the old batch must survive.
# The batch is saved as .SIGNER.pdf.tmp.HOST_PID (util_atomic writes that through a
# .tmp.PID of its own), then renamed into place with its records.
sh -c 'h=$(printf %s "$(hostname)" | tr -cs "A-Za-z0-9._-" _); mkdir "${0%/*}/.${0##*/}.tmp.${h}_$$.tmp.$$" && exec "$@"' \
	"$B" "$OCCASIOND" -c "$CFG" run --once --at 2026-12-03T11:00 > /dev/null 2>"$T/fail.err"
check "a failed save leaves the old batch as it was" cmp "$B" "$T/before.pdf"
check_out "the failed save is logged" "cannot create" "$T/fail.err"
OCC log --format json > "$T/log2.json"
check_not "the card of a failed save is not recorded" '"stakeholder": "k6"' "$T/log2.json"
rmdir "${B%/*}"/.*.tmp.* 2>/dev/null
# Temporary files a crash left, another daemon's and an older version's: the next save removes them.
: > "${B%/*}/.Dana_Ruiz.pdf.tmp.otherhost_4242"
: > "$B.tmp.4242"
OCC run --once --at 2026-12-03T11:05 > /dev/null 2>"$T/run3.err"
ls -A "$T/var/spool/batches/2026-12-03/" > "$T/files"
eq "no temp file is left beside the batch" "$(cat "$T/files")" "Dana_Ruiz.pdf"
check_out "... a crash's is removed by the next save, and said" "left by an interrupted save" "$T/run3.err"
OCC log --format json > "$T/log3.json"
"$PY" - "$T/log3.json" > "$T/recs3" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1])):
    if r["channel"] == "card" and r["status"] == "rendered":
        print(r["stakeholder"], r["page"])
EOF
check_out "the new card is page 6" "k6 6" "$T/recs3"
if have pdftotext; then
	while read -r id pg; do
		first=$(awk -F, -v id="$id" '$1 == id {print $2}' "$T/people.csv" "$T/more.csv")
		pdftotext -f "$pg" -l "$pg" "$B" - 2>/dev/null > "$T/page"
		check_out "after the rebuild, record $id: page $pg is still its card" "$first" "$T/page"
	done < "$T/recs3"
fi
ls "$T/var/spool/outbox/new" | grep '^remind\.' > "$T/reminders"
eq "a pass that adds cards sends one updated reminder" "$(wc -l < "$T/reminders")" 2
grep -l 'Subject: Updated' "$T/var/spool/outbox/new"/remind.* > /dev/null 2>&1
eq "the second reminder says it is an update" "$?" 0

# print_command failing: logged with its status, the batch and its records kept.
sed -i "s|^  print_command: .*|  print_command: \"exit 7;\"|" "$CFG"
printf '%s\n' "$H" "k7,Liam,Carter,,customer,gold,l@example.com,Dana Ruiz,dana.ruiz@acme.example,5 Elm St,Springfield,IL,62701,USA,1985-12-13,yes" > "$T/more2.csv"
OCC import stakeholders "$T/more2.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-03T11:10 > /dev/null 2>"$T/run4.err"; rc=$?
eq "a failing print_command does not fail the run" "$rc" 0
check_out "its exit status is logged" "exit status 7" "$T/run4.err"
OCC log --format json > "$T/log4.json"
check_out "the card is recorded as rendered" '"stakeholder": "k7"' "$T/log4.json"
check "the batch is kept" test -s "$B"

# Labels instead of envelopes: one Avery L7160 sheet after the cards.
sed -i -e 's/^  envelope: c6/  envelope: none\n  labels: l7160/' -e '/print_command/d' "$CFG"
db_reset
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-03T10:00 > /dev/null 2>&1
if have pdfinfo && have pdftotext; then
	npages=$(pdfinfo "$B" 2>/dev/null | awk '/^Pages:/ {print $2}')
	eq "labels: 1 cover + 4 cards + 1 label sheet" "$npages" 6
	pdfinfo -f 6 -l 6 "$B" 2>/dev/null > "$T/info"
	check_out "the label sheet is A4" "Page    6 size:  595.276 x 841.89 pts" "$T/info"
	pdftotext -f 6 -l 6 "$B" "$T/labels" 2>/dev/null
	check_out "labels: a recipient" "Łukasz Nowak" "$T/labels"
	check_out "labels: the return address" "Acme Corp, 1 Main St" "$T/labels"
	check "labels: qpdf --check" qpdf --check "$B"
fi

# preview: every shipped template gives a one-card PDF of its size with the name on it.
{
	echo "occasions:"
	for f in "$ROOT"/templates/*.card.yaml; do
		t=$(basename "$f" .card.yaml)
		printf '  - id: p-%s\n    when: {anniversary_of: birthday}\n    lead: 10 days\n    channel: card\n    template: %s\n' "$t" "$t"
	done
} > "$T/etc/cards.yaml"
for f in "$ROOT"/templates/*.card.yaml; do
	t=$(basename "$f" .card.yaml)
	OCC preview --rule "p-$t" --stakeholder k1 -o "$T/p-$t.pdf" > /dev/null 2>"$T/p.err"; rc=$?
	eq "preview $t exits 0" "$rc" 0
	if have pdfinfo && have pdftotext; then
		size=$(pdfinfo "$T/p-$t.pdf" 2>/dev/null | sed -n 's/^Page size: *\([0-9.]*\) x \([0-9.]*\) pts.*/\1x\2/p')
		case $(sed -n 's/^size: *\([^ #]*\).*/\1/p' "$f")/$(sed -n 's/^orientation: *\([a-z]*\).*/\1/p' "$f") in
		A6/landscape) want=419.528x297.638 ;;
		A6/*) want=297.638x419.528 ;;
		A5/*) want=419.528x595.276 ;;
		A4/*) want=595.276x841.89 ;;
		5x7in/*) want=360x504 ;;
		4x6in/*) want=288x432 ;;
		*) want=unknown ;;
		esac
		eq "preview $t: page size" "$size" "$want"
		pdftotext "$T/p-$t.pdf" - 2>/dev/null > "$T/p.txt"
		check_out "preview $t: the name" "Zoë" "$T/p.txt"
		check "preview $t: qpdf --check" qpdf --check "$T/p-$t.pdf"
	fi
done

# Worker processes (forced: the load average may not allow them): two signers' batches are
# rendered by two workers, and the parent's records still name the right pages.
db_reset
sed -i 's/^rules: .*/rules: cards.yaml/' "$CFG"
printf 'occasions:\n  - id: bday\n    name: Birthday\n    when: {anniversary_of: birthday}\n    lead: 10 days\n    channel: card\n    template: birthday\n' > "$T/etc/cards.yaml"
sed -e 's/Dana Ruiz,dana.ruiz/Sam Ortiz,sam.ortiz/' -e 's/^k\([0-9]\),/w\1,/' "$T/people.csv" | grep -v '^w5,\|^wd,' > "$T/two.csv"
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
OCC import stakeholders "$T/two.csv" > /dev/null 2>&1
OCCASIOND_CARD_WORKERS=2 "$OCCASIOND" -c "$CFG" run --once --at 2026-12-03T10:00 > "$T/wrun" 2>&1
check_out "two workers: 8 cards in 2 batches" "8 cards in 2 batches" "$T/wrun"
OCC log --format json > "$T/wlog.json"
"$PY" - "$T/wlog.json" > "$T/wrecs" <<'PYEOF'
import json, sys
for r in json.load(open(sys.argv[1])):
    if r["channel"] == "card" and r["status"] == "rendered":
        print(r["stakeholder"], r["page"], r["artifact"])
PYEOF
eq "two workers: 8 records rendered" "$(wc -l < "$T/wrecs")" 8
if have pdftotext; then
	while read -r id pg art; do
		first=$(awk -F, -v id="${id#?}" '$1 == "k" id {print $2}' "$T/people.csv")
		pdftotext -f "$pg" -l "$pg" "$art" - 2>/dev/null > "$T/page"
		check_out "two workers: record $id, page $pg of $(basename "$art") is its card" "$first" "$T/page"
	done < "$T/wrecs"
fi

# A card that failed for a missing font: retry puts it back; without the font it fails again,
# once the font is installed (here: into the one directory fontconfig sees) it goes out.
# A failed card may also be cancelled.
failed_id() { OCC log --status failed --stakeholder "$1" --format json | "$PY" -c "import json,sys; r=json.load(sys.stdin); print(r[-1]['id'] if r else '')"; }
printf 'id,first_name,last_name,type,owner,birthday\nk6,Ada \360\237\253\240,Lovelace,customer,Dana Ruiz,1980-12-13\n' > "$T/k6.csv"
OCC import stakeholders "$T/k6.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-03T10:00 > /dev/null 2>&1
id5=$(failed_id k5)
check "the CJK card is failed" test -n "$id5"
OCC retry --status failed > "$T/retry1" 2>&1
eq "retry --status failed exits 0" "$?" 0
check_out "retry names what it requeued" "bday k5 2026-12-13 requeued" "$T/retry1"
OCC run --once --at 2026-12-03T10:00 > /dev/null 2>&1
id5b=$(failed_id k5)
check "without the font it fails again, as a new record" test -n "$id5b" -a "$id5b" != "$id5"
if [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
	ln -s /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc "$T/sysfonts/"
	OCC retry "$id5b" > "$T/retry2" 2>&1
	eq "retry ID exits 0" "$?" 0
	OCC run --once --at 2026-12-03T10:00 > "$T/run3" 2>&1
	st=$(OCC log --stakeholder k5 --format json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[-1]['status'])")
	eq "once the font is installed, the retried card is rendered" "$st" rendered
fi
id6=$(failed_id k6)
OCC mark "$id6" --as cancelled > "$T/mark6" 2>&1
eq "a failed card can be cancelled" "$?" 0
OCC retry "$id6" > "$T/retry3" 2>&1
eq "a cancelled card is not retried" "$?" 1
check_out "retry says why" "only a failed or unknown one is retried" "$T/retry3"

# attach_card: a card that cannot be drawn (no font has a character of the name) does not
# hold the email back: it goes without the attachment and its record says so.
printf 'occasions:\n  - id: ecard\n    when: {anniversary_of: birthday}\n    channel: email\n    attach_card: true\n    template: birthday\n' > "$T/etc/cards.yaml"
printf 'id,first_name,last_name,type,email,birthday\nk7,Ada \360\237\253\240,Lovelace,customer,ada@example.org,1980-12-13\n' > "$T/k7.csv"
OCC import stakeholders "$T/k7.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-13T10:00 > "$T/run7" 2> "$T/run7.err"
OCC log --stakeholder k7 --format json | "$PY" -c "import json,sys; r=json.load(sys.stdin)[-1]; print(r['status'], r['reason'][:18])" > "$T/rec7"
check_out "the e-card email goes out without its card" "sent card not attached" "$T/rec7"
check_out "and the log says why" "U+1FAE0" "$T/run7.err"
ls "$T/var/spool/outbox/new" | grep -v '^remind' > "$T/out7"
f7=$(grep -l 'Lovelace' "$T"/var/spool/outbox/new/* 2>/dev/null | head -1)
check "the message is in the outbox, with no PDF" sh -c "test -n '$f7' && ! grep -q 'application/pdf' '$f7'"

# The new cards keys are checked like every other key.
sed -i 's/^  envelope: .*/  envelope: b5/' "$CFG"
grep -q '^  envelope:' "$CFG" || printf '  envelope: b5\n' >> "$CFG"
OCC check > "$T/bad.out" 2>&1; rc=$?
eq "check refuses an unknown envelope" "$rc" 1
check_out "the error names the key and the choices" "envelope: expected none, c6, dl, a7 or no10, got 'b5'" "$T/bad.out"
