use std::sync::Arc;

use super::model::{Protocol, SubscriptionState, Unsubscribed};
use crate::{ControlError, ControlPlane, Settings, Store};

fn cp() -> Arc<ControlPlane> {
    ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default())
}

const HOOK: &str = "http://127.0.0.1:9000/hook";

fn bad(e: ControlError) -> String {
    match e {
        ControlError::BadRequest(m) => m,
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[test]
fn topics_are_per_region_and_creating_again_returns_the_same() {
    let cp = cp();
    let t = cp
        .sns_create_topic("us-west-2", "alarms", None, &[])
        .unwrap();
    assert_eq!(t.arn, "arn:aws:sns:us-west-2:000000000000:alarms");
    let again = cp
        .sns_create_topic("us-west-2", "alarms", None, &[])
        .unwrap();
    assert_eq!(again, t);
    cp.sns_create_topic("eu-west-1", "alarms", Some("EU"), &[])
        .unwrap();
    assert_eq!(cp.sns_topics("us-west-2").unwrap(), vec![t.clone()]);
    assert_eq!(cp.sns_topics("eu-west-1").unwrap()[0].display_name, "EU");
    let e = cp
        .sns_create_topic("us-west-2", "alarms", Some("Other"), &[])
        .unwrap_err();
    assert!(bad(e).starts_with("Attributes: "));
    let e = cp
        .sns_create_topic("us-west-2", "alarms", None, &[("k".into(), "v".into())])
        .unwrap_err();
    assert!(bad(e).starts_with("Tags: "));
    assert!(bad(cp.sns_create_topic("r", "a.fifo", None, &[]).unwrap_err()).contains("FIFO"));
}

#[test]
fn unknown_and_malformed_arns() {
    let cp = cp();
    assert!(matches!(
        cp.sns_topic("arn:aws:sns:r:000000000000:none"),
        Err(ControlError::NotFound(_))
    ));
    assert!(bad(cp.sns_topic("alarms").unwrap_err()).starts_with("TopicArn: "));
    assert!(
        bad(cp.sns_topic("arn:aws:mediaconnect:r:1:flow:x").unwrap_err()).starts_with("TopicArn: ")
    );
    assert!(matches!(
        cp.sns_subscribe(
            "arn:aws:sns:r:000000000000:none",
            Protocol::Http,
            HOOK,
            false
        ),
        Err(ControlError::NotFound(_))
    ));
    assert!(matches!(
        cp.sns_unsubscribe("arn:aws:sns:r:0:t:x", true),
        Err(ControlError::NotFound(_))
    ));
    // Deleting what does not exist is not an error.
    cp.sns_delete_topic("arn:aws:sns:r:000000000000:none")
        .unwrap();
}

#[test]
fn a_subscription_goes_from_pending_to_confirmed_to_unsubscribed() {
    let cp = cp();
    let t = cp.sns_create_topic("r", "alarms", None, &[]).unwrap();
    let s = cp
        .sns_subscribe(&t.arn, Protocol::Http, HOOK, false)
        .unwrap();
    assert!(s.arn.starts_with(&format!("{}:", t.arn)));
    assert_eq!(s.state, SubscriptionState::PendingConfirmation);
    assert!(cp.sns_deliverable(&t.arn).unwrap().is_empty());
    // Subscribing again returns the same pending subscription (its
    // confirmation is sent again by the caller).
    assert_eq!(
        cp.sns_subscribe(&t.arn, Protocol::Http, HOOK, false)
            .unwrap(),
        s
    );
    assert!(bad(cp
        .sns_subscribe(&t.arn, Protocol::Http, HOOK, true)
        .unwrap_err())
    .starts_with("Attributes: "));
    assert!(bad(cp.sns_confirm(&t.arn, "wrong", false, false).unwrap_err()).starts_with("Token: "));

    let c = cp.sns_confirm(&t.arn, &s.token, false, true).unwrap();
    assert!(c.is_confirmed());
    assert!(
        !c.authenticate_on_unsubscribe,
        "only a signed confirmation can ask for it"
    );
    assert_eq!(cp.sns_deliverable(&t.arn).unwrap(), vec![c.clone()]);
    assert_eq!(cp.sns_subscriptions("r").unwrap(), vec![c.clone()]);
    assert!(cp.sns_subscriptions("elsewhere").unwrap().is_empty());

    let (before, outcome) = cp.sns_unsubscribe(&s.arn, false).unwrap();
    assert_eq!((before, outcome), (c.clone(), Unsubscribed::Kept));
    assert!(cp.sns_deliverable(&t.arn).unwrap().is_empty());
    assert!(cp.sns_subscriptions("r").unwrap().is_empty());
    assert!(matches!(
        cp.sns_subscription(&s.arn),
        Err(ControlError::NotFound(_))
    ));
    let counts = cp.sns_subscription_counts(&t.arn).unwrap();
    assert_eq!(
        (counts.confirmed, counts.pending, counts.deleted),
        (0, 0, 1)
    );

    // The token restores it.
    let restored = cp.sns_confirm(&t.arn, &s.token, false, false).unwrap();
    assert_eq!(restored.arn, s.arn);
    assert!(restored.is_confirmed());
}

#[test]
fn restoring_after_a_new_subscription_keeps_the_newer_one() {
    let cp = cp();
    let t = cp.sns_create_topic("r", "alarms", None, &[]).unwrap();
    let old = cp
        .sns_subscribe(&t.arn, Protocol::Http, HOOK, false)
        .unwrap();
    cp.sns_confirm(&t.arn, &old.token, true, false).unwrap();
    cp.sns_unsubscribe(&old.arn, true).unwrap();
    let new = cp
        .sns_subscribe(&t.arn, Protocol::Http, HOOK, false)
        .unwrap();
    assert_ne!(new.arn, old.arn);
    let got = cp.sns_confirm(&t.arn, &old.token, false, false).unwrap();
    assert_eq!(got.arn, new.arn);
    assert_eq!(cp.sns_topic_subscriptions(&t.arn).unwrap().len(), 1);
}

#[test]
fn a_pending_subscription_is_removed_by_unsubscribe() {
    let cp = cp();
    let t = cp.sns_create_topic("r", "alarms", None, &[]).unwrap();
    let s = cp
        .sns_subscribe(&t.arn, Protocol::Https, "https://x.example/h", true)
        .unwrap();
    assert!(s.raw_message_delivery);
    let (_, outcome) = cp.sns_unsubscribe(&s.arn, true).unwrap();
    assert_eq!(outcome, Unsubscribed::Removed);
    assert!(cp.sns_topic_subscriptions(&t.arn).unwrap().is_empty());
}

#[test]
fn deleting_a_topic_deletes_its_subscriptions_only() {
    let cp = cp();
    let a = cp.sns_create_topic("r", "a", None, &[]).unwrap();
    let b = cp.sns_create_topic("r", "b", None, &[]).unwrap();
    cp.sns_subscribe(&a.arn, Protocol::Http, HOOK, false)
        .unwrap();
    let kept = cp
        .sns_subscribe(&b.arn, Protocol::Http, HOOK, false)
        .unwrap();
    cp.sns_delete_topic(&a.arn).unwrap();
    assert!(matches!(
        cp.sns_topic(&a.arn),
        Err(ControlError::NotFound(_))
    ));
    assert_eq!(cp.sns_subscriptions("r").unwrap(), vec![kept]);
}

#[test]
fn attributes_and_tags() {
    let cp = cp();
    let t = cp
        .sns_create_topic("r", "a", None, &[("team".into(), "ops".into())])
        .unwrap();
    cp.sns_set_display_name(&t.arn, "Ops alarms").unwrap();
    cp.sns_tag(
        &t.arn,
        &[("env".into(), "prod".into()), ("team".into(), "noc".into())],
    )
    .unwrap();
    cp.sns_untag(&t.arn, &["env".into(), "absent".into()])
        .unwrap();
    let t = cp.sns_topic(&t.arn).unwrap();
    assert_eq!(t.display_name, "Ops alarms");
    assert_eq!(
        t.tags.into_iter().collect::<Vec<_>>(),
        vec![("team".into(), "noc".into())]
    );
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(bad(cp
        .sns_tag("arn:aws:sns:r:000000000000:a", &many)
        .unwrap_err())
    .starts_with("Tags: "));
    let s = cp
        .sns_subscribe("arn:aws:sns:r:000000000000:a", Protocol::Http, HOOK, false)
        .unwrap();
    cp.sns_set_raw_message_delivery(&s.arn, true).unwrap();
    assert!(cp.sns_subscription(&s.arn).unwrap().raw_message_delivery);
}

#[test]
fn topics_and_subscriptions_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (topic, sub) = {
        let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
        let t = cp.sns_create_topic("r", "alarms", None, &[]).unwrap();
        let s = cp
            .sns_subscribe(&t.arn, Protocol::Http, HOOK, false)
            .unwrap();
        let s = cp.sns_confirm(&t.arn, &s.token, true, false).unwrap();
        (t, s)
    };
    let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
    assert_eq!(cp.sns_topic(&topic.arn).unwrap(), topic);
    assert_eq!(cp.sns_deliverable(&topic.arn).unwrap(), vec![sub]);
}
