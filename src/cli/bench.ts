import { parseArgs } from 'node:util';
import { type ConnSummary, runConnections } from '../bench/conn.js';
import { parseBrokerUrl } from '../bench/link.js';
import { type LoadSummary, type ProgressSample, runLoad } from '../bench/load.js';
import type { ProtocolVersion, QoS } from '../protocol/packets.js';

const USAGE = `Usage: starling bench <pub|sub|pubsub|conn> [options]

  pub      publishers only: messages/s accepted by the broker
  sub      subscribers only: messages/s, latency and sequence gaps of what \`starling bench pub\` sends
  pubsub   publishers and subscribers in one process: throughput, latency and exact QoS 1/2 losses
  conn     open N connections at a rate, hold them, report connect latency and failures

Options:
  -h, --host HOST          broker host (default 127.0.0.1)
  -p, --port PORT          broker port (default 1883, 8883 for mqtts)
  -L, --url URL            mqtt://, mqtts://, ws:// or wss:// URL (instead of -h/-p)
  -c, --clients N          publishers (pub, pubsub), subscribers (sub) or connections (conn)
      --subscribers N      subscribers in pubsub (default 1)
  -t, --topic TOPIC        topic; %i is the client number (default bench/%i; sub: bench/#)
      --filter FILTER      pubsub: the subscribers' filter; %i is the subscriber number (default bench/#)
  -q, --qos 0|1|2          publish QoS, and subscribe QoS unless --subscribe-qos (default 0)
      --subscribe-qos Q    pubsub/sub: QoS of the subscriptions
  -s, --size BYTES         payload size, at least 20 (default 64)
  -I, --interval MS        milliseconds between messages per publisher
      --rate N             total messages/s over all publishers (conn: connections/s)
  -n, --count N            most messages per publisher (default: until --duration ends)
      --window N           most QoS 1/2 messages in flight per publisher (default 100)
      --e2e-window N       pubsub: most messages per publisher not yet received by every subscriber
  -V, --protocol 5|311|31  MQTT version (default 5)
      --duration SECONDS   measurement window, or how long conn holds (default 10)
      --warmup SECONDS     traffic before measuring starts (default 0)
  -u, --username USER      -P, --password PASS
      --keepalive SECONDS  keep alive (default 60)
      --insecure           TLS: do not verify the server certificate
      --cafile FILE        TLS: trust this CA (PEM)
      --json               print the summary as JSON on stdout
      --help               this text

A progress line goes to stderr each second. Every message carries its send time, publisher and
sequence number, so latency and losses need no clock or state shared with the publisher.
Exit status: 0 when all went well, 1 on QoS 1/2 losses or failed connections, 2 on bad usage.`;

export interface BenchIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const OPTIONS = {
  host: { type: 'string', short: 'h', default: '127.0.0.1' },
  port: { type: 'string', short: 'p' },
  url: { type: 'string', short: 'L' },
  clients: { type: 'string', short: 'c' },
  subscribers: { type: 'string' },
  topic: { type: 'string', short: 't' },
  filter: { type: 'string' },
  qos: { type: 'string', short: 'q', default: '0' },
  'subscribe-qos': { type: 'string' },
  size: { type: 'string', short: 's', default: '64' },
  interval: { type: 'string', short: 'I' },
  rate: { type: 'string' },
  count: { type: 'string', short: 'n' },
  window: { type: 'string', default: '100' },
  'e2e-window': { type: 'string' },
  protocol: { type: 'string', short: 'V', default: '5' },
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '0' },
  username: { type: 'string', short: 'u' },
  password: { type: 'string', short: 'P' },
  keepalive: { type: 'string', default: '60' },
  insecure: { type: 'boolean', default: false },
  cafile: { type: 'string' },
  json: { type: 'boolean', default: false },
  'id-prefix': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

class UsageError extends Error {}

function int(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

function num(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number of at least ${min}`);
  return n;
}

function protocolOf(text: string): ProtocolVersion {
  switch (text) {
    case '5':
      return 5;
    case '311':
    case '4':
      return 4;
    case '31':
    case '3':
      return 3;
    default:
      throw new UsageError('-V must be 5, 311 or 31');
  }
}

/** `starling bench pub|sub|pubsub|conn`; resolves with the exit status. */
export async function runBench(argv: string[], io: BenchIo = process): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.stderr.write(`starling bench: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const v = parsed.values;
  const mode = parsed.positionals[0];
  if (v.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (mode !== 'pub' && mode !== 'sub' && mode !== 'pubsub' && mode !== 'conn') {
    io.stderr.write(`starling bench: choose pub, sub, pubsub or conn\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const protocolVersion = protocolOf(v.protocol);
    let url: URL;
    if (v.url) {
      url = parseBrokerUrl(v.url);
    } else {
      url = parseBrokerUrl(
        `mqtt://${v.host.includes(':') ? `[${v.host}]` : v.host}:${int('port', v.port, 1883, 1, 65535)}`,
      );
    }
    const link = { url, insecure: v.insecure, caFile: v.cafile, connectTimeoutMs: 10_000 };
    const durationS = num('duration', v.duration, 10, 0.1);
    const keepAlive = int('keepalive', v.keepalive, 60, 0, 65535);
    const idPrefix = v['id-prefix'] ?? `starling-bench-${process.pid}`;
    const progress = progressWriter(io);

    if (mode === 'conn') {
      const summary = await runConnections(
        {
          ...link,
          protocolVersion,
          connections: int('clients', v.clients, 100, 1),
          rate: v.rate === undefined ? undefined : num('rate', v.rate, 0, 0.001),
          clientIdPrefix: idPrefix,
          keepAlive,
          username: v.username,
          password: v.password,
          onProgress: (s) =>
            progress(`[${s.elapsedS.toFixed(0)}s] connections ${s.connections}  failures ${s.failures}`),
        },
        durationS,
      );
      progress.end();
      io.stdout.write(v.json ? `${JSON.stringify({ mode, ...summary })}\n` : formatConn(summary));
      return summary.failures > 0 || summary.dropped > 0 ? 1 : 0;
    }

    const clients = int('clients', v.clients, mode === 'pubsub' ? 10 : 1, 1);
    const publishers = mode === 'sub' ? 0 : clients;
    const subscribers = mode === 'pub' ? 0 : mode === 'sub' ? clients : int('subscribers', v.subscribers, 1, 0);
    const qos = int('qos', v.qos, 0, 0, 2) as QoS;
    const subscribeQos = int('subscribe-qos', v['subscribe-qos'], qos, 0, 2) as QoS;
    let rate: number | undefined;
    if (v.rate !== undefined) rate = num('rate', v.rate, 0, 0.001);
    if (v.interval !== undefined) {
      if (rate !== undefined) throw new UsageError('use -I or --rate, not both');
      rate = (1000 / num('interval', v.interval, 0, 0.001)) * Math.max(publishers, 1);
    }
    const summary = await runLoad({
      ...link,
      protocolVersion,
      publishers,
      subscribers,
      topic: v.topic && mode !== 'sub' ? v.topic : 'bench/%i',
      filter: mode === 'sub' ? (v.topic ?? 'bench/#') : (v.filter ?? 'bench/#'),
      qos,
      subscribeQos,
      payloadSize: int('size', v.size, 64, 20, 268_435_000),
      count: v.count === undefined ? Number.POSITIVE_INFINITY : int('count', v.count, 0, 1),
      rate,
      warmupS: num('warmup', v.warmup, 0, 0),
      durationS,
      window: int('window', v.window, 100, 1, 65535),
      endToEndWindow: v['e2e-window'] === undefined ? undefined : int('e2e-window', v['e2e-window'], 0, 1),
      drainTimeoutS: 10,
      clientIdPrefix: idPrefix,
      keepAlive,
      username: v.username,
      password: v.password,
      onProgress: (s: ProgressSample) =>
        progress(
          `[${s.elapsedS.toFixed(0)}s] sent ${s.sentPerSec}/s  received ${s.receivedPerSec}/s  connections ${s.connections}  errors ${s.errors}`,
        ),
    });
    progress.end();
    io.stdout.write(v.json ? `${JSON.stringify({ mode, ...summary })}\n` : formatLoad(mode, summary));
    return summary.losses > 0 || summary.connectFailures > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`starling bench: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`starling bench: ${(err as Error).message}\n`);
    return 1;
  }
}

/** One progress line a second: rewritten in place on a terminal, one line each otherwise. */
function progressWriter(io: BenchIo): ((line: string) => void) & { end(): void } {
  let drawn = false;
  const write = (line: string) => {
    if (io.stderr.isTTY) {
      io.stderr.write(`\r\x1b[K${line}`);
      drawn = true;
    } else {
      io.stderr.write(`${line}\n`);
    }
  };
  return Object.assign(write, {
    end() {
      if (drawn) io.stderr.write('\n');
    },
  });
}

const n = (x: number) => x.toLocaleString('en-US');

function formatLoad(mode: string, s: LoadSummary): string {
  const version = s.protocolVersion === 5 ? '5' : s.protocolVersion === 4 ? '3.1.1' : '3.1';
  const l = s.latencyMs;
  const lines = [
    `starling bench ${mode}: ${s.publishers} publishers, ${s.subscribers} subscribers, QoS ${s.qos}/${s.subscribeQos}, ${s.payloadSize} B payload, ${s.url} (MQTT ${version})`,
    `window      ${s.windowS.toFixed(2)} s`,
  ];
  if (s.publishers > 0) {
    lines.push(
      `sent        ${n(s.sentPerSec)} msg/s   (${n(s.sent)} in all, ${n(s.acked)} acknowledged, ${n(s.rejected)} refused)`,
    );
  }
  if (s.subscribers > 0) {
    lines.push(
      `received    ${n(s.receivedPerSec)} msg/s   (${n(s.received)} in all${s.publishers > 0 ? `, ${n(s.expected)} expected` : ''})`,
      `latency     p50 ${l.p50} ms   p90 ${l.p90} ms   p99 ${l.p99} ms   max ${l.max} ms   (${n(l.count)} samples)`,
      `losses      ${s.losses}${s.qos > 0 ? ' (QoS 1/2: must be 0)' : ''}   QoS 0 dropped ${s.dropped}   duplicates ${s.duplicates}   stray ${s.stray}`,
    );
  }
  lines.push(
    `connections failures ${s.connectFailures}   reconnects ${s.reconnects}   errors ${s.errors}   unacked ${s.unacked}`,
    `generator   ${s.generatorCpuPercent}% of one core`,
    '',
  );
  return lines.join('\n');
}

function formatConn(s: ConnSummary): string {
  const l = s.connectLatencyMs;
  return [
    `starling bench conn: ${s.requested} connections to ${s.url}`,
    `connected   ${s.connected} in ${s.openS} s, held ${s.heldS} s`,
    `failures    ${s.failures}   dropped while held ${s.dropped}${s.firstError ? `   first error: ${s.firstError}` : ''}`,
    `connect     p50 ${l.p50} ms   p90 ${l.p90} ms   p99 ${l.p99} ms   max ${l.max} ms`,
    '',
  ].join('\n');
}
