// The scheduler's jobs, from the mesh config's `schedule` section. Each may be re-run from scratch
// after a crash: the batch jobs publish new snapshot versions atomically, compaction finishes or
// redoes what a run left half done, and a cycle that died leaves its version `trained` (never
// serving), which the next cycle ignores.
import fs from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { parseInterval } from '../../../libs/config/interval.js';
import { snapshotsDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { eventLogEndMs, runBatchJobs, staleBatchJobs } from '../../../libs/data/batch/run.js';
import { compactLiveLog, type CompactionResult } from '../../../libs/data/live-compaction.js';
import { compactStream } from '../../../libs/data/stream-compaction.js';
import { exportOpenStreamDays } from '../../../libs/data/stream-open-days.js';
import { LockHeldError } from '../../../libs/registry/fs-atomic.js';
import { runCycle } from '../../offline/retrain/cycle.js';
import { rolloutPublished } from '../rollout/retrain-hand-off.js';
import type { ScheduledJob } from './scheduler.js';
import { formatEvery } from './state.js';

const SCHEDULER = 'scheduler';

function compactionSummary(result: CompactionResult): string {
  const rows = result.days.reduce((sum, d) => sum + d.rows, 0);
  const days = result.days.map((d) => d.day).join(', ');
  return `${result.days.length} day(s) compacted${days ? ` (${days}: ${rows} events)` : ''}${result.skipped.length ? `; left: ${result.skipped.join('; ')}` : ''}`;
}

/** The enabled jobs of the config, in the order they run when due together. */
export function scheduledJobs(mesh: MeshConfig): ScheduledJob[] {
  const { schedule } = mesh;
  const worldDir = mesh.world.dir;
  // Intervals are simulated time: under world.clockSpeed S a 6h cycle comes every 6h / S of wall time.
  const every = (text: string) => Math.max(1, Math.round(parseInterval(text) / mesh.world.clockSpeed));
  const jobs: ScheduledJob[] = [];
  if (schedule.compaction.enabled)
    jobs.push({
      name: 'compaction',
      everyMs: every(schedule.compaction.every),
      async run(log) {
        const closedAfterMs = parseInterval(schedule.compaction.closedAfter);
        // The live files always (a world may hold some from before a switch to the broker), then the stream.
        const files = await compactLiveLog(worldDir, {
          closedAfterMs,
          idleForMs: parseInterval(schedule.compaction.idleFor),
          log,
        });
        const { backend, jetstream } = mesh.services.events;
        const stream =
          backend === 'jetstream' ? await compactStream(worldDir, jetstream, { closedAfterMs, log }) : undefined;
        return [compactionSummary(files), ...(stream ? [`stream: ${compactionSummary(stream)}`] : [])].join('; ');
      },
    });
  if (schedule.batch.enabled)
    jobs.push({
      name: 'batch',
      everyMs: every(schedule.batch.every),
      async run(log) {
        // On the JetStream backend the events since the last compaction are in the stream, not in live files.
        const js = mesh.services.events.backend === 'jetstream' ? mesh.services.events.jetstream : undefined;
        const scratch = js ? await fs.mkdtemp(path.join(tmpdir(), 'feedloom-batch-stream-')) : undefined;
        try {
          const streamed = js && scratch ? await exportOpenStreamDays(worldDir, js, scratch) : 0;
          const extraLiveDirs = scratch ? [scratch] : undefined;
          const asOfMs = await eventLogEndMs(worldDir, extraLiveDirs);
          const snapshotsDir = snapshotsDirOf(mesh);
          const upTo = `events up to ${new Date(asOfMs).toISOString()}${js ? ` (${streamed} from the stream's open days)` : ''}`;
          // Nothing logged since the snapshots were built (`up` has just built them): no work to compete with serving.
          if ((await staleBatchJobs(snapshotsDir, asOfMs)).length === 0)
            return `snapshots already cover ${upTo}; nothing to do`;
          const results = await runBatchJobs({
            worldDir,
            snapshotsDir,
            asOfMs,
            settings: mesh.batch,
            extraLiveDirs,
            log,
          });
          return `${results.length} snapshots published, ${upTo}`;
        } finally {
          if (scratch) await fs.rm(scratch, { recursive: true, force: true });
        }
      },
    });
  if (schedule.retrain.enabled)
    jobs.push({
      name: 'retrain',
      everyMs: every(schedule.retrain.every),
      async run(log) {
        const cycle = () =>
          runCycle({
            mesh,
            rollout: schedule.retrain.rollout ? rolloutPublished : undefined,
            force: schedule.retrain.force,
            runBy: SCHEDULER,
            log,
          });
        let result: Awaited<ReturnType<typeof runCycle>>;
        try {
          result = await cycle();
        } catch (err) {
          // Only the lease holder runs the scheduler's cycles, so a scheduler's lock from another
          // host (a pod that died) is a former leader's. A lock of this host is broken by the cycle
          // itself when its process is gone; an operator's `feedloom retrain` is waited for.
          if (!(
            err instanceof LockHeldError &&
            err.holder.what.endsWith(`(${SCHEDULER})`) &&
            err.holder.host !== hostname()
          ))
            throw err;
          log(`breaking the lock of a former leader's cycle: ${err.message}`);
          await fs.rm(err.lockFile, { force: true });
          result = await cycle();
        }
        const { report } = result;
        const models = report.models.map(
          (m) => `${m.model} ${m.version ?? '-'} ${m.outcome}${m.rollout ? ` (rollout: ${m.rollout.detail})` : ''}`,
        );
        const summary = `cycle ${report.id}: ${models.join('; ') || 'no model'}`;
        const failed =
          report.error || report.models.some((m) => m.outcome === 'failed' || (m.rollout && !m.rollout.ok));
        if (failed) throw new Error(`${summary}${report.error ? `: ${report.error}` : ''}`);
        return summary;
      },
    });
  return jobs;
}

/** The plan `up` prints: each enabled job and how often, in world time (and wall time when the clock runs faster). */
export function schedulePlan(mesh: MeshConfig): string {
  const jobs = scheduledJobs(mesh);
  if (jobs.length === 0) return 'scheduler: off (every job of the schedule section is disabled)';
  const speed = mesh.world.clockSpeed;
  const each = jobs.map(
    (j) =>
      `${j.name} every ${mesh.schedule[j.name as 'compaction' | 'batch' | 'retrain'].every}` +
      (speed === 1 ? '' : ` (${formatEvery(j.everyMs)} of wall time at clock speed ${speed})`),
  );
  const retrain = mesh.schedule.retrain;
  const after = retrain.enabled
    ? `; a retrained version that passes its gates is ${retrain.rollout ? 'rolled out' : 'published'}`
    : '';
  return `scheduler: ${each.join(', ')}${after}`;
}
