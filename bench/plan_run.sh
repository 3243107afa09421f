#!/bin/sh
# bench/plan_run.sh: a pass and the report over the plan benches' rules and data (plan_data.sh)
# at 10k, 100k and 1M stakeholders: `run --once` that dispatches the day's items (emails to the
# maildir, cards into batches), a second `run --once` at the same instant that finds nothing
# new (what serve pays on each wake-up), `report`, and `plan --days 1` of the same run as the
# baseline; peak RSS from GNU time. PLAN_SIZES and PLAN_RUNS as in plan.sh; BENCH_BIN another
# build to measure (a before beside an after). Prints a markdown section.
set -e
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-$(pwd)/build/occasiond}
T=$(mktemp -d /tmp/occasiond-bench-run.XXXXXX)
trap 'rm -rf "$T"' EXIT
SIZES=${PLAN_SIZES:-"10000 100000 1000000"}
RUNS=${PLAN_RUNS:-3}
AT=2026-11-02T10:00
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
best_spread() { sort -n "$1" | awk 'NR == 1 {b = $1} {w = $1} END {printf "%.3f s (+%.3f)", b, w - b}'; }
best() { sort -n "$1" | head -1; }
mib() { sort -n "$1" | tail -1 | awk '{printf "%.0f MiB", $1 / 1024}'; }
# timed NAME CMD...: appends seconds to T/NAME.t and peak RSS (KiB) to T/NAME.rss
timed() {
	name=$1; shift
	t0=$(now)
	/usr/bin/time -f "%M" -o "$T/rss" "$@" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; }
	t1=$(now)
	secs "$t0" "$t1" >> "$T/$name.t"; echo >> "$T/$name.t"
	cat "$T/rss" >> "$T/$name.rss"
}
. bench/plan_data.sh
plan_rules "$T/etc"

echo "## A pass and the report over many stakeholders"
echo
echo "The rules and data of the plan bench; \`run --once --at $AT\` (maildir, cards into batches),"
echo "then \`run --once\` again at the same instant (nothing new: a serve wake-up), \`report\`, and"
echo "\`plan --from 2026-11-02 --days 1\` as the baseline, each (but the first run) $RUNS times: the best and"
echo "+the spread; peak RSS the largest seen (load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))."
echo
echo "| stakeholders | run --once: dispatched | time | peak RSS | run --once, nothing new | peak RSS | plan --days 1 | nothing new / plan | report | peak RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for n in $SIZES; do
	rm -rf "$T/var" "$T"/*.t "$T"/*.rss
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
	C="$BIN -c $T/etc/occasiond.yaml"
	$C import stakeholders "$T/people.csv" > /dev/null
	timed first $C run --once --at "$AT"
	sent=$(find "$T/var/spool/outbox/new" -type f 2>/dev/null | wc -l)
	cards=$(sqlite3 "$T/var/occasiond.db" "select count(*) from dispatches where channel='card' and status='rendered'")
	for r in $(seq "$RUNS"); do
		timed again $C run --once --at "$AT"
		timed plan $C plan --from 2026-11-02 --days 1 --format csv
		timed report $C report --at "$AT"
	done
	ratio=$(echo "$(best "$T/again.t") / $(best "$T/plan.t")" | bc -l | awk '{printf "%.1f×", $1}')
	echo "| $n | $sent emails, $cards cards | $(best "$T/first.t") s | $(mib "$T/first.rss") | $(best_spread "$T/again.t") | $(mib "$T/again.rss") | $(best_spread "$T/plan.t") | $ratio | $(best_spread "$T/report.t") | $(mib "$T/report.rss") |"
done
echo
echo "Targets (issue 12): at 1,000,000 each peak RSS at most 64 MiB, the run that finds nothing new at most"
echo "1.5× \`plan --days 1\`, the run that dispatches at most 10 s. Before one planner (same data, 2026-12):"
echo "\`run --once --dry-run\` 6.4 s / 1.39 GB, a dispatching \`run --once\` (23,400 items) 27.6 s / 1.39 GB, a"
echo "\`run --once\` that finds nothing new 8.6 s / 1.39 GB against \`plan --days 30\` 1.3 s / 63 MiB."
