#!/bin/sh
# Faults: a database another process holds locked, a full spool, a broken font and image.
# Each delays or fails the dispatches concerned, clearly, writes nothing half-done, and what
# failed goes out on a later pass.
. tests/e2e/lib.inc
setup
OCC import stakeholders examples/stakeholders.csv >/dev/null
OCC import events examples/events.csv >/dev/null
count() { "$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$T/var/occasiond.db" "$1"; }

# --- A database held locked by another process for 30 s: the pass waits, nothing is dropped. ---
# (The lock is taken first and the other faults run while it is held, to keep the test short.)
"$PY" - "$T/var/occasiond.db" "$T/locked" <<'PYEOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN IMMEDIATE')
open(sys.argv[2], 'w').close()
time.sleep(30)
c.execute('COMMIT')
PYEOF
LOCKER=$!
while [ ! -e "$T/locked" ]; do sleep 0.1; done
START=$(date +%s)
( OCC run --once --at 2026-12-03T10:00 > "$T/lock.out" 2>&1; echo $? > "$T/lock.rc" ) &
RUNNER=$!

# --- Disk full: the spool on a 64 KB file system (a private mount namespace) ---
cp "$CFG" "$T/etc/full.yaml"
sed -i "s|^database: .*|database: $T/var/full.db|; s|^spool: .*|spool: $T/full|" "$T/etc/full.yaml"
mkdir -p "$T/full"
"$OCCASIOND" -c "$T/etc/full.yaml" import stakeholders examples/stakeholders.csv >/dev/null
if unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$T/full' 2>/dev/null || exit 77
	'$OCCASIOND' -c '$T/etc/full.yaml' run --once --at 2026-12-03T10:00 > '$T/full.out' 2>&1; echo \$? > '$T/full.rc'
	find '$T/full' -type f > '$T/full.files'; find '$T/full' -name '*.tmp*' -o -name '.*' -type f > '$T/full.tmp'
	for f in \$(find '$T/full' -name '*.pdf'); do qpdf --check \"\$f\" >/dev/null 2>&1 || echo \"\$f\"; done > '$T/full.badpdf'"; then
	check_out "a full spool is reported with the file and the reason" "No space left on device" "$T/full.out"
	eq "no temporary or hidden file is left behind" "$(cat "$T/full.tmp")" ""
	eq "every PDF left in the full spool is whole (qpdf --check)" "$(cat "$T/full.badpdf")" ""
	"$PY" -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute(\"SELECT channel, status, count(*) FROM dispatches GROUP BY 1, 2\").fetchall()
bad = c.execute(\"SELECT count(*) FROM dispatches WHERE channel='card' AND status='rendered' AND artifact<>''\").fetchone()[0]
print('#   after the full spool:', rows)
" "$T/var/full.db"
	# What the full spool stopped goes out once there is room again.
	"$OCCASIOND" -c "$T/etc/full.yaml" run --once --at 2026-12-03T11:30 > "$T/full2.out" 2>&1
	eq "the next pass with room exits 0" "$?" 0
	n=$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM dispatches WHERE status IN ('rendered','sent')\").fetchone()[0])" "$T/var/full.db")
	want=$(OCC plan --from 2026-12-03 --days 1 --format json | "$PY" -c "import json,sys; print(sum(1 for i in json.load(sys.stdin) if i['fire_at'][:10]=='2026-12-03' and not i.get('reason')))")
	[ "$n" -gt 0 ] && ok "after the disk is freed the dispatches go out ($n)" || not_ok "after the disk is freed the dispatches go out ($n)"
	for f in $(find "$T/full" -name '*.pdf'); do check "batch $(basename "$f") passes qpdf --check" qpdf --check "$f"; done
else
	echo "skip - no private mount namespace here: the full-spool test needs root and unshare"
fi

# --- A broken font and a broken image fail their dispatch, not the program ---
mkdir -p "$T/tpl" "$T/fonts"; cp -R templates/. "$T/tpl/"; cp -R fonts/. "$T/fonts/"
cp "$CFG" "$T/etc/broken.yaml"
sed -i "s|^database: .*|database: $T/var/broken.db|; s|^spool: .*|spool: $T/bspool|; s|^templates: .*|templates: $T/tpl|; s|^fonts: .*|fonts: $T/fonts|" "$T/etc/broken.yaml"
"$OCCASIOND" -c "$T/etc/broken.yaml" import stakeholders examples/stakeholders.csv >/dev/null
for f in "$T"/fonts/*.ttf; do head -c 3000 /dev/urandom > "$f"; break; done
"$OCCASIOND" -c "$T/etc/broken.yaml" check > "$T/b.out" 2>&1
eq "check reports a damaged font (exit 1)" "$?" 1
"$OCCASIOND" -c "$T/etc/broken.yaml" run --once --at 2026-12-03T10:00 > "$T/b.out" 2>&1; rc=$?
[ "$rc" -le 1 ] && ok "a damaged font fails dispatches, the program exits normally ($rc)" || not_ok "a damaged font: exit $rc"
check_not "no crash report" "AddressSanitizer" "$T/b.out"
cp -R fonts/. "$T/fonts/"
for f in "$T"/tpl/images/*.png; do printf '\211PNG\r\n\032\n garbage' > "$f"; done
sed -i "s|^database: .*|database: $T/var/broken2.db|" "$T/etc/broken.yaml"
"$OCCASIOND" -c "$T/etc/broken.yaml" check > "$T/b.out" 2>&1
eq "check reports a damaged PNG (exit 1)" "$?" 1
check_out "naming the template's line and the damage" "error: image file 'images/" "$T/b.out"
"$OCCASIOND" -c "$T/etc/broken.yaml" import stakeholders examples/stakeholders.csv >/dev/null
"$OCCASIOND" -c "$T/etc/broken.yaml" run --once --at 2026-12-03T10:00 > "$T/b.out" 2>&1; rc=$?
eq "a damaged PNG fails its card dispatches (exit 1)" "$rc" 1
n=$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM dispatches WHERE channel='email' AND status='sent'\").fetchone()[0])" "$T/var/broken2.db")
[ "$n" -gt 0 ] && ok "the emails of the same pass still go out ($n)" || not_ok "the emails of the same pass still go out"
[ "$rc" -le 1 ] && ok "a damaged PNG fails dispatches, the program exits normally ($rc)" || not_ok "a damaged PNG: exit $rc"
check_not "no crash report" "AddressSanitizer" "$T/b.out"
"$PY" -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print('ok' if c.execute('PRAGMA integrity_check').fetchone()[0] == 'ok' else 'not ok', '- the database is intact after the broken font and image')
" "$T/var/broken2.db"

# --- The lock: the pass waited for it and then did its work ---
wait $RUNNER
END=$(date +%s)
wait $LOCKER
eq "the pass run under a 30 s lock exits 0" "$(cat "$T/lock.rc")" 0
[ $((END - START)) -ge 25 ] && ok "it waited for the lock ($((END - START)) s)" || not_ok "it waited for the lock ($((END - START)) s)"
n=$(count "SELECT count(*) FROM dispatches")
[ "$n" -gt 0 ] && ok "nothing was dropped: $n dispatches recorded after the lock" || not_ok "nothing recorded after the lock"
check_not "no 'database is locked' failure" "locked" "$T/lock.out"
