//! Live migration (`tern serve`, `tern run --control`, `tern migrate`): two hosts in
//! separate network namespaces where `ip netns` is permitted (loopback otherwise, with a
//! note), and faults injected by a small proxy in the test. Every wait is bounded. Each
//! test names the engines (`--engine` of the source's `tern run` and of each `tern
//! serve`): interpreter and fast tier, and moves from one to the other.

use crate::util::TempDir;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHURN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/guests/migrate/churn.wasm"
);
/// The program's arguments: 16 MiB, 60 steps of 8 hot pages, 20 ms apart (about 1.5 s).
const ARGS: [&str; 4] = ["16", "60", "8", "20"];
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

pub(crate) fn port() -> u16 {
    let base = 20000 + (std::process::id() % 20000) as u16;
    base + NEXT_PORT.fetch_add(1, Ordering::Relaxed)
}

/// Two hosts: network namespaces joined by a veth pair, removed on drop (even when the
/// test fails); or, where namespaces are not permitted, both on loopback.
pub(crate) struct Hosts {
    pub(crate) names: Option<[String; 2]>,
    pub(crate) addrs: [String; 2],
}

impl Hosts {
    /// Both hosts on loopback (the fault tests put a proxy between them).
    pub(crate) fn loopback() -> Hosts {
        Hosts {
            names: None,
            addrs: ["127.0.0.1".into(), "127.0.0.1".into()],
        }
    }

    pub(crate) fn new(tag: &str) -> Hosts {
        let id = format!("{}{tag}", std::process::id() % 100000);
        let (a, b) = (format!("ternA{id}"), format!("ternB{id}"));
        let net = 10 + std::process::id() % 200;
        let sub = tag.bytes().map(u32::from).sum::<u32>() % 250;
        let hosts = Hosts {
            names: Some([a.clone(), b.clone()]),
            addrs: [format!("10.{net}.{sub}.1"), format!("10.{net}.{sub}.2")],
        };
        let (va, vb) = (format!("va{id}"), format!("vb{id}"));
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), a.clone()],
            vec!["netns".into(), "add".into(), b.clone()],
            vec![
                "link".into(),
                "add".into(),
                va.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                vb.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                va.clone(),
                "netns".into(),
                a.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                vb.clone(),
                "netns".into(),
                b.clone(),
            ],
            vec![
                "-n".into(),
                a.clone(),
                "addr".into(),
                "add".into(),
                format!("{}/24", hosts.addrs[0]),
                "dev".into(),
                va.clone(),
            ],
            vec![
                "-n".into(),
                b.clone(),
                "addr".into(),
                "add".into(),
                format!("{}/24", hosts.addrs[1]),
                "dev".into(),
                vb.clone(),
            ],
            vec![
                "-n".into(),
                a.clone(),
                "link".into(),
                "set".into(),
                va,
                "up".into(),
            ],
            vec![
                "-n".into(),
                b.clone(),
                "link".into(),
                "set".into(),
                vb,
                "up".into(),
            ],
            vec![
                "-n".into(),
                a,
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
            vec![
                "-n".into(),
                b,
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
        ];
        for step in steps {
            let ok = Command::new("ip")
                .args(&step)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                println!(
                    "note: `ip {}` not permitted; both hosts on loopback",
                    step.join(" ")
                );
                drop(hosts);
                return Hosts::loopback();
            }
        }
        hosts
    }

    /// `tern ARGS` on host `i` (0 = A, 1 = B).
    pub(crate) fn tern(&self, i: usize, args: &[&str]) -> Command {
        match &self.names {
            Some(names) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &names[i], env!("CARGO_BIN_EXE_tern")]);
                c.args(args);
                c
            }
            None => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_tern"));
                c.args(args);
                c
            }
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if let Some(names) = &self.names {
            for n in names {
                let _ = Command::new("ip").args(["netns", "del", n]).status();
            }
        }
    }
}

/// A child process killed on drop, with its output collected by threads.
pub(crate) struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Proc {
    pub(crate) fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let collect = |r: Box<dyn Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let t = text.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    let mut t = t.lock().unwrap();
                    t.push_str(&line);
                    t.push('\n');
                }
            });
            text
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Proc { child, out, err }
    }

    pub(crate) fn out(&self) -> String {
        self.out.lock().unwrap().clone()
    }
    pub(crate) fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits (bounded) until `what` shows in stdout or stderr.
    pub(crate) fn wait_for(&self, what: &str) {
        let start = Instant::now();
        while !self.out().contains(what) && !self.err().contains(what) {
            assert!(
                start.elapsed() < LIMIT,
                "timed out waiting for `{what}`; stdout:\n{}\nstderr:\n{}",
                self.out(),
                self.err()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (bounded) for the exit status.
    pub(crate) fn wait(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < LIMIT,
                "timed out; stderr:\n{}",
                self.err()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The uninterrupted run: stdout and log.
pub(crate) fn reference(dir: &Path) -> (String, String) {
    let data = dir.join("ref");
    std::fs::create_dir_all(&data).unwrap();
    let dirarg = format!("{}::/data", data.display());
    let mut args = vec!["run", "--dir", &dirarg, CHURN];
    args.extend(ARGS);
    let out = crate::util::tern(&args);
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    (
        crate::util::stdout(&out),
        std::fs::read_to_string(data.join("log.txt")).unwrap(),
    )
}

pub(crate) fn serve(hosts: &Hosts, i: usize, port: u16, data: &Path, extra: &[&str]) -> Proc {
    std::fs::create_dir_all(data).unwrap();
    let listen = format!("{}:{port}", hosts.addrs[i]);
    let dirarg = format!("{}::/data", data.display());
    let mut args = vec!["serve", "--listen", &listen, "--dir", &dirarg];
    args.extend(extra);
    let p = Proc::spawn(hosts.tern(i, &args));
    p.wait_for("listening on");
    p
}

/// The churn guest under `tern run --engine ENGINE --control CONTROL` on host A, once it
/// is well under way.
fn source(hosts: &Hosts, data: &Path, control: &Path, engine: &str) -> Proc {
    let control = control.display().to_string();
    source_logging_to(hosts, data, &control, engine, "/data/log.txt")
}

/// [`source`] with a control endpoint (a socket path or a loopback address), logging to
/// `log` (a guest path) instead of the default file.
pub(crate) fn source_logging_to(
    hosts: &Hosts,
    data: &Path,
    control: &str,
    engine: &str,
    log: &str,
) -> Proc {
    std::fs::create_dir_all(data).unwrap();
    let dirarg = format!("{}::/data", data.display());
    let mut args = vec![
        "run",
        "--engine",
        engine,
        "--control",
        control,
        "--dir",
        &dirarg,
        CHURN,
    ];
    args.extend(ARGS);
    args.push(log);
    let p = Proc::spawn(hosts.tern(0, &args));
    p.wait_for("step 5\n");
    p
}

pub(crate) fn migrate(
    hosts: &Hosts,
    host: usize,
    to: &str,
    control: &Path,
    flags: &[&str],
) -> (i32, String) {
    let control = control.display().to_string();
    let mut args = vec!["migrate"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--to", to, &control]);
    let mut p = Proc::spawn(hosts.tern(host, &args));
    let code = p.wait();
    (code, p.err())
}

/// Program lines of a process's stdout.
pub(crate) fn program_lines(text: &str) -> String {
    text.lines()
        .filter(|l| l.starts_with("step") || l.starts_with("done") || l.starts_with("filled"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Moves the churn guest once from host A (running on `engines[0]`) to a `tern serve`
/// on host B (running arrivals on `engines[1]`); `flags` go to `tern migrate`. Output
/// and files at the end equal an uninterrupted run's. Returns `tern migrate`'s report.
fn migrated_once(tag: &str, flags: &[&str], engines: [&str; 2]) -> String {
    let dir = TempDir::new(&format!("migrate-{tag}"));
    let (ref_out, ref_log) = reference(&dir.0);
    let hosts = Hosts::new(tag);
    let port = port();
    let mut target = serve(
        &hosts,
        1,
        port,
        &dir.0.join("b"),
        &["--max-migrations", "1", "--engine", engines[1]],
    );
    let control = dir.0.join("ctl.sock");
    let mut src = source(&hosts, &dir.0.join("a"), &control, engines[0]);
    let to = format!("{}:{port}", hosts.addrs[1]);
    let (code, err) = migrate(&hosts, 0, &to, &control, flags);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("downtime"), "{err}");
    assert_eq!(src.wait(), 0, "{}", src.err());
    assert!(src.err().contains("migrated to"), "{}", src.err());
    assert_eq!(target.wait(), 0, "{}", target.err());
    assert!(target.err().contains("exit status 0"), "{}", target.err());
    let both = program_lines(&src.out()) + &program_lines(&target.out());
    assert_eq!(both, ref_out);
    let log = std::fs::read_to_string(dir.0.join("b/log.txt")).unwrap();
    assert_eq!(log, ref_log);
    err
}

#[test]
fn migrate_mid_run_same_output_and_files() {
    migrated_once("m", &[], ["interp", "interp"]);
}

#[test]
fn migrate_stop_and_copy_same_output() {
    migrated_once("s", &["--stop-and-copy"], ["interp", "interp"]);
}

/// The numbers of `tern migrate`'s final report: (rounds, chunks, last chunks).
fn report_numbers(report: &str) -> (u64, u64, u64) {
    let line = report
        .lines()
        .find(|l| l.contains("done: downtime"))
        .unwrap_or_else(|| panic!("no final report in:\n{report}"));
    let after = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    (after("rounds "), after("chunks "), after("(last "))
}

#[test]
fn migrate_fast_to_fast_precopy() {
    let report = migrated_once("ff", &[], ["fast", "fast"]);
    println!("{report}");
    let (rounds, chunks, last) = report_numbers(&report);
    // 16 MiB are 4096 chunks; the program rewrites 8 pages per 20 ms step. With write
    // tracking, memory goes before the pause and only what was written since follows.
    if report.contains("tracking userfaultfd-wp") {
        assert!(rounds >= 2, "{report}");
        assert!(chunks >= 4096, "{report}");
        assert!(last < 512, "the pause sends only recent writes: {report}");
    } else {
        println!("note: no write tracking here: {report}");
    }
}

#[test]
fn migrate_fast_stop_and_copy() {
    migrated_once("fs", &["--stop-and-copy"], ["fast", "fast"]);
}

#[test]
fn migrate_fast_to_interp() {
    migrated_once("fi", &[], ["fast", "interp"]);
}

#[test]
fn migrate_interp_to_fast() {
    migrated_once("if", &[], ["interp", "fast"]);
}

#[test]
fn migrate_twice_a_to_b_to_a() {
    a_to_b_to_a("t", ["interp", "interp", "interp"]);
}

#[test]
fn migrate_twice_engine_changing_fast_interp_fast() {
    a_to_b_to_a("e", ["fast", "interp", "fast"]);
}

/// The second move starts from a program restored on the fast tier (running its
/// continuation clones when the move comes).
#[test]
fn migrate_twice_engine_changing_interp_fast_interp() {
    a_to_b_to_a("g", ["interp", "fast", "interp"]);
}

/// Host A (`engines[0]`) → `tern serve` on B (`engines[1]`) → `tern serve` on A
/// (`engines[2]`); the output and the file equal an uninterrupted run's.
fn a_to_b_to_a(tag: &str, engines: [&str; 3]) {
    let dir = TempDir::new(&format!("migrate-aba-{tag}"));
    let (ref_out, ref_log) = reference(&dir.0);
    let hosts = Hosts::new(tag);
    let (pa, pb) = (port(), port());
    let ctl_dir = dir.0.join("ctl-b");
    std::fs::create_dir_all(&ctl_dir).unwrap();
    let ctl_arg = ctl_dir.display().to_string();
    let mut b = serve(
        &hosts,
        1,
        pb,
        &dir.0.join("b"),
        &[
            "--max-migrations",
            "1",
            "--control-dir",
            &ctl_arg,
            "--engine",
            engines[1],
        ],
    );
    let mut a = serve(
        &hosts,
        0,
        pa,
        &dir.0.join("a2"),
        &["--max-migrations", "1", "--engine", engines[2]],
    );
    let control = dir.0.join("ctl.sock");
    let mut src = source(&hosts, &dir.0.join("a"), &control, engines[0]);
    let (code, err) = migrate(
        &hosts,
        0,
        &format!("{}:{pb}", hosts.addrs[1]),
        &control,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(src.wait(), 0);
    let on_b = ctl_dir.join("migration-1.sock");
    let start = Instant::now();
    while !b.out().contains("step 25\n") {
        assert!(start.elapsed() < LIMIT, "{}", b.err());
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, err) = migrate(&hosts, 1, &format!("{}:{pa}", hosts.addrs[0]), &on_b, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(b.wait(), 0);
    assert_eq!(a.wait(), 0);
    let all = program_lines(&src.out()) + &program_lines(&b.out()) + &program_lines(&a.out());
    assert_eq!(all, ref_out);
    assert_eq!(
        std::fs::read_to_string(dir.0.join("a2/log.txt")).unwrap(),
        ref_log
    );
}

/// A proxy on loopback in front of `to` that forwards the source's bytes and applies
/// `fault` once `after` bytes went through: `Cut` drops both connections, `Flip` flips
/// one byte. Returns its port.
#[derive(Clone, Copy)]
enum Fault {
    Cut,
    Flip,
}

fn proxy(to: String, after: usize, fault: Fault) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let Ok(mut server) = TcpStream::connect(&to) else {
            return;
        };
        let (mut s2, mut c2) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut s2, &mut c2);
        });
        let mut sent = 0usize;
        let mut buf = vec![0u8; 65536];
        let mut done = false;
        while let Ok(n) = client.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &mut buf[..n];
            if !done && sent + n > after {
                done = true;
                match fault {
                    Fault::Cut => {
                        let _ = server.write_all(&chunk[..after - sent]);
                        let _ = server.shutdown(std::net::Shutdown::Both);
                        let _ = client.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    Fault::Flip => chunk[after - sent] ^= 0x40,
                }
            }
            sent += n;
            if server.write_all(chunk).is_err() {
                break;
            }
        }
    });
    port
}

/// The source (on `engine`) tries a migration that fails as `fail` arranges; it must
/// continue and complete exactly as an uninterrupted run, and the target must run
/// nothing.
fn survives(
    tag: &str,
    engine: &str,
    reason: &str,
    fail: impl FnOnce(&Path, u16) -> (String, Option<Proc>),
) {
    let dir = TempDir::new(tag);
    let (ref_out, ref_log) = reference(&dir.0);
    let hosts = Hosts::loopback();
    let control = dir.0.join("ctl.sock");
    let mut src = source(&hosts, &dir.0.join("a"), &control, engine);
    let (to, target) = fail(&dir.0, port());
    let (code, err) = migrate(&hosts, 0, &to, &control, &[]);
    assert_eq!(code, 1, "the migration must fail: {err}");
    assert!(err.contains("continues at the source"), "{err}");
    assert!(err.contains(reason), "expected `{reason}` in: {err}");
    assert_eq!(src.wait(), 0, "{}", src.err());
    assert!(src.err().contains("continues here"), "{}", src.err());
    assert_eq!(
        program_lines(&src.out()),
        ref_out,
        "the source completes the program"
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("a/log.txt")).unwrap(),
        ref_log
    );
    if let Some(target) = target {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            program_lines(&target.out()),
            "",
            "nothing runs on the target"
        );
        assert!(!target.err().contains("exit status"), "{}", target.err());
    }
}

#[test]
fn migrate_fault_connection_cut() {
    survives("migrate-cut", "interp", "", |dir, port| {
        let t = serve(&Hosts::loopback(), 1, port, &dir.join("b"), &[]);
        let p = proxy(format!("127.0.0.1:{port}"), 3 << 20, Fault::Cut);
        (format!("127.0.0.1:{p}"), Some(t))
    });
}

#[test]
fn migrate_fault_corrupted_frame() {
    survives("migrate-flip", "interp", "corrupted frame", |dir, port| {
        let t = serve(&Hosts::loopback(), 1, port, &dir.join("b"), &[]);
        let p = proxy(format!("127.0.0.1:{port}"), 2 << 20, Fault::Flip);
        (format!("127.0.0.1:{p}"), Some(t))
    });
}

#[test]
fn migrate_fault_missing_preopen() {
    refused_for_missing_preopen("migrate-nodir", "interp");
}

#[test]
fn migrate_fast_fault_missing_preopen() {
    refused_for_missing_preopen("migrate-fast-nodir", "fast");
}

/// The target has no `--dir` for the program's preopen: it refuses after everything
/// arrived, when the source is paused, which then continues.
fn refused_for_missing_preopen(tag: &str, engine: &str) {
    survives(tag, engine, "missing preopen", |_dir, port| {
        let hosts = Hosts::loopback();
        let listen = format!("127.0.0.1:{port}");
        let t = Proc::spawn(hosts.tern(1, &["serve", "--engine", engine, "--listen", &listen]));
        t.wait_for("listening on");
        (listen, Some(t))
    });
}

#[test]
fn migrate_fault_target_killed() {
    target_killed("migrate-kill", "interp");
}

#[test]
fn migrate_fast_fault_target_killed() {
    target_killed("migrate-fast-kill", "fast");
}

/// The target is killed after 2 MiB of pre-copy arrived.
fn target_killed(tag: &str, engine: &str) {
    survives(tag, engine, "", |dir, port| {
        let hosts = Hosts::loopback();
        let t = serve(&hosts, 1, port, &dir.join("b"), &[]);
        // A proxy that kills the target once 2 MiB went through.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = listener.local_addr().unwrap().port();
        let pid = t.child.id();
        std::thread::spawn(move || {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            let (mut s2, mut c2) = (server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
            });
            let mut sent = 0;
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = client.read(&mut buf) {
                if n == 0 || server.write_all(&buf[..n]).is_err() {
                    break;
                }
                sent += n;
                if sent > 2 << 20 {
                    // The target process this test started.
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    break;
                }
            }
        });
        (format!("127.0.0.1:{p}"), Some(t))
    });
}

#[test]
fn migrate_on_file_trigger() {
    let dir = TempDir::new("migrate-trigger");
    let (ref_out, ref_log) = reference(&dir.0);
    let hosts = Hosts::new("f");
    let port = port();
    let mut target = serve(
        &hosts,
        1,
        port,
        &dir.0.join("b"),
        &["--max-migrations", "1"],
    );
    let data = dir.0.join("a");
    std::fs::create_dir_all(&data).unwrap();
    let dirarg = format!("{}::/data", data.display());
    let trigger = dir.0.join("go");
    let on = format!("file:{}", trigger.display());
    let to = format!("{}:{port}", hosts.addrs[1]);
    let mut args = vec![
        "run",
        "--migrate-on",
        &on,
        "--migrate-to",
        &to,
        "--dir",
        &dirarg,
        CHURN,
    ];
    args.extend(ARGS);
    let mut src = Proc::spawn(hosts.tern(0, &args));
    src.wait_for("step 5\n");
    std::fs::write(&trigger, "").unwrap();
    assert_eq!(src.wait(), 0, "{}", src.err());
    assert!(src.err().contains("migrated to"), "{}", src.err());
    assert_eq!(target.wait(), 0, "{}", target.err());
    assert_eq!(
        program_lines(&src.out()) + &program_lines(&target.out()),
        ref_out
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("b/log.txt")).unwrap(),
        ref_log
    );
}

const GROW: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/guests/migrate/grow.wasm"
);
/// 100 steps, each allocating 512 KiB more (50 MiB in all), 15 ms apart.
const GROW_ARGS: [&str; 3] = ["100", "512", "15"];

/// A fast target writes pre-copy pages into the memories of the instance it will run,
/// growing them as the source's memory grows between rounds: the program, whose heap
/// grows at every step, prints exactly what an uninterrupted run prints.
#[test]
fn migrate_fast_memory_grows_during_precopy() {
    let dir = TempDir::new("migrate-grow");
    let mut args = vec!["run", "--engine", "fast", GROW];
    args.extend(GROW_ARGS);
    let reference = crate::util::tern(&args);
    assert!(
        reference.status.success(),
        "{}",
        crate::util::stderr(&reference)
    );
    let ref_out = crate::util::stdout(&reference);
    assert!(ref_out.contains("done checksum"), "{ref_out}");
    let hosts = Hosts::new("gr");
    let port = port();
    let mut target = serve(
        &hosts,
        1,
        port,
        &dir.0.join("b"),
        &["--max-migrations", "1", "--engine", "fast"],
    );
    let control = dir.0.join("ctl.sock");
    let control_arg = control.display().to_string();
    let mut args = vec!["run", "--engine", "fast", "--control", &control_arg, GROW];
    args.extend(GROW_ARGS);
    let mut src = Proc::spawn(hosts.tern(0, &args));
    src.wait_for("step 10 ");
    let to = format!("{}:{port}", hosts.addrs[1]);
    let (code, report) = migrate(&hosts, 0, &to, &control, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(src.wait(), 0, "{}", src.err());
    assert_eq!(target.wait(), 0, "{}", target.err());
    assert!(target.err().contains("exit status 0"), "{}", target.err());
    let both = program_lines(&src.out()) + &program_lines(&target.out());
    assert_eq!(both, ref_out);
    println!("{report}\n{}", target.err());
    let (rounds, _, _) = report_numbers(&report);
    if report.contains("tracking userfaultfd-wp") {
        assert!(rounds >= 2, "{report}");
    }
}

/// A proxy on loopback in front of `to` that forwards everything up to the target's
/// "running" frame (type 17): there it cuts both connections. Frames are a type byte, a
/// little-endian `u32` payload length, the payload and a 4-byte checksum. Returns its
/// port.
pub(crate) fn reply_cutter(to: String) -> u16 {
    const RUNNING: u8 = 17;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        let Ok(server) = TcpStream::connect(&to) else {
            return;
        };
        let (mut from_client, mut to_server) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_client, &mut to_server);
        });
        let (mut from_server, mut to_client) = (server, client);
        let mut head = [0u8; 5];
        while from_server.read_exact(&mut head).is_ok() && head[0] != RUNNING {
            let len = u32::from_le_bytes(head[1..].try_into().unwrap()) as usize;
            let mut rest = vec![0u8; len + 4];
            if from_server.read_exact(&mut rest).is_err()
                || to_client.write_all(&head).is_err()
                || to_client.write_all(&rest).is_err()
            {
                break;
            }
        }
        let _ = from_server.shutdown(std::net::Shutdown::Both);
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    port
}

/// The target's "running" reply is lost: the source continues the program, and the
/// target, which never gets the source's commit, discards its restored copy (nothing
/// runs there) and takes back the file it wrote under its `--dir`.
#[test]
fn migrate_fault_running_reply_lost() {
    for engine in ["interp", "fast"] {
        let dir = TempDir::new(&format!("migrate-nocommit-{engine}"));
        let (ref_out, ref_log) = reference(&dir.0);
        let hosts = Hosts::loopback();
        let port = port();
        let mut target = serve(
            &hosts,
            1,
            port,
            &dir.0.join("b"),
            &["--max-migrations", "1", "--engine", engine],
        );
        let control = dir.0.join("ctl.sock");
        let mut src = source(&hosts, &dir.0.join("a"), &control, engine);
        let p = reply_cutter(format!("127.0.0.1:{port}"));
        let (code, err) = migrate(&hosts, 0, &format!("127.0.0.1:{p}"), &control, &[]);
        assert_eq!(code, 1, "the migration must fail: {err}");
        assert_eq!(src.wait(), 0, "{}", src.err());
        assert!(src.err().contains("continues here"), "{}", src.err());
        assert_eq!(program_lines(&src.out()), ref_out);
        assert_eq!(
            std::fs::read_to_string(dir.0.join("a/log.txt")).unwrap(),
            ref_log
        );
        assert_eq!(target.wait(), 0, "{}", target.err());
        assert!(target.err().contains("did not commit"), "{}", target.err());
        assert_eq!(
            program_lines(&target.out()),
            "",
            "nothing runs on the target"
        );
        assert!(
            !dir.0.join("b/log.txt").exists(),
            "the file written for the refused program is taken back"
        );
    }
}
