#!/bin/sh
# bench/pg_multi.sh: several `serve` daemons on one PostgreSQL database (issue 13's figures).
#   - emails per second to postfix's smtp-sink with 1, 2 and 3 daemons on PostgreSQL against
#     one daemon on SQLite, same data, same run: the time from starting the daemons to the
#     last `sent` record (start-up and the first plan included, the same for every row), and
#     how the emails were shared (records per handled_by);
#   - failover: two daemons paced to 300 emails a minute each; once both are sending, the one
#     that holds claims gets SIGKILL; the time from the kill to the first of its claims sent
#     by the other (the lease running out, then the take-over), and to the last email.
# A private PostgreSQL 15 on a Unix socket (tests/e2e/pg.inc), fsync off. Prints markdown.
# PGM_N (default 2000) emails; PGM_LEASE (default 5) seconds of lease in the failover.
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
N=${PGM_N:-2000}
LEASE=${PGM_LEASE:-5}
set +e
. tests/e2e/lib.inc
. tests/e2e/pg.inc
set -e
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.2f", $1}'; }
rate() { echo "$1 / $2" | bc -l | awk '{printf "%.0f", $1}'; }

if [ ! -x /usr/sbin/smtp-sink ]; then
	echo "## Several daemons on PostgreSQL"; echo; echo "skipped: postfix's smtp-sink missing (scripts/deps.sh bench)"; exit 0
fi
if ! pg_start; then
	echo "bench/pg_multi.sh: no PostgreSQL 15 server could be started" >&2
	exit 1
fi
PIDS= SINK=
stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=
}
trap 'stop_all; [ -n "$SINK" ] && kill "$SINK" 2>/dev/null; pg_stop; rm -rf "$T"' EXIT
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then U="-u nobody"; else U=; fi
/usr/sbin/smtp-sink $U -c 127.0.0.1:"$PORT" 256 > "$T/sink.out" 2>&1 &
SINK=$!
wait_for 10 "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT)).close()"

# The occasion is ten days from today (UTC), due today by a lead of ten days.
mkdir -p "$T/etc"
MD=$(date -u -d '+10 days' +%m-%d)
printf 'occasions:\n  - id: note\n    when: {date: "%s"}\n    lead: 10 days\n    channel: email\n    template: thank-you\n' \
	"$MD" > "$T/etc/rules.yaml"
"$PY" - "$N" > "$T/people.csv" <<'PYEOF'
import sys
print('id,first_name,last_name,type,email')
for i in range(int(sys.argv[1])):
    print(f'm{i:06d},Ann,Multi{i:06d},customer,m{i:06d}@example.org')
PYEOF

# conf NAME DATABASE RATE [CSV]: a config; the database imported (people.csv by default).
conf() {
	cat > "$T/etc/$1.yaml" <<EOC
database: $2
database_lease: ${LEASE}s
spool: $T/$1/spool
templates: $ROOT/templates
fonts: $ROOT/fonts
rules: rules.yaml
timezone: UTC
send_window: "00:00-23:59"
organization: {name: Acme Corp}
mail:
  from: "Acme Team <team@acme.example>"
  transport: smtp
  smtp: {url: "smtp://127.0.0.1:$PORT", tls: none, timeout: 30s, rate_per_minute: $3}
EOC
	"$BIN" -c "$T/etc/$1.yaml" import stakeholders "${4:-$T/people.csv}" > /dev/null
}
# count NAME DATABASE QUERY: one number from the database of config NAME.
count() {
	case "$2" in
	postgresql:*) PGOPTIONS="-c search_path=occasiond" pg_sql "${2#postgresql:///}" "$3" ;;
	*) sql "$2" "$3" ;;
	esac
}
# start NAME K: K serve daemons on config NAME; their pids in PIDS.
start() {
	i=1
	while [ "$i" -le "$2" ]; do
		"$BIN" -c "$T/etc/$1.yaml" serve 2> "$T/$1.$i.err" &
		PIDS="$PIDS $!"
		i=$((i + 1))
	done
}
# sink_count: the messages smtp-sink has taken so far (its -c counters, CR-separated).
sink_count() {
	c=$(tr '\r' '\n' < "$T/sink.out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1)
	echo "${c:-0}"
}
sent_all() { [ "$(count "$1" "$2" "SELECT count(*) FROM dispatches WHERE status = 'sent'")" -ge "$N" ]; }

echo "## Several daemons on PostgreSQL (bench/pg_multi.sh)"
echo
echo "$N emails due at once, each to postfix's smtp-sink on loopback (unpaced), sent by \`serve\` daemons"
echo "started together on one database; the time from their start to the last \`sent\` record (start-up and"
echo "the first plan included alike). PostgreSQL 15 on a Unix socket, fsync off; SQLite in WAL with"
echo "synchronous=FULL. Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| daemons | backend | time | emails/s | emails per daemon (handled_by) | messages at the sink |"
echo "| --- | --- | --- | --- | --- | --- |"
for run in sqlite:1 pg:1 pg:2 pg:3; do
	be=${run%%:*} k=${run#*:}
	name=$be$k
	if [ "$be" = pg ]; then
		pg_sql postgres "CREATE DATABASE $name" > /dev/null
		db=postgresql:///$name
	else
		mkdir -p "$T/$name"
		db=$T/$name/occasiond.db
	fi
	conf "$name" "$db" 0
	m0=$(sink_count)
	t0=$(now)
	start "$name" "$k"
	if ! wait_for 300 sent_all "$name" "$db"; then
		echo "bench/pg_multi.sh: $name did not send $N emails in 600 s" >&2
		exit 1
	fi
	t1=$(now)
	stop_all
	share=$(count "$name" "$db" "SELECT count(*) FROM dispatches WHERE status = 'sent' GROUP BY handled_by ORDER BY 1 DESC" |
		tr '\n' ' ' | sed 's/ $//; s/ / + /g')
	label=PostgreSQL
	[ "$be" = sqlite ] && label=SQLite
	echo "| $k | $label | $(secs "$t0" "$t1") s | $(rate "$N" "$(secs "$t0" "$t1")") | $share | $(($(sink_count) - m0)) |"
done
echo

# Failover: two daemons paced so that the work lasts; the one holding claims is killed.
F=${PGM_FAILOVER_N:-600}
pg_sql postgres "CREATE DATABASE failover" > /dev/null
head -n $((F + 1)) "$T/people.csv" > "$T/few.csv"
conf failover postgresql:///failover 300 "$T/few.csv"
m0=$(sink_count)
start failover 2
Q="SELECT count(*) FROM occasiond.dispatches WHERE status = 'sent'"
both_sending() { [ "$(pg_sql failover "SELECT count(DISTINCT handled_by) FROM occasiond.dispatches WHERE status = 'sent'")" -ge 2 ]; }
wait_for 120 both_sending
victim= victim_pid=
for p in $PIDS; do
	held=$(pg_sql failover "SELECT count(*) FROM occasiond.dispatches WHERE status = 'queued' AND handled_by = '$(hostname):$p'")
	if [ "${held:-0}" -gt 0 ]; then victim=$(hostname):$p victim_pid=$p; break; fi
done
if [ -z "$victim" ]; then
	echo "Failover: no daemon held a claim when looked at; not measured."
	exit 0
fi
# What the victim holds at the kill: those records must come out by the survivor's hand.
kill -KILL "$victim_pid"
t0=$(now)
wait "$victim_pid" 2>/dev/null || true
PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$victim_pid" | tr '\n' ' ')
held=$(pg_sql failover "SELECT string_agg(id::text, ',') FROM occasiond.dispatches WHERE status = 'queued' AND handled_by = '$victim'")
sent_before=$(pg_sql failover "$Q")
taken() { [ "$(pg_sql failover "SELECT count(*) FROM occasiond.dispatches WHERE id IN ($held) AND handled_by <> '$victim'")" -gt 0 ]; }
wait_for 120 taken
t1=$(now)
done_all() { [ "$(pg_sql failover "SELECT count(*) FROM occasiond.dispatches WHERE status IN ('sent', 'unknown')")" -ge "$F" ]; }
wait_for 300 done_all
t2=$(now)
stop_all
unknown=$(pg_sql failover "SELECT count(*) FROM occasiond.dispatches WHERE status = 'unknown'")
got=$(($(sink_count) - m0))
echo "Failover ($F emails, two daemons paced to 300 a minute each, lease ${LEASE} s): SIGKILL to the busy"
echo "daemon after $sent_before were sent, holding $(echo "$held" | tr ',' '\n' | wc -l) claims; the survivor took the first of"
echo "them over $(secs "$t0" "$t1") s after the kill (goal: within the lease + 5 s) and finished the rest $(secs "$t0" "$t2") s"
echo "after it; $unknown records \`unknown\` (their data may have gone out: never resent); the sink took $got messages for"
echo "$F emails."
