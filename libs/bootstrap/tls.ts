// TLS for listeners and channels when the mesh config names certificates (security.tls); plaintext otherwise.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ServerCredentials, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { SecurityConfig } from '../config/security.js';

export type TlsConfig = NonNullable<SecurityConfig['tls']>;

function pem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read security.tls.${field} (${basename(path)}): ${(err as NodeJS.ErrnoException).code}`);
  }
}

/** A listener's credentials: TLS with the configured certificate (and client certificates when required). */
export function serverCredentialsOf(tls: TlsConfig | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    pem(tls.caFile, 'caFile'),
    [{ cert_chain: pem(tls.certFile, 'certFile'), private_key: pem(tls.keyFile, 'keyFile') }],
    tls.requireClientCert,
  );
}

/** A channel's credentials: TLS checking the server against the CA, presenting this component's certificate. */
export function channelCredentialsOf(tls: TlsConfig | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(pem(tls.caFile, 'caFile'), pem(tls.keyFile, 'keyFile'), pem(tls.certFile, 'certFile'));
}
