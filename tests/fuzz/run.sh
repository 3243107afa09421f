#!/bin/sh
# Runs each fuzzer for FUZZ_TIME seconds from its seed corpus (tests/fuzz/corpus/NAME) plus
# what earlier runs found (build/fuzz/corpus/NAME), and prints executions and crashes.
# Usage: tests/fuzz/run.sh SECONDS NAME...
secs=$1
shift
status=0
for name in "$@"; do
	rm -rf build/fuzz/crashes/$name
	mkdir -p build/fuzz/corpus/$name build/fuzz/crashes/$name
	log=build/fuzz/$name.log
	build/fuzz/fuzz_$name -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	  -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$name/ \
	  build/fuzz/corpus/$name tests/fuzz/corpus/$name >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	crashes=$(ls build/fuzz/crashes/$name | wc -l)
	printf 'fuzz %-9s %10s executions in %ss, exit %d, %d crash files (build/fuzz/crashes/%s)\n' \
	  "$name" "${runs:-?}" "$secs" "$rc" "$crashes" "$name"
	[ "$rc" -ne 0 ] && status=1
done
exit $status
