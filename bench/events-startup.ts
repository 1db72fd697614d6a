// How the events service's start-up grows with its live log: the log's lines since the last
// compaction are replayed into memory before it serves (services/events/events-service.ts). On a
// tiny world, N click events are appended to the live log, then a fresh process starts the events
// service on it; its start-up time and RSS are the cost of N uncompacted events.
//   node --import tsx bench/events-startup.ts [--events 100000,1000000] [--runs 3] [--doc]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { DAY_MS } from '../libs/data/world.js';
import { startEvents } from '../services/events/events-service.js';
import { LiveLog } from '../services/events/live-log.js';
import { median, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000,1000000' },
    runs: { type: 'string', default: '3' },
    child: { type: 'string' },
    doc: { type: 'boolean', default: false },
  },
});

interface Measured {
  startMs: number;
  rssMb: number;
  heapMb: number;
}

if (values.child) {
  // One start-up in a fresh process: its time, and its memory once serving (after a full GC).
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const server = await startEvents({ worldDir: values.child, port: 0, report: () => {} });
  const startMs = performance.now() - started;
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  await server.stop();
  const out: Measured = { startMs, rssMb: (mem.rss - rssBefore) / 2 ** 20, heapMb: mem.heapUsed / 2 ** 20 };
  console.log(JSON.stringify(out));
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'feedloom-events-startup-'));
try {
  const base = join(work, 'base');
  const world = await simulateWorld({ preset: 'tiny', seed: 5, dir: base, log: () => {} });
  const endMs = world.startMs + world.days * DAY_MS;
  const rows: (string | number)[][] = [];
  for (const n of values.events!.split(',').map(Number)) {
    const dir = join(work, `live-${n}`);
    cpSync(base, dir, { recursive: true });
    const { log } = await LiveLog.open(dir);
    // Clicks on the world's day after its end (the live day), from 2,000 users on 1,000 items.
    for (let i = 0; i < n; i += 10_000) {
      const batch = Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({
        userId: `u${(i + k) % 2_000}`,
        itemId: `i${(i + k) % 1_000}`,
        action: 'click' as const,
        timeMs: endMs + Math.floor(((i + k) / n) * (DAY_MS - 1)),
        boardId: '',
        source: 'bench',
        requestId: '',
        receivedMs: endMs,
      }));
      await log.append(batch);
    }
    await log.close();
    const runs: Measured[] = [];
    for (let r = 0; r < Number(values.runs); r++)
      runs.push(
        JSON.parse(
          execFileSync(
            process.execPath,
            ['--expose-gc', '--import', 'tsx', 'bench/events-startup.ts', '--child', dir],
            { encoding: 'utf8', maxBuffer: 1 << 20 },
          )
            .trim()
            .split('\n')
            .pop()!,
        ) as Measured,
      );
    rows.push([
      n.toLocaleString('en'),
      median(runs.map((m) => m.startMs)),
      median(runs.map((m) => m.rssMb)),
      median(runs.map((m) => m.heapMb)),
    ]);
    console.log(rows.at(-1)!.join('  '));
    rmSync(dir, { recursive: true, force: true });
  }
  const body =
    `Each row: the median of ${values.runs} fresh processes starting the events service on a tiny world (2,000 users, 1,000 items) whose live log holds that many click events.\n\n` +
    table(['live events', 'start-up ms', 'RSS growth MB', 'heap used MB, serving'], rows);
  console.log(body);
  if (values.doc)
    writeSection(
      'events-startup',
      'Events service start-up against the size of its live log (issue 16)',
      `node --import tsx bench/events-startup.ts --events ${values.events} --runs ${values.runs} --doc`,
      body,
    );
} finally {
  rmSync(work, { recursive: true, force: true });
}
