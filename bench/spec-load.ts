// Loading and normalizing a generated 500-service Compose file, side by side
// with Debian's docker-compose 1.29 (`docker-compose -f FILE config`) on the same file.
//   node --import tsx bench/spec-load.ts [SERVICES]   (default 500)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// The compiled code, as `baton` runs it (tsx's transform adds helpers the build does not have);
// typed by its source, which it is built from.
const DIST = '../dist/spec/index.js';
const { loadProject } = (await import(DIST)) as typeof import('../src/spec/index.js');

const N = Number(process.argv[2] ?? 500);
const ROUNDS = 7;

/** A file using most of what real ones use: ports, env, volumes, depends_on, healthchecks, deploy, anchors. */
function generate(n: number): string {
  const out = [
    'x-common: &common',
    '  restart: unless-stopped',
    '  labels: {team: bench}',
    'services:',
  ];
  for (let i = 0; i < n; i++) {
    out.push(
      `  svc${i}:`,
      '    <<: *common',
      `    image: "registry.example/app${i % 20}:\${TAG:-1.${i % 7}}"`,
      `    command: ["node", "server.js", "--port", "${3000 + i}"]`,
      `    ports: ["${10000 + i}:${3000 + i}", "127.0.0.1:${20000 + i}:9${String(i % 1000).padStart(3, '0')}/udp"]`,
      '    environment:',
      `      NAME: svc${i}`,
      '      LEVEL: ${LEVEL:-info}',
      `      - ITEM=${i}`.replace('- ', '').replace('=', ': '),
      `    volumes: ["./data/${i}:/data", "shared:/shared:ro"]`,
      ...(i > 0 ? [`    depends_on: {svc${i - 1}: {condition: service_started}}`] : []),
      '    healthcheck: {test: ["CMD", "true"], interval: 10s, timeout: 2s, retries: 3}',
      `    deploy: {replicas: ${1 + (i % 3)}, resources: {limits: {memory: 256M}}}`,
      '    networks: [front, back]',
    );
  }
  out.push('networks:', '  front: {}', '  back: {}', 'volumes:', '  shared: {}', '');
  return out.join('\n');
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

const dir = mkdtempSync(join(tmpdir(), 'baton-spec-bench-'));
try {
  const file = join(dir, 'compose.yaml');
  writeFileSync(file, generate(N));
  const env = { TAG: '2.0' };
  const t0 = performance.now();
  const first = await loadProject({ cwd: dir, env });
  const coldMs = performance.now() - t0;
  if (Object.keys(first.services).length !== N) throw new Error(`loaded ${Object.keys(first.services).length} services, expected ${N}`);
  const warm: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await loadProject({ cwd: dir, env });
    warm.push(performance.now() - t);
  }
  const batonMs = median(warm);
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
  console.log(`baton loadProject, ${N} services: first ${coldMs.toFixed(0)} ms (schema compile included), median of ${ROUNDS} ${batonMs.toFixed(0)} ms`);

  // The whole `baton config` process too, since docker-compose's figure includes its interpreter's start.
  const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/baton.js');
  const whole: number[] = [];
  if (existsSync(resolve(dirname(bin), '../dist/cli/main.js'))) {
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, [bin, '-f', file, 'config'], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 << 20 });
      if (r.status !== 0) throw new Error(`baton config failed: ${r.stderr}`);
      whole.push(performance.now() - t);
    }
    console.log(`baton -f FILE config (whole process): median of 3 ${median(whole).toFixed(0)} ms`);
  } else console.log('baton -f FILE config (whole process): not measured, run npm run build first');

  const dc: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const r = spawnSync('docker-compose', ['-f', file, 'config'], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 << 20 });
    const ms = performance.now() - t;
    if (r.error || r.status !== 0) {
      console.log(`docker-compose -f FILE config: not measured (${r.error?.message ?? r.stderr.trim().split('\n').pop()}); apt-get install -y docker-compose`);
      break;
    }
    dc.push(ms);
  }
  if (dc.length > 0) {
    const dcMs = median(dc);
    console.log(`docker-compose 1.29 -f FILE config: median of ${dc.length} ${dcMs.toFixed(0)} ms (whole process, Python start included)`);
    console.log(`ratio docker-compose / baton loadProject: ${(dcMs / batonMs).toFixed(1)}x (goal for baton: < 200 ms, ${batonMs < 200 ? 'met' : 'not met'})`);
    if (whole.length > 0) console.log(`ratio docker-compose / baton config, whole processes: ${(dcMs / median(whole)).toFixed(1)}x`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
