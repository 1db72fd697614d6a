// Every generator of one Blend is sent the same UserContext bytes (the blender encodes the context
// once, services/blender/stages/fan-out.ts). Decoding and validating them in every generator was
// ~23 decodes of up to 100 actions and the seen items per Blend, and much of its garbage. Here the
// context is decoded and validated once per distinct bytes and the object is shared by the calls
// that carry the same bytes, frozen, so no generator can change what another one reads.
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import type { GenerateRequest } from '../../generated/feedloom/v1/generator.js';
import { validateUserContext } from '../bootstrap/user-context.js';

/** A few Blends' contexts at once: concurrent Blends' fan-outs interleave. */
const KEPT = 4;
const kept: { bytes: Uint8Array; user: UserContext }[] = [];

/**
 * The request with a valid user shared across calls, when its bytes are plain: each field at most
 * once and the user message exactly filling its field. Otherwise (or when the user is not valid)
 * undefined, and the caller decodes and validates as always, with the same errors as always. What
 * it gives equals GenerateRequest.decode(bytes), its user already validated.
 */
export function requestWithSharedUser(bytes: Uint8Array): GenerateRequest | undefined {
  const fields = topLevelFields(bytes);
  if (!fields?.user) return undefined;
  const user = sharedUser(fields.user);
  return user && { user, quota: fields.quota, requestId: fields.requestId };
}

/** GenerateRequest's fields as the generated decoder reads them, the user left as bytes; undefined when a field repeats. */
function topLevelFields(bytes: Uint8Array): { user?: Uint8Array; quota: number; requestId: string } | undefined {
  const reader = new BinaryReader(bytes);
  const seen: number[] = [];
  let user: Uint8Array | undefined;
  let quota = 0;
  let requestId = '';
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10 || tag === 16 || tag === 26) {
        if (seen.includes(tag)) return undefined;
        seen.push(tag);
      }
      if (tag === 10) user = reader.bytes();
      else if (tag === 16) quota = reader.int32();
      else if (tag === 26) requestId = reader.string();
      else if ((tag & 7) === 4 || tag === 0) break;
      else reader.skip(tag & 7);
    }
  } catch {
    return undefined;
  }
  return { user, quota, requestId };
}

/** The decoded, validated, frozen context of these bytes; undefined when they do not decode cleanly or validate. */
function sharedUser(received: Uint8Array): UserContext | undefined {
  const hit = kept.find((k) => Buffer.compare(k.bytes, received) === 0);
  if (hit) return hit.user;
  // A copy of its own: the context outlives this request, and its filter's bits are a view of these bytes.
  const bytes = received.slice();
  let user: UserContext;
  try {
    const reader = new BinaryReader(bytes);
    user = UserContext.decode(reader, bytes.length);
    // Stopped early (a zero or end-group tag): the generated request decoder would read on from there.
    if (reader.pos !== bytes.length) return undefined;
    validateUserContext('user', user);
  } catch {
    return undefined;
  }
  freezeUser(user);
  kept.unshift({ bytes, user });
  if (kept.length > KEPT) kept.pop();
  return user;
}

function freezeUser(user: UserContext): void {
  for (const a of user.recentActions) Object.freeze(a);
  for (const list of Object.values(user)) if (Array.isArray(list)) Object.freeze(list);
  // The filter's bits stay writable: a typed array with elements cannot be frozen.
  if (user.engagedFilter) Object.freeze(user.engagedFilter);
  Object.freeze(user);
}
