// Run as a child process by checkDataFile's caller: reads every key and value of every database in the
// environment given as argument, so that LMDB touches every page in use. Exit 0 = readable.
import { open } from 'lmdb';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: walk.js <data directory>\n');
  process.exit(2);
}
const env = open({ path: dir, maxDbs: 32, encoding: 'binary', readOnly: true });
let entries = 0;
let bytes = 0;
const names: string[] = [];
for (const key of env.getKeys({})) if (typeof key === 'string') names.push(key);
for (const name of names) {
  const db = env.openDB(name, { encoding: 'binary', keyEncoding: 'binary' });
  for (const { value } of db.getRange({})) {
    entries++;
    bytes += value.length;
  }
}
await env.close();
process.stdout.write(`${names.length} databases, ${entries} entries, ${bytes} bytes\n`);
