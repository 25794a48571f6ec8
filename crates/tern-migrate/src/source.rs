//! The sending side: connect, hello, pre-copy rounds, pause, final state, wait for the
//! target's answer; resume the program on any failure.

use crate::dirty::{CHUNK, MemoryRegion, Tracker};
use crate::frame::{kind, put_string, read_frame, write_frame};
use crate::{MAGIC, MigrateError, PROTOCOL_VERSION};
use std::io::{BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use tern_snapshot::Snapshot;
use tern_wasi::{DescriptorKind, WasiState};

/// Chunks per `PAGES` frame (4 MiB before compression).
const BATCH: usize = 1024;

/// A running program as migration sees it; one implementation per engine.
pub trait Program {
    /// Calls `f` with where every memory is now; the locations stay valid while `f`
    /// runs (the engine blocks `memory.grow` meanwhile). No memories: the program ended.
    fn with_memories(&self, f: &mut dyn FnMut(&[MemoryRegion]));
    /// Stops the program at its next safepoint and returns its canonical state, memory
    /// images sized but without pages, WASI state included. The program stays paused.
    fn pause(&mut self) -> Result<Snapshot, String>;
    /// The migration failed after `pause`: the program continues here.
    fn resume(&mut self);
    /// The target runs the program: it ends here.
    fn finish(&mut self);
}

/// How to migrate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The original module's bytes (they travel with the stream).
    pub module: Vec<u8>,
    /// Pause first and send everything: no pre-copy.
    pub stop_and_copy: bool,
    /// The target sees the same files: open files do not travel.
    pub shared_fs: bool,
    /// Stop pre-copy when a round's dirty set is at most this many 4 KiB chunks.
    pub threshold_chunks: usize,
    pub max_rounds: u32,
    /// Connect timeout, and the timeout of every read and write.
    pub timeout: Duration,
    /// Shown by the target in its log.
    pub source_name: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            module: Vec::new(),
            stop_and_copy: false,
            shared_fs: false,
            threshold_chunks: 64,
            max_rounds: 30,
            timeout: Duration::from_secs(20),
            source_name: String::new(),
        }
    }
}

/// How a successful migration went.
#[derive(Debug, Clone)]
pub struct Report {
    /// Memory rounds, the final (paused) one included.
    pub rounds: u32,
    /// Bytes written to the connection.
    pub bytes: u64,
    /// 4 KiB chunks sent, all rounds.
    pub chunks: u64,
    /// From the pause to the target's "running".
    pub downtime: Duration,
    pub total: Duration,
    /// Chunks sent after the pause.
    pub final_chunks: u64,
    pub tracker: &'static str,
}

/// Counts bytes written.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Migrates `program` to the `tern serve` at `addr`. `progress` receives one line per
/// round. On any failure after the pause the program is resumed before this returns.
pub fn migrate(
    addr: &str,
    program: &mut dyn Program,
    opts: &Options,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, MigrateError> {
    let mut paused = false;
    let mut conn = None;
    let mut result = run(addr, program, opts, progress, &mut paused, &mut conn);
    // A target that refuses mid-stream closes the connection while we still write; its
    // reason is waiting to be read.
    if let (Err(MigrateError::Io(_)), Some(stream)) = (&result, &mut conn) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if let Ok((kind::REFUSE, reason)) = read_frame(stream) {
            result = Err(MigrateError::Refused(
                String::from_utf8_lossy(&reason).into_owned(),
            ));
        }
    }
    match &result {
        Ok(_) => program.finish(),
        Err(_) if paused => program.resume(),
        Err(_) => {}
    }
    result
}

fn run(
    addr: &str,
    program: &mut dyn Program,
    opts: &Options,
    progress: &mut dyn FnMut(&str),
    paused: &mut bool,
    conn: &mut Option<TcpStream>,
) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| MigrateError::Protocol(format!("{addr}: no address")))?;
    let stream = TcpStream::connect_timeout(&target, opts.timeout)?;
    stream.set_read_timeout(Some(opts.timeout))?;
    stream.set_write_timeout(Some(opts.timeout))?;
    stream.set_nodelay(true)?;
    let mut reader = stream.try_clone()?;
    *conn = Some(stream.try_clone()?);
    let mut w = BufWriter::with_capacity(
        1 << 20,
        Counting {
            inner: stream,
            bytes: 0,
        },
    );

    // Hello and module; the target answers before any memory is sent.
    let identity = tern_snapshot::ModuleIdentity::of(&opts.module);
    let mut hello = Vec::new();
    hello.extend_from_slice(MAGIC);
    hello.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    put_string(&mut hello, env!("CARGO_PKG_VERSION"));
    hello.extend_from_slice(&identity.sha256);
    hello.extend_from_slice(&identity.len.to_le_bytes());
    hello.push(u8::from(opts.shared_fs));
    put_string(&mut hello, &opts.source_name);
    write_frame(&mut w, kind::HELLO, &hello)?;
    for part in opts.module.chunks(4 << 20) {
        write_frame(&mut w, kind::MODULE, part)?;
    }
    w.flush()?;
    expect(&mut reader, kind::ACCEPT)?;

    let (mut tracker, _why) = Tracker::best();
    let mut chunks_sent = 0u64;
    let mut rounds = 0u32;
    let mut last_dirty = usize::MAX;
    let mut stalled = 0;
    if !opts.stop_and_copy {
        loop {
            rounds += 1;
            let round_start = (Instant::now(), w.get_ref().bytes);
            let Some(sent) = send_dirty(&mut w, program, &mut tracker, rounds == 1)? else {
                return Err(MigrateError::Program(
                    "the program ended during the migration".into(),
                ));
            };
            write_frame(&mut w, kind::ROUND, &rounds.to_le_bytes())?;
            w.flush()?;
            // The next round starts once the target has placed this one: a round then
            // measures what the program dirtied while the pages travelled *and* were
            // written, and the pause never finds the target still catching up (its
            // backlog would be downtime).
            expect(&mut reader, kind::ROUND_DONE)?;
            chunks_sent += sent as u64;
            let secs = round_start.0.elapsed().as_secs_f64().max(1e-6);
            let bytes = w.get_ref().bytes - round_start.1;
            progress(&format!(
                "round {rounds}: {sent} chunks, {} bytes, {:.1} MiB/s",
                bytes,
                bytes as f64 / secs / 1048576.0
            ));
            if rounds > 1 {
                if sent <= opts.threshold_chunks {
                    break;
                }
                stalled = if sent * 10 >= last_dirty * 9 {
                    stalled + 1
                } else {
                    0
                };
                if stalled >= 2 || rounds >= opts.max_rounds {
                    break;
                }
            }
            last_dirty = sent;
        }
    }

    // Pause: the last dirty chunks, the files, the state.
    let snapshot = program.pause().map_err(MigrateError::Program)?;
    *paused = true;
    let pause = Instant::now();
    rounds += 1;
    let Some(last) = send_dirty(&mut w, program, &mut tracker, opts.stop_and_copy)? else {
        return Err(MigrateError::Program(
            "the program ended during the migration".into(),
        ));
    };
    write_frame(&mut w, kind::ROUND, &rounds.to_le_bytes())?;
    chunks_sent += last as u64;
    if !opts.shared_fs {
        send_files(&mut w, &snapshot)?;
    }
    let state = tern_snapshot::encode_snapshot(&snapshot);
    for part in state.chunks(4 << 20) {
        write_frame(&mut w, kind::STATE, part)?;
    }
    write_frame(&mut w, kind::END, &(state.len() as u64).to_le_bytes())?;
    w.flush()?;
    expect(&mut reader, kind::ROUND_DONE)?;
    expect(&mut reader, kind::RUNNING)?;
    // From here the program is the target's: a commit that is lost on its way leaves it
    // running nowhere (the target discards it), never on both hosts.
    write_frame(&mut w, kind::COMMIT, &[])?;
    w.flush()?;
    let report = Report {
        rounds,
        bytes: w.get_ref().bytes,
        chunks: chunks_sent,
        downtime: pause.elapsed(),
        total: started.elapsed(),
        final_chunks: last as u64,
        tracker: tracker.name(),
    };
    Ok(report)
}

/// Reads the target's answer: `want`, or a refusal.
fn expect(reader: &mut TcpStream, want: u8) -> Result<(), MigrateError> {
    let (ty, payload) = read_frame(reader)?;
    match ty {
        t if t == want => Ok(()),
        kind::REFUSE => Err(MigrateError::Refused(
            String::from_utf8_lossy(&payload).into_owned(),
        )),
        t => Err(MigrateError::Protocol(format!(
            "unexpected frame type {t} from the target"
        ))),
    }
}

/// Sends every dirty chunk (every non-zero one when `first`) of every memory; `None`
/// when the program's memories are gone.
fn send_dirty(
    w: &mut impl Write,
    program: &dyn Program,
    tracker: &mut Tracker,
    first: bool,
) -> Result<Option<usize>, MigrateError> {
    let mut sent = 0;
    let mut result = Ok(());
    let mut gone = false;
    program.with_memories(&mut |regions| {
        if regions.is_empty() {
            gone = true;
            return;
        }
        for (i, region) in regions.iter().enumerate() {
            let dirty = tracker.collect(i, *region);
            // SAFETY: `with_memories` guarantees `[ptr, ptr + len)` is allocated while
            // this closure runs. The program may write it concurrently: a torn chunk is
            // dirty again and is sent again in a later round (or after the pause).
            let memory = unsafe { std::slice::from_raw_parts(region.ptr as *const u8, region.len) };
            let pages = (region.len / tern_snapshot::WASM_PAGE) as u32;
            let mut batch: Vec<u32> = Vec::with_capacity(BATCH);
            let mut raw = Vec::with_capacity(BATCH * CHUNK);
            for c in dirty {
                let bytes = &memory[c as usize * CHUNK..][..CHUNK];
                if first && bytes.iter().all(|&b| b == 0) {
                    continue;
                }
                batch.push(c);
                raw.extend_from_slice(bytes);
                if batch.len() == BATCH {
                    sent += batch.len();
                    if let Err(e) = send_batch(w, i as u32, pages, &batch, &raw) {
                        result = Err(e);
                        return;
                    }
                    batch.clear();
                    raw.clear();
                }
            }
            if !batch.is_empty() {
                sent += batch.len();
                if let Err(e) = send_batch(w, i as u32, pages, &batch, &raw) {
                    result = Err(e);
                    return;
                }
            }
        }
    });
    result?;
    Ok((!gone).then_some(sent))
}

fn send_batch(
    w: &mut impl Write,
    memory: u32,
    pages: u32,
    chunks: &[u32],
    raw: &[u8],
) -> Result<(), MigrateError> {
    let mut payload = Vec::with_capacity(12 + chunks.len() * 4 + raw.len() / 2);
    payload.extend_from_slice(&memory.to_le_bytes());
    payload.extend_from_slice(&pages.to_le_bytes());
    payload.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    for c in chunks {
        payload.extend_from_slice(&c.to_le_bytes());
    }
    let start = payload.len();
    payload.resize(
        start + lz4_flex::block::get_maximum_output_size(raw.len()),
        0,
    );
    let n = lz4_flex::block::compress_into(raw, &mut payload[start..])
        .map_err(|e| MigrateError::Program(format!("lz4: {e}")))?;
    payload.truncate(start + n);
    write_frame(w, kind::PAGES, &payload)
}

/// Sends the content of every regular file the program has open.
fn send_files(w: &mut impl Write, snapshot: &Snapshot) -> Result<(), MigrateError> {
    let Some(json) = &snapshot.wasi else {
        return Ok(());
    };
    let state: WasiState = serde_json::from_slice(json)
        .map_err(|e| MigrateError::Program(format!("WASI state: {e}")))?;
    let mut done = std::collections::BTreeSet::new();
    for desc in state.fds.values() {
        let DescriptorKind::File(file) = &desc.kind else {
            continue;
        };
        let loc = &file.location;
        if !done.insert((loc.preopen, loc.path.clone())) {
            continue;
        }
        let Some(preopen) = state.preopens.get(loc.preopen as usize) else {
            continue;
        };
        let host = std::path::Path::new(&preopen.host_path).join(&loc.path);
        let content = std::fs::read(&host).map_err(|e| {
            MigrateError::Program(format!("cannot read open file {}: {e}", host.display()))
        })?;
        let mut head = Vec::new();
        head.extend_from_slice(&loc.preopen.to_le_bytes());
        put_string(&mut head, &loc.path);
        head.extend_from_slice(&(content.len() as u64).to_le_bytes());
        write_frame(w, kind::FILE, &head)?;
        for part in content.chunks(4 << 20) {
            write_frame(w, kind::FILE_DATA, part)?;
        }
    }
    Ok(())
}
