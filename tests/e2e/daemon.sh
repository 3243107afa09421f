#!/bin/sh
# serve: sd_notify (READY, STATUS, WATCHDOG, RELOADING, STOPPING) to a test-owned socket; each
# dispatch at its fire time under libfaketime, not before; SIGHUP with broken then fixed rules;
# an import seen while it runs; SIGTERM in the middle of a big pass; under strace, only the
# unit's system calls and writes only under the state directory.
. tests/e2e/lib.inc
setup

SP= NP=
trap 'kill $SP $NP 2>/dev/null; rm -rf "$T"' EXIT
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
case "$OCCASIOND" in *san*) SAN=1; ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS ;; *) SAN= ;; esac

count_ge() { [ "$(sql "$1" "$2")" -ge "$3" ]; }

# A datagram socket standing in for systemd's (tests/e2e/notify_listen.py).
"$PY" "$ROOT/tests/e2e/notify_listen.py" "$T/notify.sock" "$T/notify.log" &
NP=$!
wait_for 5 test -S "$T/notify.sock"

# serve_at TIME LOG: serve with the clock set to TIME (UTC) and running on from there; $SP is its pid.
serve_at() {
	: > "$T/notify.log"
	NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 TZ=UTC FAKETIME="@$1" \
		sh -c 'WATCHDOG_PID=$$ LD_PRELOAD="$0" exec "$@"' "$FT" "$OCCASIOND" -v -c "$CFG" serve 2> "$2" &
	SP=$!
}
# stop: SIGTERM, and the exit status and time it took (ms) in $rc, $ms.
stop() {
	t0=$(date +%s%N); kill -TERM "$SP"; wait "$SP"; rc=$?; ms=$((($(date +%s%N) - t0) / 1000000)); SP=
}

cat > "$T/etc/occasions.yaml" <<'EOF'
occasions:
  - id: note
    when: {date: "12-10"}
    lead: 7 days
    channel: email
    template: thank-you
EOF
cp "$T/etc/occasions.yaml" "$T/etc/good.yaml"
printf 'id,first_name,last_name,email,timezone,type\na1,Ann,Lee,ann@x.example,Europe/Berlin,customer\nb2,Bob,Ray,bob@x.example,Europe/London,customer\n' > "$T/people.csv"
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
DB="$T/var/occasiond.db"
sent() { sql "$DB" "select count(*) from dispatches where rule='$1' and stakeholder='$2' and status='sent'"; }
is_sent() { [ "$(sent "$1" "$2")" = 1 ]; }

# 1. Ann's note fires at 09:00 Berlin (08:00 UTC), Bob's at 09:00 London (09:00 UTC).
serve_at "2026-12-03 07:59:57" "$T/serve1.err"
wait_for 10 has_line READY=1 "$T/notify.log"
check_out "READY=1 once the config and the database are open" "READY=1" "$T/notify.log"
wait_for 5 has_line STATUS= "$T/notify.log"
check_out "STATUS says when the next dispatch is" "STATUS=next dispatch 2026-12-03T09:00:00+01:00" "$T/notify.log"
eq "nothing is sent before its fire time" "$(sent note a1)" 0
wait_for 8 is_sent note a1
eq "Ann's note goes out at its fire time" "$(sent note a1)" 1
at=$(sql "$DB" "select updated_at from dispatches where stakeholder='a1'")
"$PY" -c "import sys; t=int(sys.argv[1]); sys.exit(0 if 1796284800 <= t < 1796284804 else 1)" "$at" \
	&& ok "... within 4 s after 08:00:00 UTC, not before (recorded at $at)" || not_ok "recorded at $at, fire time 1796284800"
eq "Bob's note, an hour later, is not sent yet" "$(sent note b2)" 0
wait_for 5 has_line "STATUS=next dispatch 2026-12-03T10:00:00+01:00" "$T/notify.log"
check_out "then it sleeps until Bob's fire time" "STATUS=next dispatch 2026-12-03T10:00:00+01:00" "$T/notify.log"
wait_for 3 sh -c "[ \$(grep -c WATCHDOG=1 '$T/notify.log') -ge 2 ]"
check "WATCHDOG=1 at least every WATCHDOG_USEC/2" sh -c "[ \$(grep -c WATCHDOG=1 '$T/notify.log') -ge 2 ]"
check_out "-v: debug lines at <7>" "<7>next dispatch 2026-12-03T10:00:00+01:00" "$T/serve1.err"
check_out "a dispatch is one log line with key=value fields" "<6>dispatch id=1 rule=note stakeholder=a1 occasion=2026-12-10 channel=email status=sent" "$T/serve1.err"
stop
eq "SIGTERM: exit status 0" "$rc" 0
check "... within 5 s (${ms} ms)" test "$ms" -lt 5000
check_out "STOPPING=1 on the way out" "STOPPING=1" "$T/notify.log"

# 2. A broken reload keeps the old rules (Bob's note still goes out at 09:00 UTC); a fixed one
#    takes effect; an import while serve runs is seen without a signal.
serve_at "2026-12-03 08:59:56" "$T/serve2.err"
wait_for 10 has_line READY=1 "$T/notify.log"
sed 's/^    lead: 7 days/    laed: 7 days/' "$T/etc/good.yaml" > "$T/etc/occasions.yaml"
kill -HUP "$SP"
wait_for 5 has_line "reload failed" "$T/serve2.err"
line=$(grep -n 'laed:' "$T/etc/occasions.yaml" | cut -d: -f1)
check_out "SIGHUP with a broken rules file logs the error at <3> with FILE:LINE:COL" \
	"<3>$T/etc/occasions.yaml:$line:5: error: unknown key 'laed'" "$T/serve2.err"
check_out "... and keeps the old config and rules" "<3>reload failed: the previous config, rules and templates stay in force" "$T/serve2.err"
check_out "RELOADING=1 then READY=1 around the reload" "RELOADING=1" "$T/notify.log"
eq "Bob's note is not sent before 09:00 UTC" "$(sent note b2)" 0
wait_for 8 is_sent note b2
eq "after the broken reload the old rules still fire Bob's note" "$(sent note b2)" 1
at=$(sql "$DB" "select updated_at from dispatches where stakeholder='b2'")
check "... at its fire time, 09:00:00 UTC, not before" test "$at" -ge 1796288400 -a "$at" -lt 1796288404
{ cat "$T/etc/good.yaml"; printf '  - id: hello\n    when: {date: "12-10"}\n    lead: 7 days\n    channel: email\n    template: welcome\n'; } > "$T/etc/occasions.yaml"
kill -HUP "$SP"
wait_for 8 is_sent hello b2
eq "a fixed rules file is taken on the next SIGHUP: the new rule fires" "$(sent hello a1):$(sent hello b2)" "1:1"
check_out "... and the reload is logged" "<6>reloaded: config=$CFG rules=2" "$T/serve2.err"
printf 'id,first_name,last_name,email,timezone,type\nc3,Cleo,Diaz,cleo@x.example,Europe/Berlin,customer\n' > "$T/more.csv"
OCC import stakeholders "$T/more.csv" > /dev/null 2>&1
wait_for 8 is_sent hello c3
eq "a stakeholder imported while serve runs is dispatched without a signal or restart" "$(sent note c3):$(sent hello c3)" "1:1"
stop
eq "exit 0 after reloads" "$rc" 0

# 2b. Nothing due: it sleeps until local midnight, plans the new day, and the next midnight is
#     23 hours on, across the switch to summer time (Europe/Berlin, 29 March 2026).
serve_at "2026-03-28 22:59:58" "$T/serve2b.err"
wait_for 10 has_line "STATUS=nothing due before 2026-03-29T00:00:00+01:00" "$T/notify.log"
check_out "with nothing due it sleeps until local midnight" "STATUS=nothing due before 2026-03-29T00:00:00+01:00" "$T/notify.log"
wait_for 8 has_line "STATUS=nothing due before 2026-03-30T00:00:00+02:00" "$T/notify.log"
check_out "at midnight it plans the new day; the next midnight is after the DST switch" \
	"STATUS=nothing due before 2026-03-30T00:00:00+02:00" "$T/notify.log"
stop

# 2c. A delivery that fails for now (the outbox cannot be made) is a retry, and the daemon's next
#     wake-up is its retry time (first_delay 5m after 10:00 UTC), not a poll.
mkdir -p "$T/r/spool" && : > "$T/r/spool/outbox"
sed -e "s|^database: .*|database: $T/r/occasiond.db|" -e "s|^spool: .*|spool: $T/r/spool|" "$CFG" > "$T/etc/retry.yaml"
"$OCCASIOND" -c "$T/etc/retry.yaml" import stakeholders "$T/people.csv" > /dev/null 2>&1
CFG=$T/etc/retry.yaml serve_at "2026-12-03 10:00:00" "$T/serve2c.err"
wait_for 10 has_line "STATUS=" "$T/notify.log"
check_out "a failed local delivery is recorded retry" "status=retry" "$T/serve2c.err"
check_out "the next wake-up is the retry time" "STATUS=next retry 2026-12-03T11:05:00+01:00" "$T/notify.log"
stop

# 3. SIGTERM in the middle of a big pass: the dispatch in hand finishes, nothing is half written.
# On tmpfs when there is one: the figure here is the stop, not the disk's fsync rate.
# (The sanitizer build is slower: fewer there, still enough. Emails go to the maildir
# in chunks, 6,000 in about half a second: enough of them that the stop lands in the middle.)
N=20000
B=$(mktemp -d /dev/shm/occasiond-e2e.XXXXXX 2>/dev/null) || { B=$T/big; N=1500; }
[ -z "$SAN" ] || N=10000
trap 'kill $SP $NP 2>/dev/null; rm -rf "$T" "$B"' EXIT
"$PY" - "$N" > "$T/big.csv" <<'EOF'
import sys
print("id,first_name,last_name,email,timezone,type")
for i in range(int(sys.argv[1])):
    print("p%05d,Pat,Lee%d,pat%d@x.example,Europe/Berlin,customer" % (i, i, i))
EOF
mkdir -p "$B"
sed -e "s|^database: .*|database: $B/occasiond.db|" -e "s|^spool: .*|spool: $B/spool|" "$CFG" > "$T/etc/big.yaml"
cp "$T/etc/good.yaml" "$T/etc/occasions.yaml"
BCFG=$T/etc/big.yaml
"$OCCASIOND" -c "$BCFG" import stakeholders "$T/big.csv" > /dev/null 2>&1
CFG=$BCFG serve_at "2026-12-03 10:00:00" "$T/serve3.err"
wait_for 20 count_ge "$B/occasiond.db" "select count(*) from dispatches where status='sent'" 20
# The pass is still going (no STATUS= yet), yet the watchdog is fed: util_keepalive between dispatches.
wait_for 5 has_line WATCHDOG=1 "$T/notify.log"
if grep -q WATCHDOG=1 "$T/notify.log" && ! grep -q STATUS= "$T/notify.log"; then
	ok "WATCHDOG=1 is sent during a long pass, not only between passes"
else
	not_ok "WATCHDOG=1 during a long pass"; sed 's/^/#   /' "$T/notify.log" | head -5
fi
stop
eq "SIGTERM during the pass: exit status 0" "$rc" 0
check "... within 5 s (${ms} ms)" test "$ms" -lt 5000
nsent=$(sql "$B/occasiond.db" "select count(*) from dispatches where status='sent'")
nother=$(sql "$B/occasiond.db" "select count(*) from dispatches where status<>'sent'")
nfiles=$(ls "$B/spool/outbox/new" | wc -l)
echo "# $nsent of $N sent before the stop"
check "it stopped in the middle ($nsent of $N)" test "$nsent" -gt 0 -a "$nsent" -lt "$N"
eq "no half record: every record is sent, none queued" "$nother" 0
eq "every sent record has its message in the outbox, and no message lacks a record" "$nfiles" "$nsent"
check_out "the stop is logged with what is left" "<6>stop requested:" "$T/serve3.err"
"$OCCASIOND" -c "$BCFG" run --once --at 2026-12-03T11:00 > /dev/null 2>&1
eq "the next start sends the rest, nothing twice" \
	"$(sql "$B/occasiond.db" "select count(*) from dispatches where status='sent'"):$(ls "$B/spool/outbox/new" | wc -l)" "$N:$N"

# 3b. SIGTERM while one signer's big card batch is being rendered: the batch is abandoned
# whole (its claims withdrawn), nothing half written, exit 0 within 5 s; the next start renders
# every card once.
NC=20000
[ -z "$SAN" ] || NC=2500
"$PY" - "$NC" > "$T/cards.csv" <<'EOF'
import sys
print("id,first_name,last_name,type,owner,street,city,country,birthday,consent_personal")
for i in range(int(sys.argv[1])):
    print("k%05d,Kim,Card%d,customer,Dana Ruiz,%d Main St,Springfield,USA,1980-12-13,yes" % (i, i, i))
EOF
C=$B/cards; mkdir -p "$C"
cat > "$T/etc/cards-rules.yaml" <<'EOR'
occasions:
  - {id: bday, when: {anniversary_of: birthday}, lead: 10 days, channel: card, template: birthday}
EOR
sed -e "s|^database: .*|database: $C/occasiond.db|" -e "s|^spool: .*|spool: $C/spool|" \
    -e "s|^rules: .*|rules: cards-rules.yaml|" "$CFG" > "$T/etc/cards.yaml"
"$OCCASIOND" -c "$T/etc/cards.yaml" import stakeholders "$T/cards.csv" > /dev/null 2>&1
: > "$T/notify.log"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 OCCASIOND_CARD_WORKERS=1 TZ=UTC FAKETIME="@2026-12-03 10:00:00" \
	sh -c 'WATCHDOG_PID=$$ LD_PRELOAD="$0" exec "$@"' "$FT" "$OCCASIOND" -v -c "$T/etc/cards.yaml" serve 2> "$T/serve3b.err" &
SP=$!
wait_for 30 has_line WATCHDOG=1 "$T/notify.log"
sleep 0.2
stop
eq "SIGTERM during a card batch: exit status 0" "$rc" 0
check "... within 5 s (${ms} ms)" test "$ms" -lt 5000
nr=$(sql "$C/occasiond.db" "select count(*) from dispatches where status='rendered'")
nq=$(sql "$C/occasiond.db" "select count(*) from dispatches where status<>'rendered'")
eq "no half record: nothing queued or failed" "$nq" 0
if [ "$nr" -eq 0 ]; then
	ok "the batch was stopped in the middle and abandoned whole (no records)"
	eq "no batch file for it" "$(find "$C/spool" -name '*.pdf' 2>/dev/null | wc -l)" 0
	check_out "the stop is logged" "stop requested" "$T/serve3b.err"
else
	ok "the batch was complete before the signal ($nr cards): recorded whole"
fi
"$OCCASIOND" -c "$T/etc/cards.yaml" run --once --at 2026-12-03T11:00 > /dev/null 2>&1
eq "the next start renders every card once" "$(sql "$C/occasiond.db" "select count(*), count(distinct page) from dispatches where status='rendered'")" "$NC|$NC"
check "the batch passes qpdf --check" qpdf --check "$C/spool/batches/2026-12-03/Dana_Ruiz.pdf"

# 4. Under the unit's sandbox rules: strace the plain build through a pass of the shipped
#    examples (cards and emails), a reload, an import and a stop.
if [ -z "$SAN" ] && ! strace -f -o /dev/null true 2>/dev/null; then
	echo "skip - strace cannot trace here (ptrace not permitted)"
elif [ -z "$SAN" ]; then
	rm -rf "$T/var"
	cp "$ROOT/config/occasions.yaml" "$T/etc/occasions.yaml"
	OCC import stakeholders examples/stakeholders.csv > /dev/null 2>&1
	: > "$T/notify.log"
	# As root, run it as nobody the way the unit runs it as its own user (SQLite fchowns as root).
	AS=
	if [ "$(id -u)" = 0 ] && have setpriv; then
		AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
		chmod 755 "$T" && chmod 666 "$T/notify.sock" && chown -R 65534:65534 "$T/var"
	fi
	NOTIFY_SOCKET="$T/notify.sock" TZ=UTC FAKETIME="@2026-12-03 10:00:00" \
		strace -f -qq -s 256 -o "$T/strace.out" sh -c 'echo $$ > "$0"; exec "$@"' "$T/daemon.pid" \
		$AS env LD_PRELOAD="$FT" "$OCCASIOND" -c "$CFG" serve 2> "$T/serve4.err" &
	STP=$!
	wait_for 5 test -s "$T/daemon.pid"
	SP=$(cat "$T/daemon.pid")
	wait_for 20 has_line "cards," "$T/notify.log"
	kill -HUP "$SP"
	wait_for 10 has_line "reloaded" "$T/serve4.err"
	$AS "$OCCASIOND" -c "$CFG" import events examples/events.csv > /dev/null 2>&1
	sleep 1
	kill -TERM "$SP"; wait "$STP"; rc=$?; SP=
	eq "serve under strace: exit 0" "$rc" 0
	[ "$rc" -eq 0 ] || grep '<3>' "$T/serve4.err" | sed 's/^/#   /' | head -5
	check "it rendered cards and wrote emails" sh -c "ls '$T'/var/spool/batches/*/*.pdf && ls '$T'/var/spool/outbox/new | grep -q ."
	systemd-analyze syscall-filter > "$T/sets" 2>/dev/null
	"$PY" - "$T/sets" "$T/strace.out" "$T/var/" "$OCCASIOND" > "$T/sys.out" <<'EOF'
import re, sys
sets, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("@"):
        cur = sets.setdefault(line.strip(), set())
    elif cur is not None and line.strip() and not line.strip().startswith("#"):
        cur.add(line.strip())
def expand(name, seen=()):
    out = set()
    for m in sets.get(name, ()):
        out |= expand(m, seen + (name,)) if m.startswith("@") else {m}
    return out
# The unit: SystemCallFilter=@system-service, then ~@privileged @resources (@default always).
allowed = (expand("@system-service") | expand("@default")) - expand("@privileged") - expand("@resources")
used, writes, started = set(), set(), False
for line in open(sys.argv[2]):
    # From the exec of occasiond on (setpriv's own set-up before it is not the daemon's).
    if not started:
        started = ('execve("%s"' % sys.argv[4]) in line and line.rstrip().endswith("= 0")
        continue
    m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if not m or line.split()[1].startswith("+++") or line.split()[1].startswith("---"):
        continue
    used.add(m.group(1))
    w = re.match(r'\d+\s+(open|openat|creat|mkdir|mkdirat|rename|renameat2?|unlink|unlinkat|link|linkat|symlink|rmdir|truncate)\((?:[A-Z_]+, )?"([^"]*)"(.*)', line)
    if w:
        call, path, rest = w.groups()
        if call in ("open", "openat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest):
            continue
        if "= -1" in rest:
            continue
        writes.add(path)
        for p in re.findall(r'"([^"]*)"', rest):
            writes.add(p)
print("forbidden:", " ".join(sorted(used - allowed)) or "none")
# libfaketime (the test's clock) keeps its state in /dev/shm: not the daemon's.
print("outside:", " ".join(sorted(p for p in writes if not p.startswith(sys.argv[3]) and not p.startswith("/dev/shm/"))) or "none")
print("# used:", " ".join(sorted(used)))
EOF
	check_out "every system call is in the unit's SystemCallFilter (@system-service minus @privileged @resources)" "forbidden: none" "$T/sys.out"
	check_out "files are written only under the state directory (database, spool)" "outside: none" "$T/sys.out"
fi

# 5. Without libsystemd: daemon.c built with HAVE_SYSTEMD unset speaks the protocol by hand.
if cc -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror -Iinclude -D_GNU_SOURCE \
	-c -o "$T/daemon-nosd.o" src/daemon.c 2> "$T/cc.err"; then
	ok "daemon.c compiles without libsystemd"
	objs=
	for o in build/obj/*.o; do   # the objects of today's sources (not a stale one of a removed file)
		b=$(basename "$o" .o)
		[ "$b" != daemon ] && [ "$b" != main ] && [ -f "src/$b.c" ] && objs="$objs $o"
	done
	objs="$objs build/obj/main.o"
	libs=$(make -s --no-print-directory print-libs HAVE_SYSTEMD=)
	if cc -o "$T/occ-nosd" $objs "$T/daemon-nosd.o" $libs 2> "$T/cc.err"; then
		: > "$T/notify.log"
		NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 sh -c 'WATCHDOG_PID=$$ exec "$@"' sh \
			"$T/occ-nosd" -c "$CFG" serve 2> "$T/serve5.err" &
		SP=$!
		wait_for 10 sh -c "grep -q WATCHDOG=1 '$T/notify.log' && grep -q STATUS= '$T/notify.log'"
		stop
		eq "without libsystemd: READY, STATUS and STOPPING reach \$NOTIFY_SOCKET, exit 0" \
			"$(grep -c -e READY=1 -e STOPPING=1 "$T/notify.log"):$(grep -q STATUS= "$T/notify.log" && echo status):$rc" \
			"2:status:0"
		check_not "without -v, no debug line" "<7>" "$T/serve5.err"
		check "... and WATCHDOG=1 (WATCHDOG_USEC and WATCHDOG_PID read by hand)" grep -q WATCHDOG=1 "$T/notify.log"
		check "the build without libsystemd does not link it" sh -c "! ldd '$T/occ-nosd' | grep -q libsystemd"
	else
		not_ok "linking without libsystemd"; sed 's/^/#   /' "$T/cc.err" | head -5
	fi
else
	not_ok "daemon.c compiles without libsystemd"; sed 's/^/#   /' "$T/cc.err" | head -5
fi
