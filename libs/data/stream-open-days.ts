// The event stream's days not yet compacted, as live-log files in a scratch directory: a batch run
// over a JetStream-backed world reads them beside the Parquet days, as it reads the file backend's
// live files, so snapshots see what was logged since the last compaction, not only closed days.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JetStreamSettings } from '../config/mesh.js';
import { openDuck } from './duck.js';
import { connectToBroker, readStream } from './event-broker.js';
import { dayOfSubject } from './event-stream.js';
import { streamCompactedThrough } from './stream-compaction.js';

/** Writes dir/day=D/stream.jsonl for every day with messages not in Parquet yet; resolves with how many events. */
export async function exportOpenStreamDays(
  worldDir: string,
  settings: JetStreamSettings,
  dir: string,
): Promise<number> {
  const broker = await connectToBroker(settings, 'feedloom-batch');
  const duck = await openDuck();
  try {
    const through = await streamCompactedThrough(duck.conn, worldDir);
    const byDay = new Map<string, string[]>();
    await readStream(broker, settings.stream, (m) => {
      const day = dayOfSubject(m.subject);
      // At or below a day's newest compacted seq: in Parquet already (not purged yet).
      if (m.seq <= (through.get(day) ?? 0)) return;
      let lines = byDay.get(day);
      if (!lines) byDay.set(day, (lines = []));
      // An unreadable message is skipped here as the file log's unreadable lines are; compaction reports it.
      const text = m.string();
      if (text.startsWith('{')) lines.push(text);
    });
    let events = 0;
    for (const [day, lines] of byDay) {
      await fs.mkdir(path.join(dir, `day=${day}`), { recursive: true });
      await fs.writeFile(path.join(dir, `day=${day}`, 'stream.jsonl'), lines.join('\n') + '\n');
      events += lines.length;
    }
    return events;
  } finally {
    duck.close();
    await broker.nc.close().catch(() => undefined);
  }
}
