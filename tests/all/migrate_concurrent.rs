//! Several migrations into one `tern serve` at the same time: each arrival is received,
//! restored and run on its own thread, side by side with the others.

use crate::migrate::{Hosts, Proc, port, program_lines, reference, serve, source_logging_to};
use crate::util::TempDir;

/// Two churn programs (one on each engine, each logging to its own file under the same
/// preopen, one with a Unix control socket and one with a loopback TCP control endpoint)
/// are told to move to one target at the same moment. Both arrive, run there at the
/// same time, and end exactly as uninterrupted runs: output and log files.
#[test]
fn migrate_two_programs_into_one_target_at_once() {
    let dir = TempDir::new("migrate-two");
    let (ref_out, ref_log) = reference(&dir.0);
    let hosts = Hosts::new("c");
    let (port, control_port) = (port(), port());
    let mut target = serve(
        &hosts,
        1,
        port,
        &dir.0.join("b"),
        &["--max-migrations", "2"],
    );
    let unix = dir.0.join("one.sock").display().to_string();
    let programs = [
        ("fast", "one", unix),
        ("interp", "two", format!("127.0.0.1:{control_port}")),
    ];
    let mut sources: Vec<Proc> = programs
        .iter()
        .map(|(engine, name, control)| {
            let log = format!("/data/{name}.txt");
            source_logging_to(&hosts, &dir.0.join("a"), control, engine, &log)
        })
        .collect();
    let to = format!("{}:{port}", hosts.addrs[1]);
    let mut requests: Vec<Proc> = programs
        .iter()
        .map(|(_, _, control)| Proc::spawn(hosts.tern(0, &["migrate", "--to", &to, control])))
        .collect();
    for request in &mut requests {
        assert_eq!(request.wait(), 0, "{}", request.err());
    }
    for src in &mut sources {
        assert_eq!(src.wait(), 0, "{}", src.err());
        assert!(src.err().contains("migrated to"), "{}", src.err());
    }
    assert_eq!(target.wait(), 0, "{}", target.err());
    let log = target.err();
    let ended: Vec<usize> = log.match_indices("exit status 0").map(|(i, _)| i).collect();
    let running: Vec<usize> = log.match_indices(": running, ").map(|(i, _)| i).collect();
    assert_eq!((ended.len(), running.len()), (2, 2), "{log}");
    assert!(
        running[1] < ended[0],
        "both programs run on the target at the same time:\n{log}"
    );
    // Every program line of both runs, wherever it was printed, once per program.
    let mut lines: Vec<String> = sources
        .iter()
        .map(|s| program_lines(&s.out()))
        .chain([program_lines(&target.out())])
        .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let mut expected: Vec<String> = ref_out
        .lines()
        .chain(ref_out.lines())
        .map(String::from)
        .collect();
    lines.sort();
    expected.sort();
    assert_eq!(lines, expected);
    for (_, name, _) in programs {
        let moved = std::fs::read_to_string(dir.0.join(format!("b/{name}.txt"))).unwrap();
        assert_eq!(moved, ref_log, "{name}.txt");
    }
}
