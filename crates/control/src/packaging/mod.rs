//! MediaPackage v1 resources: packaging channels (with HLS ingest endpoints)
//! and origin endpoints.
//!
//! Every operation validates, then commits the new document before it
//! answers. Channels and endpoints are keyed by their `id` (ids are unique
//! on a server; AWS makes them unique per region). Deleting a channel that
//! still has origin endpoints is refused with a 422, as AWS does.
//!
//! URLs point at this server and are rendered from `Settings::base_url` on every
//! answer:
//! - ingest: `{base}/in/v2/{channelId}/{ingestEndpointId}/channel` — an
//!   encoder PUTs HLS there with the endpoint's username and password;
//! - origin: `{base}/out/v1/{channelId}/{endpointId}/{manifestName}.m3u8`.
//!   AWS puts a hash in this path; onair's path is readable and stable, so
//!   it can be written down before the endpoint exists.

pub mod model;
pub mod request;

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::arn::random_hex;
use crate::error::{ControlError, Result};
use crate::fields::Fields;
use crate::flow::now_ms;
use crate::page::{self, Page};
use crate::ControlPlane;
use model::{
    Channel, ChannelRecord, EndpointRecord, HlsIngest, HlsPackage, IngestEndpoint, OriginEndpoint,
    Origination,
};

pub const CHANNEL_KIND: &str = "mediapackage-channel";
pub const ENDPOINT_KIND: &str = "mediapackage-endpoint";

/// The packaging settings of an origin endpoint record.
pub fn endpoint_config(rec: &EndpointRecord) -> package::origin::EndpointConfig {
    let e = &rec.endpoint;
    let hls = &e.hls_package;
    let secs = |s: i64| std::time::Duration::from_secs(u64::try_from(s).unwrap_or(0));
    package::origin::EndpointConfig {
        id: e.id.clone(),
        manifest_name: e.manifest_name.clone(),
        segment_duration: secs(hls.segment_duration_seconds).max(std::time::Duration::from_secs(1)),
        window: secs(hls.playlist_window_seconds),
        startover: secs(e.startover_window_seconds),
        playlist_type: match hls.playlist_type {
            model::PlaylistType::None => package::hls::PlaylistType::Live,
            model::PlaylistType::Event => package::hls::PlaylistType::Event,
            model::PlaylistType::Vod => package::hls::PlaylistType::Vod,
        },
        program_date_time_interval: (hls.program_date_time_interval_seconds > 0)
            .then(|| secs(hls.program_date_time_interval_seconds)),
        time_delay: secs(e.time_delay_seconds),
    }
}

/// Every packaging channel and origin endpoint at one moment, by id
/// ([`ControlPlane::packaging_view`]).
#[derive(Debug, Default)]
pub struct PackagingView {
    pub channels: HashMap<String, ChannelRecord>,
    pub endpoints: HashMap<String, EndpointRecord>,
}

impl PackagingView {
    /// The packaging settings of `channel_id`'s origin endpoints, oldest first.
    pub fn endpoint_configs(&self, channel_id: &str) -> Vec<package::origin::EndpointConfig> {
        let mut recs: Vec<&EndpointRecord> = self
            .endpoints
            .values()
            .filter(|r| r.endpoint.channel_id == channel_id)
            .collect();
        recs.sort_by(|a, b| (a.created_ms, &a.endpoint.id).cmp(&(b.created_ms, &b.endpoint.id)));
        recs.into_iter().map(endpoint_config).collect()
    }

    /// Every packaging channel with its origin endpoints' settings: what the
    /// origin store keeps ([`package::origin::OriginStore::sync`]).
    pub fn origin_configs(&self) -> Vec<(String, Vec<package::origin::EndpointConfig>)> {
        self.channels
            .keys()
            .map(|id| (id.clone(), self.endpoint_configs(id)))
            .collect()
    }
}

fn new_ingest_endpoint() -> IngestEndpoint {
    IngestEndpoint {
        id: random_hex(32),
        url: None,
        username: random_hex(32),
        password: crate::arn::random_alnum(32),
    }
}

fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A channel as a client reads it, URLs filled in.
pub fn render_channel(base: &str, c: &Channel) -> Channel {
    let mut c = c.clone();
    for e in &mut c.hls_ingest.ingest_endpoints {
        e.url = Some(format!("{base}/in/v2/{}/{}/channel", c.id, e.id));
    }
    c
}

/// An endpoint as a client reads it, URL filled in.
pub fn render_endpoint(base: &str, e: &OriginEndpoint) -> OriginEndpoint {
    let mut e = e.clone();
    e.url = Some(format!(
        "{}/out/v1/{}/{}/{}.m3u8",
        base, e.channel_id, e.id, e.manifest_name
    ));
    e
}

fn channel_json(base: &str, c: &Channel) -> Result<Value> {
    Ok(serde_json::to_value(render_channel(base, c))?)
}

fn endpoint_json(base: &str, e: &OriginEndpoint) -> Result<Value> {
    Ok(serde_json::to_value(render_endpoint(base, e))?)
}

fn channel_not_found(id: &str) -> ControlError {
    ControlError::NotFound(format!("channel not found: {id}"))
}

fn endpoint_not_found(id: &str) -> ControlError {
    ControlError::NotFound(format!("origin endpoint not found: {id}"))
}

fn tags(f: &mut Fields) -> Result<BTreeMap<String, String>> {
    Ok(f.string_map("tags")?.unwrap_or_default())
}

impl ControlPlane {
    /// A stored packaging channel.
    pub fn packaging_channel(&self, id: &str) -> Result<ChannelRecord> {
        self.store
            .get(CHANNEL_KIND, id)?
            .ok_or_else(|| channel_not_found(id))
    }

    /// Every packaging channel, oldest first.
    pub fn packaging_channels(&self) -> Result<Vec<ChannelRecord>> {
        self.store.list(CHANNEL_KIND)
    }

    /// A stored origin endpoint.
    pub fn origin_endpoint(&self, id: &str) -> Result<EndpointRecord> {
        self.store
            .get(ENDPOINT_KIND, id)?
            .ok_or_else(|| endpoint_not_found(id))
    }

    /// Every origin endpoint, oldest first.
    pub fn origin_endpoints(&self) -> Result<Vec<EndpointRecord>> {
        self.store.list(ENDPOINT_KIND)
    }

    fn save_channel(&self, rec: &ChannelRecord) -> Result<()> {
        self.store
            .put(CHANNEL_KIND, &rec.channel.id, rec.created_ms, rec)?;
        self.packaging_changed();
        Ok(())
    }

    fn save_endpoint(&self, rec: &EndpointRecord) -> Result<()> {
        self.store
            .put(ENDPOINT_KIND, &rec.endpoint.id, rec.created_ms, rec)?;
        self.packaging_changed();
        Ok(())
    }

    fn package_arn(&self, region: &str, kind: &str) -> String {
        format!(
            "arn:aws:mediapackage:{region}:{}:{kind}/{}",
            self.settings.account_id,
            random_hex(32)
        )
    }

    /// CreateChannel: two ingest endpoints with fresh credentials.
    pub fn create_package_channel(&self, region: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let id = f.required_string("id")?;
        request::id("id", &id)?;
        let description = f.string("description")?;
        let tags = tags(&mut f)?;
        f.finish()?;
        let rec = ChannelRecord {
            channel: Channel {
                arn: self.package_arn(region, "channels"),
                id: id.clone(),
                description,
                created_at: now_iso(),
                hls_ingest: HlsIngest {
                    ingest_endpoints: vec![new_ingest_endpoint(), new_ingest_endpoint()],
                },
                tags,
            },
            created_ms: now_ms(),
        };
        let _w = self.write_lock()?;
        if self
            .store
            .get::<ChannelRecord>(CHANNEL_KIND, &id)?
            .is_some()
        {
            return Err(ControlError::bad(format!(
                "id: a channel with id '{id}' already exists"
            )));
        }
        self.save_channel(&rec)?;
        channel_json(&self.settings.base_url, &rec.channel)
    }

    /// DescribeChannel.
    pub fn describe_package_channel(&self, id: &str) -> Result<Value> {
        channel_json(
            &self.settings.base_url,
            &self.packaging_channel(id)?.channel,
        )
    }

    /// ListChannels, paginated by position in creation order.
    pub fn list_package_channels(
        &self,
        max_results: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let page = Page::parse(max_results, next_token)?;
        let all = self.packaging_channels()?;
        let (items, next) = page.of(&all);
        let listed = items
            .iter()
            .map(|r| channel_json(&self.settings.base_url, &r.channel))
            .collect::<Result<Vec<_>>>()?;
        Ok(page::listing("channels", listed, next))
    }

    fn modify_channel(
        &self,
        id: &str,
        change: impl FnOnce(&mut ChannelRecord) -> Result<()>,
    ) -> Result<Value> {
        let _w = self.write_lock()?;
        let mut rec = self.packaging_channel(id)?;
        change(&mut rec)?;
        self.save_channel(&rec)?;
        channel_json(&self.settings.base_url, &rec.channel)
    }

    /// UpdateChannel: the description.
    pub fn update_package_channel(&self, id: &str, body: &Value) -> Result<Value> {
        self.modify_channel(id, |rec| {
            let mut f = Fields::new("", body)?;
            if let Some(d) = f.string("description")? {
                rec.channel.description = Some(d);
            }
            f.finish()
        })
    }

    /// RotateIngestEndpointCredentials (`Some(endpoint)`) or the deprecated
    /// RotateChannelCredentials (`None`: every endpoint).
    pub fn rotate_ingest_credentials(&self, id: &str, endpoint: Option<&str>) -> Result<Value> {
        self.modify_channel(id, |rec| {
            let mut found = false;
            for e in &mut rec.channel.hls_ingest.ingest_endpoints {
                if endpoint.is_none_or(|want| want == e.id) {
                    e.username = random_hex(32);
                    e.password = crate::arn::random_alnum(32);
                    found = true;
                }
            }
            if found {
                Ok(())
            } else {
                Err(ControlError::NotFound(format!(
                    "ingest endpoint not found: {}",
                    endpoint.unwrap_or_default()
                )))
            }
        })
    }

    /// DeleteChannel: refused while origin endpoints still use the channel.
    pub fn delete_package_channel(&self, id: &str) -> Result<Value> {
        let _w = self.write_lock()?;
        self.packaging_channel(id)?;
        let users: Vec<String> = self
            .origin_endpoints()?
            .into_iter()
            .filter(|e| e.endpoint.channel_id == id)
            .map(|e| e.endpoint.id)
            .collect();
        if !users.is_empty() {
            return Err(ControlError::bad(format!(
                "id: channel '{id}' still has origin endpoints ({}); delete them first",
                users.join(", ")
            )));
        }
        self.store.delete(CHANNEL_KIND, id)?;
        self.packaging_changed();
        Ok(json!({}))
    }

    /// CreateOriginEndpoint: HLS only.
    pub fn create_origin_endpoint(&self, region: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let channel_id = f.required_string("channelId")?;
        let id = f.required_string("id")?;
        request::id("id", &id)?;
        let tags = tags(&mut f)?;
        let has_hls = body.get("hlsPackage").is_some_and(|v| !v.is_null());
        let mut ep = OriginEndpoint {
            arn: self.package_arn(region, "origin_endpoints"),
            id: id.clone(),
            channel_id: channel_id.clone(),
            url: None,
            manifest_name: "index".into(),
            description: None,
            created_at: now_iso(),
            startover_window_seconds: 0,
            time_delay_seconds: 0,
            whitelist: Vec::new(),
            origination: Origination::Allow,
            hls_package: HlsPackage::default(),
            tags,
        };
        request::endpoint_settings(&mut f, body, &mut ep)?;
        f.finish()?;
        if !has_hls {
            return Err(ControlError::bad(
                "hlsPackage: is required (onair packages HLS only)",
            ));
        }
        let rec = EndpointRecord {
            endpoint: ep,
            created_ms: now_ms(),
        };
        let _w = self.write_lock()?;
        if self
            .store
            .get::<ChannelRecord>(CHANNEL_KIND, &channel_id)?
            .is_none()
        {
            return Err(ControlError::bad(format!(
                "channelId: no channel with id '{channel_id}'"
            )));
        }
        if self
            .store
            .get::<EndpointRecord>(ENDPOINT_KIND, &id)?
            .is_some()
        {
            return Err(ControlError::bad(format!(
                "id: an origin endpoint with id '{id}' already exists"
            )));
        }
        self.save_endpoint(&rec)?;
        endpoint_json(&self.settings.base_url, &rec.endpoint)
    }

    /// DescribeOriginEndpoint.
    pub fn describe_origin_endpoint(&self, id: &str) -> Result<Value> {
        endpoint_json(&self.settings.base_url, &self.origin_endpoint(id)?.endpoint)
    }

    /// ListOriginEndpoints, optionally of one channel.
    pub fn list_origin_endpoints(
        &self,
        channel_id: Option<&str>,
        max_results: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let page = Page::parse(max_results, next_token)?;
        let all: Vec<EndpointRecord> = self
            .origin_endpoints()?
            .into_iter()
            .filter(|e| channel_id.is_none_or(|c| c == e.endpoint.channel_id))
            .collect();
        let (items, next) = page.of(&all);
        let listed = items
            .iter()
            .map(|r| endpoint_json(&self.settings.base_url, &r.endpoint))
            .collect::<Result<Vec<_>>>()?;
        Ok(page::listing("originEndpoints", listed, next))
    }

    /// UpdateOriginEndpoint: members given replace the stored ones (a given
    /// `hlsPackage` replaces the whole package).
    pub fn update_origin_endpoint(&self, id: &str, body: &Value) -> Result<Value> {
        let _w = self.write_lock()?;
        let mut rec = self.origin_endpoint(id)?;
        let mut f = Fields::new("", body)?;
        request::endpoint_settings(&mut f, body, &mut rec.endpoint)?;
        f.finish()?;
        self.save_endpoint(&rec)?;
        endpoint_json(&self.settings.base_url, &rec.endpoint)
    }

    /// DeleteOriginEndpoint.
    pub fn delete_origin_endpoint(&self, id: &str) -> Result<Value> {
        let _w = self.write_lock()?;
        if !self.store.delete(ENDPOINT_KIND, id)? {
            return Err(endpoint_not_found(id));
        }
        self.packaging_changed();
        Ok(json!({}))
    }

    /// ListTagsForResource for a channel or endpoint ARN.
    pub fn package_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        if let Some(c) = self
            .packaging_channels()?
            .into_iter()
            .find(|c| c.channel.arn == arn)
        {
            return Ok(c.channel.tags);
        }
        self.origin_endpoints()?
            .into_iter()
            .find(|e| e.endpoint.arn == arn)
            .map(|e| e.endpoint.tags)
            .ok_or_else(|| ControlError::NotFound(format!("resource not found: {arn}")))
    }

    /// TagResource / UntagResource for a channel or endpoint ARN.
    pub fn change_package_tags(
        &self,
        arn: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<()> {
        let _w = self.write_lock()?;
        if let Some(mut c) = self
            .packaging_channels()?
            .into_iter()
            .find(|c| c.channel.arn == arn)
        {
            change(&mut c.channel.tags);
            return self.save_channel(&c);
        }
        let mut e = self
            .origin_endpoints()?
            .into_iter()
            .find(|e| e.endpoint.arn == arn)
            .ok_or_else(|| ControlError::NotFound(format!("resource not found: {arn}")))?;
        change(&mut e.endpoint.tags);
        self.save_endpoint(&e)
    }
}

#[cfg(test)]
mod tests;
