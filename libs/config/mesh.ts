import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ServerLimitsSchema } from './server-limits.js';
import { AdaptiveQuotaSchema } from './adaptive-quota.js';
import { SecuritySchema, operationsPortOf, resolveSecurityPaths } from './security.js';
import { parseInterval } from './interval.js';
import { EventsReplicaSchema, partitionOwners, sharedHostReplicas } from './events-replicas.js';
import { experimentIssues, ExperimentsSchema } from './experiments.js';
import { USER_TOWERS, type UserTowerKind } from '../features/two-tower.js';

/** The served utility's weights (Σ weight × head probability) unless services.ranker.weights names others. */
export const DEFAULT_UTILITY_WEIGHTS = { click: 1, save: 2, hide: -4 } as const;

/** The mesh config: the single list of services, ports and generator settings both run modes read. */

const port = z.number().int().min(0).max(65535);

/** Defaults of the event-time window of events Log (services.events; services/events/event-validation.ts). */
export const EVENT_TIME_DEFAULTS = { maxEventAgeDays: 7, maxEventFutureMs: 86_400_000, maxDaysPerLog: 3 };
/** Ids the events service holds in memory at most, by default (services.events.maxIds). */
export const EVENTS_DEFAULT_MAX_IDS = 5_000_000;
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower_snake_case (a-z, 0-9, _), starting with a letter');

/** Host names may use dashes (e.g. a StatefulSet pod, ann-0). */
const hostName = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be lower case (a-z, 0-9, _, -), starting with a letter');

/** The events service's JetStream backend (services.events.jetstream; services/events/jetstream-log.ts). */
export const JetStreamSchema = z
  .object({
    /** The broker's URLs (several: one cluster); the first is the one `make up` starts when managed. */
    servers: z
      .array(z.string().regex(/^(nats:\/\/)?[^\s/]+:\d+$/, 'must be host:port or nats://host:port'))
      .min(1)
      .default(['nats://127.0.0.1:4222']),
    /** The stream holding the events (one per world). */
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
      .default('FEEDLOOM_EVENTS'),
    /** Subjects are <subjectPrefix>.<partition>.<day>. */
    subjectPrefix: z
      .string()
      .regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/, 'must be dot-separated tokens of a-z, 0-9, _ or -')
      .default('feedloom.events'),
    /** User partitions: a stable hash of the user id picks one. Fixed for a stream's life. */
    partitions: z.number().int().min(1).max(1024).default(16),
    /** Copies of the stream the broker keeps (1 on one server; 3 on a 3-node cluster). */
    replicas: z.number().int().min(1).max(5).default(1),
    /** How long Log waits for the broker's acks before answering UNAVAILABLE. */
    publishTimeoutMs: z.number().int().min(100).max(60_000).default(2_000),
    /** The broker drops a message id seen this recently (a retried Log call's events). */
    duplicateWindowMinutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .default(60),
    /** `make up` starts a local nats-server on the first URL's port (data under <world>/run/nats). */
    managed: z.boolean().default(true),
  })
  .strict();
export type JetStreamSettings = z.infer<typeof JetStreamSchema>;

const service = z
  .object({
    port,
    /** Where others reach it, when not on `host:port` (e.g. dns:///blender:50051 on Kubernetes). */
    address: z.string().min(1).optional(),
  })
  .strict();

const generator = z
  .object({
    name,
    port,
    address: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    /** Most candidates asked of it per request. */
    quota: z.number().int().min(1).max(10_000).default(200),
    /** Its own deadline inside a Blend; late answers are dropped. */
    deadlineMs: z.number().int().min(1).max(10_000).default(60),
    /**
     * Latency-adaptive quota: while the p99 of its recent calls runs over this, the blender asks
     * it for fewer candidates, step by step, and raises the quota back once it is well under
     * (services.blender.adaptiveQuota). At most deadlineMs. Unset: the quota stays as configured.
     */
    latencyTargetMs: z.number().int().min(1).max(10_000).optional(),
    /** Its weight in the blended pre-score. */
    weight: z.number().min(0).max(100).default(1),
    /**
     * Called in the fan-out under its deadline like the others, but its candidates never reach the
     * page: they are compared with the served ones on a scorecard (docs/EXPERIMENTS.md).
     */
    shadow: z.boolean().default(false),
    /**
     * Generator-specific settings, passed to its module. Their schema is the module's (its `settings`,
     * checked at start-up by checkGeneratorSettings in services/generators/registry.ts).
     */
    settings: z.record(z.unknown()).default({}),
  })
  .strict();

const blender = service
  .extend({
    /** The whole Blend's budget for the fan-out (each generator also has its own). */
    fanoutDeadlineMs: z.number().int().min(1).max(10_000).default(120),
    hydrateDeadlineMs: z.number().int().min(1).max(10_000).default(80),
    defaultLimit: z.number().int().min(1).max(500).default(50),
    /** Reciprocal-rank-fusion constant of the pre-score. */
    rrfK: z.number().min(0).max(1000).default(60),
    /** At most this many items of one creator on a page. */
    maxPerCreator: z.number().int().min(1).max(500).default(3),
    /** At most this share of a page from any single generator's exclusive proposals. */
    maxSourceShare: z.number().min(0.05).max(1).default(0.6),
    /**
     * Use the world's learned pre-score weights (<world>/blend-weights.json, fitted by prepareWorld on
     * an imported log's own training data) in place of the generators' configured ones, where the
     * world has them.
     */
    learnedWeights: z.boolean().default(true),
    /** How quotas move for the generators that have a latencyTargetMs (libs/config/adaptive-quota.ts). */
    adaptiveQuota: AdaptiveQuotaSchema.default({}),
  })
  .strict();

/** One admission-controlled method: how many of its calls run at once, and how long others may queue. */
const admissionOf = (defaults: { maxQueueMs: number }) =>
  z
    .object({
      /** Calls worked on at once; more wait in a first-come queue in front of them. Unset: `admissionSettingsOf`. */
      concurrency: z.number().int().min(1).max(10_000).optional(),
      /**
       * Most calls waiting in that queue; unset: `concurrency` (one round; a longer queue adds
       * latency, not throughput). Raise it for callers that would rather wait than be refused.
       */
      maxQueued: z.number().int().min(0).max(100_000).optional(),
      /**
       * Longest predicted wait in that queue before a call is refused, whatever its caller's
       * deadline: keep it well under the callers' deadlines, so an admitted call has time to run.
       */
      maxQueueMs: z.number().int().min(0).max(60_000).default(defaults.maxQueueMs),
    })
    .strict()
    .default({});

/**
 * Load shedding where the queue forms (libs/bootstrap/admission.ts): a Blend, or a generator's
 * Generate, that cannot finish within its caller's deadline behind the calls ahead of it is refused
 * at arrival with UNAVAILABLE, before any work, to be retried on another replica.
 */
const admission = z
  .object({
    /** Off: every call is admitted and runs beside the others (for benchmarks: shedding off). */
    enabled: z.boolean().default(true),
    /**
     * The blender's Blend, queued at most 150 ms (a feed deadline is about 500 ms). Concurrency
     * unset: chosen by where the blender runs (`blendConcurrencyOf`).
     */
    blend: admissionOf({ maxQueueMs: 150 }),
    /**
     * Every generator's Generate (each generator server its own queue; concurrency unset: 4). With
     * at least as many slots as `blend` admits Blends, a blender's own fan-out seldom waits here.
     */
    generate: admissionOf({ maxQueueMs: 50 }),
  })
  .strict()
  .default({});
/**
 * Candidates the blender sends the ranker. 400 rather than 200: on both kinds of world the ranked
 * pages gained (docs/RELEVANCE.md), at no measurable CPU or latency per Blend (docs/BENCHMARKS.md).
 */
export const DEFAULT_RANKER_TOP_N = 400;

/** The user tower trained for each kind of world (a world manifest's source) when the config names none. */
export const DEFAULT_USER_TOWER: Record<'simulator' | 'import', UserTowerKind> = {
  simulator: 'pooled',
  import: 'pooled',
};

/**
 * Two-tower models trained per version and served as one (two_tower.py --ensemble), by the kind of
 * world; one unless the config says otherwise. On sm two seeds gained 1.3 points of the trainer's
 * held-out recall@100 in every pairing of 5 seeds, but in the eval 0.9–1.3 points at recall@20 and
 * only 0.3–0.7 at @100, for twice the training time; ml is unmeasured (docs/RELEVANCE.md, "Every
 * board of an item, and seed ensembles").
 */
export const DEFAULT_TWO_TOWER_ENSEMBLE: Record<'simulator' | 'import', number> = {
  simulator: 1,
  import: 1,
};

/** `feedloom retrain`: the data window and the gates a new version must pass before it is published. */
const retrain = z
  .object({
    /** Days of the newest event log a cycle reads (the newest heldoutDays of them are held out). */
    windowDays: z.number().int().min(2).max(365).default(28),
    /** The newest days, not trained on, on which new and serving versions are compared. */
    heldoutDays: z.number().int().min(1).max(30).default(1),
    /** Models a cycle trains: two_tower and/or the ranker (services.ranker.model). */
    models: z
      .array(z.enum(['two_tower', 'ranker']))
      .min(1)
      .default(['two_tower', 'ranker']),
    twoTower: z
      // No epochs = the trainer chooses them (two_tower.py --epochs 0; docs/RELEVANCE.md).
      .object({
        epochs: z.number().int().min(1).max(100).optional(),
        seed: z.number().int().default(7),
        trainerArgs: z.array(z.string()).default([]),
        /**
         * The user tower trained for the served two_tower, by the kind of world (its manifest's
         * source): whichever measured better there (docs/RELEVANCE.md, "Sequence user tower").
         */
        userTower: z
          .object({
            simulator: z.enum(USER_TOWERS).default(DEFAULT_USER_TOWER.simulator),
            import: z.enum(USER_TOWERS).default(DEFAULT_USER_TOWER.import),
          })
          .strict()
          .default({}),
        /** Models per version, served as one (their embeddings side by side), by the kind of world. */
        ensemble: z
          .object({
            simulator: z.number().int().min(1).max(4).default(DEFAULT_TWO_TOWER_ENSEMBLE.simulator),
            import: z.number().int().min(1).max(4).default(DEFAULT_TWO_TOWER_ENSEMBLE.import),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    ranker: z
      .object({
        epochs: z.number().int().min(1).max(100).default(4),
        seed: z.number().int().default(7),
        trainerArgs: z.array(z.string()).default([]),
      })
      .strict()
      .default({}),
    gates: z
      .object({
        /** Retrieval is measured as recall@k over the held-out days' first engagements. */
        k: z.number().int().min(1).max(10_000).default(100),
        minRecallAtK: z.number().min(0).max(1).default(0.05),
        /** Relative: the new recall@k must be ≥ serving × (1 − this). 0.05 allows a 5% relative drop. */
        maxRecallDropRelative: z.number().min(0).max(1).default(0.05),
        /** Embedding norms (mean over users and over items) must lie within [min, max]. */
        minEmbeddingNorm: z.number().min(0).default(0.5),
        maxEmbeddingNorm: z.number().min(0).default(2),
        /** Collapse: the mean pairwise cosine of item and of user embeddings must stay below this. */
        maxMeanCosine: z.number().min(-1).max(1).default(0.9),
        /** The ranker's held-out AUC (click and save heads) must reach this. */
        minRankerAuc: z.number().min(0).max(1).default(0.55),
        /** Absolute: each AUC may drop at most this much below the serving ranker's. */
        maxAucDropAbsolute: z.number().min(0).max(1).default(0.01),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

/** An interval as written in the config ("15m", "6h", "1d"), checked at start-up. */
const interval = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .superRefine((text, ctx) => {
      try {
        parseInterval(text, 'the interval');
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      }
    });

/**
 * The scheduler component (services/ops/scheduler): what it runs and how often, each job switchable
 * off. One scheduler leads at a time, holding a lease in <world>/schedule/ that it renews.
 */
const schedule = z
  .object({
    /** The batch jobs over the Parquet days and the live log: new snapshot versions for the generators. */
    batch: z
      .object({ enabled: z.boolean().default(true), every: interval('15m') })
      .strict()
      .default({}),
    /** Closed days of the live log into the daily Parquet files (libs/data/live-compaction.ts). */
    compaction: z
      .object({
        enabled: z.boolean().default(true),
        every: interval('1d'),
        /** A day is closed once the log's newest event is this far past its end (world time). */
        closedAfter: interval('1h'),
        /** A live file is left alone until nothing was written to it for this long (wall time). */
        idleFor: interval('10m'),
      })
      .strict()
      .default({}),
    /** Retraining cycles (the `retrain` section), each published version rolled out when `rollout`. */
    retrain: z
      .object({
        enabled: z.boolean().default(true),
        every: interval('6h'),
        rollout: z.boolean().default(true),
        /** Train even when the newest version already saw every day of the log. */
        force: z.boolean().default(false),
      })
      .strict()
      .default({}),
    /** How long the leader's lease lasts without renewal; a crashed leader is replaced after it. */
    leaseTtl: interval('1m'),
  })
  .strict()
  .default({});

/** The simulator's presets (libs/data/simulator/presets.ts, which libs/config cannot import; a test keeps them equal). */
export const WORLD_PRESETS = ['tiny', 'wide', 'small', 'default', 'large'] as const;

export const MeshConfigSchema = z
  .object({
    world: z
      .object({
        /** The simulated world to build when dir holds none (ignored when serving an existing world). */
        preset: z.enum(WORLD_PRESETS).default('default'),
        seed: z.number().int().default(7),
        /** World directory, relative to the config file. */
        dir: z.string().min(1),
        /**
         * Serve the world already in dir as it is (imported or simulated): never simulate or
         * replace it, only prepare what it lacks. `--world DIR` (FEEDLOOM_WORLD) sets this.
         */
        existing: z.boolean().default(false),
        /** Where generators read snapshots; defaults to <dir>/snapshots. */
        snapshotsDir: z.string().min(1).optional(),
        /** Serve the world as it was at this time (ms): history after it is ignored. For evaluation and replays. */
        asOfMs: z.number().int().positive().optional(),
        /**
         * Simulated seconds per wall second: the events service's clock and the scheduler's
         * intervals run this fast (1440: a simulated day in a minute, for `simulate --live`).
         */
        clockSpeed: z.number().positive().max(1_000_000).default(1),
      })
      .strict(),
    /** The host services are reached on when they have no explicit address. */
    host: z.string().min(1).default('127.0.0.1'),
    /** The interface servers bind to; 0.0.0.0 when running across machines. Defaults to host. */
    listenHost: z.string().min(1).optional(),
    telemetry: z
      .object({
        /** Each service serves Prometheus metrics on its gRPC port + this offset (0: no endpoint). */
        metricsPortOffset: z.number().int().min(0).max(60_000).default(1_000),
      })
      .strict()
      .default({}),
    /**
     * All-in-one mode: worker threads that answer the generators' Generate calls beside the main
     * thread (0: every generator on the main thread). Generators that call other mesh services
     * (two_tower, embedding_i2i, multi_interest) stay on the main thread.
     */
    generatorThreads: z.number().int().min(0).max(32).default(0),
    admission,
    /** Deadline, stream and connection limits every gRPC server enforces (docs/SECURITY.md). */
    serverLimits: ServerLimitsSchema.default({}),
    /** Credentials for operations, the admin ports and TLS (libs/config/security.ts, docs/SECURITY.md). */
    security: SecuritySchema.default({}),
    /** How often generators look for newer snapshots. */
    snapshotPollMs: z.number().int().min(100).max(3_600_000).default(5_000),
    /** Model registry root (one folder per model version); defaults to <world.dir>/models. */
    registryDir: z.string().min(1).optional(),
    services: z
      .object({
        events: service
          .extend({
            /**
             * An item counts as "already seen" (UserContext.seen_items, the blender's filter) for this
             * long after it was shown; 0: every retained impression. Shown and left alone, it may come
             * back later: a scrolled-past impression is not a verdict (docs/RELEVANCE.md, "Seen, for how long").
             */
            seenWindowHours: z
              .number()
              .min(0)
              .max(24 * 365)
              .default(24),
            /** Log refuses an event older than this many days before the server's now (docs/SECURITY.md). */
            maxEventAgeDays: z.number().int().min(1).max(3_650).default(EVENT_TIME_DEFAULTS.maxEventAgeDays),
            /** Log refuses an event more than this many ms after the server's now (skewed client clocks). */
            maxEventFutureMs: z
              .number()
              .int()
              .min(0)
              .max(7 * 86_400_000)
              .default(EVENT_TIME_DEFAULTS.maxEventFutureMs),
            /** Distinct UTC days one Log call may touch (each is a directory and its own fsyncs). */
            maxDaysPerLog: z.number().int().min(1).max(366).default(EVENT_TIME_DEFAULTS.maxDaysPerLog),
            /**
             * User, item and board ids the service holds in memory (each stays for the process's life):
             * Log calls that would add more are refused (RESOURCE_EXHAUSTED), so a client inventing
             * ids cannot grow it without bound. About 100 bytes each.
             */
            maxIds: z.number().int().min(1).max(1_000_000_000).default(EVENTS_DEFAULT_MAX_IDS),
            /**
             * Where acknowledged events are kept: "file", the world's fsync'd live log (the default),
             * or "jetstream", a NATS JetStream stream (services.events.jetstream; docs/SCALING.md).
             */
            backend: z.enum(['file', 'jetstream']).default('file'),
            jetstream: JetStreamSchema.default({}),
            /**
             * Events replicas, each owning a set of the stream's partitions (JetStream backend only):
             * each replays and serves its own users and forwards calls for the others to their owner.
             * A process says which one it is with --replica INDEX or FEEDLOOM_EVENTS_REPLICA.
             */
            replicas: z.array(EventsReplicaSchema).min(1).max(1024).optional(),
          })
          .strict(),
        blender,
        /** The transformer ranker; absent means the blender keeps pre-score order. */
        ranker: service
          .extend({
            /** How many of the pre-scored candidates the blender sends to be ranked (docs/RELEVANCE.md). */
            topN: z.number().int().min(1).max(2_000).default(DEFAULT_RANKER_TOP_N),
            /**
             * On an imported log: replays per user the ranker trains on, each cut earlier than the
             * last with generators prepared on the interactions before it (candidate-replay.ts).
             */
            replayCuts: z.number().int().min(1).max(4).default(1),
            deadlineMs: z.number().int().min(1).max(10_000).default(40),
            /** Utility = Σ weight × head probability. */
            weights: z
              .object({
                click: z.number().default(DEFAULT_UTILITY_WEIGHTS.click),
                save: z.number().default(DEFAULT_UTILITY_WEIGHTS.save),
                hide: z.number().default(DEFAULT_UTILITY_WEIGHTS.hide),
              })
              .strict()
              .default({}),
            model: z.string().min(1).default('ranker'),
          })
          .strict()
          .optional(),
        /** The status page (HTTP); absent: the blender's port + 2000. */
        admin: service.optional(),
        /** The user-tower server; absent when no learned model is served. */
        viewer: service
          .extend({
            keepVersions: z.number().int().min(1).max(20).default(3),
            /** Embed requests one loaded version may have waiting; more are RESOURCE_EXHAUSTED. */
            maxPendingEmbeds: z.number().int().min(1).max(100_000).default(1024),
          })
          .strict()
          .optional(),
      })
      .strict(),
    /**
     * ANN hosts (shards × replicas); absent when no learned model is served. A host of shard s
     * loads only shard s of each version's index; hosts with the same shard are replicas. Shards
     * are numbered 0..n-1 with no gap.
     */
    ann: z
      .object({
        hosts: z
          .array(
            z
              .object({
                name: hostName,
                port,
                address: z.string().min(1).optional(),
                shard: z.number().int().min(0).max(1023).default(0),
              })
              .strict(),
          )
          .min(1),
        efSearch: z.number().int().min(1).max(4096).default(64),
        nprobe: z.number().int().min(1).max(4096).default(8),
        /** Most results fetched and largest efSearch of one search (k + excluded items is cut to it). */
        maxEfSearch: z.number().int().min(1).max(16_384).default(2048),
        /** Searches one host runs at once; more are RESOURCE_EXHAUSTED at once. */
        maxInFlightSearches: z.number().int().min(1).max(100_000).default(128),
      })
      .strict()
      .superRefine((ann, ctx) => {
        const names = new Set<string>();
        ann.hosts.forEach((h, i) => {
          if (names.has(h.name))
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: ['hosts', i, 'name'],
              message: `duplicate ANN host "${h.name}"`,
            });
          names.add(h.name);
        });
        const shards = new Set(ann.hosts.map((h) => h.shard));
        const count = Math.max(...shards) + 1;
        const missing = Array.from({ length: count }, (_, s) => s).filter((s) => !shards.has(s));
        if (missing.length) {
          const at = ann.hosts.findIndex((h) => h.shard === count - 1);
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['hosts', at, 'shard'],
            message: `shard ${count - 1} needs every shard 0..${count - 1} to have a host, but no host has shard ${missing.join(', ')} (shards must be numbered from 0 with no gap)`,
          });
        }
      })
      .optional(),
    generators: z.array(generator).min(1, 'must list at least one generator'),
    /** A/B variants by user bucket, each overriding part of the blend (libs/config/experiments.ts). */
    experiments: ExperimentsSchema,
    /**
     * Settings of the batch jobs that take some, by job name, e.g. `{ "ease_neighbors": { "lambda": 250 } }`.
     * Each job's schema is its own (libs/data/batch/jobs/); they are checked when the jobs run.
     */
    batch: z.record(name, z.record(z.unknown())).default({}),
    /** Retraining cycles and their validation gates (services/offline/retrain, docs/RETRAINING.md). */
    retrain,
    /** What the scheduler component runs, and how often (services/ops/scheduler). */
    schedule,
    /** Staged rollout of model versions: canary, guards, probe (services/ops/rollout, docs/ROLLOUT.md). */
    rollout: z
      .object({
        /** The ANN host that takes a new version first; default the first of ann.hosts. */
        canary: hostName.optional(),
        /** Users whose held-out recent engagements probe a version; default the most active users of the last day. */
        probeUsers: z.array(z.string().min(1)).default([]),
        probeUserCount: z.number().int().min(1).max(1_000).default(60),
        /** Newest engaged items taken out of each probe user's context, to be retrieved again. */
        probeHoldout: z.number().int().min(1).max(20).default(3),
        probeK: z.number().int().min(1).max(2_000).default(100),
        guards: z
          .object({
            /** Most probe calls that may fail on the canary (share). */
            maxErrorRate: z.number().min(0).max(1).default(0.02),
            /** The new version's mean candidates per request must reach this share of the previous one's. */
            minCandidateRatio: z.number().min(0).max(10).default(0.5),
            /** Absolute floor of the new version's probe recall. */
            minRecall: z.number().min(0).max(1).default(0),
            /**
             * Largest relative drop of probe recall against the previous version (0.25: at least 75% of it).
             * On the tiny world two good versions differ by ~5%; towers that disagree keep ~47%.
             */
            maxRecallDrop: z.number().min(0).max(1).default(0.25),
          })
          .strict()
          .default({}),
        /** How long to wait for the viewer, a host or the ranker to load a version. */
        loadTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((mesh, ctx) => {
    const seen = new Map<string, string>();
    // Ports clash only on the shared mesh host; a service with its own address lives elsewhere.
    const claim = (p: number, owner: string, path: (string | number)[], address?: string) => {
      if (p === 0 || address) return;
      const other = seen.get(String(p));
      if (other) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `port ${p} is already used by ${other}` });
      else seen.set(String(p), owner);
    };
    const { events, blender, ranker, viewer, admin } = mesh.services;
    if (events.replicas) {
      const path = ['services', 'events', 'replicas'];
      if (events.backend !== 'jetstream')
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path,
          message: 'replicas own partitions of the JetStream stream: set services.events.backend to "jetstream"',
        });
      // Callers (the blender, the CLI) reach events at services.events.address, else host:port.
      if (!events.address && !sharedHostReplicas(events.replicas, mesh.host).some((r) => r.port === events.port))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['services', 'events', 'port'],
          message: `no events replica listens on ${mesh.host}:${events.port}, where callers reach the events service: set it to a replica's port, or set services.events.address (e.g. a DNS name over the replicas)`,
        });
      const owned = partitionOwners(events.replicas, events.jetstream.partitions);
      if ('problems' in owned)
        for (const p of owned.problems)
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...path, ...p.path], message: p.message });
    }
    // Every listener a service opens on the shared host: its port, its operations (admin) port, and
    // its metrics endpoint (port + telemetry.metricsPortOffset, one per process).
    const listeners: { port: number; owner: string; path: (string | number)[]; address?: string; ops?: string }[] = [
      // Events replicas listen on their own addresses' ports: those on the shared host claim them.
      ...(events.replicas
        ? sharedHostReplicas(events.replicas, mesh.host).map(({ port, i }) => ({
            port,
            owner: `services.events.replicas[${i}]`,
            path: ['services', 'events', 'replicas', i, 'address'],
            ops: 'events',
          }))
        : [{ ...events, owner: 'services.events', path: ['services', 'events', 'port'], ops: 'events' }]),
      { ...blender, owner: 'services.blender', path: ['services', 'blender', 'port'], ops: 'blender' },
      ...(ranker ? [{ ...ranker, owner: 'services.ranker', path: ['services', 'ranker', 'port'] }] : []),
      ...(viewer ? [{ ...viewer, owner: 'services.viewer', path: ['services', 'viewer', 'port'] }] : []),
      ...(admin ? [{ ...admin, owner: 'services.admin', path: ['services', 'admin', 'port'] }] : []),
      ...(mesh.ann?.hosts ?? []).map((h, i) => ({
        ...h,
        owner: `ann.hosts[${i}] (${h.name})`,
        path: ['ann', 'hosts', i, 'port'],
        ops: `ann.${h.name}`,
      })),
      // The nats-server `up` starts for the JetStream backend listens on the shared host too.
      ...(events.backend === 'jetstream' && events.jetstream.managed
        ? [
            {
              port: Number(/:(\d+)$/.exec(events.jetstream.servers[0])![1]),
              owner: 'the managed nats-server (services.events.jetstream.servers[0])',
              path: ['services', 'events', 'jetstream', 'servers', 0],
            },
          ]
        : []),
    ];
    for (const l of listeners) claim(l.port, l.owner, l.path, l.address);
    for (const l of listeners)
      if (l.ops)
        claim(
          operationsPortOf(mesh.security, l.ops, l.port),
          `${l.owner}'s admin port`,
          ['security', 'adminPorts', l.ops],
          l.address,
        );
    const metrics = (port: number, owner: string, address?: string) => {
      const offset = mesh.telemetry.metricsPortOffset;
      if (offset > 0 && port > 0)
        claim(port + offset, `${owner}'s metrics endpoint`, ['telemetry', 'metricsPortOffset'], address);
    };
    for (const l of listeners) metrics(l.port, l.owner, l.address);
    const names = new Set<string>();
    mesh.generators.forEach((g, i) => {
      if (names.has(g.name))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['generators', i, 'name'],
          message: `duplicate generator "${g.name}"`,
        });
      names.add(g.name);
      claim(g.port, `generators[${i}] (${g.name})`, ['generators', i, 'port'], g.address);
      if (g.latencyTargetMs !== undefined && g.latencyTargetMs > g.deadlineMs)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['generators', i, 'latencyTargetMs'],
          message: `must be at most its deadlineMs (${g.deadlineMs}): its calls are cut there, so a later target would seldom be run over`,
        });
    });
    // A generator's metrics endpoint after every port is claimed, so a clash names the port set by hand.
    mesh.generators.forEach((g, i) => metrics(g.port, `generators[${i}] (${g.name})`, g.address));
    for (const issue of experimentIssues(
      mesh.experiments,
      mesh.generators.map((g) => g.name),
    ))
      ctx.addIssue({ code: z.ZodIssueCode.custom, ...issue });
  });

export type MeshConfig = z.infer<typeof MeshConfigSchema>;
export type GeneratorConfig = MeshConfig['generators'][number];
export type BlenderConfig = MeshConfig['services']['blender'];
/** retrain.twoTower.userTower: a user tower per kind of world. */
export type UserTowerByWorld = MeshConfig['retrain']['twoTower']['userTower'];
/** retrain.twoTower.ensemble: models per version per kind of world. */
export type EnsembleByWorld = MeshConfig['retrain']['twoTower']['ensemble'];

export class ConfigError extends Error {
  constructor(source: string, issues: string[]) {
    super(`invalid mesh config ${source}:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const pathOf = (path: (string | number)[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(root)';

/** A validation failure as lines `field.path: message`, each path under `at` (e.g. ['generators', 4, 'settings']). */
export function issueLines(error: z.ZodError, at: (string | number)[] = []): string[] {
  return error.issues.map((i) => `${pathOf([...at, ...i.path])}: ${i.message}`);
}

/** Validates a config object; every problem is reported with the field it is in. */
export function parseMeshConfig(raw: unknown, source = '(inline)'): MeshConfig {
  const result = MeshConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, issueLines(result.error));
  return result.data;
}

export const DEFAULT_CONFIG_PATH = 'config/mesh.json';

/**
 * Reads and validates the config file; world.dir comes back absolute. FEEDLOOM_WORLD (what
 * `--world DIR` sets, inherited by every process of the mesh) serves that existing world instead.
 */
export function loadMeshConfig(path = process.env.FEEDLOOM_CONFIG ?? DEFAULT_CONFIG_PATH): MeshConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(path, [`cannot read it as JSON: ${(err as Error).message}`]);
  }
  const config = parseMeshConfig(raw, path);
  const base = dirname(resolve(path));
  if (!isAbsolute(config.world.dir)) config.world.dir = resolve(base, config.world.dir);
  if (process.env.FEEDLOOM_WORLD)
    config.world = { ...config.world, dir: resolve(process.env.FEEDLOOM_WORLD), existing: true };
  if (config.world.snapshotsDir && !isAbsolute(config.world.snapshotsDir))
    config.world.snapshotsDir = resolve(base, config.world.snapshotsDir);
  if (config.registryDir && !isAbsolute(config.registryDir)) config.registryDir = resolve(base, config.registryDir);
  config.security = resolveSecurityPaths(config.security, base);
  return config;
}

/** The Prometheus endpoint of a service listening on `port`, or undefined when disabled. */
export function metricsEndpointOf(mesh: MeshConfig, port: number): { host: string; port: number } | undefined {
  const offset = mesh.telemetry.metricsPortOffset;
  return offset > 0 && port > 0 ? { host: mesh.listenHost ?? mesh.host, port: port + offset } : undefined;
}

/** How many shards the ANN index is split into (1 when there are no ANN hosts). */
export function annShardCount(mesh: MeshConfig): number {
  return mesh.ann ? Math.max(...mesh.ann.hosts.map((h) => h.shard)) + 1 : 1;
}

/** True when the schedule has any job switched on: then the mesh has a scheduler component. */
export function scheduleEnabled(mesh: MeshConfig): boolean {
  const { batch, compaction, retrain } = mesh.schedule;
  return batch.enabled || compaction.enabled || retrain.enabled;
}

export function registryDirOf(mesh: MeshConfig): string {
  return mesh.registryDir ?? join(mesh.world.dir, 'models');
}

export function snapshotsDirOf(mesh: MeshConfig): string {
  return mesh.world.snapshotsDir ?? join(mesh.world.dir, 'snapshots');
}

/** Where a service is reached: its explicit address, or the mesh host and its port. */
export function addressOf(mesh: MeshConfig, svc: { port: number; address?: string }): string {
  return svc.address ?? `${mesh.host}:${svc.port}`;
}

/**
 * Blends at once when `admission.blend.concurrency` is unset. Sharing its process with the
 * generators (all-in-one), a Blend is work on the cores: about one per core (the main thread and
 * the generator worker). Alone in its process (a process per service, Kubernetes), a Blend mostly
 * waits on other processes, and 2 at once would refuse Blends long before its core is busy.
 */
export const DEFAULT_BLEND_CONCURRENCY = { withGenerators: 2, alone: 8 } as const;
const DEFAULT_GENERATE_CONCURRENCY = 4;

/**
 * The settings of one admission-controlled method, with the switch that turns shedding on or off.
 * `alone`: the server runs in a process of its own (picks the Blend concurrency when unset).
 */
export function admissionSettingsOf(mesh: MeshConfig, method: 'blend' | 'generate', options: { alone?: boolean } = {}) {
  const settings = mesh.admission[method];
  const blend = options.alone ? DEFAULT_BLEND_CONCURRENCY.alone : DEFAULT_BLEND_CONCURRENCY.withGenerators;
  const fallback = method === 'blend' ? blend : DEFAULT_GENERATE_CONCURRENCY;
  return { enabled: mesh.admission.enabled, ...settings, concurrency: settings.concurrency ?? fallback };
}
