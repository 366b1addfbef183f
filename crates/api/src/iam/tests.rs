//! The IAM actions inside the process: form in, XML out.

use axum::body::to_bytes;
use axum::http::Method;
use axum::response::IntoResponse;

use super::*;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"medialive.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn state() -> AppState {
    let cp = control::ControlPlane::with_store(
        control::Store::in_memory().unwrap(),
        control::Settings::default(),
    );
    AppState::standalone(cp, 16)
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The status and body of an action, errors answered as the dispatcher does.
async fn call(state: &AppState, body: &str) -> (u16, String) {
    let req = ApiRequest {
        method: Method::POST,
        segments: vec![],
        query: vec![],
        body: bytes::Bytes::from(format!("{body}&Version=2010-05-08")),
        region: "us-west-2".into(),
        service: "iam".into(),
        target: None,
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8".into()),
        content_encoding: None,
    };
    let resp = handle(state, &req)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    let status = resp.status().as_u16();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The text of the first `<name>` element.
fn element<'a>(doc: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = doc
        .find(&open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("no {name} in {doc}"));
    let end = doc[start..].find(&format!("</{name}>")).unwrap() + start;
    &doc[start..end]
}

/// The code of an error document.
fn code(doc: &str) -> &str {
    assert!(
        doc.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"),
        "{doc}"
    );
    element(doc, "Code")
}

async fn create(s: &AppState, name: &str) -> (u16, String) {
    call(
        s,
        &format!(
            "Action=CreateRole&RoleName={name}&AssumeRolePolicyDocument={}",
            enc(TRUST)
        ),
    )
    .await
}

#[tokio::test]
async fn create_get_and_delete_a_role() {
    let s = state();
    let (status, doc) = call(
        &s,
        &format!(
            "Action=CreateRole&RoleName=MediaLiveAccessRole&AssumeRolePolicyDocument={}\
             &Path=%2Fmedia%2F&Description=for+channels&MaxSessionDuration=7200\
             &Tags.member.1.Key=team&Tags.member.1.Value=ops",
            enc(TRUST)
        ),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.starts_with(
        "<CreateRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateRoleResult><Role>"
    ));
    assert_eq!(
        element(&doc, "Arn"),
        "arn:aws:iam::000000000000:role/media/MediaLiveAccessRole"
    );
    assert_eq!(element(&doc, "Path"), "/media/");
    assert!(element(&doc, "RoleId").starts_with("AROA"));
    assert_eq!(element(&doc, "MaxSessionDuration"), "7200");
    assert_eq!(element(&doc, "Description"), "for channels");
    assert!(doc.contains("<Tags><member><Key>team</Key><Value>ops</Value></member></Tags>"));
    // The trust policy goes back URL-encoded, as IAM sends it.
    let policy = element(&doc, "AssumeRolePolicyDocument");
    assert!(
        policy.starts_with("%7B%22Version%22%3A%222012-10-17%22"),
        "{policy}"
    );
    assert_eq!(
        percent_encoding::percent_decode_str(policy)
            .decode_utf8()
            .unwrap(),
        TRUST
    );
    let created = element(&doc, "CreateDate").to_string();
    assert_eq!(created.len(), 20, "{created}");

    let (status, doc) = call(&s, "Action=GetRole&RoleName=medialiveaccessrole").await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(element(&doc, "RoleName"), "MediaLiveAccessRole");
    assert_eq!(element(&doc, "CreateDate"), created);
    assert!(doc.contains("<RoleLastUsed></RoleLastUsed>"), "{doc}");

    let (status, doc) = create(&s, "MEDIALIVEACCESSROLE").await;
    assert_eq!((status, code(&doc)), (409, "EntityAlreadyExists"));
    assert_eq!(
        element(&doc, "Message"),
        "Role with name MediaLiveAccessRole already exists."
    );

    let (status, doc) = call(&s, "Action=DeleteRole&RoleName=MediaLiveAccessRole").await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.starts_with("<DeleteRoleResponse"));
    assert!(!doc.contains("Result"));
    let (status, doc) = call(&s, "Action=GetRole&RoleName=MediaLiveAccessRole").await;
    assert_eq!((status, code(&doc)), (404, "NoSuchEntity"));
    assert_eq!(
        element(&doc, "Message"),
        "The role with name MediaLiveAccessRole cannot be found."
    );
    assert_eq!(element(&doc, "Type"), "Sender");
}

#[tokio::test]
async fn errors_name_the_member() {
    let s = state();
    let cases = [
        (
            "Action=GetRole&RoleName=bad+name",
            400,
            "ValidationError",
            "at 'roleName'",
        ),
        ("Action=GetRole", 400, "ValidationError", "at 'roleName'"),
        (
            "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=%7Bnope",
            400,
            "MalformedPolicyDocument",
            "AssumeRolePolicyDocument: This policy contains invalid Json",
        ),
        (
            "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=%7B%7D",
            400,
            "MalformedPolicyDocument",
            "Missing required field Statement",
        ),
        (
            "Action=ListRoles&MaxItems=0",
            400,
            "ValidationError",
            "at 'maxItems'",
        ),
        (
            "Action=ListRoles&MaxItems=many",
            400,
            "ValidationError",
            "at 'maxItems'",
        ),
        (
            "Action=ListRoles&PathPrefix=x",
            400,
            "ValidationError",
            "at 'pathPrefix'",
        ),
        (
            "Action=ListRoles&Colour=red",
            400,
            "InvalidInput",
            "Colour: onair does not support",
        ),
        (
            "Action=CreateUser&UserName=u",
            400,
            "InvalidAction",
            "'CreateUser'",
        ),
        (
            "Action=AttachRolePolicy&RoleName=r&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX",
            404,
            "NoSuchEntity",
            "The role with name r cannot be found.",
        ),
        (
            "Action=DetachRolePolicy&RoleName=r&PolicyArn=short",
            400,
            "ValidationError",
            "at 'policyArn'",
        ),
    ];
    for (body, status, want, message) in cases {
        let (got, doc) = call(&s, body).await;
        assert_eq!((got, code(&doc)), (status, want), "{body}: {doc}");
        assert!(element(&doc, "Message").contains(message), "{body}: {doc}");
    }
    let (status, doc) = call(
        &s,
        &format!(
            "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument={}&PermissionsBoundary=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX",
            enc(TRUST)
        ),
    )
    .await;
    assert_eq!((status, code(&doc)), (400, "InvalidInput"));
    assert!(doc.contains("PermissionsBoundary"), "{doc}");
}

#[tokio::test]
async fn policies_attach_and_block_deletion() {
    let s = state();
    create(&s, "r").await;
    let arns = [
        "arn:aws:iam::aws:policy/MediaLiveFullAccess",
        "arn:aws:iam::aws:policy/MediaConnectFullAccess",
        "arn:aws:iam::aws:policy/service-role/MediaPackageFullAccess",
    ];
    for arn in arns {
        let (status, doc) = call(
            &s,
            &format!("Action=AttachRolePolicy&RoleName=r&PolicyArn={}", enc(arn)),
        )
        .await;
        assert_eq!(status, 200, "{doc}");
    }
    let (status, doc) = call(&s, "Action=DeleteRole&RoleName=r").await;
    assert_eq!((status, code(&doc)), (409, "DeleteConflict"));
    assert_eq!(
        element(&doc, "Message"),
        "Cannot delete entity, must detach all policies first."
    );
    let (_, doc) = call(&s, "Action=ListAttachedRolePolicies&RoleName=r&MaxItems=2").await;
    assert!(
        doc.contains(
            "<AttachedPolicies><member><PolicyName>MediaLiveFullAccess</PolicyName>\
         <PolicyArn>arn:aws:iam::aws:policy/MediaLiveFullAccess</PolicyArn></member>"
        ),
        "{doc}"
    );
    assert_eq!(element(&doc, "IsTruncated"), "true");
    assert_eq!(element(&doc, "Marker"), "2");
    let (_, doc) = call(&s, "Action=ListAttachedRolePolicies&RoleName=r&Marker=2").await;
    assert_eq!(element(&doc, "PolicyName"), "MediaPackageFullAccess");
    assert_eq!(element(&doc, "IsTruncated"), "false");
    let (_, doc) = call(
        &s,
        "Action=ListAttachedRolePolicies&RoleName=r&PathPrefix=%2Fservice-role%2F",
    )
    .await;
    assert_eq!(doc.matches("<member>").count(), 1, "{doc}");
    let (status, doc) = call(&s, "Action=ListAttachedRolePolicies&RoleName=r&Marker=x").await;
    assert_eq!((status, code(&doc)), (400, "InvalidInput"));
    for arn in arns {
        let (status, doc) = call(
            &s,
            &format!("Action=DetachRolePolicy&RoleName=r&PolicyArn={}", enc(arn)),
        )
        .await;
        assert_eq!(status, 200, "{doc}");
    }
    let (status, doc) = call(
        &s,
        &format!(
            "Action=DetachRolePolicy&RoleName=r&PolicyArn={}",
            enc(arns[0])
        ),
    )
    .await;
    assert_eq!((status, code(&doc)), (404, "NoSuchEntity"));
    let (status, _) = call(&s, "Action=DeleteRole&RoleName=r").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn list_roles_pages_with_a_marker() {
    let s = state();
    for name in ["delta", "Alpha", "charlie", "bravo", "echo"] {
        let (status, doc) = create(&s, name).await;
        assert_eq!(status, 200, "{doc}");
    }
    let names = |doc: &str| -> Vec<String> {
        doc.split("<RoleName>")
            .skip(1)
            .map(|p| p.split('<').next().unwrap().to_string())
            .collect()
    };
    let (_, doc) = call(&s, "Action=ListRoles&MaxItems=2").await;
    assert_eq!(names(&doc), ["Alpha", "bravo"]);
    assert_eq!(element(&doc, "IsTruncated"), "true");
    let marker = element(&doc, "Marker").to_string();
    // A role deleted between pages is not skipped over.
    call(&s, "Action=DeleteRole&RoleName=charlie").await;
    let (_, doc) = call(&s, &format!("Action=ListRoles&MaxItems=2&Marker={marker}")).await;
    assert_eq!(names(&doc), ["delta", "echo"]);
    assert_eq!(element(&doc, "IsTruncated"), "false");
    assert!(!doc.contains("<Marker>"));
    // ListRoles shows no tags and no last use.
    assert!(!doc.contains("RoleLastUsed"));
    let (_, doc) = call(&s, "Action=ListRoles&PathPrefix=%2Fnone%2F").await;
    assert!(doc.contains("<Roles></Roles>"), "{doc}");
}

proptest::proptest! {
    #[test]
    fn no_form_body_panics(data in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::sample::select(b"&=.%+0123456789ARMNPTakmrs{}\"".to_vec()),
            proptest::num::u8::ANY,
        ],
        0..200,
    )) {
        fuzz_action(&state(), &data);
    }

    #[test]
    fn shaped_form_bodies_never_panic(
        action in proptest::prelude::any::<u8>(),
        body in "((RoleName|PolicyArn|Marker|MaxItems|PathPrefix|Path|AssumeRolePolicyDocument|Tags\\.member\\.1\\.Key|Description)=(r|%2F|arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX|0|1001|%7B%7D|-1)&){0,6}",
    ) {
        let mut data = vec![action];
        data.extend_from_slice(body.as_bytes());
        fuzz_action(&state(), &data);
    }
}
