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
