// `baton up --wait` of N replicas of a trivial process service, side by side
// with starting the same N processes from a plain shell loop.
//   node --import tsx bench/up-replicas.ts [N]   (default 200)
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchHome } from './lib.js';

const N = Number(process.argv[2] ?? 200);
const b = benchHome();
try {
  writeFileSync(
    join(b.dir, 'compose.yaml'),
    `name: benchup\nx-baton: {driver: process}\nservices:\n  idle:\n    command: ["sleep", "100000"]\n    deploy: {replicas: ${N}}\n`,
  );
  // The daemon is started first, so both sides measure starting processes, not Node's own start-up.
  b.baton(['version']);
  b.baton(['ls']);
  const rounds = 3;
  const batonMs: number[] = [];
  const shellMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    batonMs.push(b.baton(['up', '-d', '--wait']).ms);
    b.baton(['down']);
    // The same N processes from a shell loop, each confirmed running (pids listed) before the clock stops.
    const t0 = performance.now();
    const r = spawnSync('sh', ['-c', `pids=; for i in $(seq ${N}); do sleep 100000 </dev/null >/dev/null 2>&1 & pids="$pids $!"; done; n=0; for p in $pids; do kill -0 $p && n=$((n+1)); done; echo $n; kill $pids`], { encoding: 'utf8' });
    shellMs.push(performance.now() - t0);
    if (Number(r.stdout.trim()) !== N) throw new Error(`shell loop started ${r.stdout.trim()} processes`);
  }
  const median = (xs: number[]): number => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)];
  const bm = median(batonMs);
  const sm = median(shellMs);
  console.log(`up of ${N} process replicas until all running (median of ${rounds}):`);
  console.log(`  baton up -d --wait : ${bm.toFixed(0)} ms   (runs: ${batonMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  shell loop         : ${sm.toFixed(0)} ms   (runs: ${shellMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  ratio baton/shell  : ${(bm / sm).toFixed(2)}x   (goal: <= 1.5x)`);
} finally {
  b.cleanup();
}
