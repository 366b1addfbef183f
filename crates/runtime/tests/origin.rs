//! The supervisor keeps the origin store to the packaging resources that exist:
//! a deleted packaging channel or origin endpoint leaves it at the next pass, which
//! the deletion itself triggers, whichever path (in-process or HTTP) filled it.

use control::{ControlPlane, Settings};
use package::origin::{OriginStore, ServeOptions};
use runtime::Runtime;
use serde_json::json;

#[tokio::test]
async fn deleted_packaging_resources_leave_the_origin() {
    let cp = ControlPlane::with_store(control::Store::in_memory().unwrap(), Settings::default());
    let store = OriginStore::default();
    let rt = Runtime::new(cp.clone(), store.clone());
    for id in ["kept", "gone"] {
        cp.create_package_channel("us-east-1", &json!({ "id": id }))
            .unwrap();
        cp.create_origin_endpoint(
            "us-east-1",
            &json!({ "channelId": id, "id": format!("{id}-hls"), "hlsPackage": {} }),
        )
        .unwrap();
    }
    let now = time::OffsetDateTime::now_utc();
    for id in ["kept", "gone"] {
        let eps = cp.packaging_view().unwrap().endpoint_configs(id);
        assert_eq!(eps.len(), 1);
        // What an in-process delivery hands over (the bytes need not decode).
        store.ingest_ts(id, "medialive", "0", &[0x47; 188 * 4], &eps, now);
    }
    rt.reconcile().await;
    assert!(store.has_channel("kept") && store.has_channel("gone"));
    let gone = std::sync::Arc::downgrade(&store.channel("gone").unwrap());

    cp.delete_origin_endpoint("gone-hls").unwrap();
    cp.delete_package_channel("gone").unwrap();
    rt.reconcile().await;
    assert!(!store.has_channel("gone"));
    assert!(
        gone.upgrade().is_none(),
        "the deleted channel is still in memory"
    );
    assert!(store.has_channel("kept"));
    let handle = store.channel("kept").unwrap();
    let options = ServeOptions::default();
    assert!(package::origin::lock_channel(&handle)
        .multivariant("kept-hls", &options, now)
        .is_none());

    assert_eq!(
        package::origin::lock_channel(&handle).endpoint_ids(),
        ["kept-hls"]
    );

    // An endpoint deleted under a channel that stays: the endpoint goes.
    cp.delete_origin_endpoint("kept-hls").unwrap();
    rt.reconcile().await;
    assert!(store.has_channel("kept"));
    assert!(package::origin::lock_channel(&handle)
        .endpoint_ids()
        .is_empty());
    assert_eq!(store.retained_bytes(), 0);
    assert_eq!(store.channel_ids(), ["kept"]);
}
