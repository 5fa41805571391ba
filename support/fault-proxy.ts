/**
 * A TCP proxy in front of a real service that a test or the fault runner owns: it can cut the
 * path (open connections are destroyed, new ones refused) and add latency to every chunk.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './processes.ts';

export interface FaultProxy {
  port: number;
  /** Rewrites `url`'s port (and host) to go through the proxy. */
  via: (url: string) => string;
  cut: () => Promise<void>;
  restore: () => Promise<void>;
  /** Milliseconds added to every chunk in either direction; 0 for none. Order is kept. */
  setDelay: (ms: number) => void;
  close: () => Promise<void>;
}

/** `listenPort`: a fixed port (one a broker advertises); a free one by default. */
export async function faultProxy(targetPort: number, targetHost = '127.0.0.1', listenPort?: number): Promise<FaultProxy> {
  const port = listenPort ?? (await freePort());
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let delayMs = 0;
  // Delayed writes keep their order: each waits for the later of its own due time and the last one.
  const pipe = (from: Socket, to: Socket) => {
    let last = 0;
    from.on('data', (chunk) => {
      if (delayMs === 0 && last <= Date.now()) {
        to.write(chunk);
        return;
      }
      const due = Math.max(Date.now() + delayMs, last);
      last = due;
      setTimeout(() => to.destroyed || to.write(chunk), due - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - Date.now())));
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        pipe(client, upstream);
        pipe(upstream, client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const cut = async () => {
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    for (const s of sockets) s.destroy();
    sockets.clear();
    await closed;
  };
  await listen();
  return {
    port,
    via: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut,
    restore: listen,
    setDelay: (ms) => void (delayMs = ms),
    close: cut,
  };
}
