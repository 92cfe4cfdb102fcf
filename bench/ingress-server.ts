// The HTTP ingress alone, in its own process, for bench/ingress-http.ts:
//   node --import tsx bench/ingress-server.ts LISTEN_PORT BACKEND_PORT
// The compiled code, as the daemon runs it (tsx's transform wraps every function
// in a naming helper the build does not have); typed by its source.
const DIST = '../dist/mesh/index.js';
const { HttpIngress } = (await import(DIST)) as typeof import('../src/mesh/index.js');

const [listen, backend] = process.argv.slice(2).map(Number);
const ing = new HttpIngress({ host: '127.0.0.1', port: listen });
await ing.apply([{ id: 'bench/web', domains: ['bench.test'], path: '/', backends: [{ id: 'b', host: '127.0.0.1', port: backend }] }]);
process.stdout.write('ready\n');
process.on('SIGTERM', () => void ing.close().then(() => process.exit(0)));
