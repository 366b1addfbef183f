//! Containers and bitstreams without I/O.
//!
//! Every type here is a plain value or a sans-IO engine: callers hand it bytes and, where
//! timing matters, a monotonic `now` (a [`std::time::Duration`] since any origin they
//! choose). Nothing here opens a socket, spawns a task or reads a clock, and no input,
//! however malformed, makes it panic: parsers return `Result`, analyzers count errors.
//!
//! - [`ts`]: MPEG-2 transport stream packets (ISO/IEC 13818-1 §2.4.3).
//! - [`demux`]: the one demultiplexer: sync, continuity, PAT → PMT → streams, PES.
//! - [`mux`]: a one-program TS multiplexer (PES packetisation, PAT/PMT, PCR).
//! - [`psi`]: program-specific information: sections, PAT, PMT, CRC-32 (§2.4.4).
//! - [`tr101290`]: ETSI TR 101 290 priority-1 (and TEI/CRC) stream monitoring.
//!
//! ```
//! use std::time::Duration;
//! use media::tr101290::Analyzer;
//!
//! let mut analyzer = Analyzer::new();
//! let datagram = [0u8; 0]; // payload of one UDP datagram: 1..7 TS packets
//! analyzer.feed(Duration::from_millis(0), &datagram);
//! analyzer.handle_timeout(Duration::from_millis(600));
//! assert!(!analyzer.stats().in_sync);
//! ```
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing
)]

pub mod demux;
pub mod h264;
pub mod mux;
pub mod pes;
pub mod psi;
pub mod tr101290;
pub mod ts;
