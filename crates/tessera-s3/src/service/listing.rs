//! Key listings: ListObjects (V1), ListObjectsV2, ListObjectVersions.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::objects::ListRequest;
use tessera_core::versions::ListVersionsRequest;
use tessera_core::{ObjectRecord, Tessera};

use super::common::{
    common_prefixes, decode_token, delimiter_out, encode, encode_token, encoding_url, i64_of,
    marker_out, Owners,
};
use crate::convert;
use crate::errors::to_s3;

/// The domain request of the three key listings.
fn list_request(
    bucket: &str,
    prefix: &Option<String>,
    delimiter: &Option<String>,
    after: Option<String>,
    max_keys: usize,
) -> ListRequest {
    ListRequest {
        bucket: bucket.to_string(),
        prefix: prefix.clone().unwrap_or_default(),
        delimiter: delimiter.clone(),
        after,
        max_keys,
    }
}

fn list_entry(o: &ObjectRecord, url: bool, owner: Option<&Owner>) -> Object {
    Object {
        checksum_algorithm: o
            .checksum
            .as_ref()
            .map(|c| vec![convert::algorithm_out(c.algorithm)]),
        checksum_type: o
            .checksum
            .as_ref()
            .map(|c| convert::checksum_type_out(c.checksum_type)),
        e_tag: Some(convert::etag(&o.etag)),
        key: Some(encode(&o.key, url)),
        last_modified: Some(convert::ts(o.last_modified)),
        owner: owner.cloned(),
        restore_status: None,
        size: Some(i64_of(o.size)),
        storage_class: Some(ObjectStorageClass::from(
            o.attrs
                .storage_class
                .clone()
                .unwrap_or_else(|| ObjectStorageClass::STANDARD.to_owned()),
        )),
    }
}

/// ListObjects.
pub async fn list_objects(
    app: &Tessera,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let owners = Owners::load(app).await?;
    let input = req.input;
    let url = encoding_url(&input.encoding_type)?;
    let max = convert::page_size(input.max_keys, "max-keys")?;
    let request = list_request(
        &input.bucket,
        &input.prefix,
        &input.delimiter,
        input.marker.clone().filter(|m| !m.is_empty()),
        max,
    );
    let page = app.list_objects(&request).await.map_err(to_s3)?;
    let next_marker = (page.is_truncated && input.delimiter.is_some())
        .then(|| page.next_marker.as_deref().map(|m| encode(m, url)))
        .flatten();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        // ListObjects V1 URL-encodes keys, prefixes of CommonPrefixes, Delimiter and the
        // markers, but not the Prefix element (clients decode only those).
        prefix: Some(request.prefix.clone()),
        marker: Some(marker_out(input.marker.as_deref(), url)),
        max_keys: Some(convert::page_size_out(max)),
        is_truncated: Some(page.is_truncated),
        contents: Some(
            page.objects
                .iter()
                .map(|o| list_entry(o, url, Some(&owners.owner(&o.owner))))
                .collect(),
        ),
        common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
        delimiter: delimiter_out(input.delimiter, url),
        next_marker,
        encoding_type: input.encoding_type,
        request_charged: None,
    }))
}

/// ListObjectsV2.
pub async fn list_objects_v2(
    app: &Tessera,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let owners = Owners::load(app).await?;
    let input = req.input;
    let url = encoding_url(&input.encoding_type)?;
    let max = convert::page_size(input.max_keys, "max-keys")?;
    let after = match input.continuation_token.as_deref() {
        Some(t) => Some(decode_token(t)?),
        None => input.start_after.clone().filter(|s| !s.is_empty()),
    };
    let request = list_request(&input.bucket, &input.prefix, &input.delimiter, after, max);
    let page = app.list_objects(&request).await.map_err(to_s3)?;
    let with_owner = input.fetch_owner.unwrap_or(false);
    let key_count = page.objects.len() + page.common_prefixes.len();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(encode(&request.prefix, url)),
        max_keys: Some(convert::page_size_out(max)),
        key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
        continuation_token: input.continuation_token,
        is_truncated: Some(page.is_truncated),
        next_continuation_token: page
            .is_truncated
            .then(|| page.next_marker.as_deref().map(encode_token))
            .flatten(),
        contents: Some(
            page.objects
                .iter()
                .map(|o| list_entry(o, url, with_owner.then(|| owners.owner(&o.owner)).as_ref()))
                .collect(),
        ),
        common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
        delimiter: delimiter_out(input.delimiter, url),
        encoding_type: input.encoding_type,
        start_after: input.start_after.map(|s| encode(&s, url)),
        request_charged: None,
    }))
}

/// ListObjectVersions: versions and delete markers, by key then newest first.
pub async fn list_object_versions(
    app: &Tessera,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let owners = Owners::load(app).await?;
    let input = req.input;
    let url = encoding_url(&input.encoding_type)?;
    let max = convert::page_size(input.max_keys, "max-keys")?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let request = ListVersionsRequest {
        bucket: input.bucket.clone(),
        prefix: prefix.clone(),
        delimiter: input.delimiter.clone(),
        key_marker: input.key_marker.clone(),
        version_id_marker: input.version_id_marker.clone(),
        max_keys: max,
    };
    let page = app.list_versions(&request).await.map_err(to_s3)?;
    let mut versions = Vec::new();
    let mut delete_markers = Vec::new();
    for v in &page.versions {
        let o = &v.object;
        if o.delete_marker {
            delete_markers.push(DeleteMarkerEntry {
                is_latest: Some(v.is_latest),
                key: Some(encode(&o.key, url)),
                last_modified: Some(convert::ts(o.last_modified)),
                owner: Some(owners.owner(&o.owner)),
                version_id: Some(o.version_id.clone()),
            });
            continue;
        }
        versions.push(ObjectVersion {
            checksum_algorithm: o
                .checksum
                .as_ref()
                .map(|c| vec![convert::algorithm_out(c.algorithm)]),
            checksum_type: o
                .checksum
                .as_ref()
                .map(|c| convert::checksum_type_out(c.checksum_type)),
            e_tag: Some(convert::etag(&o.etag)),
            is_latest: Some(v.is_latest),
            key: Some(encode(&o.key, url)),
            last_modified: Some(convert::ts(o.last_modified)),
            owner: Some(owners.owner(&o.owner)),
            restore_status: None,
            size: Some(i64_of(o.size)),
            storage_class: Some(ObjectVersionStorageClass::from(
                o.attrs
                    .storage_class
                    .clone()
                    .unwrap_or_else(|| ObjectVersionStorageClass::STANDARD.to_owned()),
            )),
            version_id: Some(o.version_id.clone()),
        });
    }
    let (next_key_marker, next_version_id_marker) = if page.is_truncated {
        (
            page.next_key_marker.as_deref().map(|m| encode(m, url)),
            page.next_version_id_marker,
        )
    } else {
        (None, None)
    };
    let order: String = page
        .versions
        .iter()
        .map(|v| if v.object.delete_marker { 'm' } else { 'v' })
        .collect();
    let mut resp = S3Response::new(ListObjectVersionsOutput {
        common_prefixes: Some(common_prefixes(&page.common_prefixes, url)),
        delete_markers: Some(delete_markers),
        delimiter: delimiter_out(input.delimiter, url),
        encoding_type: input.encoding_type,
        is_truncated: Some(page.is_truncated),
        key_marker: Some(marker_out(input.key_marker.as_deref(), url)),
        max_keys: Some(convert::page_size_out(max)),
        name: Some(input.bucket),
        next_version_id_marker,
        next_key_marker,
        prefix: Some(encode(&prefix, url)),
        request_charged: None,
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        versions: Some(versions),
    });
    // s3s writes the two lists apart; the pipeline merges them in this order.
    if let Ok(v) = http::HeaderValue::from_str(&order) {
        resp.headers
            .insert(crate::responses::VERSION_ORDER_HEADER, v);
    }
    Ok(resp)
}
