import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { MqttError } from '../../protocol/errors.js';
import { ReasonCode } from '../../protocol/reason-codes.js';

/**
 * An exclusive claim on a data directory: a lock file created with O_EXCL that holds the owner's PID and
 * process start time. LMDB itself lets several processes share an environment, which for a broker means two
 * brokers interleaving one session's queue; the lock file forbids that. A lock left by a process that died
 * (kill -9, power loss) is stale and taken over: its PID is gone, or now belongs to a process started later.
 */
export class DirectoryLock {
  readonly path: string;
  #held = false;
  readonly #content: string;

  constructor(path: string) {
    this.path = path;
    this.#content = `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`;
  }

  acquire(): void {
    if (this.#held) return;
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(this.path, 'wx', 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new MqttError(ReasonCode.UnspecifiedError, `cannot create the lock file ${this.path}`, {
            cause: error,
          });
        }
        const owner = readOwner(this.path);
        if (owner && isAlive(owner.pid, owner.startTime)) {
          throw new MqttError(
            ReasonCode.UnspecifiedError,
            `the data directory is in use by process ${owner.pid} (lock file ${this.path}); ` +
              'two brokers cannot share one data directory',
          );
        }
        // Stale: its owner is gone. Another starter may remove it at the same time; O_EXCL decides who wins.
        try {
          unlinkSync(this.path);
        } catch (unlinkError) {
          if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw new MqttError(ReasonCode.UnspecifiedError, `cannot remove the stale lock file ${this.path}`, {
              cause: unlinkError,
            });
          }
        }
        continue;
      }
      try {
        writeSync(fd, this.#content);
      } finally {
        closeSync(fd);
      }
      this.#held = true;
      return;
    }
    throw new MqttError(
      ReasonCode.UnspecifiedError,
      `cannot take the lock file ${this.path}: another process races for it`,
    );
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      // Only our own lock: never remove one another process took over.
      if (readFileSync(this.path, 'utf8') === this.#content) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}

function readOwner(path: string): { pid: number; startTime: string | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, startTime] = text.split('\n');
  const pid = Number(pidText);
  // A half-written lock (its writer died between create and write) has no owner.
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: startTime || undefined };
}

function isAlive(pid: number, startTime: string | undefined): boolean {
  if (pid === process.pid) return startTime === undefined || startTime === processStartTime(pid);
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The PID exists; it is the owner unless it is a newer process that reused the number.
  if (startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

/** Start time of a process in clock ticks since boot (Linux), or undefined where /proc is not available. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}
