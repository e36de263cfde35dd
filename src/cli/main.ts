#!/usr/bin/env node
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const args = process.argv.slice(2);
if (args[0] === '--version' || args[0] === '-v') {
  console.log(pkg.version);
} else {
  console.log(`starling ${pkg.version}\n\nUsage: starling <broker|pub|sub|bench|passwd> [options]`);
}
