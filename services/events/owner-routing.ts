// Events replicas each own some partitions of the stream (services.events.replicas): a call about a
// user another replica owns is forwarded to that owner, so any replica (and DNS round robin over
// them) answers every caller. A forwarded call carries a mark and is never forwarded again.
import { createHash } from 'node:crypto';
import { status, type Metadata } from '@grpc/grpc-js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  EventsClient,
  type GetUserContextRequest,
  type LogRequest,
  type LogResponse,
} from '../../generated/feedloom/v1/events.js';
import { callUnary, connect, type ChannelSecurity, type UnaryCallOptions } from '../../libs/bootstrap/client.js';
import { RpcError, codeOf, failedPrecondition, messageOf, unavailable } from '../../libs/bootstrap/errors.js';
import type { CallContext } from '../../libs/bootstrap/server.js';
import type { EventsOwnership } from '../../libs/config/events-replicas.js';
import { partitionOf } from '../../libs/data/event-stream.js';

/** Metadata set on a forwarded call: the index of the replica that forwarded it. */
export const FORWARDED_FROM = 'feedloom-events-forwarded-from';

/** A Log call's events that one replica owns, by their index in the call. */
export interface LogPart {
  owner: number;
  indices: number[];
}

export class OwnerRouting {
  private readonly clients = new Map<number, EventsClient>();

  constructor(
    private readonly ownership: EventsOwnership,
    private readonly partitions: number,
    private readonly channel: ChannelSecurity,
  ) {}

  get self(): number {
    return this.ownership.self;
  }

  /** The partitions this replica replays and serves. */
  get ownedPartitions(): number[] {
    return this.ownership.owners.flatMap((owner, p) => (owner === this.self ? [p] : []));
  }

  ownerOf(userId: string): number {
    return this.ownership.owners[partitionOf(userId, this.partitions)];
  }

  owns(userId: string): boolean {
    return this.ownerOf(userId) === this.self;
  }

  isForwarded(metadata: Metadata): boolean {
    return metadata.get(FORWARDED_FROM).length > 0;
  }

  /** A Log call's events grouped by owner, in the order owners first appear. */
  split(userIds: string[]): LogPart[] {
    const parts = new Map<number, number[]>();
    userIds.forEach((u, i) => {
      const owner = this.ownerOf(u);
      (parts.get(owner) ?? parts.set(owner, []).get(owner)!).push(i);
    });
    return [...parts].map(([owner, indices]) => ({ owner, indices }));
  }

  /** What a forwarded call about a user this replica does not own answers: the replicas' configs disagree. */
  notOwned(userId: string): RpcError {
    const owner = this.ownerOf(userId);
    return failedPrecondition(
      `events replica ${this.self} was forwarded a call for user "${userId}", whose partition ` +
        `${partitionOf(userId, this.partitions)} replica ${owner} (${this.ownership.addresses[owner]}) owns by its ` +
        'services.events.replicas; the replicas disagree on who owns what: give them the same config',
    );
  }

  /**
   * Writes each owner's part of a Log call, all at once: this replica's own part with logHere, the
   * others forwarded to their owners. Answers OK only once every part is acknowledged.
   */
  async logInParts(
    request: LogRequest,
    key: string,
    parts: LogPart[],
    ctx: CallContext,
    logHere: (indices: number[], key: string) => Promise<LogResponse>,
  ): Promise<LogResponse> {
    const answers = await Promise.allSettled(
      parts.map(({ owner, indices }) => {
        const k = partKey(key, owner, parts.length);
        if (owner === this.self) return logHere(indices, k);
        const part = { events: indices.map((i) => request.events[i]), idempotencyKey: k };
        return this.hop(owner, ctx, (client, options) => callUnary(client, 'log', part, options));
      }),
    );
    const failed = answers.find((a) => a.status === 'rejected');
    if (failed) throw failed.reason;
    return joinedAnswer(answers.map((a) => (a as PromiseFulfilledResult<LogResponse>).value));
  }

  forwardGetUserContext(owner: number, request: GetUserContextRequest, ctx: CallContext): Promise<UserContext> {
    return this.hop(owner, ctx, (client, options) => callUnary(client, 'getUserContext', request, options));
  }

  /** One hop to the owner, within the caller's remaining deadline, marked as forwarded. */
  private async hop<T>(
    owner: number,
    ctx: CallContext,
    call: (client: EventsClient, options: UnaryCallOptions) => Promise<T>,
  ): Promise<T> {
    const address = this.ownership.addresses[owner];
    try {
      return await call(this.client(owner), {
        timeoutMs: Math.max(1, ctx.deadline - Date.now()),
        signal: ctx.signal,
        requestId: ctx.requestId,
        metadata: { [FORWARDED_FROM]: String(this.self) },
      });
    } catch (err) {
      const code = codeOf(err);
      if (code === status.UNAVAILABLE)
        throw unavailable(
          `events replica ${owner} (${address}), the owner of these users, is unavailable: ${messageOf(err)}`,
        );
      throw new RpcError(code, `events replica ${owner} (${address}): ${messageOf(err)}`);
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(owner: number): EventsClient {
    let client = this.clients.get(owner);
    if (!client) {
      client = connect(EventsClient, this.ownership.addresses[owner], this.channel);
      this.clients.set(owner, client);
    }
    return client;
  }
}

/**
 * The idempotency key of one owner's part of a keyed Log call: the call's own key when one replica
 * owns all its events, else one per owner (the parts are written by different replicas, and their
 * message ids must not collide in the broker's duplicate window). Any replica derives the same one,
 * so a retry through another replica is still recognised.
 */
export function partKey(key: string, owner: number, parts: number): string {
  if (!key || parts === 1) return key;
  // Keys may be up to 256 characters: a long one is shortened by its hash to leave room for the owner.
  const base = key.length <= 240 ? key : createHash('sha256').update(key).digest('hex');
  return `${base}#${owner}`;
}

/** One answer for a Log call written in parts: every part acknowledged, a duplicate only if every part was. */
export function joinedAnswer(answers: LogResponse[]): LogResponse {
  return {
    accepted: answers.reduce((sum, a) => sum + a.accepted, 0),
    lastSequence: Math.max(...answers.map((a) => a.lastSequence)),
    duplicate: answers.every((a) => a.duplicate),
  };
}
