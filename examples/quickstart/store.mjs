// A tiny in-memory key-value store over HTTP: GET /incr/KEY adds one and returns the count.
import http from 'node:http';

const counts = new Map();
const port = Number(process.env.PORT ?? 6379);
http
  .createServer((req, res) => {
    if (req.url === '/health') return res.end('ok');
    const m = /^\/incr\/(.+)$/.exec(req.url ?? '');
    if (!m) return res.writeHead(404).end();
    const n = (counts.get(m[1]) ?? 0) + 1;
    counts.set(m[1], n);
    res.end(String(n));
  })
  .listen(port, '127.0.0.1', () => console.log(`store listening on ${port}`));
process.on('SIGTERM', () => process.exit(0));
