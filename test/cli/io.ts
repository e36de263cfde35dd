import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/connect-options.js';

/** A command's streams in memory: what it writes is kept for the test to read. */
export interface MemoryIo extends CliIo {
  out: () => string;
  err: () => string;
}

/** Stdin from `stdin`; stdout and stderr captured; `signal` stops a command that runs until told. */
export function memoryIo(stdin = '', signal?: AbortSignal): MemoryIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const io: MemoryIo = { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, out: () => out, err: () => err };
  if (signal) io.signal = signal;
  return io;
}
