// Shared by the stress tests: a broker in a child process, a raw MQTT peer over real TCP speaking Starling's codec,
// mqtt.js connections, and bounded waiting. STARLING_STRESS_SOAK=<n> multiplies the amounts for a manual soak run.

import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { BrokerOptions } from '../../src/broker/broker.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type { ConnackPacket, ConnectPacket, Packet, ProtocolVersion, QoS } from '../../src/protocol/packets.js';
import type { ChildRequest, ChildSession, ChildStats } from './broker-child.js';

/** 1 in the normal test run; a manual soak run sets STARLING_STRESS_SOAK=10 (or more). */
export const SOAK = Math.max(1, Number(process.env.STARLING_STRESS_SOAK ?? '1') || 1);

/** A per-test timeout that grows with the soak factor. */
export function budget(ms: number): number {
  return ms * SOAK;
}

export const MiB = 1024 * 1024;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

const childScript = fileURLToPath(new URL('./broker-child.js', import.meta.url));

/** A broker in a child process, listening on 127.0.0.1 on an ephemeral port. */
export class ChildBroker {
  readonly child: ChildProcess;
  readonly port: number;
  stderr = '';
  #nextId = 1;
  readonly #pending = new Map<number, (reply: unknown) => void>();
  readonly #exit: Promise<void>;

  private constructor(child: ChildProcess, port: number, exit: Promise<void>) {
    this.child = child;
    this.port = port;
    this.#exit = exit;
    child.on('message', (message: { id?: number; reply?: unknown }) => {
      if (message.id === undefined) return;
      const resolve = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      resolve?.(message.reply);
    });
  }

  /** `lmdbDir` puts the broker's persistence on LMDB in that directory; the default is the memory store. */
  static async start(options: BrokerOptions & { lmdbDir?: string } = {}): Promise<ChildBroker> {
    const env: NodeJS.ProcessEnv = { ...process.env, STARLING_STRESS_CHILD: '1' };
    delete env.NODE_TEST_CONTEXT;
    const child = fork(childScript, [JSON.stringify(options)], {
      env,
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString();
    });
    const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`broker child did not start\n${stderr}`)), 10_000);
      child.on('message', (message: { ready?: number }) => {
        if (message.ready === undefined) return;
        clearTimeout(timer);
        resolve(message.ready);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`broker child exited with ${code}\n${stderr}`));
      });
    }).catch(async (error: unknown) => {
      child.kill('SIGKILL');
      await exit;
      throw error;
    });
    const broker = new ChildBroker(child, port, exit);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (broker.stderr.length < 64 * 1024) broker.stderr += chunk.toString();
    });
    return broker;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  #request<T>(request: Omit<ChildRequest, 'id'>, timeoutMs = 10_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.alive || !this.child.connected) {
        reject(new Error(`broker child is gone\n${this.stderr}`));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`broker child did not answer ${request.command}`));
      }, timeoutMs);
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply as T);
      });
      this.child.send({ ...request, id });
    });
  }

  stats(gc = false): Promise<ChildStats> {
    return this.#request({ command: 'stats', gc });
  }

  session(clientId: string): Promise<ChildSession> {
    return this.#request({ command: 'session', clientId });
  }

  /** Closes the broker gracefully; kills it if it does not exit in time. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.alive && this.child.connected) {
      await this.#request({ command: 'close' }, 5000).catch(() => undefined);
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    if (this.alive && !this.child.connected) this.child.kill('SIGKILL');
    await this.#exit;
    clearTimeout(timer);
  }
}

type PacketOf<T extends Packet['type']> = Extract<Packet, { type: T }>;
type Waiter = { match: (p: Packet) => boolean; resolve: (p: Packet) => void; reject: (e: Error) => void };

/** A raw MQTT peer over TCP: Starling's encoder out, Starling's decoder in. */
export class TcpPeer {
  readonly socket: Socket;
  readonly version: ProtocolVersion;
  /** Every packet the broker sent, in order (PUBLISH payloads copied). */
  readonly received: Packet[] = [];
  onPacket: ((packet: Packet) => void) | undefined;
  decodeError: unknown;
  closed = false;
  readonly #decoder: Decoder;
  readonly #waiters: Waiter[] = [];
  readonly #opened: Promise<void>;
  readonly #closedPromise: Promise<void>;

  constructor(port: number, version: ProtocolVersion = 5, options: { keepReceived?: boolean } = {}) {
    this.version = version;
    const keep = options.keepReceived ?? true;
    this.socket = netConnect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.#decoder = new Decoder(
      (packet) => {
        if (packet.type === 'publish') packet.payload = Buffer.from(packet.payload);
        if (keep) this.received.push(packet);
        this.onPacket?.(packet);
        for (let i = 0; i < this.#waiters.length; i++) {
          const waiter = this.#waiters[i];
          if (waiter.match(packet)) {
            this.#waiters.splice(i, 1);
            waiter.resolve(packet);
            break;
          }
        }
      },
      { protocolVersion: version },
    );
    this.#opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.#opened.catch(() => undefined);
    this.socket.on('data', (chunk: Buffer) => {
      if (this.decodeError !== undefined) return;
      try {
        this.#decoder.push(chunk);
      } catch (error) {
        this.decodeError = error;
      }
    });
    this.socket.on('error', () => {});
    this.#closedPromise = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.closed = true;
        for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('connection closed'));
        resolve();
      });
    });
  }

  opened(): Promise<void> {
    return this.#opened;
  }

  send(packet: Packet): void {
    this.sendRaw(encode(packet, this.version));
  }

  sendRaw(bytes: Buffer | number[]): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** The next packet of `type` (earlier packets of other types are skipped), or a failure after timeoutMs. */
  expect<T extends Packet['type']>(
    type: T,
    timeoutMs = 5000,
    match?: (p: PacketOf<T>) => boolean,
  ): Promise<PacketOf<T>> {
    if (this.closed) return Promise.reject(new Error(`connection closed before ${type}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new Error(`no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        match: (p) => p.type === type && (!match || match(p as PacketOf<T>)),
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p as PacketOf<T>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
    return {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: this.version,
      clean: true,
      keepAlive: 0,
      clientId: '',
      ...fields,
    };
  }

  async connect(fields: Partial<ConnectPacket> = {}): Promise<ConnackPacket> {
    await this.opened();
    const connack = this.expect('connack');
    this.send(this.connectPacket(fields));
    const packet = await connack;
    assert.equal(packet.reasonCode, 0, `CONNACK 0x${packet.reasonCode.toString(16)}`);
    return packet;
  }

  async subscribe(topicFilter: string, qos: QoS, packetId = 1): Promise<number[]> {
    const suback = this.expect('suback', 5000, (p) => p.packetId === packetId);
    this.send({ type: 'subscribe', packetId, subscriptions: [{ topicFilter, qos }] });
    return (await suback).reasonCodes;
  }

  /** Resolves once the broker (or we) closed the connection; fails after timeoutMs. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An mqtt.js client on the child broker, connected (or failing after 5 s). */
export async function mqttjs(port: number, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  // mqtt.js leaves Nagle's algorithm on: a PUBACK followed by a PUBLISH would then wait for a delayed ACK (40 ms).
  const noDelay = (): void => {
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  };
  noDelay();
  client.on('connect', noDelay);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('mqtt.js connection closed before CONNACK')));
    });
  } catch (error) {
    client.end(true);
    throw error;
  }
  client.on('error', () => {});
  return client;
}

export async function endClient(client: MqttClient): Promise<void> {
  await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
}

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/**
 * QoS 1 messages of 64 KiB, published in bursts of `burst`, to a reader that acknowledges everything and to one
 * that never reads, on a broker with a 2 MiB maxQueuedBytes. Asserts that the reader gets every message, that the
 * stuck session's queue stays within the limit (the rest dropped and counted) and that the broker stays bounded.
 */
export async function burstsBesideAStuckReader(
  t: { diagnostic(message: string): void },
  cleanups: (() => Promise<void> | void)[],
  burst: number,
): Promise<void> {
  const broker = await ChildBroker.start({ maxQueuedMessages: 100_000, maxQueuedBytes: 2 * MiB });
  cleanups.push(() => broker.stop());
  const stuck = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => stuck.destroy());
  await stuck.connect({ clientId: 'stuck-big' });
  await stuck.subscribe('big/#', 1);
  stuck.socket.pause();
  const reader = new TcpPeer(broker.port, 4, { keepReceived: false });
  cleanups.push(() => reader.destroy());
  let got = 0;
  reader.onPacket = (packet) => {
    if (packet.type !== 'publish' || packet.qos !== 1) return;
    reader.send({ type: 'puback', packetId: packet.packetId! });
    got++;
  };
  await reader.connect({ clientId: 'reader-big' });
  await reader.subscribe('big/#', 1);
  const publisher = await mqttjs(broker.port, { clientId: 'big-publisher' });
  cleanups.push(() => endClient(publisher));
  const baseline = await broker.stats(true);
  const total = 1000 * SOAK;
  const big = Buffer.alloc(64 * 1024, 0x62);
  for (let start = 0; start < total; start += burst) {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < burst; i++) sends.push(publisher.publishAsync('big/x', big, { qos: 1 }));
    await Promise.all(sends);
    await waitUntil(() => got >= start + burst, `message ${start + burst} at the reader (has ${got})`);
  }
  const loaded = await broker.stats(true);
  const session = await broker.session('stuck-big');
  const grew =
    loaded.memory.heapUsed + loaded.memory.arrayBuffers - baseline.memory.heapUsed - baseline.memory.arrayBuffers;
  t.diagnostic(
    `${mib(total * big.length)} of QoS 1 for a reader that never reads: queue ${session.queueLength} ` +
      `(${mib(session.queuedBytes)}), in flight ${session.inflight}, dropped ${loaded.stats.droppedMessages}, ` +
      `broker grew ${mib(grew)}`,
  );
  assert.equal(got, total);
  assert.ok(session.queuedBytes <= 2 * MiB, `queue holds ${mib(session.queuedBytes)}`);
  assert.ok(loaded.stats.droppedMessages > 0);
  // 62.5 MiB were addressed to it; what the broker holds is its socket buffer, its in-flight window and the queue.
  assert.ok(grew < 32 * MiB, `broker memory grew by ${mib(grew)}`);
}
