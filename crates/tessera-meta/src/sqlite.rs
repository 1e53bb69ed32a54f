//! The SQLite [`MetaStore`]: one database file in WAL mode, one writer thread doing group
//! commit, and a small pool of reader connections.
//!
//! Every write is a job sent to the writer thread. The writer takes the first queued job,
//! drains whatever else is queued (up to [`MAX_BATCH`]), and runs them all in one
//! `BEGIN IMMEDIATE ... COMMIT` transaction, each job inside its own savepoint so that a job
//! that fails (a precondition, a missing upload...) is rolled back alone. Replies are sent
//! only once the `COMMIT` (with `synchronous=FULL`) has returned, so an `Ok` is durable.
//! Reads run on pooled connections inside `spawn_blocking`; WAL gives each a consistent
//! snapshot of committed data.
//!
//! Keys are stored as BLOBs so that `ORDER BY key` is byte order, the order S3 lists in.

use std::collections::{BTreeMap, HashSet};
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};
use tessera_core::accounts::{AccessKey, Account, KeyOwner, KeyStatus, KeyUse, User, UserPolicy};
use tessera_core::checksum::{ChecksumAlgorithm, ChecksumType, ChecksumValue};
use tessera_core::error::ArgumentError;
use tessera_core::{
    now_millis, BlobId, BucketRecord, BucketSetting, CompleteRequest, CompletedUpload,
    ContentHeaders, Error, ListAfter, ListedVersion, MetaStore, ObjectAttrs, ObjectChecksum,
    ObjectRecord, ObjectUpdate, PartRecord, Result, Retention, RetentionMode, Segment,
    UploadRecord, VersionCursor, WriteCondition, NULL_VERSION,
};
use tokio::sync::oneshot;
use tracing::{debug, info, trace, warn};

use crate::identity;
use crate::migrate::{migrate, user_version, OpenError, SCHEMA_VERSION};

/// Reader connections in the pool.
const READERS: usize = 4;
/// Most write jobs committed in one transaction.
const MAX_BATCH: usize = 256;
/// How long a connection waits on a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const OBJECT_COLUMNS: &str = "bucket, key, object_id, size, etag, last_modified, content_type, \
     content_encoding, content_disposition, content_language, cache_control, expires, user_metadata, \
     checksum_algorithm, checksum_type, checksum_value, parts_count, owner, acl, version_id, sequencer, \
     delete_marker, attrs";

const BUCKET_COLUMNS: &str = "name, created, region, owner, settings";

const SEGMENT_COLUMNS: &str = "part_number, offset, size, blob, etag, checksums";

const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, initiated, content_type, content_encoding, \
     content_disposition, content_language, cache_control, expires, user_metadata, checksum_algorithm, \
     checksum_type, initiator, owner, acl, sequencer, attrs";

/// Segments intersecting `[?2, ?3)`; an empty segment counts as the point at its offset (so an
/// empty object's segment is found by `[0, 1)`). The scan over the `(object_id, offset)` index
/// starts at the last segment beginning at or before `?2` (the one holding that byte), found by
/// one seek.
const GET_SEGMENTS_SQL: &str =
    "SELECT part_number, offset, size, blob, etag, checksums FROM segments \
     WHERE object_id = ?1 \
       AND offset >= coalesce((SELECT offset FROM segments WHERE object_id = ?1 AND offset <= ?2 \
                               ORDER BY offset DESC LIMIT 1), 0) \
       AND offset < ?3 AND (offset + size > ?2 OR (size = 0 AND offset >= ?2)) \
     ORDER BY offset, part_number";

const PART_COLUMNS: &str = "part_number, size, etag, last_modified, blob, checksums";

// ---------------------------------------------------------------------------------------------
// Error and value conversions
// ---------------------------------------------------------------------------------------------

/// Maps SQLite errors to [`Error::Backend`].
pub(crate) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(|e| {
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                Error::InsufficientStorage
            } else if is_busy(&e) {
                Error::transient(e)
            } else {
                Error::backend(e)
            }
        })
    }
}

/// SQLite busy or locked: another connection holds the database; a retry may succeed.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn corrupt(what: &str) -> Error {
    Error::backend(format!("corrupt metadata: {what}"))
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::InvalidArgument(ArgumentError::OutOfRange { value: v }))
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt("negative size or offset"))
}

fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| corrupt("part number out of range"))
}

fn key_from_blob(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| corrupt("key is not UTF-8"))
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` if there is none (empty prefix, or only 0xFF bytes).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last == 0xFF {
            end.pop();
        } else {
            if let Some(b) = end.last_mut() {
                *b = last + 1;
            }
            return Some(end);
        }
    }
    None
}

/// Encodes checksums as `ALG:base64,ALG:base64`.
fn encode_checksums(values: &[ChecksumValue]) -> String {
    let mut out = String::new();
    for v in values {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(v.algorithm.as_str());
        out.push(':');
        out.push_str(&v.to_base64());
    }
    out
}

fn decode_checksums(text: &str) -> Result<Vec<ChecksumValue>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (alg, b64) = item
                .split_once(':')
                .ok_or_else(|| corrupt("checksum list"))?;
            let alg = ChecksumAlgorithm::parse(alg).map_err(|_| corrupt("checksum algorithm"))?;
            ChecksumValue::from_base64(alg, b64).map_err(|_| corrupt("checksum value"))
        })
        .collect()
}

fn encode_metadata(meta: &BTreeMap<String, String>) -> Result<Option<String>> {
    if meta.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(meta)
        .map(Some)
        .map_err(|e| Error::Internal(format!("encoding user metadata: {e}")))
}

/// Bucket settings as stored: `name`, `\n`, the value's length in bytes, `\n`, the value, for
/// each setting. Not JSON: policies are JSON themselves, and escaping them again made every
/// request's bucket read parse kilobytes of escapes.
fn encode_settings(settings: &BTreeMap<String, String>) -> Option<String> {
    if settings.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (name, value) in settings {
        out.push_str(name);
        out.push('\n');
        out.push_str(&value.len().to_string());
        out.push('\n');
        out.push_str(value);
    }
    Some(out)
}

/// Reads [`encode_settings`]' form.
fn decode_settings(text: Option<String>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(text) = text else {
        return Ok(out);
    };
    let bad = || corrupt("bucket settings");
    // The first form of schema step 3 (main before its release) stored a JSON object.
    if text.starts_with('{') {
        return serde_json::from_str(&text).map_err(|_| bad());
    }
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('\n').ok_or_else(bad)?;
        let (len, after) = after.split_once('\n').ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let value = after.get(..len).ok_or_else(bad)?;
        out.insert(name.to_owned(), value.to_owned());
        rest = &after[len..];
    }
    Ok(out)
}

/// A list of name/value pairs as stored: for each, the name's length, `\n`, the name, the
/// value's length, `\n`, the value (lengths in bytes; names and values may hold any text).
fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        for part in [name, value] {
            out.push_str(&part.len().to_string());
            out.push('\n');
            out.push_str(part);
        }
    }
    out
}

/// Reads [`encode_pairs`]' form.
fn decode_pairs(text: &str, what: &str) -> Result<Vec<(String, String)>> {
    let bad = || corrupt(what);
    let take = |rest: &mut &str| -> Result<String> {
        let (len, after) = rest.split_once('\n').ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let value = after.get(..len).ok_or_else(bad)?.to_owned();
        *rest = &after[len..];
        Ok(value)
    };
    let mut rest = text;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let name = take(&mut rest)?;
        let value = take(&mut rest)?;
        out.push((name, value));
    }
    Ok(out)
}

/// Object attributes as stored: `class`, `redirect`, one `tag` pair per tag (its value the
/// [`encode_pairs`] form of the key and value), `retention` (`MODE millis`) and `legal-hold`
/// (`ON`/`OFF`); `None` when there are none.
fn encode_attrs(attrs: &ObjectAttrs) -> Option<String> {
    let tags: Vec<String> = attrs
        .tags
        .iter()
        .map(|(k, v)| encode_pairs([(k.as_str(), v.as_str())]))
        .collect();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = &attrs.storage_class {
        pairs.push(("class", c));
    }
    if let Some(r) = &attrs.website_redirect {
        pairs.push(("redirect", r));
    }
    pairs.extend(tags.iter().map(|t| ("tag", t.as_str())));
    let retention = attrs
        .retention
        .map(|r| format!("{} {}", r.mode.as_str(), r.retain_until));
    if let Some(r) = &retention {
        pairs.push(("retention", r));
    }
    if let Some(on) = attrs.legal_hold {
        pairs.push(("legal-hold", if on { "ON" } else { "OFF" }));
    }
    if let Some(e) = &attrs.encryption {
        pairs.push(("sse", e));
    }
    (!pairs.is_empty()).then(|| encode_pairs(pairs))
}

/// Reads a stored retention: `MODE retain-until-millis`.
fn decode_retention(value: &str) -> Result<Retention> {
    let bad = || corrupt("object retention");
    let (mode, until) = value.split_once(' ').ok_or_else(bad)?;
    Ok(Retention {
        mode: RetentionMode::parse(mode).ok_or_else(bad)?,
        retain_until: until.parse().map_err(|_| bad())?,
    })
}

/// Reads [`encode_attrs`]' form; names it does not know (a later release's) are ignored.
fn decode_attrs(text: Option<String>) -> Result<ObjectAttrs> {
    let mut attrs = ObjectAttrs::default();
    let Some(text) = text else {
        return Ok(attrs);
    };
    for (name, value) in decode_pairs(&text, "object attributes")? {
        match name.as_str() {
            "class" => attrs.storage_class = Some(value),
            "redirect" => attrs.website_redirect = Some(value),
            "tag" => attrs.tags.extend(decode_pairs(&value, "object tag")?),
            "retention" => attrs.retention = Some(decode_retention(&value)?),
            "legal-hold" => attrs.legal_hold = Some(value == "ON"),
            "sse" => attrs.encryption = Some(value),
            _ => {}
        }
    }
    Ok(attrs)
}

fn decode_metadata(text: Option<String>) -> Result<BTreeMap<String, String>> {
    match text {
        None => Ok(BTreeMap::new()),
        Some(t) => serde_json::from_str(&t).map_err(|_| corrupt("user metadata")),
    }
}

fn decode_object_checksum(
    algorithm: Option<String>,
    checksum_type: Option<String>,
    value: Option<String>,
) -> Result<Option<ObjectChecksum>> {
    match (algorithm, checksum_type, value) {
        (Some(a), Some(t), Some(v)) => Ok(Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::parse(&a).map_err(|_| corrupt("checksum algorithm"))?,
            checksum_type: ChecksumType::parse(&t).map_err(|_| corrupt("checksum type"))?,
            value: v,
        })),
        (None, None, None) => Ok(None),
        _ => Err(corrupt("partial object checksum")),
    }
}

/// Reads the six content header columns starting at `first`.
fn headers_from_row(row: &Row<'_>, first: usize) -> Result<ContentHeaders> {
    Ok(ContentHeaders {
        content_type: row.get(first).db()?,
        content_encoding: row.get(first + 1).db()?,
        content_disposition: row.get(first + 2).db()?,
        content_language: row.get(first + 3).db()?,
        cache_control: row.get(first + 4).db()?,
        expires: row.get(first + 5).db()?,
    })
}

fn object_from_row(row: &Row<'_>) -> Result<ObjectRecord> {
    Ok(ObjectRecord {
        bucket: row.get(0).db()?,
        key: key_from_blob(row.get(1).db()?)?,
        object_id: row.get(2).db()?,
        size: to_u64(row.get(3).db()?)?,
        etag: row.get(4).db()?,
        last_modified: row.get(5).db()?,
        headers: headers_from_row(row, 6)?,
        user_metadata: decode_metadata(row.get(12).db()?)?,
        checksum: decode_object_checksum(row.get(13).db()?, row.get(14).db()?, row.get(15).db()?)?,
        parts_count: row
            .get::<_, Option<i64>>(16)
            .db()?
            .map(to_u32)
            .transpose()?,
        owner: row.get(17).db()?,
        acl: row.get(18).db()?,
        version_id: row.get(19).db()?,
        sequencer: row.get(20).db()?,
        delete_marker: row.get::<_, i64>(21).db()? != 0,
        attrs: decode_attrs(row.get(22).db()?)?,
    })
}

fn bucket_from_row(row: &Row<'_>) -> Result<BucketRecord> {
    Ok(BucketRecord {
        name: row.get(0).db()?,
        created: row.get(1).db()?,
        region: row.get(2).db()?,
        owner: row.get(3).db()?,
        settings: decode_settings(row.get(4).db()?)?,
    })
}

fn segment_from_row(row: &Row<'_>) -> Result<Segment> {
    Ok(Segment {
        part_number: to_u32(row.get(0).db()?)?,
        offset: to_u64(row.get(1).db()?)?,
        size: to_u64(row.get(2).db()?)?,
        blob: BlobId(row.get(3).db()?),
        etag: row.get(4).db()?,
        checksums: decode_checksums(&row.get::<_, String>(5).db()?)?,
    })
}

fn upload_from_row(row: &Row<'_>) -> Result<UploadRecord> {
    let algorithm: Option<String> = row.get(11).db()?;
    let checksum_type: Option<String> = row.get(12).db()?;
    Ok(UploadRecord {
        upload_id: row.get(0).db()?,
        bucket: row.get(1).db()?,
        key: key_from_blob(row.get(2).db()?)?,
        initiated: row.get(3).db()?,
        headers: headers_from_row(row, 4)?,
        user_metadata: decode_metadata(row.get(10).db()?)?,
        checksum_algorithm: algorithm
            .map(|a| ChecksumAlgorithm::parse(&a).map_err(|_| corrupt("checksum algorithm")))
            .transpose()?,
        checksum_type: checksum_type
            .map(|t| ChecksumType::parse(&t).map_err(|_| corrupt("checksum type")))
            .transpose()?,
        initiator: row.get(13).db()?,
        owner: row.get(14).db()?,
        acl: row.get(15).db()?,
        sequencer: row.get(16).db()?,
        attrs: decode_attrs(row.get(17).db()?)?,
    })
}

fn part_from_row(row: &Row<'_>) -> Result<PartRecord> {
    Ok(PartRecord {
        part_number: to_u32(row.get(0).db()?)?,
        size: to_u64(row.get(1).db()?)?,
        etag: row.get(2).db()?,
        last_modified: row.get(3).db()?,
        blob: BlobId(row.get(4).db()?),
        checksums: decode_checksums(&row.get::<_, String>(5).db()?)?,
    })
}

/// Runs a prepared query and maps every row with `f`.
fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// Runs a prepared statement returning one text column per row (e.g. `DELETE ... RETURNING blob`).
fn collect_blobs(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<BlobId>> {
    collect(conn, sql, params, |row| Ok(BlobId(row.get(0).db()?)))
}

// ---------------------------------------------------------------------------------------------
// Statements shared by the write jobs
// ---------------------------------------------------------------------------------------------

fn bucket_exists(conn: &Connection, name: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1")
        .db()?
        .query_row([name], |_| Ok(()))
        .optional()
        .db()
        .map(|r| r.is_some())
}

/// What a write needs of the current version at a key.
struct Current {
    etag: String,
    sequencer: String,
    delete_marker: bool,
}

impl Current {
    /// The ETag a write condition sees: none when the key's current version is a delete marker.
    fn condition_etag(current: &Option<Current>) -> Option<&str> {
        current
            .as_ref()
            .filter(|c| !c.delete_marker)
            .map(|c| c.etag.as_str())
    }
}

/// The current version at bucket/key.
fn current_version(conn: &Connection, bucket: &str, key: &str) -> Result<Option<Current>> {
    conn.prepare_cached(
        "SELECT etag, sequencer, delete_marker FROM objects WHERE bucket = ?1 AND key = ?2",
    )
    .db()?
    .query_row(params![bucket, key.as_bytes()], |r| {
        Ok(Current {
            etag: r.get(0)?,
            sequencer: r.get(1)?,
            delete_marker: r.get::<_, i64>(2)? != 0,
        })
    })
    .optional()
    .db()
}

/// The version `version_id` of bucket/key and whether it is the current one.
fn find_version(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(ObjectRecord, bool)>> {
    for (table, current) in [("objects", true), ("versions", false)] {
        let sql = format!(
            "SELECT {OBJECT_COLUMNS} FROM {table} WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
        );
        let found = collect(
            conn,
            &sql,
            &[&bucket, &key.as_bytes(), &version_id],
            object_from_row,
        )?;
        if let Some(o) = found.into_iter().next() {
            return Ok(Some((o, current)));
        }
    }
    Ok(None)
}

/// Moves the row of `(bucket, key, sequencer)` from one table to the other (its segments stay:
/// they hang off the object id).
fn move_version(
    conn: &Connection,
    from: &str,
    to: &str,
    bucket: &str,
    key: &str,
    sequencer: &str,
) -> Result<()> {
    let copy = format!(
        "INSERT INTO {to} ({OBJECT_COLUMNS}) SELECT {OBJECT_COLUMNS} FROM {from} \
         WHERE bucket = ?1 AND key = ?2 AND sequencer = ?3"
    );
    conn.prepare_cached(&copy)
        .db()?
        .execute(params![bucket, key.as_bytes(), sequencer])
        .db()?;
    let delete = format!("DELETE FROM {from} WHERE bucket = ?1 AND key = ?2 AND sequencer = ?3");
    conn.prepare_cached(&delete)
        .db()?
        .execute(params![bucket, key.as_bytes(), sequencer])
        .db()?;
    Ok(())
}

/// Makes the newest non-current version of bucket/key current (the key has no current one).
fn promote_newest(conn: &Connection, bucket: &str, key: &str) -> Result<()> {
    let newest: Option<String> = conn
        .prepare_cached(
            "SELECT sequencer FROM versions WHERE bucket = ?1 AND key = ?2 ORDER BY sequencer LIMIT 1",
        )
        .db()?
        .query_row(params![bucket, key.as_bytes()], |r| r.get(0))
        .optional()
        .db()?;
    match newest {
        Some(seq) => move_version(conn, "versions", "objects", bucket, key, &seq),
        None => Ok(()),
    }
}

/// Removes the version `version_id` of bucket/key with its segments; the next newest becomes
/// current if it was. `condition` is checked against the version removed, and a version
/// under Object Lock is not removed ([`Error::ObjectLocked`]).
fn remove_version(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
    condition: &WriteCondition,
) -> Result<Option<(ObjectRecord, Vec<BlobId>)>> {
    let found = find_version(conn, bucket, key, version_id)?;
    let etag = found
        .as_ref()
        .filter(|(o, _)| !o.delete_marker)
        .map(|(o, _)| o.etag.as_str());
    condition.check(etag)?;
    let Some((object, current)) = found else {
        return Ok(None);
    };
    if object
        .attrs
        .removal_blocked(now_millis(), condition.bypass_governance)
    {
        return Err(Error::ObjectLocked);
    }
    let table = if current { "objects" } else { "versions" };
    let delete = format!("DELETE FROM {table} WHERE bucket = ?1 AND key = ?2 AND sequencer = ?3");
    conn.prepare_cached(&delete)
        .db()?
        .execute(params![bucket, key.as_bytes(), object.sequencer])
        .db()?;
    let freed = collect_blobs(
        conn,
        "DELETE FROM segments WHERE object_id = ?1 RETURNING blob",
        &[&object.object_id],
    )?;
    if current {
        promote_newest(conn, bucket, key)?;
    }
    Ok(Some((object, freed)))
}

/// Inserts the row of `o` into `table` (`objects` or `versions`).
fn insert_row(conn: &Connection, table: &str, o: &ObjectRecord) -> Result<()> {
    let (alg, ctype, cvalue) = match &o.checksum {
        Some(c) => (
            Some(c.algorithm.as_str()),
            Some(c.checksum_type.as_str()),
            Some(c.value.as_str()),
        ),
        None => (None, None, None),
    };
    let h = &o.headers;
    let sql = format!(
        "INSERT INTO {table} ({OBJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
    );
    conn.prepare_cached(&sql)
        .db()?
        .execute(params![
            o.bucket,
            o.key.as_bytes(),
            o.object_id,
            to_i64(o.size)?,
            o.etag,
            o.last_modified,
            h.content_type,
            h.content_encoding,
            h.content_disposition,
            h.content_language,
            h.cache_control,
            h.expires,
            encode_metadata(&o.user_metadata)?,
            alg,
            ctype,
            cvalue,
            o.parts_count,
            o.owner,
            o.acl,
            o.version_id,
            o.sequencer,
            i64::from(o.delete_marker),
            encode_attrs(&o.attrs),
        ])
        .db()?;
    Ok(())
}

fn insert_segments(conn: &Connection, object_id: &str, segments: &[Segment]) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO segments (object_id, part_number, offset, size, blob, etag, checksums) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .db()?;
    for s in segments {
        stmt.execute(params![
            object_id,
            s.part_number,
            to_i64(s.offset)?,
            to_i64(s.size)?,
            s.blob.as_str(),
            s.etag,
            encode_checksums(&s.checksums),
        ])
        .db()?;
    }
    Ok(())
}

/// Stores `object` as a version of its key (the port's placement rule, see
/// [`MetaStore::put_object`]); the caller checked the write condition. Returns the replaced
/// `null` version's blobs (minus any the new segments reuse, which stay referenced).
fn place_version(
    conn: &Connection,
    object: &ObjectRecord,
    segments: &[Segment],
) -> Result<Vec<BlobId>> {
    let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
    let mut freed = Vec::new();
    if object.is_null_version() {
        let any = WriteCondition::default();
        if let Some((_, blobs)) = remove_version(conn, bucket, key, NULL_VERSION, &any)? {
            freed = blobs;
        }
    }
    match current_version(conn, bucket, key)? {
        Some(c) if c.sequencer < object.sequencer => insert_row(conn, "versions", object)?,
        Some(c) => {
            move_version(conn, "objects", "versions", bucket, key, &c.sequencer)?;
            insert_row(conn, "objects", object)?;
        }
        None => insert_row(conn, "objects", object)?,
    }
    insert_segments(conn, &object.object_id, segments)?;
    if !freed.is_empty() {
        let kept: HashSet<&BlobId> = segments.iter().map(|s| &s.blob).collect();
        freed.retain(|b| !kept.contains(b));
    }
    Ok(freed)
}

// ---------------------------------------------------------------------------------------------
// The writer thread
// ---------------------------------------------------------------------------------------------

/// A write job queued for the writer thread.
trait WriteJob: Send {
    /// Runs the job inside the open transaction; true if it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Replies to the caller: with the job's own result if the batch committed, else the error.
    fn finish(self: Box<Self>, commit_error: Option<&BatchError>);
    /// Whether the job frees space (a delete or an abort): the space reserve is for those.
    fn frees_space(&self) -> bool;
}

struct Job<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
    frees_space: bool,
}

/// Why a batch as a whole failed.
#[derive(Debug)]
struct BatchError {
    message: String,
    disk_full: bool,
    transient: bool,
}

impl BatchError {
    fn to_error(&self) -> Error {
        if self.disk_full {
            Error::InsufficientStorage
        } else if self.transient {
            Error::transient(self.message.clone())
        } else {
            Error::backend(self.message.clone())
        }
    }
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = match self.work.take() {
            Some(work) => std::panic::catch_unwind(AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(Error::Internal("metadata write job panicked".into()))),
            None => Err(Error::Internal("metadata write job ran twice".into())),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn frees_space(&self) -> bool {
        self.frees_space
    }

    fn finish(self: Box<Self>, commit_error: Option<&BatchError>) {
        let result = match commit_error {
            Some(e) => Err(e.to_error()),
            None => self
                .result
                .unwrap_or_else(|| Err(Error::Internal("metadata write job never ran".into()))),
        };
        // The caller may have gone away (cancelled request); nothing to do then.
        let _ = self.reply.send(result);
    }
}

type BoxedJob = Box<dyn WriteJob>;

fn writer_loop(
    conn: Connection,
    jobs: mpsc::Receiver<BoxedJob>,
    commits: Arc<AtomicU64>,
    mut reserve: Reserve,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.iter().any(|j| j.frees_space()) {
            // On a (nearly) full disk a delete must still be able to grow SQLite's WAL.
            reserve.release_if_short();
        }
        if run_batch(&conn, batch) {
            commits.fetch_add(1, Ordering::Relaxed);
            reserve.refill();
        }
    }
    debug!("metadata writer stopped");
}

fn exec(conn: &Connection, sql: &str) -> std::result::Result<(), BatchError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(|e| BatchError {
            disk_full: e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            transient: is_busy(&e),
            message: e.to_string(),
        })
}

/// Space kept on the metadata store's filesystem for deletes: a file of zeros released when
/// a batch that frees space finds the disk nearly full, and made again once there is room.
struct Reserve {
    path: PathBuf,
    size: u64,
    held: bool,
    /// When refilling last failed or was skipped for lack of room (refills are rate-limited).
    last_try: Option<std::time::Instant>,
}

/// How often a released reserve is tried again.
const RESERVE_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

impl Reserve {
    fn open(path: PathBuf, size: u64) -> Self {
        let held =
            size == 0 || std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == size);
        let mut reserve = Self {
            path,
            size,
            held,
            last_try: None,
        };
        reserve.refill();
        reserve
    }

    /// Free bytes on the filesystem holding the reserve (`None` if it cannot be told).
    fn free_space(&self) -> Option<u64> {
        let dir = self.path.parent()?;
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Gives the reserve back to the filesystem if less than its size is free.
    fn release_if_short(&mut self) {
        if !self.held || self.size == 0 {
            return;
        }
        if self.free_space().is_some_and(|free| free >= self.size) {
            return;
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => {
                warn!(
                    path = %self.path.display(),
                    bytes = self.size,
                    "disk nearly full: released the metadata space reserve for deletes"
                );
                self.held = false;
                self.last_try = Some(std::time::Instant::now());
            }
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "could not release the metadata space reserve")
            }
        }
    }

    /// Makes the reserve again once there is room for it twice over.
    fn refill(&mut self) {
        if self.held || self.last_try.is_some_and(|t| t.elapsed() < RESERVE_RETRY) {
            return;
        }
        self.last_try = Some(std::time::Instant::now());
        if self
            .free_space()
            .is_some_and(|free| free < self.size.saturating_mul(2))
        {
            return;
        }
        match write_zeros(&self.path, self.size) {
            Ok(()) => {
                debug!(path = %self.path.display(), bytes = self.size, "metadata space reserve in place");
                self.held = true;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&self.path);
                warn!(path = %self.path.display(), error = %e, "could not make the metadata space reserve");
            }
        }
    }
}

/// Writes `size` zero bytes to a new file at `path` and makes them durable (real blocks, not
/// a sparse file, so that the space is really held).
fn write_zeros(path: &Path, size: u64) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("reserve-tmp");
    let mut file = std::fs::File::create(&tmp)?;
    let block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Runs and replies to one batch; true if it committed.
fn run_batch(conn: &Connection, mut batch: Vec<BoxedJob>) -> bool {
    let n = batch.len();
    match run_jobs(conn, &mut batch) {
        Ok(()) => {
            trace!(jobs = n, "metadata batch committed");
            for job in batch {
                job.finish(None);
            }
            true
        }
        Err(err) => {
            warn!(jobs = n, error = %err.message, "metadata batch failed; rolled back");
            if !conn.is_autocommit() {
                if let Err(e) = conn.execute_batch("ROLLBACK") {
                    warn!(error = %e, "metadata rollback failed");
                }
            }
            for job in batch {
                job.finish(Some(&err));
            }
            false
        }
    }
}

/// One transaction over the batch; each job in its own savepoint. `Err` if the transaction
/// as a whole failed (nothing committed).
fn run_jobs(conn: &Connection, batch: &mut [BoxedJob]) -> std::result::Result<(), BatchError> {
    exec(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        exec(conn, "SAVEPOINT job")?;
        if job.run(conn) {
            exec(conn, "RELEASE job")?;
        } else {
            exec(conn, "ROLLBACK TO job")?;
            exec(conn, "RELEASE job")?;
        }
    }
    exec(conn, "COMMIT")
}

// ---------------------------------------------------------------------------------------------
// The reader pool
// ---------------------------------------------------------------------------------------------

struct ReadPool {
    conns: Mutex<Vec<Connection>>,
    available: Condvar,
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("metadata reader pool lock poisoned".into())
}

impl ReadPool {
    fn take(&self) -> Result<PooledConn<'_>> {
        let mut conns = self.conns.lock().map_err(poisoned)?;
        loop {
            if let Some(conn) = conns.pop() {
                return Ok(PooledConn {
                    pool: self,
                    conn: Some(conn),
                });
            }
            conns = self.available.wait(conns).map_err(poisoned)?;
        }
    }
}

/// A reader connection, returned to the pool on drop.
struct PooledConn<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl Deref for PooledConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // `conn` is only taken in `drop`.
        match &self.conn {
            Some(c) => c,
            None => unreachable!("pooled connection used after release"),
        }
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Ok(mut conns) = self.pool.conns.lock() {
                conns.push(conn);
                self.pool.available.notify_one();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------------

fn open_writer(path: &Path) -> std::result::Result<Connection, OpenError> {
    let mut conn = Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .db()?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::backend(format!(
            "could not enable WAL mode (journal_mode is {mode})"
        ))
        .into());
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -16000;",
    )
    .db()?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -8000;")
        .db()?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// A connection that can only read an existing database: no file is created, no lock is taken
/// beyond a reader's (WAL mode: never blocks the server's writer).
fn open_read_only_conn(path: &Path) -> Result<Connection> {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.execute_batch("PRAGMA query_only = ON;").db()?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/// A [`MetaStore`] in one SQLite database file (WAL mode, `synchronous=FULL`).
pub struct SqliteMetaStore {
    jobs: Option<mpsc::Sender<BoxedJob>>,
    writer: Option<JoinHandle<()>>,
    readers: Arc<ReadPool>,
    /// Transactions committed by the writer (each one a batch of jobs).
    commits: Arc<AtomicU64>,
}

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at `path`, creates or upgrades the schema (see
    /// [`crate::migrate`]), and starts the writer thread. A database of a newer schema is
    /// refused with [`OpenError::SchemaTooNew`].
    pub async fn open(path: &Path) -> std::result::Result<Self, OpenError> {
        Self::open_with_reserve(path, 0).await
    }

    /// [`Self::open`], keeping `reserve_bytes` of disk space in a file beside the database
    /// (`<db>.reserve`) that is released for deletes when the disk is nearly full, so that
    /// users can always free space; made again once there is room.
    pub async fn open_with_reserve(
        path: &Path,
        reserve_bytes: u64,
    ) -> std::result::Result<Self, OpenError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, reserve_bytes))
            .await
            .map_err(|e| Error::Internal(format!("opening the metadata store: {e}")))?
    }

    /// Opens an existing database for reading only, beside a server that may be using it:
    /// no schema change, no writer thread, no space reserve (consistency checks, `fsck`).
    /// Every write fails.
    pub async fn open_read_only(path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let first = open_read_only_conn(&path)?;
            let version = user_version(&first)?;
            if version != SCHEMA_VERSION {
                return Err(Error::backend(format!(
                    "metadata schema version {version} in {} (this build reads version {SCHEMA_VERSION}; `tessera serve` creates or upgrades it)",
                    path.display()
                )));
            }
            let mut readers = vec![first];
            for _ in 1..READERS {
                readers.push(open_read_only_conn(&path)?);
            }
            debug!(path = %path.display(), "metadata store open read-only");
            Ok(Self {
                jobs: None,
                writer: None,
                commits: Arc::new(AtomicU64::new(0)),
                readers: Arc::new(ReadPool {
                    conns: Mutex::new(readers),
                    available: Condvar::new(),
                }),
            })
        })
        .await
        .map_err(|e| Error::Internal(format!("opening the metadata store: {e}")))?
    }

    /// How many write transactions have committed since open (each one a group of jobs).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn open_blocking(path: &Path, reserve_bytes: u64) -> std::result::Result<Self, OpenError> {
        let writer_conn = open_writer(path)?;
        let reserve = Reserve::open(path.with_extension("reserve"), reserve_bytes);
        let readers = (0..READERS)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel::<BoxedJob>();
        let commits = Arc::new(AtomicU64::new(0));
        let writer_commits = Arc::clone(&commits);
        let writer = std::thread::Builder::new()
            .name("tessera-meta-writer".into())
            .spawn(move || writer_loop(writer_conn, rx, writer_commits, reserve))
            .map_err(Error::from)?;
        info!(path = %path.display(), "metadata store open");
        Ok(Self {
            jobs: Some(tx),
            commits,
            writer: Some(writer),
            readers: Arc::new(ReadPool {
                conns: Mutex::new(readers),
                available: Condvar::new(),
            }),
        })
    }

    /// Runs `work` on the writer thread in a group-committed transaction; returns once durable.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(work, false).await
    }

    /// [`Self::write`] for a job that frees space (deletes, aborts): it may use the reserve.
    async fn write_freeing<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(work, true).await
    }

    async fn submit<T, F>(&self, work: F, frees_space: bool) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: BoxedJob = Box::new(Job {
            work: Some(work),
            result: None,
            reply,
            frees_space,
        });
        self.jobs
            .as_ref()
            .ok_or_else(|| Error::Internal("metadata writer is closed".into()))?
            .send(job)
            .map_err(|_| Error::Internal("metadata writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("metadata writer dropped a job".into()))?
    }

    /// Runs `work` on a pooled reader connection in a blocking task, inside one read transaction.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let tx = conn.unchecked_transaction().db()?;
            let out = work(&tx);
            // Read-only: ending the transaction either way is fine.
            tx.rollback().db()?;
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("metadata read task failed: {e}")))?
    }
}

impl Drop for SqliteMetaStore {
    fn drop(&mut self) {
        // Closing the channel stops the writer once its queue is empty; wait so that the
        // database is closed when the store is gone (and can be reopened at once).
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                warn!("metadata writer thread panicked");
            }
        }
    }
}

/// Lower bound of a key range scan: inclusive or exclusive.
enum Lower {
    From(Vec<u8>),
    After(Vec<u8>),
}

/// The key range for `prefix` and `after`: `(lower, upper exclusive)`.
fn key_range(prefix: &str, after: Option<Vec<u8>>) -> (Lower, Option<Vec<u8>>) {
    let prefix = prefix.as_bytes();
    let upper = prefix_successor(prefix);
    let lower = match after {
        Some(after) if after.as_slice() >= prefix => Lower::After(after),
        _ => Lower::From(prefix.to_vec()),
    };
    (lower, upper)
}

#[async_trait]
impl MetaStore for SqliteMetaStore {
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        self.write(move |conn| {
            if bucket_exists(conn, &bucket.name)? {
                return Err(Error::BucketAlreadyOwnedByYou);
            }
            conn.prepare_cached(
                "INSERT INTO buckets (name, created, region, owner, settings) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![
                bucket.name,
                bucket.created,
                bucket.region,
                bucket.owner,
                encode_settings(&bucket.settings),
            ])
            .db()?;
            Ok(())
        })
        .await
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        let name = name.to_owned();
        self.read(move |conn| {
            Ok(collect(
                conn,
                &format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1"),
                &[&name],
                bucket_from_row,
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketRecord>> {
        let after = after.unwrap_or("").to_owned();
        self.read(move |conn| {
            collect(
                conn,
                &format!(
                    "SELECT {BUCKET_COLUMNS} FROM buckets WHERE name > ?1 ORDER BY name LIMIT ?2"
                ),
                &[&after, &limit_i64(limit)],
                bucket_from_row,
            )
        })
        .await
    }

    async fn put_bucket_setting(
        &self,
        bucket: &str,
        setting: BucketSetting,
        value: Option<String>,
    ) -> Result<()> {
        let bucket = bucket.to_owned();
        self.write(move |conn| {
            let current: Option<Option<String>> = conn
                .prepare_cached("SELECT settings FROM buckets WHERE name = ?1")
                .db()?
                .query_row([&bucket], |r| r.get(0))
                .optional()
                .db()?;
            let Some(current) = current else {
                return Err(Error::NoSuchBucket);
            };
            let mut settings = decode_settings(current)?;
            match value {
                Some(v) => settings.insert(setting.as_str().to_owned(), v),
                None => settings.remove(setting.as_str()),
            };
            conn.prepare_cached("UPDATE buckets SET settings = ?2 WHERE name = ?1")
                .db()?
                .execute(params![bucket, encode_settings(&settings)])
                .db()?;
            Ok(())
        })
        .await
    }

    async fn delete_bucket(&self, name: &str) -> Result<Vec<BlobId>> {
        let name = name.to_owned();
        self.write_freeing(move |conn| {
            if !bucket_exists(conn, &name)? {
                return Err(Error::NoSuchBucket);
            }
            let not_empty = conn
                .prepare_cached(
                    "SELECT 1 FROM objects WHERE bucket = ?1 \
                     UNION ALL SELECT 1 FROM versions WHERE bucket = ?1 LIMIT 1",
                )
                .db()?
                .query_row([&name], |_| Ok(()))
                .optional()
                .db()?
                .is_some();
            if not_empty {
                return Err(Error::BucketNotEmpty);
            }
            let freed = collect_blobs(
                conn,
                "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?1) \
                 RETURNING blob",
                &[&name],
            )?;
            conn.prepare_cached("DELETE FROM uploads WHERE bucket = ?1").db()?.execute([&name]).db()?;
            conn.prepare_cached("DELETE FROM completed_uploads WHERE bucket = ?1").db()?.execute([&name]).db()?;
            conn.prepare_cached("DELETE FROM buckets WHERE name = ?1").db()?.execute([&name]).db()?;
            debug!(bucket = %name, freed = freed.len(), "bucket deleted");
            Ok(freed)
        })
        .await
    }

    async fn put_object(
        &self,
        object: ObjectRecord,
        segments: Vec<Segment>,
        condition: WriteCondition,
    ) -> Result<Vec<BlobId>> {
        self.write(move |conn| {
            if !bucket_exists(conn, &object.bucket)? {
                return Err(Error::NoSuchBucket);
            }
            let current = current_version(conn, &object.bucket, &object.key)?;
            condition.check(Current::condition_etag(&current))?;
            place_version(conn, &object, &segments)
        })
        .await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.read(move |conn| {
            let sql =
                format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2");
            Ok(
                collect(conn, &sql, &[&bucket, &key.as_bytes()], object_from_row)?
                    .into_iter()
                    .next(),
            )
        })
        .await
    }

    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<ObjectRecord>> {
        let (bucket, key, version_id) = (bucket.to_owned(), key.to_owned(), version_id.to_owned());
        self.read(move |conn| Ok(find_version(conn, &bucket, &key, &version_id)?.map(|(o, _)| o)))
            .await
    }

    async fn update_object(
        &self,
        bucket: &str,
        key: &str,
        object_id: &str,
        update: ObjectUpdate,
    ) -> Result<()> {
        let (bucket, key, object_id) = (bucket.to_owned(), key.to_owned(), object_id.to_owned());
        self.write(move |conn| {
            for table in ["objects", "versions"] {
                let found: Option<Option<String>> = conn
                    .prepare_cached(&format!(
                        "SELECT attrs FROM {table} WHERE bucket = ?1 AND key = ?2 AND object_id = ?3"
                    ))
                    .db()?
                    .query_row(params![bucket, key.as_bytes(), object_id], |r| r.get(0))
                    .optional()
                    .db()?;
                let Some(attrs) = found else {
                    continue;
                };
                let (column, value) = match &update {
                    ObjectUpdate::Acl(acl) => ("acl", acl.clone()),
                    ObjectUpdate::Tags(tags) => {
                        let mut attrs = decode_attrs(attrs)?;
                        attrs.tags = tags.clone();
                        ("attrs", encode_attrs(&attrs))
                    }
                    ObjectUpdate::Retention(change) => {
                        let mut attrs = decode_attrs(attrs)?;
                        attrs.change_retention(change, now_millis())?;
                        ("attrs", encode_attrs(&attrs))
                    }
                    ObjectUpdate::LegalHold(on) => {
                        let mut attrs = decode_attrs(attrs)?;
                        attrs.legal_hold = Some(*on);
                        ("attrs", encode_attrs(&attrs))
                    }
                };
                conn.prepare_cached(&format!(
                    "UPDATE {table} SET {column} = ?4 WHERE bucket = ?1 AND key = ?2 AND object_id = ?3"
                ))
                .db()?
                .execute(params![bucket, key.as_bytes(), object_id, value])
                .db()?;
                return Ok(());
            }
            Err(Error::NoSuchKey)
        })
        .await
    }

    async fn get_segments(&self, object_id: &str, from: u64, to: u64) -> Result<Vec<Segment>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let object_id = object_id.to_owned();
        let (from, to) = (clamp_i64(from), clamp_i64(to));
        self.read(move |conn| {
            collect(
                conn,
                GET_SEGMENTS_SQL,
                &[&object_id, &from, &to],
                segment_from_row,
            )
        })
        .await
    }

    async fn get_segment(&self, object_id: &str, part_number: u32) -> Result<Option<Segment>> {
        let object_id = object_id.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {SEGMENT_COLUMNS} FROM segments WHERE object_id = ?1 AND part_number = ?2"
            );
            Ok(
                collect(conn, &sql, &[&object_id, &part_number], segment_from_row)?
                    .into_iter()
                    .next(),
            )
        })
        .await
    }

    async fn list_segments(
        &self,
        object_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<Segment>> {
        let object_id = object_id.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {SEGMENT_COLUMNS} FROM segments WHERE object_id = ?1 AND part_number > ?2 \
                 ORDER BY part_number LIMIT ?3"
            );
            collect(
                conn,
                &sql,
                &[&object_id, &after, &limit_i64(limit)],
                segment_from_row,
            )
        })
        .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        condition: WriteCondition,
    ) -> Result<Option<(ObjectRecord, Vec<BlobId>)>> {
        let (bucket, key, version_id) = (bucket.to_owned(), key.to_owned(), version_id.to_owned());
        self.write_freeing(move |conn| {
            let condition = WriteCondition {
                if_none_match_any: false,
                ..condition
            };
            remove_version(conn, &bucket, &key, &version_id, &condition)
        })
        .await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: ListAfter,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let bucket = bucket.to_owned();
        let (lower, upper) = key_range(prefix, after);
        self.read(move |conn| {
            if !bucket_exists(conn, &bucket)? {
                return Err(Error::NoSuchBucket);
            }
            if limit == 0 {
                return Ok(Vec::new());
            }
            let (op, lo) = match &lower {
                Lower::From(k) => (">=", k),
                Lower::After(k) => (">", k),
            };
            let limit = limit_i64(limit);
            let mut params: Vec<&dyn ToSql> = vec![&bucket, lo, &limit];
            let upper_sql = match &upper {
                Some(hi) => {
                    params.push(hi);
                    " AND key < ?4"
                }
                None => "",
            };
            let sql = format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key {op} ?2{upper_sql} \
                 AND delete_marker = 0 ORDER BY key LIMIT ?3"
            );
            collect(conn, &sql, &params, object_from_row)
        })
        .await
    }

    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: VersionCursor,
        limit: usize,
    ) -> Result<Vec<ListedVersion>> {
        let bucket = bucket.to_owned();
        let prefix_bytes = prefix.as_bytes().to_vec();
        let upper = prefix_successor(&prefix_bytes);
        // Inside the prefix, the cursor's key (and its sequencer) bound the scan; before it, the
        // prefix does.
        let (lower, sequencer) = match after.key {
            Some(k) if k >= prefix_bytes => (k, after.sequencer),
            _ => (prefix_bytes, None),
        };
        let inclusive = lower.as_slice() == prefix.as_bytes() && sequencer.is_none();
        self.read(move |conn| {
            if !bucket_exists(conn, &bucket)? {
                return Err(Error::NoSuchBucket);
            }
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut bound = match (&sequencer, inclusive) {
                (Some(_), _) => "(key > :lo OR (key = :lo AND sequencer > :seq))".to_owned(),
                (None, true) => "key >= :lo".to_owned(),
                (None, false) => "key > :lo".to_owned(),
            };
            if upper.is_some() {
                bound.push_str(" AND key < :hi");
            }
            let sql = format!(
                "SELECT {OBJECT_COLUMNS}, 1 FROM objects WHERE bucket = :bucket AND {bound} \
                 UNION ALL \
                 SELECT {OBJECT_COLUMNS}, 0 FROM versions WHERE bucket = :bucket AND {bound} \
                 ORDER BY key, sequencer LIMIT :limit"
            );
            let limit = limit_i64(limit);
            let mut named: Vec<(&str, &dyn ToSql)> =
                vec![(":bucket", &bucket), (":lo", &lower), (":limit", &limit)];
            if let Some(seq) = &sequencer {
                named.push((":seq", seq));
            }
            if let Some(hi) = &upper {
                named.push((":hi", hi));
            }
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query(named.as_slice()).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(ListedVersion {
                    object: object_from_row(row)?,
                    is_latest: row.get::<_, i64>(23).db()? != 0,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        self.write(move |conn| {
            if !bucket_exists(conn, &upload.bucket)? {
                return Err(Error::NoSuchBucket);
            }
            let h = &upload.headers;
            conn.prepare_cached(
                "INSERT INTO uploads (upload_id, bucket, key, initiated, content_type, content_encoding, \
                 content_disposition, content_language, cache_control, expires, user_metadata, \
                 checksum_algorithm, checksum_type, initiator, owner, acl, sequencer, attrs) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )
            .db()?
            .execute(params![
                upload.upload_id,
                upload.bucket,
                upload.key.as_bytes(),
                upload.initiated,
                h.content_type,
                h.content_encoding,
                h.content_disposition,
                h.content_language,
                h.cache_control,
                h.expires,
                encode_metadata(&upload.user_metadata)?,
                upload.checksum_algorithm.map(ChecksumAlgorithm::as_str),
                upload.checksum_type.map(ChecksumType::as_str),
                upload.initiator,
                upload.owner,
                upload.acl,
                upload.sequencer,
                encode_attrs(&upload.attrs),
            ])
            .db()?;
            Ok(())
        })
        .await
    }

    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        let upload_id = upload_id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1");
            Ok(collect(conn, &sql, &[&upload_id], upload_from_row)?
                .into_iter()
                .next())
        })
        .await
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after_key: ListAfter,
        after_upload_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        let bucket = bucket.to_owned();
        let prefix = prefix.to_owned();
        // An empty upload id marker is taken as none: after every upload of `after_key`.
        let after_upload_id = after_upload_id.filter(|u| !u.is_empty()).map(str::to_owned);
        self.read(move |conn| {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let limit = limit_i64(limit);
            let upper = prefix_successor(prefix.as_bytes());
            // The marker: every upload of a key below `key`, and of `key` itself up to
            // `(initiated, upload_id)` of the marker upload, has been listed.
            let marker = match (after_key, after_upload_id) {
                (Some(key), Some(upload_id)) if key.as_slice() >= prefix.as_bytes() => {
                    let initiated: Option<i64> = conn
                        .prepare_cached("SELECT initiated FROM uploads WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3")
                        .db()?
                        .query_row(params![upload_id, bucket, key], |r| r.get(0))
                        .optional()
                        .db()?;
                    Some((key, Some((upload_id, initiated))))
                }
                (Some(key), _) if key.as_slice() >= prefix.as_bytes() => Some((key, None)),
                _ => None,
            };
            let prefix_bytes = prefix.into_bytes();
            let mut sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = :bucket");
            let mut params: Vec<(&str, &dyn ToSql)> = vec![(":bucket", &bucket), (":limit", &limit)];
            match &marker {
                None => {
                    sql.push_str(" AND key >= :lo");
                    params.push((":lo", &prefix_bytes));
                }
                Some((key, None)) => {
                    sql.push_str(" AND key > :lo");
                    params.push((":lo", key));
                }
                Some((key, Some((upload_id, Some(initiated))))) => {
                    sql.push_str(
                        " AND key >= :lo AND (key > :lo OR initiated > :initiated \
                         OR (initiated = :initiated AND upload_id > :upload_id))",
                    );
                    params.push((":lo", key));
                    params.push((":initiated", initiated));
                    params.push((":upload_id", upload_id));
                }
                Some((key, Some((upload_id, None)))) => {
                    // The marker upload is gone (aborted or completed meanwhile): fall back to
                    // S3's documented rule, uploads of that key with a greater upload id.
                    sql.push_str(" AND key >= :lo AND (key > :lo OR upload_id > :upload_id)");
                    params.push((":lo", key));
                    params.push((":upload_id", upload_id));
                }
            }
            if let Some(hi) = &upper {
                sql.push_str(" AND key < :hi");
                params.push((":hi", hi));
            }
            sql.push_str(" ORDER BY key, initiated, upload_id LIMIT :limit");
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query(params.as_slice()).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(upload_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<Option<BlobId>> {
        let upload_id = upload_id.to_owned();
        self.write(move |conn| {
            let exists = conn
                .prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1")
                .db()?
                .query_row([&upload_id], |_| Ok(()))
                .optional()
                .db()?
                .is_some();
            if !exists {
                return Err(Error::NoSuchUpload);
            }
            let old: Option<String> = conn
                .prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2")
                .db()?
                .query_row(params![upload_id, part.part_number], |r| r.get(0))
                .optional()
                .db()?;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, last_modified, blob, checksums) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db()?
            .execute(params![
                upload_id,
                part.part_number,
                to_i64(part.size)?,
                part.etag,
                part.last_modified,
                part.blob.as_str(),
                encode_checksums(&part.checksums),
            ])
            .db()?;
            // The same blob stored again stays referenced: not freed.
            Ok(old.filter(|b| b != part.blob.as_str()).map(BlobId))
        })
        .await
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        let upload_id = upload_id.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {PART_COLUMNS} FROM parts WHERE upload_id = ?1 AND part_number > ?2 \
                 ORDER BY part_number LIMIT ?3"
            );
            collect(
                conn,
                &sql,
                &[&upload_id, &after, &limit_i64(limit)],
                part_from_row,
            )
        })
        .await
    }

    async fn complete_upload(&self, request: CompleteRequest) -> Result<Vec<BlobId>> {
        self.write(move |conn| {
            let CompleteRequest { upload_id, object, segments, condition } = request;
            let upload: Option<(String, Vec<u8>)> = conn
                .prepare_cached("SELECT bucket, key FROM uploads WHERE upload_id = ?1")
                .db()?
                .query_row([&upload_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            let Some((bucket, key)) = upload else {
                return Err(Error::NoSuchUpload);
            };
            if bucket != object.bucket || key != object.key.as_bytes() {
                return Err(Error::Internal(format!(
                    "complete of upload {upload_id} names another bucket/key than the upload's"
                )));
            }
            let current = current_version(conn, &object.bucket, &object.key)?;
            condition.check(Current::condition_etag(&current))?;
            {
                let mut stmt = conn
                    .prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2")
                    .db()?;
                for s in &segments {
                    let blob: Option<String> =
                        stmt.query_row(params![upload_id, s.part_number], |r| r.get(0)).optional().db()?;
                    if blob.as_deref() != Some(s.blob.as_str()) {
                        debug!(upload_id = %upload_id, part = s.part_number, "part changed under complete");
                        return Err(Error::Conflict);
                    }
                }
            }
            let mut freed = place_version(conn, &object, &segments)?;
            let used: HashSet<&BlobId> = segments.iter().map(|s| &s.blob).collect();
            let parts = collect_blobs(conn, "DELETE FROM parts WHERE upload_id = ?1 RETURNING blob", &[&upload_id])?;
            freed.extend(parts.into_iter().filter(|b| !used.contains(b)));
            conn.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1").db()?.execute([&upload_id]).db()?;
            let (alg, ctype, cvalue) = match &object.checksum {
                Some(c) => (Some(c.algorithm.as_str()), Some(c.checksum_type.as_str()), Some(c.value.as_str())),
                None => (None, None, None),
            };
            conn.prepare_cached(
                "INSERT OR REPLACE INTO completed_uploads (upload_id, bucket, key, etag, checksum_algorithm, \
                 checksum_type, checksum_value, completed, version_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .db()?
            .execute(params![
                upload_id, object.bucket, object.key, object.etag, alg, ctype, cvalue, now_millis(), object.version_id
            ])
            .db()?;
            Ok(freed)
        })
        .await
    }

    async fn get_completed_upload(&self, upload_id: &str) -> Result<Option<CompletedUpload>> {
        let upload_id = upload_id.to_owned();
        self.read(move |conn| {
            let rows = collect(
                conn,
                "SELECT upload_id, bucket, key, etag, checksum_algorithm, checksum_type, checksum_value, completed, \
                 version_id FROM completed_uploads WHERE upload_id = ?1",
                &[&upload_id],
                |r| {
                    Ok(CompletedUpload {
                        upload_id: r.get(0).db()?,
                        bucket: r.get(1).db()?,
                        key: r.get(2).db()?,
                        etag: r.get(3).db()?,
                        checksum: decode_object_checksum(r.get(4).db()?, r.get(5).db()?, r.get(6).db()?)?,
                        completed: r.get(7).db()?,
                        version_id: r.get(8).db()?,
                    })
                },
            )?;
            Ok(rows.into_iter().next())
        })
        .await
    }

    async fn prune_completed_uploads(&self, before: tessera_core::Millis) -> Result<u64> {
        self.write_freeing(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM completed_uploads WHERE completed < ?1")
                .db()?
                .execute([before])
                .db()?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<BlobId>> {
        let upload_id = upload_id.to_owned();
        self.write_freeing(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")
                .db()?
                .execute([&upload_id])
                .db()?;
            if deleted == 0 {
                return Err(Error::NoSuchUpload);
            }
            collect_blobs(
                conn,
                "DELETE FROM parts WHERE upload_id = ?1 RETURNING blob",
                &[&upload_id],
            )
        })
        .await
    }

    async fn auth_epoch(&self) -> Result<u64> {
        self.read(identity::auth_epoch).await
    }

    async fn epoch_and_bucket(&self, bucket: Option<&str>) -> Result<(u64, Option<BucketRecord>)> {
        let bucket = bucket.map(str::to_owned);
        self.read(move |conn| {
            let epoch = identity::auth_epoch(conn)?;
            let record = match bucket {
                Some(name) => collect(
                    conn,
                    &format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1"),
                    &[&name],
                    bucket_from_row,
                )?
                .into_iter()
                .next(),
                None => None,
            };
            Ok((epoch, record))
        })
        .await
    }

    async fn create_account(&self, account: Account, root_key: Option<AccessKey>) -> Result<()> {
        self.write(move |conn| identity::create_account(conn, &account, root_key.as_ref()))
            .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.read(identity::list_accounts).await
    }

    async fn delete_account(&self, account_id: &str) -> Result<()> {
        let id = account_id.to_owned();
        self.write(move |conn| identity::delete_account(conn, &id))
            .await
    }

    async fn set_root_key(&self, key: AccessKey) -> Result<()> {
        self.write(move |conn| identity::set_root_key(conn, &key))
            .await
    }

    async fn create_user(&self, user: User) -> Result<()> {
        self.write(move |conn| identity::create_user(conn, &user))
            .await
    }

    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<User>> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.read(move |conn| identity::get_user(conn, &a, &n))
            .await
    }

    async fn list_users(&self, account_id: &str) -> Result<Vec<User>> {
        let a = account_id.to_owned();
        self.read(move |conn| identity::list_users(conn, &a)).await
    }

    async fn update_user(&self, account_id: &str, name: &str, updated: User) -> Result<()> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.write(move |conn| identity::update_user(conn, &a, &n, &updated))
            .await
    }

    async fn delete_user(&self, account_id: &str, name: &str) -> Result<()> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.write(move |conn| identity::delete_user(conn, &a, &n))
            .await
    }

    async fn create_access_key(&self, key: AccessKey) -> Result<()> {
        self.write(move |conn| identity::create_access_key(conn, &key))
            .await
    }

    async fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        let id = access_key_id.to_owned();
        self.read(move |conn| identity::get_access_key(conn, &id))
            .await
    }

    async fn list_access_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>> {
        let owner = owner.clone();
        self.read(move |conn| identity::list_access_keys(conn, &owner))
            .await
    }

    async fn set_access_key_status(&self, access_key_id: &str, status: KeyStatus) -> Result<()> {
        let id = access_key_id.to_owned();
        self.write(move |conn| identity::set_access_key_status(conn, &id, status))
            .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<()> {
        let id = access_key_id.to_owned();
        self.write(move |conn| identity::delete_access_key(conn, &id))
            .await
    }

    async fn record_key_use(&self, access_key_id: &str, used: KeyUse) -> Result<()> {
        let id = access_key_id.to_owned();
        self.write(move |conn| identity::record_key_use(conn, &id, &used))
            .await
    }

    async fn put_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        policy: UserPolicy,
    ) -> Result<()> {
        let (a, u) = (account_id.to_owned(), user_name.to_owned());
        self.write(move |conn| identity::put_user_policy(conn, &a, &u, &policy))
            .await
    }

    async fn list_user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Result<Vec<UserPolicy>> {
        let (a, u) = (account_id.to_owned(), user_name.to_owned());
        self.read(move |conn| identity::list_user_policies(conn, &a, &u))
            .await
    }

    async fn delete_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        name: &str,
    ) -> Result<()> {
        let (a, u, n) = (account_id.to_owned(), user_name.to_owned(), name.to_owned());
        self.write(move |conn| identity::delete_user_policy(conn, &a, &u, &n))
            .await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: tessera_core::Millis,
        until: tessera_core::Millis,
    ) -> Result<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            // One statement: taken if absent, else updated only if ours or expired.
            let changed = conn
                .prepare_cached(
                    "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?4)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                     WHERE leases.holder = excluded.holder OR leases.until <= ?3",
                )
                .db()?
                .execute(params![name, holder, now, until])
                .db()?;
            Ok(changed == 1)
        })
        .await
    }

    async fn referenced_blobs(&self, candidates: &[BlobId]) -> Result<Vec<BlobId>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let candidates = candidates.to_vec();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM segments WHERE blob = ?1) \
                         OR EXISTS (SELECT 1 FROM parts WHERE blob = ?1)",
                )
                .db()?;
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for blob in candidates {
                if seen.contains(&blob) {
                    continue;
                }
                let referenced: bool = stmt.query_row([blob.as_str()], |r| r.get(0)).db()?;
                if referenced {
                    out.push(blob.clone());
                }
                seen.insert(blob);
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-only store sees what the server's store commits, blocks none of its writes,
    /// refuses writes itself, and creates nothing.
    #[tokio::test]
    async fn read_only_beside_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let missing = SqliteMetaStore::open_read_only(&dir.path().join("none.db")).await;
        assert!(missing.is_err());
        assert!(!dir.path().join("none.db").exists());
        let bucket = |name: &str| BucketRecord {
            owner: "111122223333".into(),
            name: name.into(),
            created: 1,
            region: "us-east-1".into(),
            settings: BTreeMap::new(),
        };
        let server = SqliteMetaStore::open(&path).await.unwrap();
        server.create_bucket(bucket("a")).await.unwrap();
        let ro = SqliteMetaStore::open_read_only(&path).await.unwrap();
        assert!(ro.get_bucket("a").await.unwrap().is_some());
        assert!(ro.create_bucket(bucket("c")).await.is_err());
        assert!(ro
            .referenced_blobs(&[BlobId::random()])
            .await
            .unwrap()
            .is_empty());
        // The server keeps writing while the reader is open, and the reader sees it.
        server.create_bucket(bucket("b")).await.unwrap();
        assert!(ro.get_bucket("b").await.unwrap().is_some());
        assert!(ro.get_bucket("c").await.unwrap().is_none());
        drop(ro);
        drop(server);
    }

    #[test]
    fn reserve_is_made_kept_released_and_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.reserve");
        let mut r = Reserve::open(path.clone(), 3 << 20);
        assert!(r.held);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 << 20);
        // Plenty of room here: nothing is released.
        r.release_if_short();
        assert!(r.held && path.exists());
        // Pretend the disk was full: released, then made again once the retry delay passed.
        std::fs::remove_file(&path).unwrap();
        r.held = false;
        r.last_try = Some(std::time::Instant::now());
        r.refill();
        assert!(
            !path.exists(),
            "refills wait {RESERVE_RETRY:?} after a release"
        );
        r.last_try = None;
        r.refill();
        assert!(r.held);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 << 20);
        // A reserve of 0 bytes is no reserve.
        let none = Reserve::open(dir.path().join("none.reserve"), 0);
        assert!(none.held && !dir.path().join("none.reserve").exists());
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_successor(b"a"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xFF, 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(&[0xFF]), None);
        assert_eq!(prefix_successor("é".as_bytes()), Some(vec![0xC3, 0xAA]));
    }

    #[test]
    fn settings_encoding_round_trips() {
        let mut m = BTreeMap::new();
        assert_eq!(encode_settings(&m), None);
        assert!(decode_settings(None).unwrap().is_empty());
        m.insert("policy".to_owned(), "{\"a\":\"x\ny\"}\n".to_owned());
        m.insert("acl".to_owned(), "é€ 1\n2".to_owned());
        m.insert("empty".to_owned(), String::new());
        assert_eq!(decode_settings(encode_settings(&m)).unwrap(), m);
        let old = r#"{"policy":"{\"a\":1}"}"#.to_owned();
        assert_eq!(decode_settings(Some(old)).unwrap()["policy"], "{\"a\":1}");
        for broken in ["policy\n", "policy\n9\nshort", "p\nx\ny", "acl\n1\n\u{e9}"] {
            assert!(
                decode_settings(Some(broken.to_owned())).is_err(),
                "{broken:?}"
            );
        }
    }

    #[test]
    fn checksum_encoding_round_trips() {
        let values = vec![
            ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc32,
                digest: vec![1, 2, 3, 4],
            },
            ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
                digest: vec![9; 8],
            },
            ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha256,
                digest: vec![7; 32],
            },
        ];
        let text = encode_checksums(&values);
        assert!(text.starts_with("CRC32:AQIDBA==,CRC64NVME:"));
        assert_eq!(decode_checksums(&text).unwrap(), values);
        assert_eq!(decode_checksums("").unwrap(), vec![]);
        assert!(decode_checksums("CRC32:AQ==").is_err());
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    /// Listing and lookups must be index range scans: no full scan, no sort of all rows.
    #[test]
    fn query_plans_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("m.db")).unwrap();
        let segments = GET_SEGMENTS_SQL
            .replace("?1", "'o'")
            .replace("?2", "5")
            .replace("?3", "10");
        let cases = [
            "SELECT key FROM objects WHERE bucket = 'b' AND key > x'61' AND key < x'62' ORDER BY key LIMIT 1000",
            segments.as_str(),
            "SELECT * FROM segments WHERE object_id = 'o' AND part_number > 3 ORDER BY part_number LIMIT 10",
            "SELECT * FROM parts WHERE upload_id = 'u' AND part_number > 3 ORDER BY part_number LIMIT 10",
            "SELECT * FROM uploads WHERE bucket = 'b' AND key >= x'61' AND (key > x'61' OR initiated > 5 \
             OR (initiated = 5 AND upload_id > 'u')) AND key < x'62' ORDER BY key, initiated, upload_id LIMIT 10",
            "SELECT EXISTS (SELECT 1 FROM segments WHERE blob = 'x') OR EXISTS (SELECT 1 FROM parts WHERE blob = 'x')",
            "SELECT upload_id FROM uploads WHERE bucket = 'b'",
            "SELECT 1 FROM objects WHERE bucket = 'b' LIMIT 1",
        ];
        for sql in cases {
            let p = plan(&conn, sql);
            println!("{sql}\n    {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
            for part in p.split(" | ") {
                let full_scan = part.starts_with("SCAN")
                    && !part.contains("USING")
                    && part != "SCAN CONSTANT ROW";
                assert!(!full_scan, "{sql}: {p}");
            }
        }
    }

    /// Concurrent writes share transactions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_batches_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteMetaStore::open(&dir.path().join("m.db"))
                .await
                .unwrap(),
        );
        store
            .create_bucket(BucketRecord {
                owner: "111122223333".into(),
                name: "b".into(),
                created: 0,
                region: "r".into(),
                settings: BTreeMap::new(),
            })
            .await
            .unwrap();
        let before = store.commits();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1000 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let object = ObjectRecord {
                    bucket: "b".into(),
                    key: format!("k{i}"),
                    object_id: format!("id{i}"),
                    size: 0,
                    etag: "e".into(),
                    last_modified: 0,
                    headers: ContentHeaders::default(),
                    user_metadata: BTreeMap::new(),
                    checksum: None,
                    parts_count: None,
                    owner: String::new(),
                    acl: None,
                    version_id: NULL_VERSION.into(),
                    sequencer: tessera_core::new_sequencer(),
                    delete_marker: false,
                    attrs: ObjectAttrs::default(),
                };
                store
                    .put_object(object, Vec::new(), WriteCondition::default())
                    .await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap().unwrap();
        }
        let commits = store.commits() - before;
        assert!(
            commits < 500,
            "1000 concurrent writes took {commits} commits"
        );
        assert_eq!(
            store.list_objects("b", "", None, 2000).await.unwrap().len(),
            1000
        );
    }

    /// A failing job's own writes are rolled back; the jobs batched with it commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_job_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteMetaStore::open(&dir.path().join("m.db"))
                .await
                .unwrap(),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let result = store
                    .write(move |conn| {
                        conn.execute(
                            "INSERT INTO buckets (name, created, region) VALUES (?1, 0, 'r')",
                            [format!("b{i:03}")],
                        )
                        .db()?;
                        match i % 3 {
                            0 => Err(Error::Conflict),
                            1 if i < 10 => panic!("job {i} panics (expected by this test)"),
                            1 => Err(Error::NoSuchUpload),
                            _ => Ok(i),
                        }
                    })
                    .await;
                (i, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.unwrap();
            match i % 3 {
                0 => assert!(matches!(result, Err(Error::Conflict))),
                1 if i < 10 => assert!(matches!(result, Err(Error::Internal(_)))),
                1 => assert!(matches!(result, Err(Error::NoSuchUpload))),
                _ => assert_eq!(result.unwrap(), i),
            }
        }
        let names: Vec<String> = store
            .list_buckets(None, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect();
        let expected: Vec<String> = (0..200)
            .filter(|i| i % 3 == 2)
            .map(|i| format!("b{i:03}"))
            .collect();
        assert_eq!(names, expected);
    }
}
