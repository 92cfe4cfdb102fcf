// Daemon RSS with N running tasks, and its idle CPU over a quiet minute.
//   node --import tsx bench/daemon-memory.ts [N] [idleSeconds]   (default 1000, 30)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchHome, cpuSeconds, rssMb } from './lib.js';

const N = Number(process.argv[2] ?? 1000);
const IDLE_S = Number(process.argv[3] ?? 30);
const b = benchHome();
try {
  writeFileSync(
    join(b.dir, 'compose.yaml'),
    `name: benchmem\nx-baton: {driver: process}\nservices:\n  idle:\n    command: ["sleep", "100000"]\n    deploy: {replicas: ${N}}\n`,
  );
  b.baton(['version']);
  b.baton(['ls']);
  const pid = b.daemonPid();
  const rss0 = rssMb(pid);
  const up = b.baton(['up', '-d', '--wait']);
  await new Promise((r) => setTimeout(r, 5000)); // let start-up garbage be collected
  const rss = rssMb(pid);
  const c0 = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const cpu = (cpuSeconds(pid) - c0) / IDLE_S;
  console.log(`daemon with ${N} running process tasks:`);
  console.log(`  up -d --wait       : ${up.ms.toFixed(0)} ms`);
  console.log(`  RSS empty          : ${rss0.toFixed(1)} MB`);
  console.log(`  RSS with ${N} tasks : ${rss.toFixed(1)} MB   (goal: < 150 MB)`);
  console.log(`  idle CPU           : ${(cpu * 100).toFixed(2)} % of a core over ${IDLE_S}s   (goal: < 1%)`);
  b.baton(['down']);
} finally {
  b.cleanup();
}
