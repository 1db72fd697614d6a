import { describe, expect, it } from 'vitest';
import { idProblem } from '../../libs/bootstrap/validate.js';
import { OwnerRouting, joinedAnswer, partKey } from './owner-routing.js';

describe('owner routing', () => {
  it('keys a call touching one owner by its own key, and each part of a split call by key and owner', () => {
    expect(partKey('k', 1, 1)).toBe('k');
    expect(partKey('', 1, 2)).toBe('');
    expect(partKey('k', 0, 2)).toBe('k#0');
    expect(partKey('k', 1, 2)).toBe('k#1');
    // A key of the longest length Log takes still gives part keys Log takes, the same on every replica.
    const long = 'x'.repeat(256);
    expect(idProblem(partKey(long, 12, 2))).toBeUndefined();
    expect(partKey(long, 12, 2)).toBe(partKey(long, 12, 3));
    expect(partKey(long, 12, 2)).not.toBe(partKey(long, 11, 2));
  });

  it('splits a call by owner and answers a duplicate only when every part was one', () => {
    const routing = new OwnerRouting({ self: 0, owners: [0, 1, 0, 1], addresses: ['a:1', 'b:1'] }, 4, {});
    const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const parts = routing.split(users);
    expect(parts.flatMap((p) => p.indices).sort((a, b) => a - b)).toEqual(users.map((_, i) => i));
    for (const p of parts) for (const i of p.indices) expect(routing.ownerOf(users[i])).toBe(p.owner);
    expect(routing.ownedPartitions).toEqual([0, 2]);
    expect(
      joinedAnswer([
        { accepted: 2, lastSequence: 7, duplicate: true },
        { accepted: 1, lastSequence: 9, duplicate: false },
      ]),
    ).toEqual({ accepted: 3, lastSequence: 9, duplicate: false });
    expect(joinedAnswer([{ accepted: 2, lastSequence: 7, duplicate: true }]).duplicate).toBe(true);
  });
});
