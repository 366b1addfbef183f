//! SRT passphrases: a source's `decryption` and an output's `encryption`
//! name a Secrets Manager secret (`keyType` `srt-password`) whose
//! `SecretString` is the passphrase. It is checked when the flow part is
//! written (so a missing secret is a 404 naming the member) and read again
//! when the flow starts (so a rotated value is picked up on restart).

use super::model::Encryption;
use crate::error::{ControlError, Result};
use crate::secrets::model::SecretValue;
use crate::secrets::SecretsError;
use crate::ControlPlane;

/// libsrt's bounds on a passphrase, in bytes.
pub const PASSPHRASE_LEN: std::ops::RangeInclusive<usize> = 10..=79;

/// The region of an ARN (`arn:aws:service:REGION:…`), if it has one.
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

impl ControlPlane {
    /// The passphrase `enc` names. `path` is the member (`source.decryption`)
    /// errors name; `region` is the flow's, for a secret given by name.
    pub fn srt_passphrase(&self, region: &str, path: &str, enc: &Encryption) -> Result<String> {
        self.srt_passphrase_in(region, &format!("{path}.secretArn"), &enc.secret_arn)
    }

    /// The passphrase in secret `arn`; `member` is the request member that
    /// named it (`…decryption.passphraseSecretArn`), for errors.
    pub fn srt_passphrase_in(&self, region: &str, member: &str, arn: &str) -> Result<String> {
        let region = region_of(arn).unwrap_or(region);
        let (_, version) = self
            .secrets_get_value(region, arn, None, None, super::now_ms())
            .map_err(|e| match e {
                SecretsError::ResourceNotFound(_) => ControlError::NotFound(format!(
                    "{member}: Secrets Manager has no secret '{arn}'"
                )),
                SecretsError::Control(c) => c,
                other => ControlError::bad(format!("{member}: '{arn}': {other}")),
            })?;
        let SecretValue::String(passphrase) = version.value else {
            return Err(ControlError::bad(format!(
                "{member}: '{arn}' holds a SecretBinary; the SRT passphrase must be a SecretString"
            )));
        };
        if !PASSPHRASE_LEN.contains(&passphrase.len()) {
            return Err(ControlError::bad(format!(
                "{member}: the passphrase in '{arn}' has {} characters; SRT needs {} to {}",
                passphrase.len(),
                PASSPHRASE_LEN.start(),
                PASSPHRASE_LEN.end()
            )));
        }
        Ok(passphrase)
    }

    /// Checks that the secret `enc` names (if any) holds a usable passphrase.
    pub(crate) fn check_srt_secret(
        &self,
        region: &str,
        path: &str,
        enc: Option<&Encryption>,
    ) -> Result<()> {
        match enc {
            Some(e) => self.srt_passphrase(region, path, e).map(|_| ()),
            None => Ok(()),
        }
    }
}
