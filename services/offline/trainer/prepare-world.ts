import { registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { readWorldManifest } from '../../../libs/data/world.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { prepareGenerators, type PrepareOptions } from './prepare-generators.js';
import { trainRanker } from './train-ranker.js';
import { policyFromConfig } from '../../../libs/blend/policy.js';
import { writeLearnedWeights, type LearnedWeights } from '../../../libs/blend/learned-weights.js';
import type { CandidateReplay } from '../../../libs/ranking/dataset.js';
import { rankerTopN, replayAnswers, replayRequests } from './candidate-replay.js';
import { learnBlendWeights } from './learn-blend-weights.js';

/**
 * Everything the configured mesh needs before it can serve, each step skipped when already done:
 * what its generators serve from (prepareGenerators: the world, its snapshots, the mf factors, a
 * two-tower version with its index) and a first ranker.
 */
export async function prepareWorld(mesh: MeshConfig, options: PrepareOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  await prepareGenerators(mesh, { ...options, log });
  const worldDir = mesh.world.dir;
  const registryRoot = registryDirOf(mesh);
  const ranker = mesh.services.ranker;
  if (ranker && !(await new ModelRegistry(registryRoot).latest(ranker.model, ['published', 'serving']))) {
    // A first ranker on a time budget, so a first `make up` stays minutes, not an hour; retrain for a
    // better one. On an imported log it learns from the blender's replayed candidates (one request per
    // user and cut, services.ranker.replayCuts: the trainer's own epochs fit the budget), and the world's blend weights are learned on
    // the same replay first, so the ranker learns to reorder the candidates the blender will send it.
    const imported = (await readWorldManifest(worldDir)).source === 'import';
    let replayed: CandidateReplay | undefined;
    if (imported) {
      const answers = await replayAnswers(mesh, worldDir, { log });
      if (mesh.services.blender.learnedWeights) {
        const learned = learnBlendWeights(answers, policyFromConfig(mesh, { learned: false }), rankerTopN(mesh), log);
        await writeLearnedWeights(worldDir, learned);
        log(`blend weights learned (${learned.objective}): ${describeLearned(learned)}`);
      }
      replayed = await replayRequests(mesh, answers, { log });
    }
    const budgetS = options.rankerBudgetS ?? RANKER_BUDGET_S;
    log(`training the ranker (${imported ? 'replayed candidates' : 'one epoch'}, at most ${budgetS} s) …`);
    const result = await trainRanker({
      worldDir,
      registryDir: registryRoot,
      model: ranker.model,
      ...(imported ? { replayed } : { epochs: 1 }),
      seed: options.seed,
      trainerArgs: ['--max-train-seconds', String(budgetS)],
      mesh,
      log,
    });
    if (result.info.state !== 'published')
      log(`the ranker did not pass validation (${result.info.state}); the blender will keep pre-score order`);
  }
}

const RANKER_BUDGET_S = 90;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The learned weights in one line: the objective before → after on the fitted and the held-out users, and every weight. */
export function describeLearned(l: LearnedWeights): string {
  return (
    `fitted users ${pct(l.before.tune)} → ${pct(l.after.tune)}, held-out users ${pct(l.before.holdout)} → ${pct(l.after.holdout)}; weights ` +
    Object.entries(l.weights)
      .map(([g, w]) => `${g} ${w}`)
      .join(', ')
  );
}
