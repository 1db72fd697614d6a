// `node --import tsx services/offline/indexer/main.ts [options]`: the index job on its own process,
// the same command as `feedloom index` (cli.ts).
import { runCommand } from '../../../libs/bootstrap/command.js';
import { indexCommand } from './cli.js';

runCommand(indexCommand, process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`feedloom index: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
