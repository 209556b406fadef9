#!/usr/bin/env bash
# Adds Debian's bookworm-backports suite (deb and deb-src) to apt, using the mirror the
# machine's own apt sources already name for bookworm — this repository never names a
# registry host. Idempotent; needs root. Prints nothing on success.
set -euo pipefail
list=/etc/apt/sources.list.d/attested-pack-bookworm-backports.sources
if [ -f "$list" ]; then
  # Already added; refresh the package lists only if they lack the suite (e.g. lists cleared).
  ls /var/lib/apt/lists/*bookworm-backports*Packages* >/dev/null 2>&1 && exit 0
  [ "$(id -u)" = 0 ] || { echo "apt-backports: run apt-get update as root" >&2; exit 1; }
  exec apt-get update -qq -o DPkg::Lock::Timeout=600
fi
[ "$(id -u)" = 0 ] || { echo "apt-backports: adding the bookworm-backports suite needs root" >&2; exit 1; }
# The first URI that serves the plain "bookworm" suite, from deb822 or one-line sources.
mirror=$(awk '
  /^URIs:/ { uri = $2 }
  /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri != "") { print uri; exit } }
  /^deb[ \t]/ { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == "bookworm") { print $i; exit } }
' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)
if [ -z "$mirror" ]; then
  echo "apt-backports: no apt source names the bookworm suite; add one, then re-run" >&2
  exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$list" <<SRC
Types: deb deb-src
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: $keyring
SRC
apt-get update -qq -o DPkg::Lock::Timeout=600
