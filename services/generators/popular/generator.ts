import { popularity } from '../../../libs/data/batch/jobs/popularity.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { takeUnseen } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'popular',
  kind: 'heuristic',
  description: 'Most-engaged items overall, time-decayed: a broad, always-available fallback.',
  requestCost: 'O(quota + recent actions): a walk down a precomputed ranked list',
  snapshots: [popularity],
  prepare: (rows) => rows.popularity,
  generate: ({ user, quota }, { data }) => takeUnseen(data, engagedItems(user), quota, 'popular now'),
});
