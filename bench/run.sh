#!/bin/sh
# make bench: figures with their baselines from the same run, written to bench/RESULTS.md.
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
N=${BENCH_N:-10000}
T=$(mktemp -d /tmp/occasiond-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
rate() { echo "$1 / $2" | bc -l | awk '{printf "%.0f", $1}'; }

# N stakeholders whose birthday falls on 13 December: N cards or emails due on one day.
"$PY" - "$N" "$T/people.csv" <<'PYEOF'
import csv, sys
n, path = int(sys.argv[1]), sys.argv[2]
first = ["Zoë", "José", "Ελένη", "Дмитрий", "Hannah", "Liam", "Sophie", "Emily", "Yuki", "Olivia"]
last = ["Łukasiewicz", "Núñez", "Παπαδοπούλου", "Иванов", "Becker", "O'Connor", "Martin", "Carter", "Tanaka", "Smith"]
owners = ["Dana Ruiz", "Marcus Lee", "Priya Raman", "Sam Ortiz"]
with open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["id","first_name","last_name","type","tier","email","preferred_channel","owner","street","city","country","birthday","customer_since","consent_personal"])
    for i in range(n):
        w.writerow(["b%06d" % i, first[i % 10], last[(i // 10) % 10], "customer", "gold",
                    "person%d@example.com" % i, "card" if i % 2 else "email", owners[i % 4],
                    "%d Main St" % i, "Springfield", "USA", "19%02d-12-13" % (50 + i % 50), "2020-01-15", "yes"])
PYEOF
mkdir -p "$T/etc"
cat > "$T/etc/rules.yaml" <<'EOF2'
occasions:
  - id: birthday
    when: {anniversary_of: birthday}
    lead: 10 days
    channel: preferred
    template: birthday
EOF2
cat > "$T/etc/occasiond.yaml" <<EOF2
database: $T/var/occasiond.db
spool: $T/var/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
mail: {from: "Acme Team <team@acme.example>"}
EOF2
OCC="$BIN -c $T/etc/occasiond.yaml"

t0=$(now); $OCC import stakeholders "$T/people.csv" >/dev/null; t1=$(now)
import_s=$(secs "$t0" "$t1")
t0=$(now); sqlite3 "$T/plain.db" ".mode csv" ".import $T/people.csv people" >/dev/null 2>&1; t1=$(now)
sqlite_s=$(secs "$t0" "$t1")

t0=$(now); $OCC plan --from 2026-01-01 --days 365 --format json > "$T/plan.json"; t1=$(now)
plan_s=$(secs "$t0" "$t1")
planned=$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$T/plan.json")

t0=$(now); $OCC run --once --at 2026-12-03T10:00 > "$T/run.out" 2>/dev/null; t1=$(now)
run_s=$(secs "$t0" "$t1")
cards=$(sed -n 's/^\([0-9]*\) cards\{0,1\} in.*/\1/p' "$T/run.out")
emails=$(sed -n 's/.*batch[es]*, \([0-9]*\) emails\{0,1\},.*/\1/p' "$T/run.out")
bytes=$(cat "$T"/var/spool/batches/*/*.pdf | wc -c)
bpc=$(rate "$bytes" "$cards")

# Baseline: the same card made as a PDF of its own (preview), as a card-per-file tool would.
S=20
t0=$(now)
i=1; while [ $i -le $S ]; do $OCC preview --rule birthday --stakeholder "$(printf 'b%06d' $((i * 2 - 1)))" -o "$T/single$i.pdf" >/dev/null; i=$((i + 1)); done
t1=$(now)
single_s=$(secs "$t0" "$t1")
single_bytes=$(cat "$T"/single*.pdf | wc -c)

cpu=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
{
echo "# occasiond benchmarks"
echo
echo "Machine: $(uname -srm), $(nproc) cores, ${cpu:-unknown CPU}. Date: $(date -u +%Y-%m-%dT%H:%MZ). occasiond $($BIN --version | cut -d' ' -f2)."
echo "Data: $N generated stakeholders (names in Latin, Greek and Cyrillic), half preferring cards, all with a birthday on 13 December."
echo
echo "| figure | occasiond | baseline (same run) |"
echo "| --- | --- | --- |"
echo "| import $N stakeholders (CSV, validated, one transaction) | ${import_s} s ($(rate "$N" "$import_s") rows/s) | sqlite3 CLI \`.import\` of the same file, no validation: ${sqlite_s} s |"
echo "| plan 365 days for $N stakeholders | ${plan_s} s ($planned dispatches) | — |"
echo "| run --once: cards into batches (template merge included) | $cards cards + $emails emails in ${run_s} s ($(rate "$((cards + emails))" "$run_s") dispatches/s), $bpc bytes per card | one PDF per card (preview, $S cards): $(echo "$single_s / $S" | bc -l | awk '{printf "%.3f", $1}') s and $(rate "$single_bytes" "$S") bytes per card |"
echo
echo "Batches embed each font once per file; a card of its own pays for the whole embedded font."
echo; sh bench/plan.sh
echo; sh bench/plan_run.sh
echo; sh bench/import.sh
} > bench/RESULTS.md
{ echo; bench/cards.sh; } >> bench/RESULTS.md
{ echo; sh bench/smtp.sh; } >> bench/RESULTS.md
{ echo; sh bench/oauth.sh; } >> bench/RESULTS.md
{ echo; sh bench/carddav.sh; } >> bench/RESULTS.md
{ echo; sh bench/pg.sh; } >> bench/RESULTS.md
{ echo; sh bench/pg_multi.sh; } >> bench/RESULTS.md
sh bench/idle.sh >> bench/RESULTS.md
cat bench/RESULTS.md
