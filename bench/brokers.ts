// Side-by-side broker benchmark: Starling, Mosquitto and Aedes under the same load generator.
//
//   node dist/bench/brokers.js            full run (3 repeats, 10,000 idle connections; ~15 min)
//   node dist/bench/brokers.js --quick    smoke run (1 repeat, short windows, 1,000 connections; < 1 min)
//
// Options: --repeats N, --brokers starling,mosquitto,aedes, --scenarios id,id, --json FILE,
// --docs / --no-docs (write docs/performance.md; default on for full runs, off for --quick),
// --cpu-prof DIR (run the Node brokers with --cpu-prof, profiles written to DIR when they stop),
// --node-flags '--flag ...' (more Node/V8 flags for the Node brokers, e.g. to compare heap settings).
//
// Brokers run as child processes pinned to CPU 0, the generator (this process) to CPU 1. Brokers are
// interleaved (A B C A B C ...) within each scenario; the table shows medians and Starling's ratios.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConnectionSet } from '../src/bench/conn.js';
import { type LoadOptions, type LoadSummary, runLoad } from '../src/bench/load.js';
import type { QoS } from '../src/protocol/packets.js';
import {
  type BrokerName,
  cpuSeconds,
  hasTaskset,
  MOSQUITTO,
  openFilesLimit,
  type RunningBroker,
  rssBytes,
  startBroker,
  Unsupported,
} from './peers.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repeats: { type: 'string' },
    brokers: { type: 'string', default: 'starling,mosquitto,aedes' },
    scenarios: { type: 'string' },
    json: { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean', default: false },
    'no-relay': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'node-flags': { type: 'string' },
  },
  strict: true,
});
const quick = args.quick;
const repeats = Number(args.repeats ?? (quick ? 1 : 3));
const writeDocs = args['no-docs'] ? false : (args.docs ?? !quick);
const idleConnections = quick ? 1000 : 10_000;
/** Connections opened before the memory measurement starts (see runMemory). */
const warmConnections = quick ? 500 : 2000;
const timing = quick
  ? { warmupS: 0.3, durationS: 1, drainTimeoutS: 5 }
  : { warmupS: 1, durationS: 5, drainTimeoutS: 15 };
const PAYLOAD = 64;

// Pin: re-run this script under taskset on CPU 1 with enough file descriptors, once. The decision is
// made here, because inside the pinned process only one CPU is visible.
const cpus = os.cpus().length;
if (process.env.STARLING_BENCH_CHILD !== '1') {
  const need = idleConnections + warmConnections + 1000;
  const script = fileURLToPath(import.meta.url);
  const argv = [process.execPath, script, ...process.argv.slice(2)].map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  const pin = hasTaskset() && cpus >= 2;
  const shell = `ulimit -n ${need} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pin ? 'taskset -c 1 ' : ''}${argv.join(' ')}`;
  const result = spawnSync('/bin/sh', ['-c', shell], {
    stdio: 'inherit',
    env: { ...process.env, STARLING_BENCH_CHILD: '1', STARLING_BENCH_PINNED: pin ? '1' : '0' },
  });
  process.exit(result.status ?? 1);
}
const pinned = process.env.STARLING_BENCH_PINNED === '1';
const brokerCpu = pinned ? 0 : undefined;
const fdLimit = openFilesLimit();
if (fdLimit < idleConnections + warmConnections + 200) {
  process.stderr.write(
    `brokers: ${idleConnections} idle connections need at least ${idleConnections + 200} open files, but ulimit -n is ${fdLimit}` +
      ' and the hard limit does not allow more. Raise it (ulimit -Hn as root, or /etc/security/limits.conf) and retry.\n',
  );
  process.exit(2);
}

type Kind = 'throughput' | 'latency' | 'memory';
interface Scenario {
  id: string;
  title: string;
  kind: Kind;
  load?: Partial<LoadOptions> & { publishers: number; subscribers: number; qos: QoS };
  persistence?: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    id: 'fanin-q0',
    title: 'fan-in QoS 0, 10 pub → 1 sub on bench/#',
    kind: 'throughput',
    load: { publishers: 10, subscribers: 1, topic: 'bench/%i', filter: 'bench/#', qos: 0, endToEndWindow: 1000 },
  },
  {
    id: 'fanin-q1',
    title: 'fan-in QoS 1, 10 pub → 1 sub on bench/#',
    kind: 'throughput',
    load: { publishers: 10, subscribers: 1, topic: 'bench/%i', filter: 'bench/#', qos: 1, endToEndWindow: 1000 },
  },
  {
    id: 'fanout-q0',
    title: 'fan-out QoS 0, 1 pub → 100 sub',
    kind: 'throughput',
    load: { publishers: 1, subscribers: 100, topic: 'bench/fan', filter: 'bench/fan', qos: 0, endToEndWindow: 8000 },
  },
  {
    id: 'p2p-q1',
    title: 'point-to-point QoS 1, 10 pairs',
    kind: 'throughput',
    load: { publishers: 10, subscribers: 10, topic: 'bench/%i', filter: 'bench/%i', qos: 1, endToEndWindow: 1000 },
  },
  {
    id: 'p2p-q2',
    title: 'point-to-point QoS 2, 10 pairs',
    kind: 'throughput',
    load: { publishers: 10, subscribers: 10, topic: 'bench/%i', filter: 'bench/%i', qos: 2, endToEndWindow: 1000 },
  },
  {
    id: 'latency-q0',
    title: 'latency QoS 0 at 5,000 msg/s, 1 pub → 1 sub',
    kind: 'latency',
    load: { publishers: 1, subscribers: 1, topic: 'bench/lat', filter: 'bench/lat', qos: 0, rate: 5000 },
  },
  {
    id: 'latency-q1',
    title: 'latency QoS 1 at 5,000 msg/s, 1 pub → 1 sub',
    kind: 'latency',
    load: { publishers: 1, subscribers: 1, topic: 'bench/lat', filter: 'bench/lat', qos: 1, rate: 5000 },
  },
  { id: 'idle-mem', title: `memory per idle connection, persistence off`, kind: 'memory', persistence: false },
  { id: 'idle-mem-persist', title: `memory per idle connection, persistence on`, kind: 'memory', persistence: true },
];

interface Measurement {
  /**
   * The headline value(s): msg/s and msg per broker CPU-second; or latency p50/p99/max in ms; or bytes
   * per connection.
   */
  values: number[];
  brokerCpuPercent?: number;
  generatorCpuPercent?: number;
  losses: number;
  note?: string;
}

const brokers = args.brokers.split(',').map((b) => b.trim()) as BrokerName[];
const selected = args.scenarios ? SCENARIOS.filter((s) => args.scenarios!.split(',').includes(s.id)) : SCENARIOS;
const withRelay = !args['no-relay'];
const nodeFlags = [
  ...(args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : []),
  ...(args['node-flags'] ?? '').split(' ').filter(Boolean),
];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function runTraffic(s: Scenario, broker: RunningBroker): Promise<Measurement> {
  const l = s.load!;
  let cpuAtStart = 0;
  let cpuAtEnd = 0;
  let windowStarted = 0;
  let windowEnded = 0;
  const summary: LoadSummary = await runLoad({
    url: new URL(`mqtt://127.0.0.1:${broker.port}`),
    protocolVersion: 4,
    topic: 'bench/%i',
    filter: 'bench/#',
    subscribeQos: l.qos,
    payloadSize: PAYLOAD,
    count: s.kind === 'latency' ? 5000 * (timing.warmupS + timing.durationS + 1) : quick ? 200_000 : 2_000_000,
    window: 100,
    clientIdPrefix: `bench-${s.id}`,
    keepAlive: 60,
    ...timing,
    ...l,
    onWindow(edge) {
      if (edge === 'start') {
        cpuAtStart = cpuSeconds(broker.pid);
        windowStarted = performance.now();
      } else {
        cpuAtEnd = cpuSeconds(broker.pid);
        windowEnded = performance.now();
      }
    },
  });
  const brokerCpuPercent = Math.round(((cpuAtEnd - cpuAtStart) / ((windowEnded - windowStarted) / 1000)) * 100);
  const base = {
    brokerCpuPercent,
    generatorCpuPercent: summary.generatorCpuPercent,
    losses: l.qos > 0 ? summary.losses + summary.unacked : 0,
  };
  if (summary.connectFailures > 0 || summary.errors > 0) {
    return { ...base, values: [], note: `${summary.connectFailures} connect failures, ${summary.errors} errors` };
  }
  if (s.kind === 'latency') {
    const lat = summary.latencyMs;
    return { ...base, values: [lat.p50, lat.p99, lat.max] };
  }
  // Deliveries per CPU-second of the broker: less sensitive than msg/s to other load on the machine.
  const brokerCpuS = cpuAtEnd - cpuAtStart;
  const perCpu = brokerCpuS > 0 ? (summary.receivedPerSec * ((windowEnded - windowStarted) / 1000)) / brokerCpuS : 0;
  return { ...base, values: [summary.receivedPerSec, Math.round(perCpu)] };
}

/**
 * Memory per idle connection, as the marginal cost: RSS after `idleConnections` more connections minus RSS with a
 * first `warmConnections` open, divided by the number added. The first set pays what a process pays once whatever
 * its load (a Node broker's young generation growing to its working size, code compiled on first use); what is
 * left grows with every connection. Both RSS figures are reported too.
 */
async function runMemory(broker: RunningBroker): Promise<Measurement> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const settle = () => new Promise((resolve) => setTimeout(resolve, quick ? 500 : 2000));
  const start = rssBytes(broker.pid);
  const warm = new ConnectionSet();
  const set = new ConnectionSet();
  const options = {
    url: new URL(`mqtt://127.0.0.1:${broker.port}`),
    protocolVersion: 4 as const,
    parallel: 200,
    keepAlive: 600,
    connectTimeoutMs: 20_000,
  };
  try {
    await warm.open({ ...options, connections: warmConnections, clientIdPrefix: 'bench-warm' });
    await settle();
    const before = rssBytes(broker.pid);
    await set.open({ ...options, connections: idleConnections, clientIdPrefix: 'bench-idle' });
    await settle();
    const after = rssBytes(broker.pid);
    const connected = set.connected;
    if (warm.failures + set.failures > 0 || connected < idleConnections || warm.connected < warmConnections) {
      const failures = warm.failures + set.failures;
      return {
        values: [],
        losses: 0,
        note: `${failures} connect failures (${warm.firstError ?? set.firstError ?? ''})`,
      };
    }
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    return {
      values: [Math.round((after - before) / connected)],
      losses: 0,
      note: `RSS ${mb(start)} at start, ${mb(before)} with ${warmConnections}, ${mb(after)} with ${warmConnections + connected}`,
    };
  } finally {
    await set.close();
    await warm.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

type Results = Map<string, Map<BrokerName, Measurement[]>>;

async function main(): Promise<number> {
  const started = performance.now();
  const results: Results = new Map();
  const failures: string[] = [];
  const traffic = selected.filter((s) => s.kind !== 'memory');
  const memory = selected.filter((s) => s.kind === 'memory');
  const record = (s: Scenario, b: BrokerName, m: Measurement) => {
    const perBroker = results.get(s.id) ?? new Map<BrokerName, Measurement[]>();
    results.set(s.id, perBroker);
    perBroker.set(b, [...(perBroker.get(b) ?? []), m]);
    if (m.losses > 0) failures.push(`${s.id} on ${b}: ${m.losses} QoS 1/2 messages lost or unacknowledged`);
  };
  log(
    `brokers: ${quick ? 'quick' : 'full'} run, ${repeats} repeat(s), brokers ${brokers.join(', ')}, ` +
      (pinned ? 'brokers on CPU 0, generator on CPU 1' : 'NOT pinned (no taskset or one CPU)'),
  );

  // Traffic scenarios: all brokers stay up (idle ones cost nothing) so runs can interleave.
  if (traffic.length > 0) {
    const running = new Map<BrokerName, RunningBroker>();
    const names: BrokerName[] = withRelay ? [...brokers, 'relay'] : brokers;
    try {
      for (const b of names) {
        try {
          running.set(b, await startBroker(b, { persistence: false, cpu: brokerCpu, nodeFlags }));
        } catch (err) {
          if (!(err instanceof Unsupported)) throw err;
          log(`  ${b}: n/a (${err.message.split('\n')[0]})`);
        }
      }
      for (const s of traffic) {
        // A p99 moves with whatever else the machine does: latency gets more repeats than throughput.
        const rounds = s.kind === 'latency' && !quick && !args.repeats ? Math.max(repeats, 5) : repeats;
        for (let r = 0; r < rounds; r++) {
          for (const b of names) {
            const broker = running.get(b);
            if (!broker) continue;
            const m = await runTraffic(s, broker).catch(
              (err: Error): Measurement => ({ values: [], losses: 0, note: err.message }),
            );
            record(s, b, m);
            log(
              `  ${s.id} #${r + 1} ${b}: ${(s.kind === 'throughput' ? m.values.slice(0, 1) : m.values).join(' / ') || m.note} (broker CPU ${m.brokerCpuPercent ?? '-'}%, generator CPU ${m.generatorCpuPercent ?? '-'}%${m.losses ? `, LOSSES ${m.losses}` : ''})`,
            );
          }
        }
      }
    } finally {
      for (const b of running.values()) await b.stop();
    }
  }

  // Memory scenarios: a fresh broker for each measurement.
  for (const s of memory) {
    for (let r = 0; r < repeats; r++) {
      for (const b of brokers) {
        let broker: RunningBroker | undefined;
        try {
          broker = await startBroker(b, { persistence: s.persistence ?? false, cpu: brokerCpu, nodeFlags });
          const m = await runMemory(broker);
          record(s, b, m);
          log(`  ${s.id} #${r + 1} ${b}: ${m.values[0] ?? '-'} bytes/connection (${m.note ?? ''})`);
        } catch (err) {
          const note = err instanceof Unsupported ? 'n/a' : (err as Error).message.split('\n')[0]!;
          record(s, b, { values: [], losses: 0, note });
          log(`  ${s.id} #${r + 1} ${b}: ${note}`);
        } finally {
          await broker?.stop();
        }
      }
    }
  }

  const table = renderTable(results);
  const elapsed = Math.round((performance.now() - started) / 1000);
  process.stdout.write(`\n${table}\n`);
  if (failures.length > 0) process.stdout.write(`\nQoS 1/2 LOSSES:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  else process.stdout.write('\nQoS 1/2 losses: 0 in every run.\n');
  process.stdout.write(`(${elapsed} s)\n`);
  if (args.json)
    writeFileSync(
      args.json,
      `${JSON.stringify(Object.fromEntries([...results].map(([k, v]) => [k, Object.fromEntries(v)])), null, 2)}\n`,
    );
  if (writeDocs) updateDocs(table, failures, elapsed);
  return failures.length > 0 ? 1 : 0;
}

const fmt = (x: number, digits: number) => x.toLocaleString('en-US', { maximumFractionDigits: digits });

function cell(ms: Measurement[] | undefined, index: number): { text: string; value?: number } {
  const ok = (ms ?? []).filter((m) => m.values.length > index);
  if (ok.length === 0) return { text: ms?.find((m) => m.note)?.note === 'n/a' || !ms ? 'n/a' : 'failed' };
  const value = median(ok.map((m) => m.values[index]!));
  return { text: value >= 100 ? fmt(Math.round(value), 0) : fmt(value, 3), value };
}

function ratio(a?: number, b?: number): string {
  if (a === undefined || b === undefined || b === 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

function renderTable(results: Results): string {
  return `${renderMain(results)}\n\nThroughput per CPU-second of the broker (deliveries ÷ the broker's CPU time in the window):\n\n${renderPerCpu(results)}`;
}

function renderPerCpu(results: Results): string {
  const rows = ['| scenario | Starling | Mosquitto | Aedes | S/M | S/A |', '|---|---:|---:|---:|---:|---:|'];
  for (const s of selected) {
    const perBroker = results.get(s.id);
    if (!perBroker || s.kind !== 'throughput') continue;
    const st = cell(perBroker.get('starling'), 1);
    const mo = cell(perBroker.get('mosquitto'), 1);
    const ae = cell(perBroker.get('aedes'), 1);
    rows.push(
      `| ${s.title} (msg per CPU-s) | ${st.text} | ${mo.text} | ${ae.text} | ${ratio(st.value, mo.value)} | ${ratio(st.value, ae.value)} |`,
    );
  }
  return rows.join('\n');
}

function renderMain(results: Results): string {
  const head = `| scenario | Starling | Mosquitto | Aedes | S/M | S/A | ceiling¹ | CPU broker/generator² (S, M, A) |`;
  const rows = [head, '|---|---:|---:|---:|---:|---:|---:|---|'];
  for (const s of selected) {
    const perBroker = results.get(s.id);
    if (!perBroker) continue;
    const parts: Array<{ label: string; index: number }> =
      s.kind === 'latency'
        ? [
            { label: 'p50 ms', index: 0 },
            { label: 'p99 ms', index: 1 },
            { label: 'max ms', index: 2 },
          ]
        : [{ label: s.kind === 'memory' ? 'bytes/conn' : 'msg/s', index: 0 }];
    for (const { label, index } of parts) {
      const st = cell(perBroker.get('starling'), index);
      const mo = cell(perBroker.get('mosquitto'), index);
      const ae = cell(perBroker.get('aedes'), index);
      const relay = s.kind === 'throughput' ? cell(perBroker.get('relay'), index).text : '';
      const cpu = (['starling', 'mosquitto', 'aedes'] as BrokerName[])
        .map((b) => {
          const ms = (perBroker.get(b) ?? []).filter((m) => m.brokerCpuPercent !== undefined);
          if (ms.length === 0) return '–';
          return `${median(ms.map((m) => m.brokerCpuPercent!))}/${Math.round(median(ms.map((m) => m.generatorCpuPercent!)))}`;
        })
        .join(', ');
      rows.push(
        `| ${s.title} (${label}) | ${st.text} | ${mo.text} | ${ae.text} | ${ratio(st.value, mo.value)} | ${ratio(st.value, ae.value)} | ${relay} | ${s.kind === 'memory' ? '' : cpu} |`,
      );
    }
  }
  return rows.join('\n');
}

function versionOf(cmd: string, argv: string[], pattern: RegExp): string {
  const out = spawnSync(cmd, argv, { encoding: 'utf8' });
  return pattern.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

function updateDocs(table: string, failures: string[], elapsed: number): void {
  const docs = fileURLToPath(new URL('../../docs/performance.md', import.meta.url));
  const aedesPkg = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../node_modules/aedes/package.json', import.meta.url)), 'utf8'),
  ) as { version: string };
  const command = `node dist/bench/brokers.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const block = [
    '<!-- brokers:start (written by bench/brokers.ts) -->',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\` (${quick ? 'quick smoke run' : 'full run'}, ${repeats} repeat(s), medians, ${elapsed} s)`,
    `on ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} × ${cpus}, Linux ${os.release()}, Node ${process.version},`,
    `Mosquitto ${versionOf(MOSQUITTO, ['-h'], /mosquitto version (\S+)/)}, Aedes ${aedesPkg.version}; ${pinned ? 'broker pinned to CPU 0, generator to CPU 1' : 'not pinned'}.`,
    '',
    table,
    '',
    '¹ The generator against a trivial relay (bench/relay-server.ts: forwards raw PUBLISH bytes to every subscriber, no',
    'topic matching): what the generator itself can drive. ² Median CPU in the window, percent of one core, broker/generator.',
    `Memory per idle connection: RSS growth while ${idleConnections.toLocaleString('en-US')} idle MQTT 3.1.1 connections are added to a broker that`,
    `already holds ${warmConnections.toLocaleString('en-US')}, divided by ${idleConnections.toLocaleString('en-US')} (what a process pays once, e.g. a Node heap growing to its working size, is in the first set).`,
    '',
    failures.length > 0 ? `QoS 1/2 losses: ${failures.join('; ')}` : 'QoS 1/2 losses: 0 in every run.',
    '<!-- brokers:end -->',
  ].join('\n');
  let text = readFileSync(docs, 'utf8');
  const re = /<!-- brokers:start[\s\S]*?<!-- brokers:end -->/;
  text = re.test(text) ? text.replace(re, block) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(docs, text);
  log(`brokers: wrote the table into ${docs}`);
}

process.exitCode = await main();
