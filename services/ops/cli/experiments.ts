// `feedloom experiments report`: how the config's experiments run on a blender (the Blends each
// variant served) and every shadow generator's scorecard per variant. `feedloom experiments
// outcomes`: what each variant's users did, from the world's event log.
import { commandHelp, defineCommand, JSON_OUTPUT } from '../../../libs/bootstrap/command.js';
import { operatorChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { addressOf, loadMeshConfig } from '../../../libs/config/mesh.js';
import { fetchExperimentReport, formatExperimentReport, scorecardView } from '../experiments/report.js';
import { formatOutcomes, variantOutcomes } from '../experiments/outcomes.js';

export const experimentsCommand = defineCommand({
  name: 'experiments',
  usage: 'report [--address HOST:PORT] [--json] | outcomes [--days N] [--json]',
  summary:
    "the experiments' traffic per variant and the shadow generators' scorecards (from a running blender), and each variant's engagement (from the event log)",
  about: `commands:
  report    the Blends each variant served and each shadow generator's scorecard per variant, since the
            blender started (an operation: the admin token, read from the world's run/admin-token)
  outcomes  engagement (clicks + saves per impression) of each variant's users over the world's
            last N days of events, with 95% intervals over users and the difference to the
            experiment's first variant; a user's variant is worked out again from the same hash`,
  options: {
    address: { type: 'string', arg: 'HOST:PORT', help: "report: the blender (default: the config's)" },
    days: { type: 'string', arg: 'N', help: 'outcomes: days of events back from the newest (default 7)' },
    json: JSON_OUTPUT,
  },
  positionals: 'COMMAND',
  async run({ values, positionals }) {
    const [command, ...rest] = positionals;
    if ((command !== 'report' && command !== 'outcomes') || rest.length > 0) {
      console.error(commandHelp(experimentsCommand));
      return 2;
    }
    const mesh = loadMeshConfig(values.config);
    if (command === 'outcomes') {
      const days = Number(values.days ?? 7);
      if (!(days > 0)) throw new Error(`--days must be a number above 0 (got '${values.days}')`);
      const outcomes = await variantOutcomes(mesh, { days });
      console.log(values.json ? JSON.stringify(outcomes, null, 2) : formatOutcomes(outcomes));
      return 0;
    }
    const address = values.address ?? addressOf(mesh, mesh.services.blender);
    const report = await fetchExperimentReport(address, operatorChannelOf(mesh));
    if (values.json) {
      console.log(JSON.stringify({ ...report, scorecards: report.scorecards.map(scorecardView) }, null, 2));
      return 0;
    }
    console.log(formatExperimentReport(report, address, new Map(mesh.experiments.map((e) => [e.name, e.description]))));
    return 0;
  },
});
