// examples/client.ts runs, as a user would run it, against Starling's broker.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../src/broker/broker.js';
import { silentLogger } from '../../src/util/logger.js';

test('examples/client.ts runs to completion against a broker', async () => {
  const broker = new Broker({ logger: silentLogger() });
  await broker.start();
  const server = createServer((socket) => broker.handle(socket, { loopbackOnly: true }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const example = fileURLToPath(new URL('../../examples/client.js', import.meta.url));
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [example, `mqtt://127.0.0.1:${port}`], { timeout: 15_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    assert.deepEqual(output.trim().split('\n'), [
      'subscribed, granted QoS 2',
      'example/sensors/t0 = 20 (QoS 0)',
      'example/sensors/t1 = 21 (QoS 1)',
      'example/sensors/t2 = 22 (QoS 2)',
      'the time service says 1970-01-01T00:00:00.000Z',
      'refused: Topic Name invalid',
      'done',
    ]);
  } finally {
    await broker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
