import { describe, expect, it } from 'vitest';
import { UDATA_SMALL } from '../../../libs/data/udata-fixture.js';
import { udataCeiling } from './udata-ceiling.js';

describe('udataCeiling', () => {
  it('ranks held-out items best with everything the fixture drew them from, worse with a piece taken away', () => {
    const { users, variants } = udataCeiling(UDATA_SMALL, [20, 100]);
    expect(users).toBe(UDATA_SMALL.users);
    const [full, noRelease, noDrift] = variants.map((v) => v.recall[1]);
    expect(full).toBeGreaterThan(0.3);
    expect(full).toBeLessThanOrEqual(1);
    expect(full).toBeGreaterThan(noRelease);
    expect(full).toBeGreaterThan(noDrift);
  });
});
