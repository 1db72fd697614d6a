import { defineBatchJob, decaySql } from '../job.js';

/** Items engaged by more users than this are left out of the pair join (quadratic in it, and damped to little anyway). */
export const MAX_ITEM_USERS = 200;
/** Neighbours kept per user. */
export const NEIGHBORS_PER_USER = 30;

/** A row of `user_neighbors`: a user's most similar users, best first. */
export interface UserNeighborsRow {
  user_id: string;
  neighbors: { user_id: string; score: number }[];
}

/**
 * Rows: { user_id, neighbors: [{ user_id, score }] }, best first. User-based CF: each user is a
 * vector over items of max(action weight: save 3, click 1) × decay (half-life 14 days), divided by
 * ln(1 + users who engaged the item) (popularity damping). Similarity is the cosine of two
 * vectors, shrunk by common / (common + 3) so one shared item is not a perfect match.
 */
export const userNeighbors = defineBatchJob<UserNeighborsRow>()({
  name: 'user_neighbors',
  description: `user-CF: top ${NEIGHBORS_PER_USER} users per user by popularity-damped cosine over click/save vectors (shrunk by common items), items with > ${MAX_ITEM_USERS} users skipped in pairs`,
  sql: (p) => `
    WITH engaged AS (
      SELECT user_id, item_id, max(CASE action WHEN 'save' THEN 3.0 ELSE 1.0 END * ${decaySql('time_ms', p, 14)}) AS w
      FROM events WHERE action IN ('click', 'save')
      GROUP BY user_id, item_id
    ),
    item_users AS (SELECT item_id, count(*) AS n FROM engaged GROUP BY item_id),
    damped AS MATERIALIZED (
      SELECT e.user_id, e.item_id, e.w / ln(1 + iu.n) AS w, iu.n
      FROM engaged e JOIN item_users iu ON iu.item_id = e.item_id
    ),
    norms AS (SELECT user_id, sqrt(sum(w * w)) AS norm FROM damped GROUP BY user_id),
    shared AS (SELECT * FROM damped WHERE n BETWEEN 2 AND ${MAX_ITEM_USERS}),
    pairs AS (
      SELECT a.user_id AS u, b.user_id AS v, sum(a.w * b.w) AS dot, count(*) AS common
      FROM shared a JOIN shared b ON a.item_id = b.item_id AND a.user_id <> b.user_id
      GROUP BY a.user_id, b.user_id
    ),
    scored AS (
      SELECT pr.u, pr.v, pr.dot / (nu.norm * nv.norm) * pr.common / (pr.common + 3.0) AS score
      FROM pairs pr JOIN norms nu ON nu.user_id = pr.u JOIN norms nv ON nv.user_id = pr.v
    )
    -- max_by(…, n) keeps the top n per user, best first, without sorting every pair.
    SELECT u AS user_id, max_by({'user_id': v, 'score': score}, score, ${NEIGHBORS_PER_USER}) AS neighbors
    FROM scored
    GROUP BY u
    ORDER BY u`,
});
