//! The confinement rules, checked on whichever `HostDir` this host uses (cap-std, or the
//! component walker in the self-hosted WASI build).

use super::{HostDir, OpenSpec, Opened};
use crate::errno::Errno;
use crate::testutil::TempDir;

fn tree() -> (TempDir, HostDir) {
    let root = TempDir::new("host");
    let sandbox = root.path().join("sandbox");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(sandbox.join("inside.txt"), "in").unwrap();
    std::fs::write(root.path().join("outside.txt"), "out").unwrap();
    let dir = HostDir::open_ambient(&sandbox).unwrap();
    (root, dir)
}

fn open(dir: &HostDir, path: &str, follow: bool) -> Result<&'static str, Errno> {
    let spec = OpenSpec {
        read: true,
        follow,
        ..OpenSpec::default()
    };
    match dir.open(path, &spec) {
        Ok(Opened::File(_)) => Ok("file"),
        Ok(Opened::Dir(_)) => Ok("dir"),
        Err(e) => Err(e.into()),
    }
}

#[test]
fn escapes_are_refused() {
    let (_root, dir) = tree();
    assert_eq!(open(&dir, "inside.txt", true), Ok("file"));
    assert_eq!(open(&dir, "sub/../inside.txt", true), Ok("file"));
    assert_eq!(open(&dir, "sub", true), Ok("dir"));
    assert_eq!(open(&dir, "../outside.txt", true), Err(Errno::PERM));
    assert_eq!(open(&dir, "sub/../../outside.txt", true), Err(Errno::PERM));
    assert_eq!(open(&dir, "/etc/passwd", true), Err(Errno::PERM));
    assert_eq!(open(&dir, "missing", true), Err(Errno::NOENT));

    // Symlinks may be created pointing anywhere relative, but not followed out.
    dir.symlink("../outside.txt", "esc").unwrap();
    dir.symlink("..", "up").unwrap();
    dir.symlink("sub/../inside.txt", "ok").unwrap();
    assert_eq!(dir.read_link("esc").unwrap(), b"../outside.txt");
    assert_eq!(open(&dir, "esc", true), Err(Errno::PERM));
    assert_eq!(open(&dir, "up/outside.txt", true), Err(Errno::PERM));
    assert_eq!(open(&dir, "esc", false), Err(Errno::LOOP));
    assert_eq!(open(&dir, "ok", true), Ok("file"));
    assert_eq!(
        dir.symlink("/etc/passwd", "abs").map_err(Errno::from),
        Err(Errno::PERM)
    );
    assert_eq!(
        dir.stat("esc", false).unwrap().filetype,
        crate::abi::filetype::SYMBOLIC_LINK
    );
    assert_eq!(
        dir.stat("esc", true).map_err(Errno::from).unwrap_err(),
        Errno::PERM
    );

    // A directory opened below the root is confined to itself.
    let Ok(Opened::Dir(sub)) = dir.open(
        "sub",
        &OpenSpec {
            read: true,
            follow: true,
            directory: true,
            ..OpenSpec::default()
        },
    ) else {
        panic!("sub opens as a directory");
    };
    assert_eq!(open(&sub, "../inside.txt", true), Err(Errno::PERM));
    assert_eq!(
        sub.create_dir("../made").map_err(Errno::from),
        Err(Errno::PERM)
    );
}

#[test]
fn entries_and_stats() {
    let (_root, dir) = tree();
    let mut names: Vec<_> = dir.entries().unwrap().into_iter().map(|e| e.name).collect();
    names.sort();
    assert_eq!(names, ["inside.txt", "sub"]);
    assert_eq!(dir.stat("inside.txt", true).unwrap().size, 2);
    assert_eq!(
        dir.stat_self().unwrap().filetype,
        crate::abi::filetype::DIRECTORY
    );
}
