//! The data dir is used by one server at a time: `onair serve` (and `onair
//! demo`) hold an exclusive `flock` on `onair.lock` in it for as long as the
//! process lives. A second server on the same dir would run its own
//! supervisor on the same store, bind the same ingest ports and overwrite
//! the metric history, so it is refused at start with a message naming the
//! dir. The kernel drops the lock when the process ends, `kill -9` included,
//! so there is never a stale lock to clean up; the file itself stays.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use rustix::fs::{flock, FlockOperation};

pub const LOCK_FILE: &str = "onair.lock";

/// The held lock on a data dir; released when dropped (or the process ends).
#[derive(Debug)]
pub struct Claim {
    _file: File,
}

/// Takes the lock of `dir` (which must exist), or fails naming the dir and,
/// when it wrote one, the process id of the server that holds it.
pub fn claim(dir: &Path) -> anyhow::Result<Claim> {
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            let mut text = String::new();
            let holder = match file.read_to_string(&mut text) {
                Ok(_) if !text.trim().is_empty() => format!(" (pid {})", text.trim()),
                _ => String::new(),
            };
            anyhow::bail!(
                "another onair serve{holder} is using the data dir {}: stop it, or give this one its own --data-dir",
                dir.display()
            );
        }
        // A file system without flock (some network mounts): run, but say
        // that nothing stops a second server.
        Err(e) => tracing::warn!(
            "cannot lock {} ({e}): make sure no other onair serve uses {}",
            path.display(),
            dir.display()
        ),
    }
    // Who holds it, for the message of the next one that tries.
    let pid = std::process::id().to_string();
    let noted = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()));
    if let Err(e) = noted {
        tracing::debug!("cannot write the pid into {}: {e}", path.display());
    }
    Ok(Claim { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path()).unwrap();
        let err = claim(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "another onair serve (pid {}) is using the data dir {}:",
                std::process::id(),
                dir.path().display()
            )),
            "{err}"
        );
        drop(first);
        claim(dir.path()).unwrap();
    }
}
