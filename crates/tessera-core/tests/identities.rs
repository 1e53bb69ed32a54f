//! Accounts and authorization in the domain: the root account, authentication through the
//! cache and the auth epoch (a change made through another handle on the same store, as the
//! admin CLI does, applies at the next lookup), ownership and identity policies.

use std::sync::Arc;

use tessera_core::accounts::KeyStatus;
use tessera_core::{AccessRequest, Error, MetaStore, Options, Tessera};
use tessera_testing::{MemBlobStore, MemMetaStore};

async fn two_handles() -> (Tessera, Tessera) {
    let meta = MemMetaStore::new();
    let blobs = MemBlobStore::new();
    let open = |m: MemMetaStore| {
        let b = blobs.clone();
        async move {
            Tessera::open(
                Arc::new(m) as Arc<dyn MetaStore>,
                Arc::new(b),
                Options::default(),
            )
            .await
            .unwrap()
        }
    };
    (open(meta.clone()).await, open(meta).await)
}

fn req<'a>(action: &'a str, bucket: Option<&'a str>, key: Option<&'a str>) -> AccessRequest<'a> {
    AccessRequest {
        action,
        bucket,
        key,
        expected_owner: None,
        source_ip: None,
        secure_transport: false,
        conditions: &[],
        upload_id: None,
        version_id: None,
    }
}

#[tokio::test]
async fn root_account_follows_the_configured_key() {
    let (server, _) = two_handles().await;
    let root = server
        .ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    assert_eq!(root.name, "root");
    let r = server.authenticate("ROOTKEY0000000000001").await.unwrap();
    assert_eq!(r.secret, "secret-one");
    assert!(r.principal.user.is_none());
    assert_eq!(r.principal.arn(), format!("arn:aws:iam::{}:root", root.id));

    // Started again with another key: same account, the old key stops working.
    let again = server
        .ensure_root_account("ROOTKEY0000000000002", "secret-two")
        .await
        .unwrap();
    assert_eq!(again, root);
    assert!(matches!(
        server.authenticate("ROOTKEY0000000000001").await,
        Err(Error::InvalidAccessKeyId)
    ));
    assert_eq!(
        server
            .authenticate("ROOTKEY0000000000002")
            .await
            .unwrap()
            .secret,
        "secret-two"
    );
    // Same key, new secret.
    server
        .ensure_root_account("ROOTKEY0000000000002", "secret-three")
        .await
        .unwrap();
    assert_eq!(
        server
            .authenticate("ROOTKEY0000000000002")
            .await
            .unwrap()
            .secret,
        "secret-three"
    );
}

#[tokio::test]
async fn changes_by_another_handle_apply_at_the_next_lookup() {
    let (server, cli) = two_handles().await;
    server
        .ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    let (alt, _) = cli.create_account("alt", None, None).await.unwrap();
    cli.create_user(&alt.id, "bob", "/").await.unwrap();
    let key = cli.create_user_key(&alt.id, "bob").await.unwrap();

    let r = server.authenticate(&key.access_key_id).await.unwrap();
    assert_eq!(r.principal.account.id, alt.id);
    assert_eq!(r.principal.user.as_ref().unwrap().name, "bob");
    assert!(r.principal.policies.is_empty());

    // A policy put through the other handle is seen at once.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::*/*"}]}"#;
    cli.put_user_policy(&alt.id, "bob", "ro", doc)
        .await
        .unwrap();
    let r = server.authenticate(&key.access_key_id).await.unwrap();
    assert_eq!(r.principal.policies.len(), 1);

    cli.set_user_key_status(&alt.id, "bob", &key.access_key_id, KeyStatus::Inactive)
        .await
        .unwrap();
    assert!(matches!(
        server.authenticate(&key.access_key_id).await,
        Err(Error::InvalidAccessKeyId)
    ));
    cli.set_user_key_status(&alt.id, "bob", &key.access_key_id, KeyStatus::Active)
        .await
        .unwrap();
    assert!(server.authenticate(&key.access_key_id).await.is_ok());
    cli.delete_user_key(&alt.id, "bob", &key.access_key_id)
        .await
        .unwrap();
    assert!(matches!(
        server.authenticate(&key.access_key_id).await,
        Err(Error::InvalidAccessKeyId)
    ));
    assert!(matches!(
        server.authenticate("AKIANEVERSEEN0000000").await,
        Err(Error::InvalidAccessKeyId)
    ));
}

#[tokio::test]
async fn identity_rules() {
    let (t, _) = two_handles().await;
    t.ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    let (alt, _) = t.create_account("alt", None, None).await.unwrap();
    assert!(matches!(
        t.create_account("alt", None, None).await,
        Err(Error::EntityAlreadyExists(_))
    ));
    assert!(matches!(
        t.create_account("x", None, Some(("short".into(), "s".into())))
            .await,
        Err(Error::IdentityValidation(_))
    ));
    assert!(matches!(
        t.create_user(&alt.id, "bad name", "/").await,
        Err(Error::IdentityValidation(_))
    ));
    t.create_user(&alt.id, "bob", "/").await.unwrap();
    assert!(matches!(
        t.put_user_policy(&alt.id, "bob", "p", r#"{"Statement":"nope"}"#)
            .await,
        Err(Error::MalformedPolicyDocument(_))
    ));
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "b".repeat(2100)
    );
    assert!(matches!(
        t.put_user_policy(&alt.id, "bob", "p", &big).await,
        Err(Error::LimitExceeded(_))
    ));
    assert!(matches!(
        t.delete_user_key(&alt.id, "bob", "AKIANOTBOBS000000000")
            .await,
        Err(Error::NoSuchEntity(_))
    ));
    // An account that owns a bucket cannot be deleted.
    t.create_bucket("alt-bucket", &alt.id).await.unwrap();
    assert!(matches!(
        t.delete_account("alt").await,
        Err(Error::DeleteConflict(_))
    ));
    t.delete_bucket("alt-bucket").await.unwrap();
    t.delete_account(&alt.id).await.unwrap();
    assert!(matches!(
        t.delete_account("root").await,
        Err(Error::DeleteConflict(_))
    ));
}

#[tokio::test]
async fn ownership_and_identity_policies() {
    let (t, _) = two_handles().await;
    let root = t
        .ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    let (alt, alt_key) = t.create_account("alt", None, None).await.unwrap();
    let root_p = t
        .authenticate("ROOTKEY0000000000001")
        .await
        .unwrap()
        .principal;
    let alt_p = t
        .authenticate(&alt_key.access_key_id)
        .await
        .unwrap()
        .principal;

    t.create_bucket("mine", &root.id).await.unwrap();
    assert!(matches!(
        t.create_bucket("mine", &alt.id).await,
        Err(Error::BucketAlreadyExists)
    ));
    // Its owner re-creating it: 200 in us-east-1 (S3's legacy rule), the bucket unchanged.
    let again = t.create_bucket("mine", &root.id).await.unwrap();
    assert_eq!(again.owner, root.id);
    let (listed, _) = t.list_buckets_page(&alt.id, "", None, 100).await.unwrap();
    assert!(listed.is_empty());
    let (listed, _) = t.list_buckets_page(&root.id, "", None, 100).await.unwrap();
    assert_eq!(listed.len(), 1);

    // The owner account's root may do anything; another account nothing.
    let get = req("s3:GetObject", Some("mine"), Some("k"));
    assert!(t.authorize(Some(&root_p), &get).await.unwrap().is_some());
    assert!(matches!(
        t.authorize(Some(&alt_p), &get).await,
        Err(Error::AccessDenied)
    ));
    // CreateBucket of a taken name is left to the operation (BucketAlreadyExists).
    let create = req("s3:CreateBucket", Some("mine"), None);
    assert!(t.authorize(Some(&alt_p), &create).await.is_ok());
    // A missing bucket is left to the operation (NoSuchBucket).
    assert!(t
        .authorize(Some(&alt_p), &req("s3:GetObject", Some("none"), Some("k")))
        .await
        .unwrap()
        .is_none());

    // x-amz-expected-bucket-owner.
    let mut expected = get.clone();
    expected.expected_owner = Some(&root.id);
    assert!(t.authorize(Some(&root_p), &expected).await.is_ok());
    expected.expected_owner = Some(&alt.id);
    assert!(matches!(
        t.authorize(Some(&root_p), &expected).await,
        Err(Error::AccessDenied)
    ));

    // An IAM user of the owner account: only what its policies allow.
    t.create_user(&root.id, "reader", "/").await.unwrap();
    let k = t.create_user_key(&root.id, "reader").await.unwrap();
    let reader = t.authenticate(&k.access_key_id).await.unwrap().principal;
    assert!(matches!(
        t.authorize(Some(&reader), &get).await,
        Err(Error::AccessDenied)
    ));
    let doc = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::mine","arn:aws:s3:::mine/*"]},
        {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::mine/secret/*"}]}"#;
    t.put_user_policy(&root.id, "reader", "ro", doc)
        .await
        .unwrap();
    let reader = t.authenticate(&k.access_key_id).await.unwrap().principal;
    assert!(t.authorize(Some(&reader), &get).await.is_ok());
    assert!(t
        .authorize(Some(&reader), &req("s3:ListBucket", Some("mine"), None))
        .await
        .is_ok());
    assert!(matches!(
        t.authorize(Some(&reader), &req("s3:PutObject", Some("mine"), Some("k")))
            .await,
        Err(Error::AccessDenied)
    ));
    assert!(matches!(
        t.authorize(
            Some(&reader),
            &req("s3:GetObject", Some("mine"), Some("secret/x"))
        )
        .await,
        Err(Error::AccessDenied)
    ));
    assert!(matches!(
        t.authorize(Some(&reader), &req("s3:ListAllMyBuckets", None, None))
            .await,
        Err(Error::AccessDenied)
    ));
}

#[tokio::test]
async fn key_use_is_recorded_at_most_once_a_minute() {
    let (t, _) = two_handles().await;
    let root = t
        .ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    assert!(t
        .note_key_use("ROOTKEY0000000000001", "s3", "eu-west-1")
        .await
        .unwrap());
    assert!(!t
        .note_key_use("ROOTKEY0000000000001", "s3", "eu-west-1")
        .await
        .unwrap());
    let key = t
        .account_key(&root.id, "ROOTKEY0000000000001")
        .await
        .unwrap();
    let used = key.last_used.unwrap();
    assert_eq!(
        (used.service.as_str(), used.region.as_str()),
        ("s3", "eu-west-1")
    );
}
