//! MediaLive inputs: CreateInput, DescribeInput, ListInputs, UpdateInput,
//! DeleteInput.
//!
//! Supported types: `MEDIACONNECT` (one or two existing flows), `RTP_PUSH`
//! and `UDP_PUSH` (onair allocates two UDP ports from
//! [`crate::Settings::push_ports`], default [`super::PUSH_PORTS`], one per
//! pipeline, and reports them as `destinations[].url`), and `RTMP_PUSH`
//! (`destinations[].streamName` gives one or two `app/key` names, unique
//! among inputs; every RTMP_PUSH input shares the server's one RTMP port,
//! [`crate::Settings::rtmp_port`], and its destinations read
//! `rtmp://ip:port/app/key`). For push inputs `inputSecurityGroups` names the
//! one group whose rules say who may push, none: anyone — see
//! [`super::security_group`]. `SRT_CALLER` (`srtSettings.srtCallerSources`,
//! one or two listeners onair calls; a passphrase secret must exist when the
//! input is created, and is read again when the channel starts) and
//! `SRT_LISTENER` (`srtSettings.srtListenerSettings`; two UDP ports
//! as for RTP/UDP push, `destinations[].url` `srt://ip:port`,
//! guarded by security groups). Other types are a 400 naming the type.
//!
//! UpdateInput changes `name`, `roleArn`, `inputSecurityGroups` and
//! `mediaConnectFlows`. While the channel it is attached to runs (STARTING,
//! RUNNING, STOPPING) the flows cannot change (409 naming the channel: the
//! engine follows the flows it started with); the name, role and groups can,
//! and new groups are in force in the running feed by the supervisor's next
//! pass. An attached input keeps its class (one flow or two), as in MediaLive.

use std::collections::{BTreeMap, HashSet};
use std::ops::RangeInclusive;

use serde_json::{json, Value};

use super::model::{
    ChannelRecord, ChannelState, InputDestination, InputRecord, InputType, MediaConnectFlow,
    SrtCallerSource, SrtDecryption, SrtListenerSettings,
};
use super::{arn, numeric_id, CHANNEL_KIND, INPUT_KIND};
use crate::error::{ControlError, Result};
use crate::fields::Fields;
use crate::flow;
use crate::ControlPlane;

/// The first `n` free even ports of `range` whose odd neighbour is free too.
fn allocate(range: RangeInclusive<u16>, n: usize, taken: &HashSet<u16>) -> Option<Vec<u16>> {
    let first = range.start().saturating_add(range.start() % 2);
    let free: Vec<u16> = (first..=*range.end())
        .step_by(2)
        .filter(|p| p < range.end())
        .filter(|p| !taken.contains(p) && !taken.contains(&p.saturating_add(1)))
        .take(n)
        .collect();
    (free.len() == n).then_some(free)
}

impl ControlPlane {
    /// An input that exists now (deleted inputs read until they expire).
    /// UDP ports held by push inputs that are not deleted, and by whom, so
    /// that flows do not take them.
    pub fn push_input_ports(&self) -> Result<Vec<(u16, String)>> {
        let inputs: Vec<InputRecord> = self.store.list(INPUT_KIND)?;
        Ok(inputs
            .iter()
            .filter(|i| i.deleted_ms.is_none())
            .flat_map(|i| {
                let holder = format!("MediaLive input '{}' ({})", i.name, i.id);
                i.ports().into_iter().map(move |p| (p, holder.clone()))
            })
            .collect())
    }

    pub fn input_record(&self, id: &str) -> Result<InputRecord> {
        self.store
            .get::<InputRecord>(INPUT_KIND, id)?
            .filter(|r| !r.gone_at(flow::now_ms()))
            .ok_or_else(|| ControlError::NotFound(format!("input not found: {id}")))
    }

    pub(crate) fn save_input(&self, rec: &InputRecord) -> Result<()> {
        self.store.put(INPUT_KIND, &rec.id, rec.created_ms, rec)
    }

    /// CreateInput.
    pub fn create_input(&self, region: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let name = f.string("name")?.unwrap_or_default();
        let given = f.required_string("type")?;
        let Some(input_type) = InputType::parse(&given) else {
            return Err(ControlError::bad(format!(
                "type: '{given}' is not one of {}",
                InputType::ALL.map(InputType::as_str).join(", ")
            )));
        };
        if !input_type.implemented() {
            return Err(ControlError::bad(format!(
                "type: onair does not implement input type {input_type} yet (supported: MEDIACONNECT, RTP_PUSH, UDP_PUSH, RTMP_PUSH, SRT_CALLER, SRT_LISTENER)"
            )));
        }
        let flows = self.read_flows(&mut f)?.unwrap_or_default();
        let given_destinations = f.list("destinations")?.unwrap_or_default();
        let stream_names = if input_type == InputType::RtmpPush {
            read_stream_names(&given_destinations)?
        } else {
            if !given_destinations.is_empty() {
                return Err(ControlError::bad(format!(
                    "destinations: onair allocates the destinations of {input_type} inputs; do not give any"
                )));
            }
            Vec::new()
        };
        let is_srt = matches!(input_type, InputType::SrtCaller | InputType::SrtListener);
        let (srt_sources, srt_listener) = match f.object("srtSettings")? {
            Some(srt) if is_srt => read_srt_settings(srt, input_type)?,
            Some(_) => {
                return Err(ControlError::bad(format!(
                    "srtSettings: only SRT_CALLER and SRT_LISTENER inputs take SRT settings, not {input_type}"
                )))
            }
            None if input_type == InputType::SrtCaller => {
                return Err(ControlError::bad(
                    "srtSettings.srtCallerSources: an SRT_CALLER input needs 1 or 2 sources",
                ))
            }
            None if input_type == InputType::SrtListener => {
                return Err(ControlError::bad(
                    "srtSettings.srtListenerSettings: an SRT_LISTENER input needs its listener settings",
                ))
            }
            None => (Vec::new(), None),
        };
        let groups = f.string_list("inputSecurityGroups")?.unwrap_or_default();
        let role_arn = f.string("roleArn")?;
        let tags = f.string_map("tags")?.unwrap_or_default();
        let request_id = f.string("requestId")?;
        f.finish()?;
        for (i, s) in srt_sources.iter().enumerate() {
            if let Some(d) = &s.decryption {
                self.srt_passphrase_in(
                    region,
                    &format!("srtSettings.srtCallerSources[{i}].decryption.passphraseSecretArn"),
                    &d.passphrase_secret_arn,
                )?;
            }
        }
        if let Some(l) = &srt_listener {
            self.srt_passphrase_in(
                region,
                "srtSettings.srtListenerSettings.decryption.passphraseSecretArn",
                &l.decryption.passphrase_secret_arn,
            )?;
        }

        let id = numeric_id();
        let mut rec = InputRecord {
            arn: arn(region, &self.settings.account_id, "input", &id),
            id,
            name,
            input_type,
            attached_channels: Vec::new(),
            destinations: Vec::new(),
            media_connect_flows: Vec::new(),
            input_class: "STANDARD".into(),
            role_arn,
            security_groups: Vec::new(),
            srt_caller_sources: Vec::new(),
            srt_listener_settings: srt_listener,
            tags: tags.clone(),
            request_id: request_id.clone(),
            created_ms: flow::now_ms(),
            deleted_ms: None,
        };
        let _w = self.write_lock()?;
        let others: Vec<InputRecord> = self.store.list(INPUT_KIND)?;
        if let Some(same) = request_id
            .as_ref()
            .and_then(|r| others.iter().find(|o| o.request_id.as_ref() == Some(r)))
        {
            return Ok(json!({ "input": self.render_input(same) }));
        }
        rec.security_groups = self.check_input_groups(input_type, groups)?;
        if input_type == InputType::MediaConnect {
            rec.input_class = input_class(&flows)?.into();
            rec.media_connect_flows = flows;
        } else if input_type == InputType::SrtCaller {
            if !flows.is_empty() {
                return Err(ControlError::bad(
                    "mediaConnectFlows: only MEDIACONNECT inputs name flows, not SRT_CALLER",
                ));
            }
            if srt_sources.len() == 1 {
                rec.input_class = "SINGLE_PIPELINE".into();
            }
            rec.srt_caller_sources = srt_sources;
        } else if input_type == InputType::RtmpPush {
            if !flows.is_empty() {
                return Err(ControlError::bad(
                    "mediaConnectFlows: only MEDIACONNECT inputs name flows, not RTMP_PUSH",
                ));
            }
            for (i, name) in stream_names.iter().enumerate() {
                if let Some(holder) = others
                    .iter()
                    .filter(|o| o.deleted_ms.is_none())
                    .find(|o| o.stream_names().contains(&name.as_str()))
                {
                    return Err(ControlError::bad(format!(
                        "destinations[{i}].streamName: {name} is already used by RTMP_PUSH input '{}' ({}); choose another app/key",
                        holder.name, holder.id
                    )));
                }
            }
            if stream_names.len() == 1 {
                rec.input_class = "SINGLE_PIPELINE".into();
            }
            let names: Vec<&str> = stream_names.iter().map(String::as_str).collect();
            rec.destinations = rtmp_destinations(&self.settings, &names);
        } else {
            if !flows.is_empty() {
                return Err(ControlError::bad(format!(
                    "mediaConnectFlows: only MEDIACONNECT inputs name flows, not {input_type}"
                )));
            }
            let mut taken: HashSet<u16> = others
                .iter()
                .filter(|o| o.deleted_ms.is_none())
                .flat_map(InputRecord::ports)
                .collect();
            for fl in self.flow_records()? {
                for s in fl.flow.all_sources() {
                    taken.extend(flow::rules::source_ports(s));
                }
            }
            let range = self.settings.push_ports.clone();
            let ports = allocate(range.clone(), 2, &taken).ok_or_else(|| {
                ControlError::bad(format!(
                    "type: no free ports left for a push input in {}-{}",
                    range.start(),
                    range.end()
                ))
            })?;
            let scheme = match input_type {
                InputType::RtpPush => "rtp",
                InputType::SrtListener => "srt",
                _ => "udp",
            };
            let ip = &self.settings.ingest_ip;
            rec.destinations = ports
                .into_iter()
                .map(|p| InputDestination {
                    ip: ip.clone(),
                    port: p.to_string(),
                    url: format!("{scheme}://{ip}:{p}"),
                })
                .collect();
        }
        while others.iter().any(|o| o.id == rec.id) {
            rec.id = numeric_id();
            rec.arn = arn(region, &self.settings.account_id, "input", &rec.id);
        }
        self.save_input(&rec)?;
        Ok(json!({ "input": self.render_input(&rec) }))
    }

    /// The Input shape of `rec`. An RTMP_PUSH input's destinations are on the
    /// server's RTMP port as configured now (`--ingest-ip`, `--rtmp-port`),
    /// which a restart may have changed since the input was created.
    fn render_input(&self, rec: &InputRecord) -> Value {
        if rec.input_type != InputType::RtmpPush {
            return rec.render();
        }
        let mut now = rec.clone();
        now.destinations = rtmp_destinations(&self.settings, &rec.stream_names());
        now.render()
    }

    /// DescribeInput (the Input fields, flattened).
    pub fn describe_input(&self, id: &str) -> Result<Value> {
        Ok(self.render_input(&self.input_record(id)?))
    }

    /// The `mediaConnectFlows` member: each flow must exist.
    fn read_flows(&self, f: &mut Fields) -> Result<Option<Vec<MediaConnectFlow>>> {
        let Some(items) = f.list("mediaConnectFlows")? else {
            return Ok(None);
        };
        let mut flows = Vec::with_capacity(items.len());
        for (path, v) in items {
            let mut ff = Fields::new(path.clone(), v)?;
            let flow_arn = ff.required_string("flowArn")?;
            ff.finish()?;
            if self.flow_record(&flow_arn).is_err() {
                return Err(ControlError::bad(format!(
                    "{path}.flowArn: no MediaConnect flow {flow_arn}"
                )));
            }
            flows.push(MediaConnectFlow { flow_arn });
        }
        Ok(Some(flows))
    }

    /// The channel attached to `input` whose engine runs (STARTING, RUNNING
    /// or STOPPING), with its state.
    fn running_channel(&self, input: &InputRecord) -> Result<Option<(String, ChannelState)>> {
        let now = flow::now_ms();
        for id in &input.attached_channels {
            if let Some(ch) = self.store.get::<ChannelRecord>(CHANNEL_KIND, id)? {
                let state = ch.state_at(now);
                if matches!(
                    state,
                    ChannelState::Starting | ChannelState::Running | ChannelState::Stopping
                ) {
                    return Ok(Some((ch.id, state)));
                }
            }
        }
        Ok(None)
    }

    /// UpdateInput: the members given replace the stored ones (see the
    /// [module docs](self) for what may change while a channel runs).
    pub fn update_input(&self, id: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let name = f.string("name")?;
        let role_arn = f.string("roleArn")?;
        let groups = f.string_list("inputSecurityGroups")?;
        let flows = self.read_flows(&mut f)?;
        if f.list("destinations")?.is_some_and(|d| !d.is_empty()) {
            return Err(ControlError::bad(
                "destinations: the destinations of a push input cannot change (onair allocates RTP/UDP ports; an RTMP_PUSH input keeps the app/key it was created with: create another input for new ones)",
            ));
        }
        if f.list("sources")?.is_some_and(|s| !s.is_empty()) {
            return Err(ControlError::bad(
                "sources: onair implements no pull input type, so no input has sources",
            ));
        }
        f.finish()?;

        let _w = self.write_lock()?;
        let mut rec = self.input_record(id)?;
        if rec.deleted_ms.is_some() {
            return Err(ControlError::NotFound(format!("input not found: {id}")));
        }
        if let Some(groups) = groups {
            rec.security_groups = self.check_input_groups(rec.input_type, groups)?;
        }
        if let Some(flows) = flows {
            if rec.input_type != InputType::MediaConnect {
                if !flows.is_empty() {
                    return Err(ControlError::bad(format!(
                        "mediaConnectFlows: only MEDIACONNECT inputs name flows, not {}",
                        rec.input_type
                    )));
                }
            } else if flows != rec.media_connect_flows {
                let class = input_class(&flows)?;
                if let Some(channel) = rec.attached_channels.first() {
                    if class != rec.input_class {
                        return Err(ControlError::Conflict(format!(
                            "mediaConnectFlows: input {id} is attached to channel {channel}, so its class ({}) cannot change to {class}; detach it first",
                            rec.input_class
                        )));
                    }
                }
                if let Some((channel, state)) = self.running_channel(&rec)? {
                    return Err(ControlError::Conflict(format!(
                        "mediaConnectFlows: input {id} is attached to channel {channel}, which is {state}; stop the channel to change the input's flows"
                    )));
                }
                rec.input_class = class.into();
                rec.media_connect_flows = flows;
            }
        }
        if let Some(name) = name {
            rec.name = name;
        }
        if role_arn.is_some() {
            rec.role_arn = role_arn;
        }
        self.save_input(&rec)?;
        self.wake();
        Ok(json!({ "input": self.render_input(&rec) }))
    }

    /// ListInputs, paginated by position in creation order; deleted inputs
    /// are not listed.
    pub fn list_inputs(
        &self,
        max_results: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let all: Vec<InputRecord> = self
            .store
            .list::<InputRecord>(INPUT_KIND)?
            .into_iter()
            .filter(|r| r.deleted_ms.is_none())
            .collect();
        let (page, next) = page(&all, max_results, next_token)?;
        let inputs = page.iter().map(|i| self.render_input(i)).collect();
        Ok(crate::page::listing("inputs", inputs, next))
    }

    /// DeleteInput: 409 while a channel attaches it.
    pub fn delete_input(&self, id: &str) -> Result<Value> {
        let _w = self.write_lock()?;
        let mut rec = self.input_record(id)?;
        if rec.deleted_ms.is_some() {
            return Err(ControlError::NotFound(format!("input not found: {id}")));
        }
        if !rec.attached_channels.is_empty() {
            return Err(ControlError::Conflict(format!(
                "input {id} is attached to channel(s) {}; delete or update the channel first",
                rec.attached_channels.join(", ")
            )));
        }
        rec.deleted_ms = Some(flow::now_ms());
        self.save_input(&rec)?;
        Ok(json!({}))
    }

    /// The tags of a MediaLive resource, changed by `change`.
    pub fn change_live_tags(
        &self,
        resource_arn: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<BTreeMap<String, String>> {
        let _w = self.write_lock()?;
        let resource = crate::arn::Arn::parse(resource_arn)
            .filter(|a| a.service == "medialive")
            .map(|a| a.resource.to_string())
            .ok_or_else(|| {
                ControlError::NotFound(format!("no MediaLive resource {resource_arn}"))
            })?;
        match resource.split_once(':') {
            Some(("input", id)) => {
                let mut rec = self.input_record(id)?;
                change(&mut rec.tags);
                self.save_input(&rec)?;
                Ok(rec.tags)
            }
            Some(("channel", id)) => {
                let mut rec = self.live_channel_record(id)?;
                change(&mut rec.tags);
                self.save_live_channel(&rec)?;
                Ok(rec.tags)
            }
            Some(("inputSecurityGroup", id)) => self.change_security_group_tags(id, change),
            _ => Err(ControlError::NotFound(format!(
                "no MediaLive resource {resource_arn}"
            ))),
        }
    }
}

/// The range of `minimumLatency`, in milliseconds, as MediaLive documents it.
pub const SRT_LATENCY_MS: std::ops::RangeInclusive<i64> = 120..=15000;
/// libsrt's bound on a stream id, in bytes.
const SRT_STREAM_ID_MAX: usize = 512;
/// The values of `decryption.algorithm` (the model's `Algorithm`).
const SRT_ALGORITHMS: [&str; 3] = ["AES128", "AES192", "AES256"];

/// The `srtSettings` of an SRT_CALLER CreateInput (`srtCallerSources`, one
/// or two, one per pipeline) or of an SRT_LISTENER one
/// (`srtListenerSettings`); each type refuses the other's member.
fn read_srt_settings(
    mut f: Fields,
    input_type: InputType,
) -> Result<(Vec<SrtCallerSource>, Option<SrtListenerSettings>)> {
    let path = f.at("srtCallerSources");
    let items = f.list("srtCallerSources")?.unwrap_or_default();
    let listener = f.object("srtListenerSettings")?;
    f.finish()?;
    if input_type == InputType::SrtListener {
        if !items.is_empty() {
            return Err(ControlError::bad(format!(
                "{path}: only SRT_CALLER inputs take caller sources, not SRT_LISTENER"
            )));
        }
        let Some(l) = listener else {
            return Err(ControlError::bad(
                "srtSettings.srtListenerSettings: an SRT_LISTENER input needs its listener settings",
            ));
        };
        return Ok((Vec::new(), Some(read_srt_listener_settings(l)?)));
    }
    if listener.is_some() {
        return Err(ControlError::bad(
            "srtSettings.srtListenerSettings: only SRT_LISTENER inputs take listener settings, not SRT_CALLER",
        ));
    }
    if !(1..=2).contains(&items.len()) {
        return Err(ControlError::bad(format!(
            "{path}: an SRT_CALLER input needs 1 or 2 sources (one per pipeline); got {}",
            items.len()
        )));
    }
    let sources = items
        .into_iter()
        .map(|(path, v)| read_srt_caller_source(path, v))
        .collect::<Result<Vec<_>>>()?;
    Ok((sources, None))
}

/// An `SrtListenerSettingsRequest`: `minimumLatency` and `decryption` are
/// required, as in the model.
fn read_srt_listener_settings(mut f: Fields) -> Result<SrtListenerSettings> {
    let minimum_latency = f
        .int("minimumLatency")?
        .ok_or_else(|| ControlError::bad(format!("{}: is required", f.at("minimumLatency"))))?;
    check_latency(&f, minimum_latency)?;
    let stream_id = read_stream_id(&mut f)?;
    let decryption = read_decryption(&mut f)?
        .ok_or_else(|| ControlError::bad(format!("{}: is required", f.at("decryption"))))?;
    f.finish()?;
    Ok(SrtListenerSettings {
        minimum_latency,
        stream_id,
        decryption,
    })
}

fn check_latency(f: &Fields, l: i64) -> Result<()> {
    if SRT_LATENCY_MS.contains(&l) {
        return Ok(());
    }
    Err(ControlError::bad(format!(
        "{}: {l} is outside {}-{} milliseconds",
        f.at("minimumLatency"),
        SRT_LATENCY_MS.start(),
        SRT_LATENCY_MS.end()
    )))
}

fn read_stream_id(f: &mut Fields) -> Result<Option<String>> {
    let stream_id = f.string("streamId")?;
    if stream_id
        .as_ref()
        .is_some_and(|s| s.len() > SRT_STREAM_ID_MAX)
    {
        return Err(ControlError::bad(format!(
            "{}: at most {SRT_STREAM_ID_MAX} bytes",
            f.at("streamId")
        )));
    }
    Ok(stream_id)
}

/// A `decryption` member: `algorithm` and `passphraseSecretArn`, both
/// required when it is given.
fn read_decryption(f: &mut Fields) -> Result<Option<SrtDecryption>> {
    let Some(mut d) = f.object("decryption")? else {
        return Ok(None);
    };
    let algorithm = d
        .enumeration("algorithm", &SRT_ALGORITHMS, |a| {
            SRT_ALGORITHMS.contains(&a).then(|| a.to_owned())
        })?
        .ok_or_else(|| ControlError::bad(format!("{}: is required", d.at("algorithm"))))?;
    let passphrase_secret_arn = d.required_string("passphraseSecretArn")?;
    d.finish()?;
    Ok(Some(SrtDecryption {
        algorithm,
        passphrase_secret_arn,
    }))
}

/// One `SrtCallerSourceRequest`.
fn read_srt_caller_source(path: String, v: &Value) -> Result<SrtCallerSource> {
    let mut f = Fields::new(path, v)?;
    let address = f.required_string("srtListenerAddress")?;
    if address.parse::<std::net::IpAddr>().is_err() {
        return Err(ControlError::bad(format!(
            "{}: '{address}' is not an IP address",
            f.at("srtListenerAddress")
        )));
    }
    let port = f.required_string("srtListenerPort")?;
    if !port.parse::<u16>().is_ok_and(|p| p != 0) {
        return Err(ControlError::bad(format!(
            "{}: '{port}' is not a port number from 1 to 65535",
            f.at("srtListenerPort")
        )));
    }
    let stream_id = read_stream_id(&mut f)?;
    let minimum_latency = f.int("minimumLatency")?;
    if let Some(l) = minimum_latency {
        check_latency(&f, l)?;
    }
    let decryption = read_decryption(&mut f)?;
    f.finish()?;
    Ok(SrtCallerSource {
        srt_listener_address: address,
        srt_listener_port: port,
        stream_id,
        minimum_latency,
        decryption,
    })
}

/// The destinations of RTMP stream `names` on the server's RTMP port.
fn rtmp_destinations(settings: &crate::Settings, names: &[&str]) -> Vec<InputDestination> {
    let ip = &settings.ingest_ip;
    let port = settings.rtmp_port;
    names
        .iter()
        .map(|name| InputDestination {
            ip: ip.clone(),
            port: port.to_string(),
            url: format!("rtmp://{ip}:{port}/{name}"),
        })
        .collect()
}

/// The longest `app` or `key` of an RTMP stream name.
const MAX_STREAM_NAME_PART: usize = 128;

/// The `destinations[].streamName` of an RTMP_PUSH CreateInput: one (a
/// SINGLE_PIPELINE input) or two (STANDARD), each `app/key`, both parts of
/// letters, digits and `-` `_` `.` `~` (they appear unescaped in URLs), and
/// the two different.
fn read_stream_names(items: &[(String, &Value)]) -> Result<Vec<String>> {
    if !(1..=2).contains(&items.len()) {
        return Err(ControlError::bad(format!(
            "destinations: an RTMP_PUSH input takes 1 or 2 destinations, each with a streamName app/key; got {}",
            items.len()
        )));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (path, v) in items {
        let mut ff = Fields::new(path.clone(), v)?;
        let name = ff.required_string("streamName")?;
        ff.finish()?;
        check_stream_name(&name).map_err(|why| {
            ControlError::bad(format!(
                "{path}.streamName: '{name}' {why}; give it as app/key (for example live/camera1)"
            ))
        })?;
        if names.contains(&name) {
            return Err(ControlError::bad(format!(
                "{path}.streamName: {name} is given twice; each destination needs its own app/key"
            )));
        }
        names.push(name);
    }
    Ok(names)
}

/// Why `name` is not an RTMP `app/key`.
fn check_stream_name(name: &str) -> std::result::Result<(), &'static str> {
    let Some((app, key)) = name.split_once('/') else {
        return Err("has no '/' between app and key");
    };
    if app.is_empty() || key.is_empty() {
        return Err("has an empty app or key");
    }
    if key.contains('/') {
        return Err("has more than one '/'");
    }
    if app.len() > MAX_STREAM_NAME_PART || key.len() > MAX_STREAM_NAME_PART {
        return Err("has an app or key longer than 128 characters");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
    if !app.chars().chain(key.chars()).all(allowed) {
        return Err("has characters other than letters, digits, '-', '_', '.' and '~'");
    }
    Ok(())
}

/// The class of a MEDIACONNECT input of `flows`: two flows are STANDARD
/// (one per pipeline), one is SINGLE_PIPELINE.
fn input_class(flows: &[MediaConnectFlow]) -> Result<&'static str> {
    match flows.len() {
        1 => Ok("SINGLE_PIPELINE"),
        2 => Ok("STANDARD"),
        n => Err(ControlError::bad(format!(
            "mediaConnectFlows: a MEDIACONNECT input names 1 or 2 flows, got {n}"
        ))),
    }
}

/// One page of `all` and the next token (the position of the next item).
pub(crate) fn page<'a, T>(
    all: &'a [T],
    max_results: Option<&str>,
    next_token: Option<&str>,
) -> Result<(&'a [T], Option<String>)> {
    Ok(crate::page::Page::parse(max_results, next_token)?.of(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::medialive::PUSH_PORTS;
    use crate::{Settings, Store};

    fn cp() -> std::sync::Arc<ControlPlane> {
        ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default())
    }

    fn new_flow(cp: &ControlPlane, name: &str, port: u16) -> String {
        let body =
            json!({"name": name, "source": {"name": "s", "protocol": "rtp", "ingestPort": port}});
        let v = cp.create_flow("us-west-2", &body).unwrap();
        v["flow"]["flowArn"].as_str().unwrap().to_owned()
    }

    fn input(cp: &ControlPlane, body: Value) -> String {
        let v = cp.create_input("us-west-2", &body).unwrap();
        v["input"]["id"].as_str().unwrap().to_owned()
    }

    /// Attaches `input` to a stored channel in `state`.
    fn attach(cp: &ControlPlane, input: &str, state: ChannelState) -> String {
        let channel = ChannelRecord {
            arn: "arn:aws:medialive:us-west-2:000000000000:channel:1000001".into(),
            id: "1000001".into(),
            settings: serde_json::from_value(
                json!({"inputAttachments": [{"inputAttachmentName": "a", "inputId": input}]}),
            )
            .unwrap(),
            tags: BTreeMap::new(),
            entered: state,
            entered_ms: flow::now_ms(),
            created_ms: 0,
            request_id: None,
            active_input: None,
        };
        cp.save_live_channel(&channel).unwrap();
        let mut rec = cp.input_record(input).unwrap();
        rec.attached_channels = vec![channel.id.clone()];
        cp.save_input(&rec).unwrap();
        channel.id
    }

    #[test]
    fn update_input_changes_what_a_running_channel_can_take() {
        let cp = cp();
        let (a, b) = (new_flow(&cp, "a", 6000), new_flow(&cp, "b", 6010));
        let id = input(
            &cp,
            json!({"name": "in", "type": "MEDIACONNECT", "mediaConnectFlows": [{"flowArn": a}]}),
        );
        let channel = attach(&cp, &id, ChannelState::Running);
        // The flows of a running channel's input stay; the name may change.
        let e = cp
            .update_input(&id, &json!({"mediaConnectFlows": [{"flowArn": b}]}))
            .unwrap_err();
        assert!(
            matches!(&e, ControlError::Conflict(m) if m.contains(&channel) && m.contains("RUNNING")),
            "{e:?}"
        );
        let v = cp
            .update_input(
                &id,
                &json!({"name": "renamed", "mediaConnectFlows": [{"flowArn": a}]}),
            )
            .unwrap();
        assert_eq!(v["input"]["name"], "renamed");
        // An attached input keeps its class, running or not.
        let mut ch = cp.live_channel_record(&channel).unwrap();
        ch.entered = ChannelState::Idle;
        cp.save_live_channel(&ch).unwrap();
        let e = cp
            .update_input(
                &id,
                &json!({"mediaConnectFlows": [{"flowArn": a}, {"flowArn": b}]}),
            )
            .unwrap_err();
        assert!(
            matches!(&e, ControlError::Conflict(m) if m.contains("class")),
            "{e:?}"
        );
        let v = cp
            .update_input(&id, &json!({"mediaConnectFlows": [{"flowArn": b}]}))
            .unwrap();
        assert_eq!(v["input"]["mediaConnectFlows"], json!([{"flowArn": b}]));
        // Security groups are for push inputs.
        let g = cp
            .create_input_security_group(
                "us-west-2",
                &json!({"whitelistRules": [{"cidr": "127.0.0.1/32"}]}),
            )
            .unwrap()["securityGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let e = cp
            .update_input(&id, &json!({"inputSecurityGroups": [g]}))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("only RTP_PUSH, UDP_PUSH, RTMP_PUSH and SRT_LISTENER"),
            "{e}"
        );
    }

    #[test]
    fn a_running_push_input_takes_new_groups() {
        let cp = cp();
        let id = input(&cp, json!({"name": "push", "type": "RTP_PUSH"}));
        attach(&cp, &id, ChannelState::Running);
        let g = cp
            .create_input_security_group(
                "us-west-2",
                &json!({"whitelistRules": [{"cidr": "192.0.2.0/24"}]}),
            )
            .unwrap()["securityGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let v = cp
            .update_input(&id, &json!({"inputSecurityGroups": [g]}))
            .unwrap();
        assert_eq!(v["input"]["securityGroups"], json!([g]));
        assert_eq!(v["input"]["state"], "ATTACHED");
        let senders = cp.allowed_senders(&id).unwrap();
        assert!(senders.admits("192.0.2.1".parse().unwrap()));
        assert!(!senders.admits("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn update_input_refuses_what_onair_does_not_do_by_name() {
        let cp = cp();
        let id = input(&cp, json!({"type": "UDP_PUSH"}));
        let msg = |body: Value| cp.update_input(&id, &body).unwrap_err().to_string();
        assert!(msg(json!({"destinations": [{"streamName": "x"}]})).starts_with("destinations:"));
        assert!(msg(json!({"sources": [{"url": "rtmp://x"}]})).starts_with("sources:"));
        assert_eq!(
            msg(json!({"inputDevices": []})),
            "inputDevices: onair does not support this member"
        );
        assert!(msg(json!({"mediaConnectFlows": [{"flowArn": "arn:nope"}]}))
            .starts_with("mediaConnectFlows[0].flowArn"));
        // Empty lists are no change; the role is kept.
        let v = cp
            .update_input(
                &id,
                &json!({"destinations": [], "sources": [], "roleArn": "arn:aws:iam::000000000000:role/r"}),
            )
            .unwrap();
        assert_eq!(v["input"]["roleArn"], "arn:aws:iam::000000000000:role/r");
        assert!(matches!(
            cp.update_input("404", &json!({})),
            Err(ControlError::NotFound(_))
        ));
        cp.delete_input(&id).unwrap();
        assert!(matches!(
            cp.update_input(&id, &json!({"name": "x"})),
            Err(ControlError::NotFound(_))
        ));
    }

    #[test]
    fn rtmp_push_inputs_take_app_key_stream_names() {
        let cp = cp();
        let v = cp
            .create_input(
                "us-west-2",
                &json!({"name": "obs", "type": "RTMP_PUSH",
                        "destinations": [{"streamName": "live/a"}, {"streamName": "live/b"}]}),
            )
            .unwrap();
        let input = &v["input"];
        assert_eq!(input["inputClass"], "STANDARD");
        assert_eq!(
            input["destinations"][0]["url"],
            "rtmp://127.0.0.1:1935/live/a"
        );
        assert_eq!(input["destinations"][1]["port"], "1935");
        let rec = cp.input_record(input["id"].as_str().unwrap()).unwrap();
        assert_eq!(rec.stream_names(), ["live/a", "live/b"]);
        // RTMP holds no UDP port.
        assert!(rec.ports().is_empty());

        let one = cp
            .create_input(
                "us-west-2",
                &json!({"type": "RTMP_PUSH", "destinations": [{"streamName": "live/c"}]}),
            )
            .unwrap();
        assert_eq!(one["input"]["inputClass"], "SINGLE_PIPELINE");

        let msg = |d: Value| {
            cp.create_input(
                "us-west-2",
                &json!({"type": "RTMP_PUSH", "destinations": d}),
            )
            .unwrap_err()
            .to_string()
        };
        assert!(msg(json!([{"streamName": "live/b"}])).starts_with(
            "destinations[0].streamName: live/b is already used by RTMP_PUSH input 'obs'"
        ));
        assert!(msg(json!([{"streamName": "nokey"}])).starts_with("destinations[0].streamName:"));
        assert!(msg(json!([{"streamName": "live/"}])).contains("empty"));
        assert!(msg(json!([{"streamName": "a/b/c"}])).contains("more than one"));
        assert!(msg(json!([{"streamName": "a/b c"}])).contains("characters"));
        assert!(msg(json!([{"streamName": "x/y"}, {"streamName": "x/y"}]))
            .starts_with("destinations[1].streamName: x/y is given twice"));
        assert!(msg(json!([])).starts_with("destinations: an RTMP_PUSH input takes 1 or 2"));
        assert!(msg(json!([{"url": "rtmp://x"}]))
            .starts_with("destinations[0].streamName: is required"));
        // The URL follows the server's RTMP port and ingest address.
        let moved = Settings {
            ingest_ip: "192.0.2.7".into(),
            rtmp_port: 2935,
            ..Settings::default()
        };
        let d = rtmp_destinations(&moved, &rec.stream_names());
        assert_eq!(d[1].url, "rtmp://192.0.2.7:2935/live/b");
        assert_eq!(d[1].port, "2935");
        assert_eq!(
            cp.describe_input(&rec.id).unwrap()["destinations"],
            input["destinations"]
        );
        // Once deleted, its names are free again.
        cp.delete_input(input["id"].as_str().unwrap()).unwrap();
        cp.create_input(
            "us-west-2",
            &json!({"type": "RTMP_PUSH", "destinations": [{"streamName": "live/a"}]}),
        )
        .unwrap();
    }

    /// A Secrets Manager secret holding an SRT passphrase.
    fn passphrase_secret(cp: &ControlPlane, name: &str) -> crate::secrets::model::Secret {
        let new = crate::secrets::NewSecret {
            name: name.into(),
            value: Some(crate::secrets::model::SecretValue::string("0123456789abc").unwrap()),
            ..Default::default()
        };
        cp.secrets_create("us-west-2", &new, flow::now_ms())
            .unwrap()
            .0
    }

    #[test]
    fn srt_caller_inputs_name_their_listeners() {
        let cp = cp();
        let secret = passphrase_secret(&cp, "srt/pass");
        let source = json!({"srtListenerAddress": "127.0.0.1", "srtListenerPort": "9000",
            "streamId": "cam", "minimumLatency": 200,
            "decryption": {"algorithm": "AES128", "passphraseSecretArn": secret.arn}});
        let v = cp
            .create_input(
                "us-west-2",
                &json!({"name": "srt", "type": "SRT_CALLER",
                        "srtSettings": {"srtCallerSources": [source]}}),
            )
            .unwrap();
        assert_eq!(v["input"]["inputClass"], "SINGLE_PIPELINE");
        assert_eq!(v["input"]["srtSettings"]["srtCallerSources"][0], source);
        assert_eq!(v["input"]["destinations"], json!([]));
        let id = v["input"]["id"].as_str().unwrap();
        assert_eq!(
            cp.describe_input(id).unwrap()["srtSettings"],
            v["input"]["srtSettings"]
        );
        assert!(cp.input_record(id).unwrap().ports().is_empty());

        let err = |srt: Value| {
            cp.create_input(
                "us-west-2",
                &json!({"type": "SRT_CALLER", "srtSettings": srt}),
            )
            .unwrap_err()
        };
        let with = |key: &str, value: Value| {
            let mut s = source.clone();
            s[key] = value;
            err(json!({"srtCallerSources": [s]})).to_string()
        };
        let at = "srtSettings.srtCallerSources[0]";
        assert!(with("srtListenerAddress", json!("example.com"))
            .starts_with(&format!("{at}.srtListenerAddress:")));
        assert!(with("srtListenerPort", json!("0")).starts_with(&format!("{at}.srtListenerPort:")));
        assert!(with("srtListenerPort", json!("65536")).contains("1 to 65535"));
        assert!(with("minimumLatency", json!(119)).starts_with(&format!("{at}.minimumLatency:")));
        assert!(with("minimumLatency", json!(15001)).contains("120-15000"));
        assert!(with(
            "decryption",
            json!({"algorithm": "AES512", "passphraseSecretArn": "x"})
        )
        .starts_with(&format!("{at}.decryption.algorithm:")));
        let missing = err(
            json!({"srtCallerSources": [{"srtListenerAddress": "127.0.0.1",
            "srtListenerPort": "9000", "decryption": {"algorithm": "AES256",
            "passphraseSecretArn": "arn:aws:secretsmanager:us-west-2:000000000000:secret:nope"}}]}),
        );
        assert!(
            matches!(&missing, ControlError::NotFound(m)
                if m.starts_with(&format!("{at}.decryption.passphraseSecretArn:"))),
            "{missing:?}"
        );
        assert!(err(json!({"srtCallerSources": []}))
            .to_string()
            .contains("1 or 2"));
        assert!(err(json!({"srtCallerSources": [source, source, source]}))
            .to_string()
            .contains("1 or 2"));
        assert!(err(json!({"srtListenerSettings": {"minimumLatency": 200}}))
            .to_string()
            .starts_with("srtSettings.srtListenerSettings:"));
        let listener = cp
            .create_input("us-west-2", &json!({"type": "SRT_LISTENER"}))
            .unwrap_err();
        assert!(
            listener
                .to_string()
                .starts_with("srtSettings.srtListenerSettings:"),
            "{listener}"
        );
        let rtp = cp
            .create_input("us-west-2", &json!({"type": "RTP_PUSH", "srtSettings": {}}))
            .unwrap_err();
        assert!(rtp.to_string().starts_with("srtSettings:"), "{rtp}");
        // Two sources: one per pipeline.
        let v = cp
            .create_input(
                "us-west-2",
                &json!({"type": "SRT_CALLER", "srtSettings": {"srtCallerSources": [
                    {"srtListenerAddress": "127.0.0.1", "srtListenerPort": "9000"},
                    {"srtListenerAddress": "127.0.0.1", "srtListenerPort": "9002"}]}}),
            )
            .unwrap();
        assert_eq!(v["input"]["inputClass"], "STANDARD");
    }

    #[test]
    fn srt_listener_inputs_get_ports_and_take_groups() {
        let cp = cp();
        let secret = passphrase_secret(&cp, "srt/listen");
        let settings = json!({"minimumLatency": 300, "streamId": "cam",
            "decryption": {"algorithm": "AES256", "passphraseSecretArn": secret.arn}});
        let g = cp
            .create_input_security_group(
                "us-west-2",
                &json!({"whitelistRules": [{"cidr": "127.0.0.1/32"}]}),
            )
            .unwrap()["securityGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let v = cp
            .create_input(
                "us-west-2",
                &json!({"type": "SRT_LISTENER", "inputSecurityGroups": [g],
                        "srtSettings": {"srtListenerSettings": settings}}),
            )
            .unwrap();
        let input = &v["input"];
        assert_eq!(input["srtSettings"]["srtListenerSettings"], settings);
        assert_eq!(input["securityGroups"], json!([g]));
        let port = input["destinations"][0]["port"].as_str().unwrap();
        assert_eq!(
            input["destinations"][0]["url"],
            format!("srt://127.0.0.1:{port}")
        );
        let rec = cp.input_record(input["id"].as_str().unwrap()).unwrap();
        assert_eq!(rec.ports().len(), 2);

        let err = |l: Value| {
            cp.create_input(
                "us-west-2",
                &json!({"type": "SRT_LISTENER", "srtSettings": {"srtListenerSettings": l}}),
            )
            .unwrap_err()
            .to_string()
        };
        let at = "srtSettings.srtListenerSettings";
        assert!(err(json!({"decryption": settings["decryption"]}))
            .starts_with(&format!("{at}.minimumLatency: is required")));
        assert!(err(json!({"minimumLatency": 200}))
            .starts_with(&format!("{at}.decryption: is required")));
        assert!(
            err(json!({"minimumLatency": 100, "decryption": settings["decryption"]}))
                .starts_with(&format!("{at}.minimumLatency:"))
        );
        let e = cp
            .create_input(
                "us-west-2",
                &json!({"type": "SRT_LISTENER", "srtSettings": {"srtCallerSources": [
                    {"srtListenerAddress": "127.0.0.1", "srtListenerPort": "9000"}]}}),
            )
            .unwrap_err();
        assert!(
            e.to_string().starts_with("srtSettings.srtCallerSources:"),
            "{e}"
        );
    }

    #[test]
    fn allocates_even_free_ports() {
        let taken: HashSet<u16> = [5100, 5103].into_iter().collect();
        assert_eq!(allocate(PUSH_PORTS, 2, &taken), Some(vec![5104, 5106]));
        // An odd start rounds up; the last even port needs its odd neighbour.
        assert_eq!(allocate(7001..=7004, 2, &HashSet::new()), None);
        assert_eq!(
            allocate(7001..=7005, 2, &HashSet::new()),
            Some(vec![7002, 7004])
        );
    }

    #[test]
    fn pages_by_position() {
        let all = [1, 2, 3];
        let (p, n) = page(&all, Some("2"), None).unwrap();
        assert_eq!((p, n.as_deref()), (&[1, 2][..], Some("2")));
        let (p, n) = page(&all, Some("2"), Some("2")).unwrap();
        assert_eq!((p, n), (&[3][..], None));
        assert!(page(&all, Some("0"), None).is_err());
    }
}
