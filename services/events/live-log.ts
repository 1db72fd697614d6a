import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { unavailable } from '../../libs/bootstrap/errors.js';
import { isShadowed } from '../../libs/data/live-files.js';
import { dayKey, worldPaths } from '../../libs/data/world.js';
import { isActionName } from './action-names.js';
import type { EventLog, LoggedEvent, LogProblem, NewEvent, Replay } from './event-log.js';

/**
 * The live event log: JSON lines under <world>/events/live/day=YYYY-MM-DD/, one file per process
 * start per day. An append is acknowledged only after its lines are fsynced; appends that arrive
 * while a write is in flight wait and go out together in the next write (group commit), so many
 * concurrent callers share one fsync.
 */

export type { NewEvent, LoggedEvent, LogProblem, Replay } from './event-log.js';

// Events with their own times can spread over many days; keep only a few day files open.
const MAX_OPEN_FILES = 8;

interface DayFile {
  handle: FileHandle;
  size: number;
  path: string;
  ino: number;
}

interface WaitingAppend {
  events: NewEvent[];
  resolve(logged: LoggedEvent[]): void;
  reject(err: Error): void;
}

export class LiveLog implements EventLog {
  private readonly files = new Map<string, DayFile>();
  private pending: WaitingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** How many writes (each one fsync per day file) have gone out: for measuring group commit. */
  commits = 0;

  private constructor(
    private readonly dir: string,
    private readonly fileName: string,
    private nextSeq: number,
  ) {}

  /**
   * Replays what earlier processes wrote, then opens the log for appending after it (and after
   * compactedSeq, the last sequence number of the events compacted into Parquet days).
   */
  static async open(worldDir: string, compactedSeq = 0): Promise<{ log: LiveLog; replay: Replay }> {
    const dir = worldPaths(worldDir).live;
    const replay = await replayLiveLog(dir);
    const lastSeq = replay.events.reduce((max, e) => Math.max(max, e.seq), compactedSeq);
    const fileName = `${Date.now()}-${process.pid}-${randomBytes(3).toString('hex')}.jsonl`;
    return { log: new LiveLog(dir, fileName, lastSeq + 1), replay };
  }

  /** The sequence number of the last acknowledged event (0 when the log is empty). */
  get lastSequence(): number {
    return this.nextSeq - 1;
  }

  /** Appends the events durably; resolves with their sequence numbers once they are on disk. */
  append(events: NewEvent[]): Promise<LoggedEvent[]> {
    if (this.closed) return Promise.reject(unavailable('the events log is shutting down'));
    return new Promise((resolve, reject) => {
      this.pending.push({ events, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Finishes the appends already accepted, then closes the files. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await Promise.all([...this.files.values()].map((f) => f.handle.close()));
    this.files.clear();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.commit(batch);
    }
    this.flushing = undefined;
  }

  private async commit(batch: WaitingAppend[]): Promise<void> {
    let seq = this.nextSeq;
    const logged = batch.map((w) => w.events.map((e) => ({ ...e, seq: seq++ })));
    const linesByDay = new Map<string, string[]>();
    for (const event of logged.flat()) {
      const day = dayKey(event.timeMs);
      let lines = linesByDay.get(day);
      if (!lines) linesByDay.set(day, (lines = []));
      lines.push(formatLine(event));
    }
    const written: { file: DayFile; sizeBefore: number }[] = [];
    try {
      for (const [day, lines] of linesByDay) {
        const file = await this.dayFile(day);
        written.push({ file, sizeBefore: file.size });
        const bytes = Buffer.from(lines.join(''));
        await writeFully(file.handle, bytes);
        file.size += bytes.length;
      }
      await Promise.all(written.map(({ file }) => file.handle.datasync()));
      this.commits++;
    } catch (err) {
      // All or nothing: cut back whatever part of this write reached the files.
      for (const { file, sizeBefore } of written) {
        await file.handle.truncate(sizeBefore).catch(() => undefined);
        file.size = sizeBefore;
      }
      const failure = unavailable(`cannot write the events log: ${(err as Error).message}`);
      for (const w of batch) w.reject(failure);
      return;
    } finally {
      await this.closeLeastRecentFiles();
    }
    this.nextSeq = seq;
    batch.forEach((w, i) => w.resolve(logged[i]));
  }

  private async closeLeastRecentFiles(): Promise<void> {
    for (const [day, file] of this.files) {
      if (this.files.size <= MAX_OPEN_FILES) return;
      this.files.delete(day);
      await file.handle.close().catch(() => undefined);
    }
  }

  private async dayFile(day: string): Promise<DayFile> {
    const open_ = this.files.get(day);
    if (open_) {
      this.files.delete(day);
      // Compaction renames a closed day's file away (then deletes it): write to a new file by the
      // name, never through the old handle into a file that is going away.
      const now = await stat(open_.path).catch(() => undefined);
      if (now?.ino === open_.ino) {
        // Map order doubles as least-recently-used order.
        this.files.set(day, open_);
        return open_;
      }
      await open_.handle.close().catch(() => undefined);
    }
    const dayDir = join(this.dir, `day=${day}`);
    await makeDirDurably(dayDir);
    const path = join(dayDir, this.fileName);
    const handle = await open(path, 'a');
    const st = await handle.stat();
    const file = { handle, size: st.size, path, ino: st.ino };
    // The new file's directory entry must be on disk too before anything in it is acknowledged.
    await syncDir(dayDir);
    this.files.set(day, file);
    return file;
  }
}

function formatLine(e: LoggedEvent): string {
  return JSON.stringify(recordOf(e)) + '\n';
}

/** An event as the JSON object the log keeps (the file log's lines, the stream's messages). */
export function recordOf(e: NewEvent & { seq?: number }): Record<string, unknown> {
  return {
    user_id: e.userId,
    item_id: e.itemId,
    action: e.action,
    time_ms: e.timeMs,
    board_id: e.boardId,
    source: e.source,
    request_id: e.requestId,
    ...(e.logKey ? { log_key: e.logKey } : {}),
    ...(e.receivedMs !== undefined ? { received_ms: e.receivedMs } : {}),
    ...(e.seq !== undefined ? { seq: e.seq } : {}),
  };
}

/** One line back into an event, or a reason it is not one. */
export function parseLine(text: string): LoggedEvent | string {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof raw !== 'object' || raw === null) return 'not a JSON object';
  return eventOf(raw);
}

/** A log record (recordOf's shape) back into an event, or a reason it is not one. */
export function eventOf(raw: Record<string, unknown>): LoggedEvent | string {
  const str = (key: string) => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined);
  const int = (key: string) => (Number.isSafeInteger(raw[key]) ? (raw[key] as number) : undefined);
  const [userId, itemId, action, timeMs, seq] = [
    str('user_id'),
    str('item_id'),
    raw.action,
    int('time_ms'),
    int('seq'),
  ];
  if (!userId || !itemId) return 'user_id or item_id missing';
  if (!isActionName(action)) return `unknown action ${JSON.stringify(action)}`;
  if (timeMs === undefined || seq === undefined || seq < 1) return 'time_ms or seq missing';
  return {
    userId,
    itemId,
    action,
    timeMs,
    boardId: str('board_id') ?? '',
    source: str('source') ?? '',
    requestId: str('request_id') ?? '',
    ...(str('log_key') ? { logKey: str('log_key') } : {}),
    ...(int('received_ms') !== undefined ? { receivedMs: int('received_ms') } : {}),
    seq,
  };
}

/** Reads every live log file; unreadable lines are skipped and reported, never fatal. */
export async function replayLiveLog(dir: string): Promise<Replay> {
  const events: LoggedEvent[] = [];
  const problems: LogProblem[] = [];
  let files = 0;
  for (const dayDir of (await listDir(dir)).filter((n) => n.startsWith('day=')).sort()) {
    for (const name of (await listDir(join(dir, dayDir))).filter((n) => n.endsWith('.jsonl')).sort()) {
      const file = join(dir, dayDir, name);
      // Already in a compacted Parquet day (read with the history): skipped, not counted twice.
      if (isShadowed(file, dirname(dir))) continue;
      files++;
      let lineNo = 0;
      const tail = await forEachLine(file, (text) => {
        lineNo++;
        if (text === '') return;
        const parsed = parseLine(text);
        if (typeof parsed === 'string') problems.push({ file, line: lineNo, kind: 'corrupt', detail: parsed });
        else events.push(parsed);
      });
      // The writer ends every acknowledged line with a newline; a tail without one never completed.
      if (tail !== '')
        problems.push({
          file,
          line: lineNo + 1,
          kind: 'torn',
          detail: `unfinished last line of ${Buffer.byteLength(tail)} bytes`,
        });
    }
  }
  events.sort((a, b) => a.seq - b.seq);
  return { events, problems, files, source: `${files} files` };
}

/** Calls onLine for each newline-terminated line; returns the unterminated rest ('' if none). */
async function forEachLine(file: string, onLine: (text: string) => void): Promise<string> {
  let rest = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    const parts = (rest + (chunk as string)).split('\n');
    rest = parts.pop()!;
    for (const part of parts) onLine(part);
  }
  return rest;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function writeFully(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** mkdir -p, with each directory it creates made durable in its parent. */
async function makeDirDurably(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) await syncDir(dirname(d));
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
