//! The flow state machine with real engines on loopback: the statuses the
//! AWS waiters poll, restart recovery, and an engine that cannot start.

use std::net::UdpSocket;
use std::sync::Arc;

use control::flow::model::FlowStatus;
use control::{ControlError, ControlPlane, Settings};
use package::origin::OriginStore;
use runtime::Runtime;
use serde_json::json;

fn settings() -> Settings {
    Settings {
        account_id: "123456789012".into(),
        ingest_ip: "127.0.0.1".into(),
        ingest_bind: "127.0.0.1".parse().unwrap(),
        rtmp_port: control::DEFAULT_RTMP_PORT,
        base_url: "http://127.0.0.1:8080".into(),
        ..Settings::default()
    }
}

/// A UDP port free right now (and its +2/+4 neighbours, for rtp-fec).
fn free_port() -> u16 {
    for _ in 0..200 {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = s.local_addr().unwrap().port();
        if p < 65000
            && UdpSocket::bind(("127.0.0.1", p + 2)).is_ok()
            && UdpSocket::bind(("127.0.0.1", p + 4)).is_ok()
        {
            return p;
        }
    }
    panic!("no free UDP port triple on loopback");
}

fn create(cp: &ControlPlane, name: &str, port: u16) -> String {
    let body = json!({
        "name": name,
        "source": {"name": "src", "protocol": "rtp", "ingestPort": port},
        "outputs": [{"name": "out", "protocol": "udp", "destination": "127.0.0.1", "port": free_port()}]
    });
    cp.create_flow("us-east-1", &body).unwrap()["flow"]["flowArn"]
        .as_str()
        .unwrap()
        .to_string()
}

fn status(cp: &ControlPlane, arn: &str) -> FlowStatus {
    cp.flow_record(arn).unwrap().flow.status
}

#[tokio::test]
async fn start_stop_delete_follow_the_aws_states() {
    let cp = ControlPlane::with_store(control::Store::in_memory().unwrap(), settings());
    let rt = Runtime::new(cp.clone(), OriginStore::default());
    let arn = create(&cp, "show", free_port());
    assert_eq!(status(&cp, &arn), FlowStatus::Standby);

    let started = cp.start_flow(&arn).unwrap();
    assert_eq!(
        started["status"], "STARTING",
        "StartFlow leaves STANDBY before it answers"
    );
    rt.reconcile().await;
    assert_eq!(status(&cp, &arn), FlowStatus::Active);
    assert!(cp.reports.flow(&arn).is_some());

    let err = cp.delete_flow(&arn).unwrap_err();
    assert!(
        matches!(err, ControlError::BadRequest(ref m) if m.contains("stop it")),
        "{err:?}"
    );

    assert_eq!(cp.stop_flow(&arn).unwrap()["status"], "STOPPING");
    rt.reconcile().await;
    assert_eq!(status(&cp, &arn), FlowStatus::Standby);
    assert!(cp.reports.flow(&arn).is_none());

    assert_eq!(cp.delete_flow(&arn).unwrap()["status"], "DELETING");
    assert_eq!(status(&cp, &arn), FlowStatus::Deleting);
    rt.reconcile().await;
    assert!(matches!(
        cp.flow_record(&arn),
        Err(ControlError::NotFound(_))
    ));
}

#[tokio::test]
async fn restart_brings_every_flow_back_and_restarts_running_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (running, idle);
    {
        let cp: Arc<ControlPlane> = ControlPlane::open(dir.path(), settings()).unwrap();
        let rt = Runtime::new(cp.clone(), OriginStore::default());
        running = create(&cp, "running", free_port());
        idle = create(&cp, "idle", free_port());
        cp.start_flow(&running).unwrap();
        rt.reconcile().await;
        assert_eq!(status(&cp, &running), FlowStatus::Active);
        // Dropped without stopping anything, as a crash would. A real crash
        // closes the sockets with the process; here the aborted engine tasks
        // release them once the runtime gets to run.
        drop(rt);
        drop(cp);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let cp = ControlPlane::open(dir.path(), settings()).unwrap();
    let rt = Runtime::new(cp.clone(), OriginStore::default());
    assert_eq!(cp.flow_records().unwrap().len(), 2);
    rt.reconcile().await;
    assert_eq!(status(&cp, &running), FlowStatus::Active);
    assert!(cp.reports.flow(&running).is_some());
    assert_eq!(status(&cp, &idle), FlowStatus::Standby);
}

#[tokio::test]
async fn a_port_held_elsewhere_puts_the_flow_in_error_with_the_reason() {
    let cp = ControlPlane::with_store(control::Store::in_memory().unwrap(), settings());
    let rt = Runtime::new(cp.clone(), OriginStore::default());
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let arn = create(&cp, "blocked", port);
    cp.start_flow(&arn).unwrap();
    rt.reconcile().await;
    assert_eq!(status(&cp, &arn), FlowStatus::Error);
    let described = cp.describe_flow(&arn).unwrap();
    let errors = described["messages"]["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains(&port.to_string())),
        "messages should name the port: {errors:?}"
    );
    // Stopping an errored flow returns it to STANDBY.
    cp.stop_flow(&arn).unwrap();
    rt.reconcile().await;
    assert_eq!(status(&cp, &arn), FlowStatus::Standby);
}

#[tokio::test]
async fn output_changes_apply_to_a_running_flow() {
    let cp = ControlPlane::with_store(control::Store::in_memory().unwrap(), settings());
    let rt = Runtime::new(cp.clone(), OriginStore::default());
    let arn = create(&cp, "live", free_port());
    cp.start_flow(&arn).unwrap();
    rt.reconcile().await;
    let added = cp
        .add_flow_outputs(&arn, &json!({"outputs": [{"name": "second", "protocol": "rtp", "destination": "127.0.0.1", "port": free_port()}]}))
        .unwrap();
    let out_arn = added["outputs"][0]["outputArn"]
        .as_str()
        .unwrap()
        .to_string();
    rt.reconcile().await;
    assert_eq!(status(&cp, &arn), FlowStatus::Active);
    assert_eq!(cp.reports.flow(&arn).unwrap().outputs.len(), 2);
    cp.remove_flow_output(&arn, &out_arn).unwrap();
    rt.reconcile().await;
    assert_eq!(cp.reports.flow(&arn).unwrap().outputs.len(), 1);
}

#[tokio::test]
async fn fifty_outputs_run_and_a_fifty_first_is_refused() {
    let cp = ControlPlane::with_store(control::Store::in_memory().unwrap(), settings());
    let rt = Runtime::new(cp.clone(), OriginStore::default());
    let outputs: Vec<_> = (0..50)
        .map(|i| json!({"name": format!("out{i}"), "protocol": "udp", "destination": "127.0.0.1", "port": 40000 + i}))
        .collect();
    let body = json!({
        "name": "wide",
        "source": {"name": "src", "protocol": "udp", "ingestPort": free_port()},
        "outputs": outputs,
    });
    let arn = cp.create_flow("us-east-1", &body).unwrap()["flow"]["flowArn"]
        .as_str()
        .unwrap()
        .to_string();
    cp.start_flow(&arn).unwrap();
    rt.reconcile().await;
    assert_eq!(status(&cp, &arn), FlowStatus::Active);
    assert_eq!(cp.reports.flow(&arn).unwrap().outputs.len(), 50);
    let err = cp
        .add_flow_outputs(&arn, &json!({"outputs": [{"name": "one-more", "protocol": "udp", "destination": "127.0.0.1", "port": 41000}]}))
        .unwrap_err();
    assert!(
        matches!(err, ControlError::BadRequest(ref m) if m.contains("50")),
        "{err:?}"
    );
    cp.stop_flow(&arn).unwrap();
    rt.reconcile().await;
}
