//! Turning MediaConnect request bodies into flow parts, member by member.
//!
//! Each reader takes the existing part (for the `Update…` operations) so an
//! update changes only what it names. Members of the AWS model that onair does
//! not implement are refused by name (see [`crate::fields`]).

use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{
    EnabledState, Encryption, FailoverConfig, FailoverMode, Output, Protocol, Source,
    SourcePriority, Transport,
};
use crate::error::{ControlError, Result};
use crate::fields::Fields;

/// Protocols in the AWS model that onair does not carry yet.
const NOT_YET: &[&str] = &[
    "zixi-push",
    "zixi-pull",
    "st2110-jpegxs",
    "cdi",
    "fujitsu-qos",
    "ndi-speed-hq",
    "rtmp-push",
];

/// Server settings a request reader needs.
pub struct Context<'a> {
    /// The address encoders send to, reported as `ingestIp`.
    pub ingest_ip: &'a str,
}

fn protocol(f: &mut Fields, key: &'static str) -> Result<Option<Protocol>> {
    let Some(raw) = f.string(key)? else {
        return Ok(None);
    };
    match raw.as_str() {
        "rtp" => Ok(Some(Protocol::Rtp)),
        "rtp-fec" => Ok(Some(Protocol::RtpFec)),
        "udp" => Ok(Some(Protocol::Udp)),
        "srt-listener" => Ok(Some(Protocol::SrtListener)),
        "srt-caller" => Ok(Some(Protocol::SrtCaller)),
        "rist" => Ok(Some(Protocol::Rist)),
        other if NOT_YET.contains(&other) => Err(ControlError::bad(format!(
            "{}: onair does not implement protocol '{other}' yet (supported: rtp, rtp-fec, udp, srt-listener, srt-caller, rist)",
            f.at(key)
        ))),
        other => Err(ControlError::bad(format!(
            "{}: '{other}' is not a valid protocol (one of rtp, rtp-fec, udp, srt-listener, srt-caller, rist, {})",
            f.at(key),
            NOT_YET.join(", ")
        ))),
    }
}

/// A UDP port member: 1 to 65535.
fn port(f: &mut Fields, key: &'static str) -> Result<Option<u16>> {
    let Some(p) = f.int(key)? else {
        return Ok(None);
    };
    match u16::try_from(p) {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => Err(ControlError::bad(format!(
            "{}: {p} is out of range (1-65535)",
            f.at(key)
        ))),
    }
}

/// rtp-fec also uses `port`+2 (column FEC) and `port`+4 (row FEC): checked
/// on the port and protocol a part ends up with, given or kept from before,
/// so an update that changes only one of them cannot wrap past 65535.
fn fec_ports_fit(f: &Fields, key: &'static str, proto: Protocol, port: u16) -> Result<()> {
    if proto == Protocol::RtpFec && port.checked_add(4).is_none() {
        return Err(ControlError::bad(format!(
            "{}: with protocol rtp-fec the FEC ports {key}+2 and {key}+4 must be at most 65535 ({key} is {port})",
            f.at(key)
        )));
    }
    Ok(())
}

/// RIST (VSF TR-06-1 §5.2) carries RTP on an even port and RTCP on the next
/// one: the port must be even, and port+1 must exist. Checked, like the FEC
/// ports, on the port and protocol a part ends up with.
fn rist_ports_fit(f: &Fields, key: &'static str, proto: Protocol, port: u16) -> Result<()> {
    if proto == Protocol::Rist && (port & 1 == 1 || port == u16::MAX) {
        return Err(ControlError::bad(format!(
            "{}: with protocol rist the port must be even (RTP on {key}, RTCP on {key}+1), got {port}",
            f.at(key)
        )));
    }
    Ok(())
}

/// MediaConnect's bounds on a RIST `maxLatency` (the recovery buffer), in
/// milliseconds, and the value onair uses when none is given.
pub const RIST_LATENCY_MS: std::ops::RangeInclusive<i64> = 10..=10_000;
pub const DEFAULT_RIST_LATENCY_MS: i64 = 2_000;
/// The `streamId` values of a RIST source or output: MediaConnect's RIST is
/// the simple profile; `main` asks onair for the main profile (TR-06-2).
pub const RIST_PROFILES: &[&str] = &["simple", "main"];

/// The `maxLatency` member: RIST only, kept from before on an update.
fn max_latency(f: &mut Fields, proto: Protocol, existing: Option<i64>) -> Result<Option<i64>> {
    let given = f.int("maxLatency")?;
    if proto != Protocol::Rist {
        if given.is_some() {
            return Err(ControlError::bad(format!(
                "{}: onair supports this member only with protocol rist",
                f.at("maxLatency")
            )));
        }
        return Ok(None);
    }
    match given {
        Some(l) if !RIST_LATENCY_MS.contains(&l) => Err(ControlError::bad(format!(
            "{}: {l} ms is out of range ({}-{} ms)",
            f.at("maxLatency"),
            RIST_LATENCY_MS.start(),
            RIST_LATENCY_MS.end()
        ))),
        Some(l) => Ok(Some(l)),
        None => Ok(Some(existing.unwrap_or(DEFAULT_RIST_LATENCY_MS))),
    }
}

fn cidr(path: &str, raw: &str) -> Result<()> {
    raw.parse::<IpNet>().map(|_| ()).map_err(|_| {
        ControlError::bad(format!(
            "{path}: '{raw}' is not a valid CIDR block (e.g. 203.0.113.0/24)"
        ))
    })
}

fn enabled_state(f: &mut Fields, key: &'static str) -> Result<Option<EnabledState>> {
    f.enumeration(key, &["ENABLED", "DISABLED"], |s| match s {
        "ENABLED" => Some(EnabledState::Enabled),
        "DISABLED" => Some(EnabledState::Disabled),
        _ => None,
    })
}

/// The `name` member of a new source or output (an update keeps the name).
fn name_or_existing(f: &mut Fields, existing: Option<&str>) -> Result<String> {
    if let Some(name) = existing {
        return Ok(name.to_string());
    }
    let name = f.required_string("name")?;
    if name.is_empty() {
        return Err(ControlError::bad(format!(
            "{}: must not be empty",
            f.at("name")
        )));
    }
    Ok(name)
}

/// The `protocol` member: required when creating, optional when updating.
fn protocol_or_existing(f: &mut Fields, existing: Option<Protocol>) -> Result<Protocol> {
    match (protocol(f, "protocol")?, existing) {
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) => Err(ControlError::bad(format!(
            "{}: is required",
            f.at("protocol")
        ))),
    }
}

/// MediaConnect's bounds on `minLatency`, in milliseconds.
pub const MIN_LATENCY_MS: std::ops::RangeInclusive<i64> = 10..=15_000;
/// libsrt's bound on `SRTO_STREAMID`, in bytes.
const STREAM_ID_MAX: usize = 512;

/// The SRT members of a source or output (`minLatency`, `streamId`, and the
/// `decryption` / `encryption` object named `enc_key`), on top of what the
/// part had. Given with another protocol they are refused by name.
struct SrtMembers {
    min_latency: Option<i64>,
    stream_id: Option<String>,
    encryption: Option<Encryption>,
}

fn srt_members(
    f: &mut Fields,
    proto: Protocol,
    enc_key: &'static str,
    existing: SrtMembers,
) -> Result<SrtMembers> {
    let min_latency = match f.int("minLatency")? {
        Some(l) if !MIN_LATENCY_MS.contains(&l) => {
            return Err(ControlError::bad(format!(
                "{}: {l} ms is out of range ({}-{} ms)",
                f.at("minLatency"),
                MIN_LATENCY_MS.start(),
                MIN_LATENCY_MS.end()
            )))
        }
        Some(l) => Some((f.at("minLatency"), l)),
        None => None,
    };
    let stream_id = match f.string("streamId")? {
        Some(id) if id.len() > STREAM_ID_MAX => {
            return Err(ControlError::bad(format!(
                "{}: at most {STREAM_ID_MAX} bytes",
                f.at("streamId")
            )))
        }
        Some(id) => Some((f.at("streamId"), id)),
        None => None,
    };
    let encryption = match f.object(enc_key)? {
        Some(e) => Some((f.at(enc_key), encryption(e)?)),
        None => None,
    };
    if proto == Protocol::Rist {
        // minLatency and encryption are SRT's; streamId picks the profile.
        let given = [
            min_latency.as_ref().map(|(p, _)| p),
            encryption.as_ref().map(|(p, _)| p),
        ];
        if let Some(path) = given.into_iter().flatten().next() {
            return Err(ControlError::bad(format!(
                "{path}: onair supports this member only with protocols srt-listener and srt-caller"
            )));
        }
        let stream_id = match stream_id {
            Some((path, id)) if !RIST_PROFILES.contains(&id.as_str()) => {
                return Err(ControlError::bad(format!(
                    "{path}: with protocol rist, streamId names the RIST profile: 'simple' (the default) or 'main', not '{id}'"
                )))
            }
            Some((_, id)) => Some(id),
            None => existing
                .stream_id
                .filter(|id| RIST_PROFILES.contains(&id.as_str())),
        };
        return Ok(SrtMembers {
            min_latency: None,
            stream_id,
            encryption: None,
        });
    }
    if !proto.is_srt() {
        let given = [
            min_latency.as_ref().map(|(p, _)| p),
            stream_id.as_ref().map(|(p, _)| p),
            encryption.as_ref().map(|(p, _)| p),
        ];
        if let Some(path) = given.into_iter().flatten().next() {
            return Err(ControlError::bad(format!(
                "{path}: onair supports this member only with protocols srt-listener and srt-caller"
            )));
        }
        return Ok(SrtMembers {
            min_latency: None,
            stream_id: None,
            encryption: None,
        });
    }
    Ok(SrtMembers {
        min_latency: min_latency.map(|(_, l)| l).or(existing.min_latency),
        stream_id: stream_id.map(|(_, s)| s).or(existing.stream_id),
        encryption: encryption.map(|(_, e)| e).or(existing.encryption),
    })
}

/// An `Encryption` object: only `keyType` `srt-password` (the SRT
/// passphrase, kept in a Secrets Manager secret) is carried.
fn encryption(mut e: Fields) -> Result<Encryption> {
    let key_type = e.enumeration("keyType", &["speke", "static-key", "srt-password"], |s| {
        matches!(s, "speke" | "static-key" | "srt-password").then(|| s.to_string())
    })?;
    match key_type.as_deref() {
        Some("srt-password") => {}
        Some(other) => {
            return Err(ControlError::bad(format!(
                "{}: onair supports only srt-password (an SRT passphrase), not '{other}'",
                e.at("keyType")
            )))
        }
        None => {
            return Err(ControlError::bad(format!(
                "{}: is required (srt-password)",
                e.at("keyType")
            )))
        }
    }
    let algorithm = e.enumeration("algorithm", &["aes128", "aes192", "aes256"], |s| {
        matches!(s, "aes128" | "aes192" | "aes256").then(|| s.to_string())
    })?;
    let secret_arn = e.string("secretArn")?.filter(|s| !s.is_empty());
    let Some(secret_arn) = secret_arn else {
        return Err(ControlError::bad(format!(
            "{}: is required with keyType srt-password (the secret holding the passphrase)",
            e.at("secretArn")
        )));
    };
    let Some(role_arn) = e.string("roleArn")? else {
        return Err(ControlError::bad(format!(
            "{}: is required",
            e.at("roleArn")
        )));
    };
    e.finish()?;
    Ok(Encryption {
        algorithm,
        key_type: "srt-password".into(),
        role_arn,
        secret_arn,
    })
}

/// An IP address member (`sourceListenerAddress`, `destination`).
fn ip_address(f: &Fields, key: &'static str, raw: &str) -> Result<()> {
    if raw.parse::<IpAddr>().is_err() {
        return Err(ControlError::bad(format!(
            "{}: '{raw}' is not an IP address",
            f.at(key)
        )));
    }
    Ok(())
}

/// Reads a `SetSourceRequest` (create) or `UpdateFlowSourceRequest` (update,
/// with `existing`). `arn` is the source ARN to give a new source.
pub fn source(
    value: &serde_json::Value,
    path: &str,
    ctx: &Context,
    existing: Option<&Source>,
    new_arn: impl FnOnce(&str) -> String,
) -> Result<Source> {
    let mut f = Fields::new(path, value)?;
    let name = name_or_existing(&mut f, existing.map(|s| s.name.as_str()))?;
    let proto = protocol_or_existing(&mut f, existing.map(|s| s.transport.protocol))?;
    let given_port = port(&mut f, "ingestPort")?;
    let ingest_port = match (given_port, existing) {
        _ if proto == Protocol::SrtCaller => {
            if given_port.is_some() {
                return Err(ControlError::bad(format!(
                    "{}: an srt-caller source listens on no port; it calls sourceListenerAddress:sourceListenerPort",
                    f.at("ingestPort")
                )));
            }
            0
        }
        (Some(p), _) => p,
        (None, Some(s)) if s.ingest_port != 0 => s.ingest_port,
        (None, _) => {
            return Err(ControlError::bad(format!(
                "{}: is required for protocol {}",
                f.at("ingestPort"),
                proto.as_str()
            )))
        }
    };
    fec_ports_fit(&f, "ingestPort", proto, ingest_port)?;
    rist_ports_fit(&f, "ingestPort", proto, ingest_port)?;
    let max_latency = max_latency(
        &mut f,
        proto,
        existing.and_then(|s| s.transport.max_latency),
    )?;
    let listener_address = f.string("sourceListenerAddress")?;
    if let Some(a) = &listener_address {
        ip_address(&f, "sourceListenerAddress", a)?;
    }
    let listener_port = port(&mut f, "sourceListenerPort")?;
    let (source_listener_address, source_listener_port) = if proto == Protocol::SrtCaller {
        let keep = existing.filter(|s| s.transport.protocol == Protocol::SrtCaller);
        let address = listener_address
            .or_else(|| keep.and_then(|s| s.transport.source_listener_address.clone()));
        let port = listener_port.or_else(|| keep.and_then(|s| s.transport.source_listener_port));
        match (address, port) {
            (Some(a), Some(p)) => (Some(a), Some(p)),
            (None, _) => {
                return Err(ControlError::bad(format!(
                    "{}: is required for protocol srt-caller",
                    f.at("sourceListenerAddress")
                )))
            }
            (_, None) => {
                return Err(ControlError::bad(format!(
                    "{}: is required for protocol srt-caller",
                    f.at("sourceListenerPort")
                )))
            }
        }
    } else {
        if listener_address.is_some() || listener_port.is_some() {
            let key = if listener_address.is_some() {
                "sourceListenerAddress"
            } else {
                "sourceListenerPort"
            };
            return Err(ControlError::bad(format!(
                "{}: applies only to protocol srt-caller",
                f.at(key)
            )));
        }
        (None, None)
    };
    let srt = srt_members(
        &mut f,
        proto,
        "decryption",
        SrtMembers {
            min_latency: existing.and_then(|s| s.transport.min_latency),
            stream_id: existing.and_then(|s| s.transport.stream_id.clone()),
            encryption: existing.and_then(|s| s.decryption.clone()),
        },
    )?;
    let whitelist_cidr = match f.string("whitelistCidr")? {
        Some(c) => {
            cidr(&f.at("whitelistCidr"), &c)?;
            Some(c)
        }
        None => existing.and_then(|s| s.whitelist_cidr.clone()),
    };
    let max_bitrate = match f.int("maxBitrate")? {
        Some(b) if b <= 0 => {
            return Err(ControlError::bad(format!(
                "{}: must be a positive number of bits per second",
                f.at("maxBitrate")
            )))
        }
        Some(b) => Some(b),
        None => existing.and_then(|s| s.transport.max_bitrate),
    };
    let description = f
        .string("description")?
        .or_else(|| existing.and_then(|s| s.description.clone()));
    let tags = match existing {
        Some(s) => s.tags.clone(),
        None => f.string_map("sourceTags")?.unwrap_or_default(),
    };
    f.finish()?;
    Ok(Source {
        source_arn: match existing {
            Some(s) => s.source_arn.clone(),
            None => new_arn(&name),
        },
        name,
        description,
        ingest_ip: ctx.ingest_ip.to_string(),
        ingest_port,
        whitelist_cidr,
        decryption: srt.encryption,
        transport: Transport {
            protocol: proto,
            max_bitrate,
            cidr_allow_list: None,
            min_latency: srt.min_latency,
            stream_id: srt.stream_id,
            source_listener_address,
            source_listener_port,
            max_latency,
        },
        tags,
    })
}

/// Reads an `AddOutputRequest` (create) or `UpdateFlowOutputRequest`.
pub fn output(
    value: &serde_json::Value,
    path: &str,
    existing: Option<&Output>,
    new_arn: impl FnOnce(&str) -> String,
) -> Result<Output> {
    let mut f = Fields::new(path, value)?;
    let name = name_or_existing(&mut f, existing.map(|o| o.name.as_str()))?;
    let proto = protocol_or_existing(&mut f, existing.map(|o| o.transport.protocol))?;
    let destination = match (f.string("destination")?, existing) {
        (Some(_), _) if proto == Protocol::SrtListener => {
            return Err(ControlError::bad(format!(
                "{}: an srt-listener output waits for its receiver on port; it has no destination",
                f.at("destination")
            )))
        }
        (None, _) if proto == Protocol::SrtListener => String::new(),
        (Some(d), _) => {
            ip_address(&f, "destination", &d)?;
            d
        }
        (None, Some(o)) if !o.destination.is_empty() => o.destination.clone(),
        (None, _) => {
            return Err(ControlError::bad(format!(
                "{}: is required for protocol {}",
                f.at("destination"),
                proto.as_str()
            )))
        }
    };
    let port = match (port(&mut f, "port")?, existing) {
        (Some(p), _) => p,
        (None, Some(o)) => o.port,
        (None, None) => {
            return Err(ControlError::bad(format!(
                "{}: is required for protocol {}",
                f.at("port"),
                proto.as_str()
            )))
        }
    };
    fec_ports_fit(&f, "port", proto, port)?;
    rist_ports_fit(&f, "port", proto, port)?;
    let max_latency = max_latency(
        &mut f,
        proto,
        existing.and_then(|o| o.transport.max_latency),
    )?;
    let cidr_allow_list = match f.string_list("cidrAllowList")? {
        Some(list) if proto == Protocol::SrtListener => {
            for (i, c) in list.iter().enumerate() {
                cidr(&format!("{}[{i}]", f.at("cidrAllowList")), c)?;
            }
            Some(list)
        }
        Some(list) if !list.is_empty() => {
            return Err(ControlError::bad(format!(
                "{}: applies only to listener protocols; {} outputs send to a destination",
                f.at("cidrAllowList"),
                proto.as_str()
            )));
        }
        _ => existing
            .filter(|_| proto == Protocol::SrtListener)
            .and_then(|o| o.transport.cidr_allow_list.clone()),
    };
    let srt = srt_members(
        &mut f,
        proto,
        "encryption",
        SrtMembers {
            min_latency: existing.and_then(|o| o.transport.min_latency),
            stream_id: existing.and_then(|o| o.transport.stream_id.clone()),
            encryption: existing.and_then(|o| o.encryption.clone()),
        },
    )?;
    let output_status = enabled_state(&mut f, "outputStatus")?
        .or(existing.map(|o| o.output_status))
        .unwrap_or(EnabledState::Enabled);
    let description = f
        .string("description")?
        .or_else(|| existing.and_then(|o| o.description.clone()));
    let tags = match existing {
        Some(o) => o.tags.clone(),
        None => f.string_map("outputTags")?.unwrap_or_default(),
    };
    f.finish()?;
    Ok(Output {
        output_arn: match existing {
            Some(o) => o.output_arn.clone(),
            None => new_arn(&name),
        },
        name,
        description,
        destination,
        port,
        encryption: srt.encryption,
        transport: Transport {
            protocol: proto,
            max_bitrate: None,
            cidr_allow_list,
            min_latency: srt.min_latency,
            stream_id: srt.stream_id,
            source_listener_address: None,
            source_listener_port: None,
            max_latency,
        },
        output_status,
        tags,
    })
}

/// MediaConnect's limits for `recoveryWindow`, in milliseconds.
pub const RECOVERY_WINDOW_MS: std::ops::RangeInclusive<i64> = 100..=15_000;
/// MediaConnect's default `recoveryWindow`.
pub const DEFAULT_RECOVERY_WINDOW_MS: i64 = 200;

/// Reads a `FailoverConfig` / `UpdateFailoverConfig`, on top of `existing`.
pub fn failover(
    value: &serde_json::Value,
    path: &str,
    existing: Option<&FailoverConfig>,
) -> Result<FailoverConfig> {
    let mut f = Fields::new(path, value)?;
    let mode = f
        .enumeration("failoverMode", &["MERGE", "FAILOVER"], |s| match s {
            "MERGE" => Some(FailoverMode::Merge),
            "FAILOVER" => Some(FailoverMode::Failover),
            _ => None,
        })?
        .or(existing.map(|c| c.failover_mode))
        .unwrap_or(FailoverMode::Failover);
    let recovery_window = match f.int("recoveryWindow")? {
        Some(w) if !RECOVERY_WINDOW_MS.contains(&w) => {
            return Err(ControlError::bad(format!(
                "{}: {w} ms is out of range ({}-{} ms)",
                f.at("recoveryWindow"),
                RECOVERY_WINDOW_MS.start(),
                RECOVERY_WINDOW_MS.end()
            )))
        }
        Some(w) => w,
        None => existing.map_or(DEFAULT_RECOVERY_WINDOW_MS, |c| c.recovery_window),
    };
    let source_priority = match f.object("sourcePriority")? {
        Some(mut p) => {
            let primary = p.string("primarySource")?;
            p.finish()?;
            Some(SourcePriority {
                primary_source: primary,
            })
        }
        None => existing.and_then(|c| c.source_priority.clone()),
    };
    let state = enabled_state(&mut f, "state")?
        .or(existing.map(|c| c.state))
        .unwrap_or(EnabledState::Enabled);
    f.finish()?;
    Ok(FailoverConfig {
        failover_mode: mode,
        recovery_window,
        source_priority,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context {
            ingest_ip: "127.0.0.1",
        }
    }

    fn src(v: serde_json::Value) -> Result<Source> {
        source(&v, "source", &ctx(), None, |n| format!("arn:{n}"))
    }

    #[test]
    fn reads_the_recipe_source() {
        let s = src(
            json!({"name": "PrimarySource", "protocol": "rtp", "ingestPort": 5000,
            "whitelistCidr": "0.0.0.0/0", "description": "Primary encoder input"}),
        )
        .unwrap();
        assert_eq!(s.name, "PrimarySource");
        assert_eq!(s.ingest_port, 5000);
        assert_eq!(s.ingest_ip, "127.0.0.1");
        assert_eq!(s.source_arn, "arn:PrimarySource");
        assert_eq!(s.transport.protocol, Protocol::Rtp);
    }

    #[test]
    fn bad_sources_name_the_member() {
        let cases = [
            (
                json!({"name": "a", "protocol": "zixi-push", "ingestPort": 1}),
                "source.protocol: onair does not implement protocol 'zixi-push'",
            ),
            (
                json!({"name": "a", "protocol": "carrier-pigeon", "ingestPort": 1}),
                "source.protocol: 'carrier-pigeon' is not a valid protocol",
            ),
            (
                json!({"name": "a", "protocol": "rtp"}),
                "source.ingestPort: is required",
            ),
            (
                json!({"name": "a", "protocol": "rtp", "ingestPort": 70000}),
                "source.ingestPort: 70000 is out of range",
            ),
            (
                json!({"name": "a", "protocol": "rtp-fec", "ingestPort": 65534}),
                "source.ingestPort: with protocol rtp-fec the FEC ports ingestPort+2 and ingestPort+4 must be at most 65535",
            ),
            (
                json!({"name": "a", "protocol": "rtp", "ingestPort": 1, "whitelistCidr": "10.0.0.300/8"}),
                "source.whitelistCidr: '10.0.0.300/8' is not a valid CIDR",
            ),
            (
                json!({"name": "a", "protocol": "rtp", "ingestPort": 1, "maxBitrate": 0}),
                "source.maxBitrate: must be a positive",
            ),
            (
                json!({"name": "a", "protocol": "rtp", "ingestPort": 1, "minLatency": 100}),
                "source.minLatency: onair supports this member only with protocols srt-listener and srt-caller",
            ),
            (
                json!({"protocol": "rtp", "ingestPort": 1}),
                "source.name: is required",
            ),
        ];
        for (body, want) in cases {
            let err = src(body.clone()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{body}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn srt_sources_and_outputs() {
        let s = src(
            json!({"name": "enc", "protocol": "srt-listener", "ingestPort": 9000,
            "minLatency": 200, "streamId": "cam1",
            "decryption": {"keyType": "srt-password", "algorithm": "aes256",
                           "secretArn": "arn:s", "roleArn": "arn:r"}}),
        )
        .unwrap();
        assert_eq!(s.transport.min_latency, Some(200));
        assert_eq!(s.transport.stream_id.as_deref(), Some("cam1"));
        let d = s.decryption.unwrap();
        assert_eq!(
            (d.algorithm.as_deref(), d.secret_arn.as_str()),
            (Some("aes256"), "arn:s")
        );

        let c = src(json!({"name": "enc", "protocol": "srt-caller",
            "sourceListenerAddress": "192.0.2.1", "sourceListenerPort": 9000}))
        .unwrap();
        assert_eq!(c.ingest_port, 0);
        assert_eq!(c.transport.source_listener_port, Some(9000));

        let errors = [
            (
                json!({"name": "a", "protocol": "srt-listener", "ingestPort": 1,
                       "decryption": {"keyType": "speke", "roleArn": "r"}}),
                "source.decryption.keyType: onair supports only srt-password",
            ),
            (
                json!({"name": "a", "protocol": "srt-listener", "ingestPort": 1,
                       "decryption": {"keyType": "srt-password", "roleArn": "r"}}),
                "source.decryption.secretArn: is required",
            ),
            (
                json!({"name": "a", "protocol": "srt-listener", "ingestPort": 1,
                       "decryption": {"keyType": "srt-password", "secretArn": "s"}}),
                "source.decryption.roleArn: is required",
            ),
            (
                json!({"name": "a", "protocol": "udp", "ingestPort": 1, "streamId": "x"}),
                "source.streamId: onair supports this member only with protocols srt-listener",
            ),
            (
                json!({"name": "a", "protocol": "srt-caller", "ingestPort": 1,
                       "sourceListenerAddress": "192.0.2.1", "sourceListenerPort": 9}),
                "source.ingestPort: an srt-caller source listens on no port",
            ),
            (
                json!({"name": "a", "protocol": "srt-caller", "sourceListenerAddress": "192.0.2.1"}),
                "source.sourceListenerPort: is required",
            ),
            (
                json!({"name": "a", "protocol": "rtp", "ingestPort": 1, "sourceListenerPort": 9}),
                "source.sourceListenerPort: applies only to protocol srt-caller",
            ),
        ];
        for (body, want) in errors {
            let err = src(body.clone()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{body}: got {err:?}, want {want:?}");
        }

        let o = |v| output(&v, "outputs[0]", None, |n: &str| n.to_string());
        let l = o(
            json!({"name": "o", "protocol": "srt-listener", "port": 9100,
                         "cidrAllowList": ["10.0.0.0/8"]}),
        )
        .unwrap();
        assert_eq!(l.destination, "");
        assert_eq!(
            l.transport.cidr_allow_list,
            Some(vec!["10.0.0.0/8".to_string()])
        );
        let err = o(
            json!({"name": "o", "protocol": "srt-listener", "port": 9100,
                           "destination": "192.0.2.1"}),
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("outputs[0].destination: an srt-listener output"));
        let err = o(
            json!({"name": "o", "protocol": "srt-listener", "port": 9100,
                           "cidrAllowList": ["nope"]}),
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("outputs[0].cidrAllowList[0]: 'nope'"));
    }

    #[test]
    fn rist_sources_and_outputs() {
        let s = src(json!({"name": "enc", "protocol": "rist", "ingestPort": 6000})).unwrap();
        assert_eq!(s.transport.protocol, Protocol::Rist);
        assert_eq!(s.transport.max_latency, Some(DEFAULT_RIST_LATENCY_MS));
        assert_eq!(s.transport.stream_id, None);
        let m = src(
            json!({"name": "enc", "protocol": "rist", "ingestPort": 6000,
            "maxLatency": 500, "streamId": "main", "whitelistCidr": "10.0.0.0/8"}),
        )
        .unwrap();
        assert_eq!(
            (m.transport.max_latency, m.transport.stream_id.as_deref()),
            (Some(500), Some("main"))
        );
        let errors = [
            (
                json!({"name": "a", "protocol": "rist", "ingestPort": 6001}),
                "source.ingestPort: with protocol rist the port must be even",
            ),
            (
                json!({"name": "a", "protocol": "rist", "ingestPort": 6000, "maxLatency": 5}),
                "source.maxLatency: 5 ms is out of range (10-10000 ms)",
            ),
            (
                json!({"name": "a", "protocol": "rist", "ingestPort": 6000, "streamId": "advanced"}),
                "source.streamId: with protocol rist, streamId names the RIST profile",
            ),
            (
                json!({"name": "a", "protocol": "rist", "ingestPort": 6000, "minLatency": 100}),
                "source.minLatency: onair supports this member only with protocols srt-listener",
            ),
            (
                json!({"name": "a", "protocol": "udp", "ingestPort": 6000, "maxLatency": 100}),
                "source.maxLatency: onair supports this member only with protocol rist",
            ),
        ];
        for (body, want) in errors {
            let err = src(body.clone()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{body}: got {err:?}, want {want:?}");
        }

        // An update keeps the profile and buffer, and checks the new port.
        let u = |v: serde_json::Value| source(&v, "", &ctx(), Some(&m), |_| unreachable!());
        let kept = u(json!({"ingestPort": 7000})).unwrap();
        assert_eq!(
            (
                kept.transport.max_latency,
                kept.transport.stream_id.as_deref()
            ),
            (Some(500), Some("main"))
        );
        let err = u(json!({"ingestPort": 7001})).unwrap_err().to_string();
        assert!(err.starts_with("ingestPort: with protocol rist"), "{err}");
        // Turning an SRT source into RIST drops its SRT stream id.
        let srt = src(
            json!({"name": "a", "protocol": "srt-listener", "ingestPort": 9000,
            "streamId": "cam1"}),
        )
        .unwrap();
        let r = source(
            &json!({"protocol": "rist"}),
            "",
            &ctx(),
            Some(&srt),
            |_| unreachable!(),
        )
        .unwrap();
        assert_eq!(r.transport.stream_id, None);

        let o = |v| output(&v, "outputs[0]", None, |n: &str| n.to_string());
        let ok = o(
            json!({"name": "o", "protocol": "rist", "destination": "192.0.2.1",
            "port": 7000, "maxLatency": 300}),
        )
        .unwrap();
        assert_eq!(ok.transport.max_latency, Some(300));
        let err =
            o(json!({"name": "o", "protocol": "rist", "destination": "192.0.2.1", "port": 65535}))
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("outputs[0].port: with protocol rist the port must be even"),
            "{err}"
        );
        let err = o(
            json!({"name": "o", "protocol": "rist", "destination": "192.0.2.1",
            "port": 7000, "cidrAllowList": ["10.0.0.0/8"]}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("outputs[0].cidrAllowList: applies only to listener"),
            "{err}"
        );
    }

    #[test]
    fn update_changes_only_what_it_names() {
        let s =
            src(json!({"name": "a", "protocol": "rtp", "ingestPort": 5000, "maxBitrate": 1000}))
                .unwrap();
        let u = source(
            &json!({"ingestPort": 6000}),
            "",
            &ctx(),
            Some(&s),
            |_| unreachable!(),
        )
        .unwrap();
        assert_eq!(u.ingest_port, 6000);
        assert_eq!(u.transport.max_bitrate, Some(1000));
        assert_eq!(u.source_arn, s.source_arn);
    }

    #[test]
    fn outputs_need_an_ip_destination() {
        let o = |v| output(&v, "outputs[0]", None, |n: &str| n.to_string());
        let ok =
            o(json!({"name": "ML", "protocol": "rtp-fec", "destination": "0.0.0.0", "port": 5002}))
                .unwrap();
        assert_eq!(ok.output_status, EnabledState::Enabled);
        let err =
            o(json!({"name": "ML", "protocol": "rtp", "destination": "example.com", "port": 5002}))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "outputs[0].destination: 'example.com' is not an IP address"
        );
        let err = o(json!({"name": "ML", "protocol": "udp", "destination": "127.0.0.1", "port": 1, "cidrAllowList": ["10.0.0.0/8"]})).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("outputs[0].cidrAllowList: applies only to listener"));
    }

    #[test]
    fn failover_defaults_and_limits() {
        let c = failover(
            &json!({"failoverMode": "MERGE"}),
            "sourceFailoverConfig",
            None,
        )
        .unwrap();
        assert_eq!(c.recovery_window, 200);
        assert_eq!(c.state, EnabledState::Enabled);
        let err =
            failover(&json!({"recoveryWindow": 5}), "sourceFailoverConfig", None).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("sourceFailoverConfig.recoveryWindow: 5 ms is out of range"));
        let err = failover(
            &json!({"failoverMode": "BOTH"}),
            "sourceFailoverConfig",
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "sourceFailoverConfig.failoverMode: 'BOTH' is not one of MERGE, FAILOVER"
        );
    }
}
