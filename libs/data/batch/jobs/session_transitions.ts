import { defineBatchJob, decaySql, type ScoredItem } from '../job.js';

/** Consecutive engagements further apart than this only count when they share a session id. */
export const SESSION_GAP_MS = 30 * 60 * 1000;

/** A row of `session_transitions`: what was engaged with next after an item, best first. */
export interface SessionTransitionRow {
  item_id: string;
  next: ScoredItem[];
}

/**
 * Rows: { item_id, next: [{ item_id, score }] }, best first. For each user, engaged items (first
 * click or save per session) in time order; a → b counts when b came next (weight 1) or one after
 * next (weight 0.5) in the same session, or within 30 min when session ids differ or are missing
 * (live events). Each user counts once per pair, decayed by the transition's age (half-life
 * 7 days). score = weight(a → b) / (Σ_x weight(a → x) + 1): a smoothed P(next = b | a).
 * Top 50 per item.
 */
export const sessionTransitions = defineBatchJob<SessionTransitionRow>()({
  name: 'session_transitions',
  description:
    'next-item transitions among engaged items within a session (or 30 min), smoothed P(b next | a), top 50 per item',
  sql: (p) => `
    WITH engaged AS (
      SELECT user_id, session_id, item_id, min(time_ms) AS t
      FROM events WHERE action IN ('click', 'save')
      GROUP BY user_id, session_id, item_id
    ),
    ordered AS (
      SELECT user_id, session_id, item_id, t,
        lead(item_id, 1) OVER w AS item_1, lead(session_id, 1) OVER w AS session_1, lead(t, 1) OVER w AS t_1,
        lead(item_id, 2) OVER w AS item_2, lead(session_id, 2) OVER w AS session_2, lead(t, 2) OVER w AS t_2
      FROM engaged
      WINDOW w AS (PARTITION BY user_id ORDER BY t, item_id)
    ),
    steps AS (
      SELECT user_id, item_id AS src, item_1 AS dst, 1.0 AS w, t FROM ordered
      WHERE item_1 IS NOT NULL AND (session_1 = session_id OR t_1 - t <= ${SESSION_GAP_MS})
      UNION ALL
      SELECT user_id, item_id, item_2, 0.5, t FROM ordered
      WHERE item_2 IS NOT NULL AND (session_2 = session_id OR t_2 - t <= ${SESSION_GAP_MS})
    ),
    per_user AS (
      SELECT user_id, src, dst, max(w * ${decaySql('t', p, 7)}) AS w FROM steps WHERE src <> dst GROUP BY user_id, src, dst
    ),
    pairs AS (SELECT src, dst, sum(w) AS w FROM per_user GROUP BY src, dst),
    normalized AS (SELECT src, dst, w / (sum(w) OVER (PARTITION BY src) + 1.0) AS score FROM pairs),
    scored AS (
      SELECT * FROM normalized
      QUALIFY row_number() OVER (PARTITION BY src ORDER BY score DESC, dst) <= 50
    )
    SELECT src AS item_id,
      list_transform(list_sort(list({'rank': -score, 'item_id': dst, 'score': score})),
                     lambda x: {'item_id': x.item_id, 'score': x.score}) AS next
    FROM scored
    GROUP BY src
    ORDER BY src`,
});
