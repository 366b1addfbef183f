//! AMF0 decoding on arbitrary bytes: an error or values, never a panic; what decodes
//! encodes to bytes that decode to the same encoding again (a fixed point; compared as
//! bytes so NaN numbers count as equal).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp::amf0;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    while let Ok(value) = amf0::decode(&mut input) {
        let mut once = Vec::new();
        value.encode(&mut once);
        let again = amf0::decode(&mut &once[..]).expect("re-decode");
        let mut twice = Vec::new();
        again.encode(&mut twice);
        assert_eq!(once, twice);
        let _ = value.get("app").and_then(amf0::Value::as_str);
    }
    let _ = amf0::decode_all(data);
});
