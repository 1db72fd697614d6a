// Type tests for the generator contracts, checked by `tsc -p tsconfig.json` (npm run typecheck;
// not a vitest file). Snapshot rows are typed from the batch jobs a generator names, settings from
// its settings schema. Every @ts-expect-error below must meet an error: if the typing regresses
// (rows or settings become `any`), the directive is unused and tsc fails; if it becomes too loose
// to type the valid lines, those fail.
import { z } from 'zod';
import { boardGraph } from '../libs/data/batch/jobs/board_graph.js';
import { itemMeta } from '../libs/data/batch/jobs/item_meta.js';
import { defineSnapshotConsumer } from '../libs/data/snapshot-source.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { defineGenerator } from '../libs/generator-sdk/define.js';

export const typedRows = defineGenerator({
  name: 'typed_rows',
  kind: 'graph',
  description: 'reads board_graph and item_meta',
  requestCost: 'O(1)',
  snapshots: [boardGraph, itemMeta],
  prepare(rows) {
    const board: string = rows.board_graph[0].board_id;
    const pins: string[] = rows.board_graph[0].items;
    const topic: string | null = rows.item_meta[0].topic;
    // @ts-expect-error board_graph produces no `topic` column
    const boardTopic = rows.board_graph[0].topic;
    // @ts-expect-error created_ms is a number
    const created: string = rows.item_meta[0].created_ms;
    // @ts-expect-error popularity is not among the snapshots it names
    const popular = rows.popularity;
    return { board, pins, topic, boardTopic, created, popular };
  },
  generate: ({ quota }, { data }) =>
    data.pins.slice(0, quota).map((itemId) => ({ itemId, score: 1, reason: data.board })),
});

export const typedSettings = defineGenerator({
  name: 'typed_settings',
  kind: 'heuristic',
  description: 'takes two settings',
  requestCost: 'O(1)',
  snapshots: [],
  settings: z.object({ maxSeeds: z.number().int().min(1).default(8), label: z.string().optional() }),
  prepare: (_rows, settings) => ({ seeds: settings.maxSeeds }),
  generate(_input, { data, settings }) {
    const seeds: number = settings.maxSeeds + data.seeds;
    const label: string | undefined = settings.label;
    // @ts-expect-error maxSeeds is a number, not a string
    const wrongType: string = settings.maxSeeds;
    // @ts-expect-error a setting it does not declare (a typo of maxSeeds)
    const typo = settings.maxSeed;
    return [{ itemId: `${seeds}${label}${wrongType}${typo}`, score: 0, reason: '' }];
  },
});

// Other readers of snapshots get their rows typed the same way.
export const typedConsumer = defineSnapshotConsumer({
  name: 'typed_consumer',
  snapshots: [itemMeta],
  // @ts-expect-error item_meta has no `score` column
  prepare: (rows) => rows.item_meta.map((r) => r.score),
});

export async function typedRead(dir: string): Promise<string> {
  const { rows } = await readSnapshot(dir, boardGraph);
  const followers: number = rows[0].followers;
  // @ts-expect-error board_graph produces no `creator_id` column
  const creator: string = rows[0].creator_id;
  return `${followers}${creator}`;
}
