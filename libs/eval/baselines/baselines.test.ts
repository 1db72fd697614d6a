import { describe, expect, it } from 'vitest';
import { createRng } from '../../data/random.js';
import { buildInteractions, indicesOf } from '../../cf/interactions.js';
import { unseenTop } from './unseen-top.js';
import { ItemKnn } from './item-knn.js';
import { popularityScores } from './popularity.js';
import { pickEaseLambda } from './tune-ease.js';

const pairs = (rows: Record<string, string[]>) =>
  Object.entries(rows).flatMap(([u, items]) => items.map((i) => [u, i] as const));

describe('EASE λ', () => {
  it('picks λ on the last share of each user’s training items', async () => {
    const rng = createRng(5);
    const train = new Map<string, string[]>();
    // Two taste groups: items of the user's own group only.
    for (let u = 0; u < 40; u++)
      train.set(`u${u}`, rng.shuffle(Array.from({ length: 10 }, (_, i) => `g${u % 2}-${i}`)).slice(0, 7));
    const choice = await pickEaseLambda(train, 0.2, 5, [1, 1000]);
    expect(choice.validationUsers).toBe(40);
    expect(Object.keys(choice.recallByLambda)).toEqual(['1', '1000']);
    for (const r of Object.values(choice.recallByLambda)) expect(r).toBeGreaterThan(0.5);
    expect(choice.recallByLambda[String(choice.lambda)]).toBe(Math.max(...Object.values(choice.recallByLambda)));
  });
});

describe('item-kNN (cosine)', () => {
  it('sums the cosine similarities of the user’s items', () => {
    // a: {u1, u2}, b: {u1, u2}, c: {u2, u3}: cos(a,b) = 1, cos(a,c) = cos(b,c) = 1/2.
    const m = buildInteractions(pairs({ u1: ['a', 'b'], u2: ['a', 'b', 'c'], u3: ['c'] }));
    const knn = new ItemKnn(m);
    const score = (user: string[], item: string) => knn.scores(indicesOf(m, user))[m.itemIndex.get(item)!];
    expect(score(['a'], 'b')).toBeCloseTo(1, 12);
    expect(score(['a'], 'c')).toBeCloseTo(0.5, 12);
    expect(score(['a', 'b'], 'c')).toBeCloseTo(1, 12);
    expect(unseenTop(knn.scores(indicesOf(m, ['c'])), 5, indicesOf(m, ['c'])).map((i) => m.items[i])).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('popularity', () => {
  it('counts users per item and leaves the user’s own items out', () => {
    const m = buildInteractions(pairs({ u1: ['a', 'b'], u2: ['a', 'c'], u3: ['a', 'b', 'a'] }));
    const scores = popularityScores(m);
    expect(scores[m.itemIndex.get('a')!]).toBe(3);
    expect(unseenTop(scores, 2, indicesOf(m, ['a'])).map((i) => m.items[i])).toEqual(['b', 'c']);
  });
});
