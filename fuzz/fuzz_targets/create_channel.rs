//! MediaLive CreateChannel validation (model shapes and cross-references) on
//! arbitrary JSON: a 4xx with element paths or a stored channel, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(store) = control::Store::in_memory() else {
        return;
    };
    let cp = control::ControlPlane::with_store(store, control::Settings::default());
    let _ = cp.create_channel("us-east-1", &body);
});
