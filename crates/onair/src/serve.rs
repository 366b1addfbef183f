//! `onair serve`: the API, the supervisor and every engine in one process.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::{credentials, data_dir};

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address of the one HTTP port: AWS API, origin, metrics, dashboard.
    #[arg(long, default_value = "127.0.0.1:8080", env = "ONAIR_LISTEN")]
    pub listen: SocketAddr,
    /// Where resources and credentials are kept.
    #[arg(long, default_value = "onair-data", env = "ONAIR_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Where the origin keeps its segments, as unnamed files served with
    /// sendfile (default: the data directory). A tmpfs such as /dev/shm keeps
    /// them off the disk at some cost in speed.
    #[arg(long, env = "ONAIR_SEGMENT_DIR")]
    pub segment_dir: Option<PathBuf>,
    /// The address reported as a source's ingestIp, where encoders send
    /// (default: the listen address, or this host's primary address when
    /// listening on all interfaces).
    #[arg(long, env = "ONAIR_INGEST_IP")]
    pub ingest_ip: Option<IpAddr>,
    /// Local address ingest sockets bind to.
    #[arg(long, default_value = "0.0.0.0", env = "ONAIR_INGEST_BIND")]
    pub ingest_bind: IpAddr,
    /// TCP port of the RTMP listener that every RTMP_PUSH input shares (on
    /// the ingest bind address; opened while a channel with such an input runs).
    #[arg(long, default_value_t = control::DEFAULT_RTMP_PORT, env = "ONAIR_RTMP_PORT")]
    pub rtmp_port: u16,
    /// UDP ports given to push inputs (RTP_PUSH, UDP_PUSH, SRT_LISTENER), two
    /// even ports per input: FIRST-LAST, for a firewall's range.
    #[arg(long, default_value = "5100-5999", value_parser = parse_port_range, env = "ONAIR_INPUT_PORTS")]
    pub input_ports: std::ops::RangeInclusive<u16>,
    /// How flows trade latency for CPU: `auto` forwards each datagram as it
    /// arrives up to 40 Mb/s and adds about 1 ms at most above; an interval
    /// (500us to 50ms, e.g. `2ms`) gathers datagrams into rounds that far
    /// apart at any rate: up to that much more latency, far fewer wake-ups.
    #[arg(long, default_value = "auto", value_parser = parse_batching, env = "ONAIR_FLOW_BATCHING")]
    pub flow_batching: transport::Batching,
    /// API access key id (default: generated at first start, kept in the data dir).
    #[arg(long, env = "ONAIR_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// API secret access key.
    #[arg(long, env = "ONAIR_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    /// Base URL clients reach the HTTP port at, for MediaPackage ingest and
    /// origin URLs (default: http://INGEST_IP:PORT).
    #[arg(long, env = "ONAIR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The most metrics the CloudWatch store holds (engine metrics and
    /// PutMetricData together; about 70 per running flow, 25 per channel).
    #[arg(long, default_value_t = 2000, env = "ONAIR_MAX_METRICS")]
    pub max_metrics: usize,
    /// Region shown in the printed exports (any region is accepted).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// How the HTTP port treats its clients: timeouts, the connection cap, trusted
/// proxies (see "Running onair on a network" in the user guide).
#[derive(Args, Debug, Clone)]
pub struct NetworkArgs {
    /// The longest a request head may take from its first byte (10s, 500ms, 1m);
    /// past it the client gets 408 and the connection is closed.
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "ONAIR_HEADER_TIMEOUT")]
    pub header_timeout: Duration,
    /// The longest wait between two reads of a request body; past it the client
    /// gets 408 and the connection is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "ONAIR_BODY_TIMEOUT")]
    pub body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request before it
    /// is closed.
    #[arg(long, default_value = "60s", value_parser = parse_duration, env = "ONAIR_IDLE_TIMEOUT")]
    pub idle_timeout: Duration,
    /// HTTP connections open at once; more are answered 503 and closed
    /// (default: 8192, or half the open-file limit if that is lower).
    #[arg(long, env = "ONAIR_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// A reverse proxy or CDN (address or CIDR) whose X-Forwarded-For is
    /// believed; repeat for several (the variable takes a comma-separated list).
    /// None by default: the TCP peer is the client.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = api::forwarded::parse_net,
          env = "ONAIR_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<api::forwarded::IpNet>,
}

impl Default for NetworkArgs {
    /// The defaults of the flags.
    fn default() -> Self {
        use api::front::Limits;
        NetworkArgs {
            header_timeout: Limits::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Limits::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Limits::DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl NetworkArgs {
    /// The front's settings, given the process's open-file limit.
    fn front(&self, open_files: u64) -> api::front::Front {
        let default_cap = api::front::Limits::default_max_connections(open_files);
        let max_connections = self.max_connections.unwrap_or(default_cap);
        if max_connections as u64 > open_files / 2 {
            tracing::warn!(
                "--max-connections {max_connections} is more than half the open-file limit \
                 ({open_files}): raise the limit (ulimit -n, LimitNOFILE=) or lower the cap"
            );
        }
        let limits = api::front::Limits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            idle_timeout: self.idle_timeout,
            max_connections,
        };
        let proxies = api::forwarded::TrustedProxies::new(self.trusted_proxies.clone());
        api::front::Front::new(limits, proxies)
    }
}

/// A duration: a number of seconds with an optional unit (`ms`, `s`, `m`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (10s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        other => return Err(format!("'{other}' is not a unit of time (ms, s, m)")),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("'{s}' is not a positive duration"))
}

/// `auto`, or a round interval of 500us to 50ms (`us` or `ms`).
fn parse_batching(s: &str) -> Result<transport::Batching, String> {
    const RANGE: std::ops::RangeInclusive<Duration> =
        Duration::from_micros(500)..=Duration::from_millis(50);
    let s = s.trim();
    if s == "auto" {
        return Ok(transport::Batching::Auto);
    }
    let (number, micros_per_unit) = if let Some(n) = s.strip_suffix("us") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1000)
    } else {
        (s, 0)
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(micros_per_unit))
        .map(Duration::from_micros)
        .filter(|d| RANGE.contains(d))
        .map(transport::Batching::Every)
        .ok_or_else(|| {
            format!("'{s}' is neither `auto` nor an interval from 500us to 50ms (such as 5ms)")
        })
}

/// `FIRST-LAST` UDP ports, holding at least two pairs of an even port and
/// its odd neighbour (one input's two pipelines).
fn parse_port_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let (first, last) = s
        .split_once('-')
        .ok_or_else(|| format!("'{s}' is not a port range (FIRST-LAST, as in 5100-5999)"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{p}' is not a UDP port (1-65535)"))
    };
    let (first, last) = (port(first)?, port(last)?);
    let even_first = u32::from(first).saturating_add(u32::from(first & 1));
    if u32::from(last) < even_first.saturating_add(3) {
        return Err(format!(
            "{first}-{last} is too small: an input takes two even ports and their odd neighbours"
        ));
    }
    Ok(first..=last)
}

/// This host's primary address: the source address of a route to a public
/// address (a connected UDP socket sends nothing).
fn primary_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// A started server: the control plane and the bound listener.
pub struct Server {
    pub cp: Arc<control::ControlPlane>,
    /// The supervisor and every running engine.
    pub runtime: Arc<runtime::Runtime>,
    /// The MediaPackage origin, shared by the HTTP front and the channels.
    pub origin: package::origin::OriginStore,
    pub creds: credentials::Stored,
    /// Where the key pair came from: the secret is printed only when generated.
    pub creds_origin: credentials::Origin,
    pub listener: tokio::net::TcpListener,
    pub endpoint: String,
    /// Metrics, alarms, alerts and events.
    pub monitor: Arc<monitor::Hub>,
    /// Where resources, alarms and the metric history are kept.
    pub data_dir: PathBuf,
    /// This process's hold on the data dir, kept until it ends.
    pub claim: data_dir::Claim,
    /// The HTTP port's limits and trusted proxies.
    pub front: Arc<api::front::Front>,
    /// Set by `onair demo`: its controls and SNS subscriber on the dashboard.
    pub demo: Arc<std::sync::OnceLock<Arc<api::demo::Demo>>>,
}

pub async fn start(args: &ServeArgs) -> anyhow::Result<Server> {
    let open_files = api::front::raise_open_file_limit();
    tracing::debug!("open-file limit: {open_files}");
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
    let claim = data_dir::claim(&args.data_dir)?;
    // Origin segments live in unnamed files (page cache, served with sendfile).
    let segment_dir = args.segment_dir.as_ref().unwrap_or(&args.data_dir);
    std::fs::create_dir_all(segment_dir)
        .with_context(|| format!("cannot create segment dir {}", segment_dir.display()))?;
    if let Err(e) = package::body::keep_files_in(segment_dir) {
        tracing::warn!(
            "segments are kept in memory files: {} cannot hold unnamed files ({e})",
            segment_dir.display()
        );
    }
    let (creds, creds_origin) = credentials::load(
        &args.data_dir,
        args.access_key_id.clone(),
        args.secret_access_key.clone(),
    )?;
    let ingest_ip = args.ingest_ip.unwrap_or_else(|| {
        if args.listen.ip().is_unspecified() {
            primary_ip().unwrap_or(args.listen.ip())
        } else {
            args.listen.ip()
        }
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (use --listen ADDR:PORT)", args.listen))?;
    let local = listener.local_addr()?;
    let base_url = match &args.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", SocketAddr::new(ingest_ip, local.port())),
    };
    let settings = control::Settings {
        account_id: creds.account_id.clone(),
        ingest_ip: ingest_ip.to_string(),
        ingest_bind: args.ingest_bind,
        rtmp_port: args.rtmp_port,
        push_ports: args.input_ports.clone(),
        base_url,
        batching: args.flow_batching,
    };
    let cp = control::ControlPlane::open(&args.data_dir, settings)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let endpoint = format!("http://{local}");
    if creds_origin == credentials::Origin::Generated {
        println!(
            "Generated API credentials in {}/credentials.json",
            args.data_dir.display()
        );
    }
    let origin = package::origin::OriginStore::default();
    let runtime = runtime::Runtime::new(cp.clone(), origin.clone());
    let monitor = Arc::new(monitor::Hub::new(
        monitor::Identity {
            account_id: creds.account_id.clone(),
            region: args.region.clone(),
        },
        monitor::series::StoreConfig {
            max_metrics: args.max_metrics,
        },
    ));
    crate::monitoring::restore(&monitor, &args.data_dir);
    let front = Arc::new(args.network.front(open_files));
    Ok(Server {
        demo: Default::default(),
        front,
        monitor,
        data_dir: args.data_dir.clone(),
        cp,
        runtime,
        origin,
        creds,
        creds_origin,
        listener,
        endpoint,
        claim,
    })
}

/// The lines a user pastes into a shell to drive onair with the aws CLI,
/// the secret key included.
pub fn exports(server: &Server, region: &str) -> String {
    format!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\n{}",
        server.creds.access_key_id,
        server.creds.secret_access_key,
        exports_but_the_key(server, region)
    )
}

/// The export lines without the key pair.
fn exports_but_the_key(server: &Server, region: &str) -> String {
    format!(
        "export AWS_DEFAULT_REGION={region}\nexport AWS_REGION={region}\nexport AWS_ENDPOINT_URL={}\n",
        server.endpoint
    )
}

/// This program as the user started it (`onair`, `./target/release/onair`).
fn program_name() -> String {
    std::env::args_os()
        .next()
        .map_or_else(|| "onair".into(), |a| a.to_string_lossy().into_owned())
}

/// What `onair serve` prints to paste. The secret key is printed once, when
/// it is generated: server output ends up in journals and terminal
/// scrollback. Later starts say where it is and how to show it.
fn start_exports(server: &Server, region: &str) -> String {
    let (key, data_dir) = (&server.creds.access_key_id, &server.data_dir);
    match server.creds_origin {
        credentials::Origin::Generated => exports(server, region),
        credentials::Origin::Stored => format!(
            "export AWS_ACCESS_KEY_ID={key}\n# and AWS_SECRET_ACCESS_KEY, printed at first start only: it is in {file}; to set it:\n#   eval \"$({program} credentials --data-dir {dir})\"\n{rest}",
            file = data_dir.join(credentials::FILE).display(),
            program = program_name(),
            dir = data_dir.display(),
            rest = exports_but_the_key(server, region)
        ),
        credentials::Origin::Given => format!(
            "export AWS_ACCESS_KEY_ID={key}\n# and AWS_SECRET_ACCESS_KEY: the secret key given to onair (ONAIR_SECRET_ACCESS_KEY or --secret-access-key)\n{}",
            exports_but_the_key(server, region)
        ),
    }
}

/// Runs the supervisor and the HTTP server until the process ends.
pub async fn run(server: Server) -> anyhow::Result<()> {
    // Held until the server stops serving, the process's last moments.
    let _claim = server.claim;
    tokio::spawn(server.runtime.clone().run());
    // Events go to CloudWatch Logs (one SQLite write each, off the async workers).
    let cp = server.cp.clone();
    let log: runtime::observe::LogSink = Arc::new(move |h, at| {
        let cp = cp.clone();
        let (service, name, id, message) = (
            h.service,
            h.name.clone(),
            h.resource.clone(),
            h.message.clone(),
        );
        let at_ms = i64::try_from(at.as_unix_millis()).unwrap_or(i64::MAX);
        tokio::task::spawn_blocking(move || {
            let source = control::logs::LogSource {
                service,
                name: &name,
                id: &id,
            };
            if let Err(e) = cp.log_event(&source, at_ms, &message) {
                tracing::warn!("cannot write the event '{message}' to CloudWatch Logs: {e}");
            }
        });
    });
    // Alarm actions publish CloudWatch's alarm message to their SNS topics.
    let sns = api::sns::Notifier::new(server.cp.clone());
    let account = server.cp.settings.account_id.clone();
    let notifier = sns.clone();
    let notify: crate::monitoring::Notify = Arc::new(move |t, action| {
        let region = action.split(':').nth(3).unwrap_or("us-east-1");
        let subject = api::sns::message::fit_subject(&crate::monitoring::alarm_subject(t, region));
        let message = crate::monitoring::alarm_message(t, &account, region);
        match notifier.publish(action, Some(&subject), &message) {
            Ok(id) => tracing::info!(%action, message_id = %id, "alarm notification: {subject}"),
            Err(e) => tracing::warn!(%action, "alarm notification not sent: {}", e.message),
        }
    });
    crate::monitoring::spawn(
        server.cp.clone(),
        server.origin.clone(),
        server.monitor.clone(),
        server.data_dir.clone(),
        log,
        notify,
    );
    let state = api::AppState {
        cp: server.cp.clone(),
        credentials: api::Credentials {
            access_key_id: server.creds.access_key_id.clone(),
            secret_access_key: server.creds.secret_access_key.clone(),
        },
        origin: server.origin.clone(),
        dashboard: Default::default(),
        monitor: server.monitor.clone(),
        sns,
        front: server.front.clone(),
        demo: server.demo.clone(),
    };
    let hub = server.monitor.clone();
    let data_dir = server.data_dir.clone();
    tokio::select! {
        _ = api::front::serve(server.listener, state) => {}
        _ = shutdown_signal() => {
            tracing::info!("shutting down: writing the metric history");
            let _ = tokio::task::spawn_blocking(move || crate::monitoring::save_metrics(&hub, &data_dir)).await;
        }
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub async fn main(args: ServeArgs) -> anyhow::Result<()> {
    let server = start(&args).await?;
    println!("onair is serving the AWS API on {}", server.endpoint);
    println!("Dashboard: {}/", server.endpoint);
    println!("To use the aws CLI, boto3 or any AWS SDK with it, paste:\n");
    print!("{}", start_exports(&server, &args.region));
    println!();
    run(server).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        network: NetworkArgs,
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "s", "0", "0s", "-1s", "10h", "1e3", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("5100-5999").unwrap(), 5100..=5999);
        assert_eq!(parse_batching("auto"), Ok(transport::Batching::Auto));
        assert_eq!(
            parse_batching("2ms"),
            Ok(transport::Batching::Every(Duration::from_millis(2)))
        );
        assert_eq!(
            parse_batching("800us"),
            Ok(transport::Batching::Every(Duration::from_micros(800)))
        );
        for bad in [
            "",
            "2",
            "fast",
            "0ms",
            "100us",
            "51ms",
            "-1ms",
            "2.5ms",
            "99999999999999999ms",
        ] {
            assert!(parse_batching(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_port_range("7001-7005").unwrap(), 7001..=7005);
        for bad in [
            "",
            "5100",
            "5100-",
            "0-10",
            "5100-5102",
            "7001-7004",
            "a-b",
            "1-70000",
        ] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn network_flags() {
        let defaults = Cli::try_parse_from(["onair"]).unwrap().network;
        let expected = NetworkArgs::default();
        assert_eq!(defaults.header_timeout, expected.header_timeout);
        assert_eq!(defaults.body_timeout, expected.body_timeout);
        assert_eq!(defaults.idle_timeout, expected.idle_timeout);
        assert_eq!(defaults.max_connections, None);
        assert!(defaults.trusted_proxies.is_empty());
        let front = defaults.front(1 << 20);
        assert_eq!(front.limits, api::front::Limits::default());
        assert!(front.trusted_proxies.is_empty());

        let set = Cli::try_parse_from([
            "onair",
            "--header-timeout",
            "2s",
            "--max-connections",
            "100",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "192.0.2.7",
        ])
        .unwrap()
        .network;
        assert_eq!(set.header_timeout, Duration::from_secs(2));
        let front = set.front(1 << 20);
        assert_eq!(front.limits.max_connections, 100);
        let nets: Vec<String> = front
            .trusted_proxies
            .nets()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32"]);
        assert!(Cli::try_parse_from(["onair", "--trusted-proxy", "nope"]).is_err());
        assert!(Cli::try_parse_from(["onair", "--idle-timeout", "0"]).is_err());
    }
}
