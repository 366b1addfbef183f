use super::model::*;
use super::*;
use crate::{Settings, Store};

const TRUST: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "medialive.amazonaws.com"},
                   "Action": "sts:AssumeRole"}]
}"#;

const MEDIALIVE: &str = "arn:aws:iam::aws:policy/MediaLiveFullAccess";

fn cp() -> std::sync::Arc<ControlPlane> {
    let settings = Settings {
        account_id: "111122223333".into(),
        ..Settings::default()
    };
    ControlPlane::with_store(Store::in_memory().unwrap(), settings)
}

#[test]
fn a_role_has_aws_s_shape() {
    let cp = cp();
    let mut new = NewRole::new("MediaLiveAccessRole", TRUST);
    new.path = Some("/service-role/".into());
    new.description = Some("for channels".into());
    new.tags = vec![("team".into(), "ops".into())];
    let role = cp.iam_create_role(&new).unwrap();
    assert_eq!(
        role.arn,
        "arn:aws:iam::111122223333:role/service-role/MediaLiveAccessRole"
    );
    assert_eq!(role.role_id.len(), 21);
    assert!(role.role_id.starts_with("AROA"));
    assert!(role.role_id[4..]
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(role.max_session_duration, 3600);
    assert_eq!(role.assume_role_policy_document, TRUST);
    assert_eq!(cp.iam_role("medialiveaccessrole").unwrap(), role);
    assert_eq!(cp.iam_role_by_arn(&role.arn).unwrap().as_ref(), Some(&role));
    // Another account's ARN, or another path, is not this role.
    for other in [
        "arn:aws:iam::000000000000:role/service-role/MediaLiveAccessRole",
        "arn:aws:iam::111122223333:role/MediaLiveAccessRole",
        "arn:aws:iam::111122223333:user/MediaLiveAccessRole",
        "not an arn",
    ] {
        assert_eq!(cp.iam_role_by_arn(other).unwrap(), None, "{other}");
    }
}

#[test]
fn names_are_unique_without_regard_to_case() {
    let cp = cp();
    cp.iam_create_role(&NewRole::new("Ops", TRUST)).unwrap();
    let e = cp.iam_create_role(&NewRole::new("OPS", TRUST)).unwrap_err();
    assert_eq!(
        e,
        IamError::AlreadyExists("Role with name Ops already exists.".into())
    );
    cp.iam_create_role(&NewRole::new("alpha", TRUST)).unwrap();
    cp.iam_create_role(&NewRole::new("Zed", TRUST)).unwrap();
    let names: Vec<String> = cp
        .iam_roles()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["alpha", "Ops", "Zed"]);
}

#[test]
fn a_role_with_policies_cannot_be_deleted() {
    let cp = cp();
    cp.iam_create_role(&NewRole::new("r", TRUST)).unwrap();
    cp.iam_attach_role_policy("r", MEDIALIVE).unwrap();
    // Attaching again changes nothing.
    cp.iam_attach_role_policy("R", MEDIALIVE).unwrap();
    assert_eq!(cp.iam_role("r").unwrap().attached_policies, [MEDIALIVE]);
    assert!(matches!(
        cp.iam_delete_role("r"),
        Err(IamError::DeleteConflict(m)) if m == "Cannot delete entity, must detach all policies first."
    ));
    cp.iam_detach_role_policy("r", MEDIALIVE).unwrap();
    assert_eq!(
        cp.iam_detach_role_policy("r", MEDIALIVE),
        Err(IamError::NoSuchEntity(format!(
            "Policy {MEDIALIVE} was not found."
        )))
    );
    cp.iam_delete_role("r").unwrap();
    assert_eq!(
        cp.iam_delete_role("r"),
        Err(IamError::NoSuchEntity(
            "The role with name r cannot be found.".into()
        ))
    );
    assert!(matches!(
        cp.iam_attach_role_policy("r", MEDIALIVE),
        Err(IamError::NoSuchEntity(_))
    ));
}

#[test]
fn policy_arns() {
    let cp = cp();
    cp.iam_create_role(&NewRole::new("r", TRUST)).unwrap();
    for bad in [
        "arn:aws:s3:::bucket/policy/x",
        "arn:aws:iam::aws:role/MediaLiveFullAccess",
        "arn:aws:iam:us-east-1:aws:policy/X",
        "arn:aws:iam::aws:policy/bad name",
        "not-an-arn-but-long-enough",
    ] {
        assert!(
            matches!(
                cp.iam_attach_role_policy("r", bad),
                Err(IamError::InvalidInput(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        cp.iam_attach_role_policy("r", "arn:aws"),
        Err(IamError::Validation(m)) if m.contains("at 'policyArn'")
    ));
    // Onair has no customer managed policies.
    assert!(matches!(
        cp.iam_attach_role_policy("r", "arn:aws:iam::111122223333:policy/Mine"),
        Err(IamError::NoSuchEntity(_))
    ));
    cp.iam_attach_role_policy("r", "arn:aws:iam::aws:policy/service-role/AWSLambdaRole")
        .unwrap();
    for i in 1..MAX_ATTACHED_POLICIES {
        cp.iam_attach_role_policy("r", &format!("arn:aws:iam::aws:policy/P{i}"))
            .unwrap();
    }
    assert!(matches!(
        cp.iam_attach_role_policy("r", MEDIALIVE),
        Err(IamError::LimitExceeded(_))
    ));
    assert_eq!(
        policy_path("arn:aws:iam::aws:policy/service-role/AWSLambdaRole"),
        "/service-role/"
    );
    assert_eq!(policy_path(MEDIALIVE), "/");
    assert_eq!(policy_name(MEDIALIVE), "MediaLiveFullAccess");
}

fn validation(r: IamResult<()>) -> String {
    match r {
        Err(IamError::Validation(m)) => m,
        other => panic!("expected ValidationError, got {other:?}"),
    }
}

#[test]
fn members_are_checked_against_the_model() {
    assert_eq!(
        validation(check_role_name("bad name")),
        "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    );
    assert!(validation(check_role_name(&"x".repeat(65))).contains("less than or equal to 64"));
    assert!(validation(check_role_name("")).contains("greater than or equal to 1"));
    check_role_name("a+=,.@-_9").unwrap();
    for ok in ["/", "/a/", "/service-role/x/"] {
        check_path(ok).unwrap();
    }
    for bad in ["", "a", "/a", "//", "/a b/"] {
        assert!(validation(check_path(bad)).contains("at 'path'"), "{bad}");
    }
    check_description("café\tcrème").unwrap();
    assert!(validation(check_description("emoji 📺")).contains("at 'description'"));
    let mut new = NewRole::new("r", TRUST);
    new.max_session_duration = Some(60);
    assert!(validation(new.check()).contains("at 'maxSessionDuration'"));
    let tags = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    check_tags(&tags(&[("Event", "Awards 2026"), ("a:b/c", "")])).unwrap();
    assert!(validation(check_tags(&tags(&[("", "v")]))).contains("at 'tags.1.member.key'"));
    assert!(validation(check_tags(&tags(&[("k", "v"), ("k2", "<v>")])))
        .contains("at 'tags.2.member.value'"));
    assert!(matches!(
        check_tags(&tags(&[("Team", "a"), ("team", "b")])),
        Err(IamError::InvalidInput(m)) if m.contains("Duplicate tag keys")
    ));
    assert!(matches!(
        check_tags(&tags(&[("aws:x", "a")])),
        Err(IamError::InvalidInput(_))
    ));
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(validation(check_tags(&many)).contains("at 'tags'"));
}

fn malformed(doc: &str) -> String {
    match check_trust_policy(doc) {
        Err(IamError::MalformedPolicy(m)) => m,
        other => panic!("expected MalformedPolicyDocument for {doc}, got {other:?}"),
    }
}

#[test]
fn trust_policies() {
    check_trust_policy(TRUST).unwrap();
    check_trust_policy(
        r#"{"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": "*"}, "NotAction": "x", "Sid": "1",
            "Condition": {}}, "Id": "p"}"#,
    )
    .unwrap();
    assert!(malformed("{not json")
        .starts_with("AssumeRolePolicyDocument: This policy contains invalid Json"));
    assert!(malformed("[]").contains("invalid Json"));
    assert_eq!(
        malformed("{}"),
        "AssumeRolePolicyDocument: Missing required field Statement"
    );
    assert!(malformed(r#"{"Statement": []}"#).contains("at least one statement"));
    assert!(malformed(r#"{"Version": "2020-01-01", "Statement": []}"#).contains("Version"));
    assert!(malformed(r#"{"Statement": [1]}"#).contains("Statement[0]: is not a JSON object"));
    let statement = |s: &str| format!(r#"{{"Statement": [{s}]}}"#);
    assert_eq!(
        malformed(&statement(
            r#"{"Effect": "Allow", "Action": "sts:AssumeRole"}"#
        )),
        "AssumeRolePolicyDocument: Statement[0]: Missing required field Principal"
    );
    assert!(malformed(&statement(
        r#"{"Effect": "Maybe", "Principal": "*", "Action": "a"}"#
    ))
    .contains("Invalid effect"));
    assert!(
        malformed(&statement(r#"{"Principal": "*", "Action": "a"}"#))
            .contains("Missing required field Effect")
    );
    assert!(
        malformed(&statement(r#"{"Effect": "Allow", "Principal": "*"}"#))
            .contains("Missing required field Action")
    );
    assert!(malformed(&statement(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "a", "Resource": "*"}"#
    ))
    .contains("Has prohibited field Resource"));
    assert!(malformed(&statement(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "a", "Colour": "red"}"#
    ))
    .contains("unknown member 'Colour'"));
    assert!(malformed(r#"{"Statement": [], "Extra": 1}"#).contains("unknown member 'Extra'"));
    assert!(validation(check_trust_policy("")).contains("at 'assumeRolePolicyDocument'"));
    assert!(validation(check_trust_policy("{\u{1}}")).contains("pattern"));
}

#[test]
fn roles_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let role = {
        let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
        let role = cp.iam_create_role(&NewRole::new("kept", TRUST)).unwrap();
        cp.iam_attach_role_policy("kept", MEDIALIVE).unwrap();
        role
    };
    let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
    let again = cp.iam_role("kept").unwrap();
    assert_eq!(again.role_id, role.role_id);
    assert_eq!(again.attached_policies, [MEDIALIVE]);
}

proptest::proptest! {
    #[test]
    fn role_checks_never_panic(
        name in "[a-zA-Z0-9+=,.@_ -]{0,70}",
        path in "[/a-z ]{0,8}",
        doc in "(\\{|\\}|\\[|\\]|\"Statement\"|\"Effect\"|\"Allow\"|\"Principal\"|\"Action\"|:|,|\"x\"|1){0,20}",
        arn in "(arn|:|aws|iam|policy|/|x|role){0,10}",
    ) {
        let mut new = NewRole::new(&name, &doc);
        new.path = Some(path);
        let _ = new.check();
        let _ = check_policy_arn(&arn, "111122223333");
        let _ = role_name_of_arn(&arn);
        let _ = policy_path(&arn);
    }
}
