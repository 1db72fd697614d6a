// The ranker on an imported ratings log, trained on what the blender would send it: each user's
// last 20% of interactions held out, the shipped mesh prepared on the rest and asked for every user
// (services/offline/trainer/candidate-replay.ts), the candidates the user went on to interact with
// the positives, the other candidates the negatives. On the held-out users' requests it must rank
// what they went on to interact with above their other candidates better than the blender's
// pre-score order does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importInteractions } from '../libs/data/importer.js';
import { UDATA_SMALL, writeUData } from '../libs/data/udata-fixture.js';
import type { RankerDatasetManifest } from '../libs/ranking/dataset.js';
import { readValRequests } from '../libs/ranking/heldout.js';
import { rankerTopN } from '../services/offline/trainer/candidate-replay.js';
import { trainRanker, type TrainRankerResult } from '../services/offline/trainer/train-ranker.js';
import { testMeshConfig } from './fixtures/mesh.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedloom-ranker-replay-'));
const worldDir = join(tmp, 'world');
const workDir = join(tmp, 'work');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the ranker on an imported log, trained on replayed candidates', () => {
  let result: TrainRankerResult;
  const { mesh } = testMeshConfig(worldDir);

  beforeAll(async () => {
    const input = join(tmp, 'u.data');
    writeUData(input, UDATA_SMALL);
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
    result = await trainRanker({
      worldDir,
      registryDir: join(worldDir, 'models'),
      mesh,
      workDir,
      publish: false,
    });
  }, 300_000);

  it('learns from the blender candidates each user went on to interact with, or not', async () => {
    const labels = result.info.manifest.training.labels as RankerDatasetManifest['labels'];
    expect(labels).toMatchObject({ kind: 'replayed_candidates', baseline: 'prescore', heldOutFraction: 0.2 });
    const val = await readValRequests(join(workDir, 'dataset'));
    for (const s of val.sessions) {
      // The pre-score order of up to the ranker's top N, every candidate with the generators that proposed it.
      expect(s.candidates.length).toBeGreaterThan(20);
      expect(s.candidates.length).toBeLessThanOrEqual(rankerTopN(mesh));
      expect(s.candidates.map(([, , place]) => place)).toEqual(s.candidates.map((_, i) => i));
      expect(s.sources!.every((proposals) => proposals.length > 0)).toBe(true);
      expect(s.labels.some(([click]) => click === 1)).toBe(true);
      // The history ends before what it is asked to predict: no held-out item is in it.
      const history = new Set(val.users[s.user].actions.slice(0, s.histCount).map(([item]) => item));
      s.candidates.forEach(([item], i) => s.labels[i][0] && expect(history.has(item)).toBe(false));
    }
  });

  it('ranks the candidates users went on to interact with above the others better than pre-score order', () => {
    expect(result.info.state).toBe('validated');
    // Validated means the served ONNX graph reproduces PyTorch (its probes, and the held-out AUCs to
    // 0.005), also for what the model derives inside the graph from the inputs the Ranker service
    // encodes (libs/ranking/encoding.ts): per-generator ranks from cand_source and cand_rank, and each
    // candidate's place in the request (trained as its pre-score place, served as its row).
    expect(result.info.manifest.training).toMatchObject({
      source_pairs: true,
      source_ranks: true,
      prescore_place: true,
    });
    const { heldout, baselines } = result;
    // Over every held-out user's candidates (about 20 users × up to 400 candidates here); the margin
    // on this log was about 0.08 with 200 (0.75 against 0.67).
    expect(heldout.auc_click! - baselines.prescore!.auc_click!).toBeGreaterThan(0.03);
    expect(heldout.auc_save).toBeGreaterThan(baselines.prescore!.auc_save!);
    // Recall@20 within the requests is reported beside it; on 20 users it is too noisy to assert a
    // ratio (the full-size log's figures are in docs/RANKER.md).
    expect(heldout.recall20_click).toBeGreaterThan(0);
    expect(result.validationNote).toMatch(/recall20_click .* \(prescore /);
  });
});
