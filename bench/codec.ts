// Codec benchmark: Starling's decoder and encoder against mqtt-packet (parser reused, generate) in the same run.
//
//   node dist/bench/run.js codec [--quick] [--filter TEXT]
//
// Decoding feeds a chunk of 64 back-to-back packets per push, as a busy socket delivers them; encoding makes one
// packet per call. Each case warms up, then runs alternating rounds of Starling and mqtt-packet for a fixed time
// each and keeps each side's best round (other processes on the machine only ever slow a round down).

import * as mqttPacket from 'mqtt-packet';
import { Decoder } from '../src/protocol/decoder.js';
import { encode } from '../src/protocol/encoder.js';
import type { Packet, ProtocolVersion } from '../src/protocol/packets.js';

export interface CodecBenchOptions {
  quick?: boolean;
  /** Only cases whose name contains this text. */
  filter?: string;
  /** Where the table goes (default: stdout). */
  out?: (line: string) => void;
}

export interface CodecBenchResult {
  name: string;
  starling: number;
  mqttPacket: number;
  /** starling / mqttPacket */
  ratio: number;
}

interface Sample {
  label: string;
  version: ProtocolVersion;
  ours: Packet;
  theirs: Record<string, unknown>;
}

const BATCH = 64;

function publish(size: number, qos: 0 | 1, v: ProtocolVersion, withProperties: boolean): Sample {
  const payload = Buffer.alloc(size, 0x61);
  const topic = 'sensors/building-7/floor-3/room-12/temperature';
  const ours: Packet = { type: 'publish', topic, payload, qos, retain: false, dup: false };
  const theirs: Record<string, unknown> = { cmd: 'publish', topic, payload, qos, retain: false, dup: false };
  if (qos > 0) {
    ours.packetId = 4242;
    theirs.messageId = 4242;
  }
  if (withProperties) {
    ours.properties = {
      payloadFormatIndicator: 1,
      messageExpiryInterval: 3600,
      contentType: 'application/json',
      userProperties: [['trace-id', '4bf92f3577b34da6a3ce929d0e0e4736']],
    };
    theirs.properties = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 3600,
      contentType: 'application/json',
      userProperties: { 'trace-id': '4bf92f3577b34da6a3ce929d0e0e4736' },
    };
  }
  const label = `PUBLISH ${size >= 1024 ? `${size / 1024} KB` : `${size} B`} QoS ${qos} ${v === 5 ? (withProperties ? 'v5 props' : 'v5') : 'v3.1.1'}`;
  return { label, version: v, ours, theirs };
}

function subscribe(v: ProtocolVersion): Sample {
  const filters = ['sensors/+/temperature', 'alerts/#', 'devices/abc123/commands'];
  return {
    label: `SUBSCRIBE 3 filters ${v === 5 ? 'v5' : 'v3.1.1'}`,
    version: v,
    ours: {
      type: 'subscribe',
      packetId: 7,
      subscriptions: filters.map((topicFilter, i) =>
        v === 5
          ? { topicFilter, qos: (i % 3) as 0 | 1 | 2, noLocal: false, retainAsPublished: i === 1, retainHandling: 0 }
          : { topicFilter, qos: (i % 3) as 0 | 1 | 2 },
      ),
    },
    theirs: {
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: filters.map((topic, i) =>
        v === 5 ? { topic, qos: i % 3, nl: false, rap: i === 1, rh: 0 } : { topic, qos: i % 3 },
      ),
    },
  };
}

function connect(v: ProtocolVersion): Sample {
  const will = { topic: 'clients/sensor-0042/status', payload: Buffer.from('offline'), qos: 1 as const, retain: true };
  const ours: Packet = {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion: v,
    clean: true,
    keepAlive: 60,
    clientId: 'sensor-0042',
    username: 'sensor',
    password: Buffer.from('s3cret-password'),
    will,
  };
  const theirs: Record<string, unknown> = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: v,
    clean: true,
    keepalive: 60,
    clientId: 'sensor-0042',
    username: 'sensor',
    password: Buffer.from('s3cret-password'),
    will: { ...will },
  };
  if (v === 5) {
    ours.properties = { sessionExpiryInterval: 300, receiveMaximum: 100, topicAliasMaximum: 10 };
    theirs.properties = { sessionExpiryInterval: 300, receiveMaximum: 100, topicAliasMaximum: 10 };
  }
  return { label: `CONNECT will+auth ${v === 5 ? 'v5' : 'v3.1.1'}`, version: v, ours, theirs };
}

function samples(): Sample[] {
  return [
    publish(64, 0, 4, false),
    publish(64, 1, 4, false),
    publish(1024, 0, 4, false),
    publish(1024, 1, 4, false),
    publish(64, 1, 5, false),
    publish(64, 1, 5, true),
    publish(1024, 1, 5, true),
    subscribe(4),
    subscribe(5),
    connect(4),
    connect(5),
  ];
}

/** Runs `step` (which does `opsPerStep` operations) repeatedly for `ms`, returning operations per second. */
function measure(step: () => void, opsPerStep: number, ms: number): number {
  const end = performance.now() + ms;
  let ops = 0;
  let now = performance.now();
  const start = now;
  // Check the clock every few steps: cheap, and at most a few ms past the deadline.
  while (now < end) {
    for (let i = 0; i < 16; i++) step();
    ops += 16 * opsPerStep;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/** Alternating rounds; each side's best. */
function compare(ours: () => void, theirs: () => void, opsPerStep: number, quick: boolean): [number, number] {
  const warmup = quick ? 50 : 150;
  const round = quick ? 100 : 300;
  const rounds = quick ? 1 : 3;
  measure(ours, opsPerStep, warmup);
  measure(theirs, opsPerStep, warmup);
  let best: [number, number] = [0, 0];
  for (let r = 0; r < rounds; r++) {
    best = [Math.max(best[0], measure(ours, opsPerStep, round)), Math.max(best[1], measure(theirs, opsPerStep, round))];
  }
  return best;
}

export async function runCodecBench(options: CodecBenchOptions = {}): Promise<CodecBenchResult[]> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const quick = options.quick ?? false;
  const results: CodecBenchResult[] = [];
  let sink = 0;

  for (const s of samples()) {
    const opts = { protocolVersion: s.version };
    const ourBytes = encode(s.ours, s.version);
    const theirBytes = mqttPacket.generate(s.theirs as unknown as mqttPacket.Packet, opts);
    if (!ourBytes.equals(theirBytes) && s.version < 5) {
      throw new Error(`${s.label}: the two encoders disagree; fix the sample before comparing speed`);
    }
    const isConnect = s.ours.type === 'connect';
    // A CONNECT chunk holds one packet: a connection has only one.
    const perChunk = isConnect ? 1 : BATCH;
    const chunk = Buffer.concat(Array.from({ length: perChunk }, () => ourBytes));

    if (!options.filter || `decode ${s.label}`.includes(options.filter)) {
      let count = 0;
      const onPacket = (p: Packet) => {
        count++;
        if (p.type === 'publish') sink += p.payload.length;
      };
      let decoder = new Decoder(onPacket, { protocolVersion: s.version });
      const parser = mqttPacket.parser(opts);
      parser.on('packet', (p) => {
        count++;
        if (p.cmd === 'publish') sink += (p as mqttPacket.IPublishPacket).payload.length;
      });
      parser.on('error', (err) => {
        throw err;
      });
      const [a, b] = compare(
        isConnect
          ? () => {
              // A decoder takes one CONNECT; a new connection makes a new decoder.
              decoder = new Decoder(onPacket);
              decoder.push(chunk);
            }
          : () => decoder.push(chunk),
        isConnect
          ? () => {
              const p = mqttPacket.parser(opts);
              p.on('packet', () => count++);
              p.parse(chunk);
            }
          : () => parser.parse(chunk),
        perChunk,
        quick,
      );
      if (count === 0) throw new Error(`${s.label}: nothing was decoded`);
      results.push({ name: `decode ${s.label}`, starling: a, mqttPacket: b, ratio: a / b });
    }

    if (!options.filter || `encode ${s.label}`.includes(options.filter)) {
      const theirPacket = s.theirs as unknown as mqttPacket.Packet;
      const [a, b] = compare(
        () => {
          sink += encode(s.ours, s.version).length;
        },
        () => {
          sink += mqttPacket.generate(theirPacket, opts).length;
        },
        1,
        quick,
      );
      results.push({ name: `encode ${s.label}`, starling: a, mqttPacket: b, ratio: a / b });
    }
  }

  printTable(results, out);
  if (sink === 42) out(''); // keeps the work observable
  return results;
}

function formatOps(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} k/s`;
  return `${n.toFixed(0)} /s`;
}

function printTable(results: CodecBenchResult[], out: (line: string) => void): void {
  const header = ['case', 'Starling', 'mqtt-packet', 'Starling/mqtt-packet'];
  const rows = results.map((r) => [r.name, formatOps(r.starling), formatOps(r.mqttPacket), `${r.ratio.toFixed(2)}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  out(line(header));
  out(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) out(line(r));
}
