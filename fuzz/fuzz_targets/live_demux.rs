//! The channel engine's input side without FFmpeg: `live::demux::Demuxer`
//! (program and audio selection over `media::demux`) on arbitrary bytes in
//! arbitrary datagrams, and `live::adts` splitting every audio access unit into
//! ADTS frames. Never panics; every access unit is video or the selected audio,
//! every ADTS frame holds its 7-byte header; a header written for any rate,
//! channel count and length splits back into that one frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use live::adts;
use live::demux::{Demuxer, LanguageSelection, Selection, StreamKind};
use media::ts::Pid;

fn check_access(d: &mut Demuxer) {
    while let Some(a) = d.pop() {
        if a.kind == StreamKind::Audio {
            for frame in adts::frames(&a.data) {
                assert!(frame.len() >= 7, "{frame:?}");
                let _ = adts::sample_rate(frame);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, data)) = data.split_first() else {
        return;
    };
    let selection = Selection {
        program: (choice & 1 == 1).then_some(1),
        audio_pid: (choice & 2 == 2).then_some(Pid(0x101)),
        audio_language: (choice & 4 == 4).then_some(LanguageSelection {
            code: *b"eng",
            strict: choice & 8 == 8,
        }),
    };
    let mut demux = Demuxer::new(selection);
    // Datagrams of 1 to 1 361 bytes: whole packets, torn ones, several at once.
    let cut = usize::from(choice >> 4) * 90 + 1;
    for datagram in data.chunks(cut) {
        demux.push(datagram);
        check_access(&mut demux);
    }
    demux.flush();
    check_access(&mut demux);
    let _ = demux.errors();

    // The same bytes as a raw ADTS stream.
    for frame in adts::frames(data) {
        assert!(frame.len() >= 7);
    }
    // A written header round-trips through the splitter.
    if let [a, b, c, d, ..] = *data {
        const RATES: [u32; 4] = [48_000, 44_100, 12_345, 7_350];
        let rate = RATES[usize::from(a % 4)];
        let channels = u16::from(b % 9);
        let len = usize::from(u16::from_be_bytes([c, d]));
        if let Some(header) = adts::header(rate, channels, len) {
            let mut frame = header.to_vec();
            frame.resize(len + 7, 0xAB);
            assert_eq!(adts::frames(&frame), [&frame[..]]);
            assert_eq!(adts::sample_rate(&frame), Some(rate));
        }
    }
});
