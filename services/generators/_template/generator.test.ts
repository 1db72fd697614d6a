// The scaffold copies this test with the generator; it passes as it is. Add tests for what makes
// your generator different (see the other generators' tests for examples).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe(`generator ${generator.name}`, () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];

  beforeAll(async () => {
    const world = await testWorld();
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 5);
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  it('describes itself', async () => {
    const about = await served.describe();
    expect(about.name).toBe(generator.name);
    expect(about.description).not.toBe('');
    expect(about.snapshots.every((s) => s.version !== '' && s.rows > 0)).toBe(true);
  });

  it('proposes fresh candidates for active users, within the quota, best first', async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const { candidates, generator: name } = await served.generate(user, 50);
      expect(name).toBe(generator.name);
      expect(candidates.length).toBeGreaterThan(0);
      expect(candidates.length).toBeLessThanOrEqual(50);
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      expect(candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
      const scores = candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
  });

  it('answers a user it has never seen without an error', async () => {
    const response = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }), 20);
    expect(response.candidates.length).toBeLessThanOrEqual(20);
  });
});
