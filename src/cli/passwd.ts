import { access } from 'node:fs/promises';
import {
  formatPasswordFile,
  type PasswordEntries,
  parsePasswordFile,
  readPasswordFile,
  writePasswordFile,
} from '../auth/password-file.js';
import { hashPassword } from '../auth/password-hash.js';

export interface PasswdIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = `Usage: starling passwd [-c | -D] FILE USER
       starling passwd [-c] -b FILE USER PASSWORD

Manages a password file for the broker's password_file authentication.
  -b  take the password from the command line (it may be seen in the process list and shell history)
  -c  create the file, overwriting it if it exists
  -D  delete USER instead of adding it or changing its password
Without -b the password is read twice from the terminal, without echo, or as lines from standard input.
`;

/** `starling passwd [-c] [-b] [-D] FILE USER [PASSWORD]`, like mosquitto_passwd. Returns the exit code. */
export async function runPasswd(
  argv: string[],
  io: PasswdIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const flags = new Set<string>();
  const positional: string[] = [];
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (/^-[a-zA-Z]+$/.test(arg) && positional.length === 0) {
      for (const f of arg.slice(1)) flags.add(f);
    } else {
      positional.push(arg);
    }
  }
  const usage = (why: string): number => {
    io.stderr.write(`starling passwd: ${why}\n\n${USAGE}`);
    return 2;
  };
  for (const f of flags) if (!'bcD'.includes(f)) return usage(`unknown option -${f}`);
  const batch = flags.has('b');
  const create = flags.has('c');
  const del = flags.has('D');
  if (create && del) return usage('-c and -D cannot be combined');
  if (del && batch) return usage('-b and -D cannot be combined');
  if (positional.length !== (batch ? 3 : 2)) return usage(batch ? 'expected FILE USER PASSWORD' : 'expected FILE USER');
  const [file, user, batchPassword] = positional as [string, string, string | undefined];
  if (user === '' || user.includes(':') || hasControlCharacter(user)) {
    io.stderr.write('starling passwd: a username must be non-empty, without ":" or control characters\n');
    return 1;
  }

  let entries: PasswordEntries;
  try {
    if (create) {
      entries = new Map();
    } else {
      if (!(await exists(file))) {
        io.stderr.write(`starling passwd: ${file} does not exist; use -c to create it\n`);
        return 1;
      }
      entries = await readPasswordFile(file);
    }
  } catch (err) {
    io.stderr.write(`starling passwd: ${(err as Error).message}\n`);
    return 1;
  }

  if (del) {
    if (!entries.delete(user)) {
      io.stderr.write(`starling passwd: user ${user} not found in ${file}\n`);
      return 1;
    }
  } else {
    let password = batchPassword;
    if (password === undefined) {
      const read = await readPasswordTwice(io);
      if (typeof read !== 'string') {
        io.stderr.write(`starling passwd: ${read.error}\n`);
        return 1;
      }
      password = read;
    }
    if (password === '') {
      io.stderr.write('starling passwd: the password is empty\n');
      return 1;
    }
    entries.set(user, await hashPassword(password));
  }

  try {
    // Round-trip check: never write a file the broker would refuse to load.
    parsePasswordFile(formatPasswordFile(entries));
    await writePasswordFile(file, entries);
  } catch (err) {
    io.stderr.write(`starling passwd: ${(err as Error).message}\n`);
    return 1;
  }
  return 0;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads the password and its confirmation: from the terminal without echo, or the first lines of a pipe. */
async function readPasswordTwice(io: PasswdIo): Promise<string | { error: string }> {
  const tty = io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  const reader = new LineReader(io.stdin, tty);
  try {
    if (tty) io.stderr.write('Password: ');
    const first = await reader.next();
    if (tty) io.stderr.write('\nReenter password: ');
    if (first === undefined) return { error: 'no password given' };
    const second = await reader.next();
    if (tty) io.stderr.write('\n');
    // From a pipe a single line is enough; a second one, when present, must confirm the first.
    if (second === undefined && tty) return { error: 'no password given' };
    if (second !== undefined && second !== first) return { error: 'the passwords do not match' };
    return first;
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    reader.close();
  }
}

/** Reads lines from a stream; in terminal mode switches it to raw mode so typed characters are not echoed. */
class LineReader {
  readonly #stream: PasswdIo['stdin'];
  readonly #tty: boolean;
  #buffer = '';
  #ended = false;
  #failed: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #onData = (chunk: Buffer | string) => {
    this.#buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.#wake?.();
  };
  readonly #onEnd = () => {
    this.#ended = true;
    this.#wake?.();
  };
  readonly #onError = (err: Error) => {
    this.#failed = err;
    this.#wake?.();
  };

  constructor(stream: PasswdIo['stdin'], tty: boolean) {
    this.#stream = stream;
    this.#tty = tty;
    if (tty) stream.setRawMode!(true);
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.resume();
  }

  /** The next line without its terminator, or undefined at the end of input. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const line = this.#tty ? this.#takeTerminalLine() : this.#takeLine();
      if (line !== null) return line;
      if (this.#failed) throw this.#failed;
      if (this.#ended) {
        const rest = this.#buffer;
        this.#buffer = '';
        return rest === '' ? undefined : rest;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  close(): void {
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('error', this.#onError);
    if (this.#tty) this.#stream.setRawMode!(false);
    this.#stream.pause();
  }

  #takeLine(): string | null {
    const nl = this.#buffer.indexOf('\n');
    if (nl < 0) return null;
    const line = this.#buffer.slice(0, nl).replace(/\r$/, '');
    this.#buffer = this.#buffer.slice(nl + 1);
    return line;
  }

  /** In raw mode the terminal hands us keystrokes: handle Enter, Backspace, Ctrl-C and Ctrl-D ourselves. */
  #takeTerminalLine(): string | null {
    let line = '';
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer[i]!;
      if (ch === '\r' || ch === '\n') {
        this.#buffer = this.#buffer.slice(i + 1);
        return line;
      }
      if (ch === '\u0003') throw new Error('cancelled');
      if (ch === '\u0004') {
        this.#buffer = '';
        this.#ended = true;
        return null;
      }
      if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
      else line += ch;
    }
    return null;
  }
}
