// HTTP requests per second and p99 latency with wrk: straight to a backend,
// through baton's HTTP ingress, and through nginx as a reverse proxy to the
// same backend, side by side in one run.
//   node --import tsx bench/ingress-http.ts [SECONDS] [CONNECTIONS]   (default 10, 32)
// Needs wrk and nginx (apt-get install wrk nginx-light; installed here when root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/baton.js';

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 32);
const have = (c: string): boolean => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;
if (!have('wrk') || !have('nginx')) {
  if (process.getuid?.() !== 0) throw new Error('needs wrk and nginx: apt-get install wrk nginx-light');
  spawnSync('apt-get', ['install', '-y', '-qq', 'wrk', 'nginx-light'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const dir = mkdtempSync(join(tmpdir(), 'baton-bench-ingress-'));
const children: ChildProcess[] = [];
const start = (cmd: string, args: string[]): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    c.once('error', reject);
    c.stdout!.once('data', () => resolve(c));
  });

interface WrkResult {
  rps: number;
  p99ms: number;
  errors: number;
}

function wrk(port: number): WrkResult {
  const r = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-H', 'Host: bench.test', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  const p99ms = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
  const e = /Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout);
  const s = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  return { rps, p99ms, errors: Number(e?.[1] ?? 0) + (s ? s.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0) };
}

try {
  const backendPort = await freePort();
  const ingressPort = await freePort();
  const nginxPort = await freePort();
  // The backend: one Node process answering a small body, keep-alive.
  await start(process.execPath, ['-e', `require('http').createServer((q, s) => s.end('hello from the backend\\n')).listen(${backendPort}, '127.0.0.1', () => console.log('ready'))`]);
  await start(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'ingress-server.ts'), String(ingressPort), String(backendPort)]);
  // nginx with one worker, like the one Node process of the ingress, keeping upstream connections alive as the ingress does.
  writeFileSync(join(dir, 'nginx.conf'), `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme; } } }
`);
  const ng = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  children.push(ng);
  await new Promise((r) => setTimeout(r, 500));
  wrk(backendPort); // warm-up: JIT and connection pools
  const load0 = loadavg()[0];
  const direct = wrk(backendPort);
  const viaIngress = wrk(ingressPort);
  const viaNginx = wrk(nginxPort);
  const row = (name: string, r: WrkResult): void => console.log(`  ${name.padEnd(16)} ${r.rps.toFixed(0).padStart(8)} req/s   p99 ${r.p99ms.toFixed(2).padStart(7)} ms   errors ${r.errors}`);
  console.log(`wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, one small response per request; load average ${loadavg()[0].toFixed(1)} (at start ${load0.toFixed(1)}), 2 cores shared by wrk, proxy and backend`);
  row('direct', direct);
  row('baton ingress', viaIngress);
  row('nginx (1 worker)', viaNginx);
  console.log(`  ingress/direct: ${(viaIngress.rps / direct.rps).toFixed(2)}x (goal >= 0.8x)   ingress/nginx: ${(viaIngress.rps / viaNginx.rps).toFixed(2)}x (goal >= 1x)`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  rmSync(dir, { recursive: true, force: true });
}
