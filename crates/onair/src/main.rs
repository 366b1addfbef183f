//! `onair`: self-hosted live event broadcasting in one binary.

// As in `control`: no panics and no unchecked arithmetic outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod client;
mod credentials;
mod data_dir;
mod demo;
mod monitoring;
mod serve;
mod status;
mod testsrc;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "onair",
    version,
    about = "Self-hosted live event broadcasting: MediaConnect-style flows with an AWS-compatible API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: AWS-compatible API, supervisor and engines on one port.
    Serve(Box<serve::ServeArgs>),
    /// Run a self-contained demo: two test encoders into a primary and a backup flow.
    Demo(demo::DemoArgs),
    /// Print the export lines of the key pair stored in a data dir (the
    /// secret key is printed by `onair serve` at first start only).
    Credentials(credentials::ShowArgs),
    /// Send a broadcast test signal (moving pattern, name, timecode, tone; H.264 + AAC in
    /// MPEG-TS) over RTP, RTP-FEC or UDP, with impairments to test failover.
    Testsrc(crate::testsrc::TestsrcArgs),
    /// Inspect flows on a running server.
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
}

#[derive(Subcommand, Debug)]
enum FlowsCommand {
    /// Every flow with the live health of its sources and outputs.
    Status(status::ClientArgs),
}

/// glibc keeps freed memory in its heaps, where a long-running server that
/// starts and stops engines (frames of a megabyte and more, on threads that
/// come and go) fragments it: a recipe run left 20-50 MB behind each time.
/// Two settings make memory follow the work: allocations of 128 KiB and up
/// get their own mappings, which go back to the system when freed
/// (`MALLOC_MMAP_THRESHOLD_`), and threads share one heap per core instead
/// of eight (`MALLOC_ARENA_MAX`). glibc reads them from the environment at
/// start, so the process re-executes itself once with them set (no `unsafe`
/// `mallopt`). An operator's own values are kept.
fn with_malloc_settings() {
    use std::os::unix::process::CommandExt as _;
    const THRESHOLD: &str = "MALLOC_MMAP_THRESHOLD_";
    const ARENAS: &str = "MALLOC_ARENA_MAX";
    if std::env::var_os(THRESHOLD).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(THRESHOLD, "131072");
    if std::env::var_os(ARENAS).is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        command.env(ARENAS, cores.to_string());
    }
    let err = command.exec();
    eprintln!("onair: cannot re-execute with {THRESHOLD} set ({err}); going on without it");
}

fn main() -> anyhow::Result<()> {
    with_malloc_settings();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONAIR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let engines = matches!(cli.command, Command::Serve(_) | Command::Demo(_));
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::main(*args).await,
            Command::Demo(args) => demo::main(args).await,
            Command::Credentials(args) => credentials::show(&args),
            Command::Testsrc(args) => crate::testsrc::main(args).await,
            Command::Flows {
                command: FlowsCommand::Status(args),
            } => status::main(args).await,
        }
    });
    if !engines {
        return result;
    }
    // A server's flows and inputs may still have threads inside libsrt, whose
    // static destructors would crash the usual exit (SIGSEGV instead of 0).
    // Everything it keeps is written by now: end here, skipping them.
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:?}");
            1
        }
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    srt_sys::exit_now(code)
}
