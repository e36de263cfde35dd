// Starts Debian's Mosquitto broker on a free loopback port, for interoperability tests.
//
//   const mosquitto = await startMosquitto({ persistence: true });
//   ... connect to 127.0.0.1:mosquitto.port ...
//   await mosquitto.restart();   // same port, same config, same persistence file
//   await mosquitto.stop();      // also removes the temp dir

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';

/** Why Mosquitto tests cannot run here, or undefined when they can; pass to `test(..., { skip })`. */
export const mosquittoSkipReason: string | undefined = existsSync(MOSQUITTO_PATH)
  ? undefined
  : `${MOSQUITTO_PATH} is not installed (apt-get install mosquitto) - skipping Mosquitto interop tests`;

export interface MosquittoOptions {
  /** Keep sessions and retained messages in a file in the temp dir across restart() (default false). */
  persistence?: boolean;
  /** More mosquitto.conf lines, e.g. ['max_inflight_messages 5']. */
  config?: string[];
}

export interface MosquittoInstance {
  port: number;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoInstance> {
  if (mosquittoSkipReason) throw new Error(mosquittoSkipReason);
  const dir = await mkdtemp(join(tmpdir(), 'starling-mosquitto-'));
  const port = await freePort();
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `user ${userInfo().username}`];
  if (options.persistence) {
    lines.push('persistence true', `persistence_location ${dir}/`, 'persistence_file mosquitto.db');
  } else {
    lines.push('persistence false');
  }
  lines.push(...(options.config ?? []));
  const configPath = join(dir, 'mosquitto.conf');
  await writeFile(configPath, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let output = '';

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(MOSQUITTO_PATH, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // Up to 5 s for the listener to come up (usually a few ms).
    for (let attempt = 0; attempt < 100; attempt++) {
      if (proc.exitCode !== null) break;
      if (await canConnect(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`mosquitto did not start on port ${port}:\n${output}`);
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    port,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
  };
}
