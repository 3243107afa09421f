#!/bin/sh
# Wall-clock steps under `serve`, with the machine's real clock: this test sets the system
# time (root, CAP_SYS_TIME), so it is not part of `make check`; run it on a machine of your
# own with `make check-clock`. libfaketime cannot stand in here: a step of the real clock is
# what makes the kernel cancel the daemon's timerfd (TFD_TIMER_CANCEL_ON_SET).
#
# 1. serve sleeps until midnight (a note fires tomorrow at 09:00 UTC); the clock is stepped
#    to 30 s past the fire time: the day is planned and the note goes out within seconds, once.
# 2. the clock is stepped back to the present: the daemon notices, plans again, and sends
#    nothing a second time.
# The clock is put back (to within the test's own run time) whatever happens.
. tests/e2e/lib.inc
if [ "$(id -u)" != 0 ]; then echo "skip - setting the clock needs root"; exit 0; fi
setup
SP= NP= STEP=0
restore() {
	if [ "$STEP" -ne 0 ]; then date -u -s "@$(($(date +%s) - STEP))" > /dev/null; STEP=0; fi
}
trap 'restore; kill $SP $NP 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
nfiles() { ls "$T/var/spool/outbox/new" 2>/dev/null | wc -l; }
files_ge() { [ "$(nfiles)" -ge "$1" ]; }

# Not at a day's edge: the plan is of today and tomorrow.
h=$(date -u +%H)
if [ "$h" -ge 22 ] || [ "$h" -lt 1 ]; then echo "skip - too close to midnight UTC"; exit 0; fi
tomorrow=$(date -u -d tomorrow +%Y-%m-%d)
occasion=$(date -u -d '2 days' +%Y-%m-%d)
cat > "$T/etc/occasions.yaml" <<EOF
occasions:
  - id: step
    when: {date: "$occasion"}
    lead: 1 day
    channel: email
    template: thank-you
EOF
sed -i 's/^timezone: .*/timezone: UTC/' "$T/etc/occasiond.yaml"
printf 'id,first_name,last_name,email,timezone,type\na1,Ann,Lee,ann@x.example,UTC,customer\n' > "$T/people.csv"
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1

"$PY" "$ROOT/tests/e2e/notify_listen.py" "$T/notify.sock" "$T/notify.log" &
NP=$!
wait_for 5 test -S "$T/notify.sock"
NOTIFY_SOCKET="$T/notify.sock" "$OCCASIOND" -v -c "$T/etc/occasiond.yaml" serve 2> "$T/serve.err" &
SP=$!
wait_for 10 has_line "STATUS=" "$T/notify.log"
check_out "serve sleeps until midnight (nothing due today)" "STATUS=nothing due before ${tomorrow}T00:00:00" "$T/notify.log"
eq "nothing sent yet" "$(nfiles)" 0

# 1. Forward, past the fire time.
fire=$(date -u -d "${tomorrow}T09:00:30Z" +%s)
STEP=$((fire - $(date +%s)))
date -u -s "@$fire" > /dev/null
wait_for 10 files_ge 1
eq "after the step forward the note goes out within 10 s" "$(nfiles)" 1
check_out "the step is logged" "the wall clock changed: planning again" "$T/serve.err"

# 2. Back to the present.
: > "$T/notify.log"
restore
wait_for 10 has_line "STATUS=" "$T/notify.log"
sleep 2
check_out "after the step back it plans again and says so" "STATUS=" "$T/notify.log"
eq "nothing is sent twice" "$(nfiles)" 1
kill -TERM "$SP"; wait "$SP"; rc=$?; SP=
eq "SIGTERM: exit 0" "$rc" 0
eq "one sent record" "$(sql "$T/var/occasiond.db" "select count(*) from dispatches where status='sent'")" 1
