//! Ingest ports are one namespace across MediaConnect flows and MediaLive
//! push inputs: neither may take a port the other holds.

use control::{ControlError, ControlPlane, Settings};
use serde_json::json;

#[test]
fn flows_and_push_inputs_never_share_a_port() {
    let cp = ControlPlane::with_store(control::Store::in_memory().unwrap(), Settings::default());
    let input = cp
        .create_input("us-east-1", &json!({"name": "cam", "type": "RTP_PUSH"}))
        .unwrap();
    let url = input["input"]["destinations"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();

    let flow = json!({
        "name": "clash",
        "source": {"name": "src", "protocol": "rtp", "ingestPort": port},
    });
    let err = cp.create_flow("us-east-1", &flow).unwrap_err();
    assert!(
        matches!(err, ControlError::BadRequest(ref m) if m.contains(&port.to_string()) && m.contains("MediaLive input 'cam'")),
        "{err:?}"
    );
}
