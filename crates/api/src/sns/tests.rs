//! The SNS actions end to end inside the process: form in, XML out, and
//! the messages a local HTTP endpoint receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::to_bytes;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use control::{ControlPlane, Settings, Store};
use tokio::net::TcpListener;

use super::*;
use crate::{ApiRequest, AppState, Credentials};

fn state() -> AppState {
    let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
    AppState {
        sns: Notifier::new(cp.clone()),
        front: Default::default(),
        demo: Default::default(),
        cp,
        credentials: Credentials {
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
        },
        origin: crate::origin::OriginStore::default(),
        dashboard: Default::default(),
        monitor: Arc::new(monitor::Hub::new(
            monitor::Identity {
                account_id: "000000000000".into(),
                region: "us-west-2".into(),
            },
            monitor::series::StoreConfig::default(),
        )),
    }
}

fn request(body: &str) -> ApiRequest {
    ApiRequest {
        method: Method::POST,
        segments: vec![],
        query: vec![],
        body: bytes::Bytes::from(body.to_string()),
        region: "us-west-2".into(),
        service: "sns".into(),
        target: None,
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8".into()),
        content_encoding: None,
    }
}

async fn text(resp: Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The status and body of a call, errors answered as the dispatcher does.
async fn call(state: &AppState, body: &str) -> (u16, String) {
    let resp = handle(state, &request(body))
        .await
        .unwrap_or_else(IntoResponse::into_response);
    text(resp).await
}

/// The text of the first `<name>` element.
fn element<'a>(doc: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = doc
        .find(&open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("no {name} in {doc}"));
    let end = doc[start..].find(&format!("</{name}>")).unwrap() + start;
    &doc[start..end]
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn create_list_and_delete_topics() {
    let s = state();
    let (status, doc) = call(&s, "Action=CreateTopic&Version=2010-03-31&Name=alarms").await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.starts_with(
        "<CreateTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><CreateTopicResult><TopicArn>"
    ));
    let arn = element(&doc, "TopicArn").to_string();
    assert_eq!(arn, "arn:aws:sns:us-west-2:000000000000:alarms");
    assert_eq!(element(&doc, "RequestId").len(), 36);

    let (_, doc) = call(&s, "Action=ListTopics&Version=2010-03-31").await;
    assert!(doc.contains(&format!(
        "<Topics><member><TopicArn>{arn}</TopicArn></member></Topics>"
    )));
    assert!(!doc.contains("NextToken"));

    let (status, doc) = call(
        &s,
        &format!(
            "Action=SetTopicAttributes&Version=2010-03-31&TopicArn={}&AttributeName=DisplayName&AttributeValue=Ops+%3CNOC%3E",
            enc(&arn)
        ),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.starts_with("<SetTopicAttributesResponse"));
    assert!(!doc.contains("Result"));
    let (_, doc) = call(
        &s,
        &format!(
            "Action=GetTopicAttributes&Version=2010-03-31&TopicArn={}",
            enc(&arn)
        ),
    )
    .await;
    assert!(
        doc.contains("<entry><key>DisplayName</key><value>Ops &lt;NOC&gt;</value></entry>"),
        "{doc}"
    );
    assert!(doc.contains("<entry><key>SubscriptionsPending</key><value>0</value></entry>"));

    let (status, _) = call(
        &s,
        &format!(
            "Action=DeleteTopic&Version=2010-03-31&TopicArn={}",
            enc(&arn)
        ),
    )
    .await;
    assert_eq!(status, 200);
    // Again: deleting a missing topic is not an error.
    let (status, _) = call(
        &s,
        &format!(
            "Action=DeleteTopic&Version=2010-03-31&TopicArn={}",
            enc(&arn)
        ),
    )
    .await;
    assert_eq!(status, 200);
    let (status, doc) = call(
        &s,
        &format!(
            "Action=GetTopicAttributes&Version=2010-03-31&TopicArn={}",
            enc(&arn)
        ),
    )
    .await;
    assert_eq!(status, 404);
    assert!(doc.starts_with(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>NotFound</Code>"
    ), "{doc}");
}

#[tokio::test]
async fn errors_name_the_member_in_the_modelled_code() {
    let s = state();
    for (body, status, code, message) in [
        ("Version=2010-03-31", 400, "MissingAction", "Action: is required"),
        ("Action=CreateTopic&Version=2010-03-31", 400, "InvalidParameter", "Name: is required"),
        ("Action=CreateTopic&Version=2009-01-01&Name=a", 400, "InvalidParameter", "Version: onair speaks SNS 2010-03-31, not '2009-01-01'"),
        ("Action=CreateTopic&Version=2010-03-31&Name=a.fifo", 400, "InvalidParameter", "Name: 'a.fifo' is a FIFO topic name"),
        ("Action=CreateTopic&Version=2010-03-31&Name=a&DataProtectionPolicy=x", 400, "InvalidParameter", "DataProtectionPolicy: onair does not support this member of CreateTopic"),
        ("Action=CreateTopic&Version=2010-03-31&Name=a&Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B%7D", 400, "InvalidParameter", "Attributes: onair supports the DisplayName attribute of a topic only, not 'Policy'"),
        ("Action=CreatePlatformApplication&Version=2010-03-31", 400, "InvalidAction", "Action: onair does not implement the SNS action 'CreatePlatformApplication'"),
        ("Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-west-2%3A000000000000%3Anone&Message=hi", 404, "NotFound", "TopicArn: topic does not exist"),
        ("Action=Publish&Version=2010-03-31&PhoneNumber=%2B15550100&Message=hi", 400, "InvalidParameter", "PhoneNumber: onair does not send SMS"),
        ("Action=Publish&Version=2010-03-31&TopicArn=nope&Message=hi", 400, "InvalidParameter", "TopicArn: 'nope' is not an SNS ARN"),
        ("Action=ListTagsForResource&Version=2010-03-31&ResourceArn=arn%3Aaws%3Asns%3Aus-west-2%3A000000000000%3Anone", 404, "ResourceNotFound", "TopicArn: topic does not exist"),
        ("Action=ListTopics&Version=2010-03-31&NextToken=zz", 400, "InvalidParameter", "NextToken: 'zz' is not a token this server gave"),
    ] {
        let (got, doc) = call(&s, body).await;
        assert_eq!(got, status, "{body}: {doc}");
        assert_eq!(element(&doc, "Code"), code, "{body}");
        assert!(element(&doc, "Message").starts_with(message), "{body}: {doc}");
        assert_eq!(element(&doc, "Type"), "Sender");
    }
}

#[tokio::test]
async fn subscribe_refuses_other_protocols_naming_protocol() {
    let s = state();
    call(&s, "Action=CreateTopic&Version=2010-03-31&Name=a").await;
    let topic = enc("arn:aws:sns:us-west-2:000000000000:a");
    for protocol in ["email", "sqs", "lambda", "application"] {
        let (status, doc) = call(
            &s,
            &format!("Action=Subscribe&Version=2010-03-31&TopicArn={topic}&Protocol={protocol}&Endpoint=x"),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(element(&doc, "Code"), "InvalidParameter");
        assert_eq!(
            element(&doc, "Message"),
            format!("Protocol: onair delivers to http and https endpoints only, not '{protocol}'")
        );
    }
    let (status, doc) = call(
        &s,
        &format!("Action=Subscribe&Version=2010-03-31&TopicArn={topic}&Protocol=http"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(element(&doc, "Message").starts_with("Endpoint: is required"));
}

#[tokio::test]
async fn tags_round_trip() {
    let s = state();
    call(
        &s,
        "Action=CreateTopic&Version=2010-03-31&Name=a&Tags.member.1.Key=team&Tags.member.1.Value=ops",
    )
    .await;
    let arn = enc("arn:aws:sns:us-west-2:000000000000:a");
    let (status, doc) = call(
        &s,
        &format!("Action=TagResource&Version=2010-03-31&ResourceArn={arn}&Tags.member.1.Key=env&Tags.member.1.Value=prod"),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    call(
        &s,
        &format!("Action=UntagResource&Version=2010-03-31&ResourceArn={arn}&TagKeys.member.1=team"),
    )
    .await;
    let (_, doc) = call(
        &s,
        &format!("Action=ListTagsForResource&Version=2010-03-31&ResourceArn={arn}"),
    )
    .await;
    assert!(
        doc.contains("<Tags><member><Key>env</Key><Value>prod</Value></member></Tags>"),
        "{doc}"
    );
}

/// One request an endpoint received.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP endpoint answering `statuses` in turn (then 200), keeping
/// what it receives.
async fn endpoint(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let statuses = Arc::new(Mutex::new(statuses.into_iter()));
    let seen = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, statuses) = (seen.clone(), statuses.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (seen, statuses) = (seen.clone(), statuses.clone());
                    async move {
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let body = http_body_util::BodyExt::collect(req.into_body())
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        seen.lock().unwrap().push(Received {
                            headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let status = statuses.lock().unwrap().next().unwrap_or(200);
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(http_body_util::Full::new(bytes::Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, got)
}

async fn wait_for(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    for _ in 0..500 {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "endpoint got {:?}, wanted {n} requests",
        got.lock().unwrap()
    );
}

fn json(r: &Received) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap()
}

#[tokio::test]
async fn the_handshake_then_notifications_with_retries() {
    let s = state();
    // The first notification is answered 503 twice: it arrives on the third try.
    let (url, got) = endpoint(vec![200, 503, 503]).await;
    call(&s, "Action=CreateTopic&Version=2010-03-31&Name=alarms").await;
    let topic = "arn:aws:sns:us-west-2:000000000000:alarms";
    let (status, doc) = call(
        &s,
        &format!(
            "Action=Subscribe&Version=2010-03-31&TopicArn={}&Protocol=http&Endpoint={}",
            enc(topic),
            enc(&url)
        ),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(element(&doc, "SubscriptionArn"), "pending confirmation");

    let confirmation = wait_for(&got, 1).await.remove(0);
    assert_eq!(
        confirmation.header("x-amz-sns-message-type"),
        Some("SubscriptionConfirmation")
    );
    assert_eq!(confirmation.header("x-amz-sns-topic-arn"), Some(topic));
    assert_eq!(
        confirmation.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let c = json(&confirmation);
    assert_eq!(c["Type"], "SubscriptionConfirmation");
    assert_eq!(
        c.get("MessageId").and_then(|v| v.as_str()),
        confirmation.header("x-amz-sns-message-id")
    );
    let subscribe_url = c["SubscribeURL"].as_str().unwrap();
    let (base, query) = subscribe_url.split_once("/?").unwrap();
    assert_eq!(base, Settings::default().base_url);

    // Nothing is delivered before confirmation.
    call(
        &s,
        &format!(
            "Action=Publish&Version=2010-03-31&TopicArn={}&Message=early",
            enc(topic)
        ),
    )
    .await;

    // A subscriber follows the link.
    assert!(is_link(&Method::GET, Some(query)));
    assert!(!is_link(&Method::POST, Some(query)));
    assert!(!is_link(&Method::GET, Some("Action=Publish")));
    let (status, doc) = text(handle_link(&s, query).await.unwrap()).await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.starts_with("<ConfirmSubscriptionResponse"));
    let sub_arn = element(&doc, "SubscriptionArn").to_string();
    assert!(sub_arn.starts_with(&format!("{topic}:")));
    let (_, doc) = call(&s, "Action=ListSubscriptions&Version=2010-03-31").await;
    assert!(
        doc.contains(&format!("<SubscriptionArn>{sub_arn}</SubscriptionArn>")),
        "{doc}"
    );
    assert!(doc.contains(&format!(
        "<Endpoint>{url}</Endpoint><Protocol>http</Protocol>"
    )));

    let (status, doc) = call(
        &s,
        &format!(
            "Action=Publish&Version=2010-03-31&TopicArn={}&Subject=ALARM&Message={}",
            enc(topic),
            enc("{\"NewStateValue\":\"ALARM\"}")
        ),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    let message_id = element(&doc, "MessageId").to_string();
    let all = wait_for(&got, 4).await;
    // Three tries of the same notification; "early" never came.
    let tries: Vec<&Received> = all.iter().skip(1).collect();
    assert_eq!(tries.len(), 3);
    for r in &tries {
        assert_eq!(r.header("x-amz-sns-message-id"), Some(message_id.as_str()));
        assert_eq!(
            r.header("x-amz-sns-subscription-arn"),
            Some(sub_arn.as_str())
        );
        let n = json(r);
        assert_eq!(n["Type"], "Notification");
        assert_eq!(n["Subject"], "ALARM");
        assert_eq!(n["Message"], "{\"NewStateValue\":\"ALARM\"}");
        assert_eq!(n["MessageId"], message_id.as_str());
    }
    let unsubscribe_url = json(tries[0])["UnsubscribeURL"]
        .as_str()
        .unwrap()
        .to_string();

    // Following the UnsubscribeURL ends it, and the endpoint is told.
    let (_, query) = unsubscribe_url.split_once("/?").unwrap();
    let (status, doc) = text(handle_link(&s, query).await.unwrap()).await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.starts_with("<UnsubscribeResponse"));
    let all = wait_for(&got, 5).await;
    assert_eq!(json(&all[4])["Type"], "UnsubscribeConfirmation");
    let (_, doc) = call(&s, "Action=ListSubscriptions&Version=2010-03-31").await;
    assert!(!doc.contains("<member>"), "{doc}");
    let (_, doc) = call(
        &s,
        &format!(
            "Action=GetTopicAttributes&Version=2010-03-31&TopicArn={}",
            enc(topic)
        ),
    )
    .await;
    assert!(doc.contains("<entry><key>SubscriptionsDeleted</key><value>1</value></entry>"));
    assert_eq!(s.sns.in_flight(), 0);
}

#[tokio::test]
async fn a_refusing_endpoint_is_not_retried() {
    let s = state();
    let (url, got) = endpoint(vec![200, 404]).await;
    call(&s, "Action=CreateTopic&Version=2010-03-31&Name=a").await;
    let topic = "arn:aws:sns:us-west-2:000000000000:a";
    let (_, doc) = call(
        &s,
        &format!(
            "Action=Subscribe&Version=2010-03-31&TopicArn={}&Protocol=http&Endpoint={}&ReturnSubscriptionArn=true&Attributes.entry.1.key=RawMessageDelivery&Attributes.entry.1.value=true",
            enc(topic),
            enc(&url)
        ),
    )
    .await;
    let sub_arn = element(&doc, "SubscriptionArn").to_string();
    assert!(sub_arn.starts_with(topic), "{doc}");
    let token = json(&wait_for(&got, 1).await[0])["Token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, doc) = call(
        &s,
        &format!(
            "Action=ConfirmSubscription&Version=2010-03-31&TopicArn={}&Token={token}&AuthenticateOnUnsubscribe=true",
            enc(topic)
        ),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    let (_, doc) = call(
        &s,
        &format!(
            "Action=GetSubscriptionAttributes&Version=2010-03-31&SubscriptionArn={}",
            enc(&sub_arn)
        ),
    )
    .await;
    assert!(doc.contains("<entry><key>RawMessageDelivery</key><value>true</value></entry>"));
    assert!(
        doc.contains("<entry><key>ConfirmationWasAuthenticated</key><value>true</value></entry>")
    );
    call(
        &s,
        &format!(
            "Action=Publish&Version=2010-03-31&TopicArn={}&Message=raw+text",
            enc(topic)
        ),
    )
    .await;
    let all = wait_for(&got, 2).await;
    assert_eq!(all[1].body, "raw text");
    assert_eq!(all[1].header("x-amz-sns-rawdelivery"), Some("true"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(got.lock().unwrap().len(), 2, "a 404 is not retried");

    // AuthenticateOnUnsubscribe: the unsigned link may not end it.
    let query = format!("Action=Unsubscribe&SubscriptionArn={}", enc(&sub_arn));
    let resp = handle_link(&s, &query).await.unwrap_err();
    assert_eq!(
        (resp.status.as_u16(), resp.code),
        (403, "AuthorizationError")
    );
    let (status, _) = call(
        &s,
        &format!(
            "Action=Unsubscribe&Version=2010-03-31&SubscriptionArn={}",
            enc(&sub_arn)
        ),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_router_answers_an_unsigned_subscribe_url_on_any_path() {
    use tower::ServiceExt;
    let s = state();
    let (url, got) = endpoint(vec![]).await;
    call(&s, "Action=CreateTopic&Version=2010-03-31&Name=a").await;
    let topic = "arn:aws:sns:us-west-2:000000000000:a";
    call(
        &s,
        &format!(
            "Action=Subscribe&Version=2010-03-31&TopicArn={}&Protocol=http&Endpoint={}",
            enc(topic),
            enc(&url)
        ),
    )
    .await;
    let token = json(&wait_for(&got, 1).await[0])["Token"]
        .as_str()
        .unwrap()
        .to_string();
    let app = crate::router(s.clone());
    let get = |uri: String| {
        axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    // A wrong token: the XML error, its request id in the header too.
    let resp = app
        .clone()
        .oneshot(get(format!(
            "/?Action=ConfirmSubscription&TopicArn={}&Token=nope",
            enc(topic)
        )))
        .await
        .unwrap();
    let header_id = resp.headers()["x-amzn-RequestId"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, doc) = text(resp).await;
    assert_eq!(status, 400, "{doc}");
    assert_eq!(element(&doc, "Code"), "InvalidParameter");
    assert_eq!(element(&doc, "RequestId"), header_id);

    // Behind a path prefix (a public URL of http://host/onair).
    let resp = app
        .oneshot(get(format!(
            "/onair/?Action=ConfirmSubscription&TopicArn={}&Token={token}",
            enc(topic)
        )))
        .await
        .unwrap();
    let header_id = resp.headers()["x-amzn-RequestId"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, doc) = text(resp).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(element(&doc, "RequestId"), header_id);
    assert!(s.cp.sns_deliverable(topic).unwrap().len() == 1);
}

#[tokio::test]
async fn a_refused_signature_is_answered_in_xml() {
    use tower::ServiceExt;
    let app = crate::router(state());
    // The credential's scope names the request's day, as a client's does
    // (a scope of another day is an IncompleteSignature instead).
    let amz_date = crate::sigv4::format_amz_date(time::OffsetDateTime::now_utc().unix_timestamp());
    let post = |auth: Option<&str>| {
        let mut r = axum::http::Request::post("/").header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        if let Some(a) = auth {
            r = r
                .header("authorization", a)
                .header("x-amz-date", amz_date.as_str());
        }
        r.body(axum::body::Body::from(
            "Action=ListTopics&Version=2010-03-31",
        ))
        .unwrap()
    };
    let bad = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/{}/us-west-2/sns/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        &amz_date[..8],
        "0".repeat(64)
    );
    for (auth, code) in [
        (Some(bad.as_str()), "SignatureDoesNotMatch"),
        (None, "MissingAuthenticationToken"),
    ] {
        let (status, doc) = text(app.clone().oneshot(post(auth)).await.unwrap()).await;
        assert_eq!(status, 403, "{doc}");
        assert!(doc.starts_with("<ErrorResponse"), "{doc}");
        assert_eq!(element(&doc, "Code"), code);
    }
}
