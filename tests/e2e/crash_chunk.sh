#!/bin/sh
# Crash test of a maildir chunk: 600 emails due (chunks of 256, 256 and 88). strace stops the
# pass with SIGKILL at exact points of a chunk: before its files are synced, between its moves
# to new/, and after new/ is synced but before the chunk's outcomes are recorded. Right after
# each kill: every record that says sent has its file in new/, and what is in new/ and tmp/ is
# what that point leaves. Then a pass finishes the work: every email is in new/ exactly once
# with one sent record, nothing is queued, tmp/ is empty and the database is intact.
. tests/e2e/lib.inc
setup
if ! have strace; then
	echo "skip - strace is not installed"
	exit 0
fi
cat > "$T/etc/occasions.yaml" <<'EOR'
occasions:
  - id: bday-note
    when: {anniversary_of: birthday}
    channel: email
    lead: 10 days
    template: birthday
EOR
"$PY" - > "$T/people.csv" <<'PYEOF'
print('id,first_name,last_name,type,email,birthday,timezone')
for i in range(600):
    print(f'k{i:04d},Ann,Chunk{i:04d},customer,k{i:04d}@example.org,19{60 + i % 40}-12-13,Europe/Berlin')
PYEOF
OCC import stakeholders "$T/people.csv" > /dev/null
cp "$T/var/occasiond.db" "$T/base.db"
AT=2026-12-03T10:00

cat > "$T/verify.py" <<'PYEOF'
import collections, email, glob, os, sqlite3, sys
db, spool, what, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
want = [int(x) for x in sys.argv[5:]]
c = sqlite3.connect(db)
def t(cond, msg):
    print(('ok - ' if cond else 'not ok - ') + what + ': ' + msg)
recs = c.execute("SELECT id, status, artifact FROM dispatches WHERE channel = 'email'").fetchall()
status = collections.Counter(r[1] for r in recs)
new = glob.glob(os.path.join(spool, 'outbox', 'new', '*'))
tmp = glob.glob(os.path.join(spool, 'outbox', 'tmp', '*'))
sent = [r for r in recs if r[1] == 'sent']
t(all(r[2] and os.path.dirname(r[2]) == os.path.join(spool, 'outbox', 'new') and os.path.isfile(r[2]) for r in sent),
  f'every sent record names its file in new/ ({len(sent)} sent)')
ids = collections.Counter(email.message_from_binary_file(open(f, 'rb'))['X-Occasiond-Dispatch'] for f in new)
t(max(ids.values() or [1]) == 1, f'no email is in new/ twice ({len(new)} files)')
if mode == 'killed':
    nsent, nqueued, nnew, ntmp = want
    got = (status['sent'], status['queued'], len(new), len(tmp))
    t(got == (nsent, nqueued, nnew, ntmp), f'sent, queued, files in new/ and in tmp/ are {want} (got {list(got)})')
else:
    t(c.execute('PRAGMA integrity_check').fetchone()[0] == 'ok', 'PRAGMA integrity_check is ok')
    t(dict(status) == {'sent': 600}, f'600 records, all sent (got {dict(status)})')
    t(set(ids) == {str(r[0]) for r in sent}, 'one file in new/ per sent record, and none other')
    t(not tmp, f'nothing is left in tmp/ ({len(tmp)})')
PYEOF

# crash NAME INJECT SENT QUEUED NEW TMP RECOVERED: a pass from the imported database killed by
# strace's INJECT; SENT..TMP what the kill leaves; RECOVERED how many queued records the
# next pass finds in new/ and records sent without writing them again.
n=0
crash() {
	n=$((n + 1))
	rm -rf "$T/var"; mkdir -p "$T/var"; cp "$T/base.db" "$T/var/occasiond.db"
	# The sanitizer's leak check cannot run under ptrace; the pass is killed before it would.
	ASAN_OPTIONS=detect_leaks=0 strace -f -o /dev/null -e trace=fsync,syncfs,renameat2 -e inject="$2" \
		"$OCCASIOND" -c "$CFG" run --once --at $AT > "$T/kill.$n.out" 2>&1
	rc=$?
	eq "$1: the pass is killed there" "$rc" 137
	"$PY" "$T/verify.py" "$T/var/occasiond.db" "$T/var/spool" "$1, killed" killed "$3" "$4" "$5" "$6"
	OCC run --once --at $AT > "$T/after.$n.out" 2>&1
	eq "$1: the next pass ends cleanly" "$?" 0
	eq "$1: it records the moved emails it finds in new/ as sent" \
		"$(grep -c 'recovered dispatch id=[0-9]* status=sent' "$T/after.$n.out")" "$7"
	"$PY" "$T/verify.py" "$T/var/occasiond.db" "$T/var/spool" "$1, then a pass" final
}
# A chunk's files are synced by one syncfs, then moved (one renameat2 each), then new/ is synced
# by one fsync: the Nth syncfs and the Nth fsync are chunk N's (SQLite syncs with fdatasync).
crash "chunk 1, before its files are synced" syncfs:error=EIO:signal=SIGKILL:when=1 0 256 0 256 0
crash "chunk 2, before its files are synced" syncfs:error=EIO:signal=SIGKILL:when=2 256 256 256 256 0
crash "chunk 2, after 2 of its 256 moves" renameat2:error=EIO:signal=SIGKILL:when=259 256 256 258 254 2
crash "chunk 2, after its last move, before new/ is synced" fsync:error=EIO:signal=SIGKILL:when=2 256 256 512 0 256
crash "chunk 2, after new/ is synced, before its records" fsync:retval=0:signal=SIGKILL:when=2 256 256 512 0 256
crash "chunk 3 (88), after new/ is synced, before its records" fsync:retval=0:signal=SIGKILL:when=3 512 88 600 0 88
