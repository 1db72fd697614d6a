// A world's learned blend weights: per-generator pre-score weights fitted offline on that world's
// own training data (services/offline/trainer/learn-blend-weights.ts, run by prepareWorld on an
// imported log), kept in the world directory beside its snapshots and models. The mesh config's
// weights are a default for any world; on a world that carries learned weights the blender, the
// eval and the ranker's candidate replay all read these instead (policyFromConfig), unless the
// config turns them off (services.blender.learnedWeights: false).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../data/world.js';

export const LEARNED_WEIGHTS_FILE = 'blend-weights.json';

export interface LearnedWeights {
  /** Pre-score weight per generator (0: its proposals only fill the page after every weighted one). */
  weights: Record<string, number>;
  /** What was maximized, in words. */
  objective: string;
  /** The objective with the config's weights and with the learned ones, on the users tuned on and on the others. */
  before: { tune: number; holdout: number };
  after: { tune: number; holdout: number };
  users: { tune: number; holdout: number };
  learnedAt: string;
}

export const learnedWeightsPath = (worldDir: string) => join(worldDir, LEARNED_WEIGHTS_FILE);

/** The world's learned weights, or undefined when it has none. */
export function readLearnedWeights(worldDir: string): LearnedWeights | undefined {
  const file = learnedWeightsPath(worldDir);
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LearnedWeights>;
  const weights = parsed.weights;
  if (
    !weights ||
    typeof weights !== 'object' ||
    Object.values(weights).some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0)
  )
    throw new Error(`${file}: "weights" must map generator names to finite numbers ≥ 0`);
  return parsed as LearnedWeights;
}

export async function writeLearnedWeights(worldDir: string, learned: LearnedWeights): Promise<void> {
  await writeFileAtomic(learnedWeightsPath(worldDir), JSON.stringify(learned, null, 2) + '\n');
}
