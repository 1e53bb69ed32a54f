//! Tags of buckets and objects: the tag set model with S3's validation, the `x-amz-tagging`
//! header form, the stored form, and bucket tagging as operations on [`Tessera`].

use serde::{Deserialize, Serialize};

use crate::error::{ArgumentError, Error, Result};
use crate::records::{BucketRecord, BucketSetting, ObjectUpdate};
use crate::tessera::Tessera;

/// Most tags an object may have.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags a bucket may have.
pub const MAX_BUCKET_TAGS: usize = 50;
/// Longest tag key, in Unicode characters.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest tag value, in Unicode characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// Version of the stored form written by this build.
const STORED_VERSION: u32 = 1;

/// What a tag set belongs to: the two have different limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagTarget {
    Object,
    Bucket,
}

/// An ordered list of tags with unique keys, valid by S3's rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSet {
    tags: Vec<(String, String)>,
}

/// The stored form: versioned so that a later layout can still read this one.
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    tags: Vec<(String, String)>,
}

fn invalid_tag(m: impl Into<String>) -> Error {
    Error::InvalidTag(m.into())
}

/// Whether `c` may appear in a tag key or value: letters, digits, spaces and `+ - = . _ : / @`.
fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c)
}

/// Checks one tag as S3 does on a Put: key 1..=128 characters, value 0..=256, allowed
/// characters only, no `aws:` key prefix (reserved for AWS's own tags).
pub fn validate_tag(key: &str, value: &str) -> Result<()> {
    let key_chars = key.chars().count();
    if key_chars == 0 || !key.chars().all(allowed_char) {
        return Err(invalid_tag("The TagKey you have provided is invalid"));
    }
    if key_chars > MAX_KEY_CHARS {
        return Err(invalid_tag(format!(
            "The TagKey you have provided is too long, max {MAX_KEY_CHARS}"
        )));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(invalid_tag(format!(
            "The TagValue you have provided is too long, max {MAX_VALUE_CHARS}"
        )));
    }
    if !value.chars().all(allowed_char) {
        return Err(invalid_tag("The TagValue you have provided is invalid"));
    }
    if key.starts_with("aws:") {
        return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
    }
    Ok(())
}

impl TagSet {
    /// A tag set from (key, value) pairs in order, validated for `target`: too many object
    /// tags is S3's `BadRequest`, everything else `InvalidTag`.
    pub fn new(tags: Vec<(String, String)>, target: TagTarget) -> Result<Self> {
        match target {
            TagTarget::Object if tags.len() > MAX_OBJECT_TAGS => {
                return Err(Error::BadRequest(format!(
                    "Object tags cannot be greater than {MAX_OBJECT_TAGS}"
                )))
            }
            TagTarget::Bucket if tags.len() > MAX_BUCKET_TAGS => {
                return Err(invalid_tag(format!(
                    "Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}"
                )))
            }
            _ => {}
        }
        for (i, (k, v)) in tags.iter().enumerate() {
            validate_tag(k, v)?;
            if tags[..i].iter().any(|(other, _)| other == k) {
                return Err(invalid_tag(
                    "Cannot provide multiple Tags with the same key",
                ));
            }
        }
        Ok(Self { tags })
    }

    /// Parses the `x-amz-tagging` header of an object write: URL query encoding
    /// (`k1=v1&k2=v2`, percent escapes, `+` as a space), then the object rules.
    pub fn parse_header(header: &str) -> Result<Self> {
        let malformed = || {
            Error::InvalidArgument(ArgumentError::Config(
                "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.".into(),
            ))
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        for pair in header.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (
                form_decode(k).ok_or_else(malformed)?,
                form_decode(v).ok_or_else(malformed)?,
            );
            if tags.iter().any(|(other, _)| *other == k) {
                return Err(malformed());
            }
            tags.push((k, v));
        }
        Self::new(tags, TagTarget::Object)
    }

    /// The tags in order.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// The value of the tag `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// How many tags.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// The stored form (versioned JSON).
    pub fn to_stored(&self) -> String {
        serde_json::to_string(&Stored {
            v: STORED_VERSION,
            tags: self.tags.clone(),
        })
        .unwrap_or_default()
    }

    /// Reads the stored form back (not revalidated: it was valid when stored).
    pub fn from_stored(s: &str) -> Result<Self> {
        let stored: Stored =
            serde_json::from_str(s).map_err(|e| Error::backend(format!("stored tag set: {e}")))?;
        if stored.v != STORED_VERSION {
            return Err(Error::backend(format!(
                "stored tag set: unknown version {}",
                stored.v
            )));
        }
        Ok(Self { tags: stored.tags })
    }
}

/// Decodes one component of URL query encoding: `+` is a space, `%XX` a byte; the bytes must
/// be UTF-8. `None` for a broken escape or invalid UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl Tessera {
    /// PutBucketTagging: replaces the bucket's tag set (an empty set removes it, as S3).
    pub async fn put_bucket_tagging(&self, bucket: &str, tags: TagSet) -> Result<()> {
        let value = (!tags.is_empty()).then(|| tags.to_stored());
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Tagging, value)
            .await
    }

    /// GetBucketTagging: `NoSuchTagSet` when the bucket has none.
    pub fn bucket_tagging(&self, bucket: &BucketRecord) -> Result<TagSet> {
        bucket
            .setting(BucketSetting::Tagging)
            .map(TagSet::from_stored)
            .transpose()?
            .ok_or(Error::NoSuchTagSet)
    }

    /// DeleteBucketTagging (idempotent).
    pub async fn delete_bucket_tagging(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Tagging, None)
            .await
    }

    /// PutObjectTagging / DeleteObjectTagging (`tags` empty): replaces the tag set of the
    /// current version or of `version_id`, exactly the version read (a version written
    /// meanwhile keeps its own tags). Returns the version's id.
    pub async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: TagSet,
    ) -> Result<String> {
        let object = self.object_version(bucket, key, version_id).await?;
        self.meta
            .update_object(
                bucket,
                key,
                &object.object_id,
                ObjectUpdate::Tags(tags.tags().to_vec()),
            )
            .await?;
        Ok(object.version_id)
    }

    /// GetObjectTagging: the version's id and tags.
    pub async fn object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(String, TagSet)> {
        let object = self.object_version(bucket, key, version_id).await?;
        Ok((
            object.version_id,
            TagSet {
                tags: object.attrs.tags,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
    }

    fn tag(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.into(), v.into())]
    }

    #[test]
    fn limits_per_target() {
        assert!(TagSet::new(pairs(10), TagTarget::Object).is_ok());
        assert!(matches!(
            TagSet::new(pairs(11), TagTarget::Object),
            Err(Error::BadRequest(m)) if m == "Object tags cannot be greater than 10"
        ));
        assert!(TagSet::new(pairs(50), TagTarget::Bucket).is_ok());
        assert!(matches!(
            TagSet::new(pairs(51), TagTarget::Bucket),
            Err(Error::InvalidTag(_))
        ));
    }

    #[test]
    fn key_and_value_rules() {
        let ok = |k: &str, v: &str| TagSet::new(tag(k, v), TagTarget::Bucket).is_ok();
        assert!(ok("Project", ""));
        assert!(ok("a b+c-d=e.f_g:h/i@j", "Zürich 東京"));
        assert!(ok(&"é".repeat(128), &"x".repeat(256)));
        assert!(!ok("", "v"));
        assert!(!ok(&"k".repeat(129), "v"));
        assert!(!ok("k", &"v".repeat(257)));
        assert!(!ok("k*", "v"));
        assert!(!ok("k", "v#"));
        assert!(!ok("aws:cloudformation", "v"));
        assert!(ok("xaws:", "v"));
    }

    #[test]
    fn duplicate_keys_refused() {
        let tags = vec![("a".into(), "1".into()), ("a".into(), "2".into())];
        assert!(matches!(
            TagSet::new(tags, TagTarget::Object),
            Err(Error::InvalidTag(m)) if m == "Cannot provide multiple Tags with the same key"
        ));
    }

    #[test]
    fn header_form() {
        let t = TagSet::parse_header("Project=Blue&Cost%20Center=a%2Bb&empty=&flag&x=y+z").unwrap();
        assert_eq!(
            t.tags(),
            &[
                ("Project".into(), "Blue".into()),
                ("Cost Center".into(), "a+b".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
                ("x".into(), "y z".into()),
            ]
        );
        assert_eq!(t.get("x"), Some("y z"));
        assert!(TagSet::parse_header("").unwrap().is_empty());
        assert!(matches!(
            TagSet::parse_header("a=1&a=2"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            TagSet::parse_header("a=%zz"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            TagSet::parse_header("a=%ff"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            TagSet::parse_header("aws%3Ax=1"),
            Err(Error::InvalidTag(_))
        ));
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert!(matches!(
            TagSet::parse_header(&eleven.join("&")),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn stored_round_trip() {
        let t = TagSet::new(
            vec![("b".into(), "2".into()), ("a".into(), "x=1".into())],
            TagTarget::Bucket,
        )
        .unwrap();
        let back = TagSet::from_stored(&t.to_stored()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.len(), 2);
        assert!(TagSet::from_stored("{\"v\":2,\"tags\":[]}").is_err());
        assert!(TagSet::from_stored("garbage").is_err());
    }
}
