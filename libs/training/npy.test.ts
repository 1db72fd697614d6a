import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from './npy.js';
import { DEFAULT_PYTHON } from '../python/python.js';

describe('npy', () => {
  it('round-trips every supported dtype with its shape, header aligned to 64 bytes', () => {
    const cases = [
      [new Float32Array([1.5, -2, 3.25, 0, 7, 8]), [2, 3]],
      [new Float64Array([Math.PI]), [1]],
      [new Int32Array([-1, 2, 3, 4]), [4]],
      [new BigInt64Array([1n, -2n, 2n ** 40n]), [3, 1]],
      [new Uint8Array([0, 255]), [2]],
    ] as const;
    for (const [data, shape] of cases) {
      const bytes = encodeNpy(data, shape);
      const header = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + header) % 64).toBe(0);
      const back = decodeNpy(bytes);
      expect(back.shape).toEqual(shape);
      expect([...back.data]).toEqual([...data]);
      expect(back.data.constructor).toBe(data.constructor);
    }
  });

  it('refuses a wrong shape and detects a truncated file', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/holds 6 values/);
    const bytes = encodeNpy(new Float32Array(100), [100]);
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 4), 'x.npy')).toThrow(/x.npy is truncated/);
    expect(() => decodeNpy(new Uint8Array(20), 'y.npy')).toThrow(/not a .npy file/);
  });

  it('writes files numpy reads, and reads files numpy writes', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-npy-'));
    try {
      await writeNpy(path.join(dir, 'a.npy'), new BigInt64Array([5n, 6n, 7n, 8n, 9n, 10n]), [3, 2]);
      const script = `import numpy as np, sys
a = np.load(sys.argv[1] + '/a.npy')
assert a.dtype == np.int64 and a.shape == (3, 2) and a[2, 1] == 10, (a.dtype, a.shape)
np.save(sys.argv[1] + '/b.npy', (np.arange(6, dtype=np.float32) / 4).reshape(2, 3))`;
      execFileSync(DEFAULT_PYTHON, ['-c', script, dir]);
      const b = await readNpy(path.join(dir, 'b.npy'));
      expect(b.shape).toEqual([2, 3]);
      expect([...b.data]).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
