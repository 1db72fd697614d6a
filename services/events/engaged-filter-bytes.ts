// The measurement behind UserContext.engaged_filter's encoding: what each user's context grows by,
// as the Bloom filter that ships and as an exact `repeated string` list of the same items, on a
// world directory. A Blend sends the context to every generator, so multiply by their number.
//   npx tsx services/events/engaged-filter-bytes.ts WORLD_DIR [generators=22]
import { UserContext } from '../../generated/feedloom/v1/common.js';
import { ItemFilterReader } from '../../libs/generator-sdk/item-filter.js';
import { DEFAULT_MAX_ACTIONS } from './events-service.js';
import { loadWorldHistory } from './world-history.js';

const [worldDir, generatorsArg] = process.argv.slice(2);
if (!worldDir) throw new Error('usage: engaged-filter-bytes.ts WORLD_DIR [generators]');
const generators = Number(generatorsArg ?? 22);

const heapBefore = process.memoryUsage().heapUsed;
const { store, worldEndMs } = await loadWorldHistory(worldDir);
const heapAfter = process.memoryUsage().heapUsed;
const filterBytes: number[] = [];
const listBytes: number[] = [];
const items: number[] = [];
let beyondRecent = 0;
for (const userId of store.userIds()) {
  const context = store.context(userId, DEFAULT_MAX_ACTIONS, worldEndMs);
  if (!context.engagedFilter) continue;
  const without = UserContext.encode({ ...context, engagedFilter: undefined }).finish().length;
  filterBytes.push(UserContext.encode(context).finish().length - without);
  // The same items as `repeated string engaged_items = 11`: tag, length and the id, per item.
  const ids = store.engagedIds(userId);
  listBytes.push(ids.reduce((n, id) => n + 2 + Buffer.byteLength(id), 0));
  items.push(ids.length);
  const recent = new Set(context.recentActions.map((a) => a.itemId));
  beyondRecent += ids.filter((id) => !recent.has(id)).length;
  const reader = new ItemFilterReader(context.engagedFilter);
  if (!ids.every((id) => reader.has(id))) throw new Error(`${userId}: the filter misses an engaged item`);
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    mean: Math.round(mean),
    p50: s[Math.floor(s.length / 2)],
    p95: s[Math.floor(s.length * 0.95)],
    max: s[s.length - 1],
  };
};
const f = stats(filterBytes);
const l = stats(listBytes);
console.log(
  `world ${worldDir}: ${items.length} users with engagement; engaged items per user ${JSON.stringify(stats(items))}`,
);
console.log(
  `items beyond the ${DEFAULT_MAX_ACTIONS} recent actions: ${beyondRecent} of ${items.reduce((a, b) => a + b, 0)}`,
);
console.log(
  `bytes added per context, Bloom filter: ${JSON.stringify(f)}; per Blend (x${generators}): mean ${f.mean * generators}, p95 ${f.p95 * generators}, max ${f.max * generators}`,
);
console.log(
  `bytes added per context, exact id list: ${JSON.stringify(l)}; per Blend (x${generators}): mean ${l.mean * generators}, p95 ${l.p95 * generators}, max ${l.max * generators}`,
);
console.log(`heap after loading the history: ${Math.round((heapAfter - heapBefore) / 1e6)} MB`);
