// Sums the major GCs (Mark-Compact) of a `node --trace-gc` log after a marker line, per V8 isolate
// (the main thread and each worker thread have their own heap), e.g. around a benchmark:
//   stdbuf -oL node --trace-gc --import tsx bench/blend-closed-loop.ts … > run.log
//   node --import tsx bench/gc-trace-summary.ts run.log [--after 'warm-up done'] [--blends N]
// A `--trace-gc-nvp` log also gives, per isolate, the bytes its scavenges found allocated and
// promoted (what outlived two scavenges, which is what brings the next Mark-Compact), per Blend
// with --blends (the benchmark's count in the window).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { after: { type: 'string', default: 'warm-up done' }, blends: { type: 'string' } },
});
const lines = readFileSync(positionals[0], 'utf8').split('\n');
const start = lines.findIndex((l) => l.includes(values.after));
if (start < 0) throw new Error(`no line with "${values.after}" in ${positionals[0]}`);
// [pid:isolate]  time ms: Mark-Compact 120.5 (135.2) -> 100.1 (130.0) MB, [pooled: 0 MB, ]45.2 / 0.0 ms …
const GC =
  /^\[\d+:(0x[0-9a-f]+)\].*?: (Mark-Compact|Scavenge|Minor Mark-Compact)\b.*?-> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ /;
// [pid:isolate]  time ms: pause=3.2 mutator=… gc=s … allocated=14923488 promoted=1469392 …
const NVP = /^\[\d+:(0x[0-9a-f]+)\].*? pause=([\d.]+) .*? gc=(\w+) /;
const field = (line: string, name: string) => Number(new RegExp(` ${name}=(\\d+)`).exec(line)?.[1] ?? 0);
const byIsolate = new Map<string, { major: number[]; minorMs: number; heapAfterMb: number }>();
const scavenged = new Map<string, { allocated: number; promoted: number }>();
for (const line of lines.slice(start + 1)) {
  const nvp = NVP.exec(line);
  if (nvp) {
    const s = byIsolate.get(nvp[1]) ?? { major: [], minorMs: 0, heapAfterMb: 0 };
    byIsolate.set(nvp[1], s);
    if (nvp[3] === 's') {
      s.minorMs += Number(nvp[2]);
      const bytes = scavenged.get(nvp[1]) ?? { allocated: 0, promoted: 0 };
      bytes.allocated += field(line, 'allocated');
      bytes.promoted += field(line, 'promoted');
      scavenged.set(nvp[1], bytes);
    } else if (nvp[3] === 'mc') s.major.push(Number(nvp[2]));
    continue;
  }
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
  // --trace-gc-nvp only: per isolate, most allocating first; MB per Blend with --blends.
  scavenged: [...scavenged.values()]
    .sort((a, b) => b.allocated - a.allocated)
    .map((b) => {
      const per = Number(values.blends ?? 1) * 1e6;
      return { allocatedMb: Number((b.allocated / per).toFixed(3)), promotedMb: Number((b.promoted / per).toFixed(3)) };
    }),
};
console.log(JSON.stringify(summary));
