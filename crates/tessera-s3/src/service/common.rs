//! Request and response pieces several operation families share.

use base64::Engine as _;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result};
use tessera_core::accounts::Account;
use tessera_core::conditions::ReadConditions;
use tessera_core::payload::PayloadChecks;
use tessera_core::WriteCondition;

use crate::convert::{self, ChecksumFields};

/// The Owner of an account's buckets, objects and uploads: its canonical id and name.
pub fn owner(account: &Account) -> Owner {
    Owner {
        display_name: Some(account.name.clone()),
        id: Some(account.canonical_id.clone()),
    }
}

/// The accounts, to show Owner and Initiator fields of objects and uploads.
pub struct Owners(std::sync::Arc<Vec<Account>>);

impl Owners {
    /// The accounts as cached by the core (one epoch read).
    pub async fn load(app: &tessera_core::Tessera) -> S3Result<Self> {
        Ok(Owners(app.accounts().await.map_err(crate::errors::to_s3)?))
    }

    fn account(&self, id: &str) -> Option<&Account> {
        self.0.iter().find(|a| a.id == id)
    }

    /// The Owner of an account's resource (only its id if the account is gone).
    pub fn owner(&self, account_id: &str) -> Owner {
        match self.account(account_id) {
            Some(a) => owner(a),
            None => Owner {
                display_name: None,
                id: Some(account_id.to_owned()),
            },
        }
    }

    /// The Initiator of an upload from its initiator ARN: an account root shows as the
    /// account (canonical id and name), an IAM user by its ARN and name, as S3 shows them.
    pub fn initiator(&self, arn: &str) -> Initiator {
        let account = arn.split(':').nth(4).and_then(|id| self.account(id));
        match account {
            Some(a) if arn.ends_with(":root") => Initiator {
                display_name: Some(a.name.clone()),
                id: Some(a.canonical_id.clone()),
            },
            _ => Initiator {
                display_name: arn.rsplit('/').next().map(str::to_owned),
                id: Some(arn.to_owned()),
            },
        }
    }
}

/// A size or count for an `i64` field.
pub fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A part number or count for an `i32` field.
pub fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The integrity checks of an uploaded body: Content-MD5, an `x-amz-checksum-*` value or a
/// trailer, the algorithm named, the decoded length announced.
pub fn checks(
    headers: &http::HeaderMap,
    trailers: Option<s3s::TrailingHeaders>,
    content_md5: Option<String>,
    sent: ChecksumFields,
    algorithm: Option<&ChecksumAlgorithm>,
) -> S3Result<PayloadChecks> {
    let trailer_alg = convert::trailer_algorithm(headers)?;
    let named = algorithm.map(convert::algorithm).transpose()?;
    Ok(PayloadChecks {
        content_md5,
        checksum: sent.value()?,
        algorithm: trailer_alg.or(named),
        trailer: convert::trailer_reader(trailers, trailer_alg),
        length: convert::decoded_length(headers),
    })
}

/// The conditions of a write; Tessera supports `If-None-Match: *` only.
pub fn write_condition(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<WriteCondition> {
    let if_none_match_any = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "If-None-Match on writes supports only '*'",
            ))
        }
    };
    Ok(WriteCondition {
        if_none_match_any,
        if_match: convert::condition(if_match),
        ..WriteCondition::default()
    })
}

/// The `If-*` conditions of a read or of a copy source.
pub fn read_conditions(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
) -> ReadConditions {
    ReadConditions {
        if_match: convert::condition(if_match),
        if_none_match: convert::condition(if_none_match),
        if_modified_since: if_modified_since.as_ref().map(convert::millis),
        if_unmodified_since: if_unmodified_since.as_ref().map(convert::millis),
    }
}

/// The bucket, key and version id (if named) of a copy source.
pub fn copy_source(src: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_owned),
        )),
        _ => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Access point copy sources are not supported",
        )),
    }
}

/// Continuation tokens are opaque to clients: base64 of the name to resume after.
pub fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// The name a continuation token resumes after.
pub fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}

/// Whether `encoding-type=url` was asked.
pub fn encoding_url(e: &Option<EncodingType>) -> S3Result<bool> {
    match e {
        None => Ok(false),
        Some(e) if e.as_str().eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// A key, prefix or marker, URL-encoded when asked.
pub fn encode(s: &str, url: bool) -> String {
    if url {
        convert::url_encode(s)
    } else {
        s.to_string()
    }
}

/// CommonPrefixes elements, URL-encoded when asked.
pub fn common_prefixes(prefixes: &[String], url: bool) -> Vec<CommonPrefix> {
    prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(encode(p, url)),
        })
        .collect()
}

/// A listing's echoed Delimiter: absent when empty.
pub fn delimiter_out(delimiter: Option<String>, url: bool) -> Option<String> {
    delimiter.filter(|d| !d.is_empty()).map(|d| encode(&d, url))
}

/// A listing's echoed marker: empty when none was sent.
pub fn marker_out(marker: Option<&str>, url: bool) -> String {
    marker.map(|m| encode(m, url)).unwrap_or_default()
}
