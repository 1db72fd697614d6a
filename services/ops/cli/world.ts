// `feedloom build-world`, `batch`, `import`, `write-udata`: make a world and its snapshots.
import { join, resolve } from 'node:path';
import { PRESET_NAMES } from '../../../libs/data/simulator/presets.js';
import { defineCommand, REPO_ROOT, WORLD } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { buildWorld } from '../../../libs/data/build.js';
import { runBatchJobs, type BatchJobResult } from '../../../libs/data/batch/run.js';
import { importInteractions } from '../../../libs/data/importer.js';
import { continueWorld } from '../../../libs/data/simulator/simulate.js';
import { parseNovelty } from '../../../libs/data/simulator/model.js';
import { UDATA_FULL, UDATA_SMALL, writeUData } from '../../../libs/data/udata-fixture.js';

export const buildWorldCommand = defineCommand({
  name: 'build-world',
  usage: '[--preset P] [--seed N] [--dir DIR] [--continue DAYS] [--novelty BOOST,HALF_LIFE_DAYS] [--force]',
  summary: 'simulate a world and build its snapshots (--continue: DAYS more days of an existing one)',
  options: {
    preset: {
      type: 'string',
      arg: 'P',
      default: 'default',
      help: `the simulation preset (${PRESET_NAMES.join(', ')})`,
    },
    seed: { type: 'string', arg: 'N', default: '7', help: 'random seed' },
    dir: { type: 'string', arg: 'DIR', help: 'where the world goes (default: data/<preset>)' },
    continue: {
      type: 'string',
      arg: 'DAYS',
      help: 'simulate DAYS more days of the existing world in DIR and rebuild its snapshots',
    },
    force: { type: 'boolean', help: 'replace a world in DIR that is not this simulation (moved aside)' },
    novelty: {
      type: 'string',
      arg: 'BOOST,HALF_LIFE_DAYS',
      help: "new items that matter: an item's click logit gains BOOST for its newness, halving every HALF_LIFE_DAYS (default off)",
    },
  },
  async run({ values }) {
    const dir = resolve(values.dir ?? join(REPO_ROOT, 'data', values.preset));
    if (values.continue !== undefined) {
      const world = await continueWorld(dir, Number(values.continue));
      printNotes(await runBatchJobs({ worldDir: dir, settings: loadMeshConfig(values.config).batch }));
      console.log(`world at ${dir} now has ${world.days} days; snapshots rebuilt`);
      return 0;
    }
    await buildWorld({
      preset: values.preset as 'tiny',
      seed: Number(values.seed),
      dir,
      force: values.force,
      batchSettings: loadMeshConfig(values.config).batch,
      novelty: values.novelty === undefined ? undefined : parseNovelty(values.novelty),
    });
    console.log(`world ready at ${dir}`);
    return 0;
  },
});

export const batchCommand = defineCommand({
  name: 'batch',
  usage: '[--world DIR]',
  summary: 'rebuild the snapshots from the event log',
  options: { world: WORLD },
  async run({ values }) {
    const mesh = loadMeshConfig(values.config);
    const results = await runBatchJobs({ worldDir: values.world ?? mesh.world.dir, settings: mesh.batch });
    for (const job of results)
      console.log(
        `${job.name.padEnd(24)} ${String(job.rows).padStart(9)} rows  ${job.version}  ${job.ms.toFixed(0)} ms`,
      );
    printNotes(results);
    return 0;
  },
});

export const importCommand = defineCommand({
  name: 'import',
  usage: '--input FILE --columns user,item,rating,timestamp [--sep tab] [--header] --out DIR [--force]',
  summary: 'turn an interaction file into a world; serve it with up --world DIR',
  options: {
    input: { type: 'string', arg: 'FILE', help: 'the interaction file' },
    columns: {
      type: 'string',
      arg: 'LIST',
      help: 'its columns, in order, named user, item, timestamp (required), rating, action or skip',
    },
    sep: {
      type: 'string',
      arg: 'SEP',
      default: 'tab',
      help: 'column separator: tab, comma, semicolon, pipe, or the separator itself',
    },
    header: { type: 'boolean', help: 'skip the first line' },
    out: { type: 'string', arg: 'DIR', help: 'where the world goes' },
    force: { type: 'boolean', help: 'replace a world in DIR (moved aside)' },
  },
  async run({ values }) {
    if (!values.input || !values.columns || !values.out)
      throw new Error('usage: feedloom import --input FILE --columns user,item,rating,timestamp [--sep tab] --out DIR');
    const result = await importInteractions({
      input: values.input,
      dir: resolve(values.out),
      sep: values.sep,
      columns: values.columns.split(','),
      header: values.header,
      force: values.force,
    });
    if (result.movedTo) console.log(`the world that was in ${values.out} was moved aside to ${result.movedTo}`);
    console.log(`imported ${result.imported} interactions into ${values.out}`);
    if (result.rejected.length) {
      console.log(`rejected ${result.rejected.length} row(s):`);
      for (const r of result.rejected.slice(0, 50)) console.log(`  line ${r.line}: ${r.reason}`);
      if (result.rejected.length > 50) console.log(`  … and ${result.rejected.length - 50} more`);
    }
    printNotes(await runBatchJobs({ worldDir: resolve(values.out), settings: loadMeshConfig(values.config).batch }));
    console.log('snapshots built');
    return 0;
  },
});

export const writeUDataCommand = defineCommand({
  name: 'write-udata',
  usage: '--out FILE [--size full|small] [--seed N]',
  summary: 'write a MovieLens u.data-layout ratings file (1997-98) to try import on',
  options: {
    out: { type: 'string', arg: 'FILE', help: 'the file to write' },
    size: {
      type: 'string',
      arg: 'full|small',
      default: 'full',
      help: 'full: ~943 users × ~1.6k items × 100k ratings; small: 200 × 400 × 12k',
    },
    seed: { type: 'string', arg: 'N', help: 'random seed (default 1997)' },
  },
  async run({ values }) {
    if (!values.out) throw new Error('usage: feedloom write-udata --out FILE [--size full|small] [--seed N]');
    const sizes: Record<string, typeof UDATA_FULL> = { full: UDATA_FULL, small: UDATA_SMALL };
    const size = sizes[values.size];
    if (!size) throw new Error(`--size: must be full or small (got ${values.size})`);
    const rows = writeUData(values.out, { ...size, ...(values.seed ? { seed: Number(values.seed) } : {}) });
    console.log(`wrote ${rows} ratings (user, item, rating, unix seconds; tab-separated) to ${values.out}`);
    return 0;
  },
});

/** What the batch jobs said about their run (e.g. why a snapshot is empty), one line each. */
function printNotes(results: BatchJobResult[]): void {
  for (const job of results) for (const note of job.notes ?? []) console.log(`${job.name}: ${note}`);
}
