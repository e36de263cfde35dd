import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type RunningBroker, type StartOptions, startBroker } from '../../src/cli/broker.js';
import { resolveConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { silentLogger } from '../../src/util/logger.js';

export const hasMosquittoClients = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub');

/** Starts a broker from a configuration as `starling broker` does, $SYS off unless the input says otherwise. */
export async function start(input: ConfigInput, options: StartOptions = {}): Promise<RunningBroker> {
  const result = resolveConfig({ sys: { intervalSeconds: 0 }, persistence: { enabled: false }, ...input });
  if (!result.ok) assert.fail(result.errors.join('; '));
  return startBroker(result.config, { logger: silentLogger(), ...options });
}

export function urlOf(running: RunningBroker, name = 'default'): string {
  const listener = running.listeners.find((l) => l.name === name);
  assert.ok(listener, `listener ${name}`);
  return listener.url();
}

/** The outcome of one connection attempt: a connected client, or the CONNACK code it was refused with. */
export type Attempt = { ok: true; client: MqttClient } | { ok: false; code: number | undefined; error: Error };

/** Connects with mqtt.js without reconnecting; never rejects. */
export function attempt(url: string, options: IClientOptions = {}): Promise<Attempt> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.once('connect', () => resolve({ ok: true, client }));
    const fail = (error: Error) => {
      client.end(true);
      resolve({ ok: false, code: (error as { code?: number }).code, error });
    };
    client.once('error', fail);
    // A connection closed before CONNACK emits close, not error.
    client.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

/** Connects or fails the test. */
export async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const result = await attempt(url, options);
  if (!result.ok) assert.fail(`connection refused (${result.code}): ${result.error.message}`);
  return result.client;
}

/** The CONNACK code a connection attempt is refused with (fails the test when it is accepted). */
export async function refusal(url: string, options: IClientOptions = {}): Promise<number | undefined> {
  const result = await attempt(url, options);
  if (result.ok) {
    await result.client.endAsync(true);
    assert.fail('the connection was accepted');
  }
  return result.code;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after timeoutMs); never rejects. */
export function run(file: string, args: string[], timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A promise with its resolve function, for fakes that a test releases. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Collects the messages a client receives, and waits until some arrive. */
export function collect(client: MqttClient): {
  messages: Array<{ topic: string; payload: string; retain: boolean }>;
  waitFor(count: number, timeoutMs?: number): Promise<void>;
} {
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    for (const check of waiters) check();
  });
  return {
    messages,
    waitFor(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} messages, got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        const check = () => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
  };
}
