import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/**
 * Writes small ONNX models without Python, for tests of the onnx pool and the services that use
 * it (the real models come from the trainer). Field numbers follow onnx.proto (IR 8, opset 17).
 */

const ELEM = { float32: 1, int32: 6, int64: 7 } as const;
type Elem = keyof typeof ELEM;

export interface OnnxValue {
  name: string;
  type: Elem;
  /** A number for a fixed size, a string for a symbolic one (e.g. "batch"). */
  dims: (number | string)[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  values: Float32Array;
}

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[]>;
}

export interface OnnxGraph {
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  nodes: OnnxNode[];
  initializers?: OnnxInitializer[];
}

const ATTR_INT = 2;
const ATTR_INTS = 7;

export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(8); // ir_version
  w.tag(2, WireType.LengthDelimited).string('feedloom-onnx-builder');
  w.tag(7, WireType.LengthDelimited).fork();
  graph.nodes.forEach((node, i) => {
    w.tag(1, WireType.LengthDelimited).fork();
    for (const input of node.inputs) w.tag(1, WireType.LengthDelimited).string(input);
    for (const output of node.outputs) w.tag(2, WireType.LengthDelimited).string(output);
    w.tag(3, WireType.LengthDelimited).string(`${node.op.toLowerCase()}_${i}`);
    w.tag(4, WireType.LengthDelimited).string(node.op);
    for (const [name, value] of Object.entries(node.attributes ?? {})) {
      w.tag(5, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(name);
      if (Array.isArray(value)) {
        for (const v of value) w.tag(8, WireType.Varint).int64(v);
        w.tag(20, WireType.Varint).int32(ATTR_INTS);
      } else {
        w.tag(3, WireType.Varint).int64(value);
        w.tag(20, WireType.Varint).int32(ATTR_INT);
      }
      w.join();
    }
    w.join();
  });
  w.tag(2, WireType.LengthDelimited).string('graph');
  for (const init of graph.initializers ?? []) {
    w.tag(5, WireType.LengthDelimited).fork();
    for (const d of init.dims) w.tag(1, WireType.Varint).int64(d);
    w.tag(2, WireType.Varint).int32(ELEM.float32);
    w.tag(8, WireType.LengthDelimited).string(init.name);
    w.tag(9, WireType.LengthDelimited).bytes(
      new Uint8Array(init.values.buffer, init.values.byteOffset, init.values.byteLength),
    );
    w.join();
  }
  const valueInfo = (field: number, v: OnnxValue) => {
    w.tag(field, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(v.name);
    w.tag(2, WireType.LengthDelimited).fork(); // TypeProto
    w.tag(1, WireType.LengthDelimited).fork(); // tensor_type
    w.tag(1, WireType.Varint).int32(ELEM[v.type]);
    w.tag(2, WireType.LengthDelimited).fork(); // shape
    for (const d of v.dims) {
      w.tag(1, WireType.LengthDelimited).fork();
      if (typeof d === 'number') w.tag(1, WireType.Varint).int64(d);
      else w.tag(2, WireType.LengthDelimited).string(d);
      w.join();
    }
    w.join().join().join().join();
  };
  for (const v of graph.inputs) valueInfo(11, v);
  for (const v of graph.outputs) valueInfo(12, v);
  w.join();
  w.tag(8, WireType.LengthDelimited).fork(); // opset_import
  w.tag(1, WireType.LengthDelimited).string('');
  w.tag(2, WireType.Varint).int64(17);
  w.join();
  return w.finish();
}

/** Deterministic pseudo-random weights in [-1, 1). */
export function seededWeights(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** y = L2-normalize(x · W): input x float32 [batch, inDim], output y float32 [batch, outDim]. */
export function linearL2Model(options: {
  inDim: number;
  outDim: number;
  seed?: number;
  input?: string;
  output?: string;
}): Uint8Array {
  const { inDim, outDim, seed = 1, input = 'x', output = 'y' } = options;
  return encodeOnnxModel({
    inputs: [{ name: input, type: 'float32', dims: ['batch', inDim] }],
    outputs: [{ name: output, type: 'float32', dims: ['batch', outDim] }],
    initializers: [{ name: 'W', dims: [inDim, outDim], values: seededWeights(inDim * outDim, seed) }],
    nodes: [
      { op: 'MatMul', inputs: [input, 'W'], outputs: ['projected'] },
      { op: 'LpNormalization', inputs: ['projected'], outputs: [output], attributes: { axis: 1, p: 2 } },
    ],
  });
}

/** y = L2-normalize(E[ids]): input ids int64 [batch], output y float32 [batch, dim] (an embedding table). */
export function embeddingModel(options: {
  rows: number;
  dim: number;
  seed?: number;
  input?: string;
  output?: string;
}): Uint8Array {
  const { rows, dim, seed = 1, input = 'ids', output = 'y' } = options;
  return encodeOnnxModel({
    inputs: [{ name: input, type: 'int64', dims: ['batch'] }],
    outputs: [{ name: output, type: 'float32', dims: ['batch', dim] }],
    initializers: [{ name: 'E', dims: [rows, dim], values: seededWeights(rows * dim, seed) }],
    nodes: [
      { op: 'Gather', inputs: ['E', input], outputs: ['rows'], attributes: { axis: 0 } },
      { op: 'LpNormalization', inputs: ['rows'], outputs: [output], attributes: { axis: 1, p: 2 } },
    ],
  });
}

/** A deliberately slow model (a chain of `depth` square MatMuls), to show runs leave the JS thread free. */
export function slowModel(options: { dim: number; depth: number }): Uint8Array {
  const { dim, depth } = options;
  const nodes: OnnxNode[] = [];
  let last = 'x';
  for (let i = 0; i < depth; i++) {
    const out = i === depth - 1 ? 'y' : `h${i}`;
    nodes.push({ op: 'MatMul', inputs: [last, 'W'], outputs: [out] });
    last = out;
  }
  return encodeOnnxModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', dim] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', dim] }],
    initializers: [{ name: 'W', dims: [dim, dim], values: seededWeights(dim * dim, 3).map((v) => v / Math.sqrt(dim)) }],
    nodes,
  });
}
