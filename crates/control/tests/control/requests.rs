//! Numbers from a request are range-checked: out of range is a 400 naming
//! the member, never a wrapped port or a panic, and the next call works.

use control::medialive::LiveError;
use control::{ControlError, ControlPlane, Settings};
use proptest::prelude::*;
use serde_json::{json, Value};

fn cp() -> std::sync::Arc<ControlPlane> {
    ControlPlane::with_store(control::Store::in_memory().unwrap(), Settings::default())
}

fn bad(result: control::Result<Value>) -> String {
    match result {
        Err(ControlError::BadRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

const FEC_PORTS: &str =
    "with protocol rtp-fec the FEC ports ingestPort+2 and ingestPort+4 must be at most 65535";

#[test]
fn create_flow_refuses_fec_ports_past_65535_and_the_next_call_works() {
    let cp = cp();
    for port in [65532, 65535] {
        let body = json!({"name": "f", "source": {"name": "s", "protocol": "rtp-fec", "ingestPort": port}});
        let err = bad(cp.create_flow("us-east-1", &body));
        assert!(
            err.starts_with(&format!("source.ingestPort: {FEC_PORTS}")),
            "{err}"
        );
    }
    for (port, member) in [(0, "source.ingestPort"), (65536, "source.ingestPort")] {
        let body =
            json!({"name": "f", "source": {"name": "s", "protocol": "rtp", "ingestPort": port}});
        let err = bad(cp.create_flow("us-east-1", &body));
        assert_eq!(err, format!("{member}: {port} is out of range (1-65535)"));
    }
    let body = json!({"name": "f", "sources": [
        {"name": "a", "protocol": "rtp", "ingestPort": 5000},
        {"name": "b", "protocol": "rtp-fec", "ingestPort": 65534},
    ]});
    let err = bad(cp.create_flow("us-east-1", &body));
    assert!(
        err.starts_with(&format!("sources[1].ingestPort: {FEC_PORTS}")),
        "{err}"
    );
    let body = json!({"name": "f",
        "source": {"name": "s", "protocol": "rtp", "ingestPort": 5000},
        "outputs": [{"name": "o", "protocol": "rtp-fec", "destination": "127.0.0.1", "port": 65533}]});
    let err = bad(cp.create_flow("us-east-1", &body));
    assert!(
        err.starts_with(
            "outputs[0].port: with protocol rtp-fec the FEC ports port+2 and port+4 must be at most 65535"
        ),
        "{err}"
    );

    let body =
        json!({"name": "f", "source": {"name": "s", "protocol": "rtp-fec", "ingestPort": 65531}});
    let flow = cp.create_flow("us-east-1", &body).unwrap();
    assert_eq!(flow["flow"]["source"]["ingestPort"], 65531);
}

#[test]
fn update_flow_source_to_rtp_fec_at_65535_is_refused_and_the_next_call_works() {
    let cp = cp();
    let body =
        json!({"name": "f", "source": {"name": "s", "protocol": "rtp", "ingestPort": 65535}});
    let flow = cp.create_flow("us-east-1", &body).unwrap();
    let arn = flow["flow"]["flowArn"].as_str().unwrap().to_string();
    let source = flow["flow"]["source"]["sourceArn"]
        .as_str()
        .unwrap()
        .to_string();

    // Only the protocol changes: the kept port is checked with it.
    let err = bad(cp.update_flow_source(&arn, &source, &json!({"protocol": "rtp-fec"})));
    assert_eq!(
        err,
        format!("ingestPort: {FEC_PORTS} (ingestPort is 65535)")
    );
    let described = cp.describe_flow(&arn).unwrap();
    assert_eq!(described["flow"]["source"]["transport"]["protocol"], "rtp");
    assert_eq!(described["flow"]["source"]["ingestPort"], 65535);

    // The write lock was not poisoned: the next calls work.
    let err = bad(cp.update_flow_source(
        &arn,
        &source,
        &json!({"protocol": "rtp-fec", "ingestPort": 65532}),
    ));
    assert!(err.starts_with("ingestPort: with protocol"), "{err}");
    let updated = cp
        .update_flow_source(
            &arn,
            &source,
            &json!({"protocol": "rtp-fec", "ingestPort": 6000}),
        )
        .unwrap();
    assert_eq!(updated["source"]["ingestPort"], 6000);
    cp.start_flow(&arn).unwrap();

    // An output: the same rule on `port`.
    let added = cp
        .add_flow_outputs(
            &arn,
            &json!({"outputs": [{"name": "o", "protocol": "rtp", "destination": "127.0.0.1", "port": 65535}]}),
        )
        .unwrap();
    let output = added["outputs"][0]["outputArn"].as_str().unwrap();
    let err = bad(cp.update_flow_output(&arn, output, &json!({"protocol": "rtp-fec"})));
    assert!(err.starts_with("port: with protocol rtp-fec"), "{err}");
}

#[test]
fn list_tokens_at_the_integer_extremes() {
    let cp = cp();
    for (i, port) in [5000, 5010, 5020].into_iter().enumerate() {
        let body = json!({"name": format!("f{i}"), "source": {"name": "s", "protocol": "rtp", "ingestPort": port}});
        cp.create_flow("us-east-1", &body).unwrap();
    }
    let page = cp.list_flows(Some("2"), None).unwrap();
    assert_eq!(page["flows"].as_array().unwrap().len(), 2);
    assert_eq!(page["nextToken"], "2");
    for token in [
        u64::MAX.to_string(),
        usize::MAX.to_string(),
        "3".to_string(),
    ] {
        let page = cp.list_flows(Some("1000"), Some(&token)).unwrap();
        assert_eq!(page, json!({"flows": []}), "{token}");
        let page = cp
            .list_package_channels(Some("1000"), Some(&token))
            .unwrap();
        assert_eq!(page, json!({"channels": []}), "{token}");
        let page = cp
            .list_origin_endpoints(None, Some("1"), Some(&token))
            .unwrap();
        assert_eq!(page, json!({"originEndpoints": []}), "{token}");
        let page = cp.list_inputs(Some("1000"), Some(&token)).unwrap();
        assert_eq!(page["inputs"], json!([]), "{token}");
        assert!(page.get("nextToken").is_none());
        let page = cp.list_channels(Some("1000"), Some(&token)).unwrap();
        assert_eq!(page["channels"], json!([]), "{token}");
    }
    let err = bad(cp.list_flows(None, Some("18446744073709551616")));
    assert!(err.starts_with("nextToken: "), "{err}");
    let err = bad(cp.list_flows(Some("18446744073709551616"), None));
    assert!(err.starts_with("maxResults: "), "{err}");
    let err = bad(cp.list_inputs(Some("0"), None));
    assert!(err.starts_with("maxResults: "), "{err}");
}

/// A JSON number of any kind serde_json reads: small and huge integers of
/// both signs, fractions and exponents.
fn any_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-70_000i64..70_000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(65535)),
        Just(json!(65531)),
        Just(json!(0)),
        Just(json!(-1)),
    ]
}

/// The JSON pointers of every number in `v`.
fn numbers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Number(_) => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                numbers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                numbers(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// `body` with the `pick`-th of its numbers replaced by `n`.
fn with_number(body: &Value, pick: usize, n: Value) -> Value {
    let mut all = Vec::new();
    numbers(body, String::new(), &mut all);
    let mut out = body.clone();
    if let Some(slot) = out.pointer_mut(&all[pick % all.len()]) {
        *slot = n;
    }
    out
}

fn flow_body() -> Value {
    json!({
        "name": "p",
        "sources": [
            {"name": "a", "protocol": "rtp-fec", "ingestPort": 7000, "maxBitrate": 10_000_000},
            {"name": "b", "protocol": "rtp", "ingestPort": 7010},
        ],
        "sourceFailoverConfig": {"failoverMode": "MERGE", "recoveryWindow": 200},
        "outputs": [{"name": "o", "protocol": "rtp-fec", "destination": "127.0.0.1", "port": 7020}],
    })
}

/// The demo's channel (`onair demo`), on one input.
fn channel_body(input: &str) -> Value {
    json!({
        "name": "c",
        "channelClass": "SINGLE_PIPELINE",
        "inputAttachments": [{"inputAttachmentName": "a", "inputId": input,
            "inputSettings": {"audioSelectors": [{"name": "default"}]}}],
        "destinations": [{"id": "mp", "mediaPackageSettings": [{"channelId": "p"}]}],
        "encoderSettings": {
            "timecodeConfig": {"source": "SYSTEMCLOCK"},
            "audioDescriptions": [{"name": "audio", "audioSelectorName": "default",
                "codecSettings": {"aacSettings": {"bitrate": 128000, "sampleRate": 48000,
                    "codingMode": "CODING_MODE_2_0", "profile": "LC"}}}],
            "videoDescriptions": [{"name": "video", "width": 640, "height": 360,
                "codecSettings": {"h264Settings": {"bitrate": 1200000, "rateControlMode": "CBR",
                    "framerateControl": "SPECIFIED", "framerateNumerator": 25,
                    "framerateDenominator": 1, "gopSize": 2, "gopSizeUnits": "SECONDS",
                    "gopNumBFrames": 0, "profile": "MAIN", "level": "H264_LEVEL_3_1"}}}],
            "outputGroups": [{
                "outputGroupSettings": {"mediaPackageGroupSettings": {"destination": {"destinationRefId": "mp"}}},
                "outputs": [{"outputName": "main", "videoDescriptionName": "video",
                    "audioDescriptionNames": ["audio"],
                    "outputSettings": {"mediaPackageOutputSettings": {}}}]
            }]
        }
    })
}

fn endpoint_body() -> Value {
    json!({"channelId": "p", "id": "e", "startoverWindowSeconds": 0, "timeDelaySeconds": 0,
        "hlsPackage": {"segmentDurationSeconds": 2, "playlistWindowSeconds": 30,
            "programDateTimeIntervalSeconds": 0}})
}

#[test]
fn the_templates_of_the_number_properties_are_valid() {
    let cp = cp();
    cp.create_flow("us-east-1", &flow_body()).unwrap();
    cp.create_package_channel("us-east-1", &json!({"id": "p"}))
        .unwrap();
    cp.create_origin_endpoint("us-east-1", &endpoint_body())
        .unwrap();
    let input = cp
        .create_input("us-east-1", &json!({"name": "i", "type": "UDP_PUSH"}))
        .unwrap();
    let id = input["input"]["id"].as_str().unwrap();
    cp.create_channel("us-east-1", &channel_body(id)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any number in any numeric member of the flow requests: a flow, a 400,
    /// never a panic; and the plane still answers after it.
    #[test]
    fn flow_requests_take_any_number(pick in any::<usize>(), n in any_number()) {
        let cp = cp();
        let ok = cp.create_flow("us-east-1", &json!({"name": "q",
            "source": {"name": "s", "protocol": "rtp", "ingestPort": 65535}})).unwrap();
        let body = with_number(&flow_body(), pick, n.clone());
        match cp.create_flow("us-east-1", &body) {
            Ok(_) | Err(ControlError::BadRequest(_)) => {}
            Err(e) => prop_assert!(false, "{body}: {e:?}"),
        }
        let arn = ok["flow"]["flowArn"].as_str().unwrap().to_string();
        let source = ok["flow"]["source"]["sourceArn"].as_str().unwrap().to_string();
        for update in [
            json!({"protocol": "rtp-fec", "ingestPort": n.clone()}),
            json!({"maxBitrate": n.clone()}),
            json!({"protocol": "rtp-fec"}),
        ] {
            match cp.update_flow_source(&arn, &source, &update) {
                Ok(_) | Err(ControlError::BadRequest(_)) => {}
                Err(e) => prop_assert!(false, "{update}: {e:?}"),
            }
        }
        match cp.update_flow(&arn, &json!({"sourceFailoverConfig": {"recoveryWindow": n.clone()}})) {
            Ok(_) | Err(ControlError::BadRequest(_)) => {}
            Err(e) => prop_assert!(false, "{e:?}"),
        }
        cp.describe_flow(&arn).unwrap();
        cp.stop_flow(&arn).unwrap();
    }

    /// Any number in a MediaPackage endpoint or a MediaLive channel: a 400 or
    /// 422, or a resource; never a panic.
    #[test]
    fn packaging_and_channel_requests_take_any_number(pick in any::<usize>(), n in any_number()) {
        let cp = cp();
        cp.create_package_channel("us-east-1", &json!({"id": "p"})).unwrap();
        let body = with_number(&endpoint_body(), pick, n.clone());
        match cp.create_origin_endpoint("us-east-1", &body) {
            Ok(_) | Err(ControlError::BadRequest(_)) => {}
            Err(e) => prop_assert!(false, "{body}: {e:?}"),
        }

        let input = cp.create_input("us-east-1", &json!({"name": "i", "type": "UDP_PUSH"})).unwrap();
        let id = input["input"]["id"].as_str().unwrap().to_string();
        let body = with_number(&channel_body(&id), pick, n);
        match cp.create_channel("us-east-1", &body) {
            Ok(_) | Err(LiveError::Unprocessable(_)) | Err(LiveError::Control(ControlError::BadRequest(_))) => {}
            Err(e) => prop_assert!(false, "{body}: {e:?}"),
        }
        cp.list_channels(None, None).unwrap();
    }
}
