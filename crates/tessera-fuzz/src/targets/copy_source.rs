//! `x-amz-copy-source`: s3s parses it, Tessera takes bucket, key and version from it.
//!
//! Input: the header value (the whole input, lossy UTF-8).

use s3s::dto::CopySource;

pub fn run(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let Ok(source) = CopySource::parse(&header) else {
        return;
    };
    // parse(format(x)) == x
    let formatted = source.format_to_string();
    match CopySource::parse(&formatted) {
        Ok(again) => assert_eq!(again, source, "{header:?} -> {formatted:?}"),
        Err(e) => panic!("{header:?} -> {formatted:?} does not parse again: {e:?}"),
    }
    if let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = &source
    {
        // What Tessera then checks (service.rs `copy_source` and the domain's name rules).
        let _ = version_id.as_deref().is_some_and(|v| v != "null");
        let _ = tessera_core::names::validate_bucket_name(bucket);
        let _ = tessera_core::names::validate_key(key);
    }
}
