// Latency of ranking one user's candidates (default 500) with each ranker design the trainer can
// build, on one onnxruntime worker thread each, plus the served path end to end (Rank over gRPC:
// validation, encoding, worker hop, model). Latency does not depend on how well a model is trained,
// so each variant is trained briefly (--train-seconds) on the world; quality is eval-ranker's job.
//
//   node --import tsx bench/ranker-latency.ts [--world data/small] [--candidates 500] [--runs 300] [--rounds 3] [--train-seconds 60] [--doc]
//
// Every design is loaded once, then measured in --rounds rounds, each round running every design
// in turn, so a round's ratios share one moment's machine load; the table gives medians over rounds.
//
// Designs:
//   sequence       encode the action sequence once, every candidate attends to it (served)
//   no_sequence    no sequence at all (the ablation): the floor
//   early_fusion   candidate added to every action token, one encoder pass per candidate (TransAct-style)
// and, for the served design: a short history (10 actions: the graph takes [1, n]) and 2 intra-op threads.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ActionType, type Action, type UserContext } from '../generated/feedloom/v1/common.js';
import { RankerClient, type RankRequest } from '../generated/feedloom/v1/ranker.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { OnnxSessionPool } from '../libs/onnx/pool.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { buildRankerDataset } from '../libs/ranking/dataset.js';
import {
  encodeRankInputs,
  PROBE_FILE,
  RANKER_FILE,
  RANKER_KIND,
  type RankerEncoding,
} from '../libs/ranking/encoding.js';
import { runPython, trainerScript } from '../libs/python/python.js';
import { feedsFor } from '../services/ranker/model-checks.js';
import { spawnComponent } from '../services/ops/mesh/run.js';
import { median, percentile, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    world: { type: 'string', default: 'data/small' },
    candidates: { type: 'string', default: '500' },
    runs: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    'train-seconds': { type: 'string', default: '60' },
    doc: { type: 'boolean', default: false },
  },
});
const worldDir = resolve(values.world!);
const N = Number(values.candidates);
const RUNS = Number(values.runs);
const ROUNDS = Number(values.rounds);
const WARMUP = 30;
/** Early fusion is ~100× slower: fewer calls keep a round within minutes (its p99 is then the 99th of fewer). */
const SLOW_RUNS = Math.min(RUNS, 60);

const work = await mkdtemp(join(tmpdir(), 'feedloom-bench-ranker-'));
const log = (line: string) => console.error(line);
try {
  const dataset = await buildRankerDataset({ worldDir, outDir: join(work, 'dataset'), maxValSessions: 10, log });
  const enc = dataset.manifest.encoding;
  const variants = ['sequence', 'no_sequence', 'early_fusion'] as const;
  for (const v of variants) {
    log(`training ${v} briefly (latency only) …`);
    await runPython(
      trainerScript('ranker.py'),
      [
        '--data',
        dataset.dir,
        '--out',
        join(work, v),
        '--report',
        join(work, `${v}.json`),
        '--variant',
        v,
        '--epochs',
        '1',
        '--max-train-seconds',
        values['train-seconds']!,
        '--skip-eval',
        '--quiet',
      ],
      { log },
    );
  }

  // One realistic request: a user with a full 100-action history, N catalog items proposed by 1–3 generators.
  const items = enc.vocab.items.slice(2);
  const now = Date.now();
  const actions = (n: number): Action[] =>
    Array.from({ length: n }, (_, i) => ({
      itemId: items[(i * 37) % items.length],
      type: ActionType.ACTION_TYPE_CLICK + (i % 3),
      timeMs: now - i * 1_800_000,
      boardId: '',
    }));
  const candidates = Array.from({ length: N }, (_, i) => ({
    itemId: items[(i * 13 + 5) % items.length],
    sources: Array.from({ length: 1 + (i % 3) }, (_, k) => ({
      generator: ['popular', 'item_cooccurrence', 'two_tower'][k],
      rank: (i + k * 7) % 200,
    })),
  }));
  const lookup = () => ({
    topic: enc.vocab.topics[2],
    creatorId: enc.vocab.creators[2],
    locale: 'en-US',
    createdMs: now - 86_400_000 * 3,
    popularity: 5,
  });
  const feedsOf = (history: number, e: RankerEncoding) =>
    encodeRankInputs({ recentActions: actions(history), locale: 'en-US' }, candidates, lookup, now, e);

  const measure = async (label: string, run: () => Promise<unknown>, runs = RUNS) => {
    for (let i = 0; i < Math.min(WARMUP, runs); i++) await run();
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await run();
      ms.push(performance.now() - t);
    }
    const row = { label, p50: percentile(ms, 50), p99: percentile(ms, 99), min: Math.min(...ms) };
    log(`${label}: p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, min ${row.min.toFixed(2)} ms`);
    return row;
  };

  type Row = { label: string; p50: number; p99: number; min: number };
  /** A design: how to call it once, and how many calls a round makes. */
  type Design = { label: string; run: () => Promise<unknown>; runs?: number };
  const designs: Design[] = [];
  const pools: OnnxSessionPool[] = [];
  const onPool = async (variant: string, label: string, history: number, intraOpThreads = 1, runs = RUNS) => {
    const pool = await OnnxSessionPool.open(join(work, variant, RANKER_FILE), {
      workers: 1,
      intraOpThreads,
      name: `${variant}-${history}-${intraOpThreads}`,
    });
    pools.push(pool);
    const feeds = feedsFor(pool, feedsOf(history, enc));
    // Feeds are moved to the worker on every run, so each run gets its own copy (as each request would).
    designs.push({
      label,
      runs,
      run: () =>
        pool.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { ...t, data: t.data.slice() }]))),
    });
  };
  const SERVED = 'sequence: encode once + cross-attention (served), 100 actions';
  await onPool('sequence', SERVED, 100);
  await onPool('sequence', 'sequence, 10 actions (the graph takes [1, n])', 10);
  await onPool('sequence', 'sequence, 100 actions, 2 intra-op threads', 100, 2);
  await onPool('no_sequence', 'no_sequence (ablation): candidate features only', 100);
  await onPool('early_fusion', 'early_fusion: a full sequence pass per candidate, 100 actions', 100, 1, SLOW_RUNS);
  designs.push({ label: 'encoding alone (encodeRankInputs, JS thread)', run: async () => feedsOf(100, enc) });

  // The served path: a Ranker server with the sequence model from a registry, Rank over gRPC.
  const registry = new ModelRegistry(join(work, 'registry'));
  const report = JSON.parse(await readFile(join(work, 'sequence.json'), 'utf8'));
  const info = await registry.create('ranker', async (dir) => {
    const { copyFile } = await import('node:fs/promises');
    await copyFile(join(work, 'sequence', RANKER_FILE), join(dir, RANKER_FILE));
    await copyFile(join(work, 'sequence', PROBE_FILE), join(dir, PROBE_FILE));
    return {
      kind: RANKER_KIND,
      variant: 'sequence',
      encoding: enc,
      onnx: report.onnx,
      heads: ['click', 'save', 'hide'],
      dataWindow: dataset.manifest.dataWindow,
      validationWindow: dataset.manifest.validationWindow,
      metrics: report.metrics,
      training: report.training,
    };
  });
  for (const s of ['trained', 'validated', 'published'] as const) await registry.setState('ranker', info.version, s);
  // The ranker in its own process, as deployed (the client's work stays out of its event loop).
  const raw = JSON.parse(await readFile('config/mesh.json', 'utf8'));
  raw.world = { ...raw.world, dir: worldDir };
  raw.registryDir = registry.root;
  raw.snapshotPollMs = 3_600_000;
  raw.services.ranker = { ...raw.services.ranker, port: 0 };
  const configPath = join(work, 'mesh.json');
  await writeFile(configPath, JSON.stringify(raw));
  const { child, address } = await spawnComponent(configPath, 'ranker');
  const client = connect(RankerClient, address);
  const user: UserContext = {
    userId: 'u1',
    recentActions: actions(100),
    followedCreators: [],
    followedBoards: [],
    topics: [],
    locale: 'en-US',
    requestTimeMs: now,
    ownBoards: [],
    blockedCreators: [],
    seenItems: [],
  };
  const request: RankRequest = { user, candidates, requestId: '', modelVersion: '' };
  designs.push({
    label: `Rank over gRPC to the ranker process, ${N} candidates (served path, 2 workers)`,
    run: () => callUnary(client, 'rank', request, { timeoutMs: 10_000 }),
  });

  const byRound: Row[][] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      log(`round ${r + 1}/${ROUNDS}`);
      const round: Row[] = [];
      for (const d of designs) round.push(await measure(d.label, d.run, d.runs));
      byRound.push(round);
    }
  } finally {
    client.close();
    await new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGTERM');
    });
    for (const pool of pools) await pool.close();
  }
  // Per design: medians over rounds of p50, p99, min, and of its p50 over the served design's p50 in the same round.
  const served = designs.findIndex((d) => d.label === SERVED);
  const rows = designs.map((d, i) => ({
    label: d.label,
    runs: d.runs ?? RUNS,
    p50: median(byRound.map((round) => round[i].p50)),
    p99: median(byRound.map((round) => round[i].p99)),
    min: median(byRound.map((round) => round[i].min)),
    ratio: median(byRound.map((round) => round[i].p50 / round[served].p50)),
  }));

  const body = [
    `One user, ${N} candidates; per round and design, sequential calls after up to ${WARMUP} warm-up calls; d=32, 2 layers, 2 heads;`,
    `onnxruntime-node, one worker thread, 1 intra-op thread unless noted. Medians over ${ROUNDS} rounds; each round runs every design in turn,`,
    'so "× served" (p50 over the served design\'s p50 in the same round) compares designs under the same load.',
    '',
    table(
      ['design', 'calls/round', 'p50 ms', 'p99 ms', 'min ms', '× served (p50)'],
      rows.map((r) => [r.label, r.runs, r.p50, r.p99, r.min, r.ratio]),
    ),
    '',
    'min is the fastest call: what the design costs when nothing else wants the CPU; p50/p99 include the contention of a shared 2-core machine.',
    'The target is p50 ≤ 10 ms for ranking 500 candidates; early fusion (a full sequence pass per candidate) is the alternative the served design avoids.',
  ].join('\n');
  console.log(body);
  if (values.doc)
    writeSection(
      'ranker-latency',
      `Ranker: ${N} candidates for one user`,
      `node --import tsx bench/ranker-latency.ts --world ${values.world} --candidates ${N} --runs ${RUNS} --rounds ${ROUNDS} --train-seconds ${values['train-seconds']} --doc`,
      body,
    );
} finally {
  await rm(work, { recursive: true, force: true });
}
