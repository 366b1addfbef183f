//! `onair flows status`: a table of every flow and the health of its sources,
//! read from a running server through the signed API.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use serde_json::Value;

use crate::client::{label, Client};
use crate::credentials;

#[derive(Args, Debug)]
pub struct ClientArgs {
    /// The server (default: $AWS_ENDPOINT_URL, else http://127.0.0.1:8080).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub endpoint: String,
    /// Data dir of the server, for its credentials when AWS_ACCESS_KEY_ID is unset.
    #[arg(long, default_value = "onair-data", env = "ONAIR_DATA_DIR")]
    pub data_dir: PathBuf,
}

impl ClientArgs {
    pub fn client(&self) -> anyhow::Result<Client> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (key, secret) = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(k), Some(s)) => (k, s),
            _ => match credentials::read(&self.data_dir) {
                Some(c) => (c.access_key_id, c.secret_access_key),
                None => bail!(
                    "no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or point --data-dir at the server's data dir"
                ),
            },
        };
        let region = env("AWS_DEFAULT_REGION")
            .or_else(|| env("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        Client::new(&self.endpoint, key, secret, region)
    }
}

fn check(status: u16, body: &Value) -> anyhow::Result<()> {
    if status >= 300 {
        bail!(
            "server answered {status}: {}",
            body.get("message").and_then(Value::as_str).unwrap_or("")
        );
    }
    Ok(())
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub async fn main(args: ClientArgs) -> anyhow::Result<()> {
    let client = args.client()?;
    let (status, list) = client.call("GET", "/v1/flows", "mediaconnect").await?;
    check(status, &list)?;
    let flows = list
        .get("flows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if flows.is_empty() {
        println!("No flows. Create one with `aws mediaconnect create-flow …`.");
        return Ok(());
    }
    for f in flows {
        let arn = f.get("flowArn").and_then(Value::as_str).unwrap_or_default();
        let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
        let st = f.get("status").and_then(Value::as_str).unwrap_or_default();
        println!("{name}  {st}  {arn}");
        let (code, stats) = client
            .call(
                "GET",
                &format!("/{}/flows/{}/stats", api::route::ONAIR_ROOT, label(arn)),
                "mediaconnect",
            )
            .await?;
        if code == 404 {
            println!("  (not running)");
            continue;
        }
        check(code, &stats)?;
        println!(
            "  {:<20} {:>4} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
            "SOURCE",
            "SEL",
            "Mb/s",
            "PACKETS",
            "DROPPED",
            "FEC",
            "FEC-REC",
            "LOST",
            "CC-ERR",
            "PAT"
        );
        for s in stats
            .get("sources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let ts = s.get("ts").cloned().unwrap_or(Value::Null);
            println!(
                "  {:<20} {:>4} {:>10.2} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
                s.get("name").and_then(Value::as_str).unwrap_or_default(),
                if s.get("selected").and_then(Value::as_bool).unwrap_or(false) {
                    "*"
                } else {
                    ""
                },
                n(&s, "bitrate_bps") as f64 / 1e6,
                n(&s, "packets"),
                n(&s, "dropped_not_allowed")
                    .saturating_add(n(&s, "dropped_over_bitrate"))
                    .saturating_add(n(&s, "malformed")),
                n(&s, "fec_packets"),
                n(&s, "fec_recovered"),
                n(&s, "not_recovered"),
                n(&ts, "continuity_errors"),
                if ts
                    .get("pat_present")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    "ok"
                } else {
                    "MISS"
                },
            );
        }
        for o in stats
            .get("outputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            println!(
                "  output {:<60} {:>8.2} Mb/s {:>10} packets {:>6} send errors",
                o.get("id").and_then(Value::as_str).unwrap_or_default(),
                n(&o, "bitrate_bps") as f64 / 1e6,
                n(&o, "packets"),
                n(&o, "send_errors"),
            );
        }
    }
    Ok(())
}
