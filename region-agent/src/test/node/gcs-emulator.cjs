// Runs the Cloud Storage emulator of firebase-tools (installed into .tools/ by bin/setup) on its own, serving only the
// Google Cloud Storage JSON API that the Java client speaks.
//
//   node gcs-emulator.cjs FIREBASE_TOOLS_DIR HOST PORT
//
// `firebase emulators:start --only storage` would first download a rules runtime (a jar from a Google download site),
// which this machine cannot reach. The JSON API never consults Firebase security rules (its requests go to the
// emulator's admin storage layer), so the rules runtime is not started here. Objects live in memory and in a temporary
// directory under $TMPDIR, removed on exit.
"use strict";
const path = require("path");

const [toolsDir, host, port] = process.argv.slice(2);
if (!toolsDir || !host || !port) {
  console.error("usage: node gcs-emulator.cjs FIREBASE_TOOLS_DIR HOST PORT");
  process.exit(2);
}
const { StorageEmulator } = require(path.join(toolsDir, "lib/emulator/storage/index.js"));
const { EmulatorRegistry } = require(path.join(toolsDir, "lib/emulator/registry.js"));

const emulator = new StorageEmulator({ projectId: "lifeboat-test", host, port: Number(port), auto_download: false });
emulator._rulesRuntime.start = async () => {};
emulator._rulesRuntime.stop = async () => {};
emulator._rulesManager.start = async () => {};
emulator._rulesManager.stop = async () => {};

let stopping = false;
async function stop() {
  if (stopping) {
    return;
  }
  stopping = true;
  try {
    await emulator.stop();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// registered so the emulator can build its self links (started through the registry, as the CLI does)
EmulatorRegistry.start(emulator).then(
  () => console.log(`gcs emulator listening on http://${host}:${port}`),
  (e) => {
    console.error("gcs emulator failed to start:", e);
    process.exit(1);
  });
