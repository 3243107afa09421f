#!/bin/sh
# A daemon frozen while it renders a card batch writes nothing for it when it wakes
# (tests/e2e/pg.inc, two `serve` daemons on one PostgreSQL database and one spool): daemon A
# claims a batch of 8,000 cards of one signer and is stopped (SIGSTOP) while it renders them;
# daemon B takes the claims over once their lease ran out, then
#   - A frozen past two leases (3 s) loses its session and the batch lock with it: B builds
#     the batch; A, resumed (SIGCONT), says it lost its hold on the claims, and the batch
#     stays as B made it: the same bytes and mtime, nothing beside it;
#   - A resumed within its second lease (6 s), its session still open, finds the claims
#     fenced at its commit, says so and puts nothing in place; then the batch is built;
# each batch passes qpdf --check, and every card page of it is one record's, the page that
# record names, no card twice.
. tests/e2e/lib.inc
. tests/e2e/pg.inc
setup
pg_suite_start
pg_trap_daemons
HOST=$(hostname)
N=${OCCASIOND_FENCE_CARDS:-8000}
pg_people f Fence 0 "$N" "$T/people.csv" 1

# site NAME: a site (pg_site) whose one card rule fires for the N people of one signer, with
# no envelope pages (after the cover sheet, every page is a card); its batches in $BATCHES.
site() {
	pg_site "$1" cards
	printf 'cards:\n  envelope: none\n' >> "$C"
	"$OCCASIOND" -c "$C" import stakeholders "$T/people.csv" > /dev/null
	BATCHES=$T/$1/spool/batches
}
# freeze DB LOG: a daemon A (logging to $T/LOG.err) claims the batch, committed before it
# renders anything, so that seen, A is rendering: it is stopped there (SIGSTOP).
holds() { [ "$(pg_q "$1" "select count(*) from dispatches where status = 'queued' and handled_by = '$HOST:$A'")" -gt 0 ]; }
freeze() {
	pg_daemon "$2"; A=$P
	wait_for 60 holds "$1"
	kill -STOP "$A"
	held=$(pg_q "$1" "select count(*) from dispatches where status = 'queued' and handled_by = '$HOST:$A'")
	eq "A is frozen holding the claims of the batch's $N cards" "$held" "$N"
	eq "... while it renders: nothing saved yet" "$(ls -A "$BATCHES"/* 2>/dev/null)" ""
}
# verify DB FILE: the batch FILE is whole and its card pages are the records', one each.
verify() {
	check "the batch passes qpdf --check" qpdf --check "$2"
	pg_q "$1" "select stakeholder, artifact, page from dispatches where channel = 'card' and status = 'rendered'" \
		> "$T/recs"
	"$PY" - "$T/recs" "$2" <<'PYEOF'
import collections, re, subprocess, sys
recs = [l.rstrip('\n').split('|') for l in open(sys.argv[1]) if l.strip()]
path = sys.argv[2]
pages = subprocess.run(['pdftotext', path, '-'], capture_output=True, text=True).stdout.split('\f')
if pages and not pages[-1].strip():
    pages.pop()
def t(cond, what):
    print(('ok - ' if cond else 'not ok - ') + what)
t(all(r[1] == path for r in recs), f'... every record names the batch ({len(recs)} records)')
by_page = collections.Counter(int(r[2]) for r in recs)
t(max(by_page.values()) == 1, '... no page is two records\'')
first = min(by_page)
t(set(by_page) == set(range(first, first + len(recs))) and len(pages) == first - 1 + len(recs),
  f'... the pages after the cover ({first - 1} pages) are the records\', one each ({len(pages)} pages)')
names = [re.findall(r'Fence\d{4}', p) for p in pages[first - 1:]]
t(all(len(n) == 1 for n in names), '... every card page holds one card')
seen = collections.Counter(n[0] for n in names if n)
t(max(seen.values() or [1]) == 1, f'... no card twice ({len(seen)} cards)')
wrong = [r[0] for r in recs if names[int(r[2]) - first] != ['Fence' + r[0][1:]]]
t(not wrong, f'... every record\'s page shows its card {wrong[:3]}')
PYEOF
}
stop_all() {
	for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	SRV=
}

# --- frozen past two leases: B builds the batch meanwhile; A, resumed, writes nothing ---
site fence
freeze fence a
pg_daemon b; B=$P
wait_for 120 pg_settled fence "$N"
check "B builds the batch while A is frozen" pg_settled fence "$N"
eq "... every card recorded by B" "$(pg_q fence "select count(*) from dispatches where handled_by <> '$HOST:$B'")" 0
check_out "... after taking A's claims over" "recovered dispatch" "$T/b.err"
set -- "$BATCHES"/*/*.pdf
eq "... one batch file" "$#" 1
F=$1
before=$(stat -c '%s %Y %y %i' "$F") sum=$(sha256sum < "$F")
kill -CONT "$A"
wait_for 60 grep -q "is not put in place" "$T/a.err"
check_out "A, resumed, says it no longer holds the batch's claims" "is not put in place" "$T/a.err"
grep "is not put in place" "$T/a.err" | sed 's/^/#   /'
# A's pass after the one it woke in: whatever it was going to write is written by then.
a_over() { sed -n '/is not put in place/,$p' "$T/a.err" | grep -q "last pass:"; }
wait_for 60 a_over
check "... and goes on working" a_over
eq "A wrote nothing: the batch's bytes and mtime as B left them" "$(stat -c '%s %Y %y %i' "$F") $(sha256sum < "$F")" \
	"$before $sum"
eq "... nothing beside it (no temporary file)" "$(ls -A "$(dirname "$F")")" "$(basename "$F")"
eq "... no record of A's" "$(pg_q fence "select count(*) from dispatches where handled_by = '$HOST:$A'")" 0
check "... and A still runs" kill -0 "$A"
verify fence "$F"
stop_all

# --- resumed after B took its claims over, before its session ends: the fenced commit ---
# A longer lease: A wakes well inside the second lease, its connection still open.
LEASE=6
site fence2
freeze fence2 a2
pg_daemon b2; B=$P
wait_for 60 grep -q "recovered dispatch" "$T/b2.err"
kill -CONT "$A"
wait_for 60 grep -q "is not put in place" "$T/a2.err"
check_out "A, resumed after B took its claims over, finds them fenced" "is no longer claimed by $HOST:$A" "$T/a2.err"
check_out "... and puts nothing in place" "is not put in place: its claims are no longer this process's" "$T/a2.err"
eq "... no batch from A" "$(ls -A "$BATCHES"/* 2>/dev/null)" ""
# Awake, A is a daemon like B again: either may build the batch now.
wait_for 120 pg_settled fence2 "$N"
check "the batch is built once A let it go" pg_settled fence2 "$N"
set -- "$BATCHES"/*/*.pdf
eq "... one batch file, nothing beside it" "$(ls -A "$(dirname "$1")")" "$(basename "$1")"
verify fence2 "$1"
stop_all
