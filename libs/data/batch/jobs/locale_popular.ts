import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql } from '../job.js';

const OWN_PER_LOCALE = 300;
const OTHER_PER_LOCALE = 200;

/** A row of `locale_popular`. */
export interface LocalePopularRow {
  locale: string;
  /** The locale's own items first (score in (1, 2]), then other items its users like (score in (0, 1]). */
  items: { item_id: string; score: number; own: boolean }[];
}

/**
 * Rows: { locale, items: [{ item_id, score, own }] } in serving order: per user locale, the items
 * the users of that locale engaged with most (time-decayed, save 3, click 1, half-life 3 days).
 * Items in the locale itself come first (top 300, score 1 + engagement / the best one's), then
 * items of other locales popular with its users (top 200, score in (0, 1]). No rows without locales.
 */
export const localePopular = defineBatchJob<LocalePopularRow>()({
  name: 'locale_popular',
  description:
    "per user locale: items its users engaged with most (decayed, half-life 3 days), the locale's own items first (300), then others (200)",
  sql: (p) => `
    WITH audience AS (
      SELECT u.locale, e.item_id, sum(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('e.time_ms', p, 3)}) AS engagement
      FROM events e JOIN users u ON u.user_id = e.user_id
      WHERE e.action IN ('click', 'save') AND u.locale IS NOT NULL
      GROUP BY u.locale, e.item_id
    ),
    tiered AS (
      SELECT a.locale, a.item_id, a.engagement, coalesce(i.locale = a.locale, false) AS own
      FROM audience a LEFT JOIN items i ON i.item_id = a.item_id
      WHERE a.engagement > 0
    ),
    ranked AS (
      SELECT locale, item_id, own,
        (CASE WHEN own THEN 1.0 ELSE 0.0 END) + engagement / max(engagement) OVER (PARTITION BY locale, own) AS score
      FROM tiered
      QUALIFY row_number() OVER (PARTITION BY locale, own ORDER BY engagement DESC, item_id)
              <= CASE WHEN own THEN ${OWN_PER_LOCALE} ELSE ${OTHER_PER_LOCALE} END
    )
    SELECT locale,
      list_transform(list_sort(list({'rank': -score, 'item_id': item_id, 'score': score, 'own': own})),
                     lambda x: {'item_id': x.item_id, 'score': x.score, 'own': x.own}) AS items
    FROM ranked
    GROUP BY locale
    ORDER BY locale`,
});
