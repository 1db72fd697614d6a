import { describe, expect, it } from 'vitest';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { ItemFilterReader } from '../../libs/generator-sdk/item-filter.js';
import { MAX_ENGAGED_FILTER_BYTES, validateUserContext } from '../../libs/bootstrap/user-context.js';
import { MAX_ENGAGED_ITEMS, MAX_RECENT_ACTIONS, MAX_SEEN_ITEMS, UserStore, type UserEvent } from './user-state.js';

const ev = (itemId: string, action: UserEvent['action'], timeMs: number, boardId = ''): UserEvent => ({
  userId: 'u1',
  itemId,
  action,
  timeMs,
  boardId,
});

describe('UserStore', () => {
  it('answers an unknown user with an empty context carrying the id and the clock', () => {
    expect(new UserStore().context('nobody', 100, 42)).toEqual({
      userId: 'nobody',
      recentActions: [],
      followedCreators: [],
      followedBoards: [],
      topics: [],
      locale: '',
      requestTimeMs: 42,
      ownBoards: [],
      blockedCreators: [],
      seenItems: [],
    });
  });

  it('keeps engagement actions newest first and impressions apart, as seen items', () => {
    const store = new UserStore();
    store.apply(ev('i1', 'impression', 1));
    store.apply(ev('i1', 'click', 2));
    store.apply(ev('i2', 'impression', 3));
    store.apply(ev('i2', 'save', 4, 'b1'));
    store.apply(ev('i3', 'hide', 5));
    const ctx = store.context('u1', 100, 10);
    expect(ctx.recentActions).toEqual([
      { itemId: 'i3', type: ActionType.ACTION_TYPE_HIDE, timeMs: 5, boardId: '' },
      { itemId: 'i2', type: ActionType.ACTION_TYPE_SAVE, timeMs: 4, boardId: 'b1' },
      { itemId: 'i1', type: ActionType.ACTION_TYPE_CLICK, timeMs: 2, boardId: '' },
    ]);
    expect(ctx.seenItems).toEqual(['i2', 'i1']);
    expect(store.context('u1', 2, 10).recentActions.map((a) => a.itemId)).toEqual(['i3', 'i2']);
  });

  it('bounds the state per user', () => {
    const store = new UserStore();
    for (let t = 1; t <= MAX_RECENT_ACTIONS + 500; t++) {
      store.apply(ev(`i${t}`, 'click', t));
      store.apply(ev(`i${t}`, 'impression', t));
    }
    const ctx = store.context('u1', MAX_RECENT_ACTIONS, 0);
    expect(ctx.recentActions).toHaveLength(MAX_RECENT_ACTIONS);
    expect(ctx.recentActions[0].itemId).toBe(`i${MAX_RECENT_ACTIONS + 500}`);
    expect(ctx.seenItems).toHaveLength(MAX_SEEN_ITEMS);
    expect(ctx.seenItems[0]).toBe(`i${MAX_RECENT_ACTIONS + 500}`);
  });

  it('lists an item shown again once, at its latest showing', () => {
    const store = new UserStore();
    for (const [item, t] of [
      ['a', 1],
      ['b', 2],
      ['a', 3],
      ['c', 4],
      ['b', 1],
    ] as const)
      store.apply(ev(item, 'impression', t));
    expect(store.context('u1', 10, 0).seenItems).toEqual(['c', 'a', 'b']);
  });

  it('counts an impression as seen only within the window before the request time', () => {
    const store = new UserStore();
    const hour = 3_600_000;
    store.apply(ev('old', 'impression', 0));
    store.apply(ev('edge', 'impression', 10 * hour));
    store.apply(ev('new', 'impression', 30 * hour));
    expect(store.context('u1', 10, 34 * hour, 24 * hour).seenItems).toEqual(['new', 'edge']);
    expect(store.context('u1', 10, 35 * hour, 24 * hour).seenItems).toEqual(['new']);
    // 0: every retained impression.
    expect(store.context('u1', 10, 35 * hour, 0).seenItems).toEqual(['new', 'edge', 'old']);
  });

  it('adds the most engaged topics after the declared ones', () => {
    const store = new UserStore();
    for (const [item, topic] of Object.entries({ i1: 't01', i2: 't02', i3: 't03', i4: 't04' }))
      store.setItemTopic(store.ids.intern(item), topic);
    Object.assign(store.profile('u1'), {
      locale: 'de-DE',
      topics: ['t01'],
      followedCreators: ['c1'],
      followedBoards: ['b9'],
      ownBoards: ['b1'],
    });
    store.apply(ev('i1', 'save', 1));
    store.apply(ev('i2', 'save', 2));
    store.apply(ev('i3', 'click', 3));
    store.apply(ev('i3', 'click', 4));
    store.apply(ev('i3', 'click', 5));
    store.apply(ev('i4', 'click', 6)); // once: too little to count
    const ctx = store.context('u1', 100, 0);
    expect(ctx.topics).toEqual(['t01', 't03', 't02']);
    expect([ctx.locale, ctx.followedCreators, ctx.followedBoards, ctx.ownBoards]).toEqual([
      'de-DE',
      ['c1'],
      ['b9'],
      ['b1'],
    ]);
  });

  it('keeps every engaged item of the history in the engaged filter, not only the recent actions, bounded', () => {
    const store = new UserStore();
    const total = MAX_ENGAGED_ITEMS + 300;
    for (let t = 1; t <= total; t++) store.apply(ev(`i${t}`, t % 10 === 0 ? 'hide' : 'save', t));
    store.apply(ev('never-engaged', 'impression', total + 1));
    const ctx = store.context('u1', 100, 0);
    expect(ctx.recentActions).toHaveLength(100);
    const engaged = new ItemFilterReader(ctx.engagedFilter);
    // The newest MAX_ENGAGED_ITEMS, far beyond the 100 recent actions; the oldest fell out of the cap.
    for (let t = total - MAX_ENGAGED_ITEMS + 1; t <= total; t++) expect(engaged.has(`i${t}`)).toBe(true);
    expect(store.engagedIds('u1')).toHaveLength(MAX_ENGAGED_ITEMS);
    expect(store.engagedIds('u1')[0]).toBe(`i${total - MAX_ENGAGED_ITEMS + 1}`);
    expect(ctx.engagedFilter!.bits.length).toBeLessThanOrEqual(MAX_ENGAGED_FILTER_BYTES);
    expect(() => validateUserContext('user', ctx)).not.toThrow();
    // About 1% of other ids answer "engaged" too.
    let falsePositives = 0;
    for (let n = 0; n < 10_000; n++) if (engaged.has(`other${n}`)) falsePositives++;
    expect(falsePositives).toBeLessThan(200);
  });

  it('sends no engaged filter for a user with no engagement, and refreshes it after a new one', () => {
    const store = new UserStore();
    store.apply(ev('a', 'impression', 1));
    expect(store.context('u1', 100, 0).engagedFilter).toBeUndefined();
    store.apply(ev('a', 'click', 2));
    expect(new ItemFilterReader(store.context('u1', 100, 0).engagedFilter).has('b')).toBe(false);
    store.apply(ev('b', 'click', 3));
    expect(new ItemFilterReader(store.context('u1', 100, 0).engagedFilter).has('b')).toBe(true);
  });
});
