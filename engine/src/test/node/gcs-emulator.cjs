// Runs the Cloud Storage emulator of firebase-tools (installed into .tools/ by bin/setup) on its own, serving only the
// Google Cloud Storage JSON API that the Java client speaks.
//
//   node gcs-emulator.cjs FIREBASE_TOOLS_DIR HOST PORT
//
// `firebase emulators:start --only storage` would first download a rules runtime (a jar from a Google download site),
// which this machine cannot reach. The JSON API never consults Firebase security rules (its requests go to the
// emulator's admin storage layer), so the rules runtime is not started here. Objects live in memory and in a temporary
// directory under $TMPDIR, removed on exit.
//
// One fix: the emulator's parser of multipart uploads (uploadType=multipart, what the Java client sends for small
// objects) insists that Content-Type is the only header of each part, while the client also sends
// Content-Transfer-Encoding, as RFC 2046 allows. It is replaced by one that reads any headers.
"use strict";
const path = require("path");

const [toolsDir, host, port] = process.argv.slice(2);
if (!toolsDir || !host || !port) {
  console.error("usage: node gcs-emulator.cjs FIREBASE_TOOLS_DIR HOST PORT");
  process.exit(2);
}
const { StorageEmulator } = require(path.join(toolsDir, "lib/emulator/storage/index.js"));
const { EmulatorRegistry } = require(path.join(toolsDir, "lib/emulator/registry.js"));
const multipart = require(path.join(toolsDir, "lib/emulator/storage/multipart.js"));

// multipart/related with two parts (metadata JSON, then the content); binary-safe
multipart.parseObjectUploadMultipartRequest = (contentTypeHeader, body) => {
  const m = /^multipart\/related;.*boundary=("?)([^";]+)\1/i.exec(contentTypeHeader);
  if (!m) {
    throw new Error(`Bad content type. ${contentTypeHeader}`);
  }
  const delimiter = Buffer.from(`--${m[2]}`);
  const parts = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.slice(start, start + 2).toString() === "--") {
      break; // the closing delimiter
    }
    const next = body.indexOf(delimiter, start);
    if (next < 0) {
      throw new Error("Unterminated multipart body");
    }
    const part = body.slice(start + 2, next - 2); // without the CRLF after the delimiter and before the next one
    const headersEnd = part.indexOf("\r\n\r\n");
    if (headersEnd < 0) {
      throw new Error("Multipart part without headers");
    }
    parts.push(Buffer.from(part.slice(headersEnd + 4)));
    at = next;
  }
  if (parts.length !== 2) {
    throw new Error("Unexpected number of parts in request body");
  }
  return { metadataRaw: parts[0].toString(), dataRaw: parts[1] };
};

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
