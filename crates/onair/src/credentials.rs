//! The server's API key pair and account id, kept in the data dir.
//!
//! With no key given (flags or `ONAIR_ACCESS_KEY_ID` / `ONAIR_SECRET_ACCESS_KEY`)
//! a pair is generated at first start and stored in `credentials.json`, so the
//! same exports keep working across restarts. The file is readable by its
//! owner only (0600) and written whole or not at all: a temporary file,
//! synced, renamed over it, and the directory synced.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stored {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

/// Where the key pair in use came from, which decides whether the secret is
/// printed: only a secret this start generated is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Generated now and written to `credentials.json`.
    Generated,
    /// Read from `credentials.json`, generated at an earlier start.
    Stored,
    /// Given by flags or environment (the account id still comes from the file).
    Given,
}

pub const FILE: &str = "credentials.json";

fn random_from(alphabet: &[u8], len: usize) -> String {
    use rand::seq::SliceRandom;
    let mut rng = rand::thread_rng();
    (0..len)
        .filter_map(|_| alphabet.choose(&mut rng))
        .map(|&b| char::from(b))
        .collect()
}

/// Loads the stored credentials, creating them on first use. `key` and
/// `secret` (from flags or env) replace the stored pair when both are given.
pub fn load(
    data_dir: &Path,
    key: Option<String>,
    secret: Option<String>,
) -> anyhow::Result<(Stored, Origin)> {
    let path = data_dir.join(FILE);
    let (mut stored, mut origin) = if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let stored: Stored =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        tighten(&path)?;
        (stored, Origin::Stored)
    } else {
        let stored = Stored {
            access_key_id: format!(
                "AKIA{}",
                random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
            secret_access_key: random_from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                40,
            ),
            account_id: random_from(b"0123456789", 12),
        };
        write(&path, &stored)?;
        (stored, Origin::Generated)
    };
    match (key, secret) {
        (Some(k), Some(s)) => {
            stored.access_key_id = k;
            stored.secret_access_key = s;
            origin = Origin::Given;
        }
        (None, None) => {}
        _ => anyhow::bail!(
            "give both ONAIR_ACCESS_KEY_ID and ONAIR_SECRET_ACCESS_KEY (or --access-key-id and --secret-access-key), or neither"
        ),
    }
    Ok((stored, origin))
}

/// Takes group and other permissions away from a file an older version
/// wrote with the default umask.
fn tighten(path: &Path) -> anyhow::Result<()> {
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private (chmod 600)", path.display()))?;
        tracing::info!(
            "{}: mode {:o} was open to other users; now 0600",
            path.display(),
            mode & 0o777
        );
    }
    Ok(())
}

/// Writes `stored` to `path` atomically with mode 0600: a crash leaves the
/// old file or the new one, never a part, and never a readable copy.
fn write(path: &Path, stored: &Stored) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let dir = path.parent().unwrap_or(Path::new("."));
    // A leftover of a crash mid-write: its mode is not ours to trust.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", tmp.display()))
        }
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(serde_json::to_string_pretty(stored)?.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))?;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Data dir of the server.
    #[arg(long, default_value = "onair-data", env = "ONAIR_DATA_DIR")]
    pub data_dir: PathBuf,
}

/// `onair credentials`: the export lines of the stored key pair, for
/// `eval "$(onair credentials)"`.
pub fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let path = args.data_dir.join(FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let stored: Stored =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    println!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}",
        stored.access_key_id, stored.secret_access_key
    );
    Ok(())
}

/// Reads the stored pair without creating one (for client commands).
pub fn read(data_dir: &Path) -> Option<Stored> {
    let text = std::fs::read_to_string(data_dir.join(FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn generated_once_private_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = load(dir.path(), None, None).unwrap();
        assert_eq!(origin, Origin::Generated);
        assert_eq!(first.secret_access_key.len(), 40);
        assert_eq!(first.access_key_id.len(), 20);
        assert_eq!(first.account_id.len(), 12);
        let path = dir.path().join(FILE);
        assert_eq!(mode(&path), 0o600);
        assert!(!dir.path().join("credentials.json.tmp").exists());

        let (again, origin) = load(dir.path(), None, None).unwrap();
        assert_eq!(origin, Origin::Stored);
        assert_eq!(again.secret_access_key, first.secret_access_key);

        let (given, origin) = load(dir.path(), Some("AKIAX".into()), Some("s".into())).unwrap();
        assert_eq!(origin, Origin::Given);
        assert_eq!(given.account_id, first.account_id);
        assert!(load(dir.path(), Some("AKIAX".into()), None).is_err());
    }

    #[test]
    fn a_file_open_to_others_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        load(dir.path(), None, None).unwrap();
        let path = dir.path().join(FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        load(dir.path(), None, None).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_leftover_temporary_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("credentials.json.tmp");
        std::fs::write(&tmp, "half").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (stored, _) = load(dir.path(), None, None).unwrap();
        assert!(!tmp.exists());
        assert_eq!(
            read(dir.path()).unwrap().secret_access_key,
            stored.secret_access_key
        );
    }
}
