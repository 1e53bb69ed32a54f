//! Bucket policies, ACLs, PublicAccessBlock and ownership in the domain, over the in-memory
//! stores: what is refused at Put, and what each decision of `authorize` lets through.

use std::sync::Arc;

use tessera_core::access::{AclRequest, ObjectOwnership, PublicAccessBlock};
use tessera_core::accounts::Principal;
use tessera_core::{AccessError, AccessRequest, BucketRecord, Error, MetaStore, Options, Tessera};
use tessera_testing::{MemBlobStore, MemMetaStore};

struct World {
    t: Tessera,
    owner: Arc<Principal>,
    alt: Arc<Principal>,
    alt_account: String,
}

async fn world() -> World {
    let t = Tessera::open(
        Arc::new(MemMetaStore::new()) as Arc<dyn MetaStore>,
        Arc::new(MemBlobStore::new()),
        Options::default(),
    )
    .await
    .unwrap();
    let root = t
        .ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    let (alt, alt_key) = t.create_account("alt", None, None).await.unwrap();
    t.create_bucket("bkt", &root.id).await.unwrap();
    let owner = t
        .authenticate("ROOTKEY0000000000001")
        .await
        .unwrap()
        .principal;
    let alt_p = t
        .authenticate(&alt_key.access_key_id)
        .await
        .unwrap()
        .principal;
    World {
        t,
        owner,
        alt: alt_p,
        alt_account: alt.id,
    }
}

fn req<'a>(action: &'a str, key: Option<&'a str>) -> AccessRequest<'a> {
    AccessRequest {
        action,
        bucket: Some("bkt"),
        key,
        expected_owner: None,
        source_ip: None,
        secure_transport: false,
        conditions: &[],
        upload_id: None,
        version_id: None,
    }
}

async fn bucket(t: &Tessera) -> BucketRecord {
    t.bucket("bkt").await.unwrap()
}

fn allowed(r: Result<Option<BucketRecord>, Error>) -> bool {
    match r {
        Ok(_) => true,
        Err(Error::AccessDenied) => false,
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[tokio::test]
async fn policy_is_checked_at_put_and_grants_across_accounts() {
    let w = world().await;
    let b = bucket(&w.t).await;
    let unknown = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"999999999999"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
    assert!(matches!(
        w.t.put_bucket_policy(&b, unknown, false).await,
        Err(Error::Access(AccessError::MalformedPolicy(m))) if m.contains("Invalid principal")
    ));
    let get = req("s3:GetObject", Some("k"));
    assert!(!allowed(w.t.authorize(Some(&w.alt), &get).await));
    let grant = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
        "Principal":{{"AWS":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}}]}}"#,
        w.alt_account
    );
    w.t.put_bucket_policy(&b, &grant, false).await.unwrap();
    assert!(allowed(w.t.authorize(Some(&w.alt), &get).await));
    assert!(!allowed(
        w.t.authorize(Some(&w.alt), &req("s3:PutObject", Some("k")))
            .await
    ));
    assert!(!allowed(w.t.authorize(None, &get).await));
    assert!(!w.t.bucket_policy_is_public(&bucket(&w.t).await).unwrap());
}

#[tokio::test]
async fn anonymous_by_public_policy_unless_restricted() {
    let w = world().await;
    let b = bucket(&w.t).await;
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
    w.t.put_bucket_policy(&b, public, false).await.unwrap();
    let get = req("s3:GetObject", Some("k"));
    assert!(allowed(w.t.authorize(None, &get).await));
    assert!(w.t.bucket_policy_is_public(&bucket(&w.t).await).unwrap());
    w.t.put_public_access_block(
        "bkt",
        PublicAccessBlock {
            restrict_public_buckets: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!allowed(w.t.authorize(None, &get).await));
    // The owner keeps its access.
    assert!(allowed(w.t.authorize(Some(&w.owner), &get).await));
    // BlockPublicPolicy refuses a public policy at Put.
    w.t.put_public_access_block(
        "bkt",
        PublicAccessBlock {
            block_public_policy: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        w.t.put_bucket_policy(&bucket(&w.t).await, public, false)
            .await,
        Err(Error::Access(AccessError::PublicAccessBlocked(_)))
    ));
}

#[tokio::test]
async fn bucket_acl_grants_and_ownership_turns_them_off() {
    let w = world().await;
    let list = req("s3:ListBucket", None);
    assert!(!allowed(w.t.authorize(Some(&w.alt), &list).await));
    let read = AclRequest {
        canned: None,
        grants: vec![(
            tessera_core::acl::Permission::Read,
            format!("id=\"{}\"", w.alt.account.canonical_id),
        )],
    };
    w.t.put_bucket_acl(&bucket(&w.t).await, &read, None)
        .await
        .unwrap();
    assert!(allowed(w.t.authorize(Some(&w.alt), &list).await));
    assert!(!allowed(w.t.authorize(None, &list).await));
    // BucketOwnerEnforced is refused while the ACL grants to others ...
    assert!(matches!(
        w.t.put_ownership(&bucket(&w.t).await, ObjectOwnership::BucketOwnerEnforced)
            .await,
        Err(Error::Access(
            AccessError::InvalidBucketAclWithObjectOwnership
        ))
    ));
    // ... and once in force, refuses ACLs that grant anything.
    let private = AclRequest {
        canned: Some("private".into()),
        grants: vec![],
    };
    w.t.put_bucket_acl(&bucket(&w.t).await, &private, None)
        .await
        .unwrap();
    w.t.put_ownership(&bucket(&w.t).await, ObjectOwnership::BucketOwnerEnforced)
        .await
        .unwrap();
    let b = bucket(&w.t).await;
    let public = AclRequest {
        canned: Some("public-read".into()),
        grants: vec![],
    };
    assert!(matches!(
        w.t.write_access(&b, Some(&w.owner), &public).await,
        Err(Error::Access(AccessError::AclNotSupported))
    ));
    // Objects belong to the bucket owner whoever writes them.
    let access =
        w.t.write_access(&b, Some(&w.alt), &AclRequest::default())
            .await
            .unwrap();
    assert_eq!(access.owner, w.owner.account.id);
    assert_eq!(access.acl, None);
}

#[tokio::test]
async fn object_writer_owns_its_object() {
    let w = world().await;
    let b = bucket(&w.t).await;
    let access =
        w.t.write_access(&b, Some(&w.alt), &AclRequest::default())
            .await
            .unwrap();
    assert_eq!(access.owner, w.alt_account);
    let preferred = AclRequest {
        canned: Some("bucket-owner-full-control".into()),
        grants: vec![],
    };
    let access =
        w.t.write_access(&b, Some(&w.alt), &preferred)
            .await
            .unwrap();
    assert_eq!(access.owner, w.alt_account, "ObjectWriter keeps the writer");
    assert!(access.acl.is_some(), "the bucket owner's grant is stored");
    w.t.put_ownership(&b, ObjectOwnership::BucketOwnerPreferred)
        .await
        .unwrap();
    let b = bucket(&w.t).await;
    let access =
        w.t.write_access(&b, Some(&w.alt), &preferred)
            .await
            .unwrap();
    assert_eq!(access.owner, w.owner.account.id, "BucketOwnerPreferred");
}
