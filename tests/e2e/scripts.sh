#!/bin/sh
# Names in every script on every shipped card template: Arabic, Hebrew, Devanagari, Bengali,
# Tamil, Thai, Chinese, Japanese, Korean, Vietnamese, Greek, Cyrillic and a mixed Latin and
# Arabic line. Each card renders (no refusal), pdftotext gives the name back, and a line set
# alone is compared as a picture with HarfBuzz's own rendering (hb-view) of the same string
# in the same font: an unshaped (hb-view --shapers=fallback) or misordered rendering must
# fail the same measure, which the test shows. Fonts come from the system (fonts-noto-core,
# fonts-noto-cjk). The sanitizer build runs one template and no pictures (too slow there).
. tests/e2e/lib.inc
setup

heavy=1
case "$OCCASIOND" in *san*) heavy=0 ;; esac
if ! fc-list 2>/dev/null | grep -q "NotoSansCJK"; then
	not_ok "fonts-noto-core and fonts-noto-cjk are needed (scripts/deps.sh)"
	exit 0
fi

mkdir -p "$T/templates"
cp "$ROOT"/templates/*.card.yaml "$ROOT"/templates/*.mustache "$T/templates/"
cp -R "$ROOT/templates/images" "$T/templates/"
sed -i "s|^templates: .*|templates: $T/templates|" "$CFG"
# One line alone, left-aligned, at a size that never shrinks: the picture test's card.
cat > "$T/templates/line.card.yaml" <<'EOF'
size: A6
fonts: [DejaVuSans.ttf]
texts:
  - text: "{{full_name}}"
    box: [10, 20, 85, 20]
    size: 16
    align: left
EOF
{
	echo "occasions:"
	for f in "$T"/templates/*.card.yaml; do
		n=$(basename "$f" .card.yaml)
		printf '  - {id: t-%s, when: {anniversary_of: birthday}, channel: card, template: %s}\n' "$n" "$n"
	done
} > "$T/etc/scripts.yaml"
sed -i 's/^rules: .*/rules: scripts.yaml/' "$CFG"

cat > "$T/people.csv" <<'EOF'
id,first_name,last_name,country,birthday,type,display_name
arabic,محمد,الأحمد,Egypt,1980-12-13,customer,
hebrew,דוד,כהן,Israel,1980-12-13,customer,
devanagari,प्रिया,शर्मा,India,1980-12-13,customer,
bengali,সৌমিত্র,চট্টোপাধ্যায়,India,1980-12-13,customer,
tamil,கார்த்திக்,சுப்ரமணியன்,India,1980-12-13,customer,
thai,ปิ่น,สุรศักดิ์,Thailand,1980-12-13,customer,
chinese,伟,王,China,1980-12-13,customer,
japanese,花子,田中,Japan,1980-12-13,customer,
korean,민준,김,South Korea,1980-12-13,customer,
vietnamese,Thị Hằng,Nguyễn,Viet Nam,1980-12-13,customer,
greek,Ελένη,Παπαδοπούλου,Greece,1980-12-13,customer,
cyrillic,Дмитрий,Иванов,Russia,1980-12-13,customer,
mixed,محمد,Haddad,Egypt,1980-12-13,customer,"Happy birthday, محمد!"
EOF
OCC import stakeholders "$T/people.csv" > "$T/import.out" 2>&1
eq "import 13 names in 11 scripts" "$?" 0

# norm.py: a text's letters, marks and digits only (bidi controls, spaces and punctuation
# go: pdftotext may move a neutral next to a right-to-left word).
cat > "$T/norm.py" <<'EOF'
import sys, unicodedata
def norm(s):
    return "".join(c for c in s if unicodedata.category(c)[0] in "LMN")
text = norm(open(sys.argv[1], encoding="utf-8").read())
print("yes" if all(norm(w) in text for w in sys.argv[2:]) else "no")
EOF
# The names as each template prints them: the full name, or the greeting name ("Dear ...").
full_of() { awk -F, -v id="$1" '
	$1 == id { if ($7 != "") print $7; else if (id ~ /^(chinese|japanese|korean)$/) print $3 $2;
	           else if (id == "vietnamese") print $3 " " $2; else print $2 " " $3 }' "$T/people.csv"; }
greet_of() { awk -F, -v id="$1" '$1 == id { if (id ~ /^(chinese|japanese|korean)$/) print $3 $2; else print $2 }' "$T/people.csv"; }

ids="arabic hebrew devanagari bengali tamil thai chinese japanese korean vietnamese greek cyrillic mixed"
if [ $heavy = 1 ]; then
	templates=$(cd "$T/templates" && ls *.card.yaml | sed 's/\.card\.yaml$//')
else
	templates="birthday"
fi
for tp in $templates; do
	bad=""
	for id in $ids; do
		out="$T/$tp-$id.pdf"
		if ! OCC preview --rule "t-$tp" --stakeholder "$id" -o "$out" > "$T/pv.out" 2>&1; then
			bad="$bad $id(refused: $(cat "$T/pv.out"))"
			continue
		fi
		pdftotext "$out" "$T/txt" 2> "$T/txt.err"
		if [ -s "$T/txt.err" ]; then
			bad="$bad $id(poppler: $(head -1 "$T/txt.err"))"
		fi
		if grep -q '{{full_name}}' "$T/templates/$tp.card.yaml"; then
			want=$(full_of "$id")
		else
			want=$(greet_of "$id")
		fi
		[ "$("$PY" "$T/norm.py" "$T/txt" "$want")" = yes ] || bad="$bad $id(text: $(tr '\n' ' ' < "$T/txt" | cut -c1-80))"
	done
	eq "$tp: 13 names in 11 scripts render, and pdftotext gives each back without a warning" "$bad" ""
done

# One card of its own read back: qpdf, pdffonts (subset, embedded, Unicode map), its size.
B="$T/birthday-japanese.pdf"
check "a subset card passes qpdf --check" qpdf --check "$B"
pdffonts "$B" > "$T/fonts" 2>&1
awk 'NR > 2 && ($(NF-4) != "yes" || $(NF-3) != "yes" || $(NF-2) != "yes") {bad=1} END {exit bad}' "$T/fonts"
eq "pdffonts: every font embedded, subset, with a Unicode map" "$?" 0
check_out "the CJK font is CFF (Type 0C) from a collection" "NotoS" "$T/fonts"
size=$(wc -c < "$T/birthday-arabic.pdf")
check "the birthday card of its own is at most 30 KB ($size bytes)" test "$size" -le 30720

# Thai and Khmer put no spaces between words: a phrase too long for its box breaks between two
# words (ICU's dictionaries), where it used to be refused as one word wider than the box.
cat > "$T/templates/narrow.card.yaml" <<'EOF'
size: A6
fonts: [DejaVuSans.ttf]
texts:
  - text: "{{nickname}}"
    box: [10, 20, 40, 60]
    size: 16
    min_size: 14
    align: left
EOF
printf '  - {id: t-narrow, when: {anniversary_of: birthday}, channel: card, template: narrow}\n' >> "$T/etc/scripts.yaml"
printf 'id,first_name,nickname,country,birthday,type\nsa-thai,ปิ่น,สุขสันต์วันเกิดขอให้มีความสุขมากๆ,Thailand,1980-12-13,customer\nsa-khmer,សុខា,សូមជូនពរឱ្យមានសុខភាពល្អ,Cambodia,1980-12-13,customer\n' > "$T/sa.csv"
OCC import stakeholders "$T/sa.csv" > /dev/null 2>&1
for id in sa-thai sa-khmer; do
	OCC preview --rule t-narrow --stakeholder "$id" -o "$T/$id.pdf" > "$T/$id.out" 2>&1
	eq "$id: a phrase without spaces wider than its box is set, not refused" "$?" 0
	pdftotext "$T/$id.pdf" - 2>/dev/null | grep -v '^[[:space:]]*$' > "$T/$id.txt"
done
# The Thai lines end only where a word does; neither script's line starts with a mark.
"$PY" - "$T/sa-thai.txt" "$T/sa-khmer.txt" > "$T/sa.check" <<'PYEOF'
import sys, unicodedata
words = ["สุขสันต์", "วันเกิด", "ขอ", "ให้", "มี", "ความสุข", "มาก", "ๆ"]
ends, n = set(), 0
for w in words:
    n += len(w)
    ends.add(n)
thai = [l.strip() for l in open(sys.argv[1], encoding="utf-8")]
khmer = [l.strip() for l in open(sys.argv[2], encoding="utf-8")]
pos, ok = 0, "".join(thai) == "".join(words) and len(thai) >= 2
for l in thai[:-1]:
    pos += len(l)
    ok = ok and pos in ends
ok = ok and "".join(khmer) == "សូមជូនពរឱ្យមានសុខភាពល្អ" and len(khmer) >= 2
for l in thai + khmer:
    ok = ok and l and unicodedata.category(l[0])[0] != "M" and l[0] != "\u17d2"
print("yes" if ok else "no: %r %r" % (thai, khmer))
PYEOF
eq "each breaks between two words, over two lines or more" "$(cat "$T/sa.check")" yes

# A Han name in its own country's glyph forms (直 differs between China, Taiwan, Hong Kong,
# Japan and Korea): the face is chosen by the `language` column, else by `country`.
cat > "$T/han.csv" <<'EOF'
id,first_name,last_name,country,birthday,type,language
han-cn,直子,高,China,1980-12-13,customer,
han-tw,直子,高,Taiwan,1980-12-13,customer,
han-hk,直子,高,Hong Kong,1980-12-13,customer,
han-jp,直子,高,Japan,1980-12-13,customer,
han-kr,直子,高,KR,1980-12-13,customer,
han-lang,直子,高,Germany,1980-12-13,customer,zh-Hant
han-kana,なおこ,高,China,1980-12-13,customer,
EOF
OCC import stakeholders "$T/han.csv" > /dev/null 2>&1
bad=""
for pair in cn:CJKsc tw:CJKtc hk:CJKhk jp:CJKjp kr:CJKkr lang:CJKtc kana:CJKjp; do
	id=han-${pair%%:*}
	OCC preview --rule t-birthday --stakeholder "$id" -o "$T/$id.pdf" > /dev/null 2>&1 || { bad="$bad $id(refused)"; continue; }
	pdffonts "$T/$id.pdf" 2>/dev/null | grep -q "${pair#*:}" ||
		bad="$bad $id($(pdffonts "$T/$id.pdf" 2>/dev/null | awk 'NR > 2 {printf "%s ", $1}'))"
done
eq "a Han name is set in the face of its country or language (SC, TC, HK, JP, KR; Kana: JP)" "$bad" ""
# The cover sheet and the envelope name the recipient in the same forms.
sed -i 's/^rules: .*/rules: han.yaml/' "$CFG"
printf 'occasions:\n  - {id: han, when: {anniversary_of: birthday}, lead: 10 days, channel: card, template: birthday, audience: {type: partner}}\n' \
	> "$T/etc/han.yaml"
printf '  envelope: c6\n' >> "$CFG"
printf 'id,first_name,last_name,country,birthday,type,street,city\nhan-env,直子,高,Japan,1980-12-13,partner,1-1 Chiyoda,Tokyo\n' \
	> "$T/han-env.csv"
OCC import stakeholders "$T/han-env.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-03T10:00 > "$T/han-run" 2>&1
pdffonts "$T"/var/spool/batches/2026-12-03/*.pdf > "$T/han-fonts" 2>&1
check_out "the batch (cover sheet, card, envelope) sets the Japanese name in the JP face" "CJKjp" "$T/han-fonts"
check_not "and in no other CJK face" "CJKsc" "$T/han-fonts"
sed -i 's/^rules: .*/rules: scripts.yaml/' "$CFG"

[ $heavy = 1 ] || exit 0
have hb-view || { not_ok "hb-view is needed (libharfbuzz-bin)"; exit 0; }
"$PY" -c "import PIL" 2>/dev/null || { not_ok "python3-pil is needed"; exit 0; }

# font_of PDF: the file and face of the one font that is not DejaVu Sans (else DejaVu Sans).
font_of() {
	ps=$(pdffonts "$1" 2>/dev/null | awk 'NR > 2 {sub(/^[A-Z]+\+/, "", $1); print $1}' | grep -v '^DejaVuSans$' | head -1)
	if [ -z "$ps" ]; then
		echo "$ROOT/fonts/DejaVuSans.ttf:0"
		return
	fi
	fc-list ":postscriptname=$ps" file index | head -1 | sed 's/: :index=/:/'
}
mkdir -p "$T/pic"
bad=""
for id in $ids; do
	OCC preview --rule t-line --stakeholder "$id" -o "$T/line-$id.pdf" > /dev/null 2>&1 || { bad="$bad $id(refused)"; continue; }
	# 16 pt at 288 dpi is 64 pixels to the em, hb-view's --font-size.
	pdftoppm -r 288 -gray -png -singlefile "$T/line-$id.pdf" "$T/pic/$id"
	f=$(font_of "$T/line-$id.pdf")
	if [ "$id" = mixed ]; then
		d="$ROOT/fonts/DejaVuSans.ttf:0"
		set -- "$d:auto:Happy birthday, " "$d:auto:محمد" "$d:auto:!"
	else
		set -- "$f:auto:$(full_of "$id")"
	fi
	r=$("$PY" "$ROOT/tests/e2e/glyph_match.py" "$T/pic/$id.png" 64 "$T/pic" "$@")
	echo "# $id: $f: overlap and proportion $r"
	"$PY" -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if a >= 0.75 and b >= 0.9 else 1)" $r ||
		bad="$bad $id($r)"
	cp "$T/pic/$id.png" "$T/pic/card-$id.png"
done
eq "every script's line matches HarfBuzz's rendering of it (overlap >= 0.75)" "$bad" ""

# The measure tells a wrong rendering: the same Arabic and Devanagari lines unshaped, and the
# Arabic one in the wrong order, against the cards.
f=$(font_of "$T/line-devanagari.pdf")
r=$("$PY" "$ROOT/tests/e2e/glyph_match.py" "$T/pic/card-devanagari.png" 64 "$T/pic" "$f:auto-fallback:$(full_of devanagari)")
"$PY" -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if a < 0.75 or b < 0.9 else 1)" $r
eq "an unshaped Devanagari rendering fails the measure ($r)" "$?" 0
d="$ROOT/fonts/DejaVuSans.ttf:0"
r=$("$PY" "$ROOT/tests/e2e/glyph_match.py" "$T/pic/card-arabic.png" 64 "$T/pic" "$d:auto-fallback:$(full_of arabic)")
"$PY" -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if a < 0.75 or b < 0.9 else 1)" $r
eq "an unshaped Arabic rendering fails the measure ($r)" "$?" 0
r=$("$PY" "$ROOT/tests/e2e/glyph_match.py" "$T/pic/card-arabic.png" 64 "$T/pic" "$d:ltr:$(full_of arabic)")
"$PY" -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if a < 0.75 or b < 0.9 else 1)" $r
eq "a misordered (left-to-right) Arabic rendering fails the measure ($r)" "$?" 0
r=$("$PY" "$ROOT/tests/e2e/glyph_match.py" "$T/pic/card-mixed.png" 64 "$T/pic" "$d:auto:!" "$d:auto:محمد" "$d:auto:Happy birthday, ")
"$PY" -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if a < 0.75 or b < 0.9 else 1)" $r
eq "the mixed line with its runs in the wrong order fails the measure ($r)" "$?" 0
