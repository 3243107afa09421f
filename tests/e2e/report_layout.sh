#!/bin/sh
# The HTML report's layout in a real browser: with 50 signers, long owner names and long error
# texts, nothing runs past a panel's edge or the page's, at 1366 and 1920 px wide and on a
# 390 px phone (where only a table marked to scroll may scroll, inside its panel). Headless
# Chromium loads a copy of the page with a measuring script added (the page itself has none)
# and writes what sticks out into the DOM it dumps. Heavy: plain build only.
. tests/e2e/lib.inc
case "$OCCASIOND" in
*san*) echo "skip - report layout: plain build only (a browser per width)"; exit 0 ;;
esac
if ! have chromium; then
	echo "skip - chromium is not installed: the report's layout is not measured"
	exit 0
fi
setup
OCC import stakeholders examples/stakeholders.csv > /dev/null
"$PY" - "$T/s.csv" <<'PYEOF'
import sys, datetime as dt
f = open(sys.argv[1], 'w')
f.write('id,first_name,last_name,type,email,preferred_channel,owner,birthday,consent_personal,street,city,country\n')
for i in range(150):
    d = dt.date(1980, 12, 1) + dt.timedelta(days=(i * 5) % 90)
    f.write(f's{i:03},Person{i},Family{i},customer,s{i}@x.example,card,'
            f'Signer {i % 50:02} Bartholomew-Featherstonehaugh,{d},yes,1 Main St,Springfield,USA\n')
PYEOF
OCC import stakeholders "$T/s.csv" > /dev/null
"$PY" tests/e2e/gen_history.py "$T/var/occasiond.db" 2026-11-23 > /dev/null
"$PY" - "$T/var/occasiond.db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE dispatches SET status='failed', error=? WHERE id IN "
          "(SELECT id FROM dispatches WHERE channel='email' ORDER BY id LIMIT 8)",
          ("550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking "
           "the recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/"
           "?p=NoSuchUser_" + "x" * 160,))
c.commit()
PYEOF
OCC report --at 2026-11-23T12:00 --format html -o "$T/report.html" 2> "$T/err"
eq "report --format html exits 0" "$?" 0
signers=$(grep -o 'Signer [0-9][0-9] Bartholomew' "$T/report.html" | sort -u | wc -l)
eq "the signing load lists the 50 signers" "$signers" 50

# The measuring script, in a page that holds the report in an iframe of the width measured
# (srcdoc, so it is of the same origin and may be read; a headless window is at least 500 px
# wide, an iframe is as narrow as asked): every panel's scroll width against its width, every
# element's right edge against its panel's, the page against the frame; at desktop widths the
# tables marked to scroll must not need to either.
for w in 1366 1920 390; do
	"$PY" - "$T/report.html" "$w" > "$T/measure-$w.html" <<'PYEOF'
import html, sys
page, w = open(sys.argv[1], encoding='utf-8').read(), int(sys.argv[2])
print(f"""<!DOCTYPE html><html><body style="margin:0"><iframe id="f" style="border:0;width:{w}px;height:900px"
srcdoc="{html.escape(page, quote=True)}"></iframe><script>
function measure() {{
  var doc = document.getElementById('f').contentDocument, win = doc.defaultView;
  var out = [], root = doc.documentElement, desk = win.innerWidth >= 1000;
  if (root.scrollWidth > root.clientWidth + 1)
    out.push('page ' + root.scrollWidth + '>' + root.clientWidth);
  doc.querySelectorAll('.card, .tile').forEach(function (c, i) {{
    var h = c.querySelector('h2'), name = h ? h.textContent : 'tile ' + i, r = c.getBoundingClientRect();
    if (c.scrollWidth > c.clientWidth + 1)
      out.push(name + ': scrollWidth ' + c.scrollWidth + '>' + c.clientWidth);
    c.querySelectorAll('*').forEach(function (e) {{
      var b = e.getBoundingClientRect();
      if (e.closest('.scroll') || !b.width) return;
      if (b.right > r.right + 1) out.push(name + ': ' + e.tagName + ' ends at ' + Math.round(b.right) + '>' + Math.round(r.right));
    }});
  }});
  doc.querySelectorAll('.scroll').forEach(function (s) {{
    if (desk && s.scrollWidth > s.clientWidth + 1)
      out.push('a table scrolls: ' + s.scrollWidth + '>' + s.clientWidth);
  }});
  var p = document.createElement('pre');
  p.textContent = 'WIDTH ' + win.innerWidth + ' OVER' + 'FLOW[' + out.slice(0, 12).join(' | ') + ']' + (out.length ? '' : 'NONE');
  document.body.appendChild(p);
}}
var f = document.getElementById('f');
if (f.contentDocument && f.contentDocument.readyState === 'complete' && f.contentDocument.querySelector('footer')) measure();
else f.addEventListener('load', measure);
</script></body></html>""")
PYEOF
	ww=$((w < 600 ? 600 : w + 40))
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	  --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chromium-$w" \
	  --hide-scrollbars --window-size=$ww,1000 --virtual-time-budget=5000 --dump-dom \
	  "file://$T/measure-$w.html" > "$T/dom-$w.html" 2> "$T/chromium-$w.err"
	res=$(grep -o 'WIDTH [0-9]* OVERFLOW\[[^]]*\][A-Z]*' "$T/dom-$w.html")
	eq "at $w px nothing runs past a panel or the page" "$res" "WIDTH $w OVERFLOW[]NONE"
done
