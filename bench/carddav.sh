#!/bin/sh
# bench/carddav.sh: `sync` of a CardDAV address book of 10,000 contacts (CARDDAV_N) from a
# local Radicale (Debian's, plain htpasswd, loopback): the first sync (the whole book, with
# Radicale's cache cold and then warm), a sync with 10 contacts changed, one with nothing
# changed; peak RSS; against the same run's `import stakeholders` of the same cards as one
# .vcf file (no server) and curl fetching the same cards from the same server with the same
# requests (the server's and the network's share). Prints markdown.
set -e
cd "$(dirname "$0")/.."
BIN=$(pwd)/build/occasiond
PY=/usr/bin/python3
N=${CARDDAV_N:-10000}
T=$(mktemp -d /tmp/occasiond-bench-carddav.XXXXXX)
RP=
trap 'kill $RP 2>/dev/null; rm -rf "$T"' EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
rss() { awk '{printf "%.0f MiB", $1 / 1024}' "$T/rss"; }
cpu() { awk '{printf "%.2f s", $2 + $3}' "$T/rss"; }   # occasiond's own CPU (user + system)
if ! "$PY" -c 'import radicale' 2>/dev/null; then
	echo "## CardDAV sync"; echo; echo "(skipped: Debian's radicale is not installed)"; exit 0
fi

R=$T/radicale
mkdir -p "$R/store/collection-root/occ/big"
htpasswd -c -b -p "$R/users" occ s3cret >/dev/null 2>&1
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$R/config" <<EOF
[server]
hosts = 127.0.0.1:$PORT
[auth]
type = htpasswd
htpasswd_filename = $R/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $R/store
[logging]
level = warning
EOF
B=$R/store/collection-root/occ/big
echo '{"tag": "VADDRESSBOOK"}' > "$B/.Radicale.props"
"$PY" - "$N" "$B" "$T/all.vcf" <<'PYEOF'
import sys
n, book, allf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
first = ["Zoë", "José", "Ελένη", "Дмитрий", "Hannah", "Liam", "Sophie", "Emily", "Yuki", "Olivia"]
with open(allf, "w", newline="", encoding="utf-8") as a:
    for i in range(n):
        c = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p%06d\r\nN:Person%d;%s;;;\r\nFN:%s Person%d\r\nORG:Acme;\r\n"
             "EMAIL;TYPE=INTERNET,pref:p%d@example.com\r\nADR;TYPE=work:;;%d Main St;Springfield;IL;62701;USA\r\n"
             "BDAY:19%02d-%02d-%02d\r\nEND:VCARD\r\n" % (i, i, first[i % 10], first[i % 10], i, i, i,
                                                         50 + i % 50, 1 + i % 12, 1 + i % 28))
        with open("%s/p%06d.vcf" % (book, i), "w", newline="", encoding="utf-8") as f:
            f.write(c)
        a.write(c)
PYEOF
"$PY" -m radicale --config "$R/config" >"$R/log" 2>&1 &
RP=$!
i=0; until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" != 000 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || { echo "radicale did not start" >&2; exit 1; }; sleep 0.1; done
printf 's3cret\n' > "$T/pw"
chmod 600 "$T/pw"
conf() {
	cat > "$T/$1.yaml" <<EOF
database: $T/$1.db
spool: $T/spool
templates: $(pwd)/templates
fonts: $(pwd)/fonts
rules: rules.yaml
timezone: Europe/Berlin
sources:
  - id: big
    carddav: http://127.0.0.1:$PORT/occ/big/
    username: occ
    password_file: pw
EOF
}
printf 'occasions: []\n' > "$T/rules.yaml"
conf cold; conf warm; conf imp
sync_timed() {
	t0=$(now)
	/usr/bin/time -f "%M %U %S" -o "$T/rss" "$BIN" -c "$T/$1.yaml" sync > "$T/out"
	t1=$(now)
	secs "$t0" "$t1"
}
cold_s=$(sync_timed cold); cold_out=$(cat "$T/out"); cold_rss=$(rss); cold_cpu=$(cpu)
warm_s=$(sync_timed warm); warm_rss=$(rss); warm_cpu=$(cpu)
none_s=$(sync_timed warm); none_cpu=$(cpu)
for i in $(seq 1 10); do
	id=$(printf 'p%06d' $((i * 997)))
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nN:Changed;Pat;;;\r\nFN:Pat Changed\r\nEMAIL:%s@example.com\r\nEND:VCARD\r\n' "$id" "$id" |
		curl -s -o /dev/null -u occ:s3cret -X PUT -H 'Content-Type: text/vcard' --data-binary @- \
			"http://127.0.0.1:$PORT/occ/big/$id.vcf"
done
ten_s=$(sync_timed warm); ten_out=$(cat "$T/out"); ten_cpu=$(cpu)
t0=$(now)
/usr/bin/time -f "%M %U %S" -o "$T/rss" "$BIN" -c "$T/imp.yaml" import stakeholders "$T/all.vcf" > /dev/null
t1=$(now); imp_s=$(secs "$t0" "$t1"); imp_rss=$(rss); imp_cpu=$(cpu)

# curl: the same listing and the same multigets of 100, bodies discarded.
U=http://127.0.0.1:$PORT/occ/big/
t0=$(now)
curl -s -o "$T/list.xml" -u occ:s3cret -X REPORT -H 'Depth: 0' -H 'Content-Type: application/xml' --data \
	'<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>' "$U"
grep -o '<href>[^<]*</href>' "$T/list.xml" | sed 's/href>/D:href>/g' | split -l 100 - "$T/batch."
for f in "$T"/batch.*; do
	{ printf '<?xml version="1.0"?><C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>'
	  tr -d '\n' < "$f"; printf '</C:addressbook-multiget>'; } > "$f.xml"
	curl -s -o /dev/null -u occ:s3cret -X REPORT -H 'Depth: 0' -H 'Content-Type: application/xml' --data-binary @"$f.xml" "$U"
done
t1=$(now); curl_s=$(secs "$t0" "$t1")

echo "## CardDAV sync (bench/carddav.sh)"
echo
echo "A Radicale $("$PY" -m radicale --version) address book of $N contacts (vCard 3.0 with name, org, email, address, birthday) on"
echo "127.0.0.1, plain htpasswd. Each sync is \`occasiond sync\` (one process, start included) into its own database;"
echo "the wall time includes the server's (Radicale on the same cores), the CPU is occasiond's own. 1-min load $(cut -d' ' -f1 /proc/loadavg)."
echo
echo "| figure | occasiond: wall, own CPU, peak RSS | baseline (same run) |"
echo "| --- | --- | --- |"
echo "| first sync, Radicale's cache cold ($cold_out) | $cold_s s, $cold_cpu, $cold_rss | — |"
echo "| first sync, Radicale's cache warm | $warm_s s, $warm_cpu, $warm_rss | curl, the same sync-collection and $(ls "$T"/batch.*.xml | wc -l) multigets of 100: $curl_s s |"
echo "| the same cards as one .vcf file, \`import stakeholders\` (no server) | $imp_s s, $imp_cpu, $imp_rss | — |"
echo "| second sync, nothing changed | $none_s s, $none_cpu | — |"
echo "| sync after 10 contacts changed ($ten_out) | $ten_s s, $ten_cpu | — |"
