#!/usr/bin/env bash
# make bench: every benchmark in turn. blend-load and ranker-latency write their own sections of
# docs/BENCHMARKS.md; the ANN benchmarks print their tables (their numbers are written up by hand
# in docs/BENCHMARKS.md, with the command that produced them). Loopback only, bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "== $*"; node --import tsx "$@"; }
./bin/feedloom.js build-world --preset small >/dev/null
run bench/ranker-latency.ts --world data/small --doc
run bench/ann-search-leak.ts --searches 1000000
run bench/ann-event-loop.ts
run bench/ann-host-load.ts
run bench/ann-hnsw-recall.ts --items 200000
run bench/blend-load.ts --mode all-in-one --rps 50 --seconds 60 --runs 3
run bench/blend-load.ts --mode processes --rps 50 --seconds 60 --runs 3
