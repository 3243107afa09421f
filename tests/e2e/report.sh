#!/bin/sh
# report: coverage, silences, counts by occasion, months, cost against budget, signing load and
# the dispatches that need a person, in table, json and html, on a generated year of history;
# every figure is computed again from `log --format json` and `plan --format json` and compared.
. tests/e2e/lib.inc
setup
AT=2026-11-23T12:00
OCC import stakeholders examples/stakeholders.csv >/dev/null
OCC import events examples/events.csv >/dev/null
"$PY" tests/e2e/gen_history.py "$(db_uri)" 2026-11-23 >/dev/null
check "a year of history is generated" test "$(db_sql 'select count(*) from dispatches')" -gt 100

OCC report --at $AT --format json > "$T/r.json" 2> "$T/r.err"
eq "report --format json exits 0" "$?" 0
OCC log --format json > "$T/log.json"
OCC plan --from 2026-11-23 --days 98 --format json > "$T/plan.json"

# Everything the report says, computed independently from log, plan and the stakeholder CSV.
"$PY" - "$T/r.json" "$T/log.json" "$T/plan.json" examples/stakeholders.csv > "$T/cmp.out" 2>&1 <<'PYEOF'
import csv, datetime as dt, json, sys
rep = json.load(open(sys.argv[1])); log = json.load(open(sys.argv[2])); plan = json.load(open(sys.argv[3]))
people = [p for p in csv.DictReader(open(sys.argv[4], encoding='utf-8-sig'))
          if (p.get('opted_out') or '').strip().lower() not in ('1', 'yes', 'true')]
ref = dt.date(2026, 11, 23)
OUT = {'sent', 'rendered', 'printed', 'signed', 'mailed'}
def d(s): return dt.date.fromisoformat(s)
last = {}
for r in log:
    if r['status'] in OUT and d(r['fire_date']) <= ref:
        last[r['stakeholder']] = max(last.get(r['stakeholder'], dt.date.min), d(r['fire_date']))
def same(what, got, want):
    print(('ok - ' if got == want else 'not ok - ') + what + ('' if got == want else f'\n#   got  {got}\n#   want {want}'))
# coverage
cov = {(c['dimension'], c['segment']): c for c in rep['coverage']}
segs = {}
for p in people:
    for key in (('all', 'all'), ('type', p['type'] or '(none)'), ('tier', p['tier'] or '(none)')):
        segs.setdefault(key, []).append(p['id'])
same('coverage has every segment', sorted(cov), sorted(segs))
bad = []
for key, ids in segs.items():
    for w in (30, 60, 90):
        want = sum(1 for i in ids if i in last and (ref - last[i]).days < w)
        if key in cov and cov[key][f'reached_{w}'] != want:
            bad.append((key, w, cov[key][f'reached_{w}'], want))
same('coverage 30/60/90 agrees with log for every segment', bad, [])
same('coverage counts stakeholders, opted-out left out', cov[('all', 'all')]['stakeholders'], len(people))
# silences
def start(p):
    for f in ('customer_since', 'hire_date'):
        if p.get(f): return d(p[f])
want = []
for p in people:
    since = last.get(p['id']) or start(p)
    days = (ref - since).days if since else None
    if days is None or days > 8 * 7:
        want.append((p['id'], days))
want.sort(key=lambda x: (-(x[1] if x[1] is not None else 10**9), x[0]))
same('silences (over 8 weeks, longest first) agree with log', [(s['stakeholder'], s['silent_days']) for s in rep['silences']], want)
# counts by occasion x channel x status (all history up to ref)
tally = {}
for r in log:
    if d(r['occasion_date']) <= ref:
        k = (r['rule'], r['channel'], r['status'])
        tally[k] = tally.get(k, 0) + 1
same('dispatches by occasion x channel x status agree with log',
     {(t['rule'], t['channel'], t['status']): t['count'] for t in rep['by_occasion']}, tally)
same('total agrees with log', rep['total'], sum(tally.values()))
# per month, channel
months = {}
for r in log:
    f = d(r['fire_date'])
    if r['status'] in OUT and f <= ref:
        k = f'{f.year:04d}-{f.month:02d}'
        months.setdefault(k, [0, 0])[0 if r['channel'] == 'card' else 1] += 1
got = {m['month']: [m['card'], m['email']] for m in rep['by_month'] if m['card'] or m['email']}
same('dispatches per month by channel agree with log', got, {k: v for k, v in months.items() if k in {m['month'] for m in rep['by_month']}})
same('twelve months, the last is the reference month', (len(rep['by_month']), rep['by_month'][-1]['month']), (12, '2026-11'))
# cost against the budget (per year in the shipped rules)
spent = {}
for r in log:
    f = d(r['fire_date'])
    if r['status'] in OUT and dt.date((ref - dt.timedelta(days=365)).year, 1, 1) <= f <= ref:
        spent[str(f.year)] = round(spent.get(str(f.year), 0) + float(r['cost'] or 0), 2)
same('spent per budget period agrees with log', {b['period']: b['spent'] for b in rep['budget'] if b['spent']}, {k: v for k, v in spent.items() if v})
same('the budget of the period is the rules file\'s', {b['budget'] for b in rep['budget']}, {5000.0})
# what needs a person
same('failed and unknown dispatches are listed for a person',
     sorted(a['id'] for a in rep['attention']), sorted(r['id'] for r in log if r['status'] in ('failed', 'unknown')))
# signing load: cards per signer per week, from the plan
week0 = ref - dt.timedelta(days=ref.weekday())
load = {}
for it in plan:
    f = d(it['fire_at'][:10]) if 'fire_date' not in it else d(it['fire_date'])
    skipped = it.get('state') in ('skipped', 'missed') or bool(it.get('reason'))
    if it['channel'] == 'card' and not skipped and ref <= f < week0 + dt.timedelta(days=91):
        k = (it['signer'], (week0 + dt.timedelta(days=7 * ((f - week0).days // 7))).isoformat())
        load[k] = load.get(k, 0) + 1
same('signing load per signer and week agrees with plan', {(l['signer'], l['week']): l['cards'] for l in rep['signer_load']}, load)
PYEOF
cat "$T/cmp.out"

# The table: each section, a name in another script, money.
OCC report --at $AT > "$T/r.txt"
for s in "Coverage: share reached" "Silences: no dispatch for more than 8 weeks" "Dispatches by occasion" \
         "Cost against the budget" "Signing load" "Needs a person"; do
	check_out "table has the section '$s'" "$s" "$T/r.txt"
done
OCC report --at $AT --silence 30 --format json > "$T/r30.json"
n8=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["silences"]))' "$T/r.json")
n30=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r["silences"]), r["silence_weeks"], min([s["silent_days"] for s in r["silences"] if s["silent_days"] is not None] or [999]) > 210)' "$T/r30.json")
eq "--silence 30 lists fewer, all over 30 weeks" "$n30" "$(echo "$n30" | cut -d' ' -f1) 30 True"
[ "$(echo "$n30" | cut -d' ' -f1)" -lt "$n8" ] && ok "--silence 30 lists fewer than the default 8 weeks" || not_ok "--silence 30 lists fewer than the default 8 weeks"
OCC report --at $AT --from 2026-06-01 --to 2026-09-30 --format json > "$T/rr.json"
"$PY" - "$T/rr.json" "$T/log.json" > "$T/cmp2.out" <<'PYEOF'
import json, sys
rep = json.load(open(sys.argv[1])); log = json.load(open(sys.argv[2]))
want = sum(1 for r in log if '2026-06-01' <= r['occasion_date'] <= '2026-09-30')
print(('ok' if rep['total'] == want and rep['from'] == '2026-06-01' and rep['to'] == '2026-09-30' else 'not ok')
      + f' - --from/--to count by occasion date ({rep["total"]} vs {want} from log)')
PYEOF
cat "$T/cmp2.out"

# Usage errors.
OCC report --format csv >/dev/null 2>&1; eq "report --format csv is a usage error" "$?" 2
OCC report --from 2026-12-01 --to 2026-01-01 >/dev/null 2>&1; eq "--from after --to is a usage error" "$?" 2
OCC report --silence zero >/dev/null 2>&1; eq "--silence zero is a usage error" "$?" 2

# HTML: one self-contained page, escaped data, five charts; then looked at in a real browser.
printf 'id,first_name,last_name,type,email\nx001,<script>alert(1)</script>,O'"'"'Brien & Co,customer,\n' > "$T/evil.csv"
OCC import stakeholders "$T/evil.csv" >/dev/null 2>&1
OCC report --at $AT --format html -o "$T/report.html"
eq "report --format html -o exits 0" "$?" 0
"$PY" - "$T/report.html" > "$T/html.out" <<'PYEOF'
import sys, html.parser
src = open(sys.argv[1], encoding='utf-8').read()
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = {}; self.ext = []; self.stack = []; self.bad = []
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k in ('src', 'href', 'xlink:href') and v and not v.startswith('#'):
                self.ext.append(v)
p = P(); p.feed(src)
def t(c, what): print(('ok - ' if c else 'not ok - ') + what)
t(src.startswith('<!DOCTYPE html>'), 'html starts with a doctype')
t(p.tags.get('svg', 0) >= 4, f"html has inline SVG charts ({p.tags.get('svg', 0)})")
t(not p.ext and 'http://' not in src.replace('http://www.w3.org', '') and 'https://' not in src, 'html fetches nothing (no src/href, no URL)')
t(p.tags.get('script', 0) == 0, 'html has no script, a <script> name is escaped')
t('&lt;script&gt;alert(1)&lt;/script&gt;' in src, 'a hostile name is shown escaped')
for s in ('Dispatches per month', 'Coverage by segment', 'The next 13 weeks', 'Longest silences', 'Cost against the budget', 'Signing load', 'Needs a person'):
    t(s in src, f'html has the part "{s}"')
PYEOF
cat "$T/html.out"
check "no temporary file is left next to the page" test ! -e "$T/report.html.tmp"

if have chromium; then
	timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1366,2400 \
	  --screenshot="$T/report.png" "file://$T/report.html" >/dev/null 2>&1
	sz=$(stat -c %s "$T/report.png" 2>/dev/null || echo 0)
	[ "$sz" -gt 50000 ] && ok "headless Chromium renders the page ($sz bytes of PNG)" || not_ok "headless Chromium renders the page ($sz bytes)"
	if [ -n "$OCCASIOND_KEEP_SCREENSHOT" ]; then cp "$T/report.png" "$OCCASIOND_KEEP_SCREENSHOT"; fi
else
	echo "skip - chromium is not installed: the screenshot is not taken"
fi
