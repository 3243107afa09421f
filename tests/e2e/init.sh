#!/bin/sh
# occasiond init DIR: a site of one's own that passes check at once, runs, and is never written
# over; its config mentions every key the config knows.
. tests/e2e/lib.inc
S="$T/my site"
"$OCCASIOND" init "$S" --timezone America/Chicago > "$T/out" 2>&1; rc=$?
eq "init exits 0" "$rc" 0
for f in occasiond.yaml occasions.yaml templates/birthday.card.yaml templates/birthday.email \
         templates/signature.mustache templates/images/confetti.png; do
	check "init wrote $f" test -s "$S/$f"
done
check "and an empty var/" test -d "$S/var"
check_out "it says what to do next" "occasiond -c $S/occasiond.yaml check" "$T/out"
C="$S/occasiond.yaml"
check_out "the zone asked for" "timezone: America/Chicago" "$C"

"$OCCASIOND" -c "$C" check > "$T/out" 2>&1; rc=$?
eq "check passes on the new site at once" "$rc" 0
check_out "with no warning" "0 warnings" "$T/out"
(cd "$T" && "$OCCASIOND" -c "my site/occasiond.yaml" run --once --dry-run) > "$T/out" 2>&1; rc=$?
eq "run --once --dry-run runs (relative -c, from elsewhere)" "$rc" 0
"$OCCASIOND" -c "$C" import stakeholders examples/stakeholders.csv > /dev/null 2>&1
"$OCCASIOND" -c "$C" import events examples/events.csv > /dev/null 2>&1
"$OCCASIOND" -c "$C" check --data > "$T/out" 2>&1; rc=$?
eq "check --data passes with the examples imported" "$rc" 0
"$OCCASIOND" -c "$C" plan --from 2026-12-01 --days 30 > "$T/out" 2>&1
check_out "the starter rules plan birthdays" "birthday" "$T/out"
"$OCCASIOND" -c "$C" run --once --at 2026-12-03T16:00:00+01:00 > "$T/out" 2>&1; rc=$?
eq "a real run exits 0" "$rc" 0
n=$(find "$S/var/spool/batches" -name '*.pdf' 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && ok "card batches come out under the site's var/spool ($n)" || not_ok "card batches come out ($n)"

# Every key the config knows is in the written config (set, or commented out with its default).
sed -n '/_keys\[\] = {/,/};/p' src/config.c | grep -o '"[a-z_0-9]*"' | tr -d '"' | sort -u > "$T/keys"
miss=
for k in $(cat "$T/keys"); do grep -qE "^[ #]*$k:" "$C" || miss="$miss $k"; done
eq "the config written mentions every config key" "$miss" ""

# Never over an existing site; nothing written on a refusal.
cp "$C" "$T/before"
"$OCCASIOND" init "$S" > "$T/out" 2>&1; rc=$?
eq "init over a site is refused" "$rc" 1
check_out "naming the file" "occasiond.yaml exists" "$T/out"
check "the config is untouched" cmp -s "$C" "$T/before"
mkdir -p "$T/half"
mkdir "$T/half/templates"
"$OCCASIOND" init "$T/half" > "$T/out" 2>&1; rc=$?
eq "a directory with a templates/ of its own is refused" "$rc" 1
eq "and nothing is written into it" "$(ls "$T/half")" "templates"
"$OCCASIOND" init > /dev/null 2>&1; eq "init without DIR is a usage error" "$?" 2
"$OCCASIOND" init "$T/z" --timezone Mars/Olympus > "$T/out" 2>&1; eq "an unknown zone is a usage error" "$?" 2
check "and writes nothing" test ! -e "$T/z"
OCCASIOND_DATADIR="$T/nowhere" "$OCCASIOND" init "$T/nd" > "$T/out" 2>&1; rc=$?
eq "a data directory without templates is an error" "$rc" 1
check_out "naming it" "OCCASIOND_DATADIR=$T/nowhere" "$T/out"
