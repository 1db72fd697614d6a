// Sums the major GCs (Mark-Compact) of a `node --trace-gc` log after a marker line, per V8 isolate
// (the main thread and each worker thread have their own heap), e.g. around a benchmark:
//   stdbuf -oL node --trace-gc --import tsx bench/blend-closed-loop.ts … > run.log
//   node --import tsx bench/gc-trace-summary.ts run.log [--after 'warm-up done']
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { after: { type: 'string', default: 'warm-up done' } },
});
const lines = readFileSync(positionals[0], 'utf8').split('\n');
const start = lines.findIndex((l) => l.includes(values.after));
if (start < 0) throw new Error(`no line with "${values.after}" in ${positionals[0]}`);
// [pid:isolate]  time ms: Mark-Compact 120.5 (135.2) -> 100.1 (130.0) MB, [pooled: 0 MB, ]45.2 / 0.0 ms …
const GC =
  /^\[\d+:(0x[0-9a-f]+)\].*?: (Mark-Compact|Scavenge|Minor Mark-Compact)\b.*?-> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ /;
const byIsolate = new Map<string, { major: number[]; minorMs: number; heapAfterMb: number }>();
for (const line of lines.slice(start + 1)) {
  const m = GC.exec(line);
  if (!m) continue;
  const s = byIsolate.get(m[1]) ?? { major: [], minorMs: 0, heapAfterMb: 0 };
  byIsolate.set(m[1], s);
  if (m[2] === 'Mark-Compact') {
    s.major.push(Number(m[4]));
    s.heapAfterMb = Number(m[3]);
  } else s.minorMs += Number(m[4]);
}
const all = [...byIsolate.values()];
const major = all.flatMap((s) => s.major).sort((a, b) => a - b);
const summary = {
  isolates: all.length,
  majorGcs: major.length,
  majorPauseMsTotal: Number(major.reduce((a, b) => a + b, 0).toFixed(1)),
  majorPauseMsMax: major.at(-1) ?? 0,
  minorPauseMsTotal: Number(all.reduce((a, s) => a + s.minorMs, 0).toFixed(1)),
  // The heap each isolate had left after its last major GC in the window (MB), largest first.
  heapAfterMajorMb: all.map((s) => s.heapAfterMb).sort((a, b) => b - a),
};
console.log(JSON.stringify(summary));
