import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { IdLists, IdListsBuilder, scoredItemLists } from './id-lists.js';
import { SharedIds, SharedIdsBuilder } from './shared-ids.js';

describe('SharedIds', () => {
  it('numbers ids in first-seen order and finds each again, UTF-8 and long ids included', () => {
    const names = ['i1', 'u7', '', 'board é', 'x'.repeat(100), '日本', 'i10', 'i1 '];
    const builder = new SharedIdsBuilder();
    names.forEach((n, i) => expect(builder.intern(n)).toBe(i));
    expect(builder.intern('i1')).toBe(0);
    const ids = builder.finish();
    expect(ids.size).toBe(names.length);
    names.forEach((n, i) => {
      expect(ids.get(n)).toBe(i);
      expect(ids.name(i)).toBe(n);
    });
    expect(ids.get('i2')).toBeUndefined();
    expect(ids.get('日')).toBeUndefined();
    expect(() => ids.name(names.length)).toThrow(RangeError);
    expect(ids.form.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('holds many ids (probe runs wrap around the table)', () => {
    const builder = new SharedIdsBuilder();
    for (let i = 0; i < 20_000; i++) builder.intern(`i${i}`);
    const ids = builder.finish();
    for (let i = 0; i < 20_000; i += 7) expect(ids.get(`i${i}`)).toBe(i);
    expect(ids.get('i20000')).toBeUndefined();
  });
});

describe('IdLists', () => {
  const rows = [
    {
      item_id: 'a',
      neighbors: [
        { item_id: 'b', score: 0.5 },
        { item_id: 'c', score: 0.25 },
      ],
    },
    { item_id: 'b', neighbors: [] },
    { item_id: 'c', neighbors: [{ item_id: 'a', score: 0.1 }] },
    // A key given twice keeps its last list, as new Map(rows) would.
    { item_id: 'a', neighbors: [{ item_id: 'd', score: 0.3 }] },
  ];
  const lists = scoredItemLists(
    rows,
    (r) => r.item_id,
    (r) => r.neighbors,
  );
  const entries = (key: string) => {
    const list = lists.list(key);
    return Array.from({ length: list.length }, (_, k) => [list.id(k), list.score(k)]);
  };

  it("answers each key's list in row order, scores exact, last row winning", () => {
    expect(entries('a')).toEqual([['d', 0.3]]);
    expect(entries('c')).toEqual([['a', 0.1]]);
    expect(entries('b')).toEqual([]);
    expect(entries('nobody')).toEqual([]);
    expect([lists.has('b'), lists.has('d'), lists.has('nobody')]).toEqual([true, false, false]);
    const c = lists.list('c');
    expect(lists.at(c.node(0)).id(0)).toBe('d');
    expect(() => c.score(1)).toThrow(RangeError);
  });

  it('shares one id table between lists built from the same builder; unscored lists answer 0', () => {
    const table = new SharedIdsBuilder();
    const items = new IdListsBuilder(table, false);
    const similar = new IdListsBuilder(table, true);
    items.set('b1', ['i1', 'i2']);
    similar.set('b1', ['b2'], [0.5]);
    items.set('b2', ['i3']);
    expect(() => similar.set('b3', ['b1'])).toThrow(/scores missing/);
    expect(() => items.set('b3', ['i1'], [1])).toThrow(/unscored/);
    const ids = table.finish();
    const [itemLists, similarLists] = [items.finish(ids), similar.finish(ids)];
    expect(itemLists.ids).toBe(similarLists.ids);
    const next = itemLists.at(similarLists.list('b1').node(0));
    expect([next.id(0), next.score(0)]).toEqual(['i3', 0]);
  });

  it('reaches a worker thread as the same memory, not a copy', async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.once('message', (form) => {
         const shared = form.targets.buffer instanceof SharedArrayBuffer;
         parentPort.once('message', () => parentPort.postMessage({ shared, first: form.targets[0] }));
         parentPort.postMessage('ready');
       });`,
      { eval: true },
    );
    const reply = (message: unknown) =>
      new Promise<unknown>((resolve) => {
        worker.once('message', resolve);
        worker.postMessage(message);
      });
    const form = lists.form;
    expect(await reply(form)).toBe('ready');
    // Written here after posting: the worker sees the write, so it holds this memory.
    const before = form.targets[0];
    form.targets[0] = 1234;
    expect(await reply('read')).toEqual({ shared: true, first: 1234 });
    form.targets[0] = before;
    await worker.terminate();
    // And a form rebuilt on the other side answers as the original.
    const copy = new IdLists(structuredClone(form));
    expect(copy.list('a').id(0)).toBe('d');
  });
});

describe('SharedIds from a form', () => {
  it('answers as the table it came from', () => {
    const builder = new SharedIdsBuilder();
    ['p', 'q'].forEach((n) => builder.intern(n));
    const ids = new SharedIds(builder.finish().form);
    expect([ids.get('q'), ids.name(0)]).toEqual([1, 'p']);
  });
});
