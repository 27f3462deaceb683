#!/usr/bin/env bash
# Prints the directory holding llhttp's C sources (api.c, http.c, llhttp.c, llhttp.h).
# Uses Debian's node-llhttp when it is installed; otherwise downloads that same .deb with apt and
# unpacks it into the build directory ($1), which needs no root and does not pull in Node.js.
set -euo pipefail
out=${1:?usage: fetch-llhttp.sh BUILD_DIR}
if [ -f /usr/share/llhttp/llhttp.c ] && [ -f /usr/share/include/llhttp/llhttp.h ]; then
  echo /usr/share; exit 0
fi
dest="$out/node-llhttp"
if [ ! -f "$dest/usr/share/llhttp/llhttp.c" ]; then
  mkdir -p "$dest/deb"
  ( cd "$dest/deb" && rm -f ./*.deb && apt-get download node-llhttp >/dev/null 2>&1 ) || {
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && ( cd "$dest/deb" && apt-get download node-llhttp >/dev/null );
    else echo "kvd: cannot download node-llhttp; run: sudo apt-get update" >&2; exit 1; fi; }
  dpkg-deb -x "$dest"/deb/node-llhttp_*.deb "$dest"
fi
echo "$dest/usr/share"
