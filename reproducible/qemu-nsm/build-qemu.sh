#!/usr/bin/env bash
# Builds QEMU's qemu-system-x86_64 with virtio-nsm (QEMU >= 10, needs libcbor) from Debian's
# pinned source package and caches it OUTSIDE the clone, so only the first run pays
# (about 8-15 minutes on 2 cores). Test tool only: the boot test needs an NSM device in the
# guest; Debian's bookworm QEMU (7.2) has none.
#
# Prints the cache directory (bin/qemu-system-x86_64, share/ firmware for -L) on stdout.
# --check: print it and exit 0 only if the cache is complete; exit 1 otherwise (no build).
set -euo pipefail

PACKAGE=qemu
VERSION='1:10.0.2+ds-2+deb13u1~bpo12+1'
ORIG=qemu_10.0.2+ds.orig.tar.xz
# SHA-256 of the orig tarball as Debian's Sources index lists it (checked again here: a
# tarball that differs is refused, whatever apt said).
ORIG_SHA256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/attested-pack/qemu-nsm"
# Keyed by the source version AND this script's own digest: changing the recipe (configure
# flags, firmware) builds afresh instead of reusing a binary made another way.
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
cache="$cache_root/${VERSION//[:~]/_}-$recipe"
stamp="$cache/complete"

if [ -f "$stamp" ] && [ -x "$cache/bin/qemu-system-x86_64" ]; then
  echo "$cache"
  exit 0
fi
if [ "${1:-}" = --check ]; then exit 1; fi

log() { echo "build-qemu: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "first build needs root (apt-get); cache missing at $cache"; exit 1; }
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
"$here/../apt-backports.sh"

log "installing build dependencies"
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
  gcc make pkg-config ninja-build flex bison python3-venv xz-utils \
  libglib2.0-dev libpixman-1-dev libcbor-dev libgnutls28-dev libfdt-dev zlib1g-dev seabios \
  meson/bookworm-backports python3-pycotap/bookworm-backports >&2

work="$(mktemp -d "${TMPDIR:-/tmp}/attested-pack-qemu.XXXXXX")"
# Kept on failure (a long compile is worth inspecting), removed on success.
trap 'log "failed; build tree kept in $work"' ERR
cd "$work"
log "fetching source package $PACKAGE=$VERSION"
# Only the orig tarball is needed (and the mirror may not serve the .dsc for backports):
# apt's own exit status is ignored, the pinned digest below decides.
apt-get source --download-only -qq "$PACKAGE=$VERSION" >&2 || true
[ -f "$ORIG" ] || { log "INPUT_UNAVAILABLE: $ORIG was not downloaded"; exit 1; }
got=$(sha256sum "$ORIG" | cut -d' ' -f1)
if [ "$got" != "$ORIG_SHA256" ]; then
  log "INPUT_DIGEST_MISMATCH: $ORIG sha256 $got, pinned $ORIG_SHA256"
  exit 1
fi

tar -xf "$ORIG"
cd qemu-10.0.2
src="$(pwd)"
# The +ds tarball has no pc-bios blobs: meson.build would unpack edk2 firmware from them.
sed -i 's/^\( *unpack_edk2_blobs = \)bzip2.found()$/\1false/' meson.build
grep -q '^ *unpack_edk2_blobs = bzip2.found()$' meson.build && { log "meson.build: edk2 unpack still on"; exit 1; }
grep -q '^ *unpack_edk2_blobs = false$' meson.build || { log "meson.build: edk2 unpack not found"; exit 1; }

log "configuring"
mkdir build && cd build
# /usr/bin/python3: the Debian interpreter that sees meson and pycotap from the packages
# above (a pyenv or venv python3 first on PATH would not).
../configure --python=/usr/bin/python3 --target-list=x86_64-softmmu --enable-libcbor --enable-gnutls \
  --enable-fdt=system --disable-download --disable-install-blobs \
  --disable-docs --disable-gtk --disable-sdl --disable-opengl --disable-vnc \
  --disable-spice --disable-curses --disable-virglrenderer --disable-vte \
  --disable-cocoa --disable-dbus-display --disable-werror --disable-xen >&2

log "building qemu-system-x86_64 (make -j$(nproc))"
make -j"$(nproc)" qemu-system-x86_64 >&2
# The -kernel option ROMs (linuxboot_dma.bin …) from QEMU's own source, with its own
# Makefile: configure wires them in only when it detects an i386 cross compiler, but the
# host gcc builds them (-m16).
mkdir -p optionrom
printf 'TOPSRC_DIR=%s\nCC=gcc\nOBJCOPY=objcopy\nPYTHON=/usr/bin/python3\n' "$src" > optionrom/config.mak
make -C optionrom -f "$src/pc-bios/optionrom/Makefile" TARGET_DIR= >&2

./qemu-system-x86_64 -device help | grep -q 'virtio-nsm-pci' ||
  { log "built QEMU has no virtio-nsm-pci device"; exit 1; }

rm -rf "$cache"
mkdir -p "$cache/bin" "$cache/share"
cp qemu-system-x86_64 "$cache/bin/"
# Firmware for -L: SeaBIOS from Debian, the -kernel option ROMs built from QEMU's source.
cp /usr/share/seabios/bios-256k.bin "$cache/share/"
for rom in linuxboot_dma.bin linuxboot.bin multiboot_dma.bin multiboot.bin kvmvapic.bin pvh.bin; do
  cp "optionrom/$rom" "$cache/share/"
done
printf '%s %s\n' "$VERSION" "$ORIG_SHA256" > "$stamp"
cd / && rm -rf "$work"
log "cached at $cache"
echo "$cache"
