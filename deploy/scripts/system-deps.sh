#!/bin/sh
# Install the system packages qmark needs: Redis for `make run`, plus test servers for `make test`.
# usage: system-deps.sh run|test
set -eu
need="redis-server"
[ "${1:-run}" = test ] && need="$need dovecot-imapd postgresql prometheus systemd openssl"
missing=""
for pkg in $need; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing:$missing"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "qmark needs:$missing. Install it with: sudo apt-get install -y$missing" >&2
  exit 1
fi
