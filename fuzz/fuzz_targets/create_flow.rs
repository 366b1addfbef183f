//! CreateFlow request validation on arbitrary JSON bodies: a clear error or
//! a stored flow, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(store) = control::Store::in_memory() else {
        return;
    };
    let settings = control::Settings {
        account_id: "123456789012".into(),
        ingest_ip: "127.0.0.1".into(),
        ingest_bind: std::net::IpAddr::from([127, 0, 0, 1]),
        base_url: "http://127.0.0.1:8080".into(),
        ..control::Settings::default()
    };
    let cp = control::ControlPlane::with_store(store, settings);
    let _ = cp.create_flow("us-east-1", &body);
});
