// gRPC clients for the parts of the mesh a rollout steers and watches: the ANN hosts (AnnAdmin,
// AnnSearch), the viewer, the ranker, the events service, and health checks. One channel per
// address, closed together.
import type { Client } from '@grpc/grpc-js';
import { AnnAdminClient, AnnSearchClient } from '../../../generated/feedloom/v1/ann.js';
import { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { RankerClient } from '../../../generated/feedloom/v1/ranker.js';
import { ViewerModelClient } from '../../../generated/feedloom/v1/viewer.js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../../generated/grpc/health/v1/health.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';
import { endpointsFromMesh, type AnnHostEndpoint } from '../../../libs/ann/learned-retrieval.js';
import { addressOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { meshChannelOf, operationsAddressOf } from '../../../libs/bootstrap/mesh-security.js';

/** Time allowed for one control call (LoadVersion of a large index takes a while). */
export const ADMIN_TIMEOUT_MS = 120_000;
const QUERY_TIMEOUT_MS = 5_000;

export class MeshClients {
  /** Constructor → address → client (generated constructors share one class name, so they key by identity). */
  private readonly clients = new Map<unknown, Map<string, Client>>();

  constructor(readonly mesh: MeshConfig) {}

  /** The ANN hosts of the config, the canary (rollout.canary, else the first host) first. */
  annHosts(): AnnHostEndpoint[] {
    const hosts = endpointsFromMesh(this.mesh).annHosts;
    const canary = this.mesh.rollout.canary;
    if (canary === undefined) return hosts;
    const found = hosts.find((h) => h.name === canary);
    if (!found)
      throw new Error(
        `rollout.canary: no ANN host "${canary}" in ann.hosts (hosts: ${hosts.map((h) => h.name).join(', ') || 'none'})`,
      );
    return [found, ...hosts.filter((h) => h !== found)];
  }

  get viewerAddress(): string {
    const viewer = this.mesh.services.viewer;
    if (!viewer) throw new Error('the mesh config has no services.viewer: there is nothing to serve the user tower');
    return addressOf(this.mesh, viewer);
  }

  get rankerAddress(): string {
    const ranker = this.mesh.services.ranker;
    if (!ranker) throw new Error('the mesh config has no services.ranker');
    return addressOf(this.mesh, ranker);
  }

  /** AnnAdmin listens on the host's admin port. */
  annAdmin(host: AnnHostEndpoint): AnnAdminClient {
    const entry = this.mesh.ann?.hosts.find((h) => h.name === host.name);
    if (!entry) throw new Error(`no ANN host "${host.name}" in ann.hosts`);
    return this.get(AnnAdminClient, operationsAddressOf(this.mesh, `ann.${host.name}`, entry));
  }

  annSearch(host: AnnHostEndpoint): AnnSearchClient {
    return this.get(AnnSearchClient, host.address);
  }

  viewer(): ViewerModelClient {
    return this.get(ViewerModelClient, this.viewerAddress);
  }

  ranker(): RankerClient {
    return this.get(RankerClient, this.rankerAddress);
  }

  events(): EventsClient {
    return this.get(EventsClient, addressOf(this.mesh, this.mesh.services.events));
  }

  /** What a host serves and holds for model; throws when the host cannot be reached. */
  async hostVersions(host: AnnHostEndpoint, model: string): Promise<{ serving: string; loaded: string[] }> {
    const res = await callUnary(this.annSearch(host), 'getVersions', {}, { timeoutMs: QUERY_TIMEOUT_MS });
    const m = res.models.find((x) => x.model === model);
    return { serving: m?.servingVersion ?? '', loaded: m?.loadedVersions ?? [] };
  }

  /** Versions of model the viewer holds now. */
  async viewerVersions(model: string): Promise<string[]> {
    const res = await callUnary(this.viewer(), 'listVersions', { model }, { timeoutMs: QUERY_TIMEOUT_MS });
    return res.versions.map((v) => v.version);
  }

  /** The grpc.health.v1 status of service at address: SERVING, NOT_SERVING, … or the call's error. */
  async health(address: string, service = ''): Promise<{ serving: boolean; detail: string }> {
    try {
      const res = await callUnary(
        this.get(HealthClient, address),
        'check',
        { service },
        { timeoutMs: QUERY_TIMEOUT_MS },
      );
      const serving = res.status === HealthCheckResponse_ServingStatus.SERVING;
      return {
        serving,
        detail: serving ? 'SERVING' : (HealthCheckResponse_ServingStatus[res.status] ?? String(res.status)),
      };
    } catch (err) {
      const message = messageOf(err);
      const short = /connect \w+ [^\s.]+(?:\.\d+)*(?::\d+)?|deadline exceeded/i.exec(message)?.[0];
      return { serving: false, detail: `unreachable: ${short ?? message.slice(0, 120)}` };
    }
  }

  close(): void {
    for (const byAddress of this.clients.values()) for (const client of byAddress.values()) client.close();
    this.clients.clear();
  }

  private get<C extends Client>(Ctor: new (...args: any[]) => C, address: string): C {
    let byAddress = this.clients.get(Ctor);
    if (!byAddress) this.clients.set(Ctor, (byAddress = new Map()));
    let client = byAddress.get(address) as C | undefined;
    if (!client) {
      client = connect(Ctor as Parameters<typeof connect<C>>[0], address, meshChannelOf(this.mesh));
      byAddress.set(address, client);
    }
    return client;
  }
}

/** Polls check() every intervalMs until it returns a value (not undefined) or timeoutMs passes. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = messageOf(err);
    }
    if (Date.now() >= deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`,
      );
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
