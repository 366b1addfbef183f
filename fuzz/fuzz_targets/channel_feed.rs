//! The channel feed's datagram parser: RTP_PUSH datagrams (RTP carrying TS,
//! or bare TS) as `runtime::channel::feed` reads them, their payload fed to
//! the channel engine's demuxer. Never panics; a payload lies inside its
//! datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runtime::channel::feed::fuzz_datagrams(data);
});
