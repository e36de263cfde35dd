// Starling's broker on a plain TCP server, for the side-by-side benchmark:
//   node dist/bench/starling-server.js PORT [--persistence DIR]
// Exit status 3 means "this build cannot do that" (e.g. no durable store yet); the benchmark shows n/a.
import net from 'node:net';
import type { Duplex } from 'node:stream';

interface BrokerLike {
  start(): Promise<void>;
  handle(stream: Duplex, meta?: { remoteAddress?: string; loopbackOnly?: boolean; listener?: string }): void;
  close(): Promise<void>;
}

const port = Number(process.argv[2]);
const persistIndex = process.argv.indexOf('--persistence');
const dataDir = persistIndex > 0 ? process.argv[persistIndex + 1] : undefined;
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: starling-server PORT [--persistence DIR]\n');
  process.exit(2);
}

// Resolved at run time so this script builds while the broker is still being written.
const brokerModule = new URL('../src/broker/broker.js', import.meta.url).href;
let Broker: new (options: Record<string, unknown>) => BrokerLike;
try {
  ({ Broker } = (await import(brokerModule)) as { Broker: typeof Broker });
} catch (err) {
  process.stderr.write(`starling-server: the broker is not available in this build (${(err as Error).message})\n`);
  process.exit(3);
}

const options: Record<string, unknown> = {
  allowAnonymous: true,
  // As for Mosquitto: queues deep enough that a benchmark never drops QoS 1/2 messages.
  maxQueuedMessages: 1_000_000,
  maxInflight: 1000,
  sysIntervalSeconds: 0,
};
if (dataDir) {
  const storeModule = new URL('../src/store/lmdb/index.js', import.meta.url).href;
  try {
    const { LmdbStore } = (await import(storeModule)) as { LmdbStore: new (dir: string) => unknown };
    options.store = new LmdbStore(dataDir);
  } catch (err) {
    process.stderr.write(`starling-server: no durable store in this build (${(err as Error).message})\n`);
    process.exit(3);
  }
}

if (!dataDir) {
  // What `starling broker --no-persistence` runs on.
  const storeModule = new URL('../src/store/volatile/index.js', import.meta.url).href;
  const { VolatileStore } = (await import(storeModule)) as { VolatileStore: new () => unknown };
  options.store = new VolatileStore();
}
const broker = new Broker(options);
await broker.start();
const server = net.createServer({ noDelay: true }, (socket) =>
  broker.handle(socket, { remoteAddress: socket.remoteAddress, loopbackOnly: true, listener: 'bench' }),
);
server.listen(port, '127.0.0.1', () => process.stdout.write(`starling listening on 127.0.0.1:${port}\n`));
const stop = () => {
  server.close();
  setTimeout(() => process.exit(0), 3000).unref();
  broker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
