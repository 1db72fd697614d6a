import { describe, expect, it } from 'vitest';
import { PendingCalls } from './pending-calls.js';

describe('PendingCalls', () => {
  it('keeps calls by id, counts them, and forgets a deleted one', () => {
    const calls = new PendingCalls<string>();
    calls.set(1, 'a');
    calls.set(2, 'b');
    calls.set(2, 'b again');
    expect(calls.size).toBe(2);
    expect(calls.get(2)).toBe('b again');
    expect(calls.delete(1)).toBe(true);
    expect(calls.delete(1)).toBe(false);
    expect(calls.get(1)).toBeUndefined();
    expect(calls.size).toBe(1);
  });

  it('drains every call at once (a worker that exits fails all it had)', () => {
    const calls = new PendingCalls<string>();
    for (let id = 1; id <= 5; id++) calls.set(id, `call ${id}`);
    calls.delete(3);
    expect(calls.drain().sort()).toEqual(['call 1', 'call 2', 'call 4', 'call 5']);
    expect(calls.size).toBe(0);
    expect(calls.get(1)).toBeUndefined();
  });

  it('has no inherited keys: an id is never mistaken for a property of Object.prototype', () => {
    const calls = new PendingCalls<string>();
    expect(calls.get(0)).toBeUndefined();
    expect(calls.delete(0)).toBe(false);
    expect(calls.size).toBe(0);
  });
});
