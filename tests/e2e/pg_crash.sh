#!/bin/sh
# The crash rules on PostgreSQL (tests/e2e/pg.inc): a pass due to dispatch 1,000 items (500
# cards in four signers' batches, 500 emails to the maildir) is killed with SIGKILL at random
# moments, restarted each time, then allowed to finish, in rounds (each on a fresh copy of
# the imported database, made with CREATE DATABASE ... TEMPLATE). After each: one record per dispatch,
# none left queued, every `unknown` one whose data had started to go out, one maildir file per
# sent email and none twice, no batch page with two cards, every batch whole (qpdf --check).
# The checks are those of tests/e2e/crash.sh, reading the records from the server.
. tests/e2e/lib.inc
. tests/e2e/pg.inc
setup
if ! pg_start; then
	echo "skip - no PostgreSQL 15 server could be started (postgresql-15, see scripts/deps.sh)"
	exit 0
fi
KILLS=${OCCASIOND_CRASH_KILLS:-12}
# The sanitizer build is about three times slower: fewer kills.
case "$OCCASIOND" in */san/*) KILLS=${OCCASIOND_CRASH_KILLS:-5} ;; esac
pg_sql postgres "CREATE DATABASE base" > /dev/null
sed -i "s|^database: .*|database: postgresql:///base|" "$CFG"
# A killed pass's claims are taken over once their lease runs out: a short one here.
echo "database_lease: 3s" >> "$CFG"
# leases_out DB: no queued claim's lease is still running (the next pass takes them all over).
leases_out() {
	[ "$(pg_sql "$1" "select count(*) from occasiond.dispatches where status = 'queued'
	                  and lease_until > clock_timestamp()")" = 0 ]
}
cat > "$T/etc/occasions.yaml" <<'EOR'
occasions:
  - id: bday-card
    when: {anniversary_of: birthday}
    channel: card
    lead: 10 days
    template: birthday
  - id: bday-note
    when: {anniversary_of: birthday}
    channel: email
    lead: 10 days
    template: birthday
EOR
"$PY" - > "$T/people.csv" <<'PYEOF'
first = ['Zoë', 'Łukasz', 'Ελένη', 'Дмитрий', 'Ann', 'José', 'Mei', 'Olivia', 'Noah', 'Amara']
owners = ['Dana Ruiz', 'Marcus Lee', 'Priya Raman', 'Sam Okoro']
print('id,first_name,last_name,type,email,owner,street,city,country,birthday,timezone')
for i in range(500):
    print(f'k{i:04d},{first[i % 10]},Crash{i:04d},customer,k{i:04d}@example.org,{owners[i % 4]},'
          f'{i} Main St,Springfield,USA,19{60 + i % 40}-12-13,Europe/Berlin')
PYEOF
OCC import stakeholders "$T/people.csv" > /dev/null
AT=2026-12-03T10:00
OCC plan --from 2026-12-03 --days 1 --format json > "$T/plan.json"
due=$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$T/plan.json")
eq "1,000 dispatches are due" "$due" 1000

cat > "$T/verify.py" <<'PYEOF'
import collections, email, glob, json, os, subprocess, sys
spool, plan, R = sys.argv[2], json.load(open(sys.argv[3])), sys.argv[4]
recs = []
for line in open(sys.argv[1], encoding='utf-8'):
    f = line.rstrip('\n').split('|')
    if len(f) == 9:
        recs.append((int(f[0]), f[1], f[2], f[3], f[4], f[5], f[6], int(f[7]), int(f[8])))
def t(cond, what):
    print(('ok - ' if cond else 'not ok - ') + R + what)
keys = collections.Counter((r[1], r[2], r[3]) for r in recs)
t(recs and max(keys.values()) == 1, 'one record per (rule, stakeholder, date)')
want = {(p['rule'], p['stakeholder'], p['occasion_date']) for p in plan}
t(want <= set(keys), f'every due dispatch has a record ({len(want & set(keys))} of {len(want)})')
status = collections.Counter(r[5] for r in recs)
print('#  ', R, 'statuses:', dict(status))
t(set(status) <= {'rendered', 'sent', 'failed', 'retry', 'skipped', 'unknown'}, 'every record is in a final or retry state (none left queued)')
t(all(r[8] for r in recs if r[5] == 'unknown'), 'every unknown had its data going out')
files = glob.glob(os.path.join(spool, 'outbox', 'new', '*')) + glob.glob(os.path.join(spool, 'outbox', 'cur', '*'))
ids, rcpt = collections.Counter(), collections.Counter()
for f in files:
    m = email.message_from_binary_file(open(f, 'rb'))
    ids[m['X-Occasiond-Dispatch']] += 1
    rcpt[m['To']] += 1
sent = {str(r[0]) for r in recs if r[4] == 'email' and r[5] == 'sent'}
t(max(ids.values() or [1]) == 1 and max(rcpt.values() or [1]) == 1, f'no email delivered twice ({len(files)} files)')
t(set(ids) == sent, f'one maildir file per sent email record ({len(sent)} sent)')
pages = collections.Counter((r[6], r[7]) for r in recs if r[4] == 'card' and r[5] == 'rendered')
t(max(pages.values() or [1]) == 1, 'no batch page belongs to two cards')
bad = [p for p in glob.glob(os.path.join(spool, 'batches', '*', '*.pdf'))
       if subprocess.run(['qpdf', '--check', p], capture_output=True).returncode != 0]
t(not bad, f'every batch passes qpdf --check {bad}')
for batch in sorted({r[6] for r in recs if r[4] == 'card' and r[5] == 'rendered'}):
    txt = subprocess.run(['pdftotext', batch, '-'], capture_output=True, text=True).stdout.split('\f')
    mine = [r for r in recs if r[6] == batch and r[5] == 'rendered']
    wrong = [r[0] for r in mine if not (0 < r[7] <= len(txt)) or
             [w for w in txt[r[7] - 1].split() if w.startswith('Crash')] != ['Crash%04d' % int(r[2][1:])]]
    t(not wrong, f'{os.path.basename(batch)}: {len(mine)} cards, each on its own page with its own name {wrong[:3]}')
PYEOF
# round N: the pass on a fresh copy of the database, killed until its work is done, finished, checked.
round() {
	pg_sql postgres "CREATE DATABASE r$1 TEMPLATE base" > /dev/null
	sed -e "s|^database: .*|database: postgresql:///r$1|" -e "s|^spool: .*|spool: $T/var/r$1|" "$CFG" > "$T/etc/r$1.yaml"
	i=0
	while [ "$i" -lt 40 ]; do
		i=$((i + 1))
		delay=$("$PY" -c "import random; print(round(random.uniform(0.05, 0.9) * $SCALE, 3))")
		"$OCCASIOND" -c "$T/etc/r$1.yaml" run --once --at $AT > "$T/run.$1.$i.out" 2>&1 &
		pid=$!   # the program itself, so that the kill lands on it
		sleep "$delay"
		if kill -KILL "$pid" 2>/dev/null; then
			kills=$((kills + 1))
			wait "$pid" 2>/dev/null
			# Did it land in the middle: some records, not every one final?
			n=$(pg_sql "r$1" "select count(*) filter (where status in ('queued', 'rendered', 'sent'))
			                  || ' ' || count(*) from occasiond.dispatches")
			[ "${n#* }" -gt 0 ] && [ "${n%% *}" -lt 1000 ] && mid=$((mid + 1))
		fi
		wait "$pid" 2>/dev/null
		left=$("$OCCASIOND" -c "$T/etc/r$1.yaml" plan --from 2026-12-03 --days 1 --format json |
			"$PY" -c "import json,sys; print(len(json.load(sys.stdin)))")
		[ "$left" -eq 0 ] && break
	done
	wait_for 30 leases_out "r$1"
	"$OCCASIOND" -c "$T/etc/r$1.yaml" run --once --at $AT > "$T/final.$1.out" 2>&1; rc=$?
	check "round $1: the pass after the last kill completes (exit $rc)" test "$rc" -le 1
	"$OCCASIOND" -c "$T/etc/r$1.yaml" run --once --at 2026-12-03T10:30 > /dev/null 2>&1
	pg_sql "r$1" "select id, rule, stakeholder, occasion_date, channel, status, artifact, page, data_sent
	              from occasiond.dispatches order by id" > "$T/recs.$1"
	"$PY" "$T/verify.py" "$T/recs.$1" "$T/var/r$1" "$T/plan.json" "round $1: "
}
# The kills are spread over the time a whole pass takes here, timed once on a copy: a fixed
# span would let a faster build or machine finish before the kill lands.
pg_sql postgres "CREATE DATABASE r0 TEMPLATE base" > /dev/null
sed -e "s|^database: .*|database: postgresql:///r0|" -e "s|^spool: .*|spool: $T/var/r0|" "$CFG" > "$T/etc/r0.yaml"
t0=$(date +%s.%N)
"$OCCASIOND" -c "$T/etc/r0.yaml" run --once --at $AT > /dev/null 2>&1
t1=$(date +%s.%N)
SCALE=$("$PY" -c "print(round(max(0.3, $t1 - $t0), 3))")
echo "# a whole pass takes $SCALE s here"
kills=0; r=0; mid=0
while [ "$kills" -lt "$KILLS" ] && [ "$r" -lt 12 ]; do
	r=$((r + 1))
	round $r
done
check "the pass was killed with SIGKILL $KILLS times or more ($kills over $r rounds)" test "$kills" -ge "$KILLS"
check "... $mid of the kills in the middle of the work" test "$mid" -ge 1
