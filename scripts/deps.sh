#!/bin/sh
# Installs the Debian packages occasiond needs and that are missing.
#   deps.sh build   the build dependencies
#   deps.sh test    the build dependencies and the tools the tests and benchmarks use
set -e
build="gcc make pkg-config libcurl4-openssl-dev libhpdf-dev libyaml-dev libsqlite3-dev libsystemd-dev tzdata"
test="bc poppler-utils qpdf python3 python3-aiosmtpd openssl sqlite3"
want=$build
[ "$1" = test ] && want="$build $test"
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
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
