#!/bin/sh
# Builds the single `kith` executable (dist/kith) with the permission set of
# `deno task start` (read/write not narrowed to ./.kith, because a binary's
# data directory is chosen when it runs: --data-dir or $KITH_DATA_DIR).
# deno compile downloads Deno's runtime (denort) unless DENORT_BIN names a
# local copy; where Deno's servers are unreachable it fails, and this script
# says so in one line. KITH_DIST_DIR overrides the output directory (default
# dist). A failed build leaves no output directory it created behind.
set -u
cd "$(dirname "$0")/.."
out=${KITH_DIST_DIR:-dist}
existed=0
[ -d "$out" ] && existed=1
log=$(mktemp)
if deno compile --allow-read --allow-write --allow-env=KITH_DATA_DIR --allow-net --output "$out/kith" main.ts >"$log" 2>&1; then
  rm -f "$log"
  echo "kith: built $out/kith"
  exit 0
fi
if grep -q "denort" "$log"; then
  echo "kith: deno compile could not fetch Deno's runtime (denort) from Deno's servers; build where they are reachable, or set DENORT_BIN to a local denort; meanwhile run the same entry point with: deno task start" >&2
else
  cat "$log" >&2
fi
rm -f "$log"
# deno compile creates the directory before it fails: remove it if this build created it, else only if left empty.
if [ "$existed" = 0 ]; then rm -rf "$out"; else rmdir "$out" 2>/dev/null || true; fi
exit 1
