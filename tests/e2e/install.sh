#!/bin/sh
# make install / uninstall into a DESTDIR and into a PREFIX; the unit file checked by systemd-analyze;
# the man pages by mandoc.
. tests/e2e/lib.inc

D="$T/dest"
mkdir -p "$D/usr/local/bin"   # a directory that was there before: uninstall must leave it
make -s --no-print-directory install DESTDIR="$D" > "$T/out" 2>&1; rc=$?
eq "make install DESTDIR=... exits 0" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out" | tail -10
(cd "$D" && find . -type f | sort) > "$T/files"
for f in ./usr/local/sbin/occasiond ./usr/local/share/man/man8/occasiond.8 ./usr/local/share/man/man5/occasiond.yaml.5 \
	./usr/local/lib/systemd/system/occasiond.service ./usr/local/lib/sysusers.d/occasiond.conf \
	./etc/occasiond/occasiond.yaml ./etc/occasiond/occasions.yaml \
	./usr/local/share/occasiond/templates/birthday.card.yaml ./usr/local/share/occasiond/templates/birthday.email \
	./usr/local/share/occasiond/fonts/DejaVuSans.ttf; do
	check_out "installed $f" "$f" "$T/files"
done
n=$(grep -vc -e '^./usr/local/share/occasiond/' "$T/files")
eq "nothing else outside share/occasiond (7 files)" "$n" 7
"$D/usr/local/sbin/occasiond" --version > "$T/out" 2>&1
check_out "the installed binary runs --version" "occasiond 0." "$T/out"
check_out "the installed unit starts the installed binary with the /etc config" \
	"ExecStart=/usr/local/sbin/occasiond -c /etc/occasiond/occasiond.yaml serve" "$D/usr/local/lib/systemd/system/occasiond.service"
check_out "the installed config keeps its database in the state directory" \
	"database: /var/lib/occasiond/occasiond.db" "$D/etc/occasiond/occasiond.yaml"
check_out "... and reads the installed templates" "templates: /usr/local/share/occasiond/templates" "$D/etc/occasiond/occasiond.yaml"
check_out "sysusers.d declares the service user" "u occasiond" "$D/usr/local/lib/sysusers.d/occasiond.conf"
# The installed binary finds its templates next to it (share/occasiond), wherever DESTDIR put it.
"$D/usr/local/sbin/occasiond" init "$T/site" > "$T/out" 2>&1
eq "the installed binary's init makes a site" "$?" 0
check_out "its fonts are the installed ones" "fonts: \"$D/usr/local/share/occasiond/fonts\"" "$T/site/occasiond.yaml"
"$D/usr/local/sbin/occasiond" -c "$T/site/occasiond.yaml" check > "$T/out" 2>&1
eq "which passes check" "$?" 0

# An edited config survives a second install and the uninstall.
echo "# edited by the admin" >> "$D/etc/occasiond/occasiond.yaml"
make -s --no-print-directory install DESTDIR="$D" > "$T/out" 2>&1
check_out "a second install keeps the existing config" "# edited by the admin" "$D/etc/occasiond/occasiond.yaml"
check_out "... and says so" "kept $D/etc/occasiond/occasiond.yaml" "$T/out"
make -s --no-print-directory uninstall DESTDIR="$D" > "$T/out" 2>&1; rc=$?
eq "make uninstall exits 0" "$rc" 0
(cd "$D" && find . -type f | sort) > "$T/files"
eq "uninstall leaves only the edited config" "$(cat "$T/files")" "./etc/occasiond/occasiond.yaml"
rm -f "$D/etc/occasiond/occasiond.yaml"
make -s --no-print-directory install DESTDIR="$D" > /dev/null 2>&1
make -s --no-print-directory uninstall DESTDIR="$D" > /dev/null 2>&1
eq "install then uninstall leaves no file" "$(cd "$D" && find . ! -type d | wc -l)" 0
eq "... and removes its own directories" "$(cd "$D" && find . -name 'occasiond*' | wc -l)" 0
check "... but not a directory that was there before" test -d "$D/usr/local/bin"

# A real install under a PREFIX outside /usr: config in PREFIX/etc, the unit points there.
P="$T/prefix"
make -s --no-print-directory install PREFIX="$P" > "$T/out" 2>&1; rc=$?
eq "make install PREFIX=... exits 0" "$rc" 0
check_out "SYSCONFDIR follows a non-system PREFIX" "ExecStart=$P/sbin/occasiond -c $P/etc/occasiond/occasiond.yaml serve" \
	"$P/lib/systemd/system/occasiond.service"
"$P/sbin/occasiond" -c "$P/etc/occasiond/occasiond.yaml" check > "$T/out" 2>&1; rc=$?
eq "the installed config, rules and templates pass check" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out" | head
MANPATH="$P/share/man" systemd-analyze verify "$P/lib/systemd/system/occasiond.service" > "$T/out" 2>&1; rc=$?
eq "systemd-analyze verify is clean on the installed unit" "$rc:$(wc -c < "$T/out")" "0:0"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out" | head
systemd-analyze security --offline=yes --threshold=15 systemd/occasiond.service > "$T/out" 2>&1; rc=$?
eq "systemd-analyze security scores the unit 1.5 or lower" "$rc" 0
score=$(sed -n 's/.*Overall exposure level for occasiond.service: \([0-9.]*\).*/\1/p' "$T/out")
echo "# exposure $score"
check "the exposure is a number at most 1.5" awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 1.5) }'
grep -q '^SystemCallFilter=@system-service' systemd/occasiond.service && \
grep -q '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' systemd/occasiond.service && ok "the unit keeps the network families SMTP needs, syscalls limited to @system-service" || not_ok "unit filters"

# Man pages: no mandoc warning or error (style notes about the cross-references between the
# two pages, which mandoc looks up in the installed manual database, are left out).
mandoc -T lint -W warning man/occasiond.8 man/occasiond.yaml.5 > "$T/out" 2>&1; rc=$?
eq "mandoc -T lint -W warning is clean" "$rc:$(wc -c < "$T/out")" "0:0"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out" | head
mandoc -T lint man/occasiond.8 man/occasiond.yaml.5 2>&1 | grep -v -e 'referenced manual not found' -e 'outdated mandoc.db' > "$T/out"
eq "mandoc -T lint has no style notes either" "$(cat "$T/out")" ""
