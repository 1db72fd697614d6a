#!/usr/bin/env bash
# make bench: the benchmark suite. Each benchmark run with --doc (or blend-load, always) writes its
# own section of docs/BENCHMARKS.md: the command, the machine, the date and medians over repeated
# runs. Loopback only, bounded in time: about 35 min on 2 quiet cores, of which the retraining cycle
# is 5-10 min and the ANN build at 1M items 6-7 min.
#
#   BENCH_SECONDS=60 BENCH_RUNS=3   Blend load per run and the number of runs (the targets: 60 s, 50/s)
#   BENCH_SUSTAINED_RPS=15          the second, sustainable Blend rate measured in all-in-one mode
#   BENCH_SOAK_SECONDS=60           the fault soak's load after the faults (0 skips the soak)
#   BENCH_ALL=1                     also the ANN development benchmarks (leak, event loop, host load;
#                                   they print their tables, written up by hand in the doc)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${BENCH_SECONDS:-60}"
RUNS="${BENCH_RUNS:-3}"
SOAK="${BENCH_SOAK_SECONDS:-60}"
run() { echo "== $* ($(date -u +%H:%M:%S))"; node --import tsx "$@"; }

./bin/feedloom.js build-world --preset small >/dev/null

# Blend: latency, throughput and the blender's own time, in both run modes (every generator, the ranker).
run bench/blend-load.ts --mode all-in-one --rps 50 --seconds "$SECONDS_PER_RUN" --runs "$RUNS"
# The rate one all-in-one process sustains within the p99 target (BENCH_SUSTAINED_RPS, default 15).
run bench/blend-load.ts --mode all-in-one --rps "${BENCH_SUSTAINED_RPS:-15}" --seconds "$SECONDS_PER_RUN" --runs "$RUNS" --section blend-all-in-one-sustained
# CPU per Blend and the blender's own time with every source answering (deadlines out of the way),
# with the mesh's calls in-process (the default) and over loopback gRPC (before/after).
run bench/blend-closed-loop.ts --seconds 20 --runs "$RUNS" --deadlines 2000 --doc
FEEDLOOM_IN_PROCESS_CALLS=0 run bench/blend-closed-loop.ts --seconds 20 --runs "$RUNS" --deadlines 2000 --doc --section blend-cost-all-sources-loopback
run bench/blend-load.ts --mode processes --rps 50 --seconds "$SECONDS_PER_RUN" --runs "$RUNS"
# Overload: 0.7× and 2× the measured capacity, shedding on and off side by side, generators on the
# main thread and on one worker thread.
run bench/blend-shedding.ts --generator-threads 0 --seconds 20 --runs "$RUNS" --doc
run bench/blend-shedding.ts --generator-threads 1 --seconds 20 --runs "$RUNS" --doc
# The tail below capacity: p99 ÷ p50 at 0.7 × the capacity each run measures, with the main thread's GCs and memory growth beside it.
run bench/blend-tail.ts --seconds "$SECONDS_PER_RUN" --runs "$RUNS" --section blend-tail

# Each generator alone, one call at a time: latency and CPU per call.
run bench/generator-latency.ts --calls 100 --runs "$RUNS" --doc

# The ranker: 500 candidates, each design and the served gRPC path.
run bench/ranker-latency.ts --world data/small --train-seconds 20 --doc

# ANN: HNSW recall and latency against exact search at 1,000,000 × 64.
run bench/ann-hnsw-recall.ts --items 1000000 --dim 64 --queries 500 --ef 128,256,512 --doc

# The indexer, and one retraining cycle.
run bench/indexer-throughput.ts --world data/default --runs "$RUNS" --doc
if ./bin/feedloom.js --help 2>/dev/null | grep '^ *retrain' >/dev/null; then
  run bench/retrain-cycle.ts --world data/small --runs 1 --doc
else
  echo "== retrain-cycle skipped: this build has no \`feedloom retrain\`"
fi

# Hostile clients (issue 16): every attack of the security audit for 60 s while Blends flow at 10/s.
run bench/hostile-soak.ts --seconds 60 --rate 10 --doc
run bench/events-startup.ts --events 100000,1000000 --runs 3 --doc

# Soak: the fault test (kill -9, a slow generator, a ranker restart) with a longer load after the faults.
if [ "$SOAK" -gt 0 ]; then
  echo "== soak: test/blend-under-faults.test.ts with FEEDLOOM_SOAK_SECONDS=$SOAK"
  FEEDLOOM_SOAK_SECONDS="$SOAK" npx --no-install vitest run test/blend-under-faults.test.ts
fi

if [ -n "${BENCH_ALL:-}" ]; then
  run bench/ann-search-leak.ts --searches 1000000
  run bench/ann-event-loop.ts
  run bench/ann-host-load.ts
fi
echo "== done: docs/BENCHMARKS.md"
