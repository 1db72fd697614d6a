// `feedloom ann …`: look at and steer the ANN hosts of the mesh (GetVersions, Load/Serve/UnloadVersion).
import { AnnAdminClient, AnnSearchClient } from '../../../generated/feedloom/v1/ann.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { commandHelp, defineCommand, MODEL } from '../../../libs/bootstrap/command.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';
import { endpointsFromMesh } from '../../../libs/ann/learned-retrieval.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { operationsAddressOf, operatorChannelOf } from '../../../libs/bootstrap/mesh-security.js';

export const annCommand = defineCommand({
  name: 'ann',
  usage: 'status|load|serve|unload|rollout [VERSION]',
  summary: 'operate the ANN hosts (see ann --help)',
  about: `commands:
  status             what each ANN host serves and holds
  load VERSION       load VERSION beside what each host serves (LoadVersion)
  serve VERSION      switch each host to VERSION, which it must have loaded (ServeVersion)
  unload VERSION     drop VERSION where it is loaded and not served (UnloadVersion)
  rollout VERSION    host by host: load VERSION, then serve it; stops at the first host that fails`,
  options: {
    model: MODEL,
    host: {
      type: 'string',
      arg: 'NAME',
      multiple: true,
      help: 'only this host (repeatable; default: every host in ann.hosts, in order)',
    },
    'timeout-ms': {
      type: 'string',
      arg: 'N',
      default: '120000',
      help: 'per call (default 120000: loading a large index takes a while)',
    },
  },
  positionals: 'COMMAND [VERSION]',
  run: ({ values, positionals }) => runAnn(values, positionals),
});

async function runAnn(
  values: { config: string; model: string; host?: string[]; 'timeout-ms': string },
  positionals: string[],
): Promise<number> {
  const [command, version] = positionals;
  if (!command || command === 'help') {
    console.log(commandHelp(annCommand));
    return command ? 0 : 2;
  }
  const mesh = loadMeshConfig(values.config);
  const all = endpointsFromMesh(mesh).annHosts;
  const hosts = values.host?.length
    ? values.host.map(
        (name) =>
          all.find((h) => h.name === name) ??
          fail(`no ANN host "${name}" in the mesh config (hosts: ${all.map((h) => h.name).join(', ')})`),
      )
    : all;
  if (hosts.length === 0) fail('the mesh config lists no ANN hosts (ann.hosts)');
  const timeoutMs = Number(values['timeout-ms']);
  const model = values.model;
  if (command === 'status') {
    for (const h of hosts) {
      const client = connect(AnnSearchClient, h.address, { tls: mesh.security.tls });
      try {
        const res = await callUnary(client, 'getVersions', {}, { timeoutMs });
        const m = res.models.find((x) => x.model === model);
        console.log(
          `${h.name.padEnd(10)} ${h.address.padEnd(22)} ${m ? `serves ${m.servingVersion || '-'}  holds ${m.loadedVersions.join(', ')}  ${m.items} items, dim ${m.dim}, ${m.indexType}${m.shardCount > 1 ? `, shard ${m.shard} of ${m.shardCount}` : ''}` : `nothing for ${model}`}`,
        );
      } catch (err) {
        console.log(`${h.name.padEnd(10)} ${h.address.padEnd(22)} unreachable: ${messageOf(err).split('. ')[0]}`);
      } finally {
        client.close();
      }
    }
    return 0;
  }
  if (!['load', 'serve', 'unload', 'rollout'].includes(command))
    fail(`unknown command "${command}"\n\n${commandHelp(annCommand)}`);
  if (!version) fail(`usage: feedloom ann ${command} VERSION`);
  if (positionals.length > 2) fail(`unexpected argument "${positionals[2]}" (usage: feedloom ann ${command} VERSION)`);
  for (const h of hosts) {
    // AnnAdmin: the host's admin port, with the admin token.
    const entry = mesh.ann!.hosts.find((x) => x.name === h.name)!;
    const client = connect(AnnAdminClient, operationsAddressOf(mesh, `ann.${h.name}`, entry), operatorChannelOf(mesh));
    try {
      const steps =
        command === 'rollout' ? (['loadVersion', 'serveVersion'] as const) : ([`${command}Version`] as const);
      let res;
      for (const step of steps) res = await callUnary(client, step as 'loadVersion', { model, version }, { timeoutMs });
      console.log(`${h.name}: serves ${res!.servingVersion || '-'}, holds ${res!.loadedVersions.join(', ')}`);
    } catch (err) {
      console.error(`${h.name}: ${command} ${version} failed: ${messageOf(err)}`);
      return 1;
    } finally {
      client.close();
    }
  }
  return 0;
}

function fail(message: string): never {
  throw new Error(message);
}
