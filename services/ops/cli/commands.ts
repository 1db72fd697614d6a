// The `feedloom` commands, one table: `feedloom help` lists it, and each entry parses its own
// options (libs/bootstrap/command.ts: the options every command shares are defined there once).
import { commandList, runCommand, sharedOptionsLine, type Command } from '../../../libs/bootstrap/command.js';
import { indexCommand } from '../../offline/indexer/cli.js';
import { annCommand } from './ann.js';
import { evalCommand } from './eval.js';
import { experimentsCommand } from './experiments.js';
import { feedCommand } from './feed.js';
import { k8sCommand } from './k8s.js';
import { newGeneratorCommand } from './new-generator.js';
import { retrainCommand } from './retrain.js';
import { rollbackCommand, rolloutCommand, statusCommand } from './rollout.js';
import { simulateCommand } from './simulate.js';
import { evalRankerCommand, trainRankerCommand } from './train-ranker.js';
import { trainCommand } from './train.js';
import { demoCommand, upCommand } from './up.js';
import { batchCommand, buildWorldCommand, importCommand, writeUDataCommand } from './world.js';

export const COMMANDS: readonly Command[] = [
  upCommand,
  demoCommand,
  feedCommand,
  simulateCommand,
  evalCommand,
  experimentsCommand,
  buildWorldCommand,
  batchCommand,
  importCommand,
  writeUDataCommand,
  trainCommand,
  trainRankerCommand,
  evalRankerCommand,
  retrainCommand,
  indexCommand,
  annCommand,
  rolloutCommand,
  rollbackCommand,
  statusCommand,
  k8sCommand,
  newGeneratorCommand,
];

export function usage(): string {
  return [
    'feedloom — a candidate-generation mesh for a home feed',
    '',
    'usage: npx feedloom <command> [options]',
    '',
    commandList(COMMANDS),
    '',
    sharedOptionsLine(),
    '',
  ].join('\n');
}

/** `feedloom …` (argv after the program): runs the command; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return runCommand(command, rest);
}
