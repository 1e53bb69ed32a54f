//! Object versions: a bucket's versioning state, where a new write goes among a key's
//! versions, delete markers, reads by version id and the versions listing.
//!
//! The rule of the multipart user guide: in a versioning-enabled bucket a version's place is
//! its start (a PUT's arrival, an upload's CreateMultipartUpload), not its completion, so the
//! upload started last is current whatever the order of the Completes. Outside versioning the
//! `null` version is replaced by whichever write commits last.

use crate::error::{ArgumentError, Error, Result};
use crate::listing::{self, Item};
use crate::records::{
    new_sequencer, BucketRecord, BucketSetting, ListedVersion, ObjectRecord, VersionCursor,
    WriteCondition, NULL_VERSION,
};
use crate::tessera::Tessera;

/// A bucket's versioning state. A bucket once versioned never goes back to unversioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    /// The state stored with `bucket`.
    pub fn of(bucket: &BucketRecord) -> Self {
        match bucket.setting(BucketSetting::Versioning) {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => Versioning::Unversioned,
        }
    }

    /// The status GetBucketVersioning reports (`None`: never enabled, no Status element).
    pub fn status(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }

    /// Version id and sequencer of a new version whose write started at `started` (a
    /// sequencer taken then): a versioned bucket places it by that start; otherwise it is
    /// the `null` version, placed as the newest when it commits (call this just before).
    pub fn new_version(self, started: String) -> (String, String) {
        match self {
            Versioning::Enabled => (started.clone(), started),
            _ => (NULL_VERSION.to_owned(), new_sequencer()),
        }
    }
}

/// Checks a client's version id: `null` or one this server could have made (35 characters:
/// 19 digits and 16 lowercase hex), else 400 InvalidArgument as S3 answers a malformed one.
pub fn check_version_id(id: &str) -> Result<()> {
    let made_here = id.len() == 35
        && id[..19].bytes().all(|b| b.is_ascii_digit())
        && id[19..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if id == NULL_VERSION || made_here {
        Ok(())
    } else {
        Err(Error::InvalidArgument(ArgumentError::VersionId))
    }
}

/// What a DeleteObject did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version removed or the marker added (`None` in a bucket never versioned).
    pub version_id: Option<String>,
    /// The version removed, or the one added, is a delete marker.
    pub delete_marker: bool,
}

/// A ListObjectVersions request.
#[derive(Clone, Debug, Default)]
pub struct ListVersionsRequest {
    pub bucket: String,
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

/// One page of ListObjectVersions.
#[derive(Clone, Debug, Default)]
pub struct VersionsPage {
    pub versions: Vec<ListedVersion>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

impl Tessera {
    /// PutBucketVersioning: `Enabled` or `Suspended` (anything else is MalformedXML). A bucket
    /// with object lock cannot be suspended. MFA delete is not offered (NotImplemented-like
    /// InvalidArgument when asked to enable it).
    pub async fn put_bucket_versioning(
        &self,
        bucket: &BucketRecord,
        status: Option<&str>,
        mfa_delete: Option<&str>,
    ) -> Result<()> {
        if mfa_delete == Some("Enabled") {
            return Err(Error::InvalidBucketState(
                "MFA delete is not supported by this server".into(),
            ));
        }
        let status = match status {
            Some(s @ ("Enabled" | "Suspended")) => s,
            // No Status leaves the state as it is (an MFA-delete-only request).
            None => return Ok(()),
            Some(_) => return Err(Error::MalformedXml),
        };
        if status == "Suspended" && bucket.setting(BucketSetting::ObjectLock).is_some() {
            return Err(Error::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
            ));
        }
        self.meta
            .put_bucket_setting(
                &bucket.name,
                BucketSetting::Versioning,
                Some(status.to_owned()),
            )
            .await
    }

    /// The version of bucket/key to read: the current one (`version_id` None), or the named
    /// one. A delete marker is [`Error::DeleteMarker`]; a missing key or version is
    /// `NoSuchKey` / `NoSuchVersion` (`NoSuchBucket` when the bucket is gone).
    pub async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectRecord> {
        let found = match version_id {
            None => self.meta.get_object(bucket, key).await?,
            Some(v) => {
                check_version_id(v)?;
                self.meta.get_object_version(bucket, key, v).await?
            }
        };
        match found {
            Some(o) if o.delete_marker => Err(Error::DeleteMarker {
                version_id: o.version_id,
                last_modified: o.last_modified,
                by_version: version_id.is_some(),
            }),
            Some(o) => Ok(o),
            None => {
                self.require_bucket(bucket).await?;
                Err(if version_id.is_some() {
                    Error::NoSuchVersion
                } else {
                    Error::NoSuchKey
                })
            }
        }
    }

    /// DeleteObject. With a version id: removes exactly that version or marker (a missing one
    /// is not an error). Without: removes the object in a bucket never versioned, else adds a
    /// delete marker (the `null` one in a suspended bucket) owned by `caller_account` (the
    /// bucket owner for an anonymous caller). `If-Match` is checked atomically.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        condition: WriteCondition,
        caller_account: Option<&str>,
    ) -> Result<DeleteOutcome> {
        if let Some(v) = version_id {
            check_version_id(v)?;
        }
        let record = self.require_bucket(bucket).await?;
        let versioning = Versioning::of(&record);
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let version_id = version_id.map(str::to_owned);
        let owner = caller_account.map_or_else(|| record.owner.clone(), str::to_owned);
        self.run_detached(move |this| async move {
            let target = match (&version_id, versioning) {
                (Some(v), _) => Some(v.clone()),
                (None, Versioning::Unversioned) => Some(NULL_VERSION.to_owned()),
                (None, _) => None,
            };
            if let Some(v) = target {
                let removed = this
                    .meta
                    .delete_object(&bucket, &key, &v, condition)
                    .await?;
                let marker = match removed {
                    Some((object, freed)) => {
                        this.free_blobs(freed);
                        object.delete_marker
                    }
                    None => false,
                };
                return Ok(DeleteOutcome {
                    version_id: version_id.is_some().then_some(v),
                    delete_marker: marker,
                });
            }
            let (version_id, sequencer) = versioning.new_version(new_sequencer());
            let marker = ObjectRecord::delete_marker(bucket, key, version_id, sequencer, owner);
            let freed = this
                .meta
                .put_object(marker.clone(), Vec::new(), condition)
                .await?;
            this.free_blobs(freed);
            Ok(DeleteOutcome {
                version_id: Some(marker.version_id),
                delete_marker: true,
            })
        })
        .await
    }

    /// ListObjectVersions: versions and delete markers by key, newest first within a key.
    pub async fn list_versions(&self, req: &ListVersionsRequest) -> Result<VersionsPage> {
        let key_marker = req.key_marker.as_deref().filter(|k| !k.is_empty());
        let version_marker = req.version_id_marker.as_deref().filter(|v| !v.is_empty());
        if version_marker.is_some() && key_marker.is_none() {
            return Err(Error::InvalidArgument(
                ArgumentError::VersionIdMarkerWithoutKeyMarker,
            ));
        }
        self.require_bucket(&req.bucket).await?;
        let mut start = VersionCursor {
            key: key_marker.map(|k| k.as_bytes().to_vec()),
            sequencer: None,
        };
        if let (Some(key), Some(v)) = (key_marker, version_marker) {
            check_version_id(v)?;
            // A marker version that is gone: continue after the key's remaining versions of
            // that id would have been, i.e. with the next key (S3 has no better anchor).
            start.sequencer = self
                .meta
                .get_object_version(&req.bucket, key, v)
                .await?
                .map(|o| o.sequencer);
        }
        let source = VersionSource {
            app: self,
            bucket: &req.bucket,
            prefix: &req.prefix,
        };
        let walked = listing::walk(
            &source,
            start,
            &req.prefix,
            req.delimiter.as_deref(),
            key_marker,
            req.max_keys.min(1000),
        )
        .await?;
        let mut page = VersionsPage {
            is_truncated: walked.is_truncated,
            ..VersionsPage::default()
        };
        for item in walked.items {
            match item {
                Item::Entry(v) => {
                    page.next_key_marker = Some(v.object.key.clone());
                    page.next_version_id_marker = Some(v.object.version_id.clone());
                    page.versions.push(v);
                }
                Item::CommonPrefix(p) => {
                    page.next_key_marker = Some(p.clone());
                    page.next_version_id_marker = None;
                    page.common_prefixes.push(p);
                }
            }
        }
        Ok(page)
    }
}

impl ObjectRecord {
    /// A delete marker for bucket/key.
    pub fn delete_marker(
        bucket: String,
        key: String,
        version_id: String,
        sequencer: String,
        owner: String,
    ) -> Self {
        ObjectRecord {
            bucket,
            key,
            object_id: crate::records::BlobId::random().0,
            size: 0,
            etag: String::new(),
            last_modified: crate::records::now_millis(),
            headers: Default::default(),
            user_metadata: Default::default(),
            checksum: None,
            parts_count: None,
            owner,
            acl: None,
            version_id,
            sequencer,
            delete_marker: true,
            attrs: Default::default(),
        }
    }
}

/// Versions of one bucket under a prefix, for the delimiter walk.
struct VersionSource<'a> {
    app: &'a Tessera,
    bucket: &'a str,
    prefix: &'a str,
}

impl listing::Source for VersionSource<'_> {
    type Entry = ListedVersion;
    type Cursor = VersionCursor;

    async fn fetch(&self, cursor: VersionCursor, limit: usize) -> Result<Vec<ListedVersion>> {
        self.app
            .meta
            .list_versions(self.bucket, self.prefix, cursor, limit)
            .await
    }

    fn key<'e>(&self, entry: &'e ListedVersion) -> &'e str {
        &entry.object.key
    }

    fn after(&self, entry: &ListedVersion) -> VersionCursor {
        VersionCursor {
            key: Some(entry.object.key.clone().into_bytes()),
            sequencer: Some(entry.object.sequencer.clone()),
        }
    }

    fn past_prefix(&self, prefix: &str) -> VersionCursor {
        VersionCursor {
            key: Some(listing::past_prefix_bytes(prefix)),
            sequencer: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids() {
        assert!(check_version_id("null").is_ok());
        assert!(check_version_id(&new_sequencer()).is_ok());
        for bad in [
            "",
            "NULL",
            "abc",
            &"9".repeat(36),
            &format!("{}G", "1".repeat(34)),
        ] {
            assert!(
                matches!(
                    check_version_id(bad),
                    Err(Error::InvalidArgument(ArgumentError::VersionId))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn new_versions() {
        let started = new_sequencer();
        let (id, seq) = Versioning::Enabled.new_version(started.clone());
        assert_eq!(
            (id.as_str(), seq.as_str()),
            (started.as_str(), started.as_str())
        );
        let (id, seq) = Versioning::Suspended.new_version(started.clone());
        assert_eq!(id, NULL_VERSION);
        assert!(
            seq < started,
            "the null version is placed at commit, after the start"
        );
        assert_eq!(Versioning::Unversioned.new_version(started).0, NULL_VERSION);
    }
}
