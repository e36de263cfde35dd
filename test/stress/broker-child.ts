// A broker in its own process for the stress tests: a crash, a leak or a stall shows in this process only, and its
// memory figures are not mixed with the test's own clients. Started by startChildBroker() (helpers.ts) with the
// broker options as JSON in argv; it answers requests over the IPC channel. Does nothing unless
// STARLING_STRESS_CHILD is set, so a test runner that picks this file up finds no tests and no broker.

import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { LmdbStore } from '../../src/store/lmdb/index.js';
import { createLogger } from '../../src/util/logger.js';

export interface ChildRequest {
  id: number;
  command: 'stats' | 'session' | 'close';
  /** Run the garbage collector first. */
  gc?: boolean;
  clientId?: string;
}

export interface ChildStats {
  stats: Record<string, number>;
  /** Connection objects the broker holds (every accepted socket until it is torn down). */
  connections: number;
  memory: { rss: number; heapUsed: number; arrayBuffers: number; external: number };
  /** Lines the broker logged at error level: an internal failure, never a client's mistake. */
  errorLogs: string[];
  /** 'error' events the broker emitted. */
  errorEvents: number;
}

export interface ChildSession {
  exists: boolean;
  connected: boolean;
  queueLength: number;
  queuedBytes: number;
  inflight: number;
}

async function main(): Promise<void> {
  // lmdbDir: persistence on LMDB in that directory (the default is the memory store).
  const { lmdbDir, ...options } = JSON.parse(process.argv[2] ?? '{}') as BrokerOptions & { lmdbDir?: string };
  const errorLogs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString();
      if (errorLogs.length < 100) errorLogs.push(line);
      process.stderr.write(line);
      done();
    },
  });
  const logger = createLogger('error', sink);
  const store = lmdbDir === undefined ? undefined : new LmdbStore(lmdbDir, { logger });
  const broker = new Broker({ sysIntervalSeconds: 0, ...options, store, logger });
  let errorEvents = 0;
  broker.on('error', () => {
    errorEvents++;
  });
  await broker.start();
  const listener = await broker.listen({ host: '127.0.0.1', port: 0 });
  // The collector is exposed here rather than with --expose-gc, which worker threads (the LMDB writer) refuse.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  process.on('message', async (request: ChildRequest) => {
    if (request.gc && gc) {
      // Several passes with a turn of the event loop between them, so that freed sockets' buffers go too.
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (request.command === 'stats') {
      const memory = process.memoryUsage();
      const reply: ChildStats = {
        stats: broker.stats.toJSON(),
        connections: broker.connections.size,
        memory: {
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          arrayBuffers: memory.arrayBuffers,
          external: memory.external,
        },
        errorLogs,
        errorEvents,
      };
      process.send?.({ id: request.id, reply });
    } else if (request.command === 'session') {
      const session = broker.sessions.get(request.clientId ?? '');
      const reply: ChildSession = {
        exists: session !== undefined,
        connected: session?.connection !== undefined,
        queueLength: session?.queueLength ?? 0,
        queuedBytes: session?.queuedBytes ?? 0,
        inflight: session?.inflight.size ?? 0,
      };
      process.send?.({ id: request.id, reply });
    } else if (request.command === 'close') {
      await broker.close();
      process.send?.({ id: request.id, reply: true });
      process.disconnect?.();
    }
  });
  // The parent going away ends the broker too, so no child outlives a failed test.
  process.on('disconnect', () => {
    broker.close().finally(() => process.exit(0));
  });
  process.send?.({ ready: listener.address().port });
}

if (process.env.STARLING_STRESS_CHILD === '1' && process.send) {
  main().catch((error: unknown) => {
    process.stderr.write(`stress broker failed to start: ${String(error)}\n`);
    process.exit(1);
  });
}
