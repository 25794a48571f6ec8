// Runs a WASI (preview1) command under Node's `node:wasi`, as a second host runtime for
// the self-hosted tern.wasm (tests/all/selfhost.rs, docs/self-hosted.md).
//
//   node tests/support/wasi-host.mjs [--dir HOST[::GUEST]]... [--env KEY=VALUE]... MODULE.wasm [ARGS]...
//
// Each --dir preopens host directory HOST under the guest name GUEST (default HOST), as
// wasmtime's --dir does. The program gets stdin, stdout and stderr, the arguments (its
// argv[0] is MODULE) and the environment given; its exit status becomes this process's.
import { readFile } from "node:fs/promises";

// node:wasi prints an "experimental" warning on stderr; the guest's stderr stays its own.
process.removeAllListeners("warning");
const { WASI } = await import("node:wasi");

const usage = "usage: wasi-host.mjs [--dir HOST[::GUEST]]... [--env KEY=VALUE]... MODULE.wasm [ARGS]...";
const argv = process.argv.slice(2);
const preopens = {};
const env = {};
while (argv.length > 0 && argv[0].startsWith("--")) {
  const flag = argv.shift();
  const value = argv.shift();
  if (value === undefined) {
    console.error(`error: ${flag} needs a value\n${usage}`);
    process.exit(2);
  }
  if (flag === "--dir") {
    const [host, guest] = value.includes("::") ? value.split("::", 2) : [value, value];
    preopens[guest] = host;
  } else if (flag === "--env") {
    const eq = value.indexOf("=");
    if (eq < 0) {
      console.error(`error: --env ${value}: expected KEY=VALUE`);
      process.exit(2);
    }
    env[value.slice(0, eq)] = value.slice(eq + 1);
  } else {
    console.error(`error: unknown option ${flag}\n${usage}`);
    process.exit(2);
  }
}
if (argv.length === 0) {
  console.error(usage);
  process.exit(2);
}

let bytes;
try {
  bytes = await readFile(argv[0]);
} catch (e) {
  console.error(`error: cannot read ${argv[0]}: ${e.message}`);
  process.exit(2);
}
const wasi = new WASI({ version: "preview1", args: argv, env, preopens, returnOnExit: true });
try {
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  process.exitCode = wasi.start(instance);
} catch (e) {
  console.error(`error: ${argv[0]}: ${e.message ?? e}`);
  process.exitCode = 134;
}
