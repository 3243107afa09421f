#!/bin/sh
# What a new user meets in the first hour: CSV cells that are not formulas, messages that name
# what they are about, plurals, preview's file name, rules that can never fire.
. tests/e2e/lib.inc
setup

# CSV injection (CONTRACT 7): a cell taken from data never starts a formula.
printf 'id,first_name,last_name,type,email,preferred_channel,owner,birthday,consent_personal\n' > "$T/evil.csv"
printf 'e1,"=HYPERLINK(""http://x"",""click"") Smith",Smith,customer,eve@x.example,email,@SUM(1),1980-12-20,yes\n' >> "$T/evil.csv"
printf '@n2,-2+3,Doe,customer,doe@x.example,card,+cmd,1980-12-21,yes\n' >> "$T/evil.csv"
OCC import stakeholders "$T/evil.csv" > "$T/out" 2>&1
check_out "one stakeholder is one, not 'stakeholders'" "2 stakeholders imported" "$T/out"
OCC plan --from 2026-12-01 --days 30 --format csv > "$T/plan.csv" 2>&1
check_out "plan csv: a name starting with = is text" "'=HYPERLINK(" "$T/plan.csv"
check_out "plan csv: a signer starting with @ is text" ",'@SUM(1)," "$T/plan.csv"
check_out "plan csv: a name starting with - is text" "'-2+3" "$T/plan.csv"
check_not "plan csv: no cell starts with a formula character" ',=' "$T/plan.csv"
"$PY" - "$T/plan.csv" > "$T/bad" <<'PYEOF'
import csv, sys
for row in csv.reader(open(sys.argv[1], newline='')):
    for c in row:
        if c[:1] in ('=', '+', '-', '@', '\t', '\r'):
            print(repr(c))
PYEOF
eq "plan csv: no parsed cell starts with = + - @ tab CR" "$(cat "$T/bad")" ""
OCC run --once --at 2026-12-10T10:00 > /dev/null 2>&1
OCC log --format csv > "$T/log.csv" 2>&1
"$PY" - "$T/log.csv" > "$T/bad" <<'PYEOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
print(len(rows) > 1)
for row in rows:
    for c in row:
        if c[:1] in ('=', '+', '-', '@', '\t', '\r'):
            print(repr(c))
PYEOF
eq "log csv: records, and no cell starts with = + - @ tab CR" "$(cat "$T/bad")" "True"
check_out "log csv: a stakeholder id starting with @ is text" ",'@n2," "$T/log.csv"

# Messages name what they are about; counts agree with their nouns.
printf 'id,first_name\nsolo,Ann\n' > "$T/one.csv"
OCC import stakeholders "$T/one.csv" > "$T/out" 2>&1
check_out "import of one row says 'stakeholder'" "1 stakeholder imported" "$T/out"
printf 'stakeholder_id,kind,date\nsolo,promotion,2026-12-15\n' > "$T/ev.csv"
OCC import events "$T/ev.csv" > "$T/out" 2>&1
check_out "import of one event says 'event'" "1 event imported" "$T/out"
OCC mark 99999 --as printed > "$T/out" 2>&1; rc=$?
eq "mark of an unknown id fails" "$rc" 1
check_out "and names the id" "no dispatch with id 99999" "$T/out"

# The top-level --help lists every option each command's own --help gives.
OCC --help > "$T/help" 2>&1
for c in check import plan run serve preview log mark report; do
	OCC "$c" --help 2>&1 | awk 'NR==1 || (/^ / && !done) {print; next} {done=1}' |
		grep -oE '(^| |\[)--?[a-z][a-z-]*' | tr -d ' [' | sort -u > "$T/opts"
	awk -v c="$c" '$0 ~ "^  " c " " || $0 == "  " c {on=1; print; next} on && /^  [a-z-]/ {on=0} on && /^   +\[/ {print}' \
		"$T/help" > "$T/top"
	miss=
	for o in $(cat "$T/opts"); do grep -qe "$o\b" "$T/top" || miss="$miss $o"; done
	eq "--help shows every option of $c" "$miss" ""
done

# check: every name a template uses is one a stakeholder or occasiond gives, at FILE:LINE:COL.
mkdir -p "$T/tpl"
cp -r "$ROOT/templates/." "$T/tpl/"
sed "s|^templates: .*|templates: $T/tpl|" "$CFG" > "$T/etc/tpl.yaml"
OCC import stakeholders examples/stakeholders.csv > /dev/null 2>&1
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1; rc=$?
eq "the shipped templates pass check" "$rc" 0
check_out "with no warning" "0 warnings" "$T/out"
printf 'Subject: Greetings, {{frist_name}}\n\nDear {{nick_name}} ({{department}}),\n{{#event}}{{title}} {{titel}}{{/event}}\n{{occasion.nmae}} {{> nosuch}}\n' > "$T/tpl/holiday.email"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1; rc=$?
eq "unknown names are warnings (exit 0)" "$rc" 0
check_out "a misspelt name in a header, at its line and column, with a suggestion" \
	"$T/tpl/holiday.email:1:21: warning: unknown name 'frist_name'" "$T/out"
check_out "the suggestion" "(did you mean 'first_name'?)" "$T/out"
check_out "a misspelt name in the body, at its file line" "$T/tpl/holiday.email:3:6: warning: unknown name 'nick_name'" "$T/out"
check_out "its suggestion" "(did you mean 'nickname'?)" "$T/out"
check_not "a custom column of the database is known" "unknown name 'department'" "$T/out"
check_not "a name of the section's map is known" "unknown name 'title'" "$T/out"
check_out "a misspelt key of a section's map" "$T/tpl/holiday.email:4:21: warning: unknown name 'titel'" "$T/out"
check_out "a misspelt dotted name" "holiday.email:5:1: warning: unknown name 'occasion.nmae'" "$T/out"
check_out "a partial that does not exist" "holiday.email:5:19: warning: partial 'nosuch' not found" "$T/out"
printf 'Subject: Hi\n\n{{greeting_name}}\n{{> sig2}}\n' > "$T/tpl/holiday.email"
printf '\n{{signer}} {{singer}}\n' > "$T/tpl/sig2.mustache"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1
check_out "names in a partial, at the partial's line" "$T/tpl/sig2.mustache:2:12: warning: unknown name 'singer'" "$T/out"
sed 's/{{full_name}}/{{ful_name}}/' "$ROOT/templates/birthday.card.yaml" > "$T/tpl/birthday.card.yaml"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1
line=$(grep -n 'ful_name' "$T/tpl/birthday.card.yaml" | head -1 | cut -d: -f1)
check_out "a misspelt name in a card template, at its line" "$T/tpl/birthday.card.yaml:$line:" "$T/out"
check_out "named" "unknown name 'ful_name'" "$T/out"
cp "$ROOT/templates/birthday.card.yaml" "$T/tpl/"

# A template error names the file's lines, also for the section it refers to.
printf 'Subject: Hi\n\n{{#nick_name}}\nx\n{{/nickname}}\n' > "$T/tpl/holiday.email"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1; rc=$?
eq "a mismatched section fails check" "$rc" 1
check_out "both lines are the file's" \
	"$T/tpl/holiday.email:5:1: error: {{/nickname}} does not close {{#nick_name}} opened on line 3" "$T/out"
printf 'Subject: Hi\n\nDear {{first_name}},\n\n{{#years}}\n' > "$T/tpl/holiday.email"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1
check_out "an unclosed section at its file line" "$T/tpl/holiday.email:5:1: error: unclosed section {{#years}}" "$T/out"
cp "$ROOT/templates/holiday.email" "$T/tpl/"

# preview: the file name says what is in it.
cd "$T"
OCC preview --rule birthday --stakeholder c001 -o x.eml > "$T/out" 2>&1; rc=$?
eq "a card previewed into .eml is refused" "$rc" 1
check_out "the refusal says why" "does not end in .pdf" "$T/out"
eq "and nothing was written" "$(ls "$T"/x.eml 2>/dev/null)" ""
OCC preview --rule thanksgiving --stakeholder c001 -o x.pdf > "$T/out" 2>&1; rc=$?
eq "an email previewed into .pdf is refused" "$rc" 1
check_out "the refusal says why" "does not end in .eml" "$T/out"
OCC preview --rule birthday --stakeholder c001 -o card.PDF > "$T/out" 2>&1; rc=$?
eq "a card into .PDF is fine" "$rc" 0
OCC preview --rule holiday --stakeholder c001 > "$T/out" 2>&1; rc=$?
eq "preview without -o exits 0" "$rc" 0
check_out "a 'preferred' rule that resolves to a card for this stakeholder is preview.pdf" "preview.pdf" "$T/out"
OCC preview --rule holiday --stakeholder c003 > "$T/out" 2>&1
check_out "and to an email for another, preview.eml" "preview.eml" "$T/out"
head -c 5 "$T/preview.pdf" > "$T/magic"
check_out "preview.pdf is a PDF" "%PDF-" "$T/magic"
cd "$ROOT"

# A rule on a column no stakeholder has never fires: plan says so too, once per rule.
cp "$T/etc/occasions.yaml" "$T/etc/good.yaml"
cat >> "$T/etc/occasions.yaml" <<'YEOF'

  - id: cert
    when: {anniversary_of: certified_on, years: [1, 5]}
    channel: email
    template: thank-you
YEOF
OCC plan --from 2026-12-01 --days 60 > "$T/out" 2> "$T/err"; rc=$?
eq "plan still runs" "$rc" 0
check_out "plan warns about the column" "warning: occasion 'cert': no stakeholder has a 'certified_on' column" "$T/err"
check_out "and says what it means" "so it never fires" "$T/err"
eq "once per rule" "$(grep -c "'cert'" "$T/err")" 1
check_not "nothing of it on stdout" "certified_on" "$T/out"
OCC plan --from 2026-12-01 --days 60 --format json > "$T/out" 2> "$T/err"
"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out"; eq "the json on stdout stays valid" "$?" 0
OCC run --once --dry-run --at 2026-12-10T10:00 > "$T/out" 2> "$T/err"
check_out "run says so too" "warning: occasion 'cert': no stakeholder has a 'certified_on' column" "$T/err"
cp "$T/etc/good.yaml" "$T/etc/occasions.yaml"
OCC plan --from 2026-12-01 --days 60 > "$T/out" 2> "$T/err"
eq "the shipped rules: no warning" "$(cat "$T/err")" ""

# The plan table lines up names in any script by display width (wide CJK, combining marks).
printf 'id,first_name,last_name,type,email,preferred_channel,birthday,consent_personal\n' > "$T/scripts.csv"
printf 'w1,太郎,山田,customer,w1@x.example,email,1980-12-20,yes\n' >> "$T/scripts.csv"
printf 'w2,देवनागरी,शर्मा,customer,w2@x.example,email,1980-12-20,yes\n' >> "$T/scripts.csv"
printf 'w3,สมชั้น,ใจดี,customer,w3@x.example,email,1980-12-20,yes\n' >> "$T/scripts.csv"
printf 'w4,Zoe\314\210,Noe\314\210l,customer,w4@x.example,email,1980-12-20,yes\n' >> "$T/scripts.csv"
printf 'w5,민준,김,customer,w5@x.example,email,1980-12-20,yes\n' >> "$T/scripts.csv"
OCC import stakeholders "$T/scripts.csv" > /dev/null 2>&1
OCC plan --from 2026-12-01 --days 20 > "$T/plan.txt" 2>&1
"$PY" - "$T/plan.txt" > "$T/bad" <<'PYEOF'
import sys, unicodedata
def width(s):
    w = 0
    for ch in s:
        if unicodedata.category(ch) in ('Mn', 'Me', 'Cf'):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ('W', 'F') else 1
    return w
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
col = width(lines[0][:lines[0].index('CHANNEL')])
import re
rows = lines[1:]
print(sum(1 for l in rows if re.search(r'  w[1-5]  ', l)) >= 5)
for l in rows:
    m = re.search(r'  (card|email)  ', l)
    if not m or width(l[:m.start()]) + 2 != col:
        print('drifts:', l)
PYEOF
eq "the CHANNEL column starts at the same display column on every line" "$(cat "$T/bad")" "True"

# A card's text block: template errors name the file's lines too.
"$PY" - "$ROOT/templates/birthday.card.yaml" "$T/tpl/birthday.card.yaml" <<'PYEOF'
import sys
s = open(sys.argv[1], encoding='utf-8').read()
s = s.replace('  - text: Happy Birthday\n', '  - text: |\n      Happy\n      {{#nickname}}Birthday\n      {{/nick_name}}\n', 1)
open(sys.argv[2], 'w', encoding='utf-8').write(s)
PYEOF
open=$(grep -n '{{#nickname}}Birthday' "$T/tpl/birthday.card.yaml" | cut -d: -f1)
close=$((open + 1))
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1; rc=$?
eq "a broken section in a card's text fails check" "$rc" 1
check_out "the card's error gives the file's lines" "{{/nick_name}} does not close {{#nickname}} opened on line $open" "$T/out"
check_out "and where it is closed" "text: line $close:" "$T/out"
check_out "at the closing tag's line and column" "birthday.card.yaml:$close:7: error:" "$T/out"
sed 's/  - text: Happy Birthday/  - text: "Happy {{#years}}"/' "$ROOT/templates/birthday.card.yaml" > "$T/tpl/birthday.card.yaml"
line=$(grep -n 'Happy {{#years}}' "$T/tpl/birthday.card.yaml" | cut -d: -f1)
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1
check_out "a one-line text: its own line" "unclosed section {{#years}}" "$T/out"
check_out "numbered as in the file" "line $line: unclosed" "$T/out"
check_out "at the tag's column, past the quote" "birthday.card.yaml:$line:18: error:" "$T/out"
cp "$ROOT/templates/birthday.card.yaml" "$T/tpl/"

# report -o: the file's name says what is in it, as for preview.
OCC report --at 2026-12-10T12:00 -o "$T/r.html" > /dev/null 2>&1; rc=$?
eq "report -o r.html exits 0" "$rc" 0
head -c 15 "$T/r.html" > "$T/magic"
check_out "without --format, .html gives the page" "<!DOCTYPE html>" "$T/magic"
OCC report --at 2026-12-10T12:00 -o "$T/r.json" > /dev/null 2>&1
"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/r.json"; eq "and .json gives JSON" "$?" 0
OCC report --format json -o "$T/x.html" > "$T/out" 2>&1; rc=$?
eq "--format json into an .html file is refused" "$rc" 2
check "and nothing is written" test ! -e "$T/x.html"
OCC import stakeholders "$T/no-such.csv" > "$T/out" 2>&1; rc=$?
eq "importing a missing file fails" "$rc" 1
check_out "saying it cannot be opened" "cannot open $T/no-such.csv" "$T/out"
check_not "not blaming 0 invalid rows" "0 invalid rows" "$T/out"
printf 'Subject: Hi {{#x}}\n\nDear {{first_name}},\n' > "$T/tpl/holiday.email"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1
check_out "a template error in a header: its column in the file" "$T/tpl/holiday.email:1:13: error: unclosed section {{#x}}" "$T/out"
printf 'Subject: Hi\n\nDear {{first_name}},\n  x {{/years}}\n' > "$T/tpl/holiday.email"
OCC -c "$T/etc/tpl.yaml" check > "$T/out" 2>&1
check_out "and in the body" "$T/tpl/holiday.email:4:5: error: {{/years}} without an open section" "$T/out"
cp "$ROOT/templates/holiday.email" "$T/tpl/"
