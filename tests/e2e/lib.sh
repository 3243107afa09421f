# Shared helpers for the end-to-end tests: each check prints "ok - ..." or "not ok - ...".
# $OCCASIOND is the binary under test (tests/run.sh sets it); the tests run from the repo root.
: "${OCCASIOND:=$(pwd)/build/occasiond}"
ROOT=$(pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/occasiond-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check DESC COMMAND...: passes when COMMAND exits 0
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; fi; }
# check_out DESC PATTERN FILE: passes when FILE holds the fixed string PATTERN
check_out() { if grep -qF -- "$2" "$3"; then ok "$1"; else not_ok "$1"; echo "#   wanted [$2] in:"; sed 's/^/#   /' "$3" | head -20; fi; }
check_not() { if grep -qF -- "$2" "$3"; then not_ok "$1"; sed 's/^/#   /' "$3" | head -10; else ok "$1"; fi; }
# eq DESC GOT WANT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got [$2] want [$3]"; fi; }
have() { command -v "$1" >/dev/null 2>&1; }

# setup: a config in $T whose database and spool live in $T, rules copied from config/.
setup() {
	mkdir -p "$T/etc"
	cp "$ROOT/config/occasions.yaml" "$T/etc/occasions.yaml"
	cat > "$T/etc/occasiond.yaml" <<EOC
database: $T/var/occasiond.db
spool: $T/var/spool
templates: $ROOT/templates
fonts: $ROOT/fonts
rules: occasions.yaml
timezone: Europe/Berlin
send_window: "09:00-18:00"
lookback: 7 days
organization:
  name: Acme Corp
  return_address: "Acme Corp\n1 Main St\nSpringfield, IL 62701\nUSA"
mail:
  from: "Acme Team <team@acme.example>"
  transport: maildir
cards:
  signing: 2 business days
  transit: 3 business days
EOC
	CFG="$T/etc/occasiond.yaml"
	OCC() { "$OCCASIOND" -c "$CFG" "$@"; }
}
