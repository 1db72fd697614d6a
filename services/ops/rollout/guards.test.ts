import { describe, expect, it } from 'vitest';
import { ActionType, type UserContext } from '../../../generated/feedloom/v1/common.js';
import { parseMeshConfig } from '../../../libs/config/mesh.js';
import { judge, type ProbeStats } from './guards.js';
import { holdOut } from './probe-users.js';

const guards = parseMeshConfig({
  world: { dir: '/w' },
  services: { events: { port: 1 }, blender: { port: 2 } },
  generators: [{ name: 'popular', port: 3 }],
}).rollout.guards;
const stats = (version: string, recall: number, meanCandidates = 100, errors = 0): ProbeStats => ({
  version,
  requests: 50,
  errors,
  errorSamples: errors ? ['u1: boom'] : [],
  meanCandidates,
  recall,
});
const healthy = { serving: true, detail: 'SERVING' };

describe('judge', () => {
  it('passes a version as good as the previous one', () => {
    expect(judge(healthy, stats('v2', 0.6), stats('v1', 0.62), guards)).toMatchObject({ passed: true, failures: [] });
  });

  it('fails each guard with a line saying what was measured against what', () => {
    const report = judge({ serving: false, detail: 'NOT_SERVING' }, stats('v2', 0.2, 40, 5), stats('v1', 0.6), guards);
    expect(report.passed).toBe(false);
    expect(report.failures).toEqual([
      'health: NOT_SERVING',
      'error rate 10.0% (5/50) is above 2.0%: u1: boom',
      'candidate count 40.0 per request is below 0.5 × 100.0 of v1',
      "recall probe 20.0% is below 75.0% of v1's 60.0% (largest drop allowed: 25.0%)",
    ]);
  });

  it('on a first rollout checks only absolute guards', () => {
    expect(judge(healthy, stats('v1', 0.01), undefined, guards).passed).toBe(true);
    expect(judge(healthy, stats('v1', 0.01), undefined, { ...guards, minRecall: 0.05 }).failures).toEqual([
      'recall probe 1.0% is below the floor 5.0%',
    ]);
    expect(judge(healthy, stats('v1', 0, 0), undefined, guards).failures).toEqual(['candidate count: no candidates']);
  });
});

describe('holdOut', () => {
  const action = (itemId: string, type: ActionType) => ({ itemId, type, timeMs: 0, boardId: '' });
  const user = (actions: ReturnType<typeof action>[]): UserContext => ({
    userId: 'u1',
    recentActions: actions,
    followedCreators: [],
    followedBoards: [],
    topics: [],
    locale: 'en-US',
    requestTimeMs: 0,
    ownBoards: [],
    blockedCreators: [],
    seenItems: ['i1', 'i9'],
  });

  it('takes the newest engaged items out of the actions and seen items', () => {
    const ctx = user([
      action('i1', ActionType.ACTION_TYPE_CLICK),
      action('i2', ActionType.ACTION_TYPE_HIDE),
      action('i3', ActionType.ACTION_TYPE_SAVE),
      ...['i4', 'i5', 'i6'].map((i) => action(i, ActionType.ACTION_TYPE_CLICK)),
      action('i1', ActionType.ACTION_TYPE_SAVE),
    ]);
    const probe = holdOut(ctx, 2)!;
    expect(probe.heldOut).toEqual(['i1', 'i3']);
    expect(probe.context.recentActions.map((a) => a.itemId)).toEqual(['i2', 'i4', 'i5', 'i6']);
    expect(probe.context.seenItems).toEqual(['i9']);
  });

  it('skips a user whose remaining history would be too short to embed', () => {
    expect(
      holdOut(user(['i1', 'i2', 'i3', 'i4'].map((i) => action(i, ActionType.ACTION_TYPE_CLICK))), 2),
    ).toBeUndefined();
  });
});
