#!/bin/sh
# The idle daemon: memory of `serve` with the shipped examples and with 100,000 stakeholders,
# and its wake-ups over 60 idle seconds. Prints a markdown section (bench/run.sh appends it).
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
N=${BENCH_IDLE_N:-100000}
IDLE=${BENCH_IDLE_SECS:-60}
T=$(mktemp -d /tmp/occasiond-idle.XXXXXX)
P1= P2=
trap 'kill $P1 $P2 2>/dev/null; rm -rf "$T"' EXIT
PY=/usr/bin/python3

# A: the shipped config, rules and examples.
mkdir -p "$T/a"
cp config/occasions.yaml "$T/a/"
sed -e "s|^database:[^#]*|database: $T/a/occasiond.db |" -e "s|^spool:[^#]*|spool: $T/a/spool |" \
    -e "s|^templates:.*|templates: $(pwd)/templates|" -e "s|^fonts:.*|fonts: $(pwd)/fonts|" \
    config/occasiond.yaml > "$T/a/occasiond.yaml"
"$BIN" -c "$T/a/occasiond.yaml" import stakeholders examples/stakeholders.csv > /dev/null
"$BIN" -c "$T/a/occasiond.yaml" import events examples/events.csv > /dev/null

# B: N stakeholders whose birthday is 20 days ahead: nothing due for days, so the daemon idles
# after its first pass (which still loads and plans all N).
mkdir -p "$T/b"
"$PY" - "$N" "$T/b/people.csv" <<'EOF'
import csv, datetime, sys
n, path = int(sys.argv[1]), sys.argv[2]
d = datetime.date.today() + datetime.timedelta(days=20)
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "first_name", "last_name", "type", "email", "owner", "birthday", "customer_since"])
    for i in range(n):
        w.writerow(["s%06d" % i, "Pat", "Lee%d" % i, "customer", "p%d@example.com" % i, "Dana Ruiz",
                    "%04d-%02d-%02d" % (1950 + i % 50, d.month, min(d.day, 28)), "2020-01-15"])
EOF
cat > "$T/b/rules.yaml" <<'EOF'
occasions:
  - id: birthday
    when: {anniversary_of: birthday}
    lead: 1 day
    channel: email
    template: birthday
EOF
cat > "$T/b/occasiond.yaml" <<EOF
database: $T/b/occasiond.db
spool: $T/b/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
mail: {from: "Acme Team <team@acme.example>"}
EOF
"$BIN" -c "$T/b/occasiond.yaml" import stakeholders "$T/b/people.csv" > /dev/null

# STATUS= is sent after each pass: a notify socket tells when the first pass is over.
"$PY" tests/e2e/notify_listen.py "$T/notify.sock" "$T/notify.log" &
PN=$!
trap 'kill $P1 $P2 $PN 2>/dev/null; rm -rf "$T"' EXIT
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

# A as under the shipped unit (WatchdogSec=2min: a kick every minute), B with no watchdog.
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=120000000 sh -c 'WATCHDOG_PID=$$ exec "$@"' sh \
	"$BIN" -c "$T/a/occasiond.yaml" serve 2> "$T/a/serve.err" &
P1=$!
NOTIFY_SOCKET=$T/notify.sock "$BIN" -v -c "$T/b/occasiond.yaml" serve 2> "$T/b/serve.err" &
P2=$!
i=0; while [ "$(grep -c STATUS= "$T/notify.log" 2>/dev/null)" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1

kib() { awk -v k="$2" '$1 == k":" {print $2}' "$1"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
switches() { awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s}' "/proc/$1/status"; }
rss_a=$(kib /proc/$P1/status VmRSS); pd_a=$(kib /proc/$P1/smaps_rollup Private_Dirty)
rss_b=$(kib /proc/$P2/status VmRSS); pd_b=$(kib /proc/$P2/smaps_rollup Private_Dirty)
hwm_b=$(kib /proc/$P2/status VmHWM)
s1a=$(switches $P1); s1b=$(switches $P2)
sleep "$IDLE"
s2a=$(switches $P1); s2b=$(switches $P2)
next_b=$(grep '^<7>nothing due\|^<7>next' "$T/b/serve.err" | tail -1 | sed 's/^<7>//; s/;.*//')
kill -TERM $P1 $P2
wait $P1 $P2 || true
P1= P2=

# Baseline: a process that only links the same libraries and sleeps (sleep(1) linked against
# nothing would understate it): python's ctypes loads them and idles.
"$PY" -c "
import ctypes, time
for l in ['libcurl.so.4', 'libyaml-0.so.2', 'libsqlite3.so.0', 'libhpdf-2.3.0.so', 'libsystemd.so.0']:
    ctypes.CDLL(l)
time.sleep(30)" &
PB=$!
sleep 1
rss_py=$(kib /proc/$PB/status VmRSS); pd_py=$(kib /proc/$PB/smaps_rollup Private_Dirty)
kill $PB 2>/dev/null || true

echo
echo "## The idle daemon (bench/idle.sh)"
echo
echo "\`serve\` measured after its first pass, then left alone for ${IDLE} s with nothing due. The examples"
echo "daemon runs with WATCHDOG_USEC as WatchdogSec=2min in the shipped unit sets it (a kick a minute);"
echo "the $N-stakeholder one without a watchdog."
echo "Wake-ups are the voluntary and involuntary context switches of the process over that time."
echo
echo "| figure | examples (44 stakeholders, 11 rules) | $N stakeholders | goal |"
echo "| --- | --- | --- | --- |"
echo "| RSS | $(mib "$rss_a") MiB | $(mib "$rss_b") MiB (peak during the first pass $(mib "$hwm_b") MiB) | — |"
echo "| private dirty (smaps_rollup) | $(mib "$pd_a") MiB | $(mib "$pd_b") MiB | < 4 MiB with $N |"
echo "| wake-ups in ${IDLE} idle seconds | $((s2a - s1a)) (watchdog on) | $((s2b - s1b)) (no watchdog) | ≤ 2 a minute |"
echo
echo "Baseline, same run: python3 with libcurl, libyaml, SQLite, libharu and libsystemd loaded, asleep:"
echo "RSS $(mib "$rss_py") MiB, private dirty $(mib "$pd_py") MiB (the interpreter's own heap included)."
echo "After a pass the daemon gives back what the pass allocated (stakeholders, plan, history:"
echo "freed, then malloc_trim) and SQLite's page cache (capped at 512 KiB, released); it then sleeps"
echo "in one poll() until the next due time (here: ${next_b:-?})."
