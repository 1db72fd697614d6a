// Popularity: every user gets the items most users interacted with in the training part.
import type { Interactions } from '../../cf/interactions.js';
import { itemCount } from '../../cf/interactions.js';

/** Per item, the number of training users who interacted with it (the same scores for everyone). */
export function popularityScores(m: Interactions): Float64Array {
  return Float64Array.from(m.items, (_, i) => itemCount(m, i));
}
