#!/bin/sh
# The end-to-end spine again, every command of it run under valgrind (memcheck, full leak
# check): the spine's own checks must pass, and valgrind must report no error and no leak.
# Runs for the plain build only (the ASan build cannot run under valgrind).
. tests/e2e/lib.inc
case "$OCCASIOND" in
*/san/*) echo "skip - valgrind runs the plain build only"; exit 0 ;;
esac
if ! have valgrind; then echo "skip - valgrind is not installed"; exit 0; fi
mkdir -p "$T/vg"
cat > "$T/occasiond-vg" <<EOW
#!/bin/sh
echo "\$\$ \$*" >> "$T/vg/commands"
exec valgrind -q --suppressions=$PWD/tests/e2e/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
  --log-file="$T/vg/%p.log" "$OCCASIOND" "\$@"
EOW
chmod +x "$T/occasiond-vg"
OCCASIOND="$T/occasiond-vg" sh tests/e2e/spine.sh > "$T/spine.out" 2>&1
passed=$(grep -c '^ok' "$T/spine.out"); failed=$(grep -c '^not ok' "$T/spine.out")
eq "the spine passes under valgrind ($passed checks)" "$failed" 0
[ "$failed" -eq 0 ] || grep '^not ok' "$T/spine.out" | head -5 | sed 's/^/#   /'
runs=$(ls "$T/vg" | grep -c '[.]log$')
[ "$runs" -gt 20 ] && ok "valgrind ran $runs commands" || not_ok "valgrind ran only $runs commands"
cat "$T"/vg/*.log > "$T/vg.all" 2>/dev/null
if [ -s "$T/vg.all" ]; then
	not_ok "valgrind reports no error and no leak"
	for f in "$T"/vg/*.log; do
		[ -s "$f" ] || continue
		pid=$(basename "$f" .log)
		cmd=$(grep "^$pid " "$T/vg/commands" | cut -d' ' -f2-)
		echo "#   in: ${cmd:-a forked card worker (pid $pid)}"
		head -40 "$f" | sed 's/^/#   /'
	done | head -60
else
	ok "valgrind reports no error and no leak in any command"
fi
