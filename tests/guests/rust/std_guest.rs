//! Rust guest for tern's WASI tests: what Rust's std does with WASI preview1 (args, env,
//! files, directories, stdin, clocks, sleep, HashMap's random seed, exit status).
//! Run with a preopen at `/data`, args `a b`, env `MODE=test` and some stdin. Exits 3.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args: {args:?}");
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    println!("vars: {vars:?}");

    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let words: Vec<&str> = input.split_whitespace().collect();
    println!("stdin words: {}", words.len());

    fs::create_dir_all("/data/rust/nested/deeper").unwrap();
    fs::write("/data/rust/nested/file.txt", "first line\n").unwrap();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open("/data/rust/nested/file.txt")
        .unwrap();
    writeln!(f, "second line").unwrap();
    drop(f);
    let text = fs::read_to_string("/data/rust/nested/file.txt").unwrap();
    println!("file: {text:?}");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/data/rust/nested/file.txt")
        .unwrap();
    f.seek(SeekFrom::Start(6)).unwrap();
    f.write_all(b"LINE").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut back = String::new();
    f.read_to_string(&mut back).unwrap();
    println!("after seek+write: {back:?}");
    f.set_len(5).unwrap();
    println!("len after set_len: {}", f.metadata().unwrap().len());
    drop(f);

    fs::copy("/data/rust/nested/file.txt", "/data/rust/copy.txt").unwrap();
    fs::rename("/data/rust/copy.txt", "/data/rust/renamed.txt").unwrap();
    fs::hard_link("/data/rust/renamed.txt", "/data/rust/hard.txt").unwrap();
    let mut names: Vec<String> = fs::read_dir("/data/rust")
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let kind = if e.file_type().unwrap().is_dir() { "/" } else { "" };
            format!("{}{kind}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    println!("dir: {names:?}");
    println!(
        "missing: {:?}",
        fs::metadata("/data/rust/nope").map_err(|e| e.kind())
    );
    println!(
        "escape: {:?}",
        fs::read("/etc/passwd").map_err(|e| e.raw_os_error())
    );
    fs::remove_dir_all("/data/rust").unwrap();
    println!("removed: {}", fs::metadata("/data/rust").is_err());

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    println!("after 2020: {}", now.as_secs() > 1_577_836_800);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    println!("slept 30ms: {}", start.elapsed() >= Duration::from_millis(30));

    // RandomState asks random_get for its keys.
    let mut map = HashMap::new();
    for i in 0..100 {
        map.insert(i, i * i);
    }
    println!("map sum: {}", map.values().sum::<i32>());

    eprintln!("bye from stderr");
    std::process::exit(3);
}
