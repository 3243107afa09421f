#!/bin/sh
# make demo: the shipped example, run for a fixed day so that it always makes cards and emails.
# Everything goes under var/ (the example config's database and spool), made afresh each time.
set -e
cd "$(dirname "$0")/.."
bin=build/occasiond
cfg=config/occasiond.yaml
day=2026-12-03
rm -rf var
echo "== occasiond check"
$bin -c $cfg check
echo "== import the example stakeholders and events"
$bin -c $cfg import stakeholders examples/stakeholders.csv
$bin -c $cfg import events examples/events.csv
echo "== plan for $day"
$bin -c $cfg plan --from $day --days 1
echo "== run at ${day}T10:00 (Europe/Berlin), then at ${day}T16:00 (New York's morning)"
$bin -c $cfg run --once --at ${day}T10:00 2>var/demo-run.log
$bin -c $cfg run --once --at ${day}T16:00 2>>var/demo-run.log
echo "== a second run at the same time dispatches nothing"
$bin -c $cfg run --once --at ${day}T16:00 2>>var/demo-run.log
echo "== the dispatch log"
$bin -c $cfg log
echo
echo "Card batches (print, sign by hand, post):"
find var/spool/batches -name '*.pdf' | sort | sed 's/^/  /'
echo "Emails (maildir, RFC 5322 .eml files):"
find var/spool/outbox/new -type f | sort | head -5 | sed 's/^/  /'
echo "  ... $(find var/spool/outbox/new -type f | wc -l) in all"
echo "Dispatch log: var/demo-run.log   Database: var/occasiond.db"
