#!/usr/bin/env bash
# Builds faiss-node from its npm source against Debian's libfaiss (its own install
# script downloads a binary, which cannot work offline). Idempotent.
set -euo pipefail
pkg="$(cd "$(dirname "$0")/.." && pwd)/node_modules/faiss-node"
[ -d "$pkg" ] || { echo "faiss-node is not installed; run npm ci first" >&2; exit 1; }
if [ -f "$pkg/build/Release/faiss-node.node" ] && node -e "require('$pkg')" 2>/dev/null; then
  exit 0
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
npx --no-install cmake-js compile --log-level warn >/tmp/faiss-node-build.log 2>&1 || {
  tail -40 /tmp/faiss-node-build.log >&2; exit 1; }
node -e "require('$pkg')" 
echo "faiss-node built against system faiss"
