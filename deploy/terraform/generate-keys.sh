#!/bin/sh
# Regenerates attested-pack-keys/keys.tf from a published build manifest, then lints it. The
# key policies come only from `attested-pack policy generate` (one source of truth): never edit
# keys.tf by hand. Usage (from the repository root or anywhere with attested-pack on PATH):
#   deploy/terraform/generate-keys.sh build-manifest.json ENCLAVE_ROLE_ARN ADMIN_ARN READER_ARN [EDITOR_ARN] [-- extra policy generate flags]
# Rollout: add `-- --also-manifest old-build-manifest.json` (docs/operations.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ap=${ATTESTED_PACK:-attested-pack}
[ $# -ge 4 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
manifest=$1 role=$2 admin=$3 readers=$4
shift 4
editors=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then editors=$1; shift; fi
[ "${1:-}" = "--" ] && shift
# Generate and lint a temporary file; keys.tf is replaced (atomically, by rename) only when
# both succeed, so a failure never leaves an empty or half-written keys.tf behind.
target="$here/attested-pack-keys/keys.tf"
tmp="$here/attested-pack-keys/.keys.$$.tf"
trap 'rm -f "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
$ap policy generate --format terraform --manifest "$manifest" --role "$role" --admin "$admin" \
  --readers "$readers" ${editors:+--editors "$editors"} "$@" > "$tmp"
also=""
prev=""
for a in "$@"; do [ "$prev" = "--also-manifest" ] && also="$also --also-manifest $a"; prev=$a; done
# shellcheck disable=SC2086
$ap policy lint "$tmp" --manifest "$manifest" $also --role "$role"
mv -f "$tmp" "$target"
