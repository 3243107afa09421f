#!/bin/sh
# The spine, end to end: check, import, plan, run twice, read the PDFs and the mail back.
. tests/e2e/lib.inc
setup

OCC --version > "$T/out" 2>&1
check_out "--version prints the version" "occasiond 0." "$T/out"
OCC --help > "$T/out" 2>&1; rc=$?
eq "--help exits 0" "$rc" 0
check_out "--help lists the commands" "import stakeholders FILE.csv" "$T/out"
OCC plan --help > "$T/out" 2>&1
check_out "COMMAND --help" "usage: occasiond plan" "$T/out"
OCC frobnicate > "$T/out" 2>&1; rc=$?
eq "an unknown command is a usage error (exit 2)" "$rc" 2

OCC check > "$T/out" 2>&1; rc=$?
eq "check passes on the shipped config and rules" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out" | head -20

# Rules errors carry FILE:LINE:COL and name the key.
cp "$T/etc/occasions.yaml" "$T/etc/good.yaml"
sed 's/^    lead: 10 days/    laed: 10 days/' "$T/etc/good.yaml" > "$T/etc/occasions.yaml"
OCC check > "$T/out" 2>&1; rc=$?
eq "check fails on an unknown key" "$rc" 1
line=$(grep -n 'laed:' "$T/etc/occasions.yaml" | cut -d: -f1)
check_out "the error has FILE:LINE:COL and the key, with a suggestion" \
	"$T/etc/occasions.yaml:$line:5: error: unknown key 'laed' in an occasion (did you mean 'lead'?)" "$T/out"
cp "$T/etc/good.yaml" "$T/etc/occasions.yaml"
printf 'database: x.db\ntimezone: Mars/Olympus\nsend_window: "18:00-09:00"\n' > "$T/etc/bad.yaml"
OCC -c "$T/etc/bad.yaml" check > "$T/out" 2>&1; rc=$?
eq "check fails on a bad config" "$rc" 1
check_out "unknown time zone reported at its line" "$T/etc/bad.yaml:2:11: error: timezone: unknown time zone 'Mars/Olympus'" "$T/out"
check_out "bad send_window reported at its line" "$T/etc/bad.yaml:3:14: error: send_window" "$T/out"

printf 'mail:\n  transport: smtp\n  smtp: {url: "smtp://x.example", tls: none}\n' > "$T/etc/smtp.yaml"
OCC -c "$T/etc/smtp.yaml" check > "$T/out" 2>&1; rc=$?
eq "smtp without TLS to a remote host is refused" "$rc" 1
check_out "the refusal names the line" "$T/etc/smtp.yaml:3:40: error: tls: none is only allowed to a loopback host" "$T/out"

mkdir -p "$T/etc/rules.d"
cp "$T/etc/occasions.yaml" "$T/etc/rules.d/a.yaml"
printf 'calendar:\n  weekend: [friday, saturday]\n' > "$T/etc/rules.d/b.yaml"
sed "s|^rules: .*|rules: rules.d|" "$CFG" > "$T/etc/dir.yaml"
OCC -c "$T/etc/dir.yaml" check > "$T/out" 2>&1; rc=$?
eq "a second calendar in a rules directory is an error" "$rc" 1
check_out "it names both files" "$T/etc/rules.d/b.yaml:1:1: error: calendar is already given in $T/etc/rules.d/a.yaml" "$T/out"

# Import: all or nothing, FILE:LINE on a bad row.
OCC import stakeholders examples/stakeholders.csv > "$T/out" 2>&1; rc=$?
eq "import stakeholders exits 0" "$rc" 0
check_out "import counts the stakeholders" "44 stakeholders imported" "$T/out"
{ head -1 examples/stakeholders.csv; printf 'x1,Ann,Lee,,,,customer,,ann@x.example,,,,,,,,,,1990-01-01,,,,yes,no,\r\n'; \
  printf 'x2,Bob,Ray,,,,customer,,bob@x.example,,,,,,,,,,1990-02-30,,,,yes,no,\r\n'; } > "$T/bad.csv"
OCC import stakeholders "$T/bad.csv" > "$T/out" 2>&1; rc=$?
eq "a bad row fails the import (exit 1)" "$rc" 1
check_out "the bad row is named FILE:LINE" "$T/bad.csv:3: error: column birthday" "$T/out"
OCC log --stakeholder x1 --format json > /dev/null 2>&1
n=$(db_sql 'select count(*) from stakeholders')
eq "nothing of the bad file was written" "$n" 44
OCC import events examples/events.csv > "$T/out" 2>&1; rc=$?
eq "import events exits 0" "$rc" 0
check_out "import counts the events" "6 events imported" "$T/out"

# Plan: JSON, in fire order, nothing recorded.
OCC plan --from 2026-12-03 --days 1 --format json > "$T/plan.json" 2>"$T/err"; rc=$?
eq "plan --format json exits 0" "$rc" 0
"$PY" - "$T/plan.json" > "$T/out" 2>&1 <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
keys = {"fire_at","occasion_date","rule","stakeholder","name","channel","template","signer","cost","note"}
print("fields", all(keys <= set(x) for x in p))
print("ordered", [x["fire_at"] for x in p] == sorted([x["fire_at"] for x in p], key=lambda s: __import__("datetime").datetime.fromisoformat(s)))
have = {(x["rule"], x["stakeholder"]) for x in p}
print("zoe-birthday", ("birthday","c001") in have)
print("jose-platinum", any(x["rule"]=="birthday" and x["stakeholder"]=="c002" and x["template"]=="birthday-platinum" and x["cost"]==12.0 for x in p))
print("no-consent-no-birthday", ("birthday","c008") not in have)
print("opted-out-nothing", not any(x["stakeholder"] in ("c012","p006") for x in p))
print("work-anniversary-5", any(x["rule"]=="work-anniversary" and x["stakeholder"]=="e001" and x["years"]==5 for x in p))
print("no-address-skipped", any(x["stakeholder"]=="c019" and x["state"]=="skipped" and x["reason"]=="no-address" for x in p))
print("promotion-event", ("promotion","e002") in have)
PYEOF
for k in fields ordered zoe-birthday jose-platinum no-consent-no-birthday opted-out-nothing work-anniversary-5 no-address-skipped promotion-event; do
	check_out "plan json: $k" "$k True" "$T/out"
done
OCC plan --from 2026-12-03 --days 1 > "$T/plan.txt" 2>&1
check_out "plan table has a header" "FIRE_AT" "$T/plan.txt"
check_out "plan table shows names as written" "Zoë Łukasiewicz" "$T/plan.txt"
n=$(db_sql 'select count(*) from dispatches')
eq "plan records nothing" "$n" 0

# Run at 10:00 Berlin, then again at the same time: the second dispatches nothing.
OCC run --once --at 2026-12-03T10:00 > "$T/run1" 2>"$T/run1.err"; rc=$?
eq "run --once exits 0" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/run1.err" | grep -v 'status=' | head
check_out "run reports cards" "cards:" "$T/run1"
check_out "run reports emails" "emails:" "$T/run1"
n1=$(db_sql 'select count(*) from dispatches')
OCC run --once --at 2026-12-03T10:00 > "$T/run2" 2>&1
check_out "a second run at the same time dispatches nothing" "0 cards in 0 batches, 0 emails, 0 skipped, 0 missed" "$T/run2"
n2=$(db_sql 'select count(*) from dispatches')
eq "no record was added by the second run" "$n2" "$n1"
eml1=$(ls "$T/var/spool/outbox/new" | wc -l)
OCC run --once --at 2026-12-03T10:00 > /dev/null 2>&1
eml2=$(ls "$T/var/spool/outbox/new" | wc -l)
eq "no email was written twice" "$eml2" "$eml1"
ls "$T/var/spool/outbox/tmp" | wc -l > "$T/out"
check_out "maildir tmp/ is empty after delivery" "0" "$T/out"

# The log: JSON with the contract's fields; cards name batch and page.
OCC log --format json > "$T/log.json" 2>&1
"$PY" - "$T/log.json" "$T/var/spool" > "$T/out" 2>&1 <<'PYEOF'
import json, os, sys
recs = json.load(open(sys.argv[1])); spool = sys.argv[2]
keys = {"id","rule","stakeholder","occasion_date","fire_at","channel","status","reason","attempts","error","artifact","page","message_id","signer","cost","updated_at"}
print("fields", bool(recs) and all(keys <= set(r) for r in recs))
cards = [r for r in recs if r["channel"] == "card" and r["status"] == "rendered"]
print("cards-have-batch-and-page", bool(cards) and all(r["artifact"].startswith(spool + "/batches/2026-12-0") and r["artifact"].endswith(".pdf") and r["page"] >= 1 for r in cards))
pages = {}
for r in cards: pages.setdefault(r["artifact"], []).append(r["page"])
print("pages-distinct", all(min(v) >= 2 and sorted(v) == list(range(min(v), min(v)+len(v))) for v in pages.values()))  # a cover sheet comes first
mails = [r for r in recs if r["channel"] == "email" and r["status"] == "sent"]
print("emails-sent", bool(mails) and all(os.path.exists(r["artifact"]) and r["message_id"] for r in mails))
print("unique-keys", len({(r["rule"], r["stakeholder"], r["occasion_date"]) for r in recs}) == len(recs))
print("no-address-recorded", any(r["stakeholder"] == "c019" and r["status"] == "skipped" and r["reason"] == "no-address" for r in recs))
print("offset-times", all(r["fire_at"][-6] in "+-" for r in recs))
with open(os.path.join(os.path.dirname(sys.argv[1]), "batches.txt"), "w") as f:
    for k, v in sorted(pages.items()): f.write("%s %d\n" % (k, len(v)))
PYEOF
for k in fields cards-have-batch-and-page pages-distinct emails-sent unique-keys no-address-recorded offset-times; do
	check_out "log json: $k" "$k True" "$T/out"
done
OCC log > "$T/log.txt" 2>&1
check_out "log table has a header" "STATUS" "$T/log.txt"

# The card batches, read back with real PDF readers.
if have pdfinfo && have pdftotext && have qpdf && have pdffonts; then
	while read -r pdf pages; do
		b=$(basename "$pdf")
		got=$(pdfinfo "$pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
		# The cover sheet, the cards, then the envelopes (cards.envelope defaults to c6).
		[ "$got" -gt "$pages" ] && ok "$b: pdfinfo pages hold the cover and the cards" || not_ok "$b: pdfinfo pages $got for $pages cards"
		check "$b: qpdf --check" qpdf --check "$pdf"
		pdffonts "$pdf" | awk 'NR > 2 && $(NF-4) != "yes" {bad=1} END {exit bad}'
		eq "$b: every font embedded" "$?" 0
	done < "$T/batches.txt"
	pdftotext "$T/var/spool/batches/2026-12-03/Dana_Ruiz.pdf" "$T/dana.txt"
	check_out "pdftotext gives back Zoë Łukasiewicz" "Zoë Łukasiewicz" "$T/dana.txt"
	pdftotext "$T/var/spool/batches/2026-12-03/Marcus_Lee.pdf" "$T/marcus.txt"
	check_out "pdftotext gives back José Núñez" "Núñez" "$T/marcus.txt"
	pdftotext "$T/var/spool/batches/2026-12-03/Priya_Raman.pdf" "$T/priya.txt"
	check_out "pdftotext gives back Ελένη" "Ελένη" "$T/priya.txt"
	check_out "the signer's name is on the card" "Priya Raman" "$T/priya.txt"
else
	echo "skip - poppler-utils or qpdf missing"
fi

# An email, parsed back by Python's email package.
id=$("$PY" -c "
import json,sys
r=[x for x in json.load(open(sys.argv[1])) if x['channel']=='email' and x['status']=='sent' and x['stakeholder']=='c003']
print(r[0]['artifact'] if r else '')" "$T/log.json")
if [ -n "$id" ] && [ -f "$id" ]; then
	"$PY" - "$id" > "$T/out" 2>&1 <<'PYEOF'
import sys, email, email.policy
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
print("crlf", b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""))
print("to", "Дмитрий Иванов" in str(m["To"]) and "d.ivanov@seversteel.example" in str(m["To"]))
print("subject", bool(m["Subject"]) and all(ord(c) < 128 for c in raw.split(b"\r\n\r\n")[0].decode("ascii")))
print("message-id", str(m["Message-ID"]).startswith("<") and "@acme.example>" in str(m["Message-ID"]))
print("date", m["Date"] is not None and m["Date"].datetime is not None)
print("reply-to", "dana.ruiz@acme.example" in str(m["Reply-To"]))
body = m.get_body(preferencelist=("plain",)).get_content()
print("body", "Дима" in body or "Дмитрий" in body)
print("line-length", max(len(l) for l in raw.split(b"\r\n")) <= 998)
PYEOF
	for k in crlf to subject message-id date reply-to body line-length; do
		check_out "eml: $k" "$k True" "$T/out"
	done
else
	not_ok "an email for c003 was sent"
fi

# mark: cards move forward, never back.
cid=$("$PY" -c "
import json,sys
r=[x for x in json.load(open(sys.argv[1])) if x['channel']=='card' and x['status']=='rendered']
print(r[0]['id'])" "$T/log.json")
OCC mark "$cid" --as printed > "$T/out" 2>&1; rc=$?
eq "mark --as printed" "$rc" 0
OCC mark "$cid" --as printed > "$T/out" 2>&1; rc=$?
eq "mark cannot repeat a step" "$rc" 1
OCC log --status printed --format json > "$T/out" 2>&1
check_out "log --status printed shows it" "\"id\": $cid" "$T/out"
