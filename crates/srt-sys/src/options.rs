//! Socket options as a Rust struct, validated before libsrt sees them.

use std::io;
use std::time::Duration;

/// AES key length for SRT encryption (`SRTO_PBKEYLEN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyLength {
    #[default]
    Aes128,
    Aes192,
    Aes256,
}

impl KeyLength {
    /// Key length in bytes: 16, 24 or 32.
    pub fn bytes(self) -> u8 {
        match self {
            KeyLength::Aes128 => 16,
            KeyLength::Aes192 => 24,
            KeyLength::Aes256 => 32,
        }
    }

    /// From a key length in bytes; `None` unless 16, 24 or 32.
    pub fn from_bytes(bytes: u8) -> Option<Self> {
        match bytes {
            16 => Some(KeyLength::Aes128),
            24 => Some(KeyLength::Aes192),
            32 => Some(KeyLength::Aes256),
            _ => None,
        }
    }
}

/// What onair sets on every SRT socket (live mode, message API, blocking).
/// A listener's options are inherited by the sockets it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Receiver buffer latency (`SRTO_LATENCY`: both `RCVLATENCY` and
    /// `PEERLATENCY`); the peers agree on the larger of their values.
    pub latency: Duration,
    /// Encryption passphrase, 10 to 79 characters; `None` for no encryption.
    /// Both sides must agree, otherwise the connection is refused.
    pub passphrase: Option<String>,
    /// Key length used when this side starts encryption.
    pub key_length: KeyLength,
    /// `SRTO_STREAMID` sent by a caller (at most 512 bytes).
    pub stream_id: Option<String>,
    /// Largest message in bytes (`SRTO_PAYLOADSIZE`), at most 1456.
    pub payload_size: u16,
    /// How long `connect` waits for the handshake (`SRTO_CONNTIMEO`).
    pub connect_timeout: Duration,
    /// How long `recv` (and `accept`) blocks before `TimedOut`
    /// (`SRTO_RCVTIMEO`); `None` blocks forever.
    pub recv_timeout: Option<Duration>,
    /// Non-blocking sockets (`SRTO_RCVSYN` / `SRTO_SNDSYN` off), for use
    /// with [`crate::Epoll`]: `recv`, `send` and `accept` return
    /// `WouldBlock` instead of waiting, and `connect` returns at once with
    /// the socket [`crate::SocketState::Connecting`].
    pub nonblocking: bool,
    /// `SRTO_ENFORCEDENCRYPTION`: libsrt refuses a peer whose passphrase
    /// does not match inside the handshake, unseen by the application. Off,
    /// such a peer is accepted and [`crate::Socket::key_state`] tells why it
    /// must be closed, so a listener can count and log refused callers.
    pub enforce_encryption: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            latency: Duration::from_millis(120),
            passphrase: None,
            key_length: KeyLength::Aes128,
            stream_id: None,
            payload_size: 1316,
            connect_timeout: Duration::from_secs(3),
            recv_timeout: None,
            nonblocking: false,
            enforce_encryption: true,
        }
    }
}

/// libsrt's bounds on `SRTO_PASSPHRASE`, in bytes.
const PASSPHRASE_LEN: std::ops::RangeInclusive<usize> = 10..=79;
/// libsrt's bound on `SRTO_STREAMID`, in bytes.
const STREAM_ID_MAX: usize = 512;

impl Options {
    /// Checks every field against libsrt's limits, so a bad value is reported
    /// as `InvalidInput` with the field's name rather than as a setsockflag
    /// failure.
    pub fn validate(&self) -> io::Result<()> {
        if let Some(p) = &self.passphrase {
            if !PASSPHRASE_LEN.contains(&p.len()) {
                return Err(invalid("passphrase must be 10 to 79 characters"));
            }
        }
        if let Some(id) = &self.stream_id {
            if id.len() > STREAM_ID_MAX {
                return Err(invalid("stream id must be at most 512 bytes"));
            }
        }
        if self.payload_size == 0 || i32::from(self.payload_size) > crate::ffi::SRT_LIVE_MAX_PLSIZE
        {
            return Err(invalid("payload size must be 1 to 1456 bytes"));
        }
        millis(self.latency, "latency")?;
        millis(self.connect_timeout, "connect timeout")?;
        if let Some(t) = self.recv_timeout {
            millis(t, "receive timeout")?;
        }
        Ok(())
    }
}

/// A duration as libsrt's `int` milliseconds.
pub(crate) fn millis(d: Duration, what: &str) -> io::Result<i32> {
    i32::try_from(d.as_millis()).map_err(|_| invalid(&format!("{what} too large")))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_bounds() {
        let with = |p: &str| Options {
            passphrase: Some(p.into()),
            ..Options::default()
        };
        assert!(with("123456789").validate().is_err());
        assert!(with("1234567890").validate().is_ok());
        assert!(with(&"x".repeat(79)).validate().is_ok());
        assert!(with(&"x".repeat(80)).validate().is_err());
    }

    #[test]
    fn payload_and_key_length() {
        let big = Options {
            payload_size: 1457,
            ..Options::default()
        };
        assert!(big.validate().is_err());
        assert_eq!(KeyLength::from_bytes(24), Some(KeyLength::Aes192));
        assert_eq!(KeyLength::from_bytes(20), None);
        assert_eq!(KeyLength::Aes256.bytes(), 32);
    }
}
