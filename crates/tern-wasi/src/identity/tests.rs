//! A file that changed between checkpoint and restore fails the rebuild; a file the
//! checkpoint could not get back by its path fails the capture.

use super::SAMPLE;
use crate::abi::rights;
use crate::testutil::{Guest, TempDir};
use crate::{
    CaptureErrorKind, DescriptorKind, FileIdentity, SetupError, WasiCtx, WasiCtxBuilder, WasiState,
};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const READ: u64 = rights::FD_READ | rights::FD_SEEK | rights::FD_TELL;
const WRITE_ONLY: u64 = rights::FD_WRITE | rights::FD_SEEK;

/// `/data` is fd 3, so the first file the guest opens is fd 4.
const FD: u32 = 4;

/// A guest with `name` (holding `content`) open for reading and 3 bytes read, and the
/// state taken then, through JSON like a snapshot.
fn checkpoint_with_open_file(dir: &TempDir, name: &str, content: &[u8]) -> WasiState {
    std::fs::write(dir.path().join(name), content).unwrap();
    let mut g = guest(dir);
    assert_eq!(g.open(3, name, 0, READ), Ok(FD));
    assert_eq!(g.read(FD, 3), Ok(content[..3].to_vec()));
    through_json(&g.ctx.state().unwrap())
}

fn guest(dir: &TempDir) -> Guest {
    Guest::new(
        WasiCtxBuilder::new()
            .preopened_dir(dir.path(), "/data")
            .build()
            .unwrap(),
    )
}

fn through_json(state: &WasiState) -> WasiState {
    serde_json::from_str(&serde_json::to_string(state).unwrap()).unwrap()
}

fn rebuild(dir: &TempDir, state: &WasiState) -> Result<WasiCtx, SetupError> {
    WasiCtx::rebuild(state, &[(dir.path(), "/data")])
}

/// The rebuild fails with `Changed` for fd 4; returns what differs.
fn changed(dir: &TempDir, state: &WasiState) -> String {
    match rebuild(dir, state) {
        Err(SetupError::Changed { fd, what, .. }) => {
            assert_eq!(fd, FD);
            what
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("the changed file was accepted"),
    }
}

fn identity(state: &WasiState, fd: u32) -> FileIdentity {
    let DescriptorKind::File(file) = &state.fds[&fd].kind else {
        panic!("fd {fd} is not a file")
    };
    file.identity.clone().expect("identity recorded")
}

fn set_mtime(path: &Path, ns: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_nanos(ns))
        .unwrap();
}

#[test]
fn an_unchanged_file_restores_at_its_offset() {
    let dir = TempDir::new("id-same");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"hello world");
    let recorded = identity(&state, FD);
    assert_eq!(recorded.size, 11);
    assert_eq!(recorded.fingerprint.as_ref().map(String::len), Some(64));
    let mut g = Guest::new(rebuild(&dir, &state).unwrap());
    assert_eq!(g.read(FD, 100), Ok(b"lo world".to_vec()));
    // The live context holds no stale identity; a new capture takes it afresh.
    assert_eq!(identity(&g.ctx.state().unwrap(), FD), recorded);
}

#[test]
fn a_truncated_file_is_refused_with_a_message_naming_it() {
    let dir = TempDir::new("id-trunc");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"hello world");
    std::fs::write(dir.path().join("in.txt"), b"hello").unwrap();
    let err = rebuild(&dir, &state).expect_err("refused");
    let host = dir.path().join("in.txt");
    assert_eq!(
        err.to_string(),
        format!(
            "fd 4 (/data/in.txt → {}): file changed since the checkpoint: \
             size 5 bytes, snapshot recorded 11",
            host.display()
        )
    );
}

#[test]
fn an_appended_to_file_is_refused() {
    let dir = TempDir::new("id-append");
    let state = checkpoint_with_open_file(&dir, "log", b"line 1\n");
    let mut file = std::fs::File::options()
        .append(true)
        .open(dir.path().join("log"))
        .unwrap();
    std::io::Write::write_all(&mut file, b"line 2\n").unwrap();
    assert_eq!(changed(&dir, &state), "size 14 bytes, snapshot recorded 7");
}

#[test]
fn a_same_size_file_with_other_content_is_refused() {
    let dir = TempDir::new("id-content");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"hello world");
    std::fs::write(dir.path().join("in.txt"), b"HELLO WORLD").unwrap();
    assert_eq!(
        changed(&dir, &state),
        "same size (11 bytes) but different content"
    );
}

#[test]
fn a_file_replaced_by_rename_is_refused() {
    let dir = TempDir::new("id-rename");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"version 1");
    // The usual atomic update: write a new file, rename it over the old one.
    std::fs::write(dir.path().join("in.txt.new"), b"version 2").unwrap();
    std::fs::rename(dir.path().join("in.txt.new"), dir.path().join("in.txt")).unwrap();
    assert_eq!(
        changed(&dir, &state),
        "same size (9 bytes) but different content"
    );
}

#[test]
fn a_large_file_edited_in_the_middle_is_refused_by_its_time() {
    let dir = TempDir::new("id-large");
    let content: Vec<u8> = (0..5 * SAMPLE).map(|i| (i % 251) as u8).collect();
    let state = checkpoint_with_open_file(&dir, "big", &content);
    let recorded = identity(&state, FD);
    // An edit the sampled fingerprint cannot see. (The kernel's file times are only as
    // fine as its clock tick, so the new time is set explicitly.)
    let path = dir.path().join("big");
    let mut edited = content.clone();
    edited[(2 * SAMPLE) as usize] ^= 0xff;
    std::fs::write(&path, &edited).unwrap();
    set_mtime(&path, recorded.mtime_ns + 1);
    let what = changed(&dir, &state);
    assert!(what.starts_with("modification time "), "{what}");

    // With the time it had, the same bytes as at the checkpoint restore fine.
    std::fs::write(&path, &content).unwrap();
    set_mtime(&path, recorded.mtime_ns);
    let mut g = Guest::new(rebuild(&dir, &state).unwrap());
    assert_eq!(g.read(FD, 4), Ok(content[3..7].to_vec()));
    // A change in the sampled tail is seen whatever the time says.
    edited = content.clone();
    *edited.last_mut().unwrap() ^= 0xff;
    std::fs::write(&path, &edited).unwrap();
    set_mtime(&path, recorded.mtime_ns);
    drop(g);
    assert!(changed(&dir, &state).contains("different content"));
}

#[test]
fn a_small_file_copied_without_its_time_restores() {
    // Fully fingerprinted, so equal content is enough (e.g. a plain `cp` elsewhere).
    let dir = TempDir::new("id-copy");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"hello world");
    let recorded = identity(&state, FD);
    set_mtime(
        &dir.path().join("in.txt"),
        recorded.mtime_ns + 5_000_000_000,
    );
    let mut g = Guest::new(rebuild(&dir, &state).unwrap());
    assert_eq!(g.read(FD, 2), Ok(b"lo".to_vec()));
}

#[test]
fn a_write_only_file_is_fingerprinted_and_checked_too() {
    let dir = TempDir::new("id-wronly");
    let mut g = guest(&dir);
    let fd = g
        .open(3, "out.bin", crate::abi::oflags::CREAT, WRITE_ONLY)
        .unwrap();
    assert_eq!(g.write(fd, b"written by the program"), Ok(22));
    let state = through_json(&g.ctx.state().unwrap());
    assert!(identity(&state, fd).fingerprint.is_some());
    drop(g);
    // The program's own writes are what the checkpoint recorded: that restores.
    assert!(rebuild(&dir, &state).is_ok());
    std::fs::write(dir.path().join("out.bin"), b"WRITTEN BY SOMEONE ELSE").unwrap();
    assert!(matches!(
        rebuild(&dir, &state),
        Err(SetupError::Changed { fd: 4, .. })
    ));
    std::fs::write(dir.path().join("out.bin"), b"written by someone ...").unwrap();
    assert_eq!(
        changed(&dir, &state),
        "same size (22 bytes) but different content"
    );
}

#[test]
fn allow_changed_files_reopens_the_changed_file() {
    let dir = TempDir::new("id-allow");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"hello world");
    std::fs::write(dir.path().join("in.txt"), b"abcdefgh").unwrap();
    assert!(rebuild(&dir, &state).is_err());
    let ctx = WasiCtxBuilder::new()
        .preopened_dir(dir.path(), "/data")
        .allow_changed_files(true)
        .rebuild(&state)
        .unwrap();
    let mut g = Guest::new(ctx);
    assert_eq!(g.read(FD, 100), Ok(b"defgh".to_vec()));
}

#[test]
fn a_state_from_before_identities_restores_unchecked() {
    let dir = TempDir::new("id-old");
    let state = checkpoint_with_open_file(&dir, "in.txt", b"hello world");
    // The JSON of an older tern: file states without the `identity` field.
    let mut json = serde_json::to_value(&state).unwrap();
    let file = &mut json["fds"]["4"]["kind"]["File"];
    assert!(file.as_object_mut().unwrap().remove("identity").is_some());
    let old: WasiState = serde_json::from_value(json).unwrap();
    let DescriptorKind::File(f) = &old.fds[&FD].kind else {
        panic!()
    };
    assert_eq!(f.identity, None);
    std::fs::write(dir.path().join("in.txt"), b"HELLO WORLD").unwrap();
    let mut g = Guest::new(rebuild(&dir, &old).unwrap());
    assert_eq!(g.read(FD, 100), Ok(b"LO WORLD".to_vec()));
}

#[test]
fn an_unlinked_open_file_fails_the_capture() {
    let dir = TempDir::new("id-unlinked");
    std::fs::write(dir.path().join("scratch"), b"temp").unwrap();
    let mut g = guest(&dir);
    assert_eq!(g.open(3, "scratch", 0, READ), Ok(FD));
    assert!(g.ctx.state().is_ok());
    std::fs::remove_file(dir.path().join("scratch")).unwrap();
    let err = g.ctx.state().unwrap_err();
    // Without link counts (the self-hosted build) it is only seen gone from its path.
    #[cfg(not(unix))]
    assert!(matches!(err.kind, CaptureErrorKind::Missing), "{err}");
    #[cfg(unix)]
    assert_eq!(
        err.to_string(),
        format!(
            "fd 4 (/data/scratch → {}) was unlinked while open; tern cannot restore it",
            dir.path().join("scratch").display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_path_that_leads_elsewhere_fails_the_capture() {
    let dir = TempDir::new("id-moved");
    std::fs::write(dir.path().join("a"), b"aaa").unwrap();
    let mut g = guest(&dir);
    assert_eq!(g.open(3, "a", 0, READ), Ok(FD));
    // Moved behind tern's back: the file still has a link, but not at its path.
    std::fs::rename(dir.path().join("a"), dir.path().join("kept")).unwrap();
    let err = g.ctx.state().unwrap_err();
    assert!(matches!(err.kind, CaptureErrorKind::Missing), "{err}");
    // Another file at the path now: a restore would open that one.
    std::fs::write(dir.path().join("a"), b"aaa").unwrap();
    let err = g.ctx.state().unwrap_err();
    assert!(matches!(err.kind, CaptureErrorKind::Replaced), "{err}");
    assert!(err.to_string().contains("/data/a"), "{err}");
    // Back in place: capturable again.
    std::fs::rename(dir.path().join("kept"), dir.path().join("a")).unwrap();
    assert!(g.ctx.state().is_ok());
}
