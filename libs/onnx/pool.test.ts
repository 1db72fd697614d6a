import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingModel, linearL2Model, seededWeights, slowModel } from './onnx-builder.js';
import { OnnxLoadError, OnnxSessionPool } from './pool.js';
import { tensor } from './tensors.js';

const dir = mkdtempSync(join(tmpdir(), 'feedloom-onnx-'));
const modelFile = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

/** What the linear model computes, in plain JS: normalize(x · W). */
function expected(x: Float32Array, inDim: number, outDim: number, seed: number): Float32Array {
  const w = seededWeights(inDim * outDim, seed);
  const rows = x.length / inDim;
  const out = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let j = 0; j < outDim; j++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[i * outDim + j];
      out[r * outDim + j] = s;
      norm += s * s;
    }
    for (let j = 0; j < outDim; j++) out[r * outDim + j] /= Math.sqrt(norm);
  }
  return out;
}

describe('OnnxSessionPool', () => {
  let pool: OnnxSessionPool;
  const linear = modelFile('linear.onnx', linearL2Model({ inDim: 8, outDim: 4, seed: 5 }));

  beforeAll(async () => {
    pool = await OnnxSessionPool.open(linear, { workers: 2 });
  });
  afterAll(() => pool?.close());

  it('loads the model in every worker and reports its inputs and outputs', () => {
    expect(pool.inputNames).toEqual(['x']);
    expect(pool.outputNames).toEqual(['y']);
    expect(pool.stats.workers).toBe(2);
  });

  it('runs batches in the workers and returns typed arrays with the right values', async () => {
    const x = new Float32Array(Array.from({ length: 3 * 8 }, (_, i) => Math.sin(i + 1)));
    const want = expected(x, 8, 4, 5);
    const out = await pool.run({ x: tensor(x.slice(), [3, 8]) });
    expect(out.y.type).toBe('float32');
    expect(out.y.dims).toEqual([3, 4]);
    expect(out.y.data).toBeInstanceOf(Float32Array);
    for (let i = 0; i < want.length; i++) expect(out.y.data[i]).toBeCloseTo(want[i], 4);
  });

  it('moves the feed buffers to the worker instead of copying them', async () => {
    const x = new Float32Array(8);
    x[0] = 1;
    await pool.run({ x: tensor(x, [1, 8]) });
    expect(x.byteLength).toBe(0); // detached: transferred
  });

  it('copies views of larger buffers rather than moving the whole buffer', async () => {
    const big = new Float32Array(32).fill(1);
    const view = big.subarray(8, 16);
    await pool.run({ x: tensor(view, [1, 8]) });
    expect(big.length).toBe(32);
  });

  it('serves many concurrent runs across the workers', async () => {
    const runs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => pool.run({ x: tensor(new Float32Array(8).fill(i + 1), [1, 8]) })),
    );
    expect(runs).toHaveLength(40);
    for (const out of runs) expect(Math.hypot(...(out.y.data as Float32Array))).toBeCloseTo(1, 4);
  });

  it('rejects a run with a missing input, naming the inputs the model takes', async () => {
    await expect(pool.run({ z: tensor(new Float32Array(8), [1, 8]) })).rejects.toThrow(
      /missing input\(s\) x; the model takes x/,
    );
  });

  it('rejects a run the model refuses (wrong shape) and keeps serving', async () => {
    await expect(pool.run({ x: tensor(new Float32Array(6), [1, 6]) })).rejects.toThrow();
    const out = await pool.run({ x: tensor(new Float32Array(8).fill(1), [1, 8]) });
    expect(out.y.dims).toEqual([1, 4]);
  });

  it('takes int64 inputs (BigInt64Array)', async () => {
    const emb = await OnnxSessionPool.open(modelFile('emb.onnx', embeddingModel({ rows: 10, dim: 4 })), { workers: 1 });
    try {
      const out = await emb.run({ ids: tensor(new BigInt64Array([0n, 9n, 3n]), [3]) });
      expect(out.y.dims).toEqual([3, 4]);
    } finally {
      await emb.close();
    }
  });

  it('keeps the JS thread free while a slow run is in progress', async () => {
    const slow = await OnnxSessionPool.open(modelFile('slow.onnx', slowModel({ dim: 384, depth: 60 })), { workers: 1 });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      let ticksWhenDone = -1;
      const run = slow
        .run({ x: tensor(new Float32Array(256 * 384).fill(0.01), [256, 384]) })
        .then(() => (ticksWhenDone = ticks));
      await run;
      clearInterval(timer);
      // Timers fired while the session ran in its worker: the event loop was not blocked.
      expect(ticksWhenDone).toBeGreaterThan(3);
    } finally {
      await slow.close();
    }
  });

  it('replaces a worker that dies and keeps answering', async () => {
    const p = await OnnxSessionPool.open(linear, { workers: 1 });
    try {
      await (p as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0].worker.terminate();
      const out = await p.run({ x: tensor(new Float32Array(8).fill(1), [1, 8]) });
      expect(out.y.dims).toEqual([1, 4]);
    } finally {
      await p.close();
    }
  });

  it('refuses runs after close', async () => {
    const p = await OnnxSessionPool.open(linear, { workers: 1 });
    await p.close();
    await expect(p.run({ x: tensor(new Float32Array(8), [1, 8]) })).rejects.toThrow(/closed/);
  });
});

describe('OnnxSessionPool.open with a bad model file', () => {
  const good = linearL2Model({ inDim: 8, outDim: 4 });

  it('names a missing file', async () => {
    await expect(OnnxSessionPool.open(join(dir, 'nope.onnx'))).rejects.toThrow(
      /cannot load ONNX model .*nope\.onnx: the file does not exist/,
    );
  });

  it('names an empty file', async () => {
    await expect(OnnxSessionPool.open(modelFile('empty.onnx', new Uint8Array()))).rejects.toThrow(/empty \(0 bytes\)/);
  });

  it('fails a truncated model with a clear error and leaves no worker running', async () => {
    const path = modelFile('truncated.onnx', good.subarray(0, Math.floor(good.length / 2)));
    const err = await OnnxSessionPool.open(path, { workers: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxLoadError);
    expect((err as Error).message).toContain(`cannot load ONNX model ${path}: `);
  });

  it('fails a file that is not an ONNX model at all', async () => {
    const path = modelFile('garbage.onnx', new TextEncoder().encode('this is not a model '.repeat(50)));
    await expect(OnnxSessionPool.open(path)).rejects.toBeInstanceOf(OnnxLoadError);
  });
});
