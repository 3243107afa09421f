#!/bin/sh
# Several `serve` daemons on one PostgreSQL database and one spool behave as one daemon
# (tests/e2e/pg.inc, emails over SMTP to aiosmtpd on loopback, a lease of 3 s):
#   - three daemons share the due work: every email reaches the server once, the emails go out
#     across the daemons, every card is in its signer's batch once, on the page its record
#     says, and `log` shows which daemon (HOST:PID) handled each dispatch;
#   - failover: the daemon doing the work is killed (SIGKILL); another finishes the rest
#     within the lease + 5 s, under the crash rules (nothing twice);
#   - a frozen daemon (SIGSTOP) resumed after its lease ran out sends nothing for the claims
#     it lost, and says so in one line each.
. tests/e2e/lib.inc
. tests/e2e/pg.inc
setup
pg_suite_start
stop_all() {
	for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	SRV=
}
trap 'stop_all; pg_stop; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT
HOST=$(hostname)
LEASE=3

# --- three daemons share the work ---
pg_site share both --mode slowrcpt --delay 0.03
pg_people m Multi 0 90 "$T/people.csv"
pg_daemon a; A=$P
pg_daemon b; B=$P
pg_daemon c; Cd=$P
OCC() { "$OCCASIOND" -c "$C" "$@"; }
OCC import stakeholders "$T/people.csv" > /dev/null
wait_for 120 pg_settled share 180
check "three daemons: the 90 emails and 90 cards are done" pg_settled share 180
pg_received "$T/share/srv" > "$T/share.ids"
eq "... the server got 90 messages" "$(wc -l < "$T/share.ids")" 90
eq "... none twice" "$(uniq -d "$T/share.ids" | wc -l)" 0
eq "... each one a sent record's" "$(pg_q share "select id from dispatches where channel = 'email' and status = 'sent' order by id::text")" \
	"$(cat "$T/share.ids")"
owners=$(pg_q share "select count(distinct handled_by) from dispatches where channel = 'email'")
check "... the emails went out across the daemons ($owners of 3 handled some)" test "$owners" -ge 2
eq "... each record handled by one of them" \
	"$(pg_q share "select count(*) from dispatches where handled_by not in ('$HOST:$A', '$HOST:$B', '$HOST:$Cd')")" 0
OCC log --format csv > "$T/share.log"
check_out "log shows who handled each dispatch" "COST,HANDLED_BY,ERROR" "$T/share.log"
check_out "... as HOST:PID" ",$HOST:" "$T/share.log"
OCC log --format json > "$T/share.json"
check_out "log --format json: handled_by" "\"handled_by\": \"$HOST:" "$T/share.json"
eq "four batches, one a signer" "$(ls "$T"/share/spool/batches/*/*.pdf | wc -l)" 4
for b in "$T"/share/spool/batches/*/*.pdf; do
	check "$(basename "$b"): qpdf --check" qpdf --check "$b"
done
pg_q share "select artifact || '|' || page || '|' || stakeholder from dispatches where channel = 'card' and status = 'rendered'" \
	> "$T/share.cards"
"$PY" - "$T/share.cards" > "$T/share.pages" <<'PYEOF'
import collections, subprocess, sys
rows = [l.rstrip('\n').split('|') for l in open(sys.argv[1]) if l.strip()]
bad, seen = [], collections.Counter()
pages = {}
for art, page, sh in rows:
    seen[(art, page)] += 1
    if art not in pages:
        pages[art] = subprocess.run(['pdftotext', art, '-'], capture_output=True, text=True).stdout.split('\f')
    words = pages[art][int(page) - 1].split() if 0 < int(page) <= len(pages[art]) else []
    if [w for w in words if w.startswith('Multi')] != ['Multi' + sh[1:]]:
        bad.append(sh)
print(len(rows), max(seen.values()), bad[:3])
PYEOF
eq "every card on its own page, the name its record says" "$(cat "$T/share.pages")" "90 1 []"
kill -TERM $A $B $Cd
for p in $A $B $Cd; do wait "$p"; done
PIDS=
check_out "a daemon stops on SIGTERM" "stopped" "$T/a.err"
stop_all

# --- failover: the daemon doing the work is killed; another finishes within lease + 5 s ---
pg_site fail emails --mode slowrcpt --delay 0.05
pg_people m Multi 0 40 "$T/people2.csv"
pg_daemon f1; F1=$P
pg_daemon f2; F2=$P
OCC() { "$OCCASIOND" -c "$C" "$@"; }
OCC import stakeholders "$T/people2.csv" > /dev/null
busy() { [ "$(pg_q fail "select count(*) from dispatches where status = 'queued'")" -gt 0 ] &&
         [ "$(ls "$T/fail/srv" | grep -c '\.eml$')" -ge 3 ]; }
wait_for 60 busy
# The one holding claims now is the one doing the work.
W=$(pg_q fail "select handled_by from dispatches where status = 'queued' order by id limit 1")
W=${W##*:}
[ "$W" = "$F1" ] && OTHER=$F2 || OTHER=$F1
t0=$(date +%s.%N)
kill -KILL "$W"
wait "$W" 2>/dev/null
wait_for 60 pg_settled fail 40
t1=$(date +%s.%N)
check "failover: the 40 emails are done after the busy daemon was killed" pg_settled fail 40
took=$("$PY" -c "print(round($t1 - $t0, 1))")
check "... within the lease + 5 s ($took s)" "$PY" -c "import sys; sys.exit(0 if $took <= $LEASE + 5 else 1)"
pg_received "$T/fail/srv" > "$T/fail.ids"
eq "... no message twice" "$(uniq -d "$T/fail.ids" | wc -l)" 0
eq "... every sent record's message reached the server" \
	"$(pg_q fail "select count(*) from dispatches where status = 'sent'")" \
	"$(pg_q fail "select count(*) from dispatches where status = 'sent' and id::text in ($(sed "s/.*/'&'/" "$T/fail.ids" | paste -sd,))")"
eq "... the killed daemon's claims were taken over by the other" \
	"$(pg_q fail "select count(*) from dispatches where handled_by = '$HOST:$W' and status in ('queued', 'retry')")" 0
check "... which says so" grep -q "recovered dispatch" "$T/f$([ "$OTHER" = "$F1" ] && echo 1 || echo 2).err"
unk=$(pg_q fail "select count(*) from dispatches where status = 'unknown'")
eq "... an unknown one is one whose data had started to go out ($unk unknown)" \
	"$(pg_q fail "select count(*) from dispatches where status = 'unknown' and data_sent = 0")" 0
stop_all

# --- a frozen daemon resumed after its lease ran out sends nothing for the claims it lost ---
pg_site cold emails --mode slowrcpt --delay 0.2
pg_people m Multi 0 20 "$T/people3.csv"
pg_daemon z1; Z1=$P
pg_daemon z2; Z2=$P
OCC() { "$OCCASIOND" -c "$C" "$@"; }
OCC import stakeholders "$T/people3.csv" > /dev/null
holds() { [ "$(pg_q cold "select count(*) from dispatches where status = 'queued' and handled_by = '$HOST:$1'")" -gt 1 ]; }
wait_for 60 holds "$Z1" && FZ=$Z1 || FZ=$Z2
[ "$FZ" = "$Z1" ] && FN=z1 || FN=z2
kill -STOP "$FZ"
lost=$(pg_q cold "select count(*) from dispatches where status = 'queued' and handled_by = '$HOST:$FZ'")
check "freeze: a daemon frozen while it holds claims ($lost)" test "$lost" -gt 0
wait_for 60 pg_settled cold 20
check "... the other daemon finishes all 20 after the lease ran out" pg_settled cold 20
n1=$(ls "$T/cold/srv" | grep -c '\.eml$')
kill -CONT "$FZ"
wait_for 30 grep -q "is no longer claimed by $HOST:$FZ" "$T/$FN.err"
check_out "... resumed, it says its claims are no longer its own" "is no longer claimed by $HOST:$FZ" "$T/$FN.err"
# Its pass over: it has done all it was going to.
pass_over() { sed -n "/no longer claimed/,\$p" "$T/$FN.err" | grep -q "last pass:"; }
wait_for 60 pass_over
n2=$(ls "$T/cold/srv" | grep -c '\.eml$')
pg_received "$T/cold/srv" > "$T/cold.ids"
eq "... and sends nothing for them: no message twice" "$(uniq -d "$T/cold.ids" | wc -l)" 0
check "... at most one message after it woke, the one whose data was going out when it froze ($n1 then $n2)" \
	test "$n2" -le $((n1 + 1))
eq "... every sent record's message reached the server" "$(pg_q cold "select count(*) from dispatches
	where status = 'sent' and id::text not in ($(sed "s/.*/'&'/" "$T/cold.ids" | paste -sd,))")" 0
check "... and it still runs" kill -0 "$FZ"
stop_all
