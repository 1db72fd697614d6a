import { describe, expect, it } from 'vitest';
import { AckedCalls, fingerprintOf } from './acked-calls.js';
import type { NewEvent } from './live-log.js';

const event = (itemId: string, logKey?: string): NewEvent => ({
  userId: 'u1',
  itemId,
  action: 'click',
  timeMs: 1,
  boardId: '',
  source: '',
  requestId: '',
  logKey,
});

describe('AckedCalls', () => {
  it('writes a key once and answers later calls with the first answer', async () => {
    const calls = new AckedCalls();
    let writes = 0;
    const write = async () => ({ accepted: 1, lastSequence: ++writes });
    expect(await calls.answer('k', [event('a')], write)).toEqual({ accepted: 1, lastSequence: 1, duplicate: false });
    expect(await calls.answer('k', [event('a')], write)).toEqual({ accepted: 1, lastSequence: 1, duplicate: true });
    expect(writes).toBe(1);
  });

  it('lets a failed write be retried', async () => {
    const calls = new AckedCalls();
    await expect(calls.answer('k', [event('a')], async () => Promise.reject(new Error('disk full')))).rejects.toThrow(
      'disk full',
    );
    expect(await calls.answer('k', [event('a')], async () => ({ accepted: 1, lastSequence: 9 }))).toMatchObject({
      lastSequence: 9,
      duplicate: false,
    });
  });

  it('rebuilds from log lines: the count and the last sequence of each keyed call', async () => {
    const calls = AckedCalls.fromLog([
      { ...event('a', 'k1'), seq: 4 },
      { ...event('b', 'k1'), seq: 5 },
      { ...event('c'), seq: 6 },
    ]);
    expect(calls.size).toBe(1);
    const answer = await calls.answer('k1', [event('a'), event('b')], async () => {
      throw new Error('must not write');
    });
    expect(answer).toEqual({ accepted: 2, lastSequence: 5, duplicate: true });
  });

  it('forgets the oldest keys beyond its capacity', async () => {
    const calls = new AckedCalls(2);
    for (const key of ['k1', 'k2', 'k3'])
      await calls.answer(key, [event(key)], async () => ({ accepted: 1, lastSequence: 1 }));
    expect(calls.size).toBe(2);
    expect((await calls.answer('k1', [event('k1')], async () => ({ accepted: 1, lastSequence: 2 }))).duplicate).toBe(
      false,
    );
  });

  // Up to 100k keys are remembered: each must cost a few bytes, not its call's ids (~1 MB at most).
  it('remembers a hash of the events, not the events', () => {
    const big = Array.from({ length: 1000 }, (_, i) => ({ ...event('i'.repeat(250) + i), userId: 'u'.repeat(256) }));
    expect(fingerprintOf(big)).toHaveLength(64);
    expect(fingerprintOf(big)).not.toBe(fingerprintOf([...big.slice(0, 999), event('other')]));
    // The separators still keep fields apart: "ab" + "c" is not "a" + "bc".
    expect(fingerprintOf([{ ...event('c'), userId: 'ab' }])).not.toBe(fingerprintOf([{ ...event('bc'), userId: 'a' }]));
  });
});
