// The scaffold copies this test with the generator; it passes as it is. Add tests for what makes
// your generator different (see the other generators' tests for examples).
import { describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import generator from './generator.js';

describe(`generator ${generator.name}`, () => {
  const fixture = useServedGenerator(generator, { users: 5 });

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe(generator.name);
    expect(about.description).not.toBe('');
    expect(about.snapshots.every((s) => s.version !== '' && s.rows > 0)).toBe(true);
  });

  it('proposes fresh candidates for active users, within the quota, best first', async () => {
    for (const { user, candidates, generator: name } of await fixture.answers(50)) {
      expect(name).toBe(generator.name);
      expectUnseenBestFirst(user, candidates, 50);
    }
  });

  it('answers a user it has never seen without an error', async () => {
    const response = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(response.candidates.length).toBeLessThanOrEqual(20);
  });
});
