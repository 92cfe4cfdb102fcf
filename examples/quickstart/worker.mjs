// Calls the web service by name every 3 seconds and logs what it hears.
const web = `http://${process.env.WEB_HOST}:${process.env.WEB_PORT}/`;
setInterval(async () => {
  try {
    const body = await (await fetch(web)).json();
    console.log(`replica ${body.replica} answered, ${body.hits} hits so far`);
  } catch (err) {
    console.error(`web unreachable: ${err.message}`);
  }
}, 3000);
process.on('SIGTERM', () => process.exit(0));
