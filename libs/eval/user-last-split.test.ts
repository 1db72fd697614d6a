import { describe, expect, it } from 'vitest';
import { heldOutCount, parseSplit, splitName, splitUserItems } from './user-last-split.js';

describe('user-last split', () => {
  it('parses user-last:F and refuses anything else, saying what is expected', () => {
    expect(parseSplit('user-last:0.2')).toEqual({ fraction: 0.2 });
    expect(splitName(parseSplit('user-last:.25'))).toBe('user-last:0.25');
    for (const bad of ['user-last:0', 'user-last:1', 'user-last:1.5', 'last:0.2', 'user-last:abc', ''])
      expect(() => parseSplit(bad)).toThrow(/user-last:F/);
  });

  it('holds out the last share, at least one, and always keeps one for training', () => {
    expect(heldOutCount(1, 0.2)).toBe(0);
    expect(heldOutCount(2, 0.2)).toBe(1);
    expect(heldOutCount(10, 0.2)).toBe(2);
    expect(heldOutCount(106, 0.2)).toBe(21);
    expect(heldOutCount(3, 0.9)).toBe(2);
    expect(splitUserItems(['a', 'b', 'c', 'd', 'e'], 0.2)).toEqual({ train: ['a', 'b', 'c', 'd'], heldOut: ['e'] });
  });
});
