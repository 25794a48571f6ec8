//! The receiving side: read and check the hello, write page batches into a [`PageSink`],
//! collect open files and the final state. The caller restores the program and then
//! confirms (the source ends its copy) or refuses (the source resumes).

use crate::dirty::CHUNK;
use crate::frame::{Cursor, kind, read_frame, write_frame};
use crate::sink::{Buffers, PageSink};
use crate::{MAGIC, MigrateError, PROTOCOL_VERSION};
use std::io::BufReader;
use std::net::TcpStream;
use std::time::Duration;
use tern_snapshot::{ModuleIdentity, Snapshot};

const MAX_MODULE: u64 = 256 << 20;
const MAX_STATE: u64 = 256 << 20;
const MAX_MEMORIES: usize = 64;
const MAX_FILES: usize = 4096;
const MAX_FILE_BYTES: u64 = 1 << 30;

/// A connection whose hello was read: who sends what.
pub struct Incoming {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub source_name: String,
    pub peer: String,
    pub tern_version: String,
    pub shared_fs: bool,
    /// The module, checked against the identity in the hello.
    pub module: Vec<u8>,
    pub identity: ModuleIdentity,
    pub bytes: u64,
}

/// A file the program had open, to be written under the target's preopen.
#[derive(Debug, Clone)]
pub struct FileImage {
    /// Index into the WASI state's preopens.
    pub preopen: u32,
    /// Relative to the preopen.
    pub path: String,
    pub content: Vec<u8>,
}

/// Everything the source sent.
pub struct Arrival {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub snapshot: Snapshot,
    /// Memory contents, exactly as large as the snapshot's images say (empty after
    /// [`Incoming::receive_into`], whose sink holds them).
    pub memories: Vec<Vec<u8>>,
    pub files: Vec<FileImage>,
    pub rounds: u32,
    pub bytes: u64,
}

fn protocol(m: impl Into<String>) -> MigrateError {
    MigrateError::Protocol(m.into())
}

/// Reads the hello and the module from a fresh connection (every read times out after
/// `timeout`). Errors are sent back to the source as a refusal too.
pub fn accept_hello(stream: TcpStream, timeout: Duration) -> Result<Incoming, MigrateError> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone()?);
    let result = read_hello(&mut reader);
    match result {
        Ok((source_name, tern_version, shared_fs, module, identity, bytes)) => Ok(Incoming {
            stream,
            reader,
            source_name,
            peer,
            tern_version,
            shared_fs,
            module,
            identity,
            bytes,
        }),
        Err(e) => {
            refuse(&stream, &e.to_string());
            Err(e)
        }
    }
}

type Hello = (String, String, bool, Vec<u8>, ModuleIdentity, u64);

fn read_hello(r: &mut BufReader<TcpStream>) -> Result<Hello, MigrateError> {
    let (ty, payload) = read_frame(r)?;
    if ty != kind::HELLO {
        return Err(protocol(format!("expected a hello, got frame type {ty}")));
    }
    let mut bytes = payload.len() as u64 + 9;
    let mut c = Cursor(&payload);
    if c.take(8, "magic")? != MAGIC {
        return Err(protocol("not a tern migration stream"));
    }
    let version = c.u32("protocol version")?;
    if version != PROTOCOL_VERSION {
        return Err(protocol(format!(
            "protocol version {version}, this tern speaks {PROTOCOL_VERSION}"
        )));
    }
    let tern_version = c.string("tern version")?;
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(c.take(32, "module sha256")?);
    let len = c.u64("module length")?;
    let shared_fs = c.u8("flags")? & 1 != 0;
    let source_name = c.string("source name")?;
    if len > MAX_MODULE {
        return Err(protocol(format!(
            "module of {len} bytes exceeds {MAX_MODULE}"
        )));
    }
    let mut module = Vec::new();
    while (module.len() as u64) < len {
        let (ty, part) = read_frame(r)?;
        bytes += part.len() as u64 + 9;
        if ty != kind::MODULE || module.len() as u64 + part.len() as u64 > len {
            return Err(protocol("bad module frames"));
        }
        module.extend_from_slice(&part);
    }
    let identity = ModuleIdentity { sha256, len };
    identity
        .verify(&module)
        .map_err(|e| protocol(format!("module: {e}")))?;
    Ok((
        source_name,
        tern_version,
        shared_fs,
        module,
        identity,
        bytes,
    ))
}

impl Incoming {
    /// Refuses the migration with `reason` (the source resumes its program).
    pub fn refuse(self, reason: &str) {
        refuse(&self.stream, reason);
    }

    /// Accepts the hello and receives memories, files and the final state; the memories
    /// are assembled in [`Arrival::memories`].
    pub fn receive(self) -> Result<Arrival, MigrateError> {
        let mut buffers = Buffers::default();
        let mut arrival = self.receive_into(&mut buffers)?;
        arrival.memories = buffers.0;
        Ok(arrival)
    }

    /// Accepts the hello and receives memories into `sink`, files and the final state.
    /// When this returns, every memory the state has is in `sink` at its final size.
    pub fn receive_into(mut self, sink: &mut dyn PageSink) -> Result<Arrival, MigrateError> {
        write_frame(&mut self.stream, kind::ACCEPT, &[])?;
        let result = self.receive_rest(sink);
        match result {
            Ok((snapshot, files, rounds, bytes)) => Ok(Arrival {
                stream: self.stream,
                reader: self.reader,
                snapshot,
                memories: Vec::new(),
                files,
                rounds,
                bytes,
            }),
            Err(e) => {
                refuse(&self.stream, &e.to_string());
                Err(e)
            }
        }
    }

    fn receive_rest(
        &mut self,
        sink: &mut dyn PageSink,
    ) -> Result<(Snapshot, Vec<FileImage>, u32, u64), MigrateError> {
        let mut files: Vec<FileImage> = Vec::new();
        let mut file_bytes = 0u64;
        let mut pending_file: Option<(FileImage, u64)> = None;
        let mut state = Vec::new();
        let mut rounds: u32 = 0;
        let mut bytes = self.bytes;
        let mut scratch = Vec::new();
        loop {
            let (ty, payload) = read_frame(&mut self.reader)?;
            bytes += payload.len() as u64 + 9;
            if pending_file.is_some() && ty != kind::FILE_DATA {
                return Err(protocol("file content shorter than announced"));
            }
            match ty {
                kind::PAGES => place_pages(&payload, sink, &mut scratch)?,
                kind::ROUND => {
                    rounds += 1;
                    write_frame(&mut self.stream, kind::ROUND_DONE, &rounds.to_le_bytes())?;
                }
                kind::FILE => {
                    let mut c = Cursor(&payload);
                    let preopen = c.u32("file preopen")?;
                    let path = c.string("file path")?;
                    let size = c.u64("file size")?;
                    file_bytes += size;
                    if files.len() >= MAX_FILES || file_bytes > MAX_FILE_BYTES {
                        return Err(protocol("too many or too large open files"));
                    }
                    let image = FileImage {
                        preopen,
                        path,
                        content: Vec::new(),
                    };
                    if size == 0 {
                        files.push(image);
                    } else {
                        pending_file = Some((image, size));
                    }
                }
                kind::FILE_DATA => {
                    let Some((mut image, size)) = pending_file.take() else {
                        return Err(protocol("file data without a file"));
                    };
                    if image.content.len() as u64 + payload.len() as u64 > size {
                        return Err(protocol("file content longer than announced"));
                    }
                    image.content.extend_from_slice(&payload);
                    if image.content.len() as u64 == size {
                        files.push(image);
                    } else {
                        pending_file = Some((image, size));
                    }
                }
                kind::STATE => {
                    if state.len() as u64 + payload.len() as u64 > MAX_STATE {
                        return Err(protocol("final state too large"));
                    }
                    state.extend_from_slice(&payload);
                }
                kind::END => {
                    let len = Cursor(&payload).u64("state length")?;
                    if len != state.len() as u64 {
                        return Err(protocol("final state length mismatch"));
                    }
                    break;
                }
                t => return Err(protocol(format!("unexpected frame type {t}"))),
            }
        }
        let snapshot = tern_snapshot::decode_snapshot(&state)
            .map_err(|e| protocol(format!("final state: {e}")))?;
        if snapshot.module != self.identity {
            return Err(protocol("final state is of another module"));
        }
        let images = &snapshot.state.memories;
        if sink.count() > images.len() {
            return Err(protocol("pages sent for a memory the state does not have"));
        }
        for (i, image) in images.iter().enumerate() {
            if sink.pages(i) > image.pages {
                return Err(protocol(format!("memory {i}: pages beyond its final size")));
            }
            sink.memory(i, image.pages)?;
        }
        Ok((snapshot, files, rounds, bytes))
    }
}

fn place_pages(
    payload: &[u8],
    sink: &mut dyn PageSink,
    scratch: &mut Vec<u8>,
) -> Result<(), MigrateError> {
    let mut c = Cursor(payload);
    let memory = c.u32("batch memory")? as usize;
    let pages = c.u32("batch pages")?;
    let count = c.u32("batch count")? as usize;
    if memory >= MAX_MEMORIES || pages > 65536 || count > 2048 {
        return Err(protocol("batch header out of range"));
    }
    let indices = c.take(count * 4, "batch indices")?;
    let compressed = c.rest();
    scratch.resize(count * CHUNK, 0);
    let n = lz4_flex::block::decompress_into(compressed, scratch)
        .map_err(|e| protocol(format!("page batch does not decompress: {e}")))?;
    if n != count * CHUNK {
        return Err(protocol("page batch decompresses to the wrong size"));
    }
    let mem = sink.memory(memory, pages)?;
    let chunks = mem.len() / CHUNK;
    for (k, index) in indices.chunks_exact(4).enumerate() {
        let index = u32::from_le_bytes(index.try_into().unwrap()) as usize;
        if index >= chunks {
            return Err(protocol(format!("chunk {index} beyond memory {memory}")));
        }
        mem[index * CHUNK..][..CHUNK].copy_from_slice(&scratch[k * CHUNK..][..CHUNK]);
    }
    Ok(())
}

impl Arrival {
    /// Tells the source the program is restored, then waits (at most `timeout`) for
    /// its commit: only then may the program run here. An error means the source did
    /// not commit (it resumes the program, or its commit was lost): the caller must
    /// discard the program, which then runs nowhere rather than on both hosts.
    pub fn confirm(&mut self, timeout: Duration) -> Result<(), MigrateError> {
        write_frame(&mut self.stream, kind::RUNNING, &[])?;
        self.stream.set_read_timeout(Some(timeout))?;
        let (ty, _) = read_frame(&mut self.reader)?;
        if ty != kind::COMMIT {
            return Err(protocol(format!("expected a commit, got frame type {ty}")));
        }
        Ok(())
    }

    /// Refuses after everything arrived (e.g. a missing preopen): the source resumes.
    pub fn refuse(&mut self, reason: &str) {
        refuse(&self.stream, reason);
    }
}

/// Sends a refusal, then reads and discards what the source still sends (at most 2 s) so
/// that closing does not reset the connection before the source read the reason.
fn refuse(stream: &TcpStream, reason: &str) {
    let mut s = stream;
    let _ = write_frame(&mut s, kind::REFUSE, reason.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 65536];
    while std::time::Instant::now() < until {
        match std::io::Read::read(&mut s, &mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
