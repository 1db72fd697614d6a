// What a ranker model version must pass before it serves: its manifest describes a ranker, its ONNX
// graph takes inputs the encoding can feed and gives the three heads, it reproduces the outputs the
// trainer recorded for its probe requests, and it answers a request built by the serving encoder
// with one probability per candidate and head.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import {
  CAND_INPUTS,
  OPTIONAL_CAND_INPUTS,
  encodeRankInputs,
  PROBE_FILE,
  RANKER_INPUTS,
  RANKER_KIND,
  RANKER_OUTPUTS,
  type RankerEncoding,
  type RankerManifest,
} from '../../libs/ranking/encoding.js';
import type { OnnxSessionPool } from '../../libs/onnx/pool.js';
import type { Feeds, TensorArray, TensorType } from '../../libs/onnx/tensors.js';

export class ModelCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelCheckError';
  }
}

/** The manifest is a ranker's, with an encoding and an ONNX file among its artifacts. */
export function checkManifest(manifest: RankerManifest): void {
  if (manifest.kind !== RANKER_KIND)
    throw new ModelCheckError(`manifest kind is "${String(manifest.kind)}", not "${RANKER_KIND}"`);
  checkEncoding(manifest.encoding);
  if (!manifest.onnx?.file || !manifest.artifacts?.[manifest.onnx.file])
    throw new ModelCheckError(`manifest onnx.file "${manifest.onnx?.file}" is not among its artifacts`);
  if (!manifest.artifacts[PROBE_FILE]) throw new ModelCheckError(`${PROBE_FILE} is not among its artifacts`);
}

/** The encoding has every vocabulary (with padding and unknown) and sane sizes. */
export function checkEncoding(enc: RankerEncoding | undefined): void {
  const lists = ['items', 'topics', 'creators', 'locales', 'sources'] as const;
  if (!enc?.vocab || lists.some((k) => !Array.isArray(enc.vocab[k]) || enc.vocab[k].length < 2))
    throw new ModelCheckError('manifest encoding.vocab is missing or incomplete');
  if (!Number.isInteger(enc.seqLen) || enc.seqLen < 1 || !Number.isInteger(enc.maxSources) || enc.maxSources < 1)
    throw new ModelCheckError('manifest encoding.seqLen / maxSources must be positive integers');
}

/** The graph's inputs are ones the encoding produces (every required candidate input among them) and its outputs include the heads. */
export function checkSignature(pool: Pick<OnnxSessionPool, 'inputNames' | 'outputNames'>): void {
  const unknown = pool.inputNames.filter((n) => !RANKER_INPUTS.includes(n));
  if (unknown.length)
    throw new ModelCheckError(
      `the model takes input(s) the ranker encoding does not produce: ${unknown.join(', ')} (expected a subset of ${RANKER_INPUTS.join(', ')})`,
    );
  const missingCand = CAND_INPUTS.filter((n) => !pool.inputNames.includes(n) && !OPTIONAL_CAND_INPUTS.includes(n));
  if (missingCand.length) throw new ModelCheckError(`the model lacks candidate input(s) ${missingCand.join(', ')}`);
  const missingOut = RANKER_OUTPUTS.filter((n) => !pool.outputNames.includes(n));
  if (missingOut.length)
    throw new ModelCheckError(
      `the model lacks output(s) ${missingOut.join(', ')} (it has ${pool.outputNames.join(', ')})`,
    );
}

/** Feeds restricted to the inputs the model declares (a variant may not read every encoded input). */
export function feedsFor(pool: Pick<OnnxSessionPool, 'inputNames'>, feeds: Feeds): Feeds {
  const out: Feeds = {};
  for (const name of pool.inputNames) out[name] = feeds[name];
  return out;
}

interface ProbeTensor {
  type: 'int32' | 'float32';
  dims: number[];
  data: number[];
}
interface ProbeFile {
  tolerance: number;
  requests: { inputs: Record<string, ProbeTensor>; outputs: Record<string, number[]> }[];
}

const ARRAY: Record<ProbeTensor['type'], (d: number[]) => TensorArray> = {
  int32: (d) => Int32Array.from(d),
  float32: (d) => Float32Array.from(d),
};

/** Runs the trainer's probe requests and compares every output with what PyTorch computed. */
export async function checkProbe(pool: OnnxSessionPool, versionDir: string): Promise<void> {
  let probe: ProbeFile;
  try {
    probe = JSON.parse(await readFile(join(versionDir, PROBE_FILE), 'utf8')) as ProbeFile;
  } catch (err) {
    throw new ModelCheckError(`cannot read ${PROBE_FILE}: ${(err as Error).message}`);
  }
  if (!Array.isArray(probe.requests) || probe.requests.length === 0)
    throw new ModelCheckError(`${PROBE_FILE} holds no probe requests`);
  const tolerance = Number(probe.tolerance) > 0 ? Number(probe.tolerance) : 1e-4;
  for (const [r, request] of probe.requests.entries()) {
    const feeds: Feeds = {};
    for (const [name, t] of Object.entries(request.inputs)) {
      if (!ARRAY[t.type])
        throw new ModelCheckError(`${PROBE_FILE} request ${r}: input ${name} has unsupported type ${t.type}`);
      feeds[name] = { type: t.type as TensorType, data: ARRAY[t.type](t.data), dims: t.dims };
    }
    const outputs = await pool.run(feedsFor(pool, feeds)).catch((err: Error) => {
      throw new ModelCheckError(`probe request ${r} failed to run: ${err.message}`);
    });
    for (const name of RANKER_OUTPUTS) {
      const want = request.outputs[name];
      const got = outputs[name]?.data as Float32Array | undefined;
      if (!want || !got || got.length !== want.length)
        throw new ModelCheckError(
          `probe request ${r}: ${name} has ${got?.length ?? 0} values, the trainer recorded ${want?.length ?? 0}`,
        );
      for (let i = 0; i < want.length; i++) {
        const diff = Math.abs(got[i] - want[i]);
        if (!(diff <= tolerance))
          throw new ModelCheckError(
            `probe request ${r}: ${name}[${i}] is ${got[i]}, the trainer recorded ${want[i]} (tolerance ${tolerance})`,
          );
      }
    }
  }
}

/** A request built by the serving encoder (known and unknown ids, an empty source list) gets sane answers. */
export async function checkServingProbe(pool: OnnxSessionPool, enc: RankerEncoding): Promise<void> {
  const now = Date.now();
  const items = enc.vocab.items.slice(2, 8);
  const user = {
    locale: enc.vocab.locales[2] ?? '',
    recentActions: items.slice(0, 3).map((itemId, i) => ({
      itemId,
      type: ActionType.ACTION_TYPE_CLICK + (i % 3),
      timeMs: now - (i + 1) * 3_600_000,
      boardId: '',
    })),
  };
  const candidates = [...items, '__probe_unknown_item__'].map((itemId, i) => ({
    itemId,
    sources: i % 2 ? [] : [{ generator: enc.vocab.sources[2] ?? 'probe', rank: i }],
  }));
  const lookup = () => ({
    topic: enc.vocab.topics[2] ?? null,
    creatorId: enc.vocab.creators[2] ?? null,
    locale: user.locale,
    createdMs: now - 86_400_000,
    popularity: 1,
  });
  const outputs = await pool
    .run(feedsFor(pool, encodeRankInputs(user, candidates, lookup, now, enc)))
    .catch((err: Error) => {
      throw new ModelCheckError(`a request from the serving encoder failed to run: ${err.message}`);
    });
  for (const name of RANKER_OUTPUTS) {
    const data = outputs[name]?.data as Float32Array | undefined;
    if (!data || data.length !== candidates.length)
      throw new ModelCheckError(`${name} has ${data?.length ?? 0} values for ${candidates.length} candidates`);
    for (const v of data) if (!(v >= 0 && v <= 1)) throw new ModelCheckError(`${name} holds ${v}, not a probability`);
  }
}
