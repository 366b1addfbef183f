use super::model::*;
use super::*;
use crate::{Settings, Store};

const R: &str = "eu-west-1";
const DAY: i64 = 86_400_000;

fn cp() -> std::sync::Arc<ControlPlane> {
    let settings = Settings {
        account_id: "111122223333".into(),
        ..Settings::default()
    };
    ControlPlane::with_store(Store::in_memory().unwrap(), settings)
}

fn text(s: &str) -> SecretValue {
    SecretValue::string(s).unwrap()
}

fn new(name: &str, value: Option<&str>) -> NewSecret {
    NewSecret {
        name: name.into(),
        value: value.map(text),
        ..NewSecret::default()
    }
}

#[test]
fn arns_and_secret_ids() {
    let cp = cp();
    let (s, v) = cp
        .secrets_create(R, &new("prod/db", Some("pw")), 1)
        .unwrap();
    let suffix = s
        .arn
        .strip_prefix("arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-")
        .unwrap();
    assert_eq!(suffix.len(), 6);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    let partial = s.arn.strip_suffix(&format!("-{suffix}")).unwrap();
    for id in ["prod/db", s.arn.as_str(), partial] {
        let (_, got) = cp.secrets_get_value(R, id, None, None, 2).unwrap();
        assert_eq!(Some(&got.id), v.as_ref(), "{id}");
        assert_eq!(got.stages, [CURRENT]);
    }
    for id in [
        "prod",
        "prod/db-",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod",
    ] {
        assert_eq!(
            cp.secrets_describe(R, id, 2),
            Err(SecretsError::ResourceNotFound(
                "Secrets Manager can't find the specified secret.".into()
            )),
            "{id}"
        );
    }
    // Secrets are regional.
    assert!(matches!(
        cp.secrets_describe("us-east-1", "prod/db", 2),
        Err(SecretsError::ResourceNotFound(_))
    ));
    // The name is taken; a retry with the same token and value is not an error.
    assert!(matches!(
        cp.secrets_create(R, &new("prod/db", Some("pw")), 3),
        Err(SecretsError::ResourceExists(m)) if m.contains("prod/db already exists")
    ));
    let token = "0123456789abcdef0123456789abcdef".to_string();
    let mut retried = new("other", Some("x"));
    retried.token = Some(token.clone());
    let (first, _) = cp.secrets_create(R, &retried, 4).unwrap();
    let (again, id) = cp.secrets_create(R, &retried, 5).unwrap();
    assert_eq!((first.arn, id), (again.arn, Some(token)));
}

#[test]
fn versions_move_their_labels() {
    let cp = cp();
    cp.secrets_create(R, &new("s", None), 1).unwrap();
    assert_eq!(
        cp.secrets_get_value(R, "s", None, None, 1),
        Err(SecretsError::ResourceNotFound(
            "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
                .into()
        ))
    );
    let (_, v1) = cp
        .secrets_put_value(R, "s", None, text("one"), None, 2)
        .unwrap();
    let (_, v2) = cp
        .secrets_put_value(R, "s", None, text("two"), None, 3)
        .unwrap();
    let (s, v3) = cp
        .secrets_put_value(R, "s", None, text("three"), None, 4)
        .unwrap();
    // v1 lost its last label and is gone.
    let stages: Vec<(&str, &[String])> = s
        .versions
        .iter()
        .map(|v| (v.id.as_str(), v.stages.as_slice()))
        .collect();
    assert_eq!(
        stages,
        [
            (v2.id.as_str(), &[PREVIOUS.to_string()][..]),
            (v3.id.as_str(), &[CURRENT.to_string()][..])
        ]
    );
    let (_, prev) = cp
        .secrets_get_value(R, "s", None, Some(PREVIOUS), 5)
        .unwrap();
    assert_eq!(prev.value, text("two"));
    let (_, by_id) = cp.secrets_get_value(R, "s", Some(&v2.id), None, 5).unwrap();
    assert_eq!(by_id.id, v2.id);
    assert!(matches!(
        cp.secrets_get_value(R, "s", Some(&v2.id), Some(CURRENT), 5),
        Err(SecretsError::InvalidRequest(_))
    ));
    assert!(matches!(
        cp.secrets_get_value(R, "s", Some(&v1.id), None, 5),
        Err(SecretsError::ResourceNotFound(_))
    ));
    // A custom label leaves AWSCURRENT where it is.
    let (_, pending) = cp
        .secrets_put_value(R, "s", None, text("next"), Some(vec!["PENDING".into()]), 6)
        .unwrap();
    let (_, current) = cp.secrets_get_value(R, "s", None, None, 7).unwrap();
    assert_eq!(current.value, text("three"));
    assert_eq!(pending.stages, ["PENDING"]);
    // The same token and value is a retry; another value is refused.
    let token = "tok-0123456789abcdef0123456789abcdef";
    cp.secrets_put_value(R, "s", Some(token), text("four"), None, 8)
        .unwrap();
    let (s, again) = cp
        .secrets_put_value(R, "s", Some(token), text("four"), None, 9)
        .unwrap();
    assert_eq!(again.id, token);
    assert_eq!(s.versions.iter().filter(|v| v.id == token).count(), 1);
    assert!(matches!(
        cp.secrets_put_value(R, "s", Some(token), text("five"), None, 10),
        Err(SecretsError::ResourceExists(_))
    ));
}

#[test]
fn deletion_waits_for_its_recovery_window() {
    let cp = cp();
    cp.secrets_create(R, &new("s", Some("v")), 0).unwrap();
    for days in [6, 31] {
        assert!(matches!(
            cp.secrets_delete(R, "s", Deletion::Window(days), 1),
            Err(SecretsError::InvalidParameter(m)) if m.starts_with("RecoveryWindowInDays: ")
        ));
    }
    let s = cp.secrets_delete(R, "s", Deletion::Window(7), 1).unwrap();
    assert_eq!(s.deletion_ms, Some(1 + 7 * DAY));
    // Scheduled: described, listed on request, not read, name still taken.
    assert!(cp.secrets_describe(R, "s", 2).unwrap().scheduled());
    assert!(cp.secrets_list(R, false, &[], 2).unwrap().is_empty());
    assert_eq!(cp.secrets_list(R, true, &[], 2).unwrap().len(), 1);
    for e in [
        cp.secrets_get_value(R, "s", None, None, 2).unwrap_err(),
        cp.secrets_put_value(R, "s", None, text("w"), None, 2)
            .unwrap_err(),
        cp.secrets_delete(R, "s", Deletion::Window(30), 2)
            .unwrap_err(),
    ] {
        assert!(
            matches!(e, SecretsError::InvalidRequest(ref m) if m.contains("marked for deletion")),
            "{e:?}"
        );
    }
    assert!(matches!(
        cp.secrets_create(R, &new("s", Some("v")), 2),
        Err(SecretsError::InvalidRequest(m)) if m.contains("scheduled for deletion")
    ));
    // Restored, then deleted again: gone once the window has passed.
    cp.secrets_restore(R, "s", 3).unwrap();
    cp.secrets_get_value(R, "s", None, None, 3).unwrap();
    cp.secrets_delete(R, "s", Deletion::Window(30), 4).unwrap();
    let after = 4 + 30 * DAY;
    assert!(matches!(
        cp.secrets_describe(R, "s", after),
        Err(SecretsError::ResourceNotFound(_))
    ));
    assert!(cp.secrets_list(R, true, &[], after).unwrap().is_empty());
    let (fresh, _) = cp.secrets_create(R, &new("s", Some("v2")), after).unwrap();
    assert_eq!(cp.store.list::<Secret>(SECRET_KIND).unwrap(), [fresh]);
    // Forced: gone at once.
    cp.secrets_delete(R, "s", Deletion::Force, after).unwrap();
    assert!(matches!(
        cp.secrets_describe(R, "s", after),
        Err(SecretsError::ResourceNotFound(_))
    ));
    assert!(cp.store.list::<Secret>(SECRET_KIND).unwrap().is_empty());
}

#[test]
fn filters() {
    let cp = cp();
    let mut a = new("prod/db", Some("1"));
    a.description = Some("database".into());
    a.tags = vec![("team".into(), "video".into())];
    cp.secrets_create(R, &a, 1).unwrap();
    cp.secrets_create(R, &new("prod/api", Some("2")), 2)
        .unwrap();
    cp.secrets_create(R, &new("dev/db", Some("3")), 3).unwrap();
    let names = |filters: &[(&str, &[&str])]| -> Vec<String> {
        let filters: Vec<Filter> = filters
            .iter()
            .map(|(k, vs)| Filter {
                key: k.to_string(),
                values: vs.iter().map(|v| v.to_string()).collect(),
            })
            .collect();
        cp.secrets_list(R, false, &filters, 4)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    assert_eq!(names(&[]), ["prod/db", "prod/api", "dev/db"]);
    assert_eq!(names(&[("name", &["prod/"])]), ["prod/db", "prod/api"]);
    assert_eq!(names(&[("name", &["!prod/"])]), ["dev/db"]);
    assert_eq!(
        names(&[("name", &["prod/", "dev/"]), ("description", &["data"])]),
        ["prod/db"]
    );
    assert_eq!(names(&[("tag-key", &["te"])]), ["prod/db"]);
    assert_eq!(names(&[("tag-value", &["vid"])]), ["prod/db"]);
    assert_eq!(names(&[("all", &["video"])]), ["prod/db"]);
    assert!(names(&[("primary-region", &["eu-west-1"])]).is_empty());
    assert!(matches!(
        cp.secrets_list(R, false, &[Filter { key: "colour".into(), values: vec![] }], 4),
        Err(SecretsError::InvalidParameter(m)) if m.starts_with("Filters: ")
    ));
}

#[test]
fn members_are_checked() {
    for bad in ["", "has space", "ünï", &"x".repeat(513)] {
        assert!(check_name(bad).is_err(), "{bad}");
    }
    check_name("a/b_c+d=e.f@g-h").unwrap();
    assert!(SecretValue::string("").is_err());
    assert!(SecretValue::string(&"x".repeat(65537)).is_err());
    assert!(SecretValue::binary("not base64!").is_err());
    assert!(SecretValue::binary("").is_err());
    assert_eq!(
        SecretValue::binary("AAEC").unwrap(),
        SecretValue::Binary("AAEC".into())
    );
    assert!(check_token("short").is_err());
    assert!(check_stages(&[]).is_err());
    assert!(check_tags(&[("k".into(), "a".into()), ("k".into(), "b".into())]).is_err());
    assert!(check_tags(&[("aws:k".into(), "a".into())]).is_err());
    assert!(check_description(&"d".repeat(2049)).is_err());
}

#[test]
fn values_never_show_in_debug_output() {
    let cp = cp();
    let (s, _) = cp
        .secrets_create(R, &new("s", Some("hunter2-very-secret")), 1)
        .unwrap();
    let printed = format!("{s:?} {:?}", SecretValue::binary("aHVudGVyMg==").unwrap());
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(!printed.contains("aHVudGVyMg"), "{printed}");
    assert!(printed.contains("SecretString(<19 bytes>)"), "{printed}");
}

#[test]
fn secrets_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
        cp.secrets_create(R, &new("kept", Some("v")), 1).unwrap();
        cp.secrets_put_value(R, "kept", None, text("v2"), None, 2)
            .unwrap();
    }
    let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
    let (_, v) = cp.secrets_get_value(R, "kept", None, None, 3).unwrap();
    assert_eq!(v.value, text("v2"));
}
