#!/usr/bin/env bash
# Generates TypeScript (ts-proto) and a descriptor set (for server reflection) from proto/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/generated"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
protos=$(cd "$root/proto" && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd "$root/proto" && protoc \
  --plugin=protoc-gen-ts_proto="$root/node_modules/.bin/protoc-gen-ts_proto" \
  --ts_proto_out="$out.tmp" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,env=node,importSuffix=.js,forceLong=number,useOptionals=none,outputJsonMethods=true,outputPartialMethods=true \
  --descriptor_set_out="$out.tmp/descriptor.pb" --include_imports --include_source_info \
  $protos)
rm -rf "$out" && mv "$out.tmp" "$out"
