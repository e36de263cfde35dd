import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MqttError } from '../../protocol/errors.js';
import { ReasonCode } from '../../protocol/reason-codes.js';

// LMDB trusts its file: a damaged one crashes the process (SIGSEGV, SIGBUS) instead of returning an error.
// So before LMDB maps the file, Starling reads its two meta pages and checks what a crash, a truncation or a
// stray write would break. Damage inside B-tree pages is not detectable this way (LMDB has no page checksums).

const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
/** Page header (24 bytes), then MDB_meta: magic, version, address, mapsize, two MDB_db of 48 bytes, last page. */
const META_OFFSET = 24;
const PSIZE_OFFSET = META_OFFSET + 24;
const LAST_PAGE_OFFSET = META_OFFSET + 24 + 96;
const TXNID_OFFSET = LAST_PAGE_OFFSET + 8;

export interface DataFileInfo {
  pageSize: number;
  lastPage: number;
  txnId: number;
  /** The file ends before the last page of the newest meta page: truncated, or ending in freed pages. */
  short: boolean;
  size: number;
}

/** Throws a clear error when `path` (an existing data.mdb) is not an LMDB file or its meta pages are damaged. */
export function checkDataFile(path: string): DataFileInfo {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const damaged = (what: string): MqttError => damagedError(path, what);
    if (size < 2 * 512) throw damaged(`${size} bytes, shorter than its two meta pages`);
    const first = Buffer.alloc(512);
    readSync(fd, first, 0, 512, 0);
    const pageSize = first.readUInt32LE(PSIZE_OFFSET);
    if (first.readUInt32LE(META_OFFSET) !== MAGIC) throw damaged('no LMDB signature in its first page');
    if (first.readUInt32LE(META_OFFSET + 4) !== DATA_VERSION) {
      throw damaged(`LMDB file format ${first.readUInt32LE(META_OFFSET + 4)}, expected ${DATA_VERSION}`);
    }
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
      throw damaged(`page size ${pageSize}`);
    }
    if (size < 2 * pageSize) throw damaged(`${size} bytes, shorter than its two meta pages`);
    const second = Buffer.alloc(512);
    readSync(fd, second, 0, 512, pageSize);
    let lastPage = 0;
    let txnId = 0;
    for (const [index, page] of [first, second].entries()) {
      if (page.readUInt32LE(META_OFFSET) !== MAGIC || page.readUInt32LE(PSIZE_OFFSET) !== pageSize) {
        throw damaged(`meta page ${index} is invalid`);
      }
      const last = Number(page.readBigUInt64LE(LAST_PAGE_OFFSET));
      const txn = Number(page.readBigUInt64LE(TXNID_OFFSET));
      if (txn >= txnId) {
        txnId = txn;
        lastPage = last;
      }
    }
    // Pages up to the last one may be missing only when the last transaction freed them unwritten; a file that
    // ends before them is usually truncated. The caller then walks the file in a separate process.
    return { pageSize, lastPage, txnId, short: (lastPage + 1) * pageSize > size, size };
  } finally {
    closeSync(fd);
  }
}

export function damagedError(path: string, what: string, cause?: unknown): MqttError {
  return new MqttError(
    ReasonCode.UnspecifiedError,
    `the data file ${path} is damaged (${what}); Starling will not start on it and will not empty it: ` +
      'restore it from a backup, or move the data directory away to start with empty persistence',
    { cause },
  );
}

/**
 * Reads every page of the environment in `dir` in a child process, so that a damaged file kills the child
 * and not the broker. Returns undefined when the walk completed, else what went wrong.
 */
export function walkInChild(dir: string, timeoutMs = 120_000): string | undefined {
  const script = fileURLToPath(new URL('./walk.js', import.meta.url));
  const result = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', timeout: timeoutMs });
  if (result.status === 0) return undefined;
  if (result.signal) return `reading it killed a checking process with ${result.signal}`;
  return (result.stderr || result.stdout || `exit code ${result.status}`).trim().split('\n')[0];
}
