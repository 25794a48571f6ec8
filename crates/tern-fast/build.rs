//! `TERN_PASS_ID`: a hash of everything that decides what the fast tier makes of a
//! module — the sources of `tern-instrument` (the pass) and of this crate (its rewrites,
//! the host side of the ABI) and `Cargo.lock` (the versions of the Wasm encoder and
//! parser). The prepared-module cache (`src/prepared_cache.rs`) keys its entries with it,
//! so a build with another pass never reads an entry an older build wrote, even while
//! the version number stays the same.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let inputs = [
        here.join("src"),
        here.join("../tern-instrument/src"),
        here.join("../../Cargo.lock"),
    ];
    let mut files = Vec::new();
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
        collect(input, &mut files);
    }
    files.sort();
    let mut hash = Sha256::new();
    for file in &files {
        // Relative names, so the hash does not depend on where the checkout is.
        let name = file.strip_prefix(&here).unwrap_or(file);
        hash.update(name.to_string_lossy().as_bytes());
        hash.update([0]);
        let bytes = std::fs::read(file).unwrap_or_default();
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    let id: String = hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=TERN_PASS_ID={id}");
}

/// Every file under `path` (or `path` itself).
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                collect(&entry.path(), out);
            }
        }
        Err(_) if path.is_file() => out.push(path.to_path_buf()),
        Err(_) => {}
    }
}
