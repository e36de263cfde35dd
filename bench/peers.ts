// Starting and stopping the brokers under test as child processes pinned to one CPU, and reading
// their CPU time and memory from /proc.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BrokerName = 'starling' | 'mosquitto' | 'aedes' | 'relay';

export const MOSQUITTO = '/usr/sbin/mosquitto';
const here = fileURLToPath(new URL('.', import.meta.url));

export interface RunningBroker {
  name: BrokerName;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Brokers still running: killed if this process exits early (an error, Ctrl-C), never left behind. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => process.exit(130));
}

/** Thrown when a broker cannot run in this configuration (e.g. no durable store); shown as n/a. */
export class Unsupported extends Error {}

/** A free loopback port: bind port 0, read it, release it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

function command(
  name: BrokerName,
  port: number,
  persistence: boolean,
  dir: string,
  nodeFlags: string[],
): [string, string[]] {
  const node = process.execPath;
  switch (name) {
    case 'mosquitto': {
      const conf = join(dir, 'mosquitto.conf');
      writeFileSync(
        conf,
        [
          `listener ${port} 127.0.0.1`,
          'allow_anonymous true',
          // Deep queues and a wide in-flight window so that Mosquitto never drops QoS 1/2 in a run.
          'max_queued_messages 1000000',
          'max_queued_bytes 0',
          'max_inflight_messages 1000',
          'set_tcp_nodelay true',
          `persistence ${persistence}`,
          `persistence_location ${dir}/`,
          'autosave_interval 1800',
          'log_type error',
          'log_dest stderr',
          '',
        ].join('\n'),
      );
      return [MOSQUITTO, ['-c', conf]];
    }
    case 'aedes':
      if (persistence) throw new Unsupported('aedes: no durable persistence package installed');
      return [node, [...nodeFlags, join(here, 'aedes-server.js'), String(port)]];
    case 'relay':
      if (persistence) throw new Unsupported('relay: no persistence');
      return [node, [join(here, 'relay-server.js'), String(port)]];
    case 'starling':
      return [
        node,
        [
          ...nodeFlags,
          join(here, 'starling-server.js'),
          String(port),
          ...(persistence ? ['--persistence', join(dir, 'data')] : []),
        ],
      ];
  }
}

/** Resolves when something accepts TCP connections on the port; bounded by `timeoutMs`. */
async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with status ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not listening on port ${port} after ${timeoutMs} ms`);
}

/** Starts a broker on a free port, pinned to `cpu` when taskset is available. */
export async function startBroker(
  name: BrokerName,
  options: { persistence: boolean; cpu?: number; nodeFlags?: string[] },
): Promise<RunningBroker> {
  if (name === 'mosquitto' && !existsSync(MOSQUITTO)) throw new Unsupported(`mosquitto: ${MOSQUITTO} not found`);
  const dir = mkdtempSync(join(tmpdir(), `starling-bench-${name}-`));
  dirs.add(dir);
  const port = await freePort();
  let cmd: string;
  let args: string[];
  try {
    [cmd, args] = command(name, port, options.persistence, dir, options.nodeFlags ?? []);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  if (options.cpu !== undefined) {
    args = ['-c', String(options.cpu), cmd, ...args];
    cmd = 'taskset';
  }
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, child, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    if (child.exitCode === 3) throw new Unsupported(`${name}: ${stderr.trim()}`);
    throw new Error(`${name} did not start: ${(err as Error).message}\n${stderr.trim()}`);
  }
  return {
    name,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat (USER_HZ = 100 on Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may contain spaces, start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set size in bytes, from /proc/PID/status VmRSS. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** The soft limit on open files of this process, from /proc/self/limits. */
export function openFilesLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /Max open files\s+(\d+|unlimited)/.exec(limits);
  return !m || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}
