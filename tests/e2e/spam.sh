#!/bin/sh
# Every shipped email template, rendered for the example stakeholders, scores at most 1.0 in
# SpamAssassin (local rules only: -L, no network tests); the rules each one hits are printed.
# Heavy (a Perl start per message): plain build only, it tests the templates, not the binary.
. tests/e2e/lib.inc
case "$OCCASIOND" in *san*) echo "skip - spamassassin: plain build only"; exit 0 ;; esac
have spamassassin || { echo "skip - spamassassin missing (scripts/deps.sh test)"; exit 0; }
setup
sed -i 's|^  from: .*|&\n  unsubscribe: "https://acme.example/unsubscribe?list=notes"|' "$CFG"
{
	echo "occasions:"
	for f in "$ROOT"/templates/*.email; do
		n=$(basename "$f" .email)
		printf '  - id: t-%s\n    when: {date: "12-13"}\n    channel: email\n    template: %s\n' "$n" "$n"
	done
} > "$T/etc/occasions.yaml"
OCC import stakeholders "$ROOT/examples/stakeholders.csv" > /dev/null 2>&1
OCC import events "$ROOT/examples/events.csv" > /dev/null 2>&1
for f in "$ROOT"/templates/*.email; do
	n=$(basename "$f" .email)
	for who in c002 e002; do
		OCC preview --rule "t-$n" --stakeholder $who -o "$T/$n-$who.eml" > /dev/null 2> "$T/err" ||
			{ not_ok "$n for $who renders"; sed 's/^/#   /' "$T/err"; continue; }
		spamassassin -L -t < "$T/$n-$who.eml" > "$T/$n-$who.sa" 2>/dev/null
		# X-Spam-Status, unfolded: "No, score=0.3 required=5.0 tests=A,B autolearn=..."
		st=$("$PY" -c 'import email,sys; m=email.message_from_binary_file(sys.stdin.buffer); print(" ".join((m["X-Spam-Status"] or "").split()))' < "$T/$n-$who.sa")
		score=$(printf '%s' "$st" | sed -n 's/.*score=\(-*[0-9.]*\).*/\1/p')
		tests=$(printf '%s' "$st" | sed -n 's/.*tests=//; s/ autolearn=.*//; s/ version=.*//; s/ //gp')
		if [ -n "$score" ] && awk "BEGIN { exit !($score <= 1.0) }"; then
			ok "spamassassin: $n for $who scores $score (rules hit: ${tests:-none})"
		else
			not_ok "spamassassin: $n for $who scores ${score:-?} > 1.0 (rules hit: ${tests:-none})"
		fi
	done
done
