#!/bin/sh
# Rules end to end: check and check --data messages, plan in every format (the calendar read
# back by python3-icalendar), surprise reproducible, limits and budget skips recorded by run.
. tests/e2e/lib.inc
setup

# ---- check: the shipped rules, then one mistake of each kind at its FILE:LINE:COL ----
OCC check > "$T/out" 2>&1; rc=$?
eq "check passes on the shipped rules (every when kind, limits, variants)" "$rc" 0
for k in 'date: "01-01"' 'nth_weekday:' 'n: -1' 'anniversary_of:' 'event:' 'every:' 'no_contact_for:' 'surprise:' \
	'per_stakeholder:' 'budget:' 'variants:' 'years:' 'every_years:' 'lead: 2 business days'; do
	check_out "the shipped rules show $k" "$k" "$ROOT/config/occasions.yaml"
done

R="$T/etc/occasions.yaml"
cp "$R" "$T/etc/good.yaml"
cat > "$R" <<'EOF'
occasions:
  - id: one
    when: {date: "01-01"}
    channel: email
    template: thank-you
    priorty: 3
  - id: one
    when: {date: "01-02"}
    channel: email
    template: thank-you
  - id: two
    when: {nth_weekday: {n: 1, weekday: thurzday, month: 13}}
    channel: email
  - id: three
    when: {date: "01-01", every: 3 months}
    channel: email
  - id: four
    when: {anniversary_of: hire_date, years: [0, 5]}
    channel: email
  - id: five
    when: {date: ["01-01"]}
    channel: email
    cost: lots
EOF
OCC check > "$T/out" 2>&1; rc=$?
eq "check fails on a rules file with mistakes (exit 1)" "$rc" 1
check_out "unknown key, with the nearest valid key" "$R:6:5: error: unknown key 'priorty' in an occasion (did you mean 'priority'?)" "$T/out"
check_out "duplicate id, naming the first" "$R:7:9: error: duplicate occasion id 'one' (first at $R:2)" "$T/out"
check_out "bad weekday, with the nearest weekday" "$R:12:41: error: weekday: expected monday to sunday, got 'thurzday' (did you mean 'thursday'?)" "$T/out"
check_out "bad month" "$R:12:58: error: month: expected 1-12 or a month's name, got '13'" "$T/out"
check_out "two when kinds in one rule" "$R:15:27: error: when holds two kinds ('date' and 'every'); a rule has exactly one" "$T/out"
check_out "years: [0]" "$R:18:47: error: years: 0 never fires" "$T/out"
check_out "wrong type (a list for a date)" "$R:21:18: error: date must be a single value, not a list" "$T/out"
check_out "wrong type (not an amount)" "$R:23:11: error: cost: expected an amount such as 3.50, got 'lots'" "$T/out"

# Every enumerated value gets the nearest valid one, as keys do (weekdays, months, channels, periods).
cat > "$R" <<'EOF'
calendar:
  weekend: [saturday, sundy]
limits:
  budget: {amount: 10, per: yeer}
occasions:
  - {id: a, when: {nth_weekday: {n: 1, weekday: mondy, month: Novmber}}, channel: emial, template: thank-you}
  - {id: b, when: {surprise: {count: 1, per: wek}}, channel: email, template: thank-you, personal: maybe}
EOF
OCC check > "$T/out" 2>&1; rc=$?
eq "check fails on misspelt values (exit 1)" "$rc" 1
check_out "a weekend day" "$R:2:23: error: weekend: expected monday to sunday, got 'sundy' (did you mean 'sunday'?)" "$T/out"
check_out "a budget period" "$R:4:29: error: per: expected month, quarter or year, got 'yeer' (did you mean 'year'?)" "$T/out"
check_out "a weekday" "$R:6:49: error: weekday: expected monday to sunday, got 'mondy' (did you mean 'monday'?)" "$T/out"
check_out "a month" "$R:6:63: error: month: expected 1-12 or a month's name, got 'Novmber' (did you mean 'November'?)" "$T/out"
check_out "a channel" "$R:6:83: error: channel: expected card, email or preferred, got 'emial' (did you mean 'email'?)" "$T/out"
check_out "a surprise period" "$R:7:46: error: per: expected week or month, got 'wek' (did you mean 'week'?)" "$T/out"
check_out "yes/no in the config's words" "$R:7:100: error: personal: expected yes/no or true/false, got 'maybe'" "$T/out"

# The config's enumerations say the same, and a config that is not there names -c and OCCASIOND_CONFIG.
cp "$CFG" "$T/etc/good-config.yaml"
sed -e 's/^  transport: maildir$/  transport: smpt\n  smtp: {tls: starttsl}/' -e 's/^cards:$/cards:\n  envelope: c5\n  remind_signers: maybe/' \
	"$T/etc/good-config.yaml" > "$CFG"
OCC check > "$T/out" 2>&1; rc=$?
eq "check fails on misspelt config values (exit 1)" "$rc" 1
check_out "transport" "error: transport: expected maildir or smtp, got 'smpt' (did you mean 'smtp'?)" "$T/out"
check_out "tls" "error: tls: expected starttls, implicit or none, got 'starttsl' (did you mean 'starttls'?)" "$T/out"
check_out "envelope" "error: envelope: expected none, c6, dl, a7 or no10, got 'c5' (did you mean 'c6'?)" "$T/out"
check_out "remind_signers" "error: remind_signers: expected yes/no or true/false, got 'maybe'" "$T/out"
cp "$T/etc/good-config.yaml" "$CFG"
"$OCCASIOND" -c "$T/etc/nowhere.yaml" check > "$T/out" 2>&1; rc=$?
eq "a config that is not there fails check (exit 1)" "$rc" 1
check_out "a missing config names -c and OCCASIOND_CONFIG" \
	"cannot open $T/etc/nowhere.yaml: No such file or directory (name the config with -c FILE or OCCASIOND_CONFIG=FILE)" "$T/out"
OCCASIOND_CONFIG="$T/etc/nowhere.yaml" "$OCCASIOND" plan > "$T/out" 2>&1
check_out "so does one named by OCCASIOND_CONFIG" "$T/etc/nowhere.yaml: No such file or directory (name the config with -c FILE" "$T/out"

cat > "$R" <<'EOF'
occasions:
  - id: cert
    when: {anniversary_of: certified_on, years: [1, 5]}
    channel: email
    template: no-such-template
  - id: card
    when: {date: "02-02"}
    channel: card
    template: thank-you
    variants:
      - {tier: gold, template: gold-card}
EOF
OCC check > "$T/out" 2>&1; rc=$?
eq "a missing template is an error" "$rc" 1
check_out "the missing email template is named" "$R:2:5: error: occasion 'cert': email template 'no-such-template' not found" "$T/out"
check_out "the missing variant card template is named" "$R:11:9: error: occasion 'card': card template 'gold-card' not found" "$T/out"
sqlite_only "no column warning before there is a database" "the server's database is there before the first import" &&
	check_not "no column warning before there is a database" "certified_on' column" "$T/out"

# ---- check --data ----
cp "$T/etc/good.yaml" "$R"
cat > "$T/data.csv" <<'EOF'
id,first_name,last_name,type,email,street,city,birthday,timezone,consent_personal,customer_since
d1,Nadia,Nowhere,customer,,,,1980-05-01,,yes,2020-01-01
d2,Ann,Same,customer,same@x.example,1 Main St,Springfield,1981-05-01,,yes,2020-01-01
d3,Anne,Same,customer,SAME@x.example,2 Main St,Springfield,1982-05-01,,yes,2020-01-01
d4,Tom,Twin,customer,tom1@x.example,3 Main St,Springfield,1975-07-07,,yes,2020-01-01
d5,Tom,Twin,customer,tom2@x.example,4 Main St,Springfield,1975-07-07,,yes,2020-01-01
d6,Leap,Day,customer,leap@x.example,5 Main St,Springfield,1988-02-29,,yes,2020-01-01
d7,No,Year,customer,noyear@x.example,6 Main St,Springfield,--05-17,,yes,2020-01-01
d8,,Glyph,customer,glyph@x.example,7 Main St,Springfield,1970-03-03,,yes,2020-01-01
d9,Zed,Zone,customer,zed@x.example,8 Main St,Springfield,1970-04-04,Europe/Berlin,yes,2020-01-01
EOF
OCC import stakeholders "$T/data.csv" > "$T/out" 2>&1
check_out "the data imports" "9 stakeholders imported" "$T/out"
db_sql "update stakeholders set timezone='Mars/Olympus' where id='d9'"
OCC check --data > "$T/out" 2>&1; rc=$?
eq "check --data exits 0 on warnings only" "$rc" 0
DB=$(db_uri)
check_out "a channel with no address" "$DB: warning: stakeholder 'd1' has neither an email nor a postal address" "$T/out"
check_out "duplicate email (any case)" "$DB: warning: stakeholders 'd2' and 'd3' have the same email: a duplicate?" "$T/out"
check_out "duplicate name and birthday" "$DB: warning: stakeholders 'd4' and 'd5' have the same name and birthday: a duplicate?" "$T/out"
check_out "29 February" "$DB: warning: stakeholder 'd6': birthday is 29 February: in common years it comes on 28 February" "$T/out"
check_out "birthday without a year" "$DB: warning: stakeholder 'd7' has a birthday without a year: no age is known" "$T/out"
check_out "a name the card's fonts cannot print" "$DB: warning: stakeholder 'd8', occasion 'birthday', card 'birthday':" "$T/out"
check_out "the glyph is named" "U+E000" "$T/out"
check_out "an unknown time zone" "$DB: warning: stakeholder 'd9': unknown time zone 'Mars/Olympus'" "$T/out"
check_not "no warning for a clean stakeholder" "'d2' has" "$T/out"

cat > "$R" <<'EOF'
occasions:
  - id: cert
    when: {anniversary_of: certified_on, years: [1, 5]}
    channel: email
    template: thank-you
EOF
OCC check > "$T/out" 2>&1; rc=$?
eq "a column no stakeholder has is a warning, not an error" "$rc" 0
check_out "the column warning points at the field" "$R:3:28: warning: occasion 'cert': no stakeholder has a 'certified_on' column" "$T/out"
cp "$T/etc/good.yaml" "$R"
db_reset

# ---- plan for the shipped examples in every format ----
OCC import stakeholders examples/stakeholders.csv > /dev/null 2>&1
OCC import events examples/events.csv > /dev/null 2>&1
for f in table csv json ics; do
	OCC plan --from 2026-11-23 --days 28 --format $f > "$T/plan.$f" 2>"$T/err"; rc=$?
	eq "plan --format $f exits 0" "$rc" 0
done
check_out "the table has the surprise" "weekly-surprise" "$T/plan.table"
check_out "the table says why a limit skips" "skipped: limit: 3 dispatches to this stakeholder within 30 days (max 3)" "$T/plan.table"
"$PY" - "$T/plan.json" "$T/plan.csv" "$T/plan.ics" > "$T/out" 2>&1 <<'PYEOF'
import csv, json, sys, datetime
import icalendar
p = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8")))
raw = open(sys.argv[3], "rb").read()
cal = icalendar.Calendar.from_ical(raw)
ev = [c for c in cal.walk() if c.name == "VEVENT"]
print("csv-count", len(rows) == len(p))
print("ics-count", len(ev) == len(p) and len(p) > 50)
lines = raw.split(b"\r\n")
print("crlf", raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b""))
print("folded75", all(len(l) <= 75 for l in lines) and any(l.startswith(b" ") for l in lines))
uids = [str(e["UID"]) for e in ev]
print("uid-unique", len(set(uids)) == len(uids))
ok = True
for x, e in zip(p, ev):
    start = e.decoded("DTSTART")
    want = datetime.datetime.fromisoformat(x["fire_at"])
    if start != want: ok = False; print("#", x, start)
    s = str(e["SUMMARY"])
    if x["name"] not in s: ok = False; print("#", s, x["name"])
    if x["occasion_date"] not in str(e["DESCRIPTION"]): ok = False
    if (x["state"] == "skipped") != (str(e["STATUS"]) == "CANCELLED"): ok = False
print("ics-events", ok)
print("skips-noted", any(x["reason"] == "limit" and x["note"].startswith("skipped: limit:") for x in p))
kinds = {x["rule"] for x in p}
print("kinds", {"weekly-surprise", "thanksgiving", "birthday", "holiday", "work-anniversary", "welcome", "promotion"} <= kinds)
sur = [x for x in p if x["rule"] == "weekly-surprise"]
weeks = {}
for x in sur:
    d = datetime.date.fromisoformat(x["occasion_date"])
    weeks.setdefault(d.isocalendar()[1], []).append(x)
print("surprise-two-a-week", sur and all(len(v) <= 2 for v in weeks.values()) and all(datetime.date.fromisoformat(x["occasion_date"]).weekday() < 5 for x in sur))
print("surprise-rotates", len({x["stakeholder"] for x in sur}) == len(sur))
PYEOF
for k in csv-count ics-count crlf folded75 uid-unique ics-events skips-noted kinds surprise-two-a-week surprise-rotates; do
	check_out "plan: $k" "$k True" "$T/out"
done
OCC plan --from 2026-11-23 --days 28 --format json > "$T/plan2.json" 2>&1
check "plan is reproducible (surprise days from a stable hash)" cmp -s "$T/plan.json" "$T/plan2.json"

# Escaping: a name with , ; \ and a long summary survives the calendar.
cat > "$T/esc.csv" <<'EOF'
id,first_name,last_name,type,email,customer_since
x1,"Smith, Jr; \the third","Ünïcödé-Ñame-That-Is-Quite-Long-Indeed-To-Force-Folding-Of-Lines",customer,x1@x.example,2020-01-01
EOF
OCC import stakeholders "$T/esc.csv" > /dev/null 2>&1
OCC plan --from 2026-11-26 --days 1 --format ics > "$T/esc.ics" 2>&1
"$PY" - "$T/esc.ics" > "$T/out" 2>&1 <<'PYEOF'
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
s = [str(e["SUMMARY"]) for e in cal.walk("VEVENT") if "x1" in str(e["UID"])]
print("escaped", s == ['Thanksgiving thank-you (email): Smith, Jr; \\the third Ünïcödé-Ñame-That-Is-Quite-Long-Indeed-To-Force-Folding-Of-Lines'])
print(s)
PYEOF
check_out "ics: , ; \\ and UTF-8 survive escaping and folding" "escaped True" "$T/out"

# ---- limits and budget: what run skips is recorded with its reason ----
db_reset
cat > "$R" <<'EOF'
limits:
  per_stakeholder: {max: 1, within: 30 days}
  budget: {amount: 5.00, per: year}
occasions:
  - {id: big, when: {date: "03-10"}, channel: email, template: thank-you, priority: 90, cost: 4.00}
  - {id: costly, when: {date: "03-10"}, channel: email, template: thank-you, priority: 50, cost: 3.00}
  - {id: small, when: {date: "03-10"}, channel: email, template: thinking-of-you, priority: 10}
EOF
printf 'id,first_name,email\na,Ada,ada@x.example\nb,Bea,bea@x.example\n' > "$T/lim.csv"
OCC import stakeholders "$T/lim.csv" > /dev/null 2>&1
OCC plan --from 2026-03-10 --days 1 > "$T/out" 2>&1
check_out "plan shows the budget note" "skipped: budget: 4.00 of 5.00 spent in 2026; this costs 4.00" "$T/out"
OCC run --once --at 2026-03-10T10:00 > "$T/run" 2>"$T/run.err"; rc=$?
eq "run with limits exits 0" "$rc" 0
check_out "run counts the skips" "2 emails, 4 skipped" "$T/run"
OCC log --format json > "$T/log.json" 2>&1
"$PY" - "$T/log.json" > "$T/out" 2>&1 <<'PYEOF'
import json, sys
got = sorted((x["stakeholder"], x["rule"], x["status"], x["reason"]) for x in json.load(open(sys.argv[1])))
want = sorted([("a", "big", "sent", None), ("a", "costly", "skipped", "limit"), ("a", "small", "skipped", "limit"),
               ("b", "big", "skipped", "budget"), ("b", "costly", "skipped", "budget"), ("b", "small", "sent", None)])
print("records", got == want)
print(got)
PYEOF
check_out "log --format json: priority first, limit and budget skips recorded with reason" "records True" "$T/out"
OCC run --once --at 2026-03-10T11:00 > "$T/run" 2>&1
check_out "a second run records nothing more" "0 emails, 0 skipped" "$T/run"

# ---- the DST golden agrees with Python's zoneinfo ----
"$PY" - "$ROOT/tests/golden/planner/dst.txt" > "$T/out" 2>&1 <<'PYEOF'
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
n = bad = 0
for l in open(sys.argv[1]):
    if l.startswith("#"): continue
    f = l.split()
    loc = datetime.fromisoformat(f[4][5:] + "T09:00").replace(tzinfo=ZoneInfo(f[3]))
    n += 1
    bad += loc.isoformat() != f[5][3:] or loc.astimezone(timezone.utc).isoformat() != f[7]
print("zoneinfo", n > 70 and bad == 0)
PYEOF
check_out "planner DST fire times match Python zoneinfo" "zoneinfo True" "$T/out"
