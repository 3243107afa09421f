#!/bin/sh
# bench/import.sh: `import stakeholders` of 1,000,000 rows (IMPORT_N), its peak RSS, against
# the same run's sqlite3 CLI `.import` of the same file (no validation, no upsert), and the
# same rows as a HubSpot export through `--preset hubspot` (when the preset exists). Each is
# timed IMPORT_RUNS (default 3) times into a fresh database: best and spread. Prints markdown.
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
T=$(mktemp -d /tmp/occasiond-bench-import.XXXXXX)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
N=${IMPORT_N:-1000000}
RUNS=${IMPORT_RUNS:-3}
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
best_spread() { sort -n "$1" | awk 'NR == 1 {b = $1} {w = $1} END {printf "%.3f s (+%.3f)", b, w - b}'; }
best() { sort -n "$1" | head -1; }
maxrss() { sort -n "$1" | tail -1 | awk '{printf "%.0f MiB", $1 / 1024}'; }

# The rows of bench/plan.sh, once in our columns and once as HubSpot writes them.
"$PY" - "$N" "$T/people.csv" "$T/hubspot.csv" <<'PYEOF'
import csv, sys, random
n, path, hpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(7)
zones = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", ""]
def day(y0, y1):
    return "%04d-%02d-%02d" % (rnd.randint(y0, y1), rnd.randint(1, 12), rnd.randint(1, 28))
with open(path, "w", newline="", encoding="utf-8") as f, open(hpath, "w", newline="", encoding="utf-8") as h:
    w = csv.writer(f)
    hw = csv.writer(h, quoting=csv.QUOTE_ALL)
    w.writerow(["id", "first_name", "last_name", "type", "email", "timezone", "street", "city", "birthday",
                "customer_since"])
    hw.writerow(["Record ID", "First Name", "Last Name", "Lifecycle Stage", "Email", "Time Zone",
                 "Street Address", "City", "Date of birth", "Create Date"])
    for i in range(n):
        emp = i % 5 == 0
        b, c = day(1950, 2000), day(2005, 2025)
        row = ["%d" % (1000 + i), "Name%d" % i, "Family", "employee" if emp else "customer", "p%d@example.com" % i,
               zones[i % 5], "%d Main St" % i, "Springfield", b, c]
        w.writerow(row)
        hw.writerow(row[:3] + ["other" if emp else "customer"] + row[4:8] + [b, c + " 09:30"])
PYEOF

cat > "$T/occasiond.yaml" <<EOF
database: $T/occasiond.db
spool: $T/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
mail: {from: "Acme Team <team@acme.example>"}
EOF
echo "occasions: []" > "$T/rules.yaml"
: > "$T/imp.t"; : > "$T/sq.t"; : > "$T/map.t"; : > "$T/imp.rss"; : > "$T/map.rss"
have_preset=0
[ -f maps/hubspot.yaml ] && have_preset=1
for r in $(seq "$RUNS"); do
	rm -f "$T"/occasiond.db* "$T/plain.db"
	t0=$(now)
	sqlite3 "$T/plain.db" ".mode csv" ".import $T/people.csv people" > /dev/null 2>&1
	t1=$(now); secs "$t0" "$t1" >> "$T/sq.t"; echo >> "$T/sq.t"
	t0=$(now)
	/usr/bin/time -f "%M" -o "$T/rss" $BIN -c "$T/occasiond.yaml" import stakeholders "$T/people.csv" > /dev/null
	t1=$(now); secs "$t0" "$t1" >> "$T/imp.t"; echo >> "$T/imp.t"; cat "$T/rss" >> "$T/imp.rss"
	if [ $have_preset = 1 ]; then
		rm -f "$T"/occasiond.db*
		t0=$(now)
		/usr/bin/time -f "%M" -o "$T/rss" $BIN -c "$T/occasiond.yaml" import stakeholders "$T/hubspot.csv" \
			--preset hubspot > /dev/null
		t1=$(now); secs "$t0" "$t1" >> "$T/map.t"; echo >> "$T/map.t"; cat "$T/rss" >> "$T/map.rss"
	fi
done
ratio() { echo "$(best "$1") / $(best "$2")" | bc -l | awk '{printf "%.2f×", $1}'; }
echo "## import over many rows"
echo
echo "$N rows of 10 columns (the data of bench/plan.sh), each into a fresh database, timed $RUNS times on a"
echo "shared 2-core machine: the best and +the spread (load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))."
echo "Baseline: the sqlite3 CLI's \`.import\` of the same file into a table of its own (no validation, no upsert,"
echo "no duplicate check). Peak RSS from GNU time."
echo
echo "| import | time | peak RSS | / sqlite3 .import |"
echo "| --- | --- | --- | --- |"
echo "| sqlite3 \`.import\` | $(best_spread "$T/sq.t") | — | 1.00× |"
echo "| \`import stakeholders\` (our columns) | $(best_spread "$T/imp.t") | $(maxrss "$T/imp.rss") | $(ratio "$T/imp.t" "$T/sq.t") |"
if [ $have_preset = 1 ]; then
	echo "| \`import stakeholders --preset hubspot\` (the same rows as HubSpot writes them) | $(best_spread "$T/map.t") | $(maxrss "$T/map.rss") | $(ratio "$T/map.t" "$T/sq.t"); preset / plain: $(ratio "$T/map.t" "$T/imp.t") |"
fi
echo
echo "Targets: at most 64 MiB and 3× sqlite3's \`.import\`; a preset at most 1.5× the plain import."
echo "Before streaming (issue 12's measure on the same shape): 17.2 s and 1.04 GB against 3.0 s."
