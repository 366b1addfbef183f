//! `onair testsrc`: a broadcast test signal (the `testsrc` crate) sent to a flow or any
//! receiver, with impairments set by flags at start and changed by commands on stdin.
//!
//! Everything it says goes to stderr: what it sends at start, a status line every five
//! seconds, an acknowledgement of every command. stdout stays empty.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use tokio::sync::mpsc;

use ::testsrc::{Command, Config, FecMatrix, Format, Impairments, Protocol, Stats, TestSource};

/// How often the status line is printed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  onair testsrc 127.0.0.1:5000                                 720p30, 1 kHz tone, RTP
  onair testsrc --name backup --tone 600 rtp://127.0.0.1:5001
  onair testsrc --protocol rtp-fec --drop 2 127.0.0.1:5000     FEC to ports 5002 and 5004
  onair testsrc --format 1080p30 --black udp://[::1]:6000

While it runs, commands on stdin change the impairments (each is acknowledged on stderr):
  drop PCT, freeze, black, silence, stop (each also with 'off'), start, restore, status, help")]
pub struct TestsrcArgs {
    /// Where to send: HOST:PORT, rtp://HOST:PORT or udp://HOST:PORT (IPv6 as [::1]:5000).
    pub destination: String,
    /// Name drawn large on the picture.
    #[arg(long, default_value = "testsrc")]
    pub name: String,
    /// Picture format: 1080p30 (6 Mb/s), 720p30 (3 Mb/s) or 720p25 (2.5 Mb/s).
    #[arg(long, default_value = "720p30")]
    pub format: Format,
    /// Frequency of the tone in Hz (20-20000): give each source its own.
    #[arg(long, default_value_t = 1000)]
    pub tone: u32,
    /// rtp, rtp-fec (SMPTE 2022-1 FEC, columns to port+2, rows to port+4) or udp.
    /// [default: rtp, or udp for a udp:// destination]
    #[arg(long)]
    pub protocol: Option<Protocol>,
    /// FEC matrix for rtp-fec, COLUMNSxROWS (4-20 each, at most 100 packets).
    #[arg(long, default_value = "5x5")]
    pub fec: FecMatrix,
    /// Lose this percentage of the media datagrams at random (FEC datagrams are all sent).
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Start with the picture frozen.
    #[arg(long)]
    pub freeze: bool,
    /// Start with a black picture.
    #[arg(long)]
    pub black: bool,
    /// Start with silence instead of the tone.
    #[arg(long)]
    pub silence: bool,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Seed for --drop's random draws, to repeat a loss pattern.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Splits `rtp://host:port` / `udp://host:port` / `host:port` into the address part and
/// the protocol, which `--protocol` may refine (rtp-fec over an rtp:// destination) but
/// not contradict.
fn destination(text: &str, flag: Option<Protocol>) -> anyhow::Result<(String, Protocol)> {
    let (scheme, address) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, text),
    };
    let from_scheme = match scheme.as_deref() {
        None => None,
        Some("rtp") => Some(Protocol::Rtp),
        Some("udp") => Some(Protocol::Udp),
        Some(other) => bail!("destination {text}: use rtp://, udp:// or no scheme, not {other}://"),
    };
    if address.is_empty() || address.contains(['/', '?', '@']) {
        bail!("destination {text}: give HOST:PORT, e.g. 127.0.0.1:5000 or rtp://[::1]:5000");
    }
    let protocol = match (from_scheme, flag) {
        (None, flag) => flag.unwrap_or_default(),
        (Some(scheme), None) => scheme,
        (Some(Protocol::Rtp), Some(p @ (Protocol::Rtp | Protocol::RtpFec))) => p,
        (Some(Protocol::Udp), Some(Protocol::Udp)) => Protocol::Udp,
        (Some(scheme), Some(p)) => {
            bail!("--protocol {p} contradicts the destination's {scheme}:// scheme")
        }
    };
    Ok((address.to_string(), protocol))
}

async fn resolve(address: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(address)
        .await
        .with_context(|| format!("destination {address}: not HOST:PORT or not resolvable"))?
        .next()
        .ok_or_else(|| anyhow!("destination {address}: no address"))
}

/// Lines typed on stdin, read on a thread of their own: a blocking read cannot be
/// cancelled, and a tokio blocking task would hold up the runtime's shutdown until the
/// next line. The thread ends with stdin; at exit it is simply abandoned.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    rx
}

/// SIGTERM stops the source like Ctrl-C does.
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

/// The status line: counters since start, the rate since the last line (or, for the
/// summary at the end, since start).
struct Status {
    started: Instant,
    last: (Instant, u64),
}

impl Status {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: (now, 0),
        }
    }

    /// The line for the whole run, its rate the average since start.
    fn summary(&mut self, st: &Stats, impairments: &Impairments) -> String {
        self.last = (self.started, 0);
        self.line(st, impairments)
    }

    fn line(&mut self, st: &Stats, impairments: &Impairments) -> String {
        let now = Instant::now();
        let secs = now.duration_since(self.last.0).as_secs_f64();
        let bits = st.bytes.saturating_sub(self.last.1) as f64 * 8.0;
        let rate = if secs > 0.0 { bits / secs / 1e6 } else { 0.0 };
        self.last = (now, st.bytes);
        let up = self.started.elapsed().as_secs();
        let media = st.media_time.as_secs_f64();
        let load = if media > 0.0 {
            st.encode_busy.as_secs_f64() / media * 100.0
        } else {
            0.0
        };
        let offered = st.datagrams.saturating_add(st.dropped);
        let lost = if offered > 0 {
            st.dropped as f64 * 100.0 / offered as f64
        } else {
            0.0
        };
        let mut line = format!(
            "{:02}:{:02}:{:02}  frames {}  sent {}",
            up / 3600,
            up / 60 % 60,
            up % 60,
            st.frames,
            st.datagrams
        );
        if st.fec_datagrams > 0 {
            line.push_str(&format!(" (+{} FEC)", st.fec_datagrams));
        }
        line.push_str(&format!(
            "  {rate:.2} Mb/s  dropped {} ({lost:.1}%)",
            st.dropped
        ));
        if st.withheld > 0 {
            line.push_str(&format!("  withheld {}", st.withheld));
        }
        if st.send_errors > 0 {
            line.push_str(&format!("  send errors {}", st.send_errors));
        }
        if st.skips > 0 {
            line.push_str(&format!("  behind real time {}x", st.skips));
        }
        line.push_str(&format!(
            "  encode {load:.0}% of real time  impairments: {impairments}"
        ));
        line
    }
}

/// Applies one command line; returns the acknowledgement to print.
fn command(source: &TestSource, line: &str, status: &mut Status) -> String {
    match line.parse::<Command>() {
        Ok(Command::Help) => Command::HELP.to_string(),
        Ok(Command::Status) => status.line(&source.stats(), &source.impairments()),
        Ok(c) => {
            source.update(|i| {
                i.apply(c);
            });
            format!("ok: {}; impairments: {}", line.trim(), source.impairments())
        }
        Err(e) => format!("error: {e}"),
    }
}

pub async fn main(args: TestsrcArgs) -> anyhow::Result<()> {
    let (address, protocol) = destination(&args.destination, args.protocol)?;
    let mut config = Config::new(args.name, resolve(&address).await?);
    config.format = args.format;
    config.tone_hz = args.tone;
    config.protocol = protocol;
    config.fec = args.fec;
    config.seed = args.seed;
    config.impairments = Impairments {
        drop_percent: args.drop,
        freeze: args.freeze,
        black: args.black,
        silence: args.silence,
        stop: false,
    };
    let name = config.name.clone();
    let mut source = TestSource::start(config).context("cannot start the test source")?;
    eprintln!("testsrc {name}: {}", source.config().describe());
    eprintln!(
        "impairments: {}; commands on stdin ('help' lists them)",
        source.impairments()
    );

    let mut lines = stdin_lines();
    let mut stdin_open = true;
    let mut status = Status::new();
    let mut every = tokio::time::interval(STATUS_EVERY);
    every.tick().await;
    let deadline = args
        .seconds
        .and_then(|s| tokio::time::Instant::now().checked_add(Duration::from_secs(s)));
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminated() => break,
            _ = &mut until => break,
            ended = source.finished() => {
                ended?;
                bail!("the test source stopped by itself");
            }
            _ = every.tick() => {
                eprintln!("{}", status.line(&source.stats(), &source.impairments()));
            }
            line = lines.recv(), if stdin_open => match line {
                Some(line) if line.trim().is_empty() => {}
                Some(line) => eprintln!("{}", command(&source, &line, &mut status)),
                None => stdin_open = false,
            },
        }
    }
    let impairments = source.impairments();
    let stats = source.stop().await?;
    eprintln!("{}", status.summary(&stats, &impairments));
    eprintln!("testsrc {name}: stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_protocols() {
        let ok = |text, flag| destination(text, flag).unwrap();
        assert_eq!(
            ok("127.0.0.1:5000", None),
            ("127.0.0.1:5000".into(), Protocol::Rtp)
        );
        assert_eq!(
            ok("127.0.0.1:5000", Some(Protocol::RtpFec)),
            ("127.0.0.1:5000".into(), Protocol::RtpFec)
        );
        assert_eq!(
            ok("UDP://[::1]:6000", None),
            ("[::1]:6000".into(), Protocol::Udp)
        );
        assert_eq!(
            ok("rtp://host:5000", Some(Protocol::RtpFec)),
            ("host:5000".into(), Protocol::RtpFec)
        );
        for (text, flag) in [
            ("udp://127.0.0.1:5000", Some(Protocol::Rtp)),
            ("rtp://127.0.0.1:5000", Some(Protocol::Udp)),
            ("srt://127.0.0.1:5000", None),
            ("rtp://127.0.0.1:5000?pkt_size=1316", None),
            ("rtp://", None),
        ] {
            assert!(destination(text, flag).is_err(), "{text}");
        }
    }

    #[tokio::test]
    async fn resolves_names_and_literals() {
        assert_eq!(
            resolve("[::1]:5000").await.unwrap(),
            "[::1]:5000".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(resolve("localhost:5000").await.unwrap().port(), 5000);
        assert!(resolve("127.0.0.1").await.is_err());
    }

    #[test]
    fn status_line_reads_the_counters() {
        let mut s = Status::new();
        let st = Stats {
            frames: 300,
            media_time: Duration::from_secs(10),
            datagrams: 950,
            fec_datagrams: 380,
            dropped: 50,
            encode_busy: Duration::from_secs(1),
            ..Stats::default()
        };
        let imp = Impairments {
            drop_percent: 5.0,
            ..Impairments::none()
        };
        let line = s.line(&st, &imp);
        assert!(
            line.starts_with("00:00:00  frames 300  sent 950 (+380 FEC)"),
            "{line}"
        );
        assert!(line.contains("dropped 50 (5.0%)"), "{line}");
        assert!(
            line.ends_with("encode 10% of real time  impairments: drop 5%"),
            "{line}"
        );
    }
}
