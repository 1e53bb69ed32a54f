//! ACLs on the wire: [`tessera_core::acl::Acl`] to and from s3s's `AccessControlPolicy`, and
//! the `x-amz-grant-*` fields of the write inputs.
//!
//! s3s 0.14.1 reads and writes the `xsi:type` attribute of `<Grantee>` itself (checked by
//! the tests below), so no XML text is patched here.

use s3s::dto;
use tessera_core::acl::{Acl, AclError, Grant, Grantee, Group, Permission};

/// The policy GetBucketAcl / GetObjectAcl answer. `display_name` gives an account's
/// display name from its canonical id (left out when `None`).
pub(crate) fn to_dto(
    acl: &Acl,
    display_name: impl Fn(&str) -> Option<String>,
) -> dto::AccessControlPolicy {
    // Group grants first, as ceph/s3-tests expects (S3 documents no order).
    let mut ordered: Vec<&Grant> = acl.grants.iter().collect();
    ordered.sort_by_key(|g| !matches!(g.grantee, Grantee::Group(_)));
    let grants = ordered
        .into_iter()
        .map(|g| dto::Grant {
            grantee: Some(grantee_dto(&g.grantee, &display_name)),
            permission: Some(dto::Permission::from_static(g.permission.as_str())),
        })
        .collect();
    dto::AccessControlPolicy {
        grants: Some(grants),
        owner: Some(dto::Owner {
            display_name: display_name(&acl.owner),
            id: Some(acl.owner.clone()),
        }),
    }
}

fn grantee_dto(grantee: &Grantee, display_name: &impl Fn(&str) -> Option<String>) -> dto::Grantee {
    let empty = |type_: &'static str| dto::Grantee {
        display_name: None,
        email_address: None,
        id: None,
        type_: dto::Type::from_static(type_),
        uri: None,
    };
    match grantee {
        Grantee::CanonicalUser { id } => dto::Grantee {
            display_name: display_name(id),
            id: Some(id.clone()),
            ..empty(dto::Type::CANONICAL_USER)
        },
        // Stored ACLs hold no emails (they are resolved first); shown as sent, should one stay.
        Grantee::Email(email) => dto::Grantee {
            email_address: Some(email.clone()),
            ..empty(dto::Type::AMAZON_CUSTOMER_BY_EMAIL)
        },
        Grantee::Group(group) => dto::Grantee {
            uri: Some(group.uri().to_owned()),
            ..empty(dto::Type::GROUP)
        },
    }
}

/// The owner id in a PutBucketAcl / PutObjectAcl body (if it has one) and its grants, in
/// order. Missing or unknown pieces are [`AclError::Malformed`]; an unknown group URI is
/// [`AclError::InvalidArgument`] (S3's "Invalid group uri").
pub(crate) fn from_dto(
    policy: &dto::AccessControlPolicy,
) -> Result<(Option<String>, Vec<Grant>), AclError> {
    let malformed = |why: &str| AclError::Malformed(why.to_owned());
    let owner = match &policy.owner {
        None => None,
        Some(owner) => Some(
            owner
                .id
                .clone()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| malformed("Owner without ID"))?,
        ),
    };
    let list = policy
        .grants
        .as_ref()
        .ok_or_else(|| malformed("no AccessControlList"))?;
    let mut grants = Vec::with_capacity(list.len());
    for g in list {
        let grantee = g
            .grantee
            .as_ref()
            .ok_or_else(|| malformed("Grant without Grantee"))?;
        let permission = g
            .permission
            .as_ref()
            .ok_or_else(|| malformed("Grant without Permission"))?;
        let permission = Permission::parse(permission.as_str())
            .ok_or_else(|| malformed("unknown Permission"))?;
        let non_empty = |v: &Option<String>, why: &str| {
            v.clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| malformed(why))
        };
        let grantee = match grantee.type_.as_str() {
            dto::Type::CANONICAL_USER => Grantee::CanonicalUser {
                id: non_empty(&grantee.id, "CanonicalUser grantee without ID")?,
            },
            dto::Type::AMAZON_CUSTOMER_BY_EMAIL => Grantee::Email(non_empty(
                &grantee.email_address,
                "AmazonCustomerByEmail grantee without EmailAddress",
            )?),
            dto::Type::GROUP => {
                let uri = non_empty(&grantee.uri, "Group grantee without URI")?;
                let group = Group::from_uri(&uri).ok_or_else(|| {
                    AclError::InvalidArgument(format!("Invalid group uri: {uri}"))
                })?;
                Grantee::Group(group)
            }
            _ => return Err(malformed("unknown Grantee type")),
        };
        grants.push(Grant {
            grantee,
            permission,
        });
    }
    Ok((owner, grants))
}

/// The `x-amz-grant-*` values a request sent, for [`Acl::from_grant_headers`]. Takes the
/// inputs' `grant_full_control`, `grant_read`, `grant_read_acp`, `grant_write`,
/// `grant_write_acp` (as `Option<&str>`, via `as_deref()`).
pub(crate) fn grant_headers<'a>(
    full_control: Option<&'a str>,
    read: Option<&'a str>,
    read_acp: Option<&'a str>,
    write: Option<&'a str>,
    write_acp: Option<&'a str>,
) -> Vec<(Permission, &'a str)> {
    [
        // S3 documents no order; ceph/s3-tests expects this one.
        (Permission::Read, read),
        (Permission::Write, write),
        (Permission::ReadAcp, read_acp),
        (Permission::WriteAcp, write_acp),
        (Permission::FullControl, full_control),
    ]
    .into_iter()
    .filter_map(|(p, v)| v.map(|v| (p, v)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::xml;
    use tessera_core::acl::CannedAcl;

    const OWNER: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
    const OTHER: &str = "a1b2c3";

    fn names(id: &str) -> Option<String> {
        (id == OWNER).then(|| "owner-name".to_owned())
    }

    fn parse_policy(body: &str) -> dto::AccessControlPolicy {
        let mut d = xml::Deserializer::new(body.as_bytes());
        let p = <dto::AccessControlPolicy as xml::Deserialize<'_>>::deserialize(&mut d).unwrap();
        d.expect_eof().unwrap();
        p
    }

    fn serialize<T: xml::Serialize>(v: &T) -> String {
        let mut buf = Vec::new();
        let mut s = xml::Serializer::new(&mut buf);
        s.decl().unwrap();
        v.serialize(&mut s).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// A PutBucketAcl body as botocore serializes it (one line in the wire form).
    const BOTO3_BODY: &str = concat!(
        r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
        "<AccessControlList>",
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">",
        "<DisplayName>owner-name</DisplayName>",
        "<ID>79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be</ID>",
        "</Grantee><Permission>FULL_CONTROL</Permission></Grant>",
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">",
        "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>",
        "</Grantee><Permission>READ</Permission></Grant>",
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"AmazonCustomerByEmail\">",
        "<EmailAddress>a@b.com</EmailAddress>",
        "</Grantee><Permission>WRITE_ACP</Permission></Grant>",
        "</AccessControlList>",
        "<Owner><DisplayName>owner-name</DisplayName>",
        "<ID>79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be</ID></Owner>",
        "</AccessControlPolicy>",
    );

    #[test]
    fn s3s_reads_the_xsi_type_boto3_sends() {
        let policy = parse_policy(BOTO3_BODY);
        let grants = policy.grants.as_ref().unwrap();
        let types: Vec<&str> = grants
            .iter()
            .map(|g| g.grantee.as_ref().unwrap().type_.as_str())
            .collect();
        assert_eq!(types, ["CanonicalUser", "Group", "AmazonCustomerByEmail"]);
        let (owner, grants) = from_dto(&policy).unwrap();
        assert_eq!(owner.as_deref(), Some(OWNER));
        assert_eq!(
            grants,
            vec![
                Grant::canonical(OWNER, Permission::FullControl),
                Grant::group(Group::AllUsers, Permission::Read),
                Grant {
                    grantee: Grantee::Email("a@b.com".into()),
                    permission: Permission::WriteAcp
                },
            ]
        );
    }

    #[test]
    fn s3s_reads_pretty_printed_bodies_without_namespace() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<AccessControlPolicy>
  <Owner><ID>o</ID></Owner>
  <AccessControlList>
    <Grant>
      <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">
        <ID>x</ID>
      </Grantee>
      <Permission>READ</Permission>
    </Grant>
  </AccessControlList>
</AccessControlPolicy>"#;
        let (owner, grants) = from_dto(&parse_policy(body)).unwrap();
        assert_eq!(owner.as_deref(), Some("o"));
        assert_eq!(grants, vec![Grant::canonical("x", Permission::Read)]);
    }

    #[test]
    fn an_empty_access_control_list_is_no_grants() {
        let body = "<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList/></AccessControlPolicy>";
        assert_eq!(
            from_dto(&parse_policy(body)).unwrap(),
            (Some("o".to_owned()), vec![])
        );
        let body = "<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList></AccessControlList></AccessControlPolicy>";
        assert_eq!(
            from_dto(&parse_policy(body)).unwrap(),
            (Some("o".to_owned()), vec![])
        );
    }

    /// What s3s 0.14.1 does not accept, for the record: a Grantee without `xsi:type`, and the
    /// type under a namespace prefix other than `xsi` (it matches the literal `xsi:type`).
    #[test]
    fn s3s_limits_on_grantee_type() {
        let without_type = "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>";
        let other_prefix = "<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" i:type=\"CanonicalUser\"><ID>x</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>";
        for body in [without_type, other_prefix] {
            let mut d = xml::Deserializer::new(body.as_bytes());
            assert!(
                <dto::AccessControlPolicy as xml::Deserialize<'_>>::deserialize(&mut d).is_err()
            );
        }
    }

    #[test]
    fn get_acl_output_carries_xsi_type() {
        let acl = Acl::from_canned(CannedAcl::PublicRead, OWNER, OWNER);
        let policy = to_dto(&acl, names);
        let out = dto::GetBucketAclOutput {
            grants: policy.grants.clone(),
            owner: policy.owner.clone(),
        };
        let xml = serialize(&out);
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#), "{xml}");
        assert!(xml.contains(concat!(
            r#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">"#,
            "<DisplayName>owner-name</DisplayName><ID>79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be</ID></Grantee>",
            "<Permission>FULL_CONTROL</Permission>"
        )), "{xml}");
        assert!(xml.contains(concat!(
            r#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">"#,
            "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission>"
        )), "{xml}");
        assert!(
            xml.contains(&format!(
                "<Owner><DisplayName>owner-name</DisplayName><ID>{OWNER}</ID></Owner>"
            )),
            "{xml}"
        );

        let obj = dto::GetObjectAclOutput {
            grants: policy.grants,
            owner: policy.owner,
            request_charged: None,
        };
        assert!(serialize(&obj).contains(r#"xsi:type="CanonicalUser""#));
    }

    #[test]
    fn to_dto_shapes() {
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![
                Grant::canonical(OTHER, Permission::Read),
                Grant::group(Group::LogDelivery, Permission::Write),
                Grant {
                    grantee: Grantee::Email("a@b.com".into()),
                    permission: Permission::ReadAcp,
                },
            ],
        };
        let p = to_dto(&acl, names);
        let owner = p.owner.unwrap();
        assert_eq!(owner.id.as_deref(), Some(OWNER));
        assert_eq!(owner.display_name.as_deref(), Some("owner-name"));
        // Group grants come first; the others keep their order.
        let grants = p.grants.unwrap();
        let g0 = grants[0].grantee.as_ref().unwrap();
        assert_eq!(g0.type_.as_str(), "Group");
        assert_eq!(
            g0.uri.as_deref(),
            Some("http://acs.amazonaws.com/groups/s3/LogDelivery")
        );
        assert_eq!(g0.id, None);
        let g1 = grants[1].grantee.as_ref().unwrap();
        assert_eq!(g1.type_.as_str(), "CanonicalUser");
        assert_eq!(g1.id.as_deref(), Some(OTHER));
        assert_eq!(g1.display_name, None);
        assert_eq!(grants[1].permission.as_ref().unwrap().as_str(), "READ");
        let g2 = grants[2].grantee.as_ref().unwrap();
        assert_eq!(g2.type_.as_str(), "AmazonCustomerByEmail");
        assert_eq!(g2.email_address.as_deref(), Some("a@b.com"));
    }

    #[test]
    fn dto_round_trip_through_xml() {
        let acl = Acl::from_canned(CannedAcl::LogDeliveryWrite, OWNER, OWNER);
        let xml = serialize(&to_dto(&acl, names));
        let (owner, grants) = from_dto(&parse_policy(&xml)).unwrap();
        assert_eq!(owner.as_deref(), Some(OWNER));
        assert_eq!(grants, acl.grants);
    }

    fn policy_with(
        grantee: Option<dto::Grantee>,
        permission: Option<&'static str>,
    ) -> dto::AccessControlPolicy {
        dto::AccessControlPolicy {
            grants: Some(vec![dto::Grant {
                grantee,
                permission: permission.map(dto::Permission::from_static),
            }]),
            owner: None,
        }
    }

    fn grantee(type_: &'static str) -> dto::Grantee {
        dto::Grantee {
            display_name: None,
            email_address: None,
            id: None,
            type_: dto::Type::from_static(type_),
            uri: None,
        }
    }

    #[test]
    fn from_dto_rejects_incomplete_grants() {
        let malformed = |p: dto::AccessControlPolicy| {
            let err = from_dto(&p).unwrap_err();
            assert!(matches!(err, AclError::Malformed(_)), "{err:?}");
            assert_eq!(err.s3_code(), "MalformedACLError");
        };
        malformed(dto::AccessControlPolicy::default());
        malformed(policy_with(None, Some("READ")));
        malformed(policy_with(Some(grantee("CanonicalUser")), None));
        malformed(policy_with(Some(grantee("CanonicalUser")), Some("READ")));
        malformed(policy_with(
            Some(dto::Grantee {
                id: Some(String::new()),
                ..grantee("CanonicalUser")
            }),
            Some("READ"),
        ));
        malformed(policy_with(
            Some(grantee("AmazonCustomerByEmail")),
            Some("READ"),
        ));
        malformed(policy_with(Some(grantee("Group")), Some("READ")));
        malformed(policy_with(
            Some(dto::Grantee {
                id: Some("x".into()),
                ..grantee("Somebody")
            }),
            Some("READ"),
        ));
        malformed(policy_with(
            Some(dto::Grantee {
                id: Some("x".into()),
                ..grantee("CanonicalUser")
            }),
            Some("EVERYTHING"),
        ));
        malformed(dto::AccessControlPolicy {
            grants: Some(vec![]),
            owner: Some(dto::Owner::default()),
        });
    }

    #[test]
    fn from_dto_rejects_unknown_group_uri() {
        let p = policy_with(
            Some(dto::Grantee {
                uri: Some("http://acs.amazonaws.com/groups/global/Everyone".into()),
                ..grantee("Group")
            }),
            Some("READ"),
        );
        let err = from_dto(&p).unwrap_err();
        assert!(matches!(&err, AclError::InvalidArgument(m) if m.contains("Invalid group uri")));
    }

    #[test]
    fn from_dto_without_owner() {
        let p = policy_with(
            Some(dto::Grantee {
                id: Some("x".into()),
                ..grantee("CanonicalUser")
            }),
            Some("WRITE"),
        );
        assert_eq!(
            from_dto(&p).unwrap(),
            (None, vec![Grant::canonical("x", Permission::Write)])
        );
    }

    #[test]
    fn grant_headers_keep_the_ones_sent() {
        assert!(grant_headers(None, None, None, None, None).is_empty());
        assert_eq!(
            grant_headers(Some("id=a"), None, Some("id=b"), None, Some("id=c")),
            vec![
                (Permission::ReadAcp, "id=b"),
                (Permission::WriteAcp, "id=c"),
                (Permission::FullControl, "id=a"),
            ]
        );
        assert_eq!(
            grant_headers(None, Some("id=r"), None, Some("id=w"), None),
            vec![(Permission::Read, "id=r"), (Permission::Write, "id=w")]
        );
        let input = dto::PutObjectAclInput {
            grant_read: Some(r#"uri="http://acs.amazonaws.com/groups/global/AllUsers""#.into()),
            ..Default::default()
        };
        let headers = grant_headers(
            input.grant_full_control.as_deref(),
            input.grant_read.as_deref(),
            input.grant_read_acp.as_deref(),
            input.grant_write.as_deref(),
            input.grant_write_acp.as_deref(),
        );
        let acl = Acl::from_grant_headers(OWNER, &headers).unwrap();
        assert_eq!(
            acl.grants,
            vec![Grant::group(Group::AllUsers, Permission::Read)]
        );
    }
}
