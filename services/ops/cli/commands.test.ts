// The command table: what `feedloom help` lists is the table, and each usage line only names flags
// its command takes.
import { describe, expect, it } from 'vitest';
import { parseCommand, SHARED_OPTIONS } from '../../../libs/bootstrap/command.js';
import { COMMANDS, usage } from './commands.js';

describe('the feedloom command table', () => {
  it('has every command once, in the usage text', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'up',
        'demo',
        'feed',
        'eval',
        'experiments',
        'build-world',
        'batch',
        'import',
        'write-udata',
        'train',
        'train-ranker',
        'eval-ranker',
        'retrain',
        'index',
        'ann',
        'rollout',
        'rollback',
        'status',
        'k8s',
        'new-generator',
      ]),
    );
    for (const c of COMMANDS) expect(usage()).toContain(`\n  ${c.name} ${c.usage}`.trimEnd());
  });

  it('names in each usage line only flags the command takes', () => {
    for (const c of COMMANDS) {
      const flags = [...c.usage.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]);
      const known = new Set([...Object.keys(c.options), ...Object.keys(SHARED_OPTIONS)]);
      expect(
        flags.filter((f) => !known.has(f) && f !== 'help'),
        c.name,
      ).toEqual([]);
    }
  });

  it('gives every command the same --config default', () => {
    const defaults = new Set(COMMANDS.map((c) => parseCommand(c, []).values.config));
    expect(defaults.size).toBe(1);
  });
});
