import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import type { Session } from '../broker/session.js';
import type { Listener } from '../transport/types.js';

/**
 * A Prometheus registry of its own (never prom-client's global one, so that several brokers in one process and
 * the embedding application's own metrics do not collide). Every value is read from broker.stats when scraped:
 * the hot path only increments plain integers and never touches a metric object.
 */
export function createMetricsRegistry(broker: Broker, listeners: readonly Listener[] = []): Registry {
  const registry = new Registry();
  const stats = broker.stats;

  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  // A counter set from a counter the broker keeps: reset, then raised to the broker's value.
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(Math.max(0, read()));
      },
    });
  };

  gauge('starling_clients_connected', 'MQTT clients connected now.', () => stats.clientsConnected);
  counter('starling_messages_received_total', 'PUBLISH packets received from clients.', () => stats.messagesReceived);
  counter('starling_messages_sent_total', 'PUBLISH packets sent to clients.', () => stats.messagesSent);
  counter('starling_bytes_received_total', 'Bytes received from clients.', () => stats.bytesReceived);
  counter('starling_bytes_sent_total', 'Bytes sent to clients.', () => stats.bytesSent);
  gauge('starling_subscriptions', 'Subscriptions, of connected and offline sessions.', () => stats.subscriptions);
  gauge('starling_retained_messages', 'Retained messages held.', () => stats.retained);
  gauge('starling_sessions', 'Sessions, connected or not.', () => stats.sessions);
  counter(
    'starling_messages_dropped_total',
    'Messages dropped: session queue full, expired, too large for the client, or QoS 0 under backpressure.',
    () => stats.droppedMessages,
  );
  // Refusals and throttling by the broker's limits (options.ts), one counter each.
  counter(
    'starling_connects_refused_total',
    'CONNECTs refused by a limit (sessions, client id length).',
    () => stats.connectsRefused,
  );
  counter(
    'starling_subscriptions_refused_total',
    'Subscriptions refused by a limit.',
    () => stats.subscriptionsRefused,
  );
  counter(
    'starling_publishes_refused_total',
    'PUBLISH packets refused by a topic limit.',
    () => stats.publishesRefused,
  );
  counter(
    'starling_retained_refused_total',
    'Retained messages not kept: retained store full.',
    () => stats.retainedRefused,
  );
  counter(
    'starling_input_throttled_total',
    'Times a client was paused by the message or byte rate limit.',
    () => stats.inputThrottled,
  );
  counter(
    'starling_input_blocked_total',
    'Times a client was paused because it did not read its socket.',
    () => stats.inputBlocked,
  );
  // Backlog across sessions: a pass over the sessions per scrape, none per message.
  const sum = (read: (session: Session) => number) => (): number => {
    let total = 0;
    for (const session of broker.sessions.values()) total += read(session);
    return total;
  };
  gauge(
    'starling_inflight_messages',
    'Outbound QoS 1/2 messages sent and awaiting acknowledgement, all sessions.',
    sum((session) => session.inflight.size),
  );
  gauge(
    'starling_queued_messages',
    'Messages waiting in session queues held in memory (offline sessions, full in-flight windows).',
    sum((session) => session.queueLength),
  );
  gauge(
    'starling_queued_bytes',
    'Bytes of the messages in starling_queued_messages.',
    sum((session) => session.queuedBytes),
  );
  new Gauge({
    name: 'starling_info',
    help: 'Always 1; the label carries the Starling version.',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version: broker.config.version }, 1);

  if (listeners.length > 0) {
    const labelNames = ['listener', 'protocol'] as const;
    new Gauge({
      name: 'starling_listener_connections',
      help: 'Network connections open on a listener now.',
      labelNames,
      registers: [registry],
      collect() {
        for (const l of listeners) this.set({ listener: l.name, protocol: l.protocol }, l.stats.connections);
      },
    });
    new Counter({
      name: 'starling_listener_connections_accepted_total',
      help: 'Network connections accepted by a listener.',
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const l of listeners) this.inc({ listener: l.name, protocol: l.protocol }, l.stats.accepted);
      },
    });
    new Counter({
      name: 'starling_listener_connections_refused_total',
      help: "Network connections closed at once because the listener's maxConnections was reached.",
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const l of listeners) this.inc({ listener: l.name, protocol: l.protocol }, l.stats.refused);
      },
    });
  }

  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds, nodejs_heap_*, ...
  collectDefaultMetrics({ register: registry });
  return registry;
}
