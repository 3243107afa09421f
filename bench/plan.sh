#!/bin/sh
# bench/plan.sh: `plan --days 30` over 10k, 100k and 1M stakeholders with 10 rules, its
# peak RSS, and the same run's baseline: one plain SQLite scan of the stakeholders table.
# Prints a markdown section. PLAN_SIZES overrides the sizes (e.g. "10000 100000"); PLAN_RUNS
# (default 3) is how often each is timed: the machine is shared, so the best run and the
# spread (slowest minus best) are shown.
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
T=$(mktemp -d /tmp/occasiond-bench-plan.XXXXXX)
[ -n "$PLAN_KEEP" ] || trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
SIZES=${PLAN_SIZES:-"10000 100000 1000000"}
RUNS=${PLAN_RUNS:-3}
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }

. bench/plan_data.sh
plan_rules "$T/etc"

echo "## plan over many stakeholders"
echo
echo "10 rules (every \`when\` kind, limits on), \`plan --from 2026-11-01 --days 30 --format csv\` to a file; peak RSS"
echo "from GNU time. Baseline in the same run: \`sqlite3 DB 'SELECT * FROM stakeholders'\` (one plain scan of the"
echo "same table). Each timed $RUNS times on a shared 2-core machine: the best, and +the spread to the slowest"
echo "(load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))."
echo
echo "| stakeholders | dispatches planned | plan | peak RSS | SQLite scan | plan / scan |"
echo "| --- | --- | --- | --- | --- | --- |"
# best_spread FILE: "best s (+spread)" of the seconds in FILE, one a line.
best_spread() { sort -n "$1" | awk 'NR == 1 {b = $1} {w = $1} END {printf "%.3f s (+%.3f)", b, w - b}'; }
best() { sort -n "$1" | head -1; }
for n in $SIZES; do
	rm -rf "$T/var"
	cat > "$T/etc/occasiond.yaml" <<EOF
database: $T/var/occasiond.db
spool: $T/var/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
mail: {from: "Acme Team <team@acme.example>"}
EOF
	plan_people "$n" "$T/people.csv"
	$BIN -c "$T/etc/occasiond.yaml" import stakeholders "$T/people.csv" > /dev/null
	: > "$T/scan.t"
	: > "$T/plan.t"
	: > "$T/rss.all"
	for r in $(seq "$RUNS"); do
		t0=$(now)
		sqlite3 "$T/var/occasiond.db" "SELECT * FROM stakeholders" > /dev/null
		t1=$(now)
		secs "$t0" "$t1" >> "$T/scan.t"
		echo >> "$T/scan.t"
		t0=$(now)
		/usr/bin/time -f "%M" -o "$T/rss" $BIN -c "$T/etc/occasiond.yaml" plan --from 2026-11-01 --days 30 --format csv > "$T/plan.csv"
		t1=$(now)
		secs "$t0" "$t1" >> "$T/plan.t"
		echo >> "$T/plan.t"
		cat "$T/rss" >> "$T/rss.all"
	done
	rss=$(sort -n "$T/rss.all" | tail -1 | awk '{printf "%.0f MiB", $1 / 1024}')
	rows=$(($(wc -l < "$T/plan.csv") - 1))
	ratio=$(echo "$(best "$T/plan.t") / $(best "$T/scan.t")" | bc -l | awk '{printf "%.1f×", $1}')
	plan_s=$(best_spread "$T/plan.t")
	scan_s=$(best_spread "$T/scan.t")
	echo "| $n | $rows | $plan_s | $rss | $scan_s | $ratio |"
done
echo
echo "Targets (issue 3): 1,000,000 stakeholders in at most 2 s and 64 MiB, within 3× of the scan."
echo
echo "Before streaming (same data, the loaded planner, 2026-11-23): 10k 0.584 s / 23 MiB, 100k 2.839 s / 155 MiB,"
echo "1M 24.5 s / 1471 MiB. \`plan\` now reads the stakeholders one at a time (README, Decisions): about 1.5 µs"
echo "and 50 bytes per planned dispatch at 100k and 1M (the 10k row is mostly start-up). On this shared machine"
echo "the slowest runs, under the other jobs' load, can pass 2 s."
