// A local nats-server with JetStream (Debian's nats-server package), for `make up` with
// services.events.backend "jetstream" and for the tests that run the events service on a broker.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';

export interface LocalNatsServer {
  /** nats://host:port */
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGTERM, then resolves once it exited (its store is flushed and closed). */
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** 0: any free port. */
  port: number;
  /** JetStream's store directory (made if missing). */
  storeDir: string;
  host?: string;
  /** Where its log lines go; dropped when absent. */
  log?: (line: string) => void;
  /** Starts the binary (default: here; the multi-host test starts it inside a network namespace). */
  spawn?: (command: string, args: string[]) => ChildProcess;
}

/** True when the nats-server binary is on the PATH. */
export function natsServerInstalled(): boolean {
  return spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts nats-server -js; resolves once it accepts clients. */
export async function startNatsServer(options: NatsServerOptions): Promise<LocalNatsServer> {
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.storeDir, { recursive: true });
  // -p -1: a random free port, read back from its log.
  const args = ['-js', '-a', host, '-p', String(options.port === 0 ? -1 : options.port), '-sd', options.storeDir];
  const child = options.spawn
    ? options.spawn('nats-server', args)
    : spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let listening: number | undefined;
    const lines: string[] = [];
    child.once('error', (err) =>
      reject(
        new Error(
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'nats-server is not installed (Debian package nats-server; scripts/setup-system.sh installs it)'
            : `nats-server: ${err.message}`,
        ),
      ),
    );
    child.once('exit', (code) =>
      reject(new Error(`nats-server exited with ${code} before it was ready:\n${lines.slice(-10).join('\n')}`)),
    );
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      options.log?.(line);
      const m = /Listening for client connections on \S+:(\d+)/.exec(line);
      if (m) listening = Number(m[1]);
      if (/Server is ready/.test(line) && listening !== undefined) resolve(listening);
    });
  });
  return {
    url: `nats://${host}:${port}`,
    port,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
