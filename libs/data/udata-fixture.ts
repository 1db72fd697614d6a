// A deterministic writer of MovieLens `u.data`-layout files (user \t item \t rating \t unix seconds):
// the shape of the public ratings file a new user tries first, without shipping or downloading it.
// Taste clusters, a popularity skew, items released over time and per-user interest drift give
// collaborative filtering real signal; only user, item, rating and time are written.
import { writeFileSync } from 'node:fs';
import { createRng } from './random.js';

export interface UDataOptions {
  users: number;
  items: number;
  rows: number;
  seed: number;
  /** First and last rating time, unix seconds (default: 1997-09-20 .. 1998-04-22, as MovieLens 100k). */
  fromS?: number;
  toS?: number;
  /** Genres (taste clusters). */
  genres?: number;
}

/** The full-size file: ~943 users × ~1.6k items × 100k rows. */
export const UDATA_FULL: UDataOptions = { users: 943, items: 1682, rows: 100_000, seed: 1997 };
/** A small one for tests: the same shape, a few seconds through the whole path. */
export const UDATA_SMALL: UDataOptions = { users: 200, items: 400, rows: 12_000, seed: 1997 };

const ML100K_FROM_S = Date.UTC(1997, 8, 20) / 1000;
const ML100K_TO_S = Date.UTC(1998, 3, 22) / 1000;
/** MovieLens keeps only users with at least 20 ratings. */
const MIN_PER_USER = 20;

export interface UDataRow {
  user: number;
  item: number;
  rating: number;
  timeS: number;
}

/** The model the rows were drawn from: what an oracle knows and no recommender sees. */
export interface UDataLatent {
  genres: number;
  /** Per item (index = item id - 1): its genres, quality, popularity weight and release time. */
  genreA: Int32Array;
  genreB: Int32Array;
  quality: Float64Array;
  popularity: Float64Array;
  releasedS: Float64Array;
  /** Per user (index = user id - 1): the taste they drift from, the one they drift to, a side taste. */
  users: { first: number; second: number; side: number }[];
}

/** A user's taste over the genres, `drift` (0..1) of the way through their ratings. */
export function udataTaste(user: UDataLatent['users'][number], drift: number, genres: number): Float64Array {
  const taste = new Float64Array(genres).fill(0.05);
  taste[user.first] += 3 * (1 - drift);
  taste[user.second] += 3 * drift;
  taste[user.side] += 0.8;
  return taste;
}

/** How much a user of this taste wants item i, before what they rated and what is not yet released. */
export const udataItemWeight = (
  latent: Pick<UDataLatent, 'genreA' | 'genreB' | 'quality' | 'popularity'>,
  taste: Float64Array,
  i: number,
) => latent.popularity[i] * (taste[latent.genreA[i]] + taste[latent.genreB[i]]) * Math.exp(0.3 * latent.quality[i]);

/** The rows, sorted by user then time as u.data is not (it is shuffled; see writeUData). */
export function generateUData(options: UDataOptions): UDataRow[] {
  return generateUDataWithLatent(options).rows;
}

/** The rows and the model they were drawn from. */
export function generateUDataWithLatent(options: UDataOptions): { rows: UDataRow[]; latent: UDataLatent } {
  const rng = createRng(options.seed);
  const fromS = options.fromS ?? ML100K_FROM_S;
  const toS = options.toS ?? ML100K_TO_S;
  const span = toS - fromS;
  const genres = options.genres ?? 19;
  const { users, items } = options;

  // Items: one or two genres, a quality, a Zipf-like popularity and a release time (a fifth predate the log).
  const genreA = new Int32Array(items);
  const genreB = new Int32Array(items);
  const quality = new Float64Array(items);
  const popularity = new Float64Array(items);
  const releasedS = new Float64Array(items);
  const order = rng.shuffle([...Array(items).keys()]);
  for (let i = 0; i < items; i++) {
    genreA[i] = rng.int(genres);
    genreB[i] = rng.next() < 0.4 ? rng.int(genres) : genreA[i];
    quality[i] = rng.normal();
    popularity[i] = 1 / Math.pow(1 + order[i], 0.9);
    releasedS[i] = rng.next() < 0.2 ? fromS - 86_400 : fromS + rng.next() * span * 0.9;
  }

  // Users: a heavy-tailed number of ratings (at least 20) adding up to about `rows`.
  const raw = Array.from({ length: users }, () => Math.exp(rng.normal() * 1.1));
  const rawSum = raw.reduce((a, b) => a + b, 0);
  const budget = Math.max(0, options.rows - users * MIN_PER_USER);
  const counts = raw.map((r) => Math.min(items - 1, MIN_PER_USER + Math.round((budget * r) / rawSum)));

  const latentItems = { genreA, genreB, quality, popularity };
  const rows: UDataRow[] = [];
  const latentUsers: UDataLatent['users'] = [];
  const weights = new Float64Array(items);
  for (let u = 0; u < users; u++) {
    // Two tastes: the user drifts from the first to the second over their ratings.
    const user = { first: rng.int(genres), second: 0, side: 0 };
    user.second = rng.next() < 0.5 ? user.first : rng.int(genres);
    user.side = rng.int(genres);
    latentUsers.push(user);
    const n = counts[u];
    // Most users rate within days of joining; some keep coming back for months.
    const startS = fromS + rng.next() * span * 0.85;
    const activeS = Math.min(toS - startS, rng.next() < 0.6 ? 3 * 86_400 * rng.next() + 3600 : span * rng.next());
    const taken = new Uint8Array(items);
    const times = Array.from({ length: n }, () => startS + rng.next() * activeS).sort((a, b) => a - b);
    for (let k = 0; k < n; k++) {
      const t = times[k];
      const taste = udataTaste(user, n > 1 ? k / (n - 1) : 0, genres);
      let total = 0;
      for (let i = 0; i < items; i++) {
        const w = taken[i] || releasedS[i] > t ? 0 : udataItemWeight(latentItems, taste, i);
        total += w;
        weights[i] = total;
      }
      if (total <= 0) break;
      const item = rng.cumulativeIndex(weights);
      taken[item] = 1;
      const affinity = (taste[genreA[item]] + taste[genreB[item]]) / 3;
      const score = 3.2 + 0.8 * quality[item] + 0.9 * (affinity - 0.5) + 0.8 * rng.normal();
      rows.push({
        user: u + 1,
        item: item + 1,
        rating: Math.min(5, Math.max(1, Math.round(score))),
        timeS: Math.floor(t),
      });
    }
  }
  return { rows, latent: { genres, genreA, genreB, quality, popularity, releasedS, users: latentUsers } };
}

/** Writes the rows tab-separated in a deterministic shuffled order, as u.data is; returns the row count. */
export function writeUData(file: string, options: UDataOptions): number {
  const rows = generateUData(options);
  createRng(options.seed + 1).shuffle(rows);
  writeFileSync(file, rows.map((r) => `${r.user}\t${r.item}\t${r.rating}\t${r.timeS}`).join('\n') + '\n');
  return rows.length;
}
