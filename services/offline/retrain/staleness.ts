// How fast a two-tower model goes stale: trains the models a retraining cycle would have trained
// N days before the world's newest day (same trainer settings; each held out its own last day) and
// measures each on that newest day with the cycle's evaluation. docs/RETRAINING.md quotes its output.
//   node --import tsx services/offline/retrain/staleness.ts --world DIR [--days-before 9,6,3,0] [--epochs 5]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { evaluateTwoTower, heldOutSet } from '../../../libs/training/evaluate.js';
import { trainTwoTower } from '../../../libs/training/train-two-tower.js';

export interface StalenessRow {
  daysBefore: number;
  recall: Record<number, number>;
}

/** Recall on the newest day of models whose training data ends daysBefore days before it (each held out its own last day). */
export async function stalenessCurve(
  worldDir: string,
  daysBefore: number[],
  options: { epochs?: number; seed?: number; log?: (line: string) => void } = {},
): Promise<StalenessRow[]> {
  const world = await readWorldManifest(worldDir);
  const endMs = world.startMs + world.days * DAY_MS;
  const set = await heldOutSet(worldDir, endMs - DAY_MS, endMs);
  const registryRoot = await mkdtemp(join(tmpdir(), 'feedloom-staleness-'));
  try {
    const rows: StalenessRow[] = [];
    for (const gap of daysBefore) {
      // As a cycle would have trained it gap days ago: data to the day before, its last day held out.
      const run = await trainTwoTower({
        worldDir,
        registryRoot,
        asOfMs: endMs - gap * DAY_MS,
        epochs: options.epochs ?? 5,
        seed: options.seed ?? 7,
      });
      const m = await evaluateTwoTower(run.info, set, [100, 500]);
      rows.push({ daysBefore: gap, recall: m.recall });
      const lastDay = new Date(run.info.manifest.dataWindow.endMs - DAY_MS).toISOString().slice(0, 10);
      options.log?.(
        `trained by a cycle ${gap} day(s) earlier (data to ${lastDay}): recall@100 ${m.recall[100].toFixed(4)}, recall@500 ${m.recall[500].toFixed(4)}`,
      );
    }
    return rows;
  } finally {
    await rm(registryRoot, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      world: { type: 'string' },
      'days-before': { type: 'string', default: '9,6,3,0' },
      epochs: { type: 'string', default: '5' },
    },
  });
  if (!values.world)
    throw new Error(
      'usage: node --import tsx services/offline/retrain/staleness.ts --world DIR [--days-before 9,6,3,0] [--epochs 5]',
    );
  await stalenessCurve(resolve(values.world), values['days-before'].split(',').map(Number), {
    epochs: Number(values.epochs),
    log: console.log,
  });
}
