#!/bin/sh
# The README and the man pages are true of the code:
# - every line of a fenced block marked "sh runnable" in README.md runs, in order, in one shell,
#   and exits 0: with `occasiond` on the PATH (the binary under test), HOME and the working
#   directory in a temporary place that has the repository's examples/;
# - a line of any fenced sh block that calls `occasiond COMMAND` names a command of --help;
#   a command this binary does not have yet is a visible skip, not a failure, so a section
#   may be written beside the work that makes it true (README.md says which way it goes);
# - every command occasiond(8) describes is in --help (the man page ships: no skip there);
# - every command README's "Not yet" names is indeed missing, so the list cannot outlive it.
. tests/e2e/lib.inc
mkdir -p "$T/bin" "$T/home" "$T/work"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$OCCASIOND" > "$T/bin/occasiond"
chmod +x "$T/bin/occasiond"
ln -s "$ROOT/examples" "$T/work/examples"
"$OCCASIOND" --help 2>&1 | sed -n '/^commands:/,/^$/p' | grep -oE '^  [a-z][a-z-]*' | tr -d ' ' | sort -u > "$T/commands"
check "--help lists commands" test -s "$T/commands"

# The blocks, as: KIND<TAB>LINE-NUMBER<TAB>TEXT (KIND run or show), continuation lines joined.
"$PY" - README.md > "$T/lines" <<'PYEOF'
import sys
kind, buf, start = None, '', 0
for n, line in enumerate(open(sys.argv[1], encoding='utf-8'), 1):
    line = line.rstrip('\n')
    if line.startswith('```'):
        if kind is None:
            info = line[3:].split()
            kind = ('run' if 'runnable' in info[1:] else 'show') if info[:1] == ['sh'] else 'other'
        else:
            kind = None
        continue
    if kind in ('run', 'show'):
        if not buf:
            start = n
        if line.endswith('\\'):
            buf += line[:-1] + ' '
            continue
        text = (buf + line).strip()
        buf = ''
        if text and not text.startswith('#'):
            print(f'{kind}\t{start}\t{text}')
PYEOF
check "README.md has runnable lines" grep -q '^run' "$T/lines"

# Which occasiond command a line calls (the first `occasiond WORD` not after an option).
cmd_of() {
	printf '%s\n' "$1" | awk '{
		for (i = 1; i < NF; i++) {
			if ($i != "occasiond" && $i !~ /[(;|]occasiond$/) continue
			j = i + 1
			if ($j == "-c") j += 2
			if ($j ~ /^[a-z][a-z-]*$/ && $j != "occasiond") { print $j; exit }
		}
	}'
}

: > "$T/script"
n=0
while IFS='	' read -r kind line text; do
	c=$(cmd_of "$text")
	case "$text" in make\ *) c= ;; esac
	if [ -n "$c" ] && ! grep -qx "$c" "$T/commands"; then
		echo "skip - README.md:$line names 'occasiond $c', which this binary does not have yet"
		continue
	fi
	[ -n "$c" ] && ok "README.md:$line: 'occasiond $c' is a command"
	[ "$kind" = run ] || continue
	n=$((n + 1))
	# One shell for all of them (export and cd carry on); each line's status is recorded.
	printf '%s\n' "$text" > "$T/line.$n"
	printf '%s\n__rc=$?; echo "%s %s $__rc" >> "$T/status"\n' "$text" "$n" "$line" >> "$T/script"
done < "$T/lines"
: > "$T/status"
(cd "$T/work" && HOME="$T/home" PATH="$T/bin:$PATH" OCCASIOND_CONFIG= T="$T" sh "$T/script") > "$T/run.out" 2>&1
while read -r i line rc; do
	eq "README.md:$line runs: $(cat "$T/line.$i")" "$rc" 0
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/run.out" | tail -15
done < "$T/status"
eq "every runnable line ran" "$(wc -l < "$T/status")" "$n"
check "the README's site passes check" grep -q 'occasiond.yaml: ok (.*0 warnings)' "$T/run.out"
check "the README's preview wrote a card" test -s "$T/work/card.pdf"
check "the README's report wrote a page" test -s "$T/work/report.html"
check "the README's plan.csv has rows" test "$(wc -l < "$T/work/plan.csv")" -gt 1

# occasiond(8): each command it describes exists.
grep -E '^\.It Cm [a-z]' man/occasiond.8 | awk '{print $3}' | sort -u > "$T/mancmds"
for c in $(cat "$T/mancmds"); do
	grep -qx "$c" "$T/commands" && ok "occasiond(8) describes '$c', which exists" ||
		not_ok "occasiond(8) describes '$c', which --help does not list"
done
for c in $(cat "$T/commands"); do
	grep -qx "$c" "$T/mancmds" && ok "'$c' is in occasiond(8)" || not_ok "'$c' is missing from occasiond(8)"
done

# README's "Not yet": a command named there as missing must be missing.
# (the bullet that begins "The command" or "The commands", up to the next bullet; none when
# every command is there)
sed -n '/^## Not yet/,/^## /p' README.md | sed -n '/^- The commands\{0,1\} /,/^- /p' | sed '1!{/^- /d}' |
	grep -oE '`[a-z][a-z-]*`' | tr -d '`' | sort -u > "$T/notyet"
if sed -n '/^## Not yet/,/^## /p' README.md | grep -q '^- The commands\{0,1\} '; then
	check "README's 'Not yet' names the missing commands" test -s "$T/notyet"
fi
for c in $(cat "$T/notyet"); do
	case "$c" in retry|optout|sync|init|import|check|plan|run|serve|preview|log|mark|report)
		if grep -qx "$c" "$T/commands"; then
			not_ok "README's 'Not yet' says '$c' is missing, but --help lists it: update the section"
		else
			ok "README's 'Not yet': '$c' is indeed missing"
		fi ;;
	esac
done
