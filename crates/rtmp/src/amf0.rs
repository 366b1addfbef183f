//! AMF0, the value encoding of RTMP commands and metadata (Adobe "Action Message Format
//! -- AMF 0", December 2007, §2).
//!
//! [`decode`] reads one value from the front of a slice and advances it; [`decode_all`]
//! reads values until the slice is empty; [`Value::encode`] writes one. Decoding is
//! bounded: nesting deeper than [`MAX_DEPTH`] is refused, counts never size an
//! allocation before the bytes they announce have arrived, and every failure is an
//! [`Error`], never a panic. References (§2.9), movie clips, record sets and the AVM+
//! switch are refused as [`Error::Amf0Marker`]: no RTMP publisher sends them.

use crate::Error;

/// Deepest nesting of objects and arrays [`decode`] accepts.
pub const MAX_DEPTH: usize = 32;

/// AMF0 type markers (§2.1).
pub mod marker {
    /// IEEE-754 double, big-endian (§2.2).
    pub const NUMBER: u8 = 0x00;
    /// One byte, 0 false (§2.3).
    pub const BOOLEAN: u8 = 0x01;
    /// UTF-8 with a 16-bit length (§2.4).
    pub const STRING: u8 = 0x02;
    /// Anonymous object: properties until the object-end marker (§2.5).
    pub const OBJECT: u8 = 0x03;
    /// Movie clip, reserved (§2.6).
    pub const MOVIECLIP: u8 = 0x04;
    /// Null (§2.7).
    pub const NULL: u8 = 0x05;
    /// Undefined (§2.8).
    pub const UNDEFINED: u8 = 0x06;
    /// Reference to an earlier complex value (§2.9).
    pub const REFERENCE: u8 = 0x07;
    /// Associative array: a 32-bit count, then properties until object end (§2.10).
    pub const ECMA_ARRAY: u8 = 0x08;
    /// Ends an object or ECMA array, after an empty property name (§2.11).
    pub const OBJECT_END: u8 = 0x09;
    /// Dense array: a 32-bit count, then that many values (§2.12).
    pub const STRICT_ARRAY: u8 = 0x0A;
    /// Milliseconds since the epoch as a double, then a 16-bit time zone (§2.13).
    pub const DATE: u8 = 0x0B;
    /// UTF-8 with a 32-bit length (§2.14).
    pub const LONG_STRING: u8 = 0x0C;
    /// Unsupported (§2.15).
    pub const UNSUPPORTED: u8 = 0x0D;
    /// XML document, a long string (§2.17).
    pub const XML_DOCUMENT: u8 = 0x0F;
    /// Typed object: a class name, then an object (§2.18).
    pub const TYPED_OBJECT: u8 = 0x10;
}

/// One AMF0 value. Strings longer than 65 535 bytes are written as long strings; both
/// string markers decode to [`Value::String`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A boolean.
    Boolean(bool),
    /// A string (short or long on the wire).
    String(String),
    /// An anonymous object, properties in wire order (a typed object decodes to its
    /// properties).
    Object(Vec<(String, Value)>),
    /// null.
    Null,
    /// undefined (also what an "unsupported" marker decodes to).
    Undefined,
    /// An associative (ECMA) array, properties in wire order.
    EcmaArray(Vec<(String, Value)>),
    /// A dense (strict) array.
    StrictArray(Vec<Value>),
    /// A date: milliseconds since the epoch and the (unused, §2.13) time zone.
    Date {
        /// Milliseconds since 1970-01-01 UTC.
        millis: f64,
        /// Time zone offset field, to be 0x0000.
        timezone: i16,
    },
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The properties, if this is an object or an ECMA array.
    pub fn properties(&self) -> Option<&[(String, Value)]> {
        match self {
            Self::Object(p) | Self::EcmaArray(p) => Some(p),
            _ => None,
        }
    }

    /// The value of property `name` of an object or ECMA array.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Appends the encoding of this value to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Number(n) => {
                out.push(marker::NUMBER);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Self::Boolean(b) => {
                out.push(marker::BOOLEAN);
                out.push(u8::from(*b));
            }
            Self::String(s) => match u16::try_from(s.len()) {
                Ok(len) => {
                    out.push(marker::STRING);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
                Err(_) => {
                    out.push(marker::LONG_STRING);
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(s.as_bytes().get(..len as usize).unwrap_or_default());
                }
            },
            Self::Object(props) => {
                out.push(marker::OBJECT);
                encode_properties(props, out);
            }
            Self::Null => out.push(marker::NULL),
            Self::Undefined => out.push(marker::UNDEFINED),
            Self::EcmaArray(props) => {
                out.push(marker::ECMA_ARRAY);
                // Empty names are not written (see encode_properties): not counted.
                let written = props.iter().filter(|(k, _)| !k.is_empty()).count();
                let count = u32::try_from(written).unwrap_or(u32::MAX);
                out.extend_from_slice(&count.to_be_bytes());
                encode_properties(props, out);
            }
            Self::StrictArray(items) => {
                out.push(marker::STRICT_ARRAY);
                let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&count.to_be_bytes());
                for item in items.iter().take(count as usize) {
                    item.encode(out);
                }
            }
            Self::Date { millis, timezone } => {
                out.push(marker::DATE);
                out.extend_from_slice(&millis.to_be_bytes());
                out.extend_from_slice(&timezone.to_be_bytes());
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}

/// Property names are UTF-8 with a 16-bit length (§2.4, "UTF-8-empty" ends the list);
/// a longer name is cut at 65 535 bytes (at a character boundary).
fn encode_key(key: &str, out: &mut Vec<u8>) {
    let mut end = key.len().min(usize::from(u16::MAX));
    while !key.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let bytes = key.as_bytes().get(..end).unwrap_or_default();
    let len = u16::try_from(bytes.len()).unwrap_or(0);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn encode_properties(props: &[(String, Value)], out: &mut Vec<u8>) {
    for (key, value) in props {
        if key.is_empty() {
            // An empty name would end the object early; no peer sends one.
            continue;
        }
        encode_key(key, out);
        value.encode(out);
    }
    out.extend_from_slice(&[0, 0, marker::OBJECT_END]);
}

/// Encodes `values` one after the other (a command message body).
pub fn encode_all(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        v.encode(&mut out);
    }
    out
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], Error> {
    if input.len() < n {
        return Err(Error::Short);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn take_array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], Error> {
    let (head, tail) = input.split_first_chunk::<N>().ok_or(Error::Short)?;
    *input = tail;
    Ok(*head)
}

fn read_u8(input: &mut &[u8]) -> Result<u8, Error> {
    Ok(u8::from_be_bytes(take_array(input)?))
}

fn read_u16(input: &mut &[u8]) -> Result<u16, Error> {
    Ok(u16::from_be_bytes(take_array(input)?))
}

fn read_u32(input: &mut &[u8]) -> Result<u32, Error> {
    Ok(u32::from_be_bytes(take_array(input)?))
}

fn read_f64(input: &mut &[u8]) -> Result<f64, Error> {
    Ok(f64::from_be_bytes(take_array(input)?))
}

fn read_utf8(input: &mut &[u8], len: usize) -> Result<String, Error> {
    Ok(String::from_utf8_lossy(take(input, len)?).into_owned())
}

/// Reads one value from the front of `input` and advances it past the value.
pub fn decode(input: &mut &[u8]) -> Result<Value, Error> {
    decode_at(input, 0)
}

/// Reads values until `input` is empty.
pub fn decode_all(mut input: &[u8]) -> Result<Vec<Value>, Error> {
    let mut values = Vec::new();
    while !input.is_empty() {
        values.push(decode(&mut input)?);
    }
    Ok(values)
}

fn decode_at(input: &mut &[u8], depth: usize) -> Result<Value, Error> {
    let m = read_u8(input)?;
    decode_value(m, input, depth)
}

/// Decodes the value after marker `m` (already read).
fn decode_value(m: u8, input: &mut &[u8], depth: usize) -> Result<Value, Error> {
    Ok(match m {
        marker::NUMBER => Value::Number(read_f64(input)?),
        marker::BOOLEAN => Value::Boolean(read_u8(input)? != 0),
        marker::STRING => {
            let len = read_u16(input)?;
            Value::String(read_utf8(input, usize::from(len))?)
        }
        marker::LONG_STRING | marker::XML_DOCUMENT => {
            let len = read_u32(input)?;
            let len = usize::try_from(len).map_err(|_| Error::Short)?;
            Value::String(read_utf8(input, len)?)
        }
        marker::OBJECT => Value::Object(decode_properties(input, nested(depth)?)?),
        marker::TYPED_OBJECT => {
            let len = read_u16(input)?;
            take(input, usize::from(len))?;
            Value::Object(decode_properties(input, nested(depth)?)?)
        }
        marker::ECMA_ARRAY => {
            // The count is advisory (§2.10): the properties run to the end marker.
            read_u32(input)?;
            Value::EcmaArray(decode_properties(input, nested(depth)?)?)
        }
        marker::STRICT_ARRAY => {
            let count = read_u32(input)?;
            let inner = nested(depth)?;
            // Every value is at least one byte: a count beyond what is left is short.
            let count = usize::try_from(count).map_err(|_| Error::Short)?;
            if count > input.len() {
                return Err(Error::Short);
            }
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode_at(input, inner)?);
            }
            Value::StrictArray(items)
        }
        marker::DATE => {
            let millis = read_f64(input)?;
            let timezone = i16::from_be_bytes(take_array(input)?);
            Value::Date { millis, timezone }
        }
        marker::NULL => Value::Null,
        marker::UNDEFINED | marker::UNSUPPORTED => Value::Undefined,
        other => return Err(Error::Amf0Marker(other)),
    })
}

fn nested(depth: usize) -> Result<usize, Error> {
    let inner = depth.saturating_add(1);
    if inner > MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    Ok(inner)
}

fn decode_properties(input: &mut &[u8], depth: usize) -> Result<Vec<(String, Value)>, Error> {
    let mut props = Vec::new();
    loop {
        let len = read_u16(input)?;
        if len == 0 {
            match read_u8(input)? {
                marker::OBJECT_END => return Ok(props),
                // An empty name before a value: keep the value under "".
                m => {
                    let value = decode_value(m, input, depth)?;
                    props.push((String::new(), value));
                    continue;
                }
            }
        }
        let key = read_utf8(input, usize::from(len))?;
        let value = decode_at(input, depth)?;
        props.push((key, value));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connect_command() {
        // "connect", 1.0, {app: "live", tcUrl: "rtmp://h/live"} as ffmpeg sends it.
        let values = vec![
            Value::string("connect"),
            Value::Number(1.0),
            Value::Object(vec![
                ("app".into(), Value::string("live")),
                ("tcUrl".into(), Value::string("rtmp://h/live")),
                ("fpad".into(), Value::Boolean(false)),
            ]),
        ];
        let bytes = encode_all(&values);
        assert_eq!(&bytes[..10], b"\x02\x00\x07connect");
        assert_eq!(bytes[10], marker::NUMBER);
        assert_eq!(&bytes[bytes.len() - 3..], &[0, 0, 9]);
        let back = decode_all(&bytes).unwrap();
        assert_eq!(back, values);
        assert_eq!(back[2].get("app").and_then(Value::as_str), Some("live"));
    }

    #[test]
    fn long_string_and_xml() {
        let s = "x".repeat(70_000);
        let mut out = Vec::new();
        Value::string(s.clone()).encode(&mut out);
        assert_eq!(out[0], marker::LONG_STRING);
        assert_eq!(decode(&mut &out[..]).unwrap(), Value::String(s));
        let xml = [marker::XML_DOCUMENT, 0, 0, 0, 2, b'<', b'>'];
        assert_eq!(decode(&mut &xml[..]).unwrap(), Value::string("<>"));
    }

    #[test]
    fn refusals() {
        assert_eq!(decode(&mut &[][..]), Err(Error::Short));
        assert_eq!(decode(&mut &[marker::NUMBER, 0][..]), Err(Error::Short));
        assert_eq!(
            decode(&mut &[marker::REFERENCE, 0, 1][..]),
            Err(Error::Amf0Marker(marker::REFERENCE))
        );
        // A strict array announcing more values than bytes.
        assert_eq!(
            decode(&mut &[marker::STRICT_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF][..]),
            Err(Error::Short)
        );
        // Unterminated object.
        assert_eq!(
            decode(&mut &[marker::OBJECT, 0, 1, b'a', marker::NULL][..]),
            Err(Error::Short)
        );
        // Nesting.
        let mut deep = [marker::STRICT_ARRAY, 0, 0, 0, 1].repeat(MAX_DEPTH + 1);
        deep.push(marker::NULL);
        assert_eq!(decode(&mut &deep[..]), Err(Error::TooDeep));
        let mut ok = [marker::STRICT_ARRAY, 0, 0, 0, 1].repeat(MAX_DEPTH);
        ok.push(marker::NULL);
        assert!(decode(&mut &ok[..]).is_ok());
    }

    #[test]
    fn typed_object_and_empty_key() {
        let bytes = [
            marker::TYPED_OBJECT,
            0,
            1,
            b'C',
            0,
            1,
            b'a',
            marker::NULL,
            0,
            0,
            marker::BOOLEAN,
            1,
            0,
            0,
            marker::OBJECT_END,
        ];
        let v = decode(&mut &bytes[..]).unwrap();
        assert_eq!(
            v,
            Value::Object(vec![
                ("a".into(), Value::Null),
                (String::new(), Value::Boolean(true))
            ])
        );
    }

    #[test]
    fn empty_names_are_not_written_nor_counted() {
        // Found by fuzz/rtmp_amf0: an ECMA array holding a property named "" (which
        // decodes) was written with a count of 1 and no property.
        let bytes = [marker::ECMA_ARRAY, 0, 0, 0, 1, 0, 0, marker::NULL, 0, 0, 9];
        let value = decode(&mut &bytes[..]).unwrap();
        assert_eq!(value, Value::EcmaArray(vec![(String::new(), Value::Null)]));
        let mut out = Vec::new();
        value.encode(&mut out);
        assert_eq!(out, [marker::ECMA_ARRAY, 0, 0, 0, 0, 0, 0, 9]);
    }

    fn key() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_é]{1,12}"
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(Value::Number),
            any::<bool>().prop_map(Value::Boolean),
            ".{0,20}".prop_map(Value::String),
            Just(Value::Null),
            Just(Value::Undefined),
            (-1e15f64..1e15, any::<i16>())
                .prop_map(|(millis, timezone)| Value::Date { millis, timezone }),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((key(), inner.clone()), 0..6).prop_map(Value::Object),
                prop::collection::vec((key(), inner.clone()), 0..6).prop_map(Value::EcmaArray),
                prop::collection::vec(inner, 0..6).prop_map(Value::StrictArray),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(values in prop::collection::vec(value(), 0..5)) {
            let bytes = encode_all(&values);
            prop_assert_eq!(decode_all(&bytes).unwrap(), values);
        }

        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_all(&data);
        }

        #[test]
        fn truncation_is_short(values in prop::collection::vec(value(), 1..3), cut in any::<prop::sample::Index>()) {
            let bytes = encode_all(&values);
            let at = cut.index(bytes.len());
            let mut input = &bytes[..at];
            // Whatever decodes is a prefix; the cut value is reported short.
            let mut decoded = 0;
            loop {
                match decode(&mut input) {
                    Ok(_) => decoded += 1,
                    Err(e) => { prop_assert_eq!(e, Error::Short); break; }
                }
            }
            prop_assert!(decoded < values.len());
        }
    }
}
