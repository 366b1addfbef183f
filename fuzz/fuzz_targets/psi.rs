//! PSI section, PAT, PMT, descriptor loops and section assembly on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::psi::descriptor::{descriptors, languages};
use media::psi::{Pat, Pmt, Section, SectionAssembler};

fn check_section(bytes: &[u8]) {
    let Ok(section) = Section::parse(bytes) else {
        return;
    };
    // Tables that parse write back to sections that parse to the same table.
    if let Ok(pat) = Pat::parse(&section) {
        let again = pat.to_section_bytes();
        let reparsed = Section::parse(&again).and_then(|s| Pat::parse(&s));
        assert_eq!(
            reparsed.ok().map(|p| p.programs.len()),
            Some(pat.programs.len().min(253))
        );
    }
    if let Ok(pmt) = Pmt::parse(&section) {
        for stream in &pmt.streams {
            // Descriptor loops end, whatever their bytes.
            assert!(descriptors(&stream.es_info).count() <= stream.es_info.len());
            let _ = languages(&stream.es_info);
        }
        let again = pmt.to_section_bytes();
        assert!(Section::parse(&again).and_then(|s| Pmt::parse(&s)).is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    check_section(data);
    let _ = languages(data);

    // Assembler: the input is a run of [flags, len, payload...] records.
    let mut assembler = SectionAssembler::new();
    let mut rest = data;
    while let [flags, len, tail @ ..] = rest {
        let take = usize::from(*len).min(184).min(tail.len());
        let (payload, next) = tail.split_at(take);
        assembler.push(flags & 1 != 0, payload);
        while let Some(section) = assembler.pop() {
            check_section(&section);
        }
        rest = next;
    }
});
