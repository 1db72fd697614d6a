// `node --import tsx services/offline/indexer/main.ts [options]`: the indexer on its own (see cli.ts).
import { runIndexCommand } from './cli.js';

runIndexCommand(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`feedloom index: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
