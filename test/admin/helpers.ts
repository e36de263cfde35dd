import { type AdminServer, type AdminServerOptions, startAdminServer } from '../../src/admin/server.js';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import type { Listener } from '../../src/transport/types.js';

/** A started broker with an MQTT listener and an admin server, both on 127.0.0.1 and ephemeral ports. */
export interface Fixture {
  broker: Broker;
  listener: Listener;
  admin: AdminServer;
  mqttUrl: string;
  close(): Promise<void>;
}

export async function startFixture(
  options: { broker?: BrokerOptions; admin?: AdminServerOptions } = {},
): Promise<Fixture> {
  const broker = new Broker({ sysIntervalSeconds: 0, ...options.broker });
  await broker.start();
  try {
    const listener = await broker.listen({ port: 0 });
    const admin = await startAdminServer(broker, { port: 0, listeners: [listener], ...options.admin });
    return {
      broker,
      listener,
      admin,
      mqttUrl: listener.url(),
      async close() {
        await admin.close();
        await broker.close();
      },
    };
  } catch (error) {
    await broker.close();
    throw error;
  }
}

/** Prometheus text exposition as a map from 'name' or 'name{labels}' to its value. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Waits until `check` returns true, polling every 10 ms for at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return check();
}
