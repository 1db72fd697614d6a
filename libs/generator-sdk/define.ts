import { z } from 'zod';
import type { Candidate, UserContext } from '../../generated/feedloom/v1/common.js';
import { issueLines, type MeshConfig } from '../config/mesh.js';
import type { RowsOf, SnapshotContract } from '../data/snapshots.js';

/** What a generator is, as Describe reports it. A generator's kind lives in its module only. */
export const GeneratorKinds = ['learned', 'graph', 'heuristic'] as const;
export type GeneratorKindName = (typeof GeneratorKinds)[number];

/** What a generator is asked: the hydrated viewer and how many candidates to return at most. */
export interface GenerateInput {
  user: UserContext;
  quota: number;
  requestId: string;
}

/** What a generator has at hand while answering. */
export interface GeneratorContext<Data, Settings = Record<string, unknown>> {
  /** Its prepared snapshot data (see `prepare`). */
  data: Data;
  /** Its settings from the mesh config, validated against its settings schema, defaults filled in. */
  settings: Settings;
  /** Aborts when the caller gives up; long loops should check it. */
  signal: AbortSignal;
}

export type GenerateResult = Candidate[] | { candidates: Candidate[]; modelVersion?: string };

/** A generator's settings schema: a zod object (the SDK makes it strict, so an unknown key is refused). */
export type SettingsSchema = z.AnyZodObject;
type NoSettings = z.ZodObject<{}>;

/**
 * A candidate generator as its module declares it: a name mapped to one function, plus the
 * snapshots it reads and the settings it takes (`settings` may be left out when it takes none).
 */
export interface GeneratorDefinition<
  Data,
  Snapshots extends readonly SnapshotContract[],
  Settings extends SettingsSchema,
> {
  name: string;
  kind: GeneratorKindName;
  /** One line: what it proposes and why. */
  description: string;
  /** Its request-time cost, e.g. "O(quota): a slice of a precomputed list". */
  requestCost: string;
  /**
   * It answers by calling other services of the mesh (the viewer, ANN hosts): it is served on the
   * main thread of an all-in-one process, where those calls stay in-process, never on a worker.
   */
  callsMeshServices?: boolean;
  /**
   * It searches a faiss index of its own (faiss-node, a native addon): served on the main thread.
   * Loaded on a worker thread beside the main thread's ANN hosts, it crashed the process
   * (a segmentation fault at start-up, in an eval on an imported world).
   */
  usesFaiss?: boolean;
  /** The snapshots it reads: the batch jobs that build them (libs/data/batch/jobs), or other snapshot contracts. */
  snapshots: Snapshots;
  /** Its settings (`generators[i].settings` in the mesh config), as a zod object. */
  settings?: Settings;
  /**
   * Builds the in-memory structures from snapshot rows, once per snapshot version, off the request
   * path. `mesh` is the config it is served from (where other services are), when it is served in one.
   */
  prepare?(rows: RowsOf<Snapshots>, settings: z.output<Settings>, mesh?: MeshConfig): Data;
  generate(
    input: GenerateInput,
    ctx: GeneratorContext<Data, z.output<Settings>>,
  ): GenerateResult | Promise<GenerateResult>;
  /**
   * Whether a request needs it, from the user alone (no data, cheap): false, and the blender does
   * not call it and reports it DISABLED for that request. Say no only where generate would return
   * nothing, e.g. no followed creators, nothing engaged to start from (libs/generator-sdk/enable.ts).
   */
  enable?(user: UserContext, settings: z.output<Settings>): boolean;
}

/**
 * A defined generator. The SDK serves it over the CandidateGenerator interface with validation,
 * deadlines, health, metrics, tracing and snapshot reloads.
 */
export interface GeneratorModule<
  Data = unknown,
  Snapshots extends readonly SnapshotContract[] = readonly SnapshotContract[],
  Settings extends SettingsSchema = SettingsSchema,
> extends GeneratorDefinition<Data, Snapshots, Settings> {
  /** Its settings schema, strict, with the SDK's own (faultDelayMs) added. */
  settings: Settings;
}

/** Settings every generator takes, handled by the SDK (see faultDelayMsOf in serve.ts). */
const SDK_SETTINGS = {
  /** Fault injection for load and fault tests: every Generate call waits this long. */
  faultDelayMs: z.number().min(0).optional(),
};

/**
 * Declares a generator. `rows` in prepare is typed from the snapshot contracts it lists, and
 * `settings` in prepare and generate from its settings schema.
 */
export function defineGenerator<
  const Snapshots extends readonly SnapshotContract[],
  Data = RowsOf<Snapshots>,
  Settings extends SettingsSchema = NoSettings,
>(definition: GeneratorDefinition<Data, Snapshots, Settings>): GeneratorModule<Data, Snapshots, Settings> {
  const declared: SettingsSchema = definition.settings ?? z.object({});
  return { ...definition, settings: declared.extend(SDK_SETTINGS).strict() as unknown as Settings };
}

/** Why raw settings do not fit a module's schema, one line per problem, each path under `at`. */
export function settingsIssues(
  module: Pick<GeneratorModule, 'settings'>,
  raw: unknown,
  at: (string | number)[] = ['settings'],
): string[] {
  const result = module.settings.safeParse(raw ?? {});
  return result.success ? [] : issueLines(result.error, at);
}

/** A module's settings from raw config values, defaults filled in; throws naming every bad field. */
export function parseGeneratorSettings<Settings extends SettingsSchema>(
  module: Pick<GeneratorModule<unknown, readonly SnapshotContract[], Settings>, 'name' | 'settings'>,
  raw: unknown,
): z.output<Settings> {
  const issues = settingsIssues(module, raw);
  if (issues.length) throw new Error(`invalid settings for generator ${module.name}:\n  ${issues.join('\n  ')}`);
  return module.settings.parse(raw ?? {});
}
