// `feedloom experiments report`: how the config's experiments run on a blender (the Blends each
// variant served) and every shadow generator's scorecard per variant.
import { commandHelp, defineCommand, JSON_OUTPUT } from '../../../libs/bootstrap/command.js';
import { operatorChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { addressOf, loadMeshConfig } from '../../../libs/config/mesh.js';
import { fetchExperimentReport, formatExperimentReport, scorecardView } from '../experiments/report.js';

export const experimentsCommand = defineCommand({
  name: 'experiments',
  usage: 'report [--address HOST:PORT] [--json]',
  summary: "the experiments' traffic per variant and the shadow generators' scorecards, from a running blender",
  about: `commands:
  report    the Blends each variant served and each shadow generator's scorecard per variant, since the
            blender started (an operation: the admin token, read from the world's run/admin-token)`,
  options: {
    address: { type: 'string', arg: 'HOST:PORT', help: "the blender (default: the config's)" },
    json: JSON_OUTPUT,
  },
  positionals: 'COMMAND',
  async run({ values, positionals }) {
    const [command, ...rest] = positionals;
    if (command !== 'report' || rest.length > 0) {
      console.error(commandHelp(experimentsCommand));
      return 2;
    }
    const mesh = loadMeshConfig(values.config);
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
