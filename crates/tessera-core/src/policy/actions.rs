//! S3's action names and what each applies to, for validating bucket policies as S3 does:
//! an unknown action is "Policy has invalid action"; an action that applies to none of the
//! statement's resources (s3:ListBucket on `bucket/*` only) is "Action does not apply to
//! any resource(s) in statement". Source: Service Authorization Reference, "Actions,
//! resources, and condition keys for Amazon S3" (resource type of each action).

use super::matching::{NoVars, Pattern};

/// The resource type an S3 action is authorized on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `arn:aws:s3:::bucket`.
    Bucket,
    /// `arn:aws:s3:::bucket/key`.
    Object,
    /// No bucket or object (account-level, access points, jobs): never in a bucket policy.
    Other,
}

use Scope::{Bucket, Object, Other};

/// S3 actions (without the `s3:` prefix).
const S3_ACTIONS: &[(&str, Scope)] = &[
    ("AbortMultipartUpload", Object),
    ("BypassGovernanceRetention", Object),
    ("CreateBucket", Bucket),
    ("CreateBucketMetadataTableConfiguration", Bucket),
    ("DeleteBucket", Bucket),
    ("DeleteBucketMetadataTableConfiguration", Bucket),
    ("DeleteBucketPolicy", Bucket),
    ("DeleteBucketWebsite", Bucket),
    ("DeleteObject", Object),
    ("DeleteObjectTagging", Object),
    ("DeleteObjectVersion", Object),
    ("DeleteObjectVersionTagging", Object),
    ("GetAccelerateConfiguration", Bucket),
    ("GetAnalyticsConfiguration", Bucket),
    ("GetBucketAcl", Bucket),
    ("GetBucketCORS", Bucket),
    ("GetBucketLocation", Bucket),
    ("GetBucketLogging", Bucket),
    ("GetBucketMetadataTableConfiguration", Bucket),
    ("GetBucketNotification", Bucket),
    ("GetBucketObjectLockConfiguration", Bucket),
    ("GetBucketOwnershipControls", Bucket),
    ("GetBucketPolicy", Bucket),
    ("GetBucketPolicyStatus", Bucket),
    ("GetBucketPublicAccessBlock", Bucket),
    ("GetBucketRequestPayment", Bucket),
    ("GetBucketTagging", Bucket),
    ("GetBucketVersioning", Bucket),
    ("GetBucketWebsite", Bucket),
    ("GetEncryptionConfiguration", Bucket),
    ("GetIntelligentTieringConfiguration", Bucket),
    ("GetInventoryConfiguration", Bucket),
    ("GetLifecycleConfiguration", Bucket),
    ("GetMetricsConfiguration", Bucket),
    ("GetObject", Object),
    ("GetObjectAcl", Object),
    ("GetObjectAttributes", Object),
    ("GetObjectLegalHold", Object),
    ("GetObjectRetention", Object),
    ("GetObjectTagging", Object),
    ("GetObjectTorrent", Object),
    ("GetObjectVersion", Object),
    ("GetObjectVersionAcl", Object),
    ("GetObjectVersionAttributes", Object),
    ("GetObjectVersionForReplication", Object),
    ("GetObjectVersionTagging", Object),
    ("GetObjectVersionTorrent", Object),
    ("GetReplicationConfiguration", Bucket),
    ("InitiateReplication", Object),
    ("ListBucket", Bucket),
    ("ListBucketByTags", Bucket),
    ("ListBucketMultipartUploads", Bucket),
    ("ListBucketVersions", Bucket),
    ("ListMultipartUploadParts", Object),
    ("ObjectOwnerOverrideToBucketOwner", Object),
    ("PutAccelerateConfiguration", Bucket),
    ("PutAnalyticsConfiguration", Bucket),
    ("PutBucketAcl", Bucket),
    ("PutBucketCORS", Bucket),
    ("PutBucketLogging", Bucket),
    ("PutBucketNotification", Bucket),
    ("PutBucketObjectLockConfiguration", Bucket),
    ("PutBucketOwnershipControls", Bucket),
    ("PutBucketPolicy", Bucket),
    ("PutBucketPublicAccessBlock", Bucket),
    ("PutBucketRequestPayment", Bucket),
    ("PutBucketTagging", Bucket),
    ("PutBucketVersioning", Bucket),
    ("PutBucketWebsite", Bucket),
    ("PutEncryptionConfiguration", Bucket),
    ("PutIntelligentTieringConfiguration", Bucket),
    ("PutInventoryConfiguration", Bucket),
    ("PutLifecycleConfiguration", Bucket),
    ("PutMetricsConfiguration", Bucket),
    ("PutObject", Object),
    ("PutObjectAcl", Object),
    ("PutObjectLegalHold", Object),
    ("PutObjectRetention", Object),
    ("PutObjectTagging", Object),
    ("PutObjectVersionAcl", Object),
    ("PutObjectVersionTagging", Object),
    ("PutReplicationConfiguration", Bucket),
    ("ReplicateDelete", Object),
    ("ReplicateObject", Object),
    ("ReplicateTags", Object),
    ("RestoreObject", Object),
    // Not on a bucket or an object.
    ("CreateAccessPoint", Other),
    ("CreateJob", Other),
    ("DeleteAccessPoint", Other),
    ("DeleteAccessPointPolicy", Other),
    ("DescribeJob", Other),
    ("GetAccessPoint", Other),
    ("GetAccessPointPolicy", Other),
    ("GetAccessPointPolicyStatus", Other),
    ("GetAccountPublicAccessBlock", Other),
    ("ListAccessPoints", Other),
    ("ListAllMyBuckets", Other),
    ("ListJobs", Other),
    ("PutAccessPointPolicy", Other),
    ("PutAccountPublicAccessBlock", Other),
    ("UpdateJobPriority", Other),
    ("UpdateJobStatus", Other),
];

/// The scopes of the S3 actions an `s3:` action pattern matches; `None` when it matches none.
/// `action` is the full pattern source (`s3:Get*`), compared case-insensitively.
pub(crate) fn s3_action_scopes(pattern: &Pattern) -> Option<[bool; 3]> {
    let mut found = [false; 3];
    let mut any = false;
    let mut name = String::with_capacity(48);
    for (action, scope) in S3_ACTIONS {
        name.clear();
        name.push_str("s3:");
        name.push_str(action);
        if pattern.matches(&name, &NoVars, true) {
            any = true;
            found[*scope as usize] = true;
        }
    }
    any.then_some(found)
}

/// What a bucket-policy resource pattern can name: (a bucket, an object).
pub(crate) fn resource_scopes(resource: &str) -> (bool, bool) {
    let path = resource.strip_prefix("arn:aws:s3:::").unwrap_or(resource);
    if path.contains('/') {
        (false, true)
    } else if path.contains('*') {
        // `mybucket*` also matches `mybucket/key`.
        (true, true)
    } else {
        (true, false)
    }
}
