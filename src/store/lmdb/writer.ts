// The LmdbStore's writer thread: applies each batch it is sent in one LMDB transaction that is flushed to disk
// before the thread answers. The broker's thread keeps serving sockets while the disk syncs, and the writes
// that arrive meanwhile form the next batch (group commit).
import { parentPort, workerData } from 'node:worker_threads';
import { type Database, open } from 'lmdb';
import { TABLES, type Table, Writer } from './layout.js';

export interface WriterData {
  dir: string;
}

/** Messages of the writer thread to the store. */
export type WriterReply = { type: 'ready' } | { type: 'written' } | { type: 'failed'; message: string; stack?: string };

/** Messages of the store to the writer thread. */
export type WriterRequest = { type: 'batch'; ops: unknown[] } | { type: 'close' };

const port = parentPort;
if (port) {
  const { dir } = workerData as WriterData;
  const env = open({ path: dir, maxDbs: 16 });
  const db = {} as Record<Table, Database>;
  for (const table of TABLES) db[table] = env.openDB(table, {});
  const writer = new Writer(db);
  port.on('message', (request: WriterRequest) => {
    if (request.type === 'close') {
      void env.close().then(() => port.close());
      return;
    }
    let reply: WriterReply;
    try {
      env.transactionSync(() => writer.apply(request.ops));
      reply = { type: 'written' };
    } catch (error) {
      reply = { type: 'failed', message: (error as Error).message, stack: (error as Error).stack };
    }
    port.postMessage(reply);
  });
  port.postMessage({ type: 'ready' } satisfies WriterReply);
}
