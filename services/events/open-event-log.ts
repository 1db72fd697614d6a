// Opens the durable event log of the configured backend (services.events.backend) with what earlier
// processes wrote to it, to be replayed on top of the world's Parquet history.
import { JetStreamSchema, type JetStreamSettings } from '../../libs/config/mesh.js';
import { worldPaths } from '../../libs/data/world.js';
import type { OpenedLog } from './event-log.js';
import { JetStreamLog } from './jetstream-log.js';
import { LiveLog, replayLiveLog } from './live-log.js';
import type { WorldHistory } from './world-history.js';

export interface EventLogChoice {
  backend?: 'file' | 'jetstream';
  jetstream?: JetStreamSettings;
  /** The stream partitions this events replica owns (services.events.replicas); absent: all of them. */
  ownedPartitions?: number[];
}

export async function openEventLog(
  worldDir: string,
  history: WorldHistory,
  choice: EventLogChoice,
): Promise<OpenedLog> {
  if (choice.backend !== 'jetstream') return LiveLog.open(worldDir, history.compactedSeq);
  const opened = await JetStreamLog.open(
    choice.jetstream ?? JetStreamSchema.parse({}),
    history.streamCompactedThrough,
    choice.ownedPartitions,
  );
  // Events a file-backed service acknowledged before the switch stay served until compaction moves
  // them into Parquet (live files are only read here, never written).
  const files = await replayLiveLog(worldPaths(worldDir).live);
  if (files.files === 0) return opened;
  const { replay } = opened;
  return {
    log: opened.log,
    replay: {
      events: [...files.events, ...replay.events],
      problems: [...files.problems, ...replay.problems],
      files: files.files,
      source: `${replay.source}; ${files.files} live files of the file backend`,
    },
  };
}
