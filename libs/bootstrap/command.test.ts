import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  commandHelp,
  commandList,
  defineCommand,
  intFlag,
  parseCommand,
  REPO_ROOT,
  runCommand,
  WORLD,
} from './command.js';

const seen: unknown[] = [];
const probe = defineCommand({
  name: 'probe',
  usage: 'THING [--world DIR] [--n N]',
  summary: 'a command for this test (see probe --help)',
  about: 'More about it.',
  options: {
    world: WORLD,
    n: { type: 'string', arg: 'N', default: '3', help: 'how many' },
    loud: { type: 'boolean', help: 'louder' },
    host: { type: 'string', arg: 'NAME', multiple: true, help: 'a host (repeatable)' },
  },
  positionals: 'THING',
  async run(args) {
    seen.push(args);
    return 7;
  },
});
const bare = defineCommand({ name: 'bare', usage: '', summary: 'takes nothing', options: {}, run: async () => 0 });

afterEach(() => {
  seen.length = 0;
  vi.unstubAllEnvs();
});

describe('a command table entry', () => {
  it('parses its options, the shared --config (with its default) and booleans that default to false', () => {
    vi.stubEnv('FEEDLOOM_CONFIG', undefined);
    const { values, positionals } = parseCommand(probe, ['x', '--host', 'a', '--host', 'b']);
    expect(positionals).toEqual(['x']);
    expect(values).toEqual({
      n: '3',
      loud: false,
      host: ['a', 'b'],
      config: join(REPO_ROOT, 'config/mesh.json'),
      help: false,
    });
    vi.stubEnv('FEEDLOOM_CONFIG', '/tmp/other.json');
    expect(parseCommand(bare, []).values.config).toBe('/tmp/other.json');
    expect(parseCommand(bare, ['--config', 'mine.json']).values.config).toBe('mine.json');
  });

  it('refuses unknown options, and positionals when it takes none', () => {
    expect(() => parseCommand(probe, ['--nope'])).toThrow(/Unknown option '--nope'/);
    expect(() => parseCommand(bare, ['extra'])).toThrow(/Unexpected argument 'extra'/);
  });

  it('runs with the parsed values, or prints its generated help', async () => {
    expect(await runCommand(probe, ['x', '--world', 'w', '--loud'])).toBe(7);
    expect(seen).toEqual([{ values: expect.objectContaining({ world: 'w', loud: true, n: '3' }), positionals: ['x'] }]);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await runCommand(probe, ['-h'])).toBe(0);
      expect(seen).toHaveLength(1);
      expect(log).toHaveBeenCalledWith(commandHelp(probe));
    } finally {
      log.mockRestore();
    }
  });

  it('help: usage, what it does, every option with its default', () => {
    const help = commandHelp(probe);
    expect(help).toMatch(
      /^usage: feedloom probe THING \[--world DIR\] \[--n N\]\n\na command for this test\n\nMore about it\.\n\noptions:\n/,
    );
    expect(help).toMatch(/ {2}--world DIR +the world \(default: the config's world\.dir\)\n/);
    expect(help).toMatch(/ {2}--n N +how many \(default 3\)\n/);
    expect(help).toMatch(/ {2}--config FILE +mesh config \(default config\/mesh\.json, or \$FEEDLOOM_CONFIG\)\n/);
    expect(help).toMatch(/ {2}-h, --help +this text$/);
  });

  it('the list: usage line and summary per command, the summary in its own column', () => {
    expect(commandList([bare, probe]).split('\n')).toEqual([
      `  bare${' '.repeat(35)}takes nothing`,
      '  probe THING [--world DIR] [--n N]      a command for this test (see probe --help)',
    ]);
  });
});

describe('intFlag', () => {
  it('reads a whole number in range, or says which option got what', () => {
    expect(intFlag('epochs', undefined, 1)).toBeUndefined();
    expect(intFlag('epochs', '3', 1)).toBe(3);
    expect(() => intFlag('epochs', '0', 1)).toThrow('--epochs must be an integer ≥ 1 (got "0")');
    expect(() => intFlag('port', '1.5', 0, 65_535)).toThrow('--port must be an integer from 0 to 65535 (got "1.5")');
    expect(() => intFlag('port', '70000', 0, 65_535)).toThrow(/from 0 to 65535/);
  });
});
