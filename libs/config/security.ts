import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

const file = z.string().min(1);
const port = z.number().int().min(0).max(65535);

/**
 * Who may operate the mesh, and TLS (mesh config `security`, docs/SECURITY.md). Operations (AnnAdmin,
 * debug Blends, GetUserContext from outside the mesh, the status page) need a bearer token; the feed
 * path does not. Relative paths resolve against the config file's directory.
 */
export const SecuritySchema = z
  .object({
    /** The operators' token. Unset: <world.dir>/run/admin-token, made (mode 0600) by the first process that needs it. */
    adminTokenFile: file.optional(),
    /** The token the mesh's own calls carry (blender → events, rollout → AnnAdmin). Unset: the admin token. */
    meshTokenFile: file.optional(),
    /** The feed service's token, if it sends one: accepted on the feed path, PERMISSION_DENIED on operations. */
    feedTokenFile: file.optional(),
    /** Each component's operations listen on its gRPC port + this offset (AnnAdmin only there). */
    adminPortOffset: z.number().int().min(1).max(60_000).default(3_000),
    /** An explicit admin port per component (e.g. "ann.a": 53301), in place of port + adminPortOffset. */
    adminPorts: z.record(z.string().min(1), port).default({}),
    /** TLS on every listener and channel; absent: plaintext (the local default). */
    tls: z
      .object({
        /** This component's certificate chain and key (PEM). */
        certFile: file,
        keyFile: file,
        /** The CA that signed the mesh's certificates: servers are checked against it. */
        caFile: file,
        /** Servers ask every client for a certificate signed by caFile (mutual TLS). */
        requireClientCert: z.boolean().default(false),
      })
      .strict()
      .optional(),
  })
  .strict();

export type SecurityConfig = z.infer<typeof SecuritySchema>;

/** The security section with its file paths made absolute against the config file's directory. */
export function resolveSecurityPaths(security: SecurityConfig, base: string): SecurityConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const opt = (p: string | undefined) => (p === undefined ? undefined : abs(p));
  return {
    ...security,
    adminTokenFile: opt(security.adminTokenFile),
    meshTokenFile: opt(security.meshTokenFile),
    feedTokenFile: opt(security.feedTokenFile),
    tls: security.tls && {
      ...security.tls,
      certFile: abs(security.tls.certFile),
      keyFile: abs(security.tls.keyFile),
      caFile: abs(security.tls.caFile),
    },
  };
}

/** The admin token's file: the configured one, else <worldDir>/run/admin-token. */
export function adminTokenFileOf(security: SecurityConfig, worldDir: string): string {
  return security.adminTokenFile ?? join(worldDir, 'run', 'admin-token');
}

/** Where a component's operations listen: 0 (any free port) beside port 0, else adminPorts[component] or port + adminPortOffset. */
export function operationsPortOf(security: SecurityConfig, component: string, port: number): number {
  if (port === 0) return 0;
  return security.adminPorts[component] ?? port + security.adminPortOffset;
}
