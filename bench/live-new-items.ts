// After bench/retraining-pays.ts --keep: what each arm's users were shown and engaged with during
// live play, and how much of it was items created during play (the world's new items).
//   node --import tsx bench/live-new-items.ts KEPT_DIR/on/world KEPT_DIR/off/world [--from 2026-01-09]
import { parseArgs } from 'node:util';
import { eventsView, openDuck, queryRows, sqlString } from '../libs/data/duck.js';
import { worldPaths } from '../libs/data/world.js';
import { table } from './lib.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string', default: '2026-01-09' } },
});
const fromMs = Date.parse(`${values.from}T00:00:00Z`);
const rows: (string | number)[][] = [];
for (const dir of positionals) {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, dir);
    const [r] = await queryRows<Record<string, bigint | number>>(
      duck.conn,
      `WITH items AS (SELECT item_id, created_ms FROM read_parquet(${sqlString(worldPaths(dir).table('items'))})),
       live AS (SELECT e.*, i.created_ms >= ${fromMs} AS new FROM events e LEFT JOIN items i USING (item_id)
                WHERE e.time_ms >= ${fromMs})
       SELECT count(*) FILTER (WHERE action = 'impression') AS impressions,
              count(*) FILTER (WHERE action = 'impression' AND new) AS new_impressions,
              count(*) FILTER (WHERE action IN ('click', 'save')) AS engaged,
              count(*) FILTER (WHERE action IN ('click', 'save') AND new) AS new_engaged,
              count(DISTINCT item_id) FILTER (WHERE action = 'impression') AS items_shown,
              count(DISTINCT item_id) FILTER (WHERE action = 'impression' AND new) AS new_items_shown,
              (SELECT count(*) FROM items WHERE created_ms >= ${fromMs}) AS new_items,
              (SELECT avg(n) FROM (SELECT count(DISTINCT item_id) AS n FROM live
                 WHERE action IN ('click', 'save') GROUP BY user_id)) AS engaged_items_per_user
       FROM live`,
    );
    const n = (k: string) => Number(r[k]);
    rows.push([
      dir,
      n('impressions'),
      `${n('new_impressions')} (${((100 * n('new_impressions')) / n('impressions')).toFixed(1)}%)`,
      `${n('new_engaged')} (${((100 * n('new_engaged')) / n('engaged')).toFixed(1)}%)`,
      n('items_shown'),
      `${n('new_items_shown')} of ${n('new_items')}`,
      n('engaged_items_per_user').toFixed(1),
    ]);
  } finally {
    duck.close();
  }
}
console.log(
  table(
    [
      'world',
      'impressions',
      'of new items',
      'clicks+saves on new items',
      'items shown',
      'new items shown',
      'distinct engaged items per user',
    ],
    rows,
  ),
);
