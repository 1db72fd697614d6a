// locale_popular: what users of the viewer's locale engage with, the locale's own items first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { DAY_MS, LOCALES, readWorldManifest } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator locale_popular', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let endMs: number;
  let localeOf: Map<string, string>;
  /** locale -> items its users clicked or saved, with how often. */
  let audience: Map<string, Map<string, number>>;

  beforeAll(async () => {
    const world = await testWorld();
    const manifest = await readWorldManifest(world);
    endMs = manifest.startMs + manifest.days * DAY_MS;
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 8);
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      localeOf = new Map((await queryRows<{ item_id: string; locale: string }>(duck.conn, 'SELECT item_id, locale FROM items')).map((r) => [r.item_id, r.locale]));
      const rows = await queryRows<{ locale: string; item_id: string; n: number }>(
        duck.conn,
        `SELECT u.locale, e.item_id, count(*) AS n FROM events e JOIN users u USING (user_id)
         WHERE e.action IN ('click', 'save') GROUP BY ALL`,
      );
      audience = new Map();
      for (const r of rows) {
        if (!audience.has(r.locale)) audience.set(r.locale, new Map());
        audience.get(r.locale)!.set(r.item_id, r.n);
      }
    } finally {
      duck.close();
    }
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  const ask = async (locale: string, quota = 400) =>
    (await served.generate(UserContext.fromPartial({ userId: 'nobody_new', locale, requestTimeMs: endMs }), quota)).candidates;

  it("puts items of the user's locale first, then others its users like", async () => {
    for (const locale of ['en-US', 'de-DE', 'pt-BR', 'fr-FR']) {
      const candidates = await ask(locale);
      const own = candidates.map((c) => localeOf.get(c.itemId) === locale);
      expect(own[0], `${locale}: the first item is of the locale`).toBe(true);
      const firstOther = own.indexOf(false);
      if (firstOther >= 0) expect(own.slice(firstOther).every((o) => !o)).toBe(true);
      // Everything proposed is something the locale's users engaged with.
      expect(candidates.every((c) => audience.get(locale)!.has(c.itemId))).toBe(true);
      // Ranked by what the locale's users engaged with: the top one is in the top quarter of raw counts.
      const counts = [...audience.get(locale)!].filter(([id]) => localeOf.get(id) === locale).map(([, n]) => n).sort((a, b) => a - b);
      expect(audience.get(locale)!.get(candidates[0].itemId)!).toBeGreaterThanOrEqual(counts[Math.floor(counts.length * 0.75)]);
    }
  });

  it('answers differ by locale, and a locale without items of its own gets what its users like', async () => {
    const [en, de] = [await ask('en-US', 20), await ask('de-DE', 20)];
    expect(en.map((c) => c.itemId)).not.toEqual(de.map((c) => c.itemId));
    const itemLocales = new Set(localeOf.values());
    const bare = LOCALES.find((l) => !itemLocales.has(l) && audience.has(l));
    if (bare) {
      const candidates = await ask(bare, 50);
      expect(candidates.length).toBeGreaterThan(0);
      expect(candidates.every((c) => audience.get(bare)!.has(c.itemId))).toBe(true);
    }
  });

  it('leaves out what real users engaged with, best first', async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const { candidates } = await served.generate(user, 50);
      expect(candidates.length).toBeGreaterThan(0);
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      expect(candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
      const scores = candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
  });

  it('answers nothing without a locale, or for a world without locales', async () => {
    expect(await ask('')).toEqual([]);
    const imported = await serveOnImportedWorld(generator);
    try {
      expect((await imported.generate(UserContext.fromPartial({ userId: '1', locale: 'en-US' }), 20)).candidates).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});
