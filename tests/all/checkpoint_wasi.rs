//! WASI programs checkpointed at many points, each continued in new processes: the
//! concatenated stdout and stderr, the exit status and the files left in the preopened
//! directory must equal those of an uninterrupted run. The guests are the C programs of
//! `tests/guests/ckpt` (see their headers for what each exercises).
//!
//! Stdin goes through a real pipe. A checkpointed process may have consumed part of it,
//! so what it left unread is read back from the pipe after it exits and given to the next
//! process (tern reads stdin unbuffered, exactly what the program asks for, so nothing is
//! lost in between): checkpoints may fall anywhere, also in the middle of the input.
//!
//! Every process is waited for with a deadline and killed after it, so a hang fails the
//! test instead of stalling the suite.

use crate::util::TempDir;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const GUESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests/ckpt");
pub(crate) const CHECKPOINTED: i32 = 75;
/// How long any one tern process may take before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// The line tern itself writes to stderr after each checkpoint; not the program's output.
const TERN_NOTE: &str = "tern: checkpoint written to ";

pub(crate) fn guest(name: &str) -> String {
    format!("{GUESTS}/{name}")
}

// ---------------------------------------------------------------------------------------
// Running tern with a deadline

/// A running `tern`, its stdout read line by line as it comes (so a test can wait for a
/// line before signalling) and its stderr collected whole, both on their own threads so
/// that a full pipe never blocks the child while the test waits.
pub(crate) struct Tern {
    child: Child,
    lines: Receiver<Vec<u8>>,
    stdout: Vec<u8>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    started: Instant,
}

/// What one process did.
pub(crate) struct Exit {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Tern {
    pub fn spawn(args: &[&str], stdin: Stdio) -> Tern {
        Tern::spawn_with_env(args, stdin, &[])
    }

    /// [`Tern::spawn`] with the environment variables `envs` added.
    pub fn spawn_with_env(args: &[&str], stdin: Stdio, envs: &[(&str, &str)]) -> Tern {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(args)
            .envs(envs.iter().copied())
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tern starts");
        let (send, lines) = std::sync::mpsc::channel();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut line = Vec::new();
            while out.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                if send.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = err.read_to_end(&mut bytes);
            bytes
        });
        Tern {
            child,
            lines,
            stdout: Vec::new(),
            stderr: Some(stderr),
            started: Instant::now(),
        }
    }

    /// Waits until the program has printed a line containing `needle`.
    pub fn wait_for_line(&mut self, needle: &str) {
        loop {
            let left = DEADLINE.saturating_sub(self.started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.extend_from_slice(&line);
                    if String::from_utf8_lossy(&line).contains(needle) {
                        return;
                    }
                }
                Err(e) => {
                    self.kill();
                    let seen = String::from_utf8_lossy(&self.stdout);
                    panic!("no line with `{needle}` ({e:?}); stdout so far:\n{seen}");
                }
            }
        }
    }

    /// Sends SIGUSR1 (with the `kill` command: no libc in the tests).
    fn signal_usr1(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-USR1", &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -USR1 {pid}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the exit (killing the process at the deadline) and collects its output.
    pub fn finish(mut self) -> Exit {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for tern") {
                break status;
            }
            if self.started.elapsed() > DEADLINE {
                self.kill();
                panic!("tern did not finish within {DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = self.started.elapsed();
        // The pipes close with the process (tern starts no other processes).
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(line) => self.stdout.extend_from_slice(&line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stdout still open after exit"),
            }
        }
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Exit {
            status,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed,
        }
    }
}

/// Runs tern to its end with `input` on stdin, through a real pipe. Returns what the
/// process left unread: it is still in the pipe, which is closed after the input, so the
/// rest is exactly what the next process of a checkpoint chain must be given.
pub(crate) fn run_with_input(args: &[&str], input: &[u8]) -> (Exit, Vec<u8>) {
    let (mut rest, mut writer) = std::io::pipe().expect("pipe");
    // Everything is written before the start, so it must fit in the pipe's buffer (64 KiB
    // on Linux); the inputs here are a few KiB.
    assert!(
        input.len() < 60_000,
        "stdin input too large for one pipe buffer"
    );
    writer.write_all(input).unwrap();
    drop(writer);
    let exit = Tern::spawn(args, Stdio::from(rest.try_clone().unwrap())).finish();
    let mut unread = Vec::new();
    rest.read_to_end(&mut unread).unwrap();
    (exit, unread)
}

// ---------------------------------------------------------------------------------------
// Programs and what they leave behind

/// One guest program and how to run it.
pub(crate) struct Program {
    /// File name in `tests/guests/ckpt`.
    pub wasm: &'static str,
    pub args: &'static [&'static str],
    /// Runs with the preopen `/data`, seeded by `seed_data`.
    pub data: bool,
    /// Produces the program's stdin.
    pub input: fn() -> Vec<u8>,
    /// Instruction step of the probe run that measures the program's length.
    pub step: u64,
}

impl Program {
    /// A program with no `/data` preopen and no stdin.
    pub(crate) fn plain(wasm: &'static str, args: &'static [&'static str]) -> Program {
        Program {
            wasm,
            args,
            data: false,
            input: no_input,
            step: 0,
        }
    }
}

pub(crate) fn no_input() -> Vec<u8> {
    Vec::new()
}

/// Lines of varying length for `stdin.wasm`, some longer than others so that libc's
/// stdin buffer boundaries fall in the middle of lines.
pub(crate) fn text_input() -> Vec<u8> {
    (0..300)
        .map(|i| format!("line {i}: {}\n", "abcdefghij".repeat(i % 7)))
        .collect::<String>()
        .into_bytes()
}

/// The files `files.wasm` expects in `/data`.
pub(crate) fn seed_data(data: &Path) {
    std::fs::create_dir_all(data.join("dir")).unwrap();
    for name in ["a", "b", "c", "d", "e"] {
        std::fs::write(data.join("dir").join(name), name.repeat(3)).unwrap();
    }
    std::fs::write(data.join("in.txt"), text_input()).unwrap();
}

/// Every file and directory under `root`, by relative path (directories end with `/`).
pub(crate) fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                files.insert(format!("{}/", rel.display()), Vec::new());
                pending.push(rel);
            } else {
                files.insert(
                    rel.display().to_string(),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    files
}

/// Everything a run of a program produced, checkpointed or not.
#[derive(Default)]
pub(crate) struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    /// The program's stderr, without tern's own checkpoint notes.
    pub stderr: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Outcome {
    /// Appends one process's output; its status becomes the outcome's.
    pub fn add(&mut self, exit: &Exit) {
        self.code = exit.status.code();
        self.stdout += &exit.stdout;
        for line in exit.stderr.split_inclusive('\n') {
            if !line.starts_with(TERN_NOTE) {
                self.stderr += line;
            }
        }
    }

    pub fn assert_same(&self, expected: &Outcome, context: &str) {
        assert_eq!(self.stdout, expected.stdout, "stdout, {context}");
        assert_eq!(self.stderr, expected.stderr, "stderr, {context}");
        assert_eq!(self.code, expected.code, "exit status, {context}");
        let names = |o: &Outcome| o.files.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(self), names(expected), "files, {context}");
        for (name, bytes) in &self.files {
            assert!(
                bytes == &expected.files[name],
                "content of {name}, {context}"
            );
        }
    }
}

/// A run of `program` in `root` (which holds its `/data` when it has one).
pub(crate) struct Setup<'a> {
    pub program: &'a Program,
    pub root: PathBuf,
}

impl<'a> Setup<'a> {
    pub fn new(program: &'a Program, root: PathBuf) -> Setup<'a> {
        std::fs::create_dir_all(&root).unwrap();
        if program.data {
            seed_data(&root.join("data"));
        }
        Setup { program, root }
    }

    pub fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    /// `tern run` with `options` before the module.
    pub fn run_args(&self, options: &[String]) -> Vec<String> {
        let mut args = vec!["run".to_string()];
        if self.program.data {
            args.extend(["--dir".into(), format!("{}::/data", self.path("data"))]);
        }
        args.extend(options.iter().cloned());
        args.push(guest(self.program.wasm));
        args.extend(self.program.args.iter().map(|a| a.to_string()));
        args
    }

    /// `tern restore` of `snapshot`, with `options` after it.
    pub fn restore_args(&self, snapshot: &str, options: &[String]) -> Vec<String> {
        let mut args = vec![
            "restore".to_string(),
            snapshot.to_string(),
            "--module".into(),
            guest(self.program.wasm),
        ];
        args.extend(options.iter().cloned());
        args
    }

    pub fn files(&self, data: &str) -> BTreeMap<String, Vec<u8>> {
        if self.program.data {
            tree(&self.root.join(data))
        } else {
            BTreeMap::new()
        }
    }
}

pub(crate) fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The uninterrupted run.
fn reference(program: &Program, root: PathBuf) -> Outcome {
    let setup = Setup::new(program, root);
    let (exit, _) = run_with_input(&strs(&setup.run_args(&[])), &(program.input)());
    let mut outcome = Outcome::default();
    outcome.add(&exit);
    assert_ne!(outcome.code, Some(CHECKPOINTED), "{}", exit.stderr);
    outcome.files = setup.files("data");
    outcome
}

/// A lower bound on how many instructions `program` runs: it runs with a checkpoint every
/// `step` instructions and `--leave-running`, counting them. That run must not differ
/// from the uninterrupted one either.
fn length(program: &Program, root: PathBuf, expected: &Outcome) -> u64 {
    let setup = Setup::new(program, root);
    let options = [
        "--leave-running".to_string(),
        "--checkpoint-on".into(),
        format!("instructions:{}", program.step),
        "--snapshot".into(),
        setup.path("probe.tern"),
    ];
    let (exit, _) = run_with_input(&strs(&setup.run_args(&options)), &(program.input)());
    let mut outcome = Outcome::default();
    outcome.add(&exit);
    outcome.files = setup.files("data");
    outcome.assert_same(expected, "with --leave-running");
    let checkpoints = exit.stderr.matches(TERN_NOTE).count() as u64;
    assert!(
        checkpoints >= 3,
        "{} is too short for its step",
        program.wasm
    );
    checkpoints * program.step
}

/// Checkpoints after `first` instructions, restores in a new process and checkpoints that
/// after `second` more, then restores and finishes; each process is given the stdin the
/// previous ones left unread. On odd `chain`s the data directory moves to another place
/// before the last process, which finds it through `--dir`.
fn checkpoint_chain(setup: &Setup<'_>, chain: usize, first: u64, second: u64) -> Outcome {
    let context = format!("{} after {first} then {second}", setup.program.wasm);
    let trigger = |n: u64| ["--checkpoint-on".to_string(), format!("instructions:{n}")];
    let (s1, s2) = (setup.path("1.tern"), setup.path("2.tern"));
    let mut outcome = Outcome::default();

    let mut options = trigger(first).to_vec();
    options.extend(["--snapshot".into(), s1.clone()]);
    let input = (setup.program.input)();
    let (exit, input) = run_with_input(&strs(&setup.run_args(&options)), &input);
    assert_eq!(
        exit.status.code(),
        Some(CHECKPOINTED),
        "{context}: {}",
        exit.stderr
    );
    outcome.add(&exit);

    let mut options = trigger(second).to_vec();
    options.extend(["--snapshot".into(), s2.clone()]);
    let (exit, input) = run_with_input(&strs(&setup.restore_args(&s1, &options)), &input);
    assert_eq!(
        exit.status.code(),
        Some(CHECKPOINTED),
        "{context}: {}",
        exit.stderr
    );
    outcome.add(&exit);

    let mut data = "data";
    let mut options = Vec::new();
    if setup.program.data && chain % 2 == 1 {
        data = "moved";
        std::fs::rename(setup.root.join("data"), setup.root.join(data)).unwrap();
        options = vec!["--dir".into(), format!("{}::/data", setup.path(data))];
    }
    let (exit, _) = run_with_input(&strs(&setup.restore_args(&s2, &options)), &input);
    outcome.add(&exit);
    outcome.files = setup.files(data);
    outcome
}

/// Knuth's MMIX LCG from a fixed seed: the same checkpoint points on every run, so any
/// failure reproduces.
struct Lcg(u64);

impl Lcg {
    /// A number in `1..=max`.
    fn upto(&mut self, max: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        1 + (self.0 >> 33) % max.max(1)
    }
}

/// The whole check for one program: reference, length, then one chain per point — the
/// very first instruction, and four pseudo-random pairs.
fn checkpoint_everywhere(name: &str, program: Program) {
    let dir = TempDir::new(&format!("ckpt-wasi-{name}"));
    let expected = reference(&program, dir.0.join("reference"));
    let length = length(&program, dir.0.join("probe"), &expected);
    let mut rng = Lcg(0x7465726e);
    let mut points = vec![(1, 1)];
    for _ in 0..4 {
        // Both checkpoints must fall inside the program: first + second < length.
        let first = rng.upto(length - 2);
        points.push((first, rng.upto(length - first - 1)));
    }
    for (chain, (first, second)) in points.into_iter().enumerate() {
        let setup = Setup::new(&program, dir.0.join(format!("chain{chain}")));
        let outcome = checkpoint_chain(&setup, chain, first, second);
        let context = format!("checkpoint after {first}, then {second} instructions");
        outcome.assert_same(&expected, &context);
    }
}

#[test]
fn compute_program_checkpointed_anywhere_gives_the_uninterrupted_result() {
    checkpoint_everywhere(
        "compute",
        Program {
            wasm: "compute.wasm",
            args: &["200", "6"],
            data: false,
            input: no_input,
            step: 400_000,
        },
    );
}

#[test]
fn file_io_program_checkpointed_anywhere_gives_the_uninterrupted_files() {
    checkpoint_everywhere(
        "files",
        Program {
            wasm: "files.wasm",
            args: &[],
            data: true,
            input: no_input,
            step: 20_000,
        },
    );
}

#[test]
fn stdin_program_checkpointed_anywhere_reads_each_byte_once() {
    checkpoint_everywhere(
        "stdin",
        Program {
            wasm: "stdin.wasm",
            args: &[],
            data: false,
            input: text_input,
            step: 100_000,
        },
    );
}

#[test]
fn clock_program_checkpointed_anywhere_never_sees_time_go_back() {
    checkpoint_everywhere(
        "clocks",
        Program {
            wasm: "clocks.wasm",
            args: &["200"],
            data: false,
            input: no_input,
            step: 10_000,
        },
    );
}

#[test]
fn sleep_program_checkpointed_anywhere_sleeps_its_full_time() {
    checkpoint_everywhere(
        "sleeps",
        Program {
            wasm: "sleeps.wasm",
            args: &["6", "10"],
            data: false,
            input: no_input,
            step: 5_000,
        },
    );
}

// ---------------------------------------------------------------------------------------
// Asynchronous triggers

/// Runs `wasm args` uninterrupted in the background (so it costs no extra wall time) and,
/// meanwhile, with a SIGUSR1 sent `settle` after the program printed a line containing
/// `ready`; continues the snapshot in a new process and compares. Returns how long the
/// checkpointed and the restored process took.
fn signal_then_restore(
    name: &str,
    wasm: &str,
    args: &[&str],
    ready: &str,
    settle: Duration,
) -> [Duration; 2] {
    let dir = TempDir::new(&format!("ckpt-wasi-{name}"));
    let module = guest(wasm);
    let plain: Vec<&str> = ["run", module.as_str()]
        .iter()
        .chain(args)
        .copied()
        .collect();
    let uninterrupted = Tern::spawn(&plain, Stdio::null());

    let snap = dir.0.join("signal.tern").display().to_string();
    let mut run = vec![
        "run",
        "--checkpoint-on",
        "signal",
        "--snapshot",
        &snap,
        &module,
    ];
    run.extend(args);
    let mut first = Tern::spawn(&run, Stdio::null());
    first.wait_for_line(ready);
    std::thread::sleep(settle);
    first.signal_usr1();
    let first = first.finish();
    assert_eq!(first.status.code(), Some(CHECKPOINTED), "{}", first.stderr);
    let second = Tern::spawn(&["restore", &snap, "--module", &module], Stdio::null()).finish();

    let mut expected = Outcome::default();
    expected.add(&uninterrupted.finish());
    let mut outcome = Outcome::default();
    outcome.add(&first);
    outcome.add(&second);
    outcome.assert_same(&expected, &format!("{wasm} checkpointed by SIGUSR1"));
    [first.elapsed, second.elapsed]
}

#[test]
fn sigusr1_interrupts_a_sleep_and_the_restore_sleeps_the_rest() {
    let sleep = Duration::from_millis(2 * 1000);
    // 200 ms after "step 0: sleeping" the program is well into its first sleep.
    let settle = Duration::from_millis(200);
    let args = ["2", "1000"];
    let [first, second] = signal_then_restore("usr1-sleep", "sleeps.wasm", &args, "step 0", settle);
    // The checkpoint cut the first 1 s sleep short...
    assert!(
        first < Duration::from_millis(900),
        "checkpointed after {first:?}"
    );
    // ...and the two processes together still slept for both (`slept enough 1` in the
    // output says the same on the program's own monotonic clock).
    assert!(first + second >= sleep, "{first:?} + {second:?}");
}

#[test]
fn sigusr1_checkpoints_a_program_in_the_middle_of_computing() {
    // Unbuffered (third argument), so the test sees round 0 end; the signal follows at
    // once, while rounds 1..200 compute (each longer than the last: ~0.9 s here on the
    // fast tier, the default engine; 30 rounds took 0.08 s there, so a test process
    // descheduled for that long saw the program finish before its signal).
    let args = ["200", "200", "-"];
    signal_then_restore(
        "usr1-compute",
        "compute.wasm",
        &args,
        "round 0:",
        Duration::ZERO,
    );
}

#[test]
fn sigusr1_interrupts_a_blocked_stdin_read_and_the_restore_reads_on() {
    let dir = TempDir::new("ckpt-wasi-usr1-stdin");
    let module = guest("stdin.wasm");
    let snap = dir.0.join("stdin.tern").display().to_string();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let run = [
        "run",
        "--checkpoint-on",
        "signal",
        "--snapshot",
        &snap,
        &module,
    ];
    let mut first = Tern::spawn(&run, Stdio::from(reader));
    writer.write_all(b"one\ntwo\n").unwrap();
    first.wait_for_line("2: ");
    // The pipe stays open and empty: the program is blocked reading the third line.
    std::thread::sleep(Duration::from_millis(200));
    first.signal_usr1();
    let first = first.finish();
    drop(writer);
    assert_eq!(first.status.code(), Some(CHECKPOINTED), "{}", first.stderr);
    // The re-issued read gets the lines that arrive in the new process.
    let restore = ["restore", &snap, "--module", &module];
    let (second, _) = run_with_input(&restore, b"three\nfour\n");
    let (uninterrupted, _) = run_with_input(&["run", &module], b"one\ntwo\nthree\nfour\n");

    let mut expected = Outcome::default();
    expected.add(&uninterrupted);
    let mut outcome = Outcome::default();
    outcome.add(&first);
    outcome.add(&second);
    outcome.assert_same(&expected, "stdin.wasm checkpointed in a blocked read");
}

#[test]
fn interval_snapshots_of_a_running_program_each_restore_to_its_tail() {
    let dir = TempDir::new("ckpt-wasi-interval");
    let module = guest("sleeps.wasm");
    let args = ["12", "40"];
    let snaps = dir.0.join("snapshots");
    std::fs::create_dir(&snaps).unwrap();
    let snaps_arg = snaps.display().to_string();
    let mut run = vec!["run", "--leave-running", "--checkpoint-on", "interval:50ms"];
    run.extend(["--snapshot", &snaps_arg, &module]);
    run.extend(args);
    let full = Tern::spawn(&run, Stdio::null()).finish();
    let mut plain = vec!["run", module.as_str()];
    plain.extend(args);
    let uninterrupted = Tern::spawn(&plain, Stdio::null()).finish();
    let mut expected = Outcome::default();
    expected.add(&uninterrupted);
    let mut outcome = Outcome::default();
    outcome.add(&full);
    outcome.assert_same(&expected, "with interval snapshots and --leave-running");

    let mut numbered: Vec<PathBuf> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    numbered.sort();
    // ~550 ms of sleeping and work: about ten snapshots; a loaded machine may take fewer.
    assert!(numbered.len() >= 3, "{numbered:?}");
    let middle = numbered[numbered.len() / 2].display().to_string();
    let tail = Tern::spawn(&["restore", &middle, "--module", &module], Stdio::null()).finish();
    assert_eq!(tail.status.code(), full.status.code(), "{}", tail.stderr);
    // What the restored run prints is what the full run printed after the snapshot: a
    // suffix starting on a line boundary (the program writes whole lines, unbuffered).
    let stdout = &expected.stdout;
    assert!(stdout.ends_with(&tail.stdout), "{middle}:\n{}", tail.stdout);
    let before = &stdout[..stdout.len() - tail.stdout.len()];
    assert!(
        before.is_empty() || before.ends_with('\n'),
        "{}",
        tail.stdout
    );
    assert!(
        !tail.stdout.is_empty() && !before.is_empty(),
        "{middle} is not in the middle"
    );
    assert_eq!(tail.stderr, expected.stderr, "stderr after {middle}");
}
