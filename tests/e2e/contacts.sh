#!/bin/sh
# Contacts as they come: the four presets against exports shaped as each system writes them,
# a map with every key, delimiters and encodings, --dry-run, headers near ours, vCards as Apple,
# Google, Nextcloud and Outlook write them, and hostile maps and cards: clear errors, nothing
# half-written.
. tests/e2e/lib.inc
setup
D=$ROOT/tests/e2e/data/contacts
DB=$T/var/occasiond.db
row() { sql "$DB" "SELECT $2 FROM stakeholders WHERE id = '$1'"; }
custom() { sql "$DB" "SELECT value FROM stakeholder_fields WHERE stakeholder_id = '$1' AND name = '$2'"; }
count() { sql "$DB" "SELECT count(*) FROM stakeholders"; }

# --- presets ---
check "hubspot preset imports HubSpot's export" OCC import stakeholders "$D/hubspot.csv" --preset hubspot
eq "hubspot: Record ID, names, the first of several emails" "$(row 51 "first_name || ' ' || last_name || ' ' || email")" "Zoë Núñez zoe@acme.example"
eq "hubspot: Create Date with its time, Lifecycle Stage" "$(row 51 "customer_since || ' ' || type || ' ' || region")" "2023-05-04 customer IL"
eq "hubspot: a lead is type other" "$(row 52 type)" "other"
check "salesforce preset imports a contact report (CRLF, M/D/YYYY)" OCC import stakeholders "$D/salesforce.csv" --preset salesforce
eq "salesforce: Contact ID, Birthdate, Account Name" "$(row 0035g00000AbCdE "birthday || ' ' || organization || ' ' || owner")" "1980-01-15 Becker GmbH Sam Ortiz"
check "google preset imports Google Contacts' current CSV" OCC import stakeholders "$D/google.csv" --preset google
eq "google: id from the email, the first of ' ::: ' values, --MM-DD" "$(row emily@carter.example "email || ' ' || birthday || ' ' || nickname")" "emily@carter.example --02-14 Em"
eq "google: Greek names" "$(row eleni@example.gr "first_name || ' ' || last_name")" "Ελένη Παπαδοπούλου"
check "google preset imports the older Google CSV" OCC import stakeholders "$D/google-old.csv" --preset google
eq "google (older): Given Name, an email that is no id gets a stable id" "$(sql "$DB" "SELECT id || ' ' || first_name FROM stakeholders WHERE email = 'OLIVIA+cards@Example.com'")" "e-c90aeb11c22e74c8 Olivia"
check "outlook preset imports Outlook's desktop export (windows-1252, CRLF)" OCC import stakeholders "$D/outlook-desktop.csv" --preset outlook
eq "outlook: windows-1252 decoded, M/D/YYYY" "$(row jose@cafe.example "first_name || ' ' || last_name || ' ' || organization || ' ' || birthday")" "José Müller Café Größe 1979-12-14"
eq "outlook: Anniversary as a custom date" "$(custom jose@cafe.example anniversary)" "2010-06-12"
eq "outlook: 0/0/00 is no date" "$(row sophie@martin.example "'[' || birthday || ']'")" "[]"
check "outlook preset imports Outlook.com's export (BOM, CRLF)" OCC import stakeholders "$D/outlook-com.csv" --preset outlook
eq "outlook.com: UTF-8 with BOM wins over the preset's encoding" "$(row dmitri@example.ru "last_name || ' ' || birthday")" "Иванов 1975-03-08"
printf '"Record ID","First Name","Email"\n"77","Few","few@x.example"\n' > "$T/few.csv"
check "a preset takes an export with only some of its columns" OCC import stakeholders "$T/few.csv" --preset hubspot
eq "... what it holds is there" "$(row 77 "first_name || ' ' || email")" "Few few@x.example"
N=$(count)
OCC import stakeholders "$D/hubspot.csv" --preset hubspot > "$T/out" 2>&1
eq "importing an export again updates, adds nobody" "$(count)" "$N"

# --- --dry-run ---
OCC import stakeholders "$D/hubspot.csv" --preset hubspot --dry-run > "$T/out" 2> "$T/err"
check_out "--dry-run shows each field and its column" 'email              "zoe@acme.example"  <- "Email" "zoe@acme.example; zoe.n@home.example"' "$T/out"
check_out "--dry-run says what becomes of an unused column" '"Phone Number" ignored' "$T/out"
check_out "--dry-run says it wrote nothing" "nothing written (--dry-run)" "$T/out"
rm -f "$DB" "$DB-wal" "$DB-shm"
OCC import stakeholders "$D/google.csv" --preset google --dry-run > /dev/null 2>&1
eq "--dry-run writes nothing" "$(count)" "0"
printf 'id: {from: email}\ncolumns:\n  first_name: "First Name"\n  email: {column: "E-mail 1 - Value", split: " ::: "}\n  nickname: {template: "{{First Name}} {{Last Name}} ({{Organization Name}})"}\n' > "$T/tpl.yaml"
OCC import stakeholders "$D/google.csv" --map "$T/tpl.yaml" --dry-run > "$T/out" 2>&1
check_out "a template over column names with spaces" 'nickname           "Emily Carter (Carter & Co)"  <- template "{{First Name}}' "$T/out"
check_out "--dry-run: a column used by a template" '"Last Name" -> nickname (template)' "$T/out"

# --- a map with every key ---
cat > "$T/m.yaml" <<'EOF'
delimiter: ";"
encoding: ISO-8859-15
id: {from: email}
columns:
  first_name: Vorname
  last_name: Nachname
  nickname: {template: "{{Vorname}} aus {{ Ort }}{{#Notiz}} ({{Notiz}}){{/Notiz}}"}
  email: {column: Mails, split: ","}
  city: Ort
  birthday: {column: Geburtstag, format: "D.M.YYYY"}
  type: {column: Status, values: {Kunde: customer, Partner: partner, "*": other}}
  hire_date: {column: Eintritt, format: "DD/MM/YY"}
keep: [Lieblingsteam]
defaults: {tier: silver, country: Germany}
EOF
printf 'Vorname;Nachname;Mails;Ort;Geburtstag;Status;Eintritt;Lieblingsteam;Notiz\nJ\374rgen;Wei\337;"juergen@x.example, j@y.example";K\366ln;3.7.1970;Kunde;01/04/15;FC \244;egal\nAnna;Berg;anna@x.example;Bonn;14.2.1985 08:00;Lieferant;;;\n' > "$T/m.csv"
check "a map with every key imports" OCC import stakeholders "$T/m.csv" --map "$T/m.yaml"
eq "map: id from the email, ISO-8859-15, template, split" "$(row juergen@x.example "first_name || ' ' || last_name || '|' || nickname || '|' || email")" "Jürgen Weiß|Jürgen aus Köln (egal)|juergen@x.example"
eq "map: D.M.YYYY, DD/MM/YY, a value table, defaults" "$(row juergen@x.example "birthday || ' ' || hire_date || ' ' || type || ' ' || tier || ' ' || country")" "1970-07-03 2015-04-01 customer silver Germany"
eq "map: a date with a time, the \"*\" default" "$(row anna@x.example "birthday || ' ' || type")" "1985-02-14 other"
eq "map: keep (ISO-8859-15's euro sign)" "$(custom juergen@x.example Lieblingsteam)" "FC €"
eq "map: an unmapped, unkept column is not stored" "$(custom juergen@x.example Notiz)" ""

# --- all or nothing ---
printf 'Vorname;Nachname;Mails;Ort;Geburtstag;Status;Eintritt;Lieblingsteam\nNeu;Eins;neu1@x.example;A;1.1.1990;Kunde;;\nNeu;Zwei;neu2@x.example;B;31.31.1990;Kunde;;\n' > "$T/bad.csv"
N=$(count)
OCC import stakeholders "$T/bad.csv" --map "$T/m.yaml" > "$T/out" 2> "$T/err"; rc=$?
eq "a value that does not convert: exit 1" "$rc" "1"
check_out "... FILE:LINE: error: column NAME" "$T/bad.csv:3: error: column Geburtstag: \"31.31.1990\" is not a date in the format D.M.YYYY" "$T/err"
eq "... and nothing is written" "$(count)" "$N"
OCC import stakeholders "$T/bad.csv" --map "$T/m.yaml" --skip-invalid > "$T/out" 2>&1
eq "--skip-invalid writes the good row" "$(count)" "$((N + 1))"
printf 'id,first_name\nd1,A\nd2,B\nd1,C\n' > "$T/dup.csv"
OCC import stakeholders "$T/dup.csv" > "$T/out" 2> "$T/err"
check_out "a duplicate id in the file is found" "$T/dup.csv:4: error: duplicate id 'd1' (also on line 2)" "$T/err"
eq "... and nothing is written" "$(sql "$DB" "SELECT count(*) FROM stakeholders WHERE id IN ('d1', 'd2')")" "0"

# --- without a map: delimiters, encodings, headers near ours ---
printf 'ID;First Name;E-Mail;birthday\ns1;Ada;ada@x.example;1815-12-10\n' > "$T/semi.csv"
OCC import stakeholders "$T/semi.csv" > "$T/out" 2> "$T/err"
eq "semicolons found, First Name taken as first_name" "$(row s1 "first_name || ' ' || email")" "Ada ada@x.example"
check_out "... with a note naming the column" "$T/semi.csv:1: note: column \"First Name\" taken as first_name" "$T/err"
check_out "... and one for the separator" "$T/semi.csv: note: the columns are separated by semicolons" "$T/err"
"$PY" -c "import sys; open(sys.argv[1],'wb').write('\ufeffid\tfirst_name\tcity\r\nu1\tŁukasz\tŁódź\r\n'.encode('utf-16-le'))" "$T/u16.txt"
check "UTF-16 with a BOM, tabs (Excel's Unicode text)" OCC import stakeholders "$T/u16.txt"
eq "... decoded" "$(row u1 "first_name || ' ' || city")" "Łukasz Łódź"
printf 'id,first_name,city\nw1,Ren\351,Z\374rich\n' > "$T/w.csv"
OCC import stakeholders "$T/w.csv" > "$T/out" 2> "$T/err"
check_out "windows-1252 without --encoding: the error says how" "--encoding says which" "$T/err"
check "... and with --encoding windows-1252 it imports" OCC import stakeholders "$T/w.csv" --encoding windows-1252
eq "... decoded" "$(row w1 "first_name || ' ' || city")" "René Zürich"
printf 'id,first_name,emial\nt1,Ty,t@x.example\n' > "$T/typo.csv"
OCC import stakeholders "$T/typo.csv" > "$T/out" 2> "$T/err"; rc=$?
eq "a header one typo from ours: exit 1" "$rc" "1"
check_out "... names both" "column \"emial\" is one letter from our column email" "$T/err"
eq "... and is never a custom field" "$(sql "$DB" "SELECT count(*) FROM stakeholders WHERE id = 't1'")" "0"

# --- vCard ---
check "Apple Contacts' vCard 3.0" OCC import stakeholders "$D/apple.vcf"
eq "apple: the preferred email, ADR, a birthday without a year (X-APPLE-OMIT-YEAR)" "$(sql "$DB" "SELECT email || ' ' || city || ' ' || birthday FROM stakeholders WHERE first_name = 'Johnny'")" "johnny@home.example Cupertino --02-14"
eq "apple: the labelled X-ABDATE anniversary, NOTE kept" "$(sql "$DB" "SELECT group_concat(value, '|') FROM (SELECT value FROM stakeholder_fields f JOIN stakeholders s ON s.id = f.stakeholder_id WHERE s.first_name = 'Johnny' ORDER BY name)")" "2010-06-12|Likes dark chocolate and green tea"
eq "apple: UID as id" "$(row E4C2A1B0-1111-4A5B-9C3D-0123456789AB "first_name || ' ' || birthday")" "Zoë 1990-03-21"
check "Google's vCard 3.0" OCC import stakeholders "$D/google.vcf"
eq "google: BDAY --0214 and 19850703" "$(sql "$DB" "SELECT group_concat(birthday, ' ') FROM (SELECT birthday FROM stakeholders WHERE email IN ('emily@carter.example', 'eleni@example.gr') AND id LIKE 'v-%' ORDER BY email)")" "1985-07-03 --02-14"
ID1=$(sql "$DB" "SELECT id FROM stakeholders WHERE email = 'eleni@example.gr' AND id LIKE 'v-%'")
OCC import stakeholders "$D/google.vcf" > /dev/null 2>&1
eq "a card without UID gets the same id on every import" "$(sql "$DB" "SELECT id FROM stakeholders WHERE email = 'eleni@example.gr' AND id LIKE 'v-%'")" "$ID1"
check "Nextcloud's vCard 4.0" OCC import stakeholders "$D/nextcloud.vcf"
eq "nextcloud: urn:uuid: dropped, PREF=1, TZ, ANNIVERSARY" "$(row 4fbe8971-0bc3-424c-9c26-36c3e1eff6b1 "email || ' ' || timezone || ' ' || street")|$(custom 4fbe8971-0bc3-424c-9c26-36c3e1eff6b1 anniversary)" "hannah@home.example Europe/Berlin Hauptstraße 5|2010-06-12"
cp "$D/outlook21.vcf" "$T/outlook.card"
check "Outlook's vCard 2.1 (--format vcard)" OCC import stakeholders "$T/outlook.card" --format vcard
eq "2.1: CHARSET, QUOTED-PRINTABLE with soft breaks, PREF" "$(sql "$DB" "SELECT first_name || ' ' || last_name || '|' || replace(street, char(10), '/') || '|' || city || '|' || email FROM stakeholders WHERE last_name = 'Müller'")" "José Müller|Königsallee 1/Hinterhaus|Düsseldorf|jose@cafe.example"
cat > "$T/cat.yaml" <<'EOF'
columns:
  type: {column: CATEGORIES, split: ",", values: {vip: customer, "*": partner}}
defaults: {consent_personal: "yes"}
EOF
check "a vCard with a map: CATEGORIES to type" OCC import stakeholders "$D/nextcloud.vcf" --map "$T/cat.yaml"
eq "... VIP is a customer" "$(row 4fbe8971-0bc3-424c-9c26-36c3e1eff6b1 type)" "customer"
OCC preview --rule birthday --stakeholder 4fbe8971-0bc3-424c-9c26-36c3e1eff6b1 -o "$T/card.pdf" > /dev/null 2>&1
check "a card comes out for an imported vCard" test -s "$T/card.pdf"
if have pdftotext; then
	pdftotext "$T/card.pdf" - 2>/dev/null | tr '\n' ' ' > "$T/card.txt"
	check_out "... with the name from the card" "Hannah" "$T/card.txt"
fi

# --- hostile ---
N=$(count)
SUM=$(sql "$DB" "SELECT count(*), total(length(first_name || last_name || email || birthday)) FROM stakeholders")
fails() {
	d=$1; want=$2; shift 2
	OCC "$@" > "$T/out" 2> "$T/err"; rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$T/err"; then ok "$d"; else not_ok "$d (exit $rc)"; echo "#   wanted [$want] in:"; head -c 600 "$T/err" | sed 's/^/#   /'; fi
	eq "$d: nothing written" "$(sql "$DB" "SELECT count(*), total(length(first_name || last_name || email || birthday)) FROM stakeholders")" "$SUM"
}
printf 'id: "Record ID"\ncolumns:\n  first_name: "Vorname"\n' > "$T/missing.yaml"
fails "a map naming a column the file lacks" "$T/missing.yaml:3:15: error: column \"Vorname\" is not in $D/hubspot.csv" import stakeholders "$D/hubspot.csv" --map "$T/missing.yaml"
printf 'id: "Record ID"\ncolumns:\n  first_name: "First Name"\n  nickname: {template: "{{> /etc/passwd}}"}\n' > "$T/partial.yaml"
fails "a template that reads a file" "partial {{>/etc/passwd}}: a map's template reads only the row's columns" import stakeholders "$D/hubspot.csv" --map "$T/partial.yaml"
printf 'id: "Record ID"\ncolumns:\n  frist_name: "First Name"\n' > "$T/typo.yaml"
fails "a map with our column misspelt" "$T/typo.yaml:3:3: error: 'frist_name' is one letter from our column 'first_name'" import stakeholders "$D/hubspot.csv" --map "$T/typo.yaml"
fails "an unknown preset" "unknown preset 'nope'" import stakeholders "$D/hubspot.csv" --preset nope
fails "a preset name with a path" "unknown preset '../x'" import stakeholders "$D/hubspot.csv" --preset ../x
"$PY" -c "
import sys
note = 'x' * (1024 * 1024)
sys.stdout.write('BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big1\r\nFN:Big Note\r\nNOTE:' + '\r\n '.join(note[i:i+74] for i in range(0, len(note), 74)) + '\r\nEND:VCARD\r\n')" > "$T/bignote.vcf"
fails "a vCard of a megabyte of NOTE" "$T/bignote.vcf:1: error: note longer than 65536 bytes" import stakeholders "$T/bignote.vcf"
"$PY" -c "
import sys, base64
photo = base64.b64encode(b'\xff' * 800000).decode()
sys.stdout.write('BEGIN:VCARD\r\nVERSION:3.0\r\nUID:photo1\r\nFN:Big Photo\r\nPHOTO;ENCODING=b;TYPE=JPEG:' + '\r\n '.join(photo[i:i+74] for i in range(0, len(photo), 74)) + '\r\nEND:VCARD\r\n')" > "$T/photo.vcf"
check "a vCard of a megabyte of photo imports (the photo is skipped)" OCC import stakeholders "$T/photo.vcf"
eq "... its person is there" "$(row photo1 "first_name || ' ' || last_name")" "Big Photo"
SUM=$(sql "$DB" "SELECT count(*), total(length(first_name || last_name || email || birthday)) FROM stakeholders")
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:n1\r\nFN:Outer\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Inner\r\nEND:VCARD\r\nEND:VCARD\r\n' > "$T/nested.vcf"
fails "a vCard nested in a vCard" "$T/nested.vcf:5: error: a card inside the card of line 1" import stakeholders "$T/nested.vcf"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ok1\r\nFN:Fine One\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:cut1\r\nFN:Cut Short\r\n' > "$T/cut.vcf"
fails "a truncated vCard (and the good card before it is not written either)" "$T/cut.vcf:6: error: the card that begins here has no END:VCARD" import stakeholders "$T/cut.vcf"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bd1\r\nFN:Bad Day\r\nBDAY:1980-13-45\r\nEND:VCARD\r\n' > "$T/bday.vcf"
fails "a vCard with a BDAY that is no date" "$T/bday.vcf:1: error: column BDAY:" import stakeholders "$T/bday.vcf"
"$PY" -c "import sys; open(sys.argv[1],'wb').write('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:U\r\nEND:VCARD\r\n'.encode('utf-16'))" "$T/u16.vcf"
fails "a UTF-16 vCard" "$T/u16.vcf:1: error: a UTF-16 vCard file: save it as UTF-8" import stakeholders "$T/u16.vcf"
printf 'garbage\n' > "$T/junk.vcf"
fails "text that is no vCard" "$T/junk.vcf:1: error: not a vCard line" import stakeholders "$T/junk.vcf"
