//! A small signed HTTP/1.1 client for onair's own CLI verbs: it talks to a
//! running `onair serve` exactly as the AWS clients do (SigV4).

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Client {
    /// `host:port`
    pub authority: String,
    /// The endpoint URL's path (`/onair` of `http://host:8080/onair`), put in
    /// front of every request path as the AWS clients do; empty for none.
    pub prefix: String,
    pub access_key: String,
    pub secret: String,
    pub region: String,
}

impl Client {
    /// Parses `http://host:port`, optionally followed by a path prefix
    /// (`http://host:port/onair`); only plain HTTP is served by onair.
    pub fn new(
        endpoint: &str,
        access_key: String,
        secret: String,
        region: String,
    ) -> anyhow::Result<Client> {
        let Some(rest) = endpoint.strip_prefix("http://") else {
            bail!("endpoint '{endpoint}' must start with http://");
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        Ok(Client {
            authority: authority.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            },
            access_key,
            secret,
            region,
        })
    }

    /// Sends one request to `path` (under the endpoint's prefix); returns
    /// the status and the JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        service: &str,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let (status, body) = self.send(method, path, service, &[], b"").await?;
        let json = if body.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&body)?
        };
        Ok((status, json))
    }

    /// Sends one signed request with `headers` (besides `host`, which is
    /// added) and `body`; returns the status and the body as text.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        service: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(u16, String)> {
        let path = &format!("{}{path}", self.prefix);
        let mut signed = vec![("host".to_string(), self.authority.clone())];
        signed.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let req = api::sigv4::SignedRequest {
            method,
            raw_path: path,
            raw_query: "",
            headers: &signed,
            body,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let auth = api::sigv4::sign(
            &req,
            &self.access_key,
            &self.secret,
            &self.region,
            service,
            now,
        );
        let mut text = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n");
        for (n, v) in signed.iter().chain(&auth) {
            text.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() {
            text.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        text.push_str("\r\n");
        let mut stream = TcpStream::connect(&self.authority).await.with_context(|| {
            format!(
                "cannot reach onair at {} (is `onair serve` running?)",
                self.authority
            )
        })?;
        stream.write_all(text.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .context("malformed HTTP response")?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("malformed HTTP status line")?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Ok((status, body))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let (Some(chunk), Some(after)) = (rest.get(..n), rest.get(n..)) else {
            break;
        };
        if n == 0 {
            break;
        }
        out.push_str(chunk);
        s = after.trim_start_matches("\r\n");
    }
    out
}

/// Percent-encodes a label the way the AWS clients do (no safe characters).
pub fn label(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Client;

    #[test]
    fn an_endpoint_path_is_a_prefix() -> anyhow::Result<()> {
        let new = |e: &str| Client::new(e, "k".into(), "s".into(), "us-east-1".into());
        for (endpoint, authority, prefix) in [
            ("http://127.0.0.1:8080", "127.0.0.1:8080", ""),
            ("http://127.0.0.1:8080/", "127.0.0.1:8080", ""),
            ("http://h:1/onair", "h:1", "/onair"),
            ("http://h:1/a/b/", "h:1", "/a/b"),
        ] {
            let c = new(endpoint)?;
            assert_eq!(
                (c.authority.as_str(), c.prefix.as_str()),
                (authority, prefix)
            );
        }
        assert!(new("https://h:1").is_err());
        Ok(())
    }
}
