#!/bin/sh
# make bench, SMTP: N personalised emails, each dispatch recorded durably (SQLite WAL,
# synchronous=FULL), sent to postfix's smtp-sink on loopback, against smtp-source sending
# the same count of same-size messages over one reused connection to the same sink.
# Prints a markdown section on stdout (bench/run.sh appends it to bench/RESULTS.md).
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
N=${BENCH_SMTP_N:-2000}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/occasiond-bench-smtp.XXXXXX)
chmod 755 "$T"
SINK_PID=
cleanup() { [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
[ -n "$BENCH_KEEP" ] && trap "" EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
rate() { echo "$1 / $2" | bc -l | awk '{printf "%.0f", $1}'; }

if [ ! -x /usr/sbin/smtp-sink ] || [ ! -x /usr/sbin/smtp-source ]; then
	echo "## SMTP"; echo; echo "skipped: postfix's smtp-sink/smtp-source missing (scripts/deps.sh bench)"; exit 0
fi
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then U="-u nobody"; else U=; fi
/usr/sbin/smtp-sink $U 127.0.0.1:"$PORT" 256 >/dev/null 2>&1 &
SINK_PID=$!
sleep 0.3

"$PY" - "$N" "$T/people.csv" <<'PYEOF'
import csv, sys
n, path = int(sys.argv[1]), sys.argv[2]
first = ["Zoë", "José", "Ελένη", "Дмитрий", "Hannah", "Liam", "Sophie", "Emily", "Yuki", "Olivia"]
last = ["Łukasiewicz", "Núñez", "Παπαδοπούλου", "Иванов", "Becker", "O'Connor", "Martin", "Carter", "Tanaka", "Smith"]
with open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["id", "first_name", "last_name", "email", "owner", "owner_email"])
    for i in range(n):
        w.writerow(["m%06d" % i, first[i % 10], last[(i // 10) % 10], "person%d@example.com" % i,
                    "Dana Ruiz", "dana@acme.example"])
PYEOF
mkdir -p "$T/etc"
cat > "$T/etc/rules.yaml" <<'EOF'
occasions:
  - id: note
    when: {date: "12-13"}
    channel: email
    template: birthday
EOF
# mkconf NAME CONNECTIONS: a config with its own database, sending to the sink.
mkconf() {
	cat > "$T/etc/$1.yaml" <<EOF
database: $T/$1/occasiond.db
spool: $T/$1/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
organization: {name: Acme Corp}
mail:
  from: "Acme Team <team@acme.example>"
  transport: smtp
  smtp: {url: "smtp://127.0.0.1:$PORT", tls: none, timeout: 10s, rate_per_minute: 0, connections: $2}
EOF
	$BIN -c "$T/etc/$1.yaml" import stakeholders "$T/people.csv" >/dev/null
}
K=${BENCH_SMTP_CONNECTIONS:-16}
R=${BENCH_SMTP_ROUNDS:-3}
r=1; while [ $r -le $R ]; do mkconf timed$r "$K"; r=$((r + 1)); done
mkconf single 1
mkconf traced "$K"
mkconf traced1 1
$BIN -c "$T/etc/timed1.yaml" preview --rule note --stakeholder m000000 -o "$T/one.eml" >/dev/null
size=$(wc -c < "$T/one.eml")

# R rounds of (occasiond, smtp-source) back to back, each occasiond run on a fresh database:
# the machine is shared, so the round with the median ratio is reported, and all ratios.
r=1; : > "$T/rounds"
while [ $r -le $R ]; do
	t0=$(now); $BIN -c "$T/etc/timed$r.yaml" run --once --at 2026-12-13T10:00 > "$T/run$r.out" 2>/dev/null; t1=$(now)
	o=$(secs "$t0" "$t1")
	t0=$(now); /usr/sbin/smtp-source -d -s 1 -m "$N" -l "$size" -f team@acme.example -t person@example.com \
		127.0.0.1:"$PORT" >/dev/null 2>&1; t1=$(now)
	sv=$(secs "$t0" "$t1")
	echo "$(echo "100 * $sv / $o" | bc -l | awk '{printf "%.0f", $1}') $o $sv $r" >> "$T/rounds"
	r=$((r + 1))
done
med=$(sort -n "$T/rounds" | sed -n "$(( (R + 1) / 2 ))p")
set -- $med
pct=$1 occ_s=$2 src_s=$3 mr=$4
all=$(sort -n "$T/rounds" | awk '{printf "%s%s%%", (NR > 1 ? ", " : ""), $1}')
sent=$(sed -n 's/.*batch[es]*, \([0-9]*\) emails\{0,1\},.*/\1/p' "$T/run$mr.out")
recorded=$(sqlite3 "$T/timed$mr/occasiond.db" "SELECT count(*) FROM dispatches WHERE status = 'sent'")

t0=$(now); $BIN -c "$T/etc/single.yaml" run --once --at 2026-12-13T10:00 > /dev/null 2>&1; t1=$(now)
one_s=$(secs "$t0" "$t1")

# What durability costs: the same run with the database in memory (/dev/shm: fsync is free).
shm_s=
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	SHM=$(mktemp -d /dev/shm/occasiond-bench.XXXXXX)
	mkconf shm "$K"
	sed -i "s|^database: .*|database: $SHM/occasiond.db|" "$T/etc/shm.yaml"
	$BIN -c "$T/etc/shm.yaml" import stakeholders "$T/people.csv" >/dev/null
	t0=$(now); $BIN -c "$T/etc/shm.yaml" run --once --at 2026-12-13T10:00 > /dev/null 2>&1; t1=$(now)
	shm_s=$(secs "$t0" "$t1")
	rm -rf "$SHM"
fi

# The durability cost: fsync/fdatasync calls of identical runs (strace slows them, so untimed).
syncs_of() {
	strace -f -c -e trace=fsync,fdatasync -o "$T/strace.out" \
		$BIN -c "$T/etc/$1.yaml" run --once --at 2026-12-13T10:00 >/dev/null 2>&1 || true
	awk '$NF == "fsync" || $NF == "fdatasync" {s += $4} END {print s + 0}' "$T/strace.out"
}
if command -v strace >/dev/null 2>&1; then
	syncs=$(syncs_of traced); syncs1=$(syncs_of traced1)
	per=$(echo "$syncs / $N" | bc -l | awk '{printf "%.2f", $1}')
	per1=$(echo "$syncs1 / $N" | bc -l | awk '{printf "%.2f", $1}')
else
	syncs="?"; per="?"; syncs1="?"; per1="?"
fi

occ_r=$(rate "$N" "$occ_s")
one_r=$(rate "$N" "$one_s")
src_r=$(rate "$N" "$src_s")
echo "## SMTP"
echo
echo "$N personalised emails (UTF-8 names, quoted-printable body, $size bytes each) to postfix's \`smtp-sink\` on loopback, plain SMTP (\`tls: none\`, loopback only), \`rate_per_minute: 0\` (unpaced)."
echo
echo "| figure | occasiond | baseline (same run, same sink) |"
echo "| --- | --- | --- |"
echo "| $N emails, every dispatch record committed (WAL, synchronous=FULL), \`connections: $K\` | ${occ_s} s (${occ_r} messages/s, $sent sent, $recorded recorded sent) | \`smtp-source -d\` (one connection), $N messages of $size bytes: ${src_s} s (${src_r} messages/s) |"
echo "| occasiond's rate as a share of smtp-source's (median of $R rounds; all: $all) | ${pct}% | goal ≥ 50% |"
echo "| the same $N emails over one connection (\`connections: 1\`, the default) | ${one_s} s (${one_r} messages/s) | — |"
[ -n "$shm_s" ] && echo "| the same with the database in /dev/shm (no flush reaches a disk: what durability costs) | ${shm_s} s ($(rate "$N" "$shm_s") messages/s) | — |"
echo "| fsync + fdatasync calls (strace -f -c, identical runs) | $per per message with $K connections ($syncs in all); $per1 per message with one ($syncs1) | — |"
echo
echo "Every message's record is committed with data_sent set when the server has said 354 and before its data goes out; the outcome of a message is committed with the next such mark. The queued claims are committed 256 to a transaction before any of them is sent. With one connection that is one commit, so one fdatasync of the WAL, per message, and the rate is bound by the disk's flush latency. With several connections the transfers that reach 354 together pause (CURL_READFUNC_PAUSE) until one commit records them all, so one flush covers several messages while the crash promises stay exact."
