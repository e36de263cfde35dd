import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { before, describe, test } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { createListener, isLoopbackHost } from '../../src/transport/listener.js';
import type { ConnectionMeta, Listener, ListenerConfig } from '../../src/transport/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { type TestCertificates, testCertificates } from '../helpers/certs.js';

/** A stand-in for the broker: echoes bytes back and records what the listener said about each connection. */
function echoServer() {
  const metas: ConnectionMeta[] = [];
  const streams: Duplex[] = [];
  const accept = (stream: Duplex, meta: ConnectionMeta) => {
    metas.push(meta);
    streams.push(stream);
    stream.on('error', () => {});
    stream.pipe(stream);
  };
  return { metas, streams, accept };
}

async function open(config: Partial<ListenerConfig> & Pick<ListenerConfig, 'protocol'>, accept = echoServer().accept) {
  return createListener({ name: 'test', host: '127.0.0.1', port: 0, ...config }, accept, silentLogger());
}

async function echoOnce(socket: Socket | TLSSocket, text: string): Promise<string> {
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return data.toString();
}

function tcp(listener: Listener): Promise<Socket> {
  const socket = netConnect(listener.address().port, '127.0.0.1');
  return once(socket, 'connect').then(() => socket);
}

async function closed(socket: Socket): Promise<void> {
  if (socket.destroyed) return;
  await closeOf(socket);
}

/** Resolves on 'close' even when an 'error' comes first (events.once would reject). */
function closeOf(emitter: { once(event: 'close', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

test('isLoopbackHost knows the loopback addresses', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'example.com', '128.0.0.1']) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

describe('mqtt (TCP) listener', () => {
  test('binds port 0, reports the real address and hands over the stream with its meta', async () => {
    const echo = echoServer();
    const listener = await open({ protocol: 'mqtt', name: 'default' }, echo.accept);
    try {
      const { host, port } = listener.address();
      assert.equal(host, '127.0.0.1');
      assert.ok(port > 0);
      assert.equal(listener.url(), `mqtt://127.0.0.1:${port}`);
      const socket = await tcp(listener);
      assert.equal(await echoOnce(socket, 'hello'), 'hello');
      assert.equal(echo.metas.length, 1);
      assert.equal(echo.metas[0]!.listener, 'default');
      assert.equal(echo.metas[0]!.loopbackOnly, true);
      assert.equal(echo.metas[0]!.remoteAddress, '127.0.0.1');
      assert.equal(echo.metas[0]!.certificateCommonName, undefined);
      socket.destroy();
    } finally {
      await listener.close();
    }
  });

  test('a listener on a non-loopback address is not loopbackOnly', async () => {
    const listener = await open({ protocol: 'mqtt', host: '0.0.0.0' });
    try {
      assert.equal(listener.loopbackOnly, false);
    } finally {
      await listener.close();
    }
  });

  test('refuses connections beyond maxConnections with a plain close, and counts them', async () => {
    const listener = await open({ protocol: 'mqtt', maxConnections: 2 });
    try {
      const a = await tcp(listener);
      const b = await tcp(listener);
      assert.equal(await echoOnce(a, 'a'), 'a');
      assert.equal(await echoOnce(b, 'b'), 'b');
      const c = await tcp(listener);
      await closed(c);
      assert.equal(listener.stats.refused, 1);
      assert.equal(listener.stats.connections, 2);
      a.destroy();
      await closed(a);
      // A freed slot can be used again.
      for (let i = 0; i < 50 && listener.stats.connections > 1; i++) await new Promise((r) => setTimeout(r, 10));
      const d = await tcp(listener);
      assert.equal(await echoOnce(d, 'd'), 'd');
      b.destroy();
      d.destroy();
    } finally {
      await listener.close();
    }
  });

  test('a connection reset by the peer does not crash the process', async () => {
    const listener = await open({ protocol: 'mqtt' });
    try {
      const socket = await tcp(listener);
      assert.equal(await echoOnce(socket, 'x'), 'x');
      socket.resetAndDestroy();
      for (let i = 0; i < 100 && listener.stats.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(listener.stats.connections, 0);
      const again = await tcp(listener);
      assert.equal(await echoOnce(again, 'y'), 'y');
      again.destroy();
    } finally {
      await listener.close();
    }
  });

  test('close() stops accepting and closes open connections', async () => {
    const listener = await open({ protocol: 'mqtt' });
    const socket = await tcp(listener);
    const port = listener.address().port;
    await listener.close();
    await closed(socket);
    const refused = netConnect(port, '127.0.0.1');
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });

  test('a port already in use rejects createListener', async () => {
    const first = await open({ protocol: 'mqtt' });
    try {
      await assert.rejects(open({ protocol: 'mqtt', port: first.address().port }), { code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });
});

describe('mqtts (TLS) listener', () => {
  let certs: TestCertificates;
  before(async () => {
    certs = await testCertificates();
  });

  function tlsClient(listener: Listener, extra: Record<string, unknown> = {}): TLSSocket {
    return tlsConnect({ host: '127.0.0.1', port: listener.address().port, ca: readFileSync(certs.caCert), ...extra });
  }

  test('serves TLS with the configured certificate, verified by the CA', async () => {
    const listener = await open({ protocol: 'mqtts', tls: { cert: certs.serverCert, key: certs.serverKey } });
    try {
      assert.equal(listener.url(), `mqtts://127.0.0.1:${listener.address().port}`);
      const socket = tlsClient(listener);
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      assert.equal(socket.getPeerCertificate().subject.CN, 'starling-test-server');
      assert.equal(await echoOnce(socket, 'secret'), 'secret');
      socket.destroy();
    } finally {
      await listener.close();
    }
  });

  test('refuses TLS versions older than 1.2', async () => {
    const listener = await open({ protocol: 'mqtts', tls: { cert: certs.serverCert, key: certs.serverKey } });
    try {
      const socket = tlsClient(listener, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
      const [err] = (await once(socket, 'error')) as [Error];
      assert.match(String((err as NodeJS.ErrnoException).code ?? err.message), /PROTOCOL|VERSION|ALERT/i);
    } finally {
      await listener.close();
    }
  });

  test('mutual TLS: a client certificate signed by the CA is required and its CN reported', async () => {
    const echo = echoServer();
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true };
    const listener = await open({ protocol: 'mqtts', tls }, echo.accept);
    try {
      const good = tlsClient(listener, { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
      await once(good, 'secureConnect');
      assert.equal(await echoOnce(good, 'ok'), 'ok');
      assert.equal(echo.metas[0]!.certificateCommonName, 'device-42');
      good.destroy();

      for (const extra of [{}, { cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) }]) {
        const bad = tlsClient(listener, extra);
        bad.on('error', () => {});
        // TLS 1.3 reports the refusal after the client's handshake: the server closes without serving.
        await closeOf(bad);
      }
      assert.equal(echo.metas.length, 1, 'clients without a trusted certificate never reach the broker');
    } finally {
      await listener.close();
    }
  });

  test('useCertificateCnAsUsername without requireClientCert: CN reported when present, anonymous TLS still served', async () => {
    const echo = echoServer();
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, useCertificateCnAsUsername: true };
    const listener = await open({ protocol: 'mqtts', tls }, echo.accept);
    try {
      const withCert = tlsClient(listener, {
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
      });
      assert.equal(await echoOnce(withCert, '1'), '1');
      const without = tlsClient(listener);
      assert.equal(await echoOnce(without, '2'), '2');
      const stranger = tlsClient(listener, {
        cert: readFileSync(certs.strangerCert),
        key: readFileSync(certs.strangerKey),
      });
      assert.equal(await echoOnce(stranger, '3'), '3');
      assert.deepEqual(
        echo.metas.map((m) => m.certificateCommonName),
        ['device-42', undefined, undefined],
        'only a certificate verified by the CA yields a CN',
      );
      for (const s of [withCert, without, stranger]) s.destroy();
    } finally {
      await listener.close();
    }
  });

  test('reloadTls serves the new certificate to new connections; open ones keep working; a broken file keeps the old', async () => {
    const { dir } = certs;
    const cert = join(dir, 'reload.crt');
    const key = join(dir, 'reload.key');
    writeFileSync(cert, readFileSync(certs.serverCert));
    writeFileSync(key, readFileSync(certs.serverKey));
    const listener = await open({ protocol: 'mqtts', tls: { cert, key } });
    try {
      assert.ok(listener.reloadTls);
      const before = tlsClient(listener);
      assert.equal(await echoOnce(before, 'a'), 'a');

      writeFileSync(cert, readFileSync(certs.renewedCert));
      writeFileSync(key, readFileSync(certs.renewedKey));
      await listener.reloadTls({ cert, key });
      const afterReload = tlsClient(listener);
      await once(afterReload, 'secureConnect');
      assert.equal(afterReload.getPeerCertificate().subject.CN, 'starling-renewed');
      assert.equal(await echoOnce(before, 'still'), 'still');

      writeFileSync(cert, 'not a certificate');
      await assert.rejects(listener.reloadTls({ cert, key }));
      const afterBroken = tlsClient(listener);
      await once(afterBroken, 'secureConnect');
      assert.equal(afterBroken.getPeerCertificate().subject.CN, 'starling-renewed');
      for (const s of [before, afterReload, afterBroken]) s.destroy();
    } finally {
      await listener.close();
    }
  });

  test('a TLS listener without certificate files fails to start', async () => {
    await assert.rejects(open({ protocol: 'mqtts' }), /needs tls\.cert/);
    await assert.rejects(open({ protocol: 'mqtts', tls: { cert: '/nonexistent.crt', key: '/nonexistent.key' } }), {
      code: 'ENOENT',
    });
  });
});

describe('ws and wss listeners', () => {
  let certs: TestCertificates;
  before(async () => {
    certs = await testCertificates();
  });

  async function wsEcho(url: string, protocols: string | string[], options: Record<string, unknown> = {}) {
    const ws = new WebSocket(url, protocols, options);
    const received: Buffer[] = [];
    let total = 0;
    const fourBytes = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        received.push(data);
        total += data.length;
        if (total >= 4) resolve();
      });
    });
    await once(ws, 'open');
    ws.send(Buffer.from([0x10, 0x02]));
    ws.send(Buffer.from([0x00, 0x04]));
    await fourBytes;
    const protocol = ws.protocol;
    ws.close();
    await closeOf(ws);
    return { bytes: [...Buffer.concat(received)], protocol };
  }

  test('ws: binary frames carry the byte stream; subprotocols mqtt, mqttv3.1 and mqttv3.1.1 are accepted', async () => {
    const echo = echoServer();
    const listener = await open({ protocol: 'ws' }, echo.accept);
    try {
      const url = listener.url();
      assert.equal(url, `ws://127.0.0.1:${listener.address().port}/mqtt`);
      for (const protocol of ['mqtt', 'mqttv3.1', 'mqttv3.1.1']) {
        const result = await wsEcho(url, protocol);
        assert.deepEqual(result, { bytes: [0x10, 0x02, 0x00, 0x04], protocol });
      }
      // [MQTT-6.0.0-4] the server selects 'mqtt' from a client's list.
      assert.equal((await wsEcho(url, ['chat', 'mqtt'])).protocol, 'mqtt');
      assert.equal(echo.metas[0]!.loopbackOnly, true);
      assert.equal(echo.metas[0]!.remoteAddress, '127.0.0.1');
    } finally {
      await listener.close();
    }
  });

  test('ws: the path is configurable; other paths and foreign subprotocols are refused', async () => {
    const listener = await open({ protocol: 'ws', ws: { path: '/broker' } });
    try {
      const base = `ws://127.0.0.1:${listener.address().port}`;
      assert.deepEqual((await wsEcho(`${base}/broker`, 'mqtt')).bytes, [0x10, 0x02, 0x00, 0x04]);
      for (const [url, protocol, status] of [
        [`${base}/mqtt`, 'mqtt', 404],
        [`${base}/broker`, 'chat', 400],
      ] as const) {
        const ws = new WebSocket(url, protocol);
        ws.on('error', () => {});
        const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
        assert.equal(res.statusCode, status);
        ws.terminate();
      }
    } finally {
      await listener.close();
    }
  });

  test('[MQTT-6.0.0-1] a text frame closes the connection', async () => {
    const echo = echoServer();
    const listener = await open({ protocol: 'ws' }, echo.accept);
    try {
      const ws = new WebSocket(listener.url(), 'mqtt');
      await once(ws, 'open');
      ws.send('not binary');
      await once(ws, 'close');
      assert.equal(echo.streams[0]!.destroyed, true);
    } finally {
      await listener.close();
    }
  });

  test('ws: bytes sent just before the client closes are still read, then the stream ends and closes', async () => {
    let resolveDone: (value: { bytes: number[]; closed: boolean }) => void;
    const done = new Promise<{ bytes: number[]; closed: boolean }>((resolve) => {
      resolveDone = resolve;
    });
    const listener = await open({ protocol: 'ws' }, (stream) => {
      // The reader starts late, as a busy broker might.
      setTimeout(() => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          stream.once('close', () => resolveDone({ bytes: [...Buffer.concat(chunks)], closed: true }));
        });
      }, 50);
    });
    try {
      const ws = new WebSocket(listener.url(), 'mqtt');
      await once(ws, 'open');
      ws.send(Buffer.from([0x30, 0x03, 0x00, 0x01, 0x74]));
      ws.send(Buffer.from([0xe0, 0x00]));
      ws.close();
      assert.deepEqual(await done, { bytes: [0x30, 0x03, 0x00, 0x01, 0x74, 0xe0, 0x00], closed: true });
    } finally {
      await listener.close();
    }
  });

  test('ws: many writes in one tick leave as one frame', async () => {
    const streams: Duplex[] = [];
    const listener = await open({ protocol: 'ws' }, (stream) => {
      streams.push(stream);
      stream.cork();
      for (let i = 0; i < 10; i++) stream.write(Buffer.from([i]));
      process.nextTick(() => stream.uncork());
    });
    try {
      const ws = new WebSocket(listener.url(), 'mqtt');
      const [data] = (await once(ws, 'message')) as [Buffer];
      assert.deepEqual([...data], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      ws.close();
      await once(ws, 'close');
    } finally {
      await listener.close();
    }
  });

  test('wss: WebSocket over TLS, with mutual TLS reporting the CN', async () => {
    const echo = echoServer();
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true };
    const listener = await open({ protocol: 'wss', tls }, echo.accept);
    try {
      assert.equal(listener.url(), `wss://127.0.0.1:${listener.address().port}/mqtt`);
      const result = await wsEcho(listener.url(), 'mqtt', {
        ca: readFileSync(certs.caCert),
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
      });
      assert.deepEqual(result.bytes, [0x10, 0x02, 0x00, 0x04]);
      assert.equal(echo.metas[0]!.certificateCommonName, 'device-42');
      const refused = new WebSocket(listener.url(), 'mqtt', { ca: readFileSync(certs.caCert) });
      refused.on('error', () => {});
      await closeOf(refused);
      assert.equal(echo.metas.length, 1);
    } finally {
      await listener.close();
    }
  });

  test('ws: maxConnections applies to WebSocket connections too', async () => {
    const listener = await open({ protocol: 'ws', maxConnections: 1 });
    try {
      const first = new WebSocket(listener.url(), 'mqtt');
      await once(first, 'open');
      const second = new WebSocket(listener.url(), 'mqtt');
      second.on('error', () => {});
      await closeOf(second);
      assert.equal(listener.stats.refused, 1);
      first.close();
      await once(first, 'close');
    } finally {
      await listener.close();
    }
  });
});

test('a peer reset on any protocol never reaches the process, even when the handler ignores errors', async () => {
  const certs = await testCertificates();
  const tls = { cert: certs.serverCert, key: certs.serverKey };
  for (const protocol of ['mqtt', 'mqtts', 'ws', 'wss'] as const) {
    const accepted: Duplex[] = [];
    // A careless handler: it reads but attaches no 'error' listener.
    const listener = await open({ protocol, ...(protocol.endsWith('s') ? { tls } : {}) }, (stream) => {
      accepted.push(stream);
      stream.resume();
      // Bytes waiting to be written when the peer resets make the reset surface as an error (EPIPE, ECONNRESET).
      const chunk = Buffer.alloc(64 * 1024);
      for (let i = 0; i < 1024 && stream.write(chunk); i++);
    });
    try {
      const port = listener.address().port;
      const raw = netConnect(port, '127.0.0.1');
      raw.on('error', () => {});
      await once(raw, 'connect');
      let socket: Socket = raw;
      if (protocol === 'mqtts' || protocol === 'wss') {
        const secure = tlsConnect({ socket: raw, ca: readFileSync(certs.caCert), servername: 'localhost' });
        secure.on('error', () => {}); // the client side sees its own reset
        await once(secure, 'secureConnect');
        socket = secure;
      }
      if (protocol === 'ws' || protocol === 'wss') {
        socket.write(
          'GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n',
        );
        await once(socket, 'data');
      } else {
        socket.write('x');
      }
      for (let i = 0; i < 100 && accepted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(accepted.length, 1, protocol);
      const streamClosed = closeOf(accepted[0]!);
      raw.resetAndDestroy();
      await streamClosed;
      assert.equal(listener.stats.accepted, 1);
    } finally {
      await listener.close();
    }
  }
});
