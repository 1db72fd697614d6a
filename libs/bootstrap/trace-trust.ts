// Trace context is the mesh's own. A caller outside the mesh could otherwise join its spans to any
// trace, or set the sampled flag and make every server record. So a server joins the caller's trace
// only when the call carries the mesh's (or the admin) token; anyone else's context becomes a link
// on a new root span, which keeps the correlation without trusting it. A server that knows no
// credentials (a bare test server) cannot tell, and joins.
import type { Metadata } from '@grpc/grpc-js';
import { ROOT_CONTEXT, isSpanContextValid, trace, type Context, type Link } from '@opentelemetry/api';
import { bearerOf, callerOf, type TokenSet } from './credentials.js';
import { extractTraceContext } from './telemetry.js';

export interface IncomingTrace {
  /** The context the server span starts in. */
  parent: Context;
  /** The outside caller's span, when its context was not trusted. */
  links: Link[];
}

const NONE: IncomingTrace = { parent: ROOT_CONTEXT, links: [] };

export function incomingTrace(metadata: Metadata, tokens: TokenSet): IncomingTrace {
  if (metadata.get('traceparent').length === 0) return NONE;
  const extracted = extractTraceContext(metadata);
  if (tokens.digests.length === 0) return { parent: extracted, links: [] };
  const token = bearerOf(metadata);
  const caller = token ? callerOf(token, tokens) : undefined;
  if (caller === 'mesh' || caller === 'admin') return { parent: extracted, links: [] };
  const outside = trace.getSpanContext(extracted);
  return outside && isSpanContextValid(outside) ? { parent: ROOT_CONTEXT, links: [{ context: outside }] } : NONE;
}
