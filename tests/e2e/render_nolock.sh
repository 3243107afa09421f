#!/bin/sh
# No write transaction is held while cards render: an `import` and a `mark` started while one
# signer's batch of 20,000 cards renders finish in under 2 s, and the batch is not saved yet
# when they return (so they certainly overlapped the render). The claims are committed before
# the render (they are visible as queued), the outcomes after. (The sanitizer build renders
# far slower: fewer cards there, the overlap holds all the more.)
. tests/e2e/lib.inc
setup
NC=20000
case "$OCCASIOND" in *san*) NC=2500 ;; esac
cat > "$T/etc/occasions.yaml" <<'EOF'
occasions:
  - {id: bday, when: {anniversary_of: birthday}, lead: 10 days, channel: card, template: birthday}
EOF
# One card rendered the day before: a record to mark during the big render.
printf 'id,first_name,last_name,type,owner,street,city,country,birthday,consent_personal\n' > "$T/one.csv"
printf 'a0000,Ann,First,customer,Dana Ruiz,1 Main St,Springfield,USA,1980-12-12,yes\n' >> "$T/one.csv"
OCC import stakeholders "$T/one.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-02T10:00 > /dev/null 2>&1
eq "the card of the day before is rendered" "$(sql "$T/var/occasiond.db" "select status from dispatches where id=1")" rendered
"$PY" - "$NC" > "$T/cards.csv" <<'EOF'
import sys
print("id,first_name,last_name,type,owner,street,city,country,birthday,consent_personal")
for i in range(int(sys.argv[1])):
    print("k%05d,Kim,Card%d,customer,Dana Ruiz,%d Main St,Springfield,USA,1980-12-13,yes" % (i, i, i))
EOF
OCC import stakeholders "$T/cards.csv" > /dev/null 2>&1
printf 'id,first_name,last_name,type\nz9999,Zed,Late,customer\n' > "$T/late.csv"
B="$T/var/spool/batches/2026-12-03/Dana_Ruiz.pdf"
OCCASIOND_CARD_WORKERS=1 "$OCCASIOND" -c "$CFG" run --once --at 2026-12-03T10:00 > /dev/null 2> "$T/run.err" &
RP=$!
trap 'kill $RP 2>/dev/null; rm -rf "$T"' EXIT
queued() { [ "$(sql "$T/var/occasiond.db" "select count(*) from dispatches where status='queued'" 2>/dev/null)" = "$NC" ]; }
wait_for 120 queued
check "the claims are committed before the render (all $NC queued)" queued
ms() { "$PY" -c 'import time; print(int(time.monotonic() * 1000))'; }
t0=$(ms); OCC mark 1 --as printed > "$T/mark.out" 2>&1; rc1=$?; t1=$(ms)
OCC import stakeholders "$T/late.csv" > "$T/import.out" 2>&1; rc2=$?; t2=$(ms)
batch_then=$(test -e "$B" && echo saved || echo "not yet")
eq "mark during the render succeeds" "$rc1" 0
eq "import during the render succeeds" "$rc2" 0
check "... mark within 2 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
check "... import within 2 s ($((t2 - t1)) ms)" test $((t2 - t1)) -lt 2000
eq "both returned while the batch was still rendering" "$batch_then" "not yet"
wait $RP; rc=$?
eq "the pass ends well" "$rc" 0
eq "every card is rendered once, each on its page" \
	"$(sql "$T/var/occasiond.db" "select count(*), count(distinct page) from dispatches where status='rendered' and fire_date='2026-12-03'")" "$NC|$NC"
eq "the mark holds" "$(sql "$T/var/occasiond.db" "select status from dispatches where id=1")" printed
eq "the imported stakeholder is there" "$(sql "$T/var/occasiond.db" "select count(*) from stakeholders where id='z9999'")" 1
