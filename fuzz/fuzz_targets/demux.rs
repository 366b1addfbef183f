//! media::demux::Demuxer on arbitrary bytes: never panics, every packet it passes on
//! starts with the sync byte, and its events do not depend on how the input is cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::demux::{Demuxer, Event};

/// Every event for `chunks` fed in order, selecting the streams of every PMT.
fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Event> {
    let mut demux = Demuxer::new();
    demux.set_packets(true);
    let mut events = Vec::new();
    let take = |demux: &mut Demuxer, events: &mut Vec<Event>| {
        while let Some(event) = demux.poll() {
            match &event {
                Event::Pmt { program_number, .. } => {
                    let pids: Vec<_> = demux
                        .programs()
                        .program(*program_number)
                        .map(|p| p.streams().iter().map(|s| s.pid).collect())
                        .unwrap_or_default();
                    for pid in pids {
                        demux.select(pid);
                    }
                }
                Event::Packet(packet) => assert_eq!(packet.bytes[0], 0x47),
                _ => {}
            }
            events.push(event);
        }
    };
    for chunk in chunks {
        demux.push(chunk);
        take(&mut demux, &mut events);
    }
    demux.flush();
    take(&mut demux, &mut events);
    events
}

fuzz_target!(|data: &[u8]| {
    // The first byte sets the datagram size of the cut run.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = run([stream]);
    let cut = usize::from(cut).max(1);
    assert_eq!(run(stream.chunks(cut)), whole);
});
