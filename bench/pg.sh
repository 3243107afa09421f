#!/bin/sh
# bench/pg.sh: `plan --days 30` over 100k and 1M stakeholders (the rules and data of
# bench/plan.sh) on PostgreSQL against SQLite in the same run, with the peak RSS of each, and
# the import of the same file into each. A private PostgreSQL 15 (tests/e2e/pg.inc) on a Unix
# socket, fsync off as in the tests. Prints a markdown section. PG_SIZES overrides the sizes;
# PG_RUNS (default 3) is how often each plan is timed (best and spread shown).
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
SIZES=${PG_SIZES:-"100000 1000000"}
RUNS=${PG_RUNS:-3}
set +e
. tests/e2e/lib.inc
. tests/e2e/pg.inc
set -e
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
best_spread() { sort -n "$1" | awk 'NR == 1 {b = $1} {w = $1} END {printf "%.3f s (+%.3f)", b, w - b}'; }
best() { sort -n "$1" | head -1; }

if ! pg_start; then
	echo "bench/pg.sh: no PostgreSQL 15 server could be started" >&2
	exit 1
fi
. bench/plan_data.sh
plan_rules "$T/etc"

echo "## PostgreSQL against SQLite"
echo
echo "The rules and stakeholders of bench/plan.sh; \`plan --from 2026-11-01 --days 30 --format csv\` on each"
echo "backend, timed $RUNS times (best, +spread to the slowest), peak RSS from GNU time; the import of the same"
echo "file timed once. PostgreSQL 15 on a Unix socket of the same machine, fsync off (load average at the"
echo "start: $(cut -d' ' -f1-3 /proc/loadavg))."
echo
echo "| stakeholders | backend | import | plan | peak RSS | plan rows |"
echo "| --- | --- | --- | --- | --- | --- |"
for n in $SIZES; do
	plan_people "$n" "$T/people.csv"
	pg_sql postgres "DROP DATABASE IF EXISTS b$n" > /dev/null 2>&1
	pg_sql postgres "CREATE DATABASE b$n" > /dev/null
	rm -rf "$T/var"
	for be in sqlite postgresql; do
		db=$T/var/occasiond.db
		[ "$be" = postgresql ] && db=postgresql:///b$n
		cat > "$T/etc/occasiond.yaml" <<EOF
database: $db
spool: $T/var/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
mail: {from: "Acme Team <team@acme.example>"}
EOF
		t0=$(now)
		/usr/bin/time -f "%M" -o "$T/irss" $BIN -c "$T/etc/occasiond.yaml" import stakeholders "$T/people.csv" > /dev/null
		t1=$(now)
		imp=$(secs "$t0" "$t1")
		: > "$T/plan.t"
		: > "$T/rss.all"
		for r in $(seq "$RUNS"); do
			t0=$(now)
			/usr/bin/time -f "%M" -o "$T/rss" $BIN -c "$T/etc/occasiond.yaml" plan --from 2026-11-01 --days 30 \
				--format csv > "$T/plan.$be.csv"
			t1=$(now)
			secs "$t0" "$t1" >> "$T/plan.t"
			echo >> "$T/plan.t"
			cat "$T/rss" >> "$T/rss.all"
		done
		rss=$(sort -n "$T/rss.all" | tail -1 | awk '{printf "%.0f MiB", $1 / 1024}')
		echo "| $n | $be | $imp s ($(awk '{printf "%.0f MiB", $1 / 1024}' "$T/irss")) | $(best_spread "$T/plan.t") | $rss | $(($(wc -l < "$T/plan.$be.csv") - 1)) |"
	done
	cmp -s "$T/plan.sqlite.csv" "$T/plan.postgresql.csv" || echo "(the two plans differ at $n!)"
done
echo
echo "Goal (issue 13): on PostgreSQL at most 2 × the SQLite time of \`plan\` and the same 64 MiB."
