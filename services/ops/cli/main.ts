// `npx feedloom …` (bin/feedloom.js): the command table of commands.ts.
import { runCli } from './commands.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`feedloom: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
