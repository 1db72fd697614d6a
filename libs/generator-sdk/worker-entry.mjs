// A worker thread's entry: TypeScript through tsx (as bin/feedloom.js does), then the worker body.
import { register } from 'tsx/esm/api';

register();
await import('./worker-thread.ts');
