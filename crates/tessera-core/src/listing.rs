//! The delimiter walk shared by ListObjects and ListMultipartUploads: entries in key order, keys
//! that contain the delimiter after the prefix rolled up into common prefixes, at most `max`
//! items, each common prefix skipped past with one seek (never by reading its keys).

use std::future::Future;

use crate::error::Result;

/// One item of a listing page, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<T> {
    Entry(T),
    CommonPrefix(String),
}

/// A listing page: the items in order and whether more follow.
#[derive(Clone, Debug)]
pub struct Walked<T> {
    pub items: Vec<Item<T>>,
    pub is_truncated: bool,
}

/// How the walk reads entries from a store.
pub trait Source {
    /// What is listed (an object, an upload).
    type Entry;
    /// Where a read starts (exclusive).
    type Cursor: Clone;
    /// Up to `limit` entries after `cursor`, in order, all under the listing's prefix.
    fn fetch(
        &self,
        cursor: Self::Cursor,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Self::Entry>>> + Send;
    /// The key of an entry.
    fn key<'a>(&self, entry: &'a Self::Entry) -> &'a str;
    /// The cursor just after `entry`.
    fn after(&self, entry: &Self::Entry) -> Self::Cursor;
    /// The cursor past every key that starts with `prefix`.
    fn past_prefix(&self, prefix: &str) -> Self::Cursor;
}

/// The cursor bytes that skip every key starting with `prefix` (0xFF never occurs in UTF-8).
pub fn past_prefix_bytes(prefix: &str) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.push(0xFF);
    v
}

/// Walks `source` from `start`. `marker` is the client's marker: common prefixes not after it
/// were returned on an earlier page and are skipped.
pub async fn walk<S: Source + Sync>(
    source: &S,
    start: S::Cursor,
    prefix: &str,
    delimiter: Option<&str>,
    marker: Option<&str>,
    max: usize,
) -> Result<Walked<S::Entry>> {
    let mut out = Walked {
        items: Vec::new(),
        is_truncated: false,
    };
    if max == 0 {
        return Ok(out);
    }
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut cursor = start;
    loop {
        let batch = source
            .fetch(cursor.clone(), max - out.items.len() + 1)
            .await?;
        if batch.is_empty() {
            return Ok(out);
        }
        let mut skip_to = None;
        for entry in batch {
            let key = source.key(&entry);
            let rolled = delimiter.and_then(|d| {
                let rest = key.get(prefix.len()..)?;
                rest.find(d)
                    .map(|pos| key[..prefix.len() + pos + d.len()].to_string())
            });
            if let Some(cp) = rolled {
                skip_to = Some(source.past_prefix(&cp));
                if marker.is_some_and(|m| cp.as_str() <= m) {
                    break;
                }
                if out.items.len() == max {
                    out.is_truncated = true;
                    return Ok(out);
                }
                out.items.push(Item::CommonPrefix(cp));
                break;
            }
            if out.items.len() == max {
                out.is_truncated = true;
                return Ok(out);
            }
            cursor = source.after(&entry);
            out.items.push(Item::Entry(entry));
        }
        if let Some(s) = skip_to {
            cursor = s;
        }
    }
}
