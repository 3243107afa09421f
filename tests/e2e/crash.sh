#!/bin/sh
# Crash test: a pass due to dispatch 1,000 items (500 cards in four signers' batches and 500
# emails, to the maildir in odd rounds and over SMTP to aiosmtpd on loopback in even ones) is
# killed with SIGKILL at random moments at least 30 times, restarted each time, then allowed to
# finish. Afterwards nothing was delivered twice (the server's messages and the maildir files
# are counted), every due dispatch has one record in a final or retry state, every `unknown` is
# one whose data had started to go out, every batch passes qpdf --check and the database is
# intact.
. tests/e2e/lib.inc
setup
KILLS=${OCCASIOND_CRASH_KILLS:-30}
SCALE=1
# The sanitizer build runs a third of the kills (it is three times slower, and what SIGKILL
# tests is the on-disk state, which the plain build shows); it still runs every recovery path.
case "$OCCASIOND" in */san/*) SCALE=3; KILLS=${OCCASIOND_CRASH_KILLS:-10} ;; esac
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
import random
r = random.Random(7)
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
# DUMP: the records (db_sql, columns joined by |) after a first line, db_integrity's answer.
dump, spool, plan, R = open(sys.argv[1], encoding='utf-8').read().splitlines(), sys.argv[2], json.load(open(sys.argv[3])), sys.argv[4]
srv = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != '-' else None
def t(cond, what):
    print(('ok - ' if cond else 'not ok - ') + R + what)
t(dump[0] == 'ok', 'the database is intact (%s)' % dump[0])
recs = []
for line in dump[1:]:
    f = line.split('|')
    recs.append((int(f[0]), f[1], f[2], f[3], f[4], f[5], f[6], int(f[7]), int(f[8])))
keys = collections.Counter((r[1], r[2], r[3]) for r in recs)
t(max(keys.values()) == 1, 'one record per (rule, stakeholder, date)')
want = {(p['rule'], p['stakeholder'], p['occasion_date']) for p in plan}
t(want <= set(keys), f'every due dispatch has a record ({len(want & set(keys))} of {len(want)})')
status = collections.Counter(r[5] for r in recs)
print('#  ', R, 'statuses:', dict(status))
t(set(status) <= {'rendered', 'sent', 'failed', 'retry', 'skipped', 'unknown'}, 'every record is in a final or retry state (none left queued)')
t(all(r[8] for r in recs if r[5] == 'unknown'), 'every unknown had its data going out (the server may have it)')
# Emails: one file (maildir) or one received message (SMTP) per sent record, none twice.
files = (glob.glob(os.path.join(srv, '*.eml')) if srv else
         glob.glob(os.path.join(spool, 'outbox', 'new', '*')) + glob.glob(os.path.join(spool, 'outbox', 'cur', '*')))
ids = collections.Counter()
rcpt = collections.Counter()
for f in files:
    m = email.message_from_binary_file(open(f, 'rb'))
    ids[m['X-Occasiond-Dispatch']] += 1
    rcpt[m['To']] += 1
sent = {str(r[0]) for r in recs if r[4] == 'email' and r[5] == 'sent'}
t(max(ids.values() or [1]) == 1 and max(rcpt.values() or [1]) == 1, f'no email delivered twice ({len(files)} files)')
if srv:
    unknown = {str(r[0]) for r in recs if r[4] == 'email' and r[5] == 'unknown'}
    t(sent <= set(ids) and set(ids) <= sent | unknown,
      f'the server has every sent email, and only sent or unknown ones ({len(sent)} sent, {len(unknown)} unknown, {len(ids)} received)')
else:
    t(set(ids) == sent, f'one maildir file per sent email record ({len(sent)} sent)')
# Cards: each rendered record names a batch and a page; no page holds two records; every batch is whole.
pages = collections.Counter((r[6], r[7]) for r in recs if r[4] == 'card' and r[5] == 'rendered')
t(max(pages.values() or [1]) == 1, 'no batch page belongs to two cards')
bad = [p for p in glob.glob(os.path.join(spool, 'batches', '*', '*.pdf'))
       if subprocess.run(['qpdf', '--check', p], capture_output=True).returncode != 0]
t(not bad, f'every batch passes qpdf --check {bad}')
stray = [p for p in glob.glob(os.path.join(spool, 'batches', '*', '*')) + glob.glob(os.path.join(spool, 'batches', '*', '.*'))
         if not p.endswith('.pdf') or os.path.basename(p).startswith('.')]
t(not stray, f'no temporary batch file is left behind {stray[:3]}')
for batch in sorted({r[6] for r in recs if r[4] == 'card' and r[5] == 'rendered'}):
    pages_txt = subprocess.run(['pdftotext', batch, '-'], capture_output=True, text=True).stdout.split('\f')
    mine = [r for r in recs if r[6] == batch and r[5] == 'rendered']
    wrong = [r[0] for r in mine if not (0 < r[7] <= len(pages_txt)) or
             [w for w in pages_txt[r[7] - 1].split() if w.startswith('Crash')] != ['Crash%04d' % int(r[2][1:])]]
    card_pages = {r[7] for r in mine}
    t(not wrong and len(card_pages) == len(mine), f'{os.path.basename(batch)}: {len(mine)} cards, each on its own page with its own name {wrong[:3]}')
PYEOF
db_copy base   # imported, nothing dispatched: each round starts here
kills=0; round=1; i=0
mkdir -p "$T/rounds"
SRV_PID=
stop_srv() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=; }
trap 'stop_srv; lib_exit' EXIT
cp "$CFG" "$T/etc/maildir.yaml"
# mode ROUND: odd rounds deliver to the maildir, even rounds over SMTP to a fresh aiosmtpd.
mode() {
	stop_srv
	if [ $(($1 % 2)) -eq 1 ] || ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
		MODE=maildir; SRVDIR=-; cp "$T/etc/maildir.yaml" "$CFG"; return
	fi
	MODE=smtp; SRVDIR=$T/srv.$1; mkdir -p "$SRVDIR"
	"$PY" tests/e2e/smtpd.py "$SRVDIR" --tls none 2>"$SRVDIR.err" &
	SRV_PID=$!
	n=0; while [ ! -s "$SRVDIR/port" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
	sed "s|^  transport: maildir\$|  transport: smtp\\n  smtp: {url: \"smtp://127.0.0.1:$(cat "$SRVDIR/port")\", tls: none, timeout: 5s, rate_per_minute: 0}|" \
		"$T/etc/maildir.yaml" > "$CFG"
}
mode 1
# dump: the integrity check's answer, then every record, into $T/dump (for verify.py).
dump() {
	{ db_integrity; db_sql 'SELECT id, rule, stakeholder, occasion_date, channel, status, artifact, page, data_sent FROM dispatches'; } > "$T/dump"
}
# verify ROUND: checks the database and spool of a finished round (see the script below).
verify() {
	dump
	"$PY" "$T/verify.py" "$T/dump" "$T/var/spool" "$T/plan.json" "round $1 ($MODE): " "$SRVDIR" \
		> "$T/verify.$1.out" 2>&1
	cat "$T/verify.$1.out"
}
kills=0; finished=0; i=0
while [ "$kills" -lt "$KILLS" ] && [ "$i" -lt $((KILLS * 4)) ]; do
	i=$((i + 1))
	delay=$("$PY" -c "import random; print(round(random.uniform(0.02, 0.9) * $SCALE, 3))")
	"$OCCASIOND" -c "$CFG" run --once --at $AT > "$T/run.$i.out" 2>&1 &
	pid=$!   # the program itself, not a subshell, so that the kill lands on it
	sleep "$delay"
	if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null
	left=$(OCC plan --from 2026-12-03 --days 1 --format json | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)))")
	if [ "$left" -eq 0 ]; then
		# This round's work is done: check it, then start over on the base database so that
		# the next kills land in the middle of real work again.
		db_leases_out   # PostgreSQL: the killed passes' claims are taken over once their lease ran out
		OCC run --once --at 2026-12-03T10:30 > /dev/null 2>&1
		verify $round
		mv "$T/var" "$T/rounds/$round"; mkdir -p "$T/var"; db_restore base
		round=$((round + 1))
		mode $round
	fi
done
[ "$kills" -ge "$KILLS" ] && ok "the pass was killed with SIGKILL $kills times over $round rounds" || not_ok "only $kills kills landed"
db_leases_out
OCC run --once --at $AT > "$T/final.out" 2>&1; rc=$?
[ "$rc" -le 1 ] && ok "the pass after the last kill completes (exit $rc)" || not_ok "the final pass exits $rc"
OCC run --once --at 2026-12-03T10:30 > "$T/final2.out" 2>&1
verify $round

# Two passes at once (a `run --once` beside another, or beside `serve`): they take turns, and
# every card is in exactly one batch page with exactly one record.
mv "$T/var" "$T/rounds/last"; mkdir -p "$T/var"; db_restore base
mode 0   # over SMTP, to a fresh server
"$OCCASIOND" -c "$CFG" run --once --at $AT > "$T/two.1.out" 2>&1 &
p1=$!
"$OCCASIOND" -c "$CFG" run --once --at $AT > "$T/two.2.out" 2>&1 &
p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
eq "two passes at once both end cleanly" "$r1 $r2" "0 0"
dump
"$PY" "$T/verify.py" "$T/dump" "$T/var/spool" "$T/plan.json" "two at once ($MODE): " "$SRVDIR"

