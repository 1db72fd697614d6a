// One onnxruntime session in a worker thread (session.run blocks its thread for the whole run).
// Plain JavaScript so that it runs as it is under node, tsx and vitest. Protocol (see pool.ts):
//   workerData {modelPath, intraOpThreads}        → posts {type:'ready', inputNames, outputNames}
//                                                   or {type:'load-error', message}
//   {type:'run', id, feeds: {name: {type, data, dims}}}  → {type:'result', id, outputs} | {type:'run-error', id, message}
// Typed arrays travel in transfer lists both ways; outputs are copied out of ort's buffers first.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const { modelPath, intraOpThreads } = workerData;

let session;
try {
  session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
} catch (err) {
  // The pool terminates this worker when it reads the message.
  parentPort.postMessage({ type: 'load-error', message: String(err?.message ?? err) });
}
if (session) {
  parentPort.postMessage({ type: 'ready', inputNames: session.inputNames, outputNames: session.outputNames });
  parentPort.on('message', onMessage);
}

async function onMessage(msg) {
  if (msg?.type !== 'run') return;
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const results = await session.run(feeds);
    const outputs = {};
    const transfer = [];
    for (const [name, t] of Object.entries(results)) {
      // ort's output may live in memory it owns: copy into a fresh, transferable array.
      const data = t.data.slice();
      outputs[name] = { type: t.type, data, dims: [...t.dims] };
      transfer.push(data.buffer);
      t.dispose?.();
    }
    parentPort.postMessage({ type: 'result', id: msg.id, outputs }, transfer);
  } catch (err) {
    parentPort.postMessage({ type: 'run-error', id: msg.id, message: String(err?.message ?? err) });
  }
}
