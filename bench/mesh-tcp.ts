// The mesh's TCP proxy against a direct connection and against nginx's stream
// proxy (one worker, like the one Node process of the mesh), side by side: HTTP
// requests per second over keep-alive connections, new connections per second,
// and bulk throughput. The backends and the load generator run in child
// processes, so the proxy's process does only proxying.
//   node --import tsx bench/mesh-tcp.ts [seconds per case, default 3] [concurrency, default 32]
// Needs nginx with its stream module (apt-get install nginx-light libnginx-mod-stream; installed here when root).
import http from 'node:http';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The compiled code, as the daemon runs it; typed by its source.
const DIST = '../dist/mesh/index.js';
const { Mesh, allocatePort } = (await import(DIST)) as typeof import('../src/mesh/index.js');

const client = process.argv[2] === '--client';
const args = client ? process.argv.slice(5) : process.argv.slice(2);
const SECONDS = Number(args[0] ?? 3);
const CONCURRENCY = Number(args[1] ?? 32);
const HOST = '127.0.0.1';

async function child(code: string): Promise<{ port: number; kill(): void }> {
  const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(c.stdout, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), kill: () => void c.kill('SIGKILL') };
}

async function requests(port: number, keepAlive: boolean): Promise<number> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }) : false;
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: HOST, port, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        })
        .on('error', reject);
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await one();
        n++;
      }
    }),
  );
  if (agent) agent.destroy();
  return n / SECONDS;
}

async function bulk(port: number): Promise<number> {
  // Sends 256 MiB to a sink that counts and closes; MiB/s.
  const total = 256 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 7);
  const s = net.connect({ host: HOST, port });
  await once(s, 'connect');
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    sent += chunk.length;
    if (!s.write(chunk)) await once(s, 'drain');
  }
  s.end();
  await once(s, 'close');
  return total / 1024 / 1024 / ((performance.now() - t0) / 1000);
}

if (client) {
  // --client CASE PORT SECONDS CONCURRENCY: runs one case, prints the number.
  const [kind, port] = [process.argv[3], Number(process.argv[4])];
  const f = kind === 'keepalive' ? (p: number) => requests(p, true) : kind === 'connect' ? (p: number) => requests(p, false) : bulk;
  console.log(await f(port));
  process.exit(0);
}

/** Runs a case in a fresh process and resolves the number it prints (the proxy's event loop stays free). */
function measure(kind: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--client', kind, String(port), String(SECONDS), String(CONCURRENCY)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`client ${kind} exited ${code}`))));
  });
}

const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
if (spawnSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore' }).status !== 0 || !existsSync(STREAM_MODULE)) {
  if (process.getuid?.() !== 0) throw new Error('needs nginx with its stream module: apt-get install nginx-light libnginx-mod-stream');
  spawnSync('apt-get', ['install', '-y', '-qq', 'nginx-light', 'libnginx-mod-stream'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const web = await child(
  `const s=require('http').createServer((q,r)=>r.end('ok'));s.keepAliveTimeout=60000;s.listen(0,'${HOST}',()=>console.log(s.address().port))`,
);
const sink = await child(
  `const s=require('net').createServer({allowHalfOpen:true},(c)=>{c.resume();c.on('end',()=>c.end())});s.listen(0,'${HOST}',()=>console.log(s.address().port))`,
);
const mesh = new Mesh();
const webPort = await allocatePort();
const sinkPort = await allocatePort();
const res = await mesh.apply([
  { id: 'web', listen: { host: HOST, port: webPort }, protocol: 'tcp', backends: [{ id: 'w', host: HOST, port: web.port }] },
  { id: 'sink', listen: { host: HOST, port: sinkPort }, protocol: 'tcp', backends: [{ id: 's', host: HOST, port: sink.port }] },
]);
if (res.errors.length) throw new Error(res.errors.map((e) => e.message).join('; '));
// nginx as a TCP proxy to the same backends: the peer for what a user-space proxy costs on this machine.
const ngDir = mkdtempSync(join(tmpdir(), 'baton-bench-mesh-'));
const ngWeb = await allocatePort();
const ngSink = await allocatePort();
writeFileSync(join(ngDir, 'nginx.conf'), `load_module ${STREAM_MODULE};
daemon off; worker_processes 1; pid ${ngDir}/nginx.pid; error_log ${ngDir}/error.log;
events { worker_connections 4096; }
stream {
  server { listen ${HOST}:${ngWeb}; proxy_pass ${HOST}:${web.port}; }
  server { listen ${HOST}:${ngSink}; proxy_pass ${HOST}:${sink.port}; }
}
`);
const nginx = spawn('nginx', ['-c', join(ngDir, 'nginx.conf'), '-e', join(ngDir, 'error.log')], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));

const rows: [string, number, number, number, string, number][] = [];
for (const [name, kind, unit, direct, via, viaNginx] of [
  ['HTTP keep-alive requests', 'keepalive', 'req/s', web.port, webPort, ngWeb],
  ['HTTP new connection per request', 'connect', 'req/s', web.port, webPort, ngWeb],
  ['bulk upload (256 MiB)', 'bulk', 'MiB/s', sink.port, sinkPort, ngSink],
] as const) {
  const d = await measure(kind, direct);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const v = await measure(kind, via);
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  const n = await measure(kind, viaNginx);
  // Over the client process's whole life (start-up included), so a lower bound of the busy share.
  rows.push([name, d, v, n, unit, ((cpu.user + cpu.system) / 1000 / elapsed) * 100]);
}
await mesh.close();
nginx.kill('SIGTERM');
web.kill();
sink.kill();
rmSync(ngDir, { recursive: true, force: true });

console.log(`mesh TCP proxy, ${SECONDS}s per case, concurrency ${CONCURRENCY}, ${spawnSync('nproc').stdout.toString().trim()} CPUs`);
for (const [name, d, v, n, unit, cpu] of rows) {
  console.log(
    `${name.padEnd(32)} direct ${d.toFixed(0).padStart(6)} ${unit}   mesh ${v.toFixed(0).padStart(6)} (${((v / d) * 100).toFixed(0)}%, CPU ${cpu.toFixed(0)}% of a core)   nginx stream ${n.toFixed(0).padStart(6)} (${((n / d) * 100).toFixed(0)}%)   mesh/nginx ${(v / n).toFixed(2)}x`,
  );
}
