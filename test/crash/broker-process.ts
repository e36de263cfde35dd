// A Starling broker on LMDB in its own process, for the crash test: `node broker-process.js <dataDir> [port]`.
// Prints `port <n>` once it accepts connections. The test kills it with SIGKILL; nothing here shuts down cleanly.
import { createServer } from 'node:net';
import { Broker } from '../../src/broker/broker.js';
import { LmdbStore } from '../../src/store/lmdb/index.js';

const [dataDir, portText] = process.argv.slice(2);
// Imported by a test runner that looks for test files: do nothing without arguments.
if (dataDir) {
  // Queues large enough that no message is dropped for a full queue while the subscriber is away: a drop is
  // the broker's documented choice, not a loss, and would hide real ones.
  const broker = new Broker({
    store: new LmdbStore(dataDir),
    sysIntervalSeconds: 0,
    allowAnonymous: true,
    maxQueuedMessages: 1_000_000,
    maxQueuedBytes: 1 << 30,
  });
  await broker.start();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket, { remoteAddress: socket.remoteAddress, listener: 'tcp', loopbackOnly: true });
  });
  server.listen(Number(portText ?? 0), '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    void broker.close().then(() => process.exit(0));
  });
}
