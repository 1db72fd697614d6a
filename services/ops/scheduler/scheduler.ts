// The scheduler: a list of named jobs, each run every so often, driven by one loop, one job at a
// time (a batch run never reads the log while compaction moves it, nor a retraining cycle). Only
// the holder of the lease runs jobs; each job's last and next run and its result are kept in
// <world>/schedule/state.json. A job a dead leader left running is marked interrupted and run
// again from scratch by the next leader, which every job must allow (scheduler-jobs.ts).
import { leaseFileOf, readScheduleState, writeScheduleState, type JobState, type ScheduleState } from './state.js';
import { newHolderId, releaseLease, takeOrRenewLease } from './lease.js';

export interface ScheduledJob {
  name: string;
  everyMs: number;
  /** Resolves with what happened, in one line; a throw is a failed run. */
  run(log: (line: string) => void): Promise<string>;
}

export interface SchedulerOptions {
  worldDir: string;
  jobs: ScheduledJob[];
  leaseTtlMs: number;
  /** Default: a new id for this process. */
  holder?: string;
  log?: (line: string) => void;
}

export interface RunningScheduler {
  holder: string;
  /** Stops the loop; a job still running is recorded interrupted (the next leader runs it again). */
  stop(): Promise<void>;
}

export function startScheduler(options: SchedulerOptions): RunningScheduler {
  const { worldDir, jobs, leaseTtlMs } = options;
  const log = options.log ?? (() => {});
  const holder = options.holder ?? newHolderId();
  const leaseFile = leaseFileOf(worldDir);
  // Renew well before expiry, and look for due jobs as often.
  const tickMs = Math.max(200, Math.min(5_000, Math.floor(leaseTtlMs / 3)));
  let stopped = false;
  let wake = () => {};
  let leading = false;
  let running: string | undefined;
  let state: ScheduleState = { jobs: {} };

  const save = () => writeScheduleState(worldDir, state);

  const lead = async (): Promise<boolean> => {
    const lease = await takeOrRenewLease(leaseFile, holder, leaseTtlMs);
    const mine = lease.holder === holder;
    if (mine && !leading) {
      log(`scheduler ${holder}: leading (lease ${leaseTtlMs} ms)`);
      state = adopt(await readScheduleState(worldDir), jobs, holder);
      await save();
    } else if (!mine && leading) log(`scheduler ${holder}: lost the lease to ${lease.holder}`);
    leading = mine;
    return mine;
  };

  const runJob = async (job: ScheduledJob) => {
    const startMs = Date.now();
    running = job.name;
    state.jobs[job.name] = { ...state.jobs[job.name], everyMs: job.everyMs, running: { holder, sinceMs: startMs } };
    await save();
    log(`scheduler: ${job.name} started`);
    // The lease is renewed while the job runs (a retraining cycle takes minutes).
    const renew = setInterval(
      () => void lead().catch((err) => log(`scheduler: lease: ${(err as Error).message}`)),
      tickMs,
    );
    let result: JobState['lastResult'] = 'ok';
    let detail: string;
    try {
      detail = await job.run((line) => log(`${job.name}: ${line}`));
    } catch (err) {
      result = 'failed';
      detail = (err as Error).message;
    } finally {
      clearInterval(renew);
    }
    running = undefined;
    if (stopped && state.jobs[job.name].lastResult === 'interrupted') return; // stop() recorded it
    if (!leading) {
      // The state is the new leader's now; it sees this run as interrupted and runs the job again.
      log(`scheduler: ${job.name} ${result} after the lease was lost; not recorded`);
      return;
    }
    const endMs = Date.now();
    state.jobs[job.name] = {
      everyMs: job.everyMs,
      lastStartMs: startMs,
      lastEndMs: endMs,
      lastResult: result,
      lastDetail: detail,
      nextRunMs: startMs + job.everyMs,
    };
    await save();
    log(`scheduler: ${job.name} ${result} in ${endMs - startMs} ms: ${detail}`);
  };

  const loop = async () => {
    while (!stopped) {
      try {
        if (await lead()) {
          const now = Date.now();
          const due = jobs
            .filter((j) => (state.jobs[j.name]?.nextRunMs ?? 0) <= now)
            .sort((a, b) => (state.jobs[a.name].nextRunMs ?? 0) - (state.jobs[b.name].nextRunMs ?? 0));
          if (due.length > 0) {
            await runJob(due[0]);
            continue;
          }
        }
      } catch (err) {
        log(`scheduler: ${(err as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, tickMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const done = loop();

  return {
    holder,
    async stop() {
      stopped = true;
      wake();
      if (running) {
        // Not waited for (a cycle may take many minutes): the next leader runs it again.
        const was = state.jobs[running];
        state.jobs[running] = {
          ...was,
          lastStartMs: was.running?.sinceMs ?? was.lastStartMs,
          lastEndMs: Date.now(),
          lastResult: 'interrupted',
          lastDetail: 'the scheduler stopped',
          nextRunMs: Date.now(),
          running: undefined,
        };
        await save().catch(() => undefined);
      } else await done;
      if (leading) await releaseLease(leaseFile, holder);
    },
  };
}

/**
 * The state a new leader starts from: jobs it has not seen are first due one interval from now
 * (`up` has just prepared everything); a job another holder left running was interrupted: due now.
 */
function adopt(state: ScheduleState, jobs: ScheduledJob[], holder: string): ScheduleState {
  const now = Date.now();
  const out: ScheduleState = { jobs: {} };
  for (const job of jobs) {
    const was = state.jobs[job.name];
    if (!was) out.jobs[job.name] = { everyMs: job.everyMs, nextRunMs: now + job.everyMs };
    else if (was.running && was.running.holder !== holder)
      out.jobs[job.name] = {
        ...was,
        everyMs: job.everyMs,
        running: undefined,
        lastStartMs: was.running.sinceMs,
        lastEndMs: now,
        lastResult: 'interrupted',
        lastDetail: `its leader ${was.running.holder} stopped mid-run; running it again`,
        nextRunMs: now,
      };
    else
      // From the last run and the interval now configured (it may have changed since).
      out.jobs[job.name] = {
        ...was,
        everyMs: job.everyMs,
        nextRunMs:
          was.lastResult === 'interrupted'
            ? now
            : was.lastStartMs !== undefined
              ? was.lastStartMs + job.everyMs
              : (was.nextRunMs ?? now + job.everyMs),
      };
  }
  return out;
}
