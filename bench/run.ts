// Runs Starling's benchmarks by name: `node dist/bench/run.js [suite...] [--quick] [--filter TEXT]`.
// Without a suite name, all of them run. `npm run bench` builds first and then runs this.
//
//   codec     decoder and encoder against mqtt-packet (bench/codec.ts), in this process
//   topics    TopicTree against qlobber, Aedes' matcher (bench/topics.ts), in this process
//   persistence  QoS 1 throughput with persistence on and off, restart time (bench/persistence.ts), a child process
//   brokers   Starling against Mosquitto and Aedes (bench/brokers.ts), as a child process; extra
//             arguments after `--` go to it, e.g. `node dist/bench/run.js brokers -- --repeats 5`

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCodecBench } from './codec.js';
import { runTopicsBench } from './topics.js';

interface Suite {
  description: string;
  run(options: { quick: boolean; filter?: string; rest: string[] }): Promise<number>;
}

const here = fileURLToPath(new URL('.', import.meta.url));

/** A suite that runs as a child process (it may re-run itself pinned to a CPU). */
function childSuite(description: string, file: string): Suite {
  return {
    description,
    async run({ quick, rest }) {
      const script = `${here}${file}`;
      if (!existsSync(script)) {
        console.error(`${file}: ${script} is not built`);
        return 1;
      }
      const child = spawn(process.execPath, [script, ...(quick ? ['--quick'] : []), ...rest], { stdio: 'inherit' });
      return await new Promise<number>((resolve) => {
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
        child.on('error', () => resolve(1));
      });
    },
  };
}

const suites: Record<string, Suite> = {
  codec: {
    description: 'decode and encode against mqtt-packet',
    async run({ quick, filter }) {
      await runCodecBench({ quick, filter });
      return 0;
    },
  },
  topics: {
    description: 'topic matching against qlobber (Aedes)',
    async run({ quick }) {
      await runTopicsBench({ quick });
      return 0;
    },
  },
  brokers: childSuite('Starling against Mosquitto and Aedes (bench/brokers.ts)', 'brokers.js'),
  persistence: childSuite('QoS 1 with persistence on and off, restart time (bench/persistence.ts)', 'persistence.js'),
};

async function main(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf('--');
  const rest = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const { values, positionals } = parseArgs({
    args: dashdash >= 0 ? argv.slice(0, dashdash) : argv,
    options: {
      quick: { type: 'boolean', default: false },
      filter: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log('Usage: node dist/bench/run.js [suite...] [--quick] [--filter TEXT] [-- suite args]\n\nSuites:');
    for (const [name, suite] of Object.entries(suites)) console.log(`  ${name.padEnd(13)}${suite.description}`);
    return 0;
  }
  const names = positionals.length > 0 ? positionals : Object.keys(suites);
  const unknown = names.filter((n) => !(n in suites));
  if (unknown.length > 0) {
    console.error(`unknown suite ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
    return 2;
  }
  let status = 0;
  for (const name of names) {
    console.log(`\n== ${name}: ${suites[name]!.description}\n`);
    const code = await suites[name]!.run({ quick: values.quick, filter: values.filter, rest });
    if (code !== 0) status = code;
  }
  return status;
}

process.exitCode = await main(process.argv.slice(2));
