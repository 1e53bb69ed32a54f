//! `handle` over the in-memory backend: each operation's answer and error, as XML and status.

mod common;

use bytes::Bytes;
use common::{root_caller, MemBackend, ROOT_KEY};
use tessera_iam::{handle, Caller};

fn form(service: &str, body: &str) -> http::Request<Bytes> {
    http::Request::post("/")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ROOT_KEY}/20261201/us-east-1/{service}/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature=00"
            ),
        )
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

async fn call_as(b: &MemBackend, caller: &Caller, body: &str) -> (u16, String) {
    let resp = handle(form("iam", body), caller, b).await;
    (
        resp.status().as_u16(),
        String::from_utf8(resp.body().to_vec()).unwrap(),
    )
}

async fn iam(b: &MemBackend, body: &str) -> (u16, String) {
    call_as(b, &root_caller(), &format!("Version=2010-05-08&{body}")).await
}

/// The text of the first `<tag>` element.
fn text<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

#[tokio::test]
async fn user_lifecycle() {
    let b = MemBackend::new();
    let (status, xml) = iam(&b, "Action=CreateUser&UserName=alice&Path=%2Fops%2F").await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains(r#"<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateUserResult><User><Path>/ops/</Path><UserName>alice</UserName>"#), "{xml}");
    assert_eq!(
        text(&xml, "Arn"),
        "arn:aws:iam::123456789012:user/ops/alice"
    );
    assert!(!text(&xml, "RequestId").is_empty());

    let (status, xml) = iam(&b, "Action=CreateUser&UserName=ALICE").await;
    assert_eq!(status, 409, "{xml}");
    assert_eq!(text(&xml, "Code"), "EntityAlreadyExists");
    assert_eq!(text(&xml, "Type"), "Sender");

    let (status, xml) = iam(&b, "Action=GetUser&UserName=alice").await;
    assert_eq!(status, 200);
    assert!(
        xml.contains("<GetUserResult><User><Path>/ops/</Path><UserName>alice</UserName>"),
        "{xml}"
    );

    let (status, xml) = iam(
        &b,
        "Action=UpdateUser&UserName=alice&NewUserName=alicia&NewPath=%2Fdev%2F",
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert!(!xml.contains("UpdateUserResult"), "{xml}");
    let (status, xml) = iam(&b, "Action=GetUser&UserName=alice").await;
    assert_eq!(status, 404);
    assert_eq!(text(&xml, "Code"), "NoSuchEntity");
    assert_eq!(
        text(&xml, "Message"),
        "The user with name alice cannot be found."
    );
    let (_, xml) = iam(&b, "Action=GetUser&UserName=alicia").await;
    assert_eq!(
        text(&xml, "Arn"),
        "arn:aws:iam::123456789012:user/dev/alicia"
    );

    let (status, _) = iam(&b, "Action=DeleteUser&UserName=alicia").await;
    assert_eq!(status, 200);
    let (status, _) = iam(&b, "Action=DeleteUser&UserName=alicia").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn list_users_pages_and_filters_by_path() {
    let b = MemBackend::new();
    for (name, path) in [("a", "/"), ("b", "/ops/"), ("c", "/ops/"), ("d", "/dev/")] {
        let (status, _) = iam(
            &b,
            &format!(
                "Action=CreateUser&UserName={name}&Path={}",
                path.replace('/', "%2F")
            ),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (_, xml) = iam(&b, "Action=ListUsers&MaxItems=2").await;
    assert_eq!(text(&xml, "IsTruncated"), "true");
    assert_eq!(xml.matches("<member>").count(), 2);
    let marker = text(&xml, "Marker").to_owned();
    let (_, xml) = iam(&b, &format!("Action=ListUsers&MaxItems=2&Marker={marker}")).await;
    assert_eq!(text(&xml, "IsTruncated"), "false");
    assert!(!xml.contains("<Marker>"));
    assert_eq!(xml.matches("<member>").count(), 2);
    assert!(xml.contains("<UserName>c</UserName>") && xml.contains("<UserName>d</UserName>"));

    let (_, xml) = iam(&b, "Action=ListUsers&PathPrefix=%2Fops%2F").await;
    assert!(xml.contains("<ListUsersResult><Users><member>"), "{xml}");
    assert_eq!(xml.matches("<member>").count(), 2);
    assert!(!xml.contains("<UserName>a</UserName>"));
}

#[tokio::test]
async fn access_keys_two_at_most_then_limit_exceeded() {
    let b = MemBackend::new();
    iam(&b, "Action=CreateUser&UserName=bob").await;
    let mut ids = vec![];
    for _ in 0..2 {
        let (status, xml) = iam(&b, "Action=CreateAccessKey&UserName=bob").await;
        assert_eq!(status, 200, "{xml}");
        assert!(
            xml.contains("<CreateAccessKeyResult><AccessKey><UserName>bob</UserName><AccessKeyId>"),
            "{xml}"
        );
        assert_eq!(text(&xml, "Status"), "Active");
        let id = text(&xml, "AccessKeyId").to_owned();
        assert_eq!(text(&xml, "SecretAccessKey"), b.secret_of(&id).unwrap());
        ids.push(id);
    }
    let (status, xml) = iam(&b, "Action=CreateAccessKey&UserName=bob").await;
    assert_eq!(status, 409);
    assert_eq!(text(&xml, "Code"), "LimitExceeded");

    let (_, xml) = iam(&b, "Action=ListAccessKeys&UserName=bob").await;
    assert_eq!(xml.matches("<member>").count(), 2);
    assert!(!xml.contains("SecretAccessKey"));
    assert_eq!(text(&xml, "IsTruncated"), "false");

    // Deactivated: the key no longer stands for a caller.
    assert!(b.caller_for_key(&ids[0], "s3", "us-east-1").is_some());
    let (status, _) = iam(
        &b,
        &format!(
            "Action=UpdateAccessKey&UserName=bob&AccessKeyId={}&Status=Inactive",
            ids[0]
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(b.caller_for_key(&ids[0], "s3", "us-east-1").is_none());
    let (_, xml) = iam(&b, "Action=ListAccessKeys&UserName=bob").await;
    assert!(xml.contains("<Status>Inactive</Status>"), "{xml}");

    // Last used: recorded by the signature check above, N/A for a key never used.
    let (status, xml) = iam(
        &b,
        &format!("Action=GetAccessKeyLastUsed&AccessKeyId={}", ids[0]),
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(text(&xml, "UserName"), "bob");
    assert_eq!(text(&xml, "ServiceName"), "s3");
    assert_eq!(text(&xml, "Region"), "us-east-1");
    assert!(xml.contains("<LastUsedDate>"));
    let (_, xml) = iam(
        &b,
        &format!("Action=GetAccessKeyLastUsed&AccessKeyId={}", ids[1]),
    )
    .await;
    assert_eq!(text(&xml, "ServiceName"), "N/A");
    assert!(!xml.contains("<LastUsedDate>"));

    let (status, _) = iam(
        &b,
        &format!("Action=DeleteAccessKey&UserName=bob&AccessKeyId={}", ids[0]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, xml) = iam(
        &b,
        &format!("Action=DeleteAccessKey&UserName=bob&AccessKeyId={}", ids[0]),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(text(&xml, "Code"), "NoSuchEntity");
}

#[tokio::test]
async fn delete_user_conflicts_while_keys_or_policies_remain() {
    let b = MemBackend::new();
    iam(&b, "Action=CreateUser&UserName=carol").await;
    let (_, xml) = iam(&b, "Action=CreateAccessKey&UserName=carol").await;
    let id = text(&xml, "AccessKeyId").to_owned();
    iam(
        &b,
        "Action=PutUserPolicy&UserName=carol&PolicyName=p&PolicyDocument=%7B%7D",
    )
    .await;

    let (status, xml) = iam(&b, "Action=DeleteUser&UserName=carol").await;
    assert_eq!(status, 409);
    assert_eq!(text(&xml, "Code"), "DeleteConflict");
    iam(
        &b,
        &format!("Action=DeleteAccessKey&UserName=carol&AccessKeyId={id}"),
    )
    .await;
    let (status, xml) = iam(&b, "Action=DeleteUser&UserName=carol").await;
    assert_eq!(status, 409);
    assert!(text(&xml, "Message").contains("policies"), "{xml}");
    iam(&b, "Action=DeleteUserPolicy&UserName=carol&PolicyName=p").await;
    let (status, _) = iam(&b, "Action=DeleteUser&UserName=carol").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn inline_policies_round_trip_url_encoded() {
    let b = MemBackend::new();
    iam(&b, "Action=CreateUser&UserName=dan").await;
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let enc: String = form_urlencoded::byte_serialize(doc.as_bytes()).collect();
    let (status, xml) = iam(
        &b,
        &format!("Action=PutUserPolicy&UserName=dan&PolicyName=read&PolicyDocument={enc}"),
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let (status, xml) = iam(&b, "Action=GetUserPolicy&UserName=dan&PolicyName=read").await;
    assert_eq!(status, 200);
    assert_eq!(text(&xml, "UserName"), "dan");
    assert_eq!(text(&xml, "PolicyName"), "read");
    let returned = percent_encoding::percent_decode_str(text(&xml, "PolicyDocument"))
        .decode_utf8()
        .unwrap();
    assert_eq!(returned, doc);

    let (status, xml) = iam(
        &b,
        "Action=PutUserPolicy&UserName=dan&PolicyName=bad&PolicyDocument=not+json",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(text(&xml, "Code"), "MalformedPolicyDocument");
    let (status, _) = iam(
        &b,
        "Action=PutUserPolicy&UserName=nobody&PolicyName=p&PolicyDocument=%7B%7D",
    )
    .await;
    assert_eq!(status, 404);

    iam(
        &b,
        "Action=PutUserPolicy&UserName=dan&PolicyName=write&PolicyDocument=%7B%7D",
    )
    .await;
    let (_, xml) = iam(&b, "Action=ListUserPolicies&UserName=dan&MaxItems=1").await;
    assert!(xml.contains("<ListUserPoliciesResult><PolicyNames><member>read</member></PolicyNames><IsTruncated>true</IsTruncated><Marker>read</Marker>"), "{xml}");
    let (_, xml) = iam(&b, "Action=ListUserPolicies&UserName=dan&Marker=read").await;
    assert!(
        xml.contains(
            "<PolicyNames><member>write</member></PolicyNames><IsTruncated>false</IsTruncated>"
        ),
        "{xml}"
    );

    let (status, _) = iam(&b, "Action=DeleteUserPolicy&UserName=dan&PolicyName=read").await;
    assert_eq!(status, 200);
    let (status, xml) = iam(&b, "Action=GetUserPolicy&UserName=dan&PolicyName=read").await;
    assert_eq!(status, 404, "{xml}");
}

#[tokio::test]
async fn the_caller_is_the_default_subject() {
    let b = MemBackend::new();
    // Root: GetUser without a name is the root, without UserName and Path.
    let (status, xml) = iam(&b, "Action=GetUser").await;
    assert_eq!(status, 200);
    assert!(xml.contains("<User><UserId>123456789012</UserId><Arn>arn:aws:iam::123456789012:root</Arn><CreateDate>"), "{xml}");

    iam(&b, "Action=CreateUser&UserName=erin").await;
    let (_, xml) = iam(&b, "Action=CreateAccessKey&UserName=erin").await;
    let erin = b
        .caller_for_key(text(&xml, "AccessKeyId"), "iam", "us-east-1")
        .unwrap();

    let (status, xml) = call_as(&b, &erin, "Version=2010-05-08&Action=GetUser").await;
    assert_eq!(status, 200);
    assert_eq!(text(&xml, "UserName"), "erin");
    // Self-service key: created for the caller.
    let (status, xml) = call_as(&b, &erin, "Version=2010-05-08&Action=CreateAccessKey").await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(text(&xml, "UserName"), "erin");
    // The backend's AccessDenied is a 403 with its message.
    let (status, xml) = call_as(
        &b,
        &erin,
        "Version=2010-05-08&Action=CreateUser&UserName=mallory",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(text(&xml, "Code"), "AccessDenied");
    assert!(text(&xml, "Message").contains("iam:CreateUser"), "{xml}");

    // STS: the caller's identity, in STS's namespace.
    let resp = handle(
        form("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
        &erin,
        &b,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let xml = std::str::from_utf8(resp.body()).unwrap();
    assert!(xml.contains(r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/erin</Arn>"#), "{xml}");
    assert_eq!(text(xml, "Account"), "123456789012");
    assert_eq!(text(xml, "UserId"), erin.user_id);
}

#[tokio::test]
async fn listings_of_groups_roles_and_providers_are_empty() {
    let b = MemBackend::new();
    iam(&b, "Action=CreateUser&UserName=frank").await;
    let cases = [
        (
            "ListGroups&PathPrefix=%2Fs3-tests%2F",
            "<ListGroupsResult><Groups/><IsTruncated>false</IsTruncated></ListGroupsResult>",
        ),
        (
            "ListRoles&MaxItems=5",
            "<ListRolesResult><Roles/><IsTruncated>false</IsTruncated></ListRolesResult>",
        ),
        (
            "ListOpenIDConnectProviders",
            "<ListOpenIDConnectProvidersResult><OpenIDConnectProviderList/></ListOpenIDConnectProvidersResult>",
        ),
        (
            "ListAttachedUserPolicies&UserName=frank",
            "<ListAttachedUserPoliciesResult><AttachedPolicies/><IsTruncated>false</IsTruncated></ListAttachedUserPoliciesResult>",
        ),
        (
            "ListGroupsForUser&UserName=FRANK",
            "<ListGroupsForUserResult><Groups/><IsTruncated>false</IsTruncated></ListGroupsForUserResult>",
        ),
    ];
    for (action, result) in cases {
        let (status, xml) = iam(&b, &format!("Action={action}")).await;
        assert_eq!(status, 200, "{action}: {xml}");
        assert!(xml.contains(result), "{action}: {xml}");
    }
    // The per-user listings need the user, as GetUser does.
    for action in ["ListAttachedUserPolicies", "ListGroupsForUser"] {
        let (status, xml) = iam(&b, &format!("Action={action}&UserName=nobody")).await;
        assert_eq!(status, 404, "{action}: {xml}");
        assert_eq!(text(&xml, "Code"), "NoSuchEntity");
    }
    // And each is authorized: a user without the right is refused, naming the action.
    let (_, xml) = iam(&b, "Action=CreateAccessKey&UserName=frank").await;
    let frank = b
        .caller_for_key(text(&xml, "AccessKeyId"), "iam", "us-east-1")
        .unwrap();
    for (action, name) in [
        ("ListGroups", "iam:ListGroups"),
        ("ListRoles", "iam:ListRoles"),
        (
            "ListOpenIDConnectProviders",
            "iam:ListOpenIDConnectProviders",
        ),
        (
            "ListAttachedUserPolicies&UserName=frank",
            "iam:ListAttachedUserPolicies",
        ),
        ("ListGroupsForUser&UserName=frank", "iam:ListGroupsForUser"),
    ] {
        let (status, xml) =
            call_as(&b, &frank, &format!("Version=2010-05-08&Action={action}")).await;
        assert_eq!(status, 403, "{action}: {xml}");
        assert_eq!(text(&xml, "Code"), "AccessDenied");
        assert!(text(&xml, "Message").contains(name), "{action}: {xml}");
    }
}

#[tokio::test]
async fn protocol_errors_in_the_apis_xml() {
    let b = MemBackend::new();
    let (status, xml) = iam(&b, "Action=AttachUserPolicy&UserName=a").await;
    assert_eq!(status, 400);
    assert_eq!(text(&xml, "Code"), "InvalidAction");
    let (status, xml) = iam(&b, "Action=CreateUser").await;
    assert_eq!(status, 400);
    assert_eq!(text(&xml, "Code"), "MissingParameter");
    let (status, xml) = iam(&b, "Action=CreateUser&UserName=no%2Fslash").await;
    assert_eq!(status, 400);
    assert_eq!(text(&xml, "Code"), "ValidationError");

    let resp = handle(
        form("sts", "Action=GetSessionToken&Version=2011-06-15"),
        &root_caller(),
        &b,
    )
    .await;
    assert_eq!(resp.status(), 400);
    let xml = std::str::from_utf8(resp.body()).unwrap();
    assert!(xml.contains(r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code>"#), "{xml}");

    // Not signed for iam/sts: handle refuses rather than guess.
    let resp = handle(
        form("s3", "Action=ListUsers&Version=2010-05-08"),
        &root_caller(),
        &b,
    )
    .await;
    assert_eq!(resp.status(), 400);
}
