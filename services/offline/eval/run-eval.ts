import { performance } from 'node:perf_hooks';
import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { meshChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { catalogCoverage, mean, overlapWithOthers, percentile, recallAtK } from '../../../libs/eval/metrics.js';
import { policyFromConfig } from '../../../libs/blend/policy.js';
import { itemCatalogOf } from '../../../libs/blend/catalog.js';
import type { SourceAnswer } from '../../../libs/blend/types.js';
import { itemMeta } from '../../../libs/data/batch/jobs/item_meta.js';
import { loadGeneratorModule } from '../../generators/registry.js';
import { startServers } from '../../servers.js';
import { prepareAsOf } from '../trainer/prepare-as-of.js';
import { recordedAnswer, ReplayedBlend, type RecordedAnswers } from './replayed-blend.js';
import { testDayEngagements } from './test-set.js';
import { tuneWeights, type WeightTuning } from '../../../libs/blend/tune-weights.js';
import { trueVsOracle } from './true-vs-oracle.js';
import { prepareOtherUserTower, serveOtherUserTower } from './other-user-tower.js';
import { evalVariants, type VariantEvalReport } from './variant-eval.js';

export interface EvalRow {
  name: string;
  kind: string;
  recall: Record<string, number>;
  coverage: number;
  overlap: number;
  /** Blended recall@maxK lost when this generator is left out. */
  marginal: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /**
   * On a simulated world, "true@K ÷oracle": the list's expected clicks plus saves if shown (the
   * simulator's own P(engage | shown), summed over its first K) over the oracle's; at most 1.
   */
  trueVsOracle?: Record<string, number>;
}

export interface EvalReport {
  world: string;
  testDay: string;
  users: number;
  ks: number[];
  generators: EvalRow[];
  blend: EvalRow;
  /** The blend as served: each source cut to its configured quota (the eval asks every source for max K). */
  servedBlend?: EvalRow;
  /**
   * On a simulated world: the K items with the highest true P(engage | shown) among those the user
   * does not know. trueAtK is its mean expected clicks plus saves per user if shown (what every
   * row's trueVsOracle divides by); recall is its recall of the logged engagements, which depend on
   * what the simulated feed showed, so other rows can beat it there.
   */
  oracle?: { recall: Record<string, number>; trueAtK?: Record<string, number> };
  /** With tuneWeights: blender weights learned on half the users, checked on the other half. */
  tuning?: WeightTuning;
  /** With variants: the config as written and each experiment's variant, replayed over the test users. */
  variants?: VariantEvalReport;
}

/**
 * Time-split evaluation: snapshots and user contexts as of the start of the world's last day,
 * recall against what each user clicked or saved that day. Every generator is served for real
 * (all-in-one mesh, gRPC); the blend runs the blender's own stages over their answers.
 */
export async function runEval(
  mesh: MeshConfig,
  options: { ks: number[]; maxUsers: number; tuneWeights?: boolean; variants?: boolean; log?: (line: string) => void },
): Promise<EvalReport> {
  const log = options.log ?? (() => {});
  const worldDir = mesh.world.dir;
  const manifest = await readWorldManifest(worldDir);
  const testDay = manifest.days - 1;
  const asOfMs = manifest.startMs + testDay * DAY_MS;
  const maxK = Math.max(...options.ks);

  const { snapshotsDir, registryDir } = await prepareAsOf(mesh, worldDir, asOfMs, log);
  const relevant = await testDayEngagements(worldDir, asOfMs, options.maxUsers);
  const users = [...relevant.keys()];
  log(`${users.length} test users with engagement on ${new Date(asOfMs).toISOString().slice(0, 10)}`);

  const catalog = itemCatalogOf((await readSnapshot(snapshotsDir, itemMeta)).rows);

  const evalMesh: MeshConfig = structuredClone(mesh);
  evalMesh.world = { ...evalMesh.world, dir: worldDir, snapshotsDir, asOfMs };
  evalMesh.registryDir = registryDir;
  evalMesh.generators = evalMesh.generators.map((g) => ({ ...g, enabled: true, quota: maxK, deadlineMs: 10_000 }));
  // The user tower the config does not serve here, listed beside two_tower but not blended.
  const other = await prepareOtherUserTower(evalMesh, { log });
  const running = await startServers(evalMesh, { ephemeralPorts: true });
  const otherGenerator = other && (await serveOtherUserTower(evalMesh, other, running));
  const events = connect(EventsClient, running.addresses.get('events')!, meshChannelOf(mesh));
  const clients = await Promise.all(
    evalMesh.generators.map(async (g) => ({
      name: g.name,
      kind: (await loadGeneratorModule(g.name)).kind as string,
      client: connect(CandidateGeneratorClient, running.addresses.get(`generator.${g.name}`)!, meshChannelOf(mesh)),
      blended: true,
    })),
  );
  if (otherGenerator)
    clients.push({
      name: otherGenerator.name,
      kind: otherGenerator.kind,
      client: connect(CandidateGeneratorClient, otherGenerator.address, meshChannelOf(mesh)),
      blended: false,
    });

  const lists = new Map<string, Map<string, string[]>>(clients.map((c) => [c.name, new Map()]));
  const latencies = new Map<string, number[]>(clients.map((c) => [c.name, []]));
  const errors = new Map<string, number>(clients.map((c) => [c.name, 0]));
  const knownByUser = new Map<string, Set<string>>();
  const answersByUser = new Map<string, RecordedAnswers>();
  try {
    for (const [i, userId] of users.entries()) {
      const user = await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, { timeoutMs: 10_000 });
      // Only new discoveries count: the feed never re-shows what the user saw or engaged with before.
      const known = new Set([...user.seenItems, ...user.recentActions.map((a) => a.itemId)]);
      for (const item of known) relevant.get(userId)!.delete(item);
      knownByUser.set(userId, known);
      const answers: SourceAnswer[] = [];
      for (const g of clients) {
        const started = performance.now();
        let candidates: Candidate[] = [];
        try {
          candidates = (
            await callUnary(g.client, 'generate', { user, quota: maxK, requestId: `eval-${i}` }, { timeoutMs: 10_000 })
          ).candidates;
          latencies.get(g.name)!.push(performance.now() - started);
        } catch {
          errors.set(g.name, errors.get(g.name)! + 1);
        }
        lists.get(g.name)!.set(
          userId,
          candidates.map((c) => c.itemId),
        );
        if (g.blended) answers.push(recordedAnswer(g.name, candidates));
      }
      answersByUser.set(userId, { user, answers });
      if ((i + 1) % 100 === 0) log(`  ${i + 1}/${users.length} users`);
    }
  } finally {
    events.close();
    for (const c of clients) c.client.close();
    await otherGenerator?.stop();
    await running.stop();
  }

  const policy = policyFromConfig(evalMesh);
  const blend = new ReplayedBlend(policy, catalog, answersByUser, maxK);
  const servedQuota = new Map(mesh.generators.map((g) => [g.name, g.quota]));
  const meanRecall = (listOf: (u: string) => string[], k: number) =>
    mean(scored.map((u) => recallAtK(listOf(u), relevant.get(u)!, k)));
  const recallRow = (listOf: (u: string) => string[]) =>
    Object.fromEntries(options.ks.map((k) => [`@${k}`, meanRecall(listOf, k)]));

  // Users whose every engagement that day was a re-engagement have nothing new to find.
  const scored = users.filter((u) => relevant.get(u)!.size > 0);
  const blendRecall = meanRecall((u) => blend.page(u), maxK);
  const rows: EvalRow[] = clients.map((g) => {
    const mine = lists.get(g.name)!;
    // Overlap with the blended generators (the other user tower's row is not one).
    const others = clients.filter((o) => o.name !== g.name && o.blended).map((o) => lists.get(o.name)!);
    return {
      name: g.name,
      kind: g.kind,
      recall: recallRow((u) => mine.get(u)!),
      coverage: catalogCoverage(mine.values(), catalog.size, maxK),
      // Only over users it answered: an empty list overlaps nothing and says nothing.
      overlap: mean(
        users
          .filter((u) => mine.get(u)!.length > 0)
          .map((u) =>
            overlapWithOthers(
              mine.get(u)!,
              others.map((o) => o.get(u)!),
              100,
            ),
          ),
      ),
      marginal: g.blended ? blendRecall - meanRecall((u) => blend.page(u, { without: g.name }), maxK) : 0,
      p50Ms: percentile(latencies.get(g.name)!, 50),
      p99Ms: percentile(latencies.get(g.name)!, 99),
      errors: errors.get(g.name)!,
    };
  });
  const blendRow = (name: string, lists: Map<string, string[]>): EvalRow => ({
    name,
    kind: '',
    recall: recallRow((u) => lists.get(u)!),
    coverage: catalogCoverage(lists.values(), catalog.size, maxK),
    overlap: 0,
    marginal: 0,
    p50Ms: 0,
    p99Ms: 0,
    errors: 0,
  });
  const blendPages = new Map(users.map((u) => [u, blend.page(u)]));
  const servedPages = new Map(users.map((u) => [u, blend.page(u, { quotas: servedQuota })]));
  const report: EvalReport = {
    world: worldDir,
    testDay: new Date(asOfMs).toISOString().slice(0, 10),
    users: scored.length,
    ks: options.ks,
    generators: rows,
    blend: blendRow('blend (all)', blendPages),
    servedBlend: blendRow('blend (served quotas)', servedPages),
  };
  if (options.tuneWeights) {
    log('tuning blender weights (coordinate ascent on half the users) …');
    const halves = { tune: scored.filter((_, i) => i % 2 === 0), holdout: scored.filter((_, i) => i % 2 === 1) };
    report.tuning = tuneWeights(
      clients.filter((c) => c.blended).map((c) => c.name),
      Object.fromEntries(policy.weights),
      (w, half) => mean(halves[half].map((u) => recallAtK(blend.page(u, { weights: w }), relevant.get(u)!, maxK))),
    );
  }
  if (options.variants) {
    log("replaying the test users through each experiment variant's policy …");
    report.variants = evalVariants(mesh, {
      recorded: answersByUser,
      recallAt: (u, page, k) => recallAtK(page, relevant.get(u)!, k),
      users: scored,
      catalog,
      ks: options.ks,
    });
  }
  if (manifest.hasTruth) {
    const listed = [
      ...rows.map((r) => [r, lists.get(r.name)!] as const),
      [report.blend, blendPages] as const,
      [report.servedBlend!, servedPages] as const,
    ];
    const truth = await trueVsOracle({
      worldDir,
      dayIndex: testDay,
      users: scored,
      ks: options.ks,
      known: knownByUser,
      lists: new Map(listed.map(([row, byUser]) => [row.name, (u: string) => byUser.get(u)!])),
    });
    for (const [row] of listed) row.trueVsOracle = truth.ratios.get(row.name);
    report.oracle = { recall: recallRow((u) => truth.oracleLists.get(u)!), trueAtK: truth.oracleTrueAtK };
  }
  return report;
}
