//! ARNs and resource identifiers shaped like AWS's, so existing tools parse them.
//!
//! `arn:aws:mediaconnect:us-east-1:111122223333:flow:1-23aBC45dEF67hiJ8-12AbC34DE5fG:AwardsShow`

use rand::seq::SliceRandom;

/// The parts of an ARN a router needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// Everything after the account, e.g. `flow:1-…:Name` or `channels/abc`.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let _partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if service.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            service,
            region,
            account,
            resource,
        })
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Random alphanumeric text.
pub fn random_alnum(len: usize) -> String {
    random_from(ALNUM, len)
}

/// Random lowercase hex digits.
pub fn random_hex(len: usize) -> String {
    random_from(b"0123456789abcdef", len)
}

/// `len` bytes of `alphabet` (ASCII) picked at random.
fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .filter_map(|_| alphabet.choose(&mut rng))
        .map(|&b| char::from(b))
        .collect()
}

/// A MediaConnect-style unique part: `1-<16>-<12>`.
pub fn mediaconnect_id() -> String {
    format!("1-{}-{}", random_alnum(16), random_alnum(12))
}

/// `arn:aws:mediaconnect:<region>:<account>:<kind>:<id>:<name>`
pub fn mediaconnect(region: &str, account: &str, kind: &str, name: &str) -> String {
    format!(
        "arn:aws:mediaconnect:{region}:{account}:{kind}:{}:{name}",
        mediaconnect_id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flow_and_package_arns() {
        let a =
            Arn::parse("arn:aws:mediaconnect:us-east-1:111122223333:flow:1-ab-cd:Show").unwrap();
        assert_eq!(a.service, "mediaconnect");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.resource, "flow:1-ab-cd:Show");
        let p = Arn::parse("arn:aws:mediapackage:eu-west-1:1:channels/abc").unwrap();
        assert_eq!(p.resource, "channels/abc");
        assert!(Arn::parse("arn:aws:x").is_none());
        assert!(Arn::parse("nope:aws:s:r:a:b").is_none());
    }

    #[test]
    fn generated_arns_have_the_aws_shape() {
        let arn = mediaconnect("us-west-2", "123456789012", "flow", "Primary");
        let a = Arn::parse(&arn).unwrap();
        assert_eq!(a.account, "123456789012");
        let parts: Vec<&str> = a.resource.split(':').collect();
        assert_eq!(parts[0], "flow");
        assert!(parts[1].starts_with("1-") && parts[1].len() == 2 + 16 + 1 + 12);
        assert_eq!(parts[2], "Primary");
    }
}
