//! PES header parsing and assembly, and H.264 NAL scanning and codec strings,
//! on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::h264;
use media::pes::{PesAssembler, PesHeader};

fuzz_target!(|data: &[u8]| {
    let _ = PesHeader::parse(data);
    let mut asm = PesAssembler::new();
    // First byte of each chunk: bit 0 is the payload_unit_start_indicator.
    for chunk in data.split(|b| *b == 0x47) {
        let Some((&flags, rest)) = chunk.split_first() else {
            continue;
        };
        asm.push(flags & 1 == 1, rest);
        while let Some(p) = asm.pop() {
            for nal in h264::nal_units(&p.payload) {
                let _ = h264::nal_type(nal);
            }
        }
    }
    asm.flush();
    while asm.pop().is_some() {}
    let _ = h264::nal_types(data);
    let _ = h264::is_idr(data);
    if let Some(sps) = h264::find_sps(data) {
        let _ = h264::codec_string(sps);
    }
    let _ = h264::codec_string(data);
});
