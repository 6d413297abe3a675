// Serves the built worker for `cargo xtask test` and `cargo xtask bench` with wrangler's dev
// server (`unstable_startWorker`, the engine behind `wrangler dev`), with the DevTools inspector
// off. `wrangler dev` always attaches the inspector with network events on, and wrangler 4.86
// forwards every inspector event to its Node process as one HTTP request; under load those
// connections pile up in workerd until it runs out of file descriptors.
//
// Usage: node xtask/serve-worker.mjs <wrangler.toml> <port> <persist dir> <vars.json>
// vars.json: {"NAME": "value", ...}, the worker's vars and secrets.

import { readFileSync } from "node:fs";
import { unstable_startWorker } from "wrangler";

const [config, port, persist, varsFile] = process.argv.slice(2);
if (!varsFile) {
  console.error("usage: serve-worker.mjs <wrangler.toml> <port> <persist dir> <vars.json>");
  process.exit(2);
}
const vars = JSON.parse(readFileSync(varsFile, "utf8"));
// As secrets, so wrangler's startup table of bindings does not print their values.
const bindings = Object.fromEntries(
  Object.entries(vars).map(([name, value]) => [name, { type: "secret_text", value }]),
);

const worker = await unstable_startWorker({
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
