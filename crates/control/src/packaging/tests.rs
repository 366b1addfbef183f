use serde_json::json;

use crate::{ControlError, ControlPlane, Settings, Store};

fn cp() -> std::sync::Arc<ControlPlane> {
    ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default())
}

fn bad(e: ControlError) -> String {
    match e {
        ControlError::BadRequest(m) => m,
        other => panic!("expected a bad request, got {other:?}"),
    }
}

fn with_channel() -> std::sync::Arc<ControlPlane> {
    let cp = cp();
    cp.create_package_channel("us-west-2", &json!({"id": "live", "description": "d"}))
        .unwrap();
    cp
}

#[test]
fn channel_has_two_ingest_endpoints_with_credentials() {
    let cp = with_channel();
    let c = cp.describe_package_channel("live").unwrap();
    assert!(c["arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:mediapackage:us-west-2:000000000000:channels/"));
    let eps = c["hlsIngest"]["ingestEndpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 2);
    for e in eps {
        let id = e["id"].as_str().unwrap();
        assert_eq!(
            e["url"].as_str().unwrap(),
            format!(
                "{}/in/v2/live/{id}/channel",
                crate::Settings::default().base_url
            )
        );
        assert_eq!(e["username"].as_str().unwrap().len(), 32);
        assert_eq!(e["password"].as_str().unwrap().len(), 32);
    }
    let arn = c["arn"].as_str().unwrap();
    assert_eq!(crate::arn::Arn::parse(arn).unwrap().service, "mediapackage");
    let dup = cp
        .create_package_channel("us-west-2", &json!({"id": "live"}))
        .unwrap_err();
    assert!(bad(dup).starts_with("id: a channel with id 'live' already exists"));
}

#[test]
fn rotating_changes_only_the_named_endpoint() {
    let cp = with_channel();
    let before = cp.describe_package_channel("live").unwrap();
    let eps = &before["hlsIngest"]["ingestEndpoints"];
    let first = eps[0]["id"].as_str().unwrap();
    let after = cp.rotate_ingest_credentials("live", Some(first)).unwrap();
    let aeps = &after["hlsIngest"]["ingestEndpoints"];
    assert_ne!(aeps[0]["password"], eps[0]["password"]);
    assert_eq!(aeps[1]["password"], eps[1]["password"]);
    assert!(matches!(
        cp.rotate_ingest_credentials("live", Some("nope")),
        Err(ControlError::NotFound(_))
    ));
}

#[test]
fn unknown_member_is_refused_by_name() {
    let cp = cp();
    let e = cp
        .create_package_channel("r", &json!({"id": "a", "colour": "red"}))
        .unwrap_err();
    assert_eq!(bad(e), "colour: onair does not support this member");
    let cp = with_channel();
    let e = cp
        .create_origin_endpoint(
            "r",
            &json!({"channelId": "live", "id": "e", "hlsPackage": {"segmentDurationSecs": 2}}),
        )
        .unwrap_err();
    assert_eq!(
        bad(e),
        "hlsPackage.segmentDurationSecs: onair does not support this member"
    );
}

#[test]
fn endpoint_needs_an_existing_channel() {
    let cp = cp();
    let e = cp
        .create_origin_endpoint(
            "r",
            &json!({"channelId": "ghost", "id": "e", "hlsPackage": {}}),
        )
        .unwrap_err();
    assert_eq!(bad(e), "channelId: no channel with id 'ghost'");
}

#[test]
fn whitelist_must_be_cidr_blocks() {
    let cp = with_channel();
    let e = cp
        .create_origin_endpoint(
            "r",
            &json!({"channelId": "live", "id": "e", "hlsPackage": {},
                    "whitelist": ["10.0.0.0/8", "10.0.0.300/24"]}),
        )
        .unwrap_err();
    assert!(bad(e).starts_with("whitelist[1]: '10.0.0.300/24' is not a valid CIDR block"));
}

#[test]
fn dash_cmaf_mss_and_encryption_are_not_implemented() {
    let cp = with_channel();
    for (member, body) in [
        ("dashPackage", json!({"dashPackage": {}})),
        ("cmafPackage", json!({"cmafPackage": {}})),
        ("mssPackage", json!({"mssPackage": {}})),
        (
            "hlsPackage.encryption",
            json!({"hlsPackage": {"encryption": {}}}),
        ),
        (
            "hlsPackage.adMarkers",
            json!({"hlsPackage": {"adMarkers": "SCTE35_ENHANCED"}}),
        ),
    ] {
        let mut body = body;
        body["channelId"] = json!("live");
        body["id"] = json!("e");
        let msg = bad(cp.create_origin_endpoint("r", &body).unwrap_err());
        assert!(
            msg.starts_with(&format!("{member}: onair does not implement")),
            "{msg}"
        );
    }
}

#[test]
fn recipe_endpoint_and_its_lifecycle() {
    let cp = with_channel();
    let ep = cp
        .create_origin_endpoint(
            "us-west-2",
            &json!({"channelId": "live", "id": "live-hls", "description": "HLS",
                "hlsPackage": {"adMarkers": "NONE", "includeIframeOnlyStream": false,
                    "playlistType": "EVENT", "playlistWindowSeconds": 60,
                    "programDateTimeIntervalSeconds": 0, "segmentDurationSeconds": 6,
                    "streamSelection": {"maxVideoBitsPerSecond": 2147483647,
                        "minVideoBitsPerSecond": 0, "streamOrder": "ORIGINAL"}}}),
        )
        .unwrap();
    assert_eq!(
        ep["url"].as_str().unwrap(),
        format!(
            "{}/out/v1/live/live-hls/index.m3u8",
            crate::Settings::default().base_url
        )
    );
    assert_eq!(ep["hlsPackage"]["playlistType"], "EVENT");
    assert_eq!(ep["origination"], "ALLOW");
    let bad_type = cp
        .update_origin_endpoint("live-hls", &json!({"hlsPackage": {"playlistType": "LIVE"}}))
        .unwrap_err();
    assert_eq!(
        bad(bad_type),
        "hlsPackage.playlistType: 'LIVE' is not one of NONE, EVENT, VOD"
    );
    let up = cp
        .update_origin_endpoint(
            "live-hls",
            &json!({"manifestName": "main", "timeDelaySeconds": 10}),
        )
        .unwrap();
    assert!(up["url"].as_str().unwrap().ends_with("/live-hls/main.m3u8"));
    assert_eq!(up["hlsPackage"]["playlistType"], "EVENT");
    let refused = bad(cp.delete_package_channel("live").unwrap_err());
    assert!(refused.contains("live-hls"), "{refused}");
    let listed = cp.list_origin_endpoints(Some("other"), None, None).unwrap();
    assert_eq!(listed["originEndpoints"].as_array().unwrap().len(), 0);
    cp.delete_origin_endpoint("live-hls").unwrap();
    cp.delete_package_channel("live").unwrap();
    assert!(matches!(
        cp.describe_package_channel("live"),
        Err(ControlError::NotFound(_))
    ));
}

#[test]
fn channels_page_and_tags_change() {
    let cp = cp();
    for i in 0..3 {
        cp.create_package_channel("r", &json!({"id": format!("c{i}"), "tags": {"a": "1"}}))
            .unwrap();
    }
    let p1 = cp.list_package_channels(Some("2"), None).unwrap();
    assert_eq!(p1["channels"].as_array().unwrap().len(), 2);
    let p2 = cp
        .list_package_channels(Some("2"), p1["nextToken"].as_str())
        .unwrap();
    assert_eq!(p2["channels"][0]["id"], "c2");
    assert!(p2.get("nextToken").is_none());
    let arn = p2["channels"][0]["arn"].as_str().unwrap().to_string();
    cp.change_package_tags(&arn, |t| {
        t.insert("b".into(), "2".into());
        t.remove("a");
    })
    .unwrap();
    assert_eq!(
        cp.package_tags(&arn)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("b".to_string(), "2".to_string())]
    );
    assert!(matches!(
        cp.package_tags("arn:aws:mediapackage:r:0:channels/none"),
        Err(ControlError::NotFound(_))
    ));
}

#[test]
fn iframe_stream_and_stream_selection_are_kept() {
    let cp = with_channel();
    let ep = cp
        .create_origin_endpoint(
            "us-west-2",
            &json!({"channelId": "live", "id": "abr",
                "hlsPackage": {"includeIframeOnlyStream": true,
                    "streamSelection": {"minVideoBitsPerSecond": 500000,
                        "streamOrder": "VIDEO_BITRATE_DESCENDING"}}}),
        )
        .unwrap();
    let hls = &ep["hlsPackage"];
    assert_eq!(hls["includeIframeOnlyStream"], true);
    // Members left out of streamSelection take AWS's defaults.
    assert_eq!(
        hls["streamSelection"],
        json!({"minVideoBitsPerSecond": 500000, "maxVideoBitsPerSecond": 2147483647,
            "streamOrder": "VIDEO_BITRATE_DESCENDING"})
    );
    let stored = cp.origin_endpoint("abr").unwrap().endpoint.hls_package;
    assert!(stored.include_iframe_only_stream);
    let err = cp
        .create_origin_endpoint(
            "us-west-2",
            &json!({"channelId": "live", "id": "abr2",
                "hlsPackage": {"streamSelection": {"minVideoBitsPerSecond": 9,
                    "maxVideoBitsPerSecond": 8}}}),
        )
        .unwrap_err();
    assert!(bad(err).contains("minVideoBitsPerSecond (9) is above"));
}
