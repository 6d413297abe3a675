// Serves the built worker for `cargo xtask test` and `cargo xtask bench` with wrangler's dev
// server (`unstable_startWorker`, the engine behind `wrangler dev`), with the DevTools inspector
// off. `wrangler dev` always attaches the inspector with network events on, and wrangler 4.86
// forwards every inspector event to its Node process as one HTTP request; under load those
// connections pile up in workerd until it runs out of file descriptors.
//
// Usage: node xtask/serve-worker.mjs <wrangler.toml> <port> <persist dir> <vars.json> <url file>
// vars.json: {"NAME": "value", ...}, the worker's vars and secrets. Into <url file> goes the
// address of workerd's own socket, behind wrangler's proxy: the bench measures the worker there,
// without the proxy's hop (which production does not have).

import { readFileSync, writeFileSync } from "node:fs";
import { unstable_DevEnv } from "wrangler";

const [config, port, persist, varsFile, urlFile] = process.argv.slice(2);
if (!urlFile) {
  console.error(
    "usage: serve-worker.mjs <wrangler.toml> <port> <persist dir> <vars.json> <url file>",
  );
  process.exit(2);
}
const vars = JSON.parse(readFileSync(varsFile, "utf8"));
// As secrets, so wrangler's startup table of bindings does not print their values.
const bindings = Object.fromEntries(
  Object.entries(vars).map(([name, value]) => [name, { type: "secret_text", value }]),
);

const devEnv = new unstable_DevEnv();
// The runtime announces workerd's socket to the proxy when the worker is loaded.
const announce = devEnv.proxy.onReloadComplete.bind(devEnv.proxy);
devEnv.proxy.onReloadComplete = (event) => {
  const { protocol, hostname, port } = event.proxyData.userWorkerUrl;
  writeFileSync(urlFile, `${protocol}//${hostname}:${port}`);
  return announce(event);
};
const worker = await devEnv.startWorker({
  config,
  bindings,
  dev: {
    inspector: false,
    server: { hostname: "127.0.0.1", port: Number(port) },
    persist,
    watch: false,
    logLevel: "log",
  },
});
await worker.ready;

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    await worker.dispose();
    process.exit(0);
  });
}
