#!/bin/sh
# The PostgreSQL backend on a real PostgreSQL 15 (tests/e2e/pg.inc, one server for the whole
# script): the user-visible flows give the same output as on SQLite for the same data
# (import, plan, run --once, log, mark, retry, optout, report), a running serve is woken by an
# import through LISTEN/NOTIFY, and the faults are one line naming the database, exit 1:
# no server, a wrong password, a password in the URI, a newer schema, a read-only server.
. tests/e2e/lib.inc
. tests/e2e/pg.inc
setup

if ! pg_start; then
	echo "skip - no PostgreSQL 15 server could be started (postgresql-15, see scripts/deps.sh)"
	exit 0
fi
SP=
trap 'kill $SP 2>/dev/null; pg_stop; [ -n "$OCCASIOND_KEEP" ] || rm -rf "$T"' EXIT

# Two sites, the same but for the database and the spool: $CFG on PostgreSQL, $SQ on SQLite.
SQ=$T/etc/sqlite.yaml
sed -e "s|^database: .*|database: $T/sq/occasiond.db|" -e "s|^spool: .*|spool: $T/sq/spool|" "$CFG" > "$SQ"
sed -i "s|^database: .*|database: $PG_URI|" "$CFG"
SQL() { "$OCCASIOND" -c "$SQ" "$@"; }
# both NAME ARGS...: runs a command on each site; $T/NAME.pg and $T/NAME.sq hold stdout and
# stderr with the site's own paths made alike, $rc_pg and $rc_sq the exit statuses.
both() {
	n=$1; shift
	OCC "$@" > "$T/$n.pg" 2>&1; rc_pg=$?
	SQL "$@" > "$T/$n.sq" 2>&1; rc_sq=$?
	# The message ids and maildir names carry each database's own install id.
	sed -i -e "s|$T/var/spool|SPOOL|g" -e "s|$PG_URI|DB|g" -e "s|$CFG|CFG|g" \
		-e 's/occasiond-[0-9a-f]\{16\}/occasiond-ID/g' "$T/$n.pg"
	sed -i -e "s|$T/sq/spool|SPOOL|g" -e "s|$T/sq/occasiond.db|DB|g" -e "s|$SQ|CFG|g" \
		-e 's/occasiond-[0-9a-f]\{16\}/occasiond-ID/g' "$T/$n.sq"
}
same() {
	if [ "$rc_pg" = "$rc_sq" ] && cmp -s "$T/$1.pg" "$T/$1.sq"; then ok "$2"; else
		not_ok "$2"; echo "#   exit $rc_pg (PostgreSQL) and $rc_sq (SQLite)"
		diff "$T/$1.sq" "$T/$1.pg" | head -20 | sed 's/^/#   /'
	fi
}
both import1 import stakeholders examples/stakeholders.csv
same import1 "import stakeholders: the same on PostgreSQL as on SQLite"
check_out "... and it imported" "44 stakeholders imported" "$T/import1.pg"
eq "the schema is created on first use, version 2" "$(pg_sql occ "select value from occasiond.meta where key = 'schema_version'")" 2
both import2 import events examples/events.csv
same import2 "import events: the same"
{ head -1 examples/stakeholders.csv; printf 'x1,Ann,Lee,,,,customer,,ann@x.example,,,,,,,,,,1990-01-01,,,,yes,no,\r\n'; \
  printf 'x2,Bob,Ray,,,,customer,,bob@x.example,,,,,,,,,,1990-02-30,,,,yes,no,\r\n'; } > "$T/bad.csv"
both bad import stakeholders "$T/bad.csv"
same bad "a bad row fails the import in the same words"
eq "... and nothing of it was written" "$(pg_sql occ "select count(*) from occasiond.stakeholders")" 44
both skip import stakeholders "$T/bad.csv" --skip-invalid
same skip "--skip-invalid keeps the good rows alone, the same"
eq "... x1 in, x2 out" "$(pg_sql occ "select string_agg(id, ',') from occasiond.stakeholders where id like 'x%'")" x1

# Values that an array literal or SQL would take for syntax, and custom columns: stored as written.
cat > "$T/odd.csv" <<'EOF'
id,first_name,last_name,street,city,nickname,notes,display_name
q1,"Ann ""the"" Lee",O\Brien,"1 Main St
2nd floor",{x},NULL,"a,b;c",
q2,Zoë,"\""\\",",",{},"",\N,Zoë Ł.
EOF
both odd import stakeholders "$T/odd.csv"
same odd "import of values with quotes, backslashes, braces and custom columns: the same"
check_out "... both imported" "2 stakeholders imported" "$T/odd.pg"
q="select id, first_name, last_name, street, city, nickname from stakeholders where id like 'q%' order by id"
f="select stakeholder_id, name, value, ord from stakeholder_fields where stakeholder_id like 'q%' order by stakeholder_id, name"
eq "... the values stored are the same" "$(pg_sql occ "set search_path = occasiond; $q")" "$(sql "$T/sq/occasiond.db" "$q")"
eq "... and the custom fields" "$(pg_sql occ "set search_path = occasiond; $f")" "$(sql "$T/sq/occasiond.db" "$f")"
eq "... which are there" "$(pg_sql occ "select count(*) from occasiond.stakeholder_fields where stakeholder_id like 'q%'")" 4

# Duplicate ids, near and 2,000 rows apart, found alike (in all-or-nothing, --skip-invalid and --dry-run).
"$PY" - "$T/dup.csv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,first_name,email\n")
    for i in range(2500):
        n = 9 if i == 10 else 5 if i == 2400 else i
        f.write("d%04d,Dup,d%d@x.example\n" % (n, i))
EOF
for mode in "" --skip-invalid --dry-run; do
	both dup import stakeholders "$T/dup.csv" $mode
	same dup "duplicate ids ${mode:-(all or nothing)}: the same"
	check_out "... found far apart" "duplicate id 'd0005' (also on line 7)" "$T/dup.pg"
	check_out "... and near" "duplicate id 'd0009' (also on line 11)" "$T/dup.pg"
done
eq "--skip-invalid kept the rest" "$(pg_sql occ "select count(*) from occasiond.stakeholders where id like 'd%'")" 2498

both plan plan --from 2026-12-03 --days 30
same plan "plan --days 30 (table): the same"
both planj plan --from 2026-12-03 --days 30 --format json
same planj "plan --format json: the same"
both check check --data
same check "check --data: the same"

both run1 run --once --at 2026-12-03T10:00
same run1 "run --once: the same dispatches, emails and cards"
eq "the emails are in the maildir" "$(ls "$T/var/spool/outbox/new" | wc -l)" "$(ls "$T/sq/spool/outbox/new" | wc -l)"
n=$(ls "$T/var/spool/outbox/new" | wc -l)
check "... some" test "$n" -gt 0
for f in "$T"/sq/spool/batches/*/*.pdf; do
	g=$T/var/spool/batches/${f#"$T"/sq/spool/batches/}
	eq "card batch ${f#"$T"/sq/spool/batches/}: the same pages" "$(pdfinfo "$g" 2>/dev/null | grep Pages)" \
		"$(pdfinfo "$f" 2>/dev/null | grep Pages)"
done
both run2 run --once --at 2026-12-03T10:00
same run2 "a second run finds nothing new"
check_out "... nothing" "0 cards in 0 batches, 0 emails" "$T/run2.pg"
both log log --format json
# handled_by is HOST:PID of the command that claimed: one process each.
sed -i -e 's/"updated_at": *"[^"]*"//' -e 's/"message_id": *"[^"]*"//' -e 's/"handled_by": *"[^"]*"//' \
	"$T/log.pg" "$T/log.sq"
same log "log --format json: the same records"

card=$(pg_sql occ "select min(id) from occasiond.dispatches where channel = 'card' and status = 'rendered'")
both mark mark "$card" --as printed
same mark "mark ID --as printed: the same"
eq "... the card is printed" "$(pg_sql occ "select status from occasiond.dispatches where id = $card")" printed
both mark2 mark "$card" --as rendered
same mark2 "a step back is refused in the same words"
both mark3 mark 999999 --as printed
same mark3 "an unknown id: the same"
# A failed email: the same record set to failed on both, then retried.
em=$(pg_sql occ "select min(id) from occasiond.dispatches where channel = 'email' and status = 'sent'")
pg_sql occ "update occasiond.dispatches set status = 'failed', error = 'test' where id = $em" >/dev/null
"$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$T/sq/occasiond.db" \
	"update dispatches set status = 'failed', error = 'test' where id = $em"
both retry retry "$em"
same retry "retry ID: the same"
eq "... its record is taken back" "$(pg_sql occ "select count(*) from occasiond.dispatches where id = $em")" 0
both optout optout c001 zoe@example.com
same optout "optout ID EMAIL: the same"
eq "... c001 opted out" "$(pg_sql occ "select opted_out from occasiond.stakeholders where id = 'c001'")" 1
# Updated rows move in the table: a plan read in table order finds them out of id order and reads again.
check "... so the table is no longer in id order" test \
	"$(pg_sql occ "select count(*) from (select id < lag(id) over (order by ctid) as back from occasiond.stakeholders) x where back")" -ge 1
both plan2 plan --from 2026-12-03 --days 30 --format json
same plan2 "plan after the opt-out: the same"
both report report --from 2026-11-01 --to 2026-12-31 --at 2026-12-03T12:00
same report "report (table): the same"
both reportj report --from 2026-11-01 --to 2026-12-31 --at 2026-12-03T12:00 --format json
same reportj "report --format json: the same"
both prev preview --rule birthday --stakeholder c002 -o "$T/prev.pdf"
same prev "preview: the same"

# --- two passes at once on one database: the pass lock (an advisory lock) lets one work at a time ---
pg_sql postgres "CREATE DATABASE twice" >/dev/null
sed -e "s|^database: .*|database: postgresql:///twice|" -e "s|^spool: .*|spool: $T/twice/spool|" "$CFG" > "$T/etc/twice.yaml"
"$OCCASIOND" -c "$T/etc/twice.yaml" import stakeholders examples/stakeholders.csv > /dev/null 2>&1
"$OCCASIOND" -c "$T/etc/twice.yaml" import events examples/events.csv > /dev/null 2>&1
"$OCCASIOND" -c "$T/etc/twice.yaml" import stakeholders "$T/bad.csv" --skip-invalid > /dev/null 2>&1
"$OCCASIOND" -c "$T/etc/twice.yaml" run --once --at 2026-12-03T10:00 > "$T/twice1" 2>&1 &
p1=$!
"$OCCASIOND" -c "$T/etc/twice.yaml" run --once --at 2026-12-03T10:00 > "$T/twice2" 2>&1; rc2=$?
wait $p1; rc1=$?
eq "two run --once at the same time on one database both succeed" "$rc1:$rc2" 0:0
eq "... and every email went out once" "$(ls "$T/twice/spool/outbox/new" | wc -l)" \
	"$(pg_sql twice "select count(*) from occasiond.dispatches where channel = 'email' and status = 'sent'")"
eq "... as many as one run alone sent on SQLite" "$(ls "$T/twice/spool/outbox/new" | wc -l)" \
	"$(ls "$T/sq/spool/outbox/new" | wc -l)"

# --- serve: an import from another process wakes it through LISTEN/NOTIFY ---
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
case "$OCCASIOND" in *san*) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS ;; esac
pg_sql postgres "CREATE DATABASE serve" >/dev/null
sed -e "s|^database: .*|database: postgresql:///serve|" -e "s|^spool: .*|spool: $T/serve/spool|" "$CFG" > "$T/etc/serve.yaml"
printf 'occasions:\n  - id: note\n    when: {date: "12-10"}\n    lead: 7 days\n    channel: email\n    template: thank-you\n' \
	> "$T/etc/occasions.yaml"
printf 'id,first_name,last_name,email,timezone,type\na1,Ann,Lee,ann@x.example,Europe/Berlin,customer\n' > "$T/p1.csv"
printf 'id,first_name,last_name,email,timezone,type\nc3,Cleo,Diaz,cleo@x.example,Europe/Berlin,customer\n' > "$T/p2.csv"
"$OCCASIOND" -c "$T/etc/serve.yaml" import stakeholders "$T/p1.csv" > /dev/null 2>&1
sent() { pg_sql serve "select count(*) from occasiond.dispatches where stakeholder = '$1' and status = 'sent'"; }
is_sent() { [ "$(sent "$1")" = 1 ]; }
if [ -n "$FT" ]; then
	TZ=UTC FAKETIME="@2026-12-03 08:59:58" LD_PRELOAD="$FT" "$OCCASIOND" -v -c "$T/etc/serve.yaml" serve \
		2> "$T/serve.err" &
	SP=$!
	wait_for 60 is_sent a1
	eq "serve on PostgreSQL sends a note due at 09:00" "$(sent a1)" 1
	"$OCCASIOND" -c "$T/etc/serve.yaml" import stakeholders "$T/p2.csv" > /dev/null 2>&1
	wait_for 30 is_sent c3
	eq "a stakeholder imported while serve runs is sent without a signal" "$(sent c3)" 1
	check_out "... woken by the database's notification" "database changed by another process" "$T/serve.err"
	# The server restarts under it: the daemon connects again and hears the next import.
	check "PostgreSQL restarted" pg_restart
	printf 'id,first_name,last_name,email,timezone,type\nd4,Dev,Patel,dev@x.example,Europe/Berlin,customer\n' > "$T/p3.csv"
	"$OCCASIOND" -c "$T/etc/serve.yaml" import stakeholders "$T/p3.csv" > /dev/null 2>&1
	wait_for 60 is_sent d4
	eq "after a restart of the server, an import is still seen and sent" "$(sent d4)" 1
	check "... and serve still runs" kill -0 "$SP"
	# A second daemon on the same database and spool: both hear the import, one sends.
	TZ=UTC FAKETIME="@2026-12-03 08:59:58" LD_PRELOAD="$FT" "$OCCASIOND" -v -c "$T/etc/serve.yaml" serve \
		2> "$T/serve2.err" &
	SP2=$!
	SP="$SP $SP2"
	wait_for 60 grep -q "serving:" "$T/serve2.err"
	printf 'id,first_name,last_name,email,timezone,type\ne5,Eve,Ng,eve@x.example,Europe/Berlin,customer\n' > "$T/p4.csv"
	"$OCCASIOND" -c "$T/etc/serve.yaml" import stakeholders "$T/p4.csv" > /dev/null 2>&1
	wait_for 60 is_sent e5
	wait_for 20 grep -q "database changed by another process" "$T/serve2.err"
	check_out "... the second daemon heard it too" "database changed by another process" "$T/serve2.err"
	eq "two daemons on one database: the note is sent once" "$(sent e5):$(grep -l 'eve@x.example' "$T"/serve/spool/outbox/new/* | wc -l)" 1:1
	kill -TERM $SP; rc=
	for p in $SP; do wait "$p"; rc="$rc$?"; done; SP=
	eq "both daemons stop with 0" "$rc" 00
else
	echo "skip - serve: no libfaketime"
fi

# --- faults: one line naming the database, exit 1, the password never shown ---
# fault NAME DESC WANT: the error of `log` on $CFG (whose database line was just changed).
fault() {
	OCC log > "$T/$1.out" 2>&1; rc=$?
	eq "$2: exit 1" "$rc" 1
	check_out "$2: says so" "$3" "$T/$1.out"
	eq "$2: in one line" "$(wc -l < "$T/$1.out")" 1
}
cp "$CFG" "$T/etc/pg.yaml"
sed -i "s|^database: .*|database: postgresql:///occ?host=$T/nowhere|" "$CFG"
fault down "no server" "store: cannot connect to postgresql:///occ: "
sed -i "s|^database: .*|database: postgresql://occpw:right@/occ|" "$CFG"
fault pw "a password in the URI" "postgresql:///occ: the URI holds a password: put it in the password file"
check_not "... which is never shown" "right" "$T/pw.out"
printf '*:*:*:occpw:wrong\n' > "$T/pgpass"; chmod 0600 "$T/pgpass"
sed -i "s|^database: .*|database: postgresql://occpw@/occ|" "$CFG"
PGPASSFILE=$T/pgpass OCC log > "$T/badpw.out" 2>&1; rc=$?
eq "a wrong password: exit 1" "$rc" 1
check_out "... says so, naming the database" "store: cannot connect to postgresql:///occ: " "$T/badpw.out"
check_out "... and why" "password authentication failed" "$T/badpw.out"
eq "... in one line" "$(wc -l < "$T/badpw.out")" 1
printf '*:*:*:occpw:right\n' > "$T/pgpass"
pg_sql occ "GRANT ALL ON SCHEMA occasiond TO occpw; GRANT ALL ON ALL TABLES IN SCHEMA occasiond TO occpw" >/dev/null
PGPASSFILE=$T/pgpass OCC log --stakeholder c001 > "$T/goodpw.out" 2>&1; rc=$?
eq "the right password from the password file works" "$rc" 0
pg_sql postgres "CREATE DATABASE newer" >/dev/null
sed -i "s|^database: .*|database: postgresql:///newer|" "$CFG"
OCC log > /dev/null 2>&1
pg_sql newer "update occasiond.meta set value = '99' where key = 'schema_version'" >/dev/null
fault newer "a newer schema" "store: postgresql:///newer has schema version 99, newer than this program's 2"

# --- schema 1 (before several daemons) is migrated to 2 on first use, on both backends ---
pg_sql postgres "CREATE DATABASE v1" >/dev/null
sed -i "s|^database: .*|database: postgresql:///v1|" "$CFG"
OCC log > /dev/null 2>&1
pg_sql v1 "set search_path = occasiond; drop index dispatches_queued;
	alter table dispatches drop column handled_by, drop column lease_until;
	update meta set value = '1' where key = 'schema_version';
	insert into dispatches(rule, stakeholder, occasion_date, fire_date, fire_at, channel, status, created_at,
	updated_at) values ('birthday', 'c001', '2026-12-05', '2026-12-05', 0, 'email', 'sent', 0, 0)" >/dev/null
OCC log --format csv > "$T/v1.out" 2>&1; rc=$?
eq "PostgreSQL, a schema 1 database: log works on it" "$rc" 0
eq "... migrated to schema version 2" "$(pg_sql v1 "select value from occasiond.meta where key = 'schema_version'")" 2
eq "... with the owner and lease columns" "$(pg_sql v1 "select count(*) from information_schema.columns
	where table_schema = 'occasiond' and table_name = 'dispatches' and column_name in ('handled_by', 'lease_until')")" 2
check_out "... its record kept" "2026-12-05,birthday,c001,email,sent," "$T/v1.out"
check_out "... log has the HANDLED_BY column" "COST,HANDLED_BY,ERROR" "$T/v1.out"
cp "$T/sq/occasiond.db" "$T/v1.db"
sed -e "s|^database: .*|database: $T/v1.db|" "$SQ" > "$T/etc/v1.yaml"
sql "$T/v1.db" "alter table dispatches drop column handled_by" >/dev/null
sql "$T/v1.db" "pragma user_version = 1" >/dev/null
"$OCCASIOND" -c "$T/etc/v1.yaml" log --format json > "$T/v1sq.out" 2>&1; rc=$?
eq "SQLite, a schema 1 database: log works on it" "$rc" 0
eq "... migrated to schema version 2" "$(sql "$T/v1.db" "pragma user_version")" 2
check_out "... its records without an owner" '"handled_by": null' "$T/v1sq.out"
pg_sql postgres "CREATE DATABASE ro" >/dev/null
pg_sql postgres "ALTER DATABASE ro SET default_transaction_read_only = on" >/dev/null
sed -i "s|^database: .*|database: postgresql:///ro|" "$CFG"
fault ro "a read-only server" "store: postgresql:///ro: the server takes no writes"
eq "... and nothing was written to it" "$(pg_sql ro "select count(*) from pg_namespace where nspname = 'occasiond'")" 0
pg_sql postgres "CREATE DATABASE other" >/dev/null
pg_sql other "CREATE SCHEMA occasiond; CREATE TABLE occasiond.meta(k text)" >/dev/null
sed -i "s|^database: .*|database: postgresql:///other|" "$CFG"
fault other "a schema occasiond that is not ours" "store: postgresql:///other: "
cp "$T/etc/pg.yaml" "$CFG"
