#!/usr/bin/env bash
# Builds faiss-node from its npm source against Debian's libfaiss (its own install script
# downloads a binary, which cannot work offline), with feedloom's patch applied first:
# scripts/patches/faiss-node+0.5.1.patch (no per-search leak, Float32Array input, searches off the
# JS thread, efSearch/nprobe; see scripts/patches/README.md). Idempotent: exits at once when the
# built addon already carries the patch.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$root/node_modules/faiss-node"
patch_file="$root/scripts/patches/faiss-node+0.5.1.patch"
patched_files=(src/faiss.cc lib/index.d.ts)
[ -d "$pkg" ] || { echo "faiss-node is not installed; run npm ci first" >&2; exit 1; }

version="$(node -p "require('$pkg/package.json').version")"
if [ "$version" != "0.5.1" ]; then
  echo "faiss-node $version is installed, but $patch_file is for 0.5.1: port the patch first (scripts/patches/README.md)" >&2
  exit 1
fi
marker() { grep -o 'FEEDLOOM_FAISS_NODE_PATCH [0-9]*' "$1" 2>/dev/null | head -1 | cut -d' ' -f2 || true; }
want="$(marker "$patch_file")"
built_ok() { node -e "process.exit(require('$pkg').FEEDLOOM_PATCH === $want ? 0 : 1)" 2>/dev/null; }
if [ -f "$pkg/build/Release/faiss-node.node" ] && built_ok; then
  exit 0
fi

# Patch the pristine sources; keep them as *.orig so that a newer patch can be applied later.
have="$(marker "$pkg/src/faiss.cc")"
if [ "$have" != "$want" ]; then
  for f in "${patched_files[@]}"; do
    if [ -n "$have" ]; then
      [ -f "$pkg/$f.orig" ] || { echo "$pkg/$f carries an older patch and $f.orig is gone; reinstall faiss-node (npm ci)" >&2; exit 1; }
      cp "$pkg/$f.orig" "$pkg/$f"
    else
      cp "$pkg/$f" "$pkg/$f.orig"
    fi
  done
  if command -v patch >/dev/null; then
    patch -s -p1 -d "$pkg" --forward --batch --no-backup-if-mismatch < "$patch_file"
  else
    (cd "$pkg" && GIT_DIR=/nonexistent git apply "$patch_file")
  fi
  echo "applied $(basename "$patch_file")"
fi

mkdir -p "$pkg/deps/faiss"
cat > "$pkg/deps/faiss/CMakeLists.txt" <<'CMAKE'
find_package(OpenMP REQUIRED)
set_target_properties(OpenMP::OpenMP_CXX PROPERTIES IMPORTED_GLOBAL TRUE)
find_package(faiss REQUIRED)
set_target_properties(faiss PROPERTIES IMPORTED_GLOBAL TRUE)
set_property(TARGET faiss APPEND PROPERTY INTERFACE_COMPILE_OPTIONS
             -include ${CMAKE_CURRENT_SOURCE_DIR}/compat.h)
CMAKE
# faiss 1.7.3 names the id type faiss::Index::idx_t; faiss-node expects faiss::idx_t.
cat > "$pkg/deps/faiss/compat.h" <<'HDR'
#pragma once
#include <faiss/Index.h>
namespace faiss { using idx_t = Index::idx_t; }
HDR
cd "$pkg"
log="${TMPDIR:-/tmp}/faiss-node-build.log"
npx --no-install cmake-js compile --log-level warn >"$log" 2>&1 || {
  tail -40 "$log" >&2; exit 1; }
built_ok || { echo "the built faiss-node does not report FEEDLOOM_PATCH=$want; see $log" >&2; exit 1; }
echo "faiss-node built against system faiss, feedloom patch $want"
