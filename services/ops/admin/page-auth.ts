// The status page is an operation: the admin or mesh token, as "Authorization: Bearer <token>", or
// as the password of HTTP Basic (what a browser asks for after the 401).
import type { IncomingMessage } from 'node:http';
import { callerOf, type TokenSet } from '../../../libs/bootstrap/credentials.js';

/** The token a request presents, if any. */
function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1);
}

/** True when the request carries the admin or the mesh token (the feed's is not enough). */
export function mayViewStatus(req: IncomingMessage, tokens: TokenSet): boolean {
  const token = tokenOf(req);
  if (token === undefined) return false;
  const caller = callerOf(token, tokens);
  return caller === 'admin' || caller === 'mesh';
}
