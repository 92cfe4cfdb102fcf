// Healthcheck: exits 0 when this task answers on /health.
fetch(`http://127.0.0.1:${process.env.PORT}/health`, { signal: AbortSignal.timeout(1500) })
  .then((r) => process.exit(r.ok ? 0 : 1))
  .catch(() => process.exit(1));
