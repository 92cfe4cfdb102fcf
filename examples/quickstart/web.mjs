// One replica of the web service: counts hits in the store service, says which replica answered.
import http from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const store = `http://${process.env.STORE_HOST}:${process.env.STORE_PORT}`;
http
  .createServer(async (req, res) => {
    if (req.url === '/health') return res.end('ok');
    try {
      const hits = await (await fetch(`${store}/incr/hits`)).text();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ message: process.env.GREETING, replica: Number(process.env.BATON_SLOT), hits: Number(hits) }) + '\n');
    } catch (err) {
      res.writeHead(502).end(`store unreachable: ${err.message}\n`);
    }
  })
  .listen(port, '127.0.0.1', () => console.log(`web replica ${process.env.BATON_SLOT} listening on ${port}`));
process.on('SIGTERM', () => process.exit(0));
