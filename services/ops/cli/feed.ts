import { BlenderClient, sourceStateToJSON, type BlendResponse } from '../../../generated/feedloom/v1/blender.js';
import { callUnary, connect, type ChannelSecurity } from '../../../libs/bootstrap/client.js';
import { operatorChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { defineCommand } from '../../../libs/bootstrap/command.js';
import { addressOf, loadMeshConfig } from '../../../libs/config/mesh.js';
import { sourceAsked, sourceFailed } from '../../../libs/blend/source-state.js';
import { variantLabel } from '../../../libs/blend/variants.js';

export async function fetchFeed(
  address: string,
  userId: string,
  options: { limit?: number; debug?: boolean; timeoutMs?: number; channel?: ChannelSecurity } = {},
): Promise<BlendResponse> {
  const client = connect(BlenderClient, address, options.channel);
  try {
    return await callUnary(
      client,
      'blend',
      { userId, limit: options.limit ?? 20, debug: options.debug ?? false, requestId: '' },
      { timeoutMs: options.timeoutMs ?? 2_000 },
    );
  } finally {
    client.close();
  }
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));

/** A feed as a terminal table: position, item, score, and who proposed it at what rank. */
export function formatFeed(userId: string, feed: BlendResponse): string {
  const lines = [
    `feed for ${userId}  (${feed.ranking?.ranked ? `ranked by ${feed.ranking.modelVersion}` : `pre-score order: ${feed.ranking?.fallbackReason}`})`,
  ];
  if (feed.variants.length) lines.push(`  variants: ${variantLabel(feed.variants)}`);
  lines.push(`  ${pad('#', 4)}${pad('item', 10)}${pad('score', 9)}sources (generator@rank)`);
  feed.items.forEach((item, i) => {
    const sources = item.sources.map((s) => `${s.generator}@${s.rank}`).join(' ');
    lines.push(`  ${pad(String(i + 1), 4)}${pad(item.itemId, 10)}${pad(item.score.toFixed(4), 9)}${sources}`);
  });
  const troubled = feed.sources.filter(sourceFailed);
  const asked = feed.sources.filter(sourceAsked);
  const notAsked = feed.sources.length - asked.length;
  lines.push(
    `  sources: ${asked.length - troubled.length}/${asked.length} ok` +
      (notAsked ? ` (${notAsked} not asked: disabled, or nothing to start from for this user)` : '') +
      (troubled.length
        ? `; ${troubled.map((s) => `${s.generator} ${sourceStateToJSON(s.state)}: ${s.error}`).join('; ')}`
        : ''),
  );
  return lines.join('\n');
}

export function formatDebug(feed: BlendResponse): string {
  const d = feed.debug;
  if (!d) return '';
  const lines = ['stages:'];
  for (const s of d.stages)
    lines.push(`  ${pad(s.stage, 14)} ${s.ms.toFixed(2).padStart(8)} ms  ${s.itemsIn} → ${s.itemsOut}`);
  if (d.shadowSources.length)
    lines.push(
      `shadow generators (never on the page): ${d.shadowSources.map((s) => `${s.generator}: ${s.error || `${s.candidates} candidates in ${s.latencyMs.toFixed(1)} ms`}`).join('; ')}`,
    );
  lines.push('dropped candidates by reason:');
  const reasons = new Map<string, number>();
  for (const j of d.journeys) if (j.droppedBy) reasons.set(j.droppedBy, (reasons.get(j.droppedBy) ?? 0) + 1);
  for (const [reason, n] of reasons) lines.push(`  ${pad(reason, 24)} ${n}`);
  return lines.join('\n');
}

export const feedCommand = defineCommand({
  name: 'feed',
  usage: 'USER_ID [--debug] [--limit N]',
  summary: 'ask a running blender for a feed',
  options: {
    debug: {
      type: 'boolean',
      help: "every candidate's journey: who proposed it, which filter dropped it, stage timings",
    },
    limit: { type: 'string', arg: 'N', default: '20', help: 'items on the page' },
    address: { type: 'string', arg: 'HOST:PORT', help: "the blender (default: the config's)" },
  },
  positionals: 'USER_ID',
  async run({ values, positionals }) {
    if (positionals.length !== 1)
      throw new Error('usage: feedloom feed USER_ID [--debug] [--limit N] [--address HOST:PORT]');
    const mesh = loadMeshConfig(values.config);
    const address = values.address ?? addressOf(mesh, mesh.services.blender);
    // A debug Blend is an operation: the admin token; the feed path needs none.
    const channel = values.debug ? operatorChannelOf(mesh) : { tls: mesh.security.tls };
    const feed = await fetchFeed(address, positionals[0], {
      limit: Number(values.limit),
      debug: values.debug,
      channel,
    });
    console.log(formatFeed(positionals[0], feed));
    if (values.debug) console.log(formatDebug(feed));
    return 0;
  },
});
