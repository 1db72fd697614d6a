#!/usr/bin/env node
// `npx feedloom …`: runs the TypeScript CLI through tsx (no separate build step).
import { register } from 'tsx/esm/api';

register();
await import('../services/ops/cli/main.ts');
