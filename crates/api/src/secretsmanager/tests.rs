use proptest::strategy::Strategy;
use serde_json::{json, Value};

use super::*;

fn plane() -> std::sync::Arc<ControlPlane> {
    let settings = control::Settings {
        account_id: "111122223333".into(),
        ..control::Settings::default()
    };
    ControlPlane::with_store(control::Store::in_memory().unwrap(), settings)
}

fn call(cp: &ControlPlane, op: &str, body: Value) -> Result<Value> {
    let c = Call {
        cp,
        region: "eu-west-1",
        now_ms: 1_750_000_000_000,
    };
    run(&c, op, &body)
}

/// The error's code and message.
fn fails(cp: &ControlPlane, op: &str, body: Value) -> (&'static str, String) {
    let e = call(cp, op, body).expect_err("the call should fail");
    assert_eq!(e.shape, ErrorShape::AwsJson);
    (e.code, e.message)
}

#[test]
fn the_recipe_s_random_password() {
    let cp = plane();
    let v = call(
        &cp,
        "GetRandomPassword",
        json!({"PasswordLength": 6, "ExcludePunctuation": true, "ExcludeUppercase": true,
               "RequireEachIncludedType": true}),
    )
    .unwrap();
    let p = v["RandomPassword"].as_str().unwrap();
    assert_eq!(p.len(), 6);
    assert!(p
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    let v = call(&cp, "GetRandomPassword", json!({})).unwrap();
    assert_eq!(v["RandomPassword"].as_str().unwrap().len(), 32);
    let v = call(
        &cp,
        "GetRandomPassword",
        json!({"PasswordLength": 40, "ExcludeCharacters": "abcdefghijklmnopqrstuvwxyz",
               "ExcludeNumbers": true, "ExcludePunctuation": true, "IncludeSpace": true}),
    )
    .unwrap();
    let p = v["RandomPassword"].as_str().unwrap();
    assert!(p.chars().all(|c| c.is_ascii_uppercase() || c == ' '), "{p}");
}

#[test]
fn password_errors_are_invalid_parameter() {
    let cp = plane();
    let all_out = json!({"ExcludeLowercase": true, "ExcludeUppercase": true,
                         "ExcludeNumbers": true, "ExcludePunctuation": true});
    let (code, message) = fails(&cp, "GetRandomPassword", all_out);
    assert_eq!(code, "InvalidParameterException");
    assert!(message.contains("every character is excluded"), "{message}");
    for (body, member) in [
        (json!({"PasswordLength": 4097}), "PasswordLength"),
        (json!({"PasswordLength": 0}), "PasswordLength"),
        (json!({"PasswordLength": "6"}), "PasswordLength"),
        (json!({"PasswordLength": 3}), "PasswordLength"),
        (json!({"ExcludeNumbers": "yes"}), "ExcludeNumbers"),
        (json!({"Colour": "red"}), "Colour"),
    ] {
        let (code, message) = fails(&cp, "GetRandomPassword", body.clone());
        assert_eq!(code, "InvalidParameterException", "{body}");
        assert!(message.starts_with(member), "{body}: {message}");
    }
}

#[test]
fn create_read_describe_list_and_delete() {
    let cp = plane();
    let token = "8b704634-3e90-40ff-9b93-29786ce8f3e0";
    let created = call(
        &cp,
        "CreateSecret",
        json!({"Name": "ingest/password", "SecretString": "hunter2", "Description": "encoder",
               "ClientRequestToken": token, "Tags": [{"Key": "team", "Value": "ops"}]}),
    )
    .unwrap();
    let arn = created["ARN"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:secretsmanager:eu-west-1:111122223333:secret:ingest/password-")
    );
    assert_eq!(created["VersionId"], token);
    assert_eq!(created["Name"], "ingest/password");

    let got = call(&cp, "GetSecretValue", json!({"SecretId": arn})).unwrap();
    assert_eq!(got["SecretString"], "hunter2");
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(got["CreatedDate"], json!(1_750_000_000.0));

    let put = call(
        &cp,
        "PutSecretValue",
        json!({"SecretId": "ingest/password", "SecretBinary": "AAEC"}),
    )
    .unwrap();
    let v2 = put["VersionId"].as_str().unwrap().to_string();
    let got = call(
        &cp,
        "GetSecretValue",
        json!({"SecretId": "ingest/password"}),
    )
    .unwrap();
    assert_eq!(got["SecretBinary"], "AAEC");
    assert!(got.get("SecretString").is_none());

    let d = call(
        &cp,
        "DescribeSecret",
        json!({"SecretId": "ingest/password"}),
    )
    .unwrap();
    assert_eq!(d["Description"], "encoder");
    assert_eq!(d["Tags"], json!([{"Key": "team", "Value": "ops"}]));
    assert_eq!(
        d["VersionIdsToStages"],
        json!({token: ["AWSPREVIOUS"], v2.as_str(): ["AWSCURRENT"]})
    );
    assert!(d.get("SecretString").is_none());

    let l = call(&cp, "ListSecrets", json!({})).unwrap();
    assert_eq!(l["SecretList"][0]["ARN"], arn.as_str());
    assert!(l["SecretList"][0]["SecretVersionsToStages"].is_object());
    assert!(!l.to_string().contains("hunter2"));

    let (code, message) = fails(
        &cp,
        "DeleteSecret",
        json!({"SecretId": arn, "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": true}),
    );
    assert_eq!(code, "InvalidParameterException");
    assert!(message.contains("in conjunction"), "{message}");
    let deleted = call(&cp, "DeleteSecret", json!({"SecretId": arn})).unwrap();
    assert_eq!(
        deleted["DeletionDate"],
        json!(1_750_000_000.0 + 30.0 * 86_400.0)
    );
    assert_eq!(
        fails(&cp, "GetSecretValue", json!({"SecretId": arn})).0,
        "InvalidRequestException"
    );
    assert!(call(&cp, "ListSecrets", json!({})).unwrap()["SecretList"]
        .as_array()
        .unwrap()
        .is_empty());
    let l = call(&cp, "ListSecrets", json!({"IncludePlannedDeletion": true})).unwrap();
    assert!(l["SecretList"][0]["DeletedDate"].is_number());
    call(&cp, "RestoreSecret", json!({"SecretId": arn})).unwrap();
    call(
        &cp,
        "DeleteSecret",
        json!({"SecretId": arn, "ForceDeleteWithoutRecovery": true}),
    )
    .unwrap();
    let (code, message) = fails(&cp, "DescribeSecret", json!({"SecretId": arn}));
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, "Secrets Manager can't find the specified secret.");
}

#[test]
fn errors_name_the_member() {
    let cp = plane();
    call(
        &cp,
        "CreateSecret",
        json!({"Name": "s", "SecretString": "v"}),
    )
    .unwrap();
    let cases = [
        (
            "CreateSecret",
            json!({"Name": "s"}),
            "ResourceExistsException",
            "already exists",
        ),
        (
            "CreateSecret",
            json!({"Name": "bad name"}),
            "InvalidParameterException",
            "Name: ",
        ),
        (
            "CreateSecret",
            json!({}),
            "InvalidParameterException",
            "Name: is required",
        ),
        (
            "CreateSecret",
            json!({"Name": "t", "SecretString": "a", "SecretBinary": "AA=="}),
            "InvalidParameterException",
            "SecretString, SecretBinary",
        ),
        (
            "CreateSecret",
            json!({"Name": "t", "KmsKeyId": "k"}),
            "InvalidParameterException",
            "KmsKeyId",
        ),
        (
            "CreateSecret",
            json!({"Name": "t", "AddReplicaRegions": [{"Region": "us-east-1"}]}),
            "InvalidParameterException",
            "AddReplicaRegions",
        ),
        (
            "CreateSecret",
            json!({"Name": "t", "Tags": [{"Key": 1}]}),
            "InvalidParameterException",
            "Tags[0].Key",
        ),
        (
            "GetSecretValue",
            json!({"SecretId": "nope"}),
            "ResourceNotFoundException",
            "can't find",
        ),
        (
            "GetSecretValue",
            json!({}),
            "InvalidParameterException",
            "SecretId: is required",
        ),
        (
            "PutSecretValue",
            json!({"SecretId": "s"}),
            "InvalidParameterException",
            "SecretString, SecretBinary",
        ),
        (
            "PutSecretValue",
            json!({"SecretId": "s", "SecretString": "x", "RotationToken": "t"}),
            "InvalidParameterException",
            "RotationToken",
        ),
        (
            "DeleteSecret",
            json!({"SecretId": "s", "RecoveryWindowInDays": 3}),
            "InvalidParameterException",
            "RecoveryWindowInDays",
        ),
        (
            "ListSecrets",
            json!({"NextToken": "x"}),
            "InvalidNextTokenException",
            "NextToken",
        ),
        (
            "ListSecrets",
            json!({"MaxResults": 0}),
            "InvalidParameterException",
            "'MaxResults'",
        ),
        (
            "ListSecrets",
            json!({"SortBy": "size"}),
            "InvalidParameterException",
            "'SortBy'",
        ),
        (
            "ListSecrets",
            json!({"Filters": [{"Key": "name"}]}),
            "InvalidParameterException",
            "Filters[0].Values",
        ),
        (
            "RotateSecret",
            json!({"SecretId": "s"}),
            "UnknownOperationException",
            "RotateSecret",
        ),
    ];
    for (op, body, code, message) in cases {
        let (got, m) = fails(&cp, op, body.clone());
        assert_eq!(got, code, "{op} {body}: {m}");
        assert!(m.contains(message), "{op} {body}: {m}");
    }
}

#[test]
fn list_secrets_pages_sorts_and_filters() {
    let cp = plane();
    for name in ["b", "c", "a"] {
        call(&cp, "CreateSecret", json!({"Name": name})).unwrap();
    }
    let names = |v: &Value| -> Vec<String> {
        v["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = call(
        &cp,
        "ListSecrets",
        json!({"MaxResults": 2, "SortBy": "name"}),
    )
    .unwrap();
    assert_eq!(names(&first), ["a", "b"]);
    let next = call(
        &cp,
        "ListSecrets",
        json!({"MaxResults": 2, "SortBy": "name", "NextToken": first["NextToken"]}),
    )
    .unwrap();
    assert_eq!(names(&next), ["c"]);
    assert!(next.get("NextToken").is_none());
    let desc = call(
        &cp,
        "ListSecrets",
        json!({"SortBy": "name", "SortOrder": "desc"}),
    )
    .unwrap();
    assert_eq!(names(&desc), ["c", "b", "a"]);
    let filtered = call(
        &cp,
        "ListSecrets",
        json!({"SortBy": "name", "Filters": [{"Key": "name", "Values": ["!b", "a"]}]}),
    )
    .unwrap();
    // "!b" passes c and a, "a" passes a: any value passes.
    assert_eq!(names(&filtered), ["a", "c"]);
}

proptest::proptest! {
    #[test]
    fn no_request_body_panics(
        op in proptest::prelude::any::<u8>(),
        body in proptest::prelude::prop_oneof![
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            "\\{(\"(Name|SecretId|SecretString|SecretBinary|PasswordLength|ExcludeCharacters|RequireEachIncludedType|IncludeSpace|ExcludeLowercase|RecoveryWindowInDays|ForceDeleteWithoutRecovery|Filters|MaxResults|NextToken|VersionStages|Tags|ClientRequestToken)\":(1e308|-1|0|4097|\"x\"|\"AA==\"|\\[\\]|\\{\\}|null|true|\\[\\{\"Key\":\"name\",\"Values\":\\[\"x\"\\]\\}\\]),?){0,6}\\}"
                .prop_map(String::into_bytes),
        ],
    ) {
        let state = crate::AppState::standalone(plane(), 16);
        let mut data = vec![op];
        data.extend(body);
        fuzz_operation(&state, &data);
    }
}
