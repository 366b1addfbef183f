//! IAM actions (awsQuery form bodies) and Secrets Manager operations (JSON
//! bodies) on arbitrary bytes, each input against a fresh in-memory control
//! plane: an answer or an error in the service's shape, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(store) = control::Store::in_memory() else {
        return;
    };
    let cp = control::ControlPlane::with_store(store, control::Settings::default());
    let state = api::AppState::standalone(cp, 16);
    if which & 1 == 0 {
        api::iam::fuzz_action(&state, rest);
    } else {
        api::secretsmanager::fuzz_operation(&state, rest);
    }
});
