//! Bucket CORS: PutBucketCors, GetBucketCors, DeleteBucketCors. Authorization already ran
//! (the bucket comes from the access check). Preflights and the CORS headers of other
//! requests are answered in the pipeline (`crate::cors`).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::cors::{CorsConfiguration, CorsRule};
use tessera_core::Tessera;

use crate::auth::bucket;
use crate::errors::to_s3;

fn rule_in(r: &CORSRule) -> CorsRule {
    CorsRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: r.allowed_headers.clone().unwrap_or_default(),
        expose_headers: r.expose_headers.clone().unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    }
}

/// Only the members a rule has are written back, as S3 does.
fn rule_out(r: &CorsRule) -> CORSRule {
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    CORSRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: list(&r.allowed_headers),
        expose_headers: list(&r.expose_headers),
        max_age_seconds: r.max_age_seconds,
    }
}

/// PutBucketCors: replaces the bucket's configuration.
pub async fn put_bucket_cors(
    app: &Tessera,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let b = bucket(&req.extensions)?;
    let rules = req
        .input
        .cors_configuration
        .cors_rules
        .iter()
        .map(rule_in)
        .collect();
    let config = CorsConfiguration::new(rules).map_err(to_s3)?;
    app.put_bucket_cors(&b.name, &config).await.map_err(to_s3)?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

/// GetBucketCors: NoSuchCORSConfiguration when the bucket has none.
pub async fn get_bucket_cors(
    app: &Tessera,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let b = bucket(&req.extensions)?;
    let config = app.bucket_cors(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(config.rules().iter().map(rule_out).collect()),
    }))
}

/// DeleteBucketCors: 204, whether or not there was a configuration.
pub async fn delete_bucket_cors(
    app: &Tessera,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_bucket_cors(&b.name).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketCorsOutput {}))
}
