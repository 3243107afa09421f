#!/bin/sh
# Runs every unit test binary and every end-to-end script given on the command line,
# counts "ok", "not ok" and "skip" lines, and ends with "N passed, N failed, N skipped".
# A test program that crashes or exits non-zero without a "not ok" line counts as a failure.
pass=0 fail=0 skip=0
log=${TEST_LOG:-tests/last-run.log}
: > "$log"
label=
while [ $# -gt 0 ]; do
	t=$1
	shift
	if [ "$t" = --bin ]; then
		OCCASIOND=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
		export OCCASIOND
		case "$1" in *san*) label="[asan] " ;; *) label= ;; esac
		shift
		continue
	fi
	out=$(mktemp)
	case "$t" in
	*.sh) sh "$t" > "$out" 2>&1 ;;
	*) "$t" > "$out" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	s=$(grep -c '^skip ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $t exited with status $rc" >> "$out"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	{ echo "== $label$t"; cat "$out"; } >> "$log"
	if [ "$f" -ne 0 ]; then
		echo "FAIL $label$t ($p passed, $f failed)"
		grep -A3 '^not ok ' "$out" | head -40
	else
		if [ "$s" -gt 0 ]; then echo "ok   $label$t ($p passed, $s skipped)"; else echo "ok   $label$t ($p passed)"; fi
	fi
	rm -f "$out"
done
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
