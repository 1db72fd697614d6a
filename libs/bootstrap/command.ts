// Command-line commands as table entries {name, usage, options, run}. The options every command
// shares (--config with its default, --help) and the ones many share (--world, --registry, --json)
// are defined here once; parsing, `feedloom NAME --help` and the command list of `feedloom help`
// are generated from the entries.
import { PRESET_NAMES } from '../data/simulator/presets.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/mesh.js';

/** The repository root: where `data/`, `config/` and the presets' worlds are. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's name in usage texts: --config FILE. */
  arg?: string;
  /** Repeatable (--host a --host b). */
  multiple?: boolean;
  /** A one-letter alias: -h. */
  short?: string;
  default?: string;
  /** A default computed when the command runs (environment, repository root). */
  defaultFrom?: () => string;
  /** How the default reads in usage texts, when not the value itself. */
  defaultText?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['multiple'] extends true
    ? string[] | undefined
    : S extends { default: string } | { defaultFrom: () => string }
      ? string
      : string | undefined;

/** What a command's run gets: each option by name (a boolean is false unless given). */
export type Values<O extends OptionSpecs> = { [K in keyof O]: ValueOf<O[K]> } & {
  [K in keyof typeof SHARED_OPTIONS]: ValueOf<(typeof SHARED_OPTIONS)[K]>;
};

export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** What follows the name in usage texts: [--all-in-one] [--world DIR] … */
  usage: string;
  /** What it does, a line or a few (the command list of `feedloom help`). */
  summary: string;
  /** More for `feedloom NAME --help`: sub-commands, defaults, exit status. */
  about?: string;
  /** Its own options; --config and --help come with every command. */
  options: O;
  /** The positional arguments, as usage texts name them; none are taken when unset. */
  positionals?: string;
  run(args: { values: Values<O>; positionals: string[] }): Promise<number>;
}

/** A table entry, its option values typed from its options. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command {
  return command as unknown as Command;
}

/** Every command's: the mesh config, and its own usage. */
export const SHARED_OPTIONS = {
  config: {
    type: 'string',
    arg: 'FILE',
    defaultFrom: () => process.env.FEEDLOOM_CONFIG ?? join(REPO_ROOT, DEFAULT_CONFIG_PATH),
    defaultText: `${DEFAULT_CONFIG_PATH}, or $FEEDLOOM_CONFIG`,
    help: 'mesh config',
  },
  help: { type: 'boolean', short: 'h', help: 'this text' },
} as const satisfies OptionSpecs;

/** The options many commands take, each spelled and explained once. */
export const WORLD = {
  type: 'string',
  arg: 'DIR',
  help: "the world (default: the config's world.dir)",
} as const satisfies OptionSpec;
export const PRESET = {
  type: 'string',
  arg: 'P',
  help: `the world of a preset, data/P (${PRESET_NAMES.join(', ')})`,
} as const satisfies OptionSpec;
export const REGISTRY = {
  type: 'string',
  arg: 'DIR',
  help: "model registry root (default: the config's registryDir, or <world>/models)",
} as const satisfies OptionSpec;
export const MODEL = {
  type: 'string',
  arg: 'NAME',
  default: 'two_tower',
  help: 'registry model',
} as const satisfies OptionSpec;
export const JSON_OUTPUT = { type: 'boolean', help: 'print the result as JSON' } as const satisfies OptionSpec;
export const KEEP_WORK = {
  type: 'string',
  arg: 'DIR',
  help: 'keep the datasets and reports in DIR',
} as const satisfies OptionSpec;
export const SEED = {
  type: 'string',
  arg: 'N',
  default: '7',
  help: 'random seed; same data + seed = the same model',
} as const satisfies OptionSpec;
export const EPOCHS = {
  type: 'string',
  arg: 'N',
  help: "training epochs (default: the trainer's)",
} as const satisfies OptionSpec;

/**
 * A whole-number option's value: undefined when not given, else an integer from min (to max), or
 * an error that names the option and what it got.
 */
export function intFlag(name: string, text: string | undefined, min: number, max?: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new Error(
      `--${name} must be an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`} (got "${text}")`,
    );
  }
  return n;
}

/** Parses argv (what follows the command's name) by the command's options. */
export function parseCommand(
  command: Command,
  argv: string[],
): { values: Record<string, unknown>; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(allOptions(command)).map(([name, o]) => {
      const value = o.defaultFrom?.() ?? o.default ?? (o.type === 'boolean' ? false : undefined);
      return [
        name,
        {
          type: o.type,
          ...(o.multiple ? { multiple: true } : {}),
          ...(o.short ? { short: o.short } : {}),
          ...(value === undefined ? {} : { default: value }),
        },
      ];
    }),
  );
  return parseArgs({ args: argv, options, allowPositionals: command.positionals !== undefined, strict: true });
}

/** Runs a command on argv (what follows its name): its help with --help, else its run; returns the exit code. */
export async function runCommand(command: Command, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(command, argv);
  if (values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  return command.run({ values: values as Values<OptionSpecs>, positionals });
}

function allOptions(command: Command): OptionSpecs {
  return { ...command.options, ...SHARED_OPTIONS };
}

/** `usage: feedloom NAME …`, what it does, and every option with its default. */
export function commandHelp(command: Command, program = 'feedloom'): string {
  const options = Object.entries(allOptions(command)).map(([name, o]) => {
    const shown = o.defaultText ?? o.default;
    const withDefault = shown === undefined || /\bdefault\b/.test(o.help) ? o.help : `${o.help} (default ${shown})`;
    return [`${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`, withDefault] as const;
  });
  const width = Math.max(...options.map(([flag]) => flag.length)) + 2;
  return [
    `usage: ${program} ${command.name} ${command.usage}`.trimEnd(),
    '',
    command.summary.replace(/ \(see \S+ --help\)/, ''),
    ...(command.about ? ['', command.about] : []),
    '',
    'options:',
    ...options.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`),
  ].join('\n');
}

/** The command list: each command's usage line and what it does, in table order. */
export function commandList(commands: readonly Command[]): string {
  const column = 41;
  return commands
    .map((c) => {
      const head = `  ${c.name} ${c.usage}`.trimEnd();
      const [first, ...rest] = c.summary.split('\n');
      const lines =
        head.length + 1 < column ? [`${head.padEnd(column)}${first}`] : [head, `${' '.repeat(column)}${first}`];
      return [...lines, ...rest.map((line) => `${' '.repeat(column)}${line}`)].join('\n');
    })
    .join('\n');
}

/** One line about the options every command takes. */
export function sharedOptionsLine(): string {
  const { config, help } = SHARED_OPTIONS;
  return `every command: --config ${config.arg} (${config.help}; default ${config.defaultText}), --help (${help.help})`;
}
