//! awsQuery answers: XML documents written with `quick-xml`, every text
//! escaped, never assembled from strings.
//!
//! An answer is `<{Action}Response xmlns="…"><{Action}Result>…</{Action}Result>
//! <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{Action}Response>`
//! (the result element only when the action has an output); botocore takes
//! `RequestId` from the document.
//!
//! ```
//! let doc = api::xml::query_response(
//!     "http://sns.amazonaws.com/doc/2010-03-31/",
//!     "CreateTopic",
//!     "0f0b5c4e-0000-4000-8000-000000000000",
//!     Some(|x: &mut api::xml::Xml| x.text("TopicArn", "arn:aws:sns:r:1:a<b")),
//! )
//! .unwrap();
//! let doc = String::from_utf8(doc).unwrap();
//! assert!(doc.contains("<CreateTopicResult><TopicArn>arn:aws:sns:r:1:a&lt;b</TopicArn></CreateTopicResult>"));
//! ```

use std::borrow::Cow;
use std::io;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// `text` without the characters XML 1.0 cannot carry (C0 controls other
/// than tab, line feed and carriage return; U+FFFE, U+FFFF): each becomes
/// U+FFFD, so a client's parser never fails on our answer.
pub fn clean(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// An XML document being written.
pub struct Xml(Writer<Vec<u8>>);

impl Xml {
    fn new() -> Self {
        Xml(Writer::new(Vec::new()))
    }

    /// `<name>value</name>`, the value escaped (a carriage return as
    /// `&#13;`, so that parsers do not turn it into a line feed).
    pub fn text(&mut self, name: &str, value: &str) -> io::Result<()> {
        let escaped = quick_xml::escape::partial_escape(clean(value)).replace('\r', "&#13;");
        self.0
            .create_element(name)
            .write_text_content(BytesText::from_escaped(escaped))?;
        Ok(())
    }

    /// `<name>…</name>` around what `inner` writes.
    pub fn element(
        &mut self,
        name: &str,
        inner: impl FnOnce(&mut Xml) -> io::Result<()>,
    ) -> io::Result<()> {
        self.0.write_event(Event::Start(BytesStart::new(name)))?;
        inner(self)?;
        self.0.write_event(Event::End(BytesEnd::new(name)))
    }

    /// A map as awsQuery writes it: `<name><entry><key/><value/></entry>…</name>`.
    pub fn entries<'a>(
        &mut self,
        name: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> io::Result<()> {
        self.element(name, |x| {
            for (k, v) in entries {
                x.element("entry", |x| {
                    x.text("key", k)?;
                    x.text("value", v)
                })?;
            }
            Ok(())
        })
    }
}

/// The document answering `action`: its result (when `result` is given)
/// and the response metadata.
pub fn query_response<F>(
    namespace: &str,
    action: &str,
    request_id: &str,
    result: Option<F>,
) -> io::Result<Vec<u8>>
where
    F: FnOnce(&mut Xml) -> io::Result<()>,
{
    let mut x = Xml::new();
    let response = format!("{action}Response");
    x.0.write_event(Event::Start(
        BytesStart::new(response.as_str()).with_attributes([("xmlns", namespace)]),
    ))?;
    if let Some(result) = result {
        x.element(&format!("{action}Result"), result)?;
    }
    x.element("ResponseMetadata", |x| x.text("RequestId", request_id))?;
    x.0.write_event(Event::End(BytesEnd::new(response.as_str())))?;
    Ok(x.0.into_inner())
}

/// The awsQuery error document: `<ErrorResponse xmlns><Error><Type/><Code/>
/// <Message/></Error><RequestId/></ErrorResponse>`.
pub fn error_response(
    namespace: &str,
    fault: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> io::Result<Vec<u8>> {
    let mut x = Xml::new();
    x.0.write_event(Event::Start(
        BytesStart::new("ErrorResponse").with_attributes([("xmlns", namespace)]),
    ))?;
    x.element("Error", |x| {
        x.text("Type", fault)?;
        x.text("Code", code)?;
        x.text("Message", message)
    })?;
    x.text("RequestId", request_id)?;
    x.0.write_event(Event::End(BytesEnd::new("ErrorResponse")))?;
    Ok(x.0.into_inner())
}

/// A 200 answer carrying `body` (an XML document) and its request id.
pub fn ok(body: Vec<u8>, request_id: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(f: impl FnOnce(&mut Xml) -> io::Result<()>) -> String {
        String::from_utf8(query_response("urn:ns", "Act", "rid", Some(f)).unwrap()).unwrap()
    }

    #[test]
    fn text_is_escaped() {
        let d = doc(|x| x.text("V", "<a href=\"x\">&'\r\n</a>"));
        assert!(
            d.contains("<V>&lt;a href=\"x\"&gt;&amp;'&#13;\n&lt;/a&gt;</V>"),
            "{d}"
        );
    }

    #[test]
    fn the_error_document() {
        let d = error_response("urn:ns", "Sender", "NotFound", "TopicArn: <none>", "rid").unwrap();
        assert_eq!(
            String::from_utf8(d).unwrap(),
            "<ErrorResponse xmlns=\"urn:ns\"><Error><Type>Sender</Type><Code>NotFound</Code>\
             <Message>TopicArn: &lt;none&gt;</Message></Error><RequestId>rid</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        assert_eq!(clean("ok\tfine\n"), "ok\tfine\n");
        assert_eq!(clean("bell\u{7}end\u{FFFF}"), "bell\u{FFFD}end\u{FFFD}");
        let d = doc(|x| x.text("V", "a\u{0}b"));
        assert!(d.contains("<V>a\u{FFFD}b</V>"), "{d}");
    }

    #[test]
    fn the_response_shape() {
        let d = doc(|x| {
            x.entries("Attributes", [("DisplayName", "Ops"), ("Owner", "1")])?;
            x.element("Topics", |x| {
                x.element("member", |x| x.text("TopicArn", "t"))
            })
        });
        assert_eq!(
            d,
            "<ActResponse xmlns=\"urn:ns\"><ActResult>\
             <Attributes><entry><key>DisplayName</key><value>Ops</value></entry>\
             <entry><key>Owner</key><value>1</value></entry></Attributes>\
             <Topics><member><TopicArn>t</TopicArn></member></Topics></ActResult>\
             <ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></ActResponse>"
        );
        let none = query_response(
            "urn:ns",
            "Act",
            "rid",
            None::<fn(&mut Xml) -> io::Result<()>>,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(none).unwrap(),
            "<ActResponse xmlns=\"urn:ns\"><ResponseMetadata><RequestId>rid</RequestId>\
             </ResponseMetadata></ActResponse>"
        );
    }
}
