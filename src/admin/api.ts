import type { Broker } from '../broker/broker.js';
import type { Listener } from '../transport/types.js';

/** GET /health */
export interface HealthResponse {
  status: 'ok' | 'shutting down';
  /** Seconds since the broker started serving. */
  uptime: number;
  version: string;
}

/** GET /api/stats */
export interface StatsResponse {
  version: string;
  /** Seconds since the broker started serving. */
  uptime: number;
  /** Milliseconds since the epoch when the numbers were read, to compute rates from two responses. */
  now: number;
  stats: {
    clientsConnected: number;
    messagesReceived: number;
    messagesSent: number;
    bytesReceived: number;
    bytesSent: number;
    droppedMessages: number;
    subscriptions: number;
    retained: number;
    sessions: number;
  };
  listeners: { name: string; protocol: string; url: string; connections: number; accepted: number; refused: number }[];
  process: { pid: number; rss: number; heapUsed: number; heapTotal: number; cpuSeconds: number };
}

/** One connected client in GET /api/clients. */
export interface ClientEntry {
  clientId: string;
  username: string | null;
  /** Protocol level: 3 (MQTT 3.1), 4 (3.1.1), 5 (5.0). */
  protocolVersion: number;
  remoteAddress: string | null;
  listener: string | null;
  /** Milliseconds since the epoch; null when the client connected before the admin server started. */
  connectedAt: number | null;
  subscriptions: number;
  /** Outbound QoS 1/2 messages awaiting acknowledgement. */
  inflight: number;
  /** Messages waiting in the session's queue. */
  queued: number;
}

/** GET /api/clients */
export interface ClientsResponse {
  /** Connected clients in all. */
  total: number;
  /** At most `limit` of them (?limit=, default 100), in the order they connected. */
  clients: ClientEntry[];
  truncated: boolean;
}

export const DEFAULT_CLIENT_LIMIT = 100;
export const MAX_CLIENT_LIMIT = 10_000;

/** What the admin server reads the broker through: its public fields only. */
export interface Snapshotter {
  stats(): StatsResponse;
  clients(limit: number): ClientsResponse;
  uptime(): number;
}

/**
 * Reads the broker's counters and connections for the API. `connectedAt` is kept by the admin server from the
 * broker's clientConnected events (the broker does not record the time itself).
 */
export function createSnapshotter(
  broker: Broker,
  listeners: readonly Listener[],
  startedAt: number,
  connectedAt: WeakMap<object, number>,
): Snapshotter {
  const uptime = (): number => Math.max(0, Math.floor((broker.clock.now() - startedAt) / 1000));
  return {
    uptime,
    stats(): StatsResponse {
      const s = broker.stats;
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      return {
        version: broker.config.version,
        uptime: uptime(),
        now: broker.clock.now(),
        stats: {
          clientsConnected: s.clientsConnected,
          messagesReceived: s.messagesReceived,
          messagesSent: s.messagesSent,
          bytesReceived: s.bytesReceived,
          bytesSent: s.bytesSent,
          droppedMessages: s.droppedMessages,
          subscriptions: s.subscriptions,
          retained: s.retained,
          sessions: s.sessions,
        },
        listeners: listeners.map((l) => ({
          name: l.name,
          protocol: l.protocol,
          url: l.url(),
          connections: l.stats.connections,
          accepted: l.stats.accepted,
          refused: l.stats.refused,
        })),
        process: {
          pid: process.pid,
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          heapTotal: memory.heapTotal,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
        },
      };
    },
    clients(limit: number): ClientsResponse {
      const clients: ClientEntry[] = [];
      let total = 0;
      for (const connection of broker.connections) {
        if (!connection.ready) continue;
        total++;
        if (clients.length >= limit) continue;
        const session = connection.session;
        clients.push({
          clientId: connection.clientId,
          username: connection.username ?? null,
          protocolVersion: connection.version,
          remoteAddress: connection.meta.remoteAddress ?? null,
          listener: connection.meta.listener ?? null,
          connectedAt: connectedAt.get(connection) ?? null,
          subscriptions: session?.subscriptions.size ?? 0,
          inflight: session?.inflight.size ?? 0,
          queued: session?.queueLength ?? 0,
        });
      }
      return { total, clients, truncated: total > clients.length };
    },
  };
}
