#!/bin/sh
# Chaos on several daemons (tests/e2e/pg.inc): three `serve` daemons on one PostgreSQL
# database and one spool deliver 1,000 dispatches (500 emails over SMTP to aiosmtpd, 500 cards
# in four signers' batches) while random daemons get SIGKILL (and are started again) or
# SIGSTOP and, seconds later, SIGCONT, and PostgreSQL itself is restarted once, with a lease
# of 3 s. Then: one record per dispatch, none lost, none left queued, no email received twice,
# every sent one received, every unknown one had its data going out, no batch page with two
# cards, every batch whole (qpdf --check) and every page showing the name its record says.
. tests/e2e/lib.inc
. tests/e2e/pg.inc
setup
pg_suite_start
pg_trap_daemons
ACTIONS=${OCCASIOND_CHAOS_ACTIONS:-12}
pg_site chaos both --mode slowrcpt --delay 0.03
pg_people x Chaos 0 500 "$T/people.csv"
q() { pg_q chaos "$1"; }
OCC() { "$OCCASIOND" -c "$C" "$@"; }
OCC import stakeholders "$T/people.csv" > /dev/null
# What a pass would do now (a card fires on the business day before a Sunday: plan starts today).
OCC run --once --dry-run 2>/dev/null | grep '^would ' > "$T/due"
eq "1,000 dispatches are due" "$(wc -l < "$T/due")" 1000
k=0
start() {
	k=$((k + 1))
	pg_daemon "d$k"
}
t0=$(date +%s)
start; start; start
kills=0 stops=0 restarted=0
for a in $(seq 1 "$ACTIONS"); do
	# The chaos's own pace: a random moment, not a wait for anything.
	sleep "$("$PY" -c "import random; print(round(random.uniform(0.3, 1.2), 2))")"
	set -- $PIDS
	v=$(eval "echo \${$("$PY" -c "import random; print(random.randint(1, $#))")}")
	if [ "$a" -eq $((ACTIONS / 2)) ]; then
		pg_restart && restarted=1
	elif [ $((a % 3)) -eq 0 ]; then
		kill -STOP "$v"
		stops=$((stops + 1))
		( sleep "$("$PY" -c "import random; print(round(random.uniform(1, 5), 1))")"; kill -CONT "$v" 2>/dev/null ) &
	else
		kill -CONT "$v" 2>/dev/null
		kill -KILL "$v" 2>/dev/null && kills=$((kills + 1))
		wait "$v" 2>/dev/null
		PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$v" | paste -sd' ')
		start
	fi
	[ "$a" -eq 1 ] && first=$(q "select count(*) from dispatches where status in ('sent', 'unknown', 'rendered')")
done
for p in $PIDS; do kill -CONT "$p" 2>/dev/null; done
check "the chaos began in the middle of the work ($first of 1,000 done)" test "$first" -lt 1000
check "chaos: $kills SIGKILL, $stops SIGSTOP/SIGCONT, PostgreSQL restarted once" test "$kills" -ge 1 -a "$stops" -ge 1 -a "$restarted" = 1
wait_for 150 pg_settled chaos 1000
check "the three daemons settle all 1,000 dispatches ($(($(date +%s) - t0)) s)" pg_settled chaos 1000
q "select id, rule, stakeholder, occasion_date, channel, status, artifact, page, data_sent from dispatches order by id" \
	> "$T/recs"
pg_received "$T/chaos/srv" > "$T/received"
"$PY" - "$T/recs" "$T/received" "$T/due" "$T/chaos/spool" <<'PYEOF'
import collections, glob, os, re, subprocess, sys
recs = []
for line in open(sys.argv[1], encoding='utf-8'):
    f = line.rstrip('\n').split('|')
    if len(f) == 9:
        recs.append((int(f[0]), f[1], f[2], f[3], f[4], f[5], f[6], int(f[7]), int(f[8])))
got = collections.Counter(l.strip() for l in open(sys.argv[2]) if l.strip())
due = [dict(re.findall(r'(\w+)=(\S+)', l)) for l in open(sys.argv[3])]
def t(cond, what):
    print(('ok - ' if cond else 'not ok - ') + what)
keys = collections.Counter((r[1], r[2], r[3]) for r in recs)
t(recs and max(keys.values()) == 1, 'one record per dispatch')
want = {(d['rule'], d['stakeholder'], d['occasion']) for d in due}
t(want <= set(keys), f'none lost: every due dispatch has a record ({len(want & set(keys))} of {len(want)})')
status = collections.Counter(r[5] for r in recs)
print('#   statuses:', dict(status))
t(set(status) <= {'rendered', 'sent', 'unknown'}, 'every record rendered, sent or unknown (none queued, none failed)')
t(all(r[8] for r in recs if r[5] == 'unknown'), 'every unknown one had its data going out')
t(max(got.values() or [1]) == 1, f'no email received twice ({sum(got.values())} received)')
sent = {str(r[0]) for r in recs if r[4] == 'email' and r[5] == 'sent'}
unknown = {str(r[0]) for r in recs if r[5] == 'unknown'}
t(sent <= set(got) and set(got) <= sent | unknown, f'every sent email received, and only sent or unknown ones ({len(sent)} sent, {len(unknown)} unknown)')
pages = collections.Counter((r[6], r[7]) for r in recs if r[4] == 'card' and r[5] == 'rendered')
t(max(pages.values() or [1]) == 1, 'no batch page belongs to two cards')
batches = glob.glob(os.path.join(sys.argv[4], 'batches', '*', '*.pdf'))
bad = [p for p in batches if subprocess.run(['qpdf', '--check', p], capture_output=True).returncode != 0]
t(batches and not bad, f'every batch passes qpdf --check ({len(batches)} batches) {bad}')
for batch in sorted({r[6] for r in recs if r[4] == 'card' and r[5] == 'rendered'}):
    txt = subprocess.run(['pdftotext', batch, '-'], capture_output=True, text=True).stdout.split('\f')
    mine = [r for r in recs if r[6] == batch and r[5] == 'rendered']
    wrong = [r[0] for r in mine if not (0 < r[7] <= len(txt)) or
             [w for w in txt[r[7] - 1].split() if w.startswith('Chaos')] != ['Chaos%04d' % int(r[2][1:])]]
    t(not wrong, f'{os.path.basename(batch)}: {len(mine)} cards, each on its own page with its own name {wrong[:3]}')
PYEOF
for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
for p in $PIDS; do wait "$p" 2>/dev/null; done
PIDS=
