// The two-tower feature encoding's public surface.
export * from './two-tower.js';
export { buildVocab, vocabIndex, bucketIndex, quantileEdges, type Vocab } from './vocab.js';
