#!/bin/sh
# Installs the Debian packages occasiond needs and that are missing.
#   deps.sh build   the build dependencies
#   deps.sh test    the build dependencies and the tools the tests use
#   deps.sh bench   the test tools and the peers `make bench` measures against
set -e
build="gcc make pkg-config libcurl4-openssl-dev libhpdf-dev libpng-dev libyaml-dev libsqlite3-dev libsystemd-dev tzdata"
build="$build libharfbuzz-dev libfribidi-dev libfreetype-dev libfontconfig-dev fonts-noto-core fonts-noto-cjk"
build="$build libicu-dev"   # src/card_break.c: word boundaries of Thai, Lao, Khmer, Myanmar
build="$build libexpat1-dev"   # the CardDAV answers (src/davxml.c)
build="$build libpq-dev"
build="$build zlib1g-dev"   # src/card_pdf.c deflates each card page as it is completed
test="bc poppler-utils qpdf python3 python3-aiosmtpd python3-icalendar openssl sqlite3 remind faketime mandoc systemd strace chromium"
test="$test postgresql-15"   # tests/e2e/pg.sh: a private server
test="$test spamassassin"   # tests/e2e/spam.sh: the shipped email templates
test="$test libharfbuzz-bin python3-pil"
test="$test radicale apache2-utils"   # tests/e2e/carddav.sh: a real CardDAV server
bench="python3-reportlab postfix procps"
case "$1" in
test) want="$build $test" ;;
bench) want="$build $test $bench" ;;
*) want=$build ;;
esac
missing=
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix is only wanted for its smtp-sink and smtp-source tools: no mail system is configured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
