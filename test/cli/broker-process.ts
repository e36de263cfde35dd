import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/cli/main.js, the file `npm start` and the `starling` bin run. */
export const mainScript = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface BrokerProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout, waiting up to timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name), after at most timeoutMs (then SIGKILL). */
  exited(timeoutMs?: number): Promise<number | string>;
  /** Kills the process if it still runs (for cleanup in finally blocks). */
  kill(): Promise<void>;
}

/**
 * Runs `node dist/src/cli/main.js ...args` with STARLING_* variables cleared, in a working directory of its own,
 * so that the default data directory (./data, persistence on) is private to this process and removed after it.
 */
export function runStarling(args: string[], env: Record<string, string> = {}): BrokerProcess {
  const cleanEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('STARLING_')) cleanEnv[key] = value;
  const cwd = mkdtempSync(join(tmpdir(), 'starling-cli-'));
  const child = spawn(process.execPath, [mainScript, ...args], {
    cwd,
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('exit', () => rmSync(cwd, { recursive: true, force: true }));
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const check of waiters) check();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exit = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const check of waiters) check();
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const check = () => {
          const match = out.match(pattern);
          if (match) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(match);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`process exited waiting for ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async exited(timeoutMs = 10_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Starts `starling broker --port 0 ...` and waits for the default listener's address. */
export async function startBrokerProcess(args: string[] = [], env: Record<string, string> = {}) {
  const broker = runStarling(['broker', '--port', '0', ...args], env);
  try {
    const [, host, port] = await broker.waitFor(/listening on mqtts?:\/\/([^:\s]+):(\d+)/);
    return { broker, host: host!, port: Number(port) };
  } catch (error) {
    await broker.kill();
    throw error;
  }
}
