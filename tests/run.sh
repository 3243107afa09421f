#!/bin/sh
# Runs every unit test binary and every end-to-end script given on the command line,
# counts "ok", "not ok" and "skip" lines, and ends with "N passed, N failed, N skipped".
# A test program that crashes or exits non-zero without a "not ok" line counts as a failure.
#   --bin PATH             the occasiond binary for the tests after it ([asan] when a sanitizer build)
#   --backend sqlite|pg    the store the end-to-end scripts after it use (OCCASIOND_TEST_BACKEND;
#                          pg: a private PostgreSQL 15 per script, marked [pg])
# Each line ends with the seconds the test took.
pass=0 fail=0 skip=0
log=${TEST_LOG:-tests/last-run.log}
: > "$log"
label= blabel=
OCCASIOND_TEST_BACKEND=${OCCASIOND_TEST_BACKEND:-sqlite}
export OCCASIOND_TEST_BACKEND
[ "$OCCASIOND_TEST_BACKEND" = pg ] && blabel="[pg] "
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
	if [ "$t" = --backend ]; then
		case "$1" in
		pg) blabel="[pg] " ;;
		sqlite) blabel= ;;
		*) echo "run.sh: --backend sqlite or pg, not '$1'" >&2; exit 2 ;;
		esac
		OCCASIOND_TEST_BACKEND=$1
		shift
		continue
	fi
	out=$(mktemp)
	t0=$(date +%s)
	case "$t" in
	*.sh) sh "$t" > "$out" 2>&1 ;;
	*) "$t" > "$out" 2>&1 ;;
	esac
	rc=$?
	secs=$(($(date +%s) - t0))
	# The backend matters to the end-to-end scripts only.
	case "$t" in *.sh) lb=$label$blabel ;; *) lb=$label ;; esac
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	s=$(grep -c '^skip ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $t exited with status $rc" >> "$out"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	{ echo "== $lb$t (${secs} s)"; cat "$out"; } >> "$log"
	if [ "$f" -ne 0 ]; then
		echo "FAIL $lb$t ($p passed, $f failed, ${secs} s)"
		grep -A3 '^not ok ' "$out" | head -40
	else
		if [ "$s" -gt 0 ]; then echo "ok   $lb$t ($p passed, $s skipped, ${secs} s)"; else echo "ok   $lb$t ($p passed, ${secs} s)"; fi
	fi
	rm -f "$out"
done
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
