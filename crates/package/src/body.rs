//! The bytes of a stored segment, kept where the HTTP front can send them without
//! copying them.
//!
//! A segment is written once, when it is stored, and then only read: by every
//! viewer's GET while it stays in the window. [`Body::stored`] writes it to a file
//! that nothing else can reach, so the front answers a GET with `sendfile(2)`: the
//! kernel hands the file's page-cache pages to the socket, as nginx does for a static
//! file, and the response is never copied through user space. Which file:
//!
//! - **An unlinked file in the segment directory** (`O_TMPFILE`, set once with
//!   [`keep_files_in`]; `onair serve` uses `--segment-dir`, by default its data
//!   directory). It lives in the page cache like any file nginx serves; it has
//!   no name, so it is gone when its last handle closes (and after a crash), and
//!   the kernel may write a segment kept longer than its writeback delay (30 s by
//!   default) to disk and evict it under memory pressure, which bounds a long
//!   start-over window by disk, not memory.
//!   Filesystems with large folios (ext4, XFS) splice these pages to a socket with
//!   one lookup per folio; this is what makes onair as fast as nginx on segments.
//! - **A sealed anonymous memory file** (`memfd_create`) when no directory is set or
//!   it cannot hold unnamed files: memory only, never on disk, made immutable with
//!   `F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW`. The kernel's shmem splice looks
//!   up every 4 KiB page, which cost 15-35 % more CPU per segment served in
//!   `bench/origin.py`.
//!
//! A file is written once and never again, so a segment in flight cannot change under
//! the socket. Every file is a descriptor, so there is a budget: at most a quarter
//! of the process's open-file limit (`RLIMIT_NOFILE`, raised to its hard limit by
//! `onair serve`) and never more than [`MAX_FILES`]. Past the budget, or on any
//! error, a segment stays in ordinary memory ([`Body::Memory`]) and is served with
//! a copy: the choice changes speed, never behaviour. These are the only OS calls in
//! this crate.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};

/// The most memory files kept at once, whatever the open-file limit.
pub const MAX_FILES: usize = 1 << 16;

/// Segment files alive now (see [`Body::stored`]).
static FILES: AtomicUsize = AtomicUsize::new(0);

/// The segment directory ([`keep_files_in`]); memory files when unset.
static DIRECTORY: OnceLock<OwnedFd> = OnceLock::new();

/// Keeps stored segments in unlinked files in `dir` from now on (see the module
/// documentation). Fails when `dir` cannot hold unnamed files (no `O_TMPFILE`
/// support) or was already set; segments then go to memory files.
pub fn keep_files_in(dir: &std::path::Path) -> io::Result<()> {
    let fd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // Try one: the filesystem must support O_TMPFILE.
    drop(unnamed_file(&fd)?);
    DIRECTORY
        .set(fd)
        .map_err(|_| io::Error::other("the segment directory is already set"))
}

fn unnamed_file(dir: &OwnedFd) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )?)
}

/// Immutable bytes: in a segment file ([`Body::File`]) or in memory. Clones share
/// them.
#[derive(Clone, Debug)]
pub enum Body {
    /// Playlists, small or over-budget segments.
    Memory(Bytes),
    /// A segment in a file of its own, served with `sendfile`.
    File(SegmentFile),
}

/// A segment's unnamed file and its length. The descriptor closes (and the pages
/// are freed) when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct SegmentFile {
    file: Arc<Counted>,
    len: usize,
}

/// Keeps [`FILES`] in step with the segment files alive.
#[derive(Debug)]
struct Counted(File);

impl Drop for Counted {
    fn drop(&mut self) {
        FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SegmentFile {
    /// The file: read it with `read_at` or send it with `sendfile`; never write.
    pub fn file(&self) -> &File {
        &self.file.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never: empty bodies stay in memory).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The budget of segment files: a quarter of the open-file limit, read once.
fn budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let soft = limit.current.unwrap_or(u64::MAX);
        usize::try_from(soft / 4)
            .unwrap_or(MAX_FILES)
            .min(MAX_FILES)
    })
}

/// `data` in a new segment file, or `None` over budget or on any error.
fn write_file(data: &[u8]) -> Option<SegmentFile> {
    if FILES.fetch_add(1, Ordering::Relaxed) >= budget() {
        FILES.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    let in_directory = DIRECTORY.get().and_then(|dir| unnamed_file(dir).ok());
    let sealable = in_directory.is_none();
    let made = match in_directory {
        Some(fd) => Some(fd),
        None => rustix::fs::memfd_create(
            "onair-segment",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .ok(),
    };
    let Some(fd) = made else {
        FILES.fetch_sub(1, Ordering::Relaxed);
        return None;
    };
    // From here on `Counted` gives the slot back, whatever happens.
    let counted = Counted(File::from(fd));
    (&counted.0).write_all(data).ok()?;
    if sealable {
        rustix::fs::fcntl_add_seals(
            &counted.0,
            SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )
        .ok()?;
    }
    Some(SegmentFile {
        file: Arc::new(counted),
        len: data.len(),
    })
}

impl Body {
    /// A stored segment: in a file of its own when the budget allows, else `data`
    /// itself.
    pub fn stored(data: Bytes) -> Self {
        if data.is_empty() {
            return Self::Memory(data);
        }
        write_file(&data).map_or(Self::Memory(data), Self::File)
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Memory(b) => b.len(),
            Self::File(f) => f.len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `range` of it (clamped to its length): shared for memory, read
    /// (copied) from a file. A read error gives the bytes read so far.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Bytes {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        match self {
            Self::Memory(b) => b.slice(start..end),
            Self::File(f) => {
                let mut out = vec![0u8; end - start];
                let mut done = 0;
                while done < out.len() {
                    let offset = (start + done) as u64;
                    match f
                        .file()
                        .read_at(out.get_mut(done..).unwrap_or_default(), offset)
                    {
                        Ok(0) | Err(_) => break,
                        Ok(n) => done += n,
                    }
                }
                out.truncate(done);
                Bytes::from(out)
            }
        }
    }

    /// All of it (see [`slice`](Self::slice)).
    pub fn to_bytes(&self) -> Bytes {
        self.slice(0..self.len())
    }

    /// Whether `other` is a clone of this one (the same bytes, not a copy).
    pub fn shares(&self, other: &Body) -> bool {
        match (self, other) {
            (Self::Memory(a), Self::Memory(b)) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
            (Self::File(a), Self::File(b)) => Arc::ptr_eq(&a.file, &b.file),
            _ => false,
        }
    }

    /// Segment files alive in this process now.
    pub fn files_alive() -> usize {
        FILES.load(Ordering::Relaxed)
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Body {}

impl From<Bytes> for Body {
    fn from(data: Bytes) -> Self {
        Self::Memory(data)
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_segment_reads_back_whole_and_in_ranges() {
        let data: Bytes = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let body = Body::stored(data.clone());
        assert!(matches!(body, Body::File(_)), "memfd_create works on Linux");
        // Tests keep no directory: this is a sealed memory file.
        assert_eq!(body.len(), data.len());
        assert_eq!(body.to_bytes(), data);
        assert_eq!(body.slice(10..20), data.slice(10..20));
        assert_eq!(body.slice(99_990..200_000), data.slice(99_990..));
        assert_eq!(body.slice(200_000..300_000), Bytes::new());
    }

    #[test]
    fn a_sealed_file_refuses_writes() {
        let Body::File(f) = Body::stored(Bytes::from_static(b"segment")) else {
            panic!("expected a memory file");
        };
        assert!(f.file().write_all(b"x").is_err());
        assert!(f.file().set_len(1).is_err());
    }

    #[test]
    fn an_empty_body_stays_in_memory() {
        let empty = Body::stored(Bytes::new());
        assert!(matches!(empty, Body::Memory(_)));
        assert!(empty.is_empty());
        assert_eq!(empty.to_bytes(), Bytes::new());
    }
}
