#!/bin/sh
# serve on PostgreSQL when the server goes away (tests/e2e/pg.inc, emails over SMTP to
# aiosmtpd on loopback, a lease of 3 s, sd_notify to a test-owned socket):
#   - PostgreSQL restarted in the middle of the work: the pass stops, the daemon connects
#     again, takes back what it had claimed under the crash rules, and finishes: nothing twice;
#   - PostgreSQL down for a while: one log line, STATUS= "database unreachable since
#     HH:MM:SS, next try in N s", tries with growing waits, the watchdog fed all along; when
#     it is back, one line, LISTEN again (an import is heard), the work goes on;
#   - a read-only hot standby (pg_basebackup -R) is refused in one line, nothing written.
. tests/e2e/lib.inc
. tests/e2e/pg.inc
setup
pg_suite_start
SP= SRV= NL= SB=
trap '[ -n "$SP" ] && kill -KILL $SP 2>/dev/null; [ -n "$SRV" ] && kill $SRV 2>/dev/null;
	[ -n "$NL" ] && kill $NL 2>/dev/null;
	[ -n "$SB" ] && pg_as "$PG_BIN/pg_ctl" -D "$T/sb/data" -m immediate -w stop >/dev/null 2>&1;
	pg_stop; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT
pg_site res emails --mode slowrcpt --delay 0.1
CFG=$C
q() { pg_q res "$1"; }
# done_n N: N email records, all settled (sent or unknown), none queued or in retry.
done_n() {
	[ "$(q "select count(*) from dispatches where status in ('sent', 'unknown')")" = "$1" ] &&
	[ "$(q "select count(*) from dispatches where status in ('queued', 'retry')")" = 0 ]
}
received() { pg_received "$T/res/srv"; }
nmsg() { ls "$T/res/srv" | grep -c '\.eml$'; }
OCC log > /dev/null 2>&1   # the schema
"$PY" "$ROOT/tests/e2e/notify_listen.py" "$T/notify.sock" "$T/notify.log" &
NL=$!
wait_for 10 test -S "$T/notify.sock"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 "$OCCASIOND" -v -c "$CFG" serve 2> "$T/serve.err" &
SP=$!
wait_for 60 grep -q "serving:" "$T/serve.err"

# --- restarted in the middle of the work ---
pg_people r Res 0 30 "$T/p1.csv"
OCC import stakeholders "$T/p1.csv" > /dev/null
some() { [ "$(nmsg)" -ge 5 ]; }
wait_for 60 some
check "PostgreSQL restarted while serve sends" pg_restart
wait_for 60 done_n 30
check "after the restart, all 30 emails are settled" done_n 30
check_out "... the daemon saw the connection go" "trying again with back-off" "$T/serve.err"
check_out "... and come back" "postgresql:///res is reachable again after" "$T/serve.err"
received > "$T/ids1"
eq "... no message twice" "$(uniq -d "$T/ids1" | wc -l)" 0
eq "... every sent record's message reached the server" \
	"$(q "select count(*) from dispatches where status = 'sent' and id::text not in ($(sed "s/.*/'&'/" "$T/ids1" | paste -sd,))")" 0
eq "... an unknown one is one whose data had started to go out" \
	"$(q "select count(*) from dispatches where status = 'unknown' and data_sent = 0")" 0
check "... and serve still runs" kill -0 "$SP"

# --- down for a while: back-off, STATUS=, the watchdog; back: LISTEN again, work goes on ---
nlost=$(grep -c "trying again with back-off" "$T/serve.err")
nst=$(wc -l < "$T/notify.log")
pg_stop
wait_for 30 has_line "STATUS=database unreachable since" "$T/notify.log"
check_out "PostgreSQL stopped: STATUS= says so" "STATUS=database unreachable since " "$T/notify.log"
check "... with the time and the next try" grep -Eq "STATUS=database unreachable since [0-9]{2}:[0-9]{2}:[0-9]{2}, next try in [0-9]+ s" "$T/notify.log"
since() { tail -n +$((nst + 1)) "$T/notify.log"; }
tries() { [ "$(since | grep -c "STATUS=database unreachable")" -ge 4 ]; }
wait_for 60 tries
waits=$(since | grep -o "next try in [0-9]* s" | awk '{print $4}' | paste -sd' ')
check "... tried again with growing waits ($waits)" "$PY" -c "
w = [int(x) for x in '$waits'.split()]
import sys; sys.exit(0 if len(w) >= 4 and max(w[-2:]) >= 2 and all(x <= 60 for x in w) else 1)"
eq "... one log line for the loss" "$(grep -c "trying again with back-off" "$T/serve.err")" $((nlost + 1))
wd() { sed -n '/STATUS=database unreachable/,$p' "$T/notify.log" | grep -c "WATCHDOG=1"; }
check "... the watchdog is fed meanwhile ($(wd) kicks)" test "$(wd)" -ge 3
check "... and serve still runs" kill -0 "$SP"
nback=$(grep -c "is reachable again" "$T/serve.err")
check "PostgreSQL started again" pg_restart
back() { [ "$(grep -c "is reachable again" "$T/serve.err")" -gt "$nback" ]; }
wait_for 90 back
check "... the daemon says it is back, in one line" back
pg_people r Res 30 40 "$T/p2.csv"
OCC import stakeholders "$T/p2.csv" > /dev/null
wait_for 60 done_n 40
check "... it hears an import again (LISTEN) and sends it" done_n 40
received > "$T/ids2"
eq "... no message twice" "$(uniq -d "$T/ids2" | wc -l)" 0
kill -TERM "$SP"; wait "$SP"; rc=$?; SP=
eq "serve stops on SIGTERM, exit 0" "$rc" 0

# --- a read-only hot standby is refused in one line ---
printf 'local replication all trust\n' | pg_as sh -c "cat >> '$T/pg/data/pg_hba.conf'"
pg_as "$PG_BIN/pg_ctl" -D "$T/pg/data" reload > /dev/null 2>&1
mkdir -p "$T/sb/sock"
[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$T/sb"
if pg_as /usr/lib/postgresql/15/bin/pg_basebackup -h "$PGHOST" -U occ -D "$T/sb/data" -R -X stream > "$T/sb.log" 2>&1 &&
   pg_as "$PG_BIN/pg_ctl" -D "$T/sb/data" -l "$T/sb/server.log" -w -t 120 \
	-o "-c listen_addresses='' -c unix_socket_directories='$T/sb/sock' -c fsync=off" start > /dev/null 2>&1; then
	SB=1
	wait_for 60 "$PG_BIN/pg_isready" -q -h "$T/sb/sock" -d res
	eq "a hot standby is in recovery" "$(/usr/bin/psql -X -q -A -t -h "$T/sb/sock" -d res -c 'select pg_is_in_recovery()')" t
	sed -i "s|^database: .*|database: postgresql:///res?host=$T/sb/sock|" "$CFG"
	OCC run --once > "$T/sb.out" 2>&1; rc=$?
	eq "run --once on the standby: exit 1" "$rc" 1
	check_out "... says why, naming the database" "store: postgresql:///res: the server takes no writes" "$T/sb.out"
	eq "... in one line" "$(wc -l < "$T/sb.out")" 1
	"$OCCASIOND" -c "$CFG" serve > "$T/sbs.out" 2>&1; rc=$?
	eq "serve on the standby: exit 1 at once" "$rc" 1
	check_out "... says why" "the server takes no writes" "$T/sbs.out"
else
	not_ok "pg_basebackup -R made a standby"
	sed 's/^/#   /' "$T/sb.log" | tail -5
fi
