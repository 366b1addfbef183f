//! STS (awsQuery, `Version=2011-06-15`): `GetCallerIdentity`, what scripts
//! call to learn the account id (`aws sts get-caller-identity --query
//! Account --output text`).
//!
//! onair has one key pair and no users; the caller is presented as the IAM
//! user [`USER_NAME`] of the server's account:
//!
//! - `Account`: the control plane's account id (every ARN carries it);
//! - `Arn`: `arn:aws:iam::{account}:user/onair`;
//! - `UserId`: `AIDA` and 17 characters derived from the access key id
//!   (SHA-256, base32 letters and digits), so it is the same across restarts
//!   and changes when the key does, as an IAM user's id looks.
//!
//! Other STS actions (AssumeRole, GetSessionToken, …) answer `InvalidAction`:
//! onair issues no temporary credentials.

use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::query::Protocol;
use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The XML namespace of STS answers.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// STS's error shape: awsQuery's `ErrorResponse`.
pub const SHAPE: ErrorShape = PROTOCOL.shape();

const PROTOCOL: Protocol = Protocol {
    namespace: NAMESPACE,
    version: "2011-06-15",
    invalid: "InvalidParameterValue",
    name: "STS",
};

/// The name of the IAM user the caller is presented as.
pub const USER_NAME: &str = "onair";

/// Who GetCallerIdentity says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// The caller holding `access_key_id` in `account`.
pub fn caller(account: &str, access_key_id: &str) -> Caller {
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(access_key_id.as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .filter_map(|b| BASE32.get(usize::from(b & 0x1f)))
        .map(|&c| char::from(c))
        .collect();
    Caller {
        account: account.to_string(),
        arn: format!("arn:aws:iam::{account}:user/{USER_NAME}"),
        user_id: format!("AIDA{tail}"),
    }
}

/// Answers a signed STS call.
pub fn handle(state: &AppState, req: &ApiRequest) -> Result<Response, ApiError> {
    let (action, form) = PROTOCOL.parse(&req.body)?;
    match action.as_str() {
        "GetCallerIdentity" => {
            form.finish(&action).map_err(|e| PROTOCOL.reshape(e))?;
            let who = caller(
                &state.cp.settings.account_id,
                &state.credentials.access_key_id,
            );
            PROTOCOL.answer(
                &action,
                Some(|x: &mut crate::xml::Xml| {
                    x.text("UserId", &who.user_id)?;
                    x.text("Account", &who.account)?;
                    x.text("Arn", &who.arn)
                }),
            )
        }
        other => Err(PROTOCOL.unknown_action(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use axum::response::IntoResponse;

    #[test]
    fn the_caller_is_the_onair_user_of_the_account() {
        let c = caller("111122223333", "AKIAONAIRE2ETEST0001");
        assert_eq!(c.arn, "arn:aws:iam::111122223333:user/onair");
        assert_eq!(c.account, "111122223333");
        assert_eq!(c.user_id.len(), 21);
        assert!(c.user_id.starts_with("AIDA"));
        assert!(c.user_id[4..]
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ('2'..='7').contains(&ch)));
        assert_eq!(caller("111122223333", "AKIAONAIRE2ETEST0001"), c);
        assert_ne!(caller("111122223333", "AKIAOTHER").user_id, c.user_id);
    }

    fn state() -> AppState {
        let cp = control::ControlPlane::with_store(
            control::Store::in_memory().unwrap(),
            control::Settings::default(),
        );
        AppState::standalone(cp, 16)
    }

    fn request(body: &str) -> ApiRequest {
        ApiRequest {
            method: axum::http::Method::POST,
            segments: vec![],
            query: vec![],
            body: bytes::Bytes::from(body.to_string()),
            region: "us-east-1".into(),
            service: "sts".into(),
            target: None,
            content_type: Some("application/x-www-form-urlencoded; charset=utf-8".into()),
            content_encoding: None,
        }
    }

    async fn text(r: Result<Response, ApiError>) -> (u16, String) {
        let resp = r.unwrap_or_else(IntoResponse::into_response);
        let status = resp.status().as_u16();
        let body = to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn get_caller_identity() {
        let s = state();
        let (status, doc) = text(handle(
            &s,
            &request("Action=GetCallerIdentity&Version=2011-06-15"),
        ))
        .await;
        assert_eq!(status, 200, "{doc}");
        assert!(doc.starts_with(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><UserId>AIDA"
        ));
        assert!(doc.contains(
            "<Account>000000000000</Account><Arn>arn:aws:iam::000000000000:user/onair</Arn>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>"
        ));
        let (status, doc) = text(handle(
            &s,
            &request("Action=AssumeRole&Version=2011-06-15&RoleArn=x"),
        ))
        .await;
        assert_eq!(status, 400);
        assert!(doc.contains("<Code>InvalidAction</Code>"), "{doc}");
        assert!(
            doc.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
        );
        let (status, doc) = text(handle(
            &s,
            &request("Action=GetCallerIdentity&Version=2011-06-15&Extra=1"),
        ))
        .await;
        assert_eq!(status, 400);
        assert!(doc.contains("<Code>InvalidParameterValue</Code>"), "{doc}");
        assert!(doc.contains("Extra: onair does not support"), "{doc}");
    }
}
