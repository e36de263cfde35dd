// The LmdbStore's writer thread: applies each batch it is sent in one LMDB transaction that is flushed to disk
// before the thread answers. The broker's thread keeps serving sockets while the disk syncs, and the writes
// that arrive meanwhile form the next batch (group commit).
import { parentPort, workerData } from 'node:worker_threads';
import { open } from 'lmdb';
import { openTables, Writer } from './layout.js';

export interface WriterData {
  dir: string;
}

/** Messages of the writer thread to the store; a batch's buffer comes back (transferred) for the next one. */
export type WriterReply =
  | { type: 'ready' }
  | { type: 'written'; buffer: ArrayBuffer }
  | { type: 'failed'; buffer: ArrayBuffer; message: string; stack?: string };

/** Messages of the store to the writer thread: a batch is `length` bytes of a transferred buffer (codec.ts). */
export type WriterRequest = { type: 'batch'; buffer: ArrayBuffer; length: number } | { type: 'close' };

const port = parentPort;
if (port) {
  const { dir } = workerData as WriterData;
  const env = open({ path: dir, maxDbs: 16 });
  const writer = new Writer(openTables(env));
  port.on('message', (request: WriterRequest) => {
    if (request.type === 'close') {
      void env.close().then(() => port.close());
      return;
    }
    const { buffer, length } = request;
    let reply: WriterReply;
    try {
      env.transactionSync(() => writer.apply(Buffer.from(buffer, 0, length), length));
      reply = { type: 'written', buffer };
    } catch (error) {
      reply = { type: 'failed', buffer, message: (error as Error).message, stack: (error as Error).stack };
    }
    port.postMessage(reply, [buffer]);
  });
  port.postMessage({ type: 'ready' } satisfies WriterReply);
}
