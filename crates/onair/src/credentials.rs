//! The server's API key pair and account id, kept in the data dir.
//!
//! With no key given (flags or `ONAIR_ACCESS_KEY_ID` / `ONAIR_SECRET_ACCESS_KEY`)
//! a pair is generated at first start and stored in `credentials.json`, so the
//! same exports keep working across restarts.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stored {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

const FILE: &str = "credentials.json";

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
) -> anyhow::Result<(Stored, bool)> {
    let path = data_dir.join(FILE);
    let (mut stored, created) = if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let stored: Stored =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        (stored, false)
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
        (stored, true)
    };
    match (key, secret) {
        (Some(k), Some(s)) => {
            stored.access_key_id = k;
            stored.secret_access_key = s;
        }
        (None, None) => {}
        _ => anyhow::bail!(
            "give both ONAIR_ACCESS_KEY_ID and ONAIR_SECRET_ACCESS_KEY (or --access-key-id and --secret-access-key), or neither"
        ),
    }
    Ok((stored, created))
}

fn write(path: &Path, stored: &Stored) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(stored)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Reads the stored pair without creating one (for client commands).
pub fn read(data_dir: &Path) -> Option<Stored> {
    let text = std::fs::read_to_string(data_dir.join(FILE)).ok()?;
    serde_json::from_str(&text).ok()
}
