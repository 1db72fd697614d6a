// locale_popular: what users of the viewer's locale engage with, the locale's own items first.
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { LOCALES } from '../../../libs/data/world.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator locale_popular', () => {
  const fixture = useServedGenerator(generator, { users: 8 });
  let localeOf: Map<string, string>;
  /** locale -> items its users clicked or saved, with how often. */
  let audience: Map<string, Map<string, number>>;

  beforeAll(async () => {
    localeOf = new Map(
      (await worldRows<{ item_id: string; locale: string }>(fixture.world, 'SELECT item_id, locale FROM items')).map(
        (r) => [r.item_id, r.locale],
      ),
    );
    const rows = await worldRows<{ locale: string; item_id: string; n: number }>(
      fixture.world,
      `SELECT u.locale, e.item_id, count(*) AS n FROM events e JOIN users u USING (user_id)
       WHERE e.action IN ('click', 'save') GROUP BY ALL`,
    );
    audience = new Map();
    for (const r of rows) {
      if (!audience.has(r.locale)) audience.set(r.locale, new Map());
      audience.get(r.locale)!.set(r.item_id, r.n);
    }
  });

  const ask = async (locale: string, quota = 400) =>
    (
      await fixture.served.generate(
        UserContext.fromPartial({ userId: 'nobody_new', locale, requestTimeMs: fixture.endMs }),
        quota,
      )
    ).candidates;

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
      const counts = [...audience.get(locale)!]
        .filter(([id]) => localeOf.get(id) === locale)
        .map(([, n]) => n)
        .sort((a, b) => a - b);
      expect(audience.get(locale)!.get(candidates[0].itemId)!).toBeGreaterThanOrEqual(
        counts[Math.floor(counts.length * 0.75)],
      );
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
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
    }
  });

  it('answers nothing without a locale, or for a world without locales', async () => {
    expect(await ask('')).toEqual([]);
    const imported = await serveOnImportedWorld(generator);
    try {
      expect(
        (await imported.generate(UserContext.fromPartial({ userId: '1', locale: 'en-US' }), 20)).candidates,
      ).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});
