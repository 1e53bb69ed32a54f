//! A minimal path-style S3 client: just the calls the benchmark makes, every
//! S3 request signed with SigV4 and `x-amz-content-sha256: UNSIGNED-PAYLOAD`
//! (plus STS GetCallerIdentity, whose body is signed).

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sha2::{Digest, Sha256};

use crate::sigv4::{self, Credentials, SignRequest, UNSIGNED_PAYLOAD};

/// One response, its body read whole (S3 answers here are small).
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    /// `x-amz-server-side-encryption`, if the answer has it.
    pub sse: Option<String>,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The S3 endpoint, the credentials and a pooled HTTP/1.1 client.
#[derive(Clone)]
pub struct S3 {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `scheme://authority`, no trailing slash.
    base: String,
    /// The `Host` header value, exactly as signed.
    host: String,
    creds: Credentials,
    timeout: Duration,
}

/// A part as CompleteMultipartUpload wants it.
#[derive(Clone, Debug)]
pub struct CompletedPart {
    pub number: u32,
    pub etag: String,
}

/// One ListParts page, parsed.
#[derive(Debug, Default, PartialEq)]
pub struct PartsPage {
    pub part_numbers: Vec<u32>,
    pub is_truncated: bool,
    pub next_marker: Option<u32>,
}

impl S3 {
    pub fn new(endpoint: &str, creds: Credentials, timeout: Duration) -> Result<Self> {
        let uri: Uri = endpoint
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("bad --endpoint {endpoint:?}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => bail!("only http:// endpoints are supported, not {other}://"),
            None => bail!("--endpoint needs a scheme, e.g. http://127.0.0.1:9000"),
        }
        if !matches!(uri.path(), "" | "/") {
            bail!("--endpoint must not carry a path ({endpoint:?}); addressing is path-style");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("--endpoint has no host: {endpoint:?}"))?
            .clone();
        // Port 80 is implied by http://, and a client leaves it out of Host.
        let host = match authority.port_u16() {
            Some(80) => authority.host().to_string(),
            _ => authority.as_str().to_string(),
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            base: format!("http://{}", authority.as_str()),
            host,
            creds,
            timeout,
        })
    }

    /// Sends one signed request; any status outside 2xx is an error that
    /// carries the S3 error body.
    pub async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Reply> {
        let what = describe(&method, bucket, key, query);
        let reply = self
            .exchange(method, bucket, key, query, body, content_type, "s3")
            .await?;
        if !reply.status.is_success() {
            bail!(
                "S3 error: {what} -> {}\n{}",
                reply.status,
                snippet(reply.text().trim())
            );
        }
        Ok(reply)
    }

    /// Sends one request signed for `service` and returns the answer whatever
    /// its status. S3 requests use UNSIGNED-PAYLOAD; other services (STS) sign the body.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: Bytes,
        content_type: Option<&str>,
        service: &str,
    ) -> Result<Reply> {
        let mut path = format!("/{}", sigv4::uri_encode(bucket, false));
        if let Some(key) = key {
            path.push('/');
            path.push_str(&sigv4::uri_encode(key, true));
        }
        let query = sigv4::canonical_query(query);
        let amz_date = sigv4::amz_date_now();
        let payload_hash = if service == "s3" {
            UNSIGNED_PAYLOAD.to_string()
        } else {
            hex::encode(Sha256::digest(&body))
        };
        let other_service;
        let creds = if service == self.creds.service {
            &self.creds
        } else {
            other_service = Credentials {
                service: service.to_string(),
                ..self.creds.clone()
            };
            &other_service
        };
        let signed = sigv4::sign(
            creds,
            &SignRequest {
                method: method.as_str(),
                encoded_path: &path,
                canonical_query: &query,
                headers: &[
                    ("host", &self.host),
                    ("x-amz-content-sha256", &payload_hash),
                    ("x-amz-date", &amz_date),
                ],
                payload_hash: &payload_hash,
                amz_date: &amz_date,
            },
        );
        let uri = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(HOST, &self.host)
            .header("x-amz-content-sha256", &payload_hash)
            .header("x-amz-date", &amz_date)
            .header(AUTHORIZATION, &signed.authorization);
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_str(ct)?);
        }
        let req = builder.body(Full::new(body))?;

        let what = format!(
            "{method} {path}{}",
            if query.is_empty() { "" } else { "?…" }
        );
        let fut = async {
            let resp = self
                .client
                .request(req)
                .await
                .with_context(|| format!("{what}: request failed"))?;
            let status = resp.status();
            let etag = resp
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let sse = resp
                .headers()
                .get("x-amz-server-side-encryption")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp
                .into_body()
                .collect()
                .await
                .with_context(|| format!("{what}: reading the response body"))?
                .to_bytes();
            anyhow::Ok(Reply {
                status,
                etag,
                sse,
                body,
            })
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| anyhow!("{what}: no answer within {:?}", self.timeout))?
    }

    /// CreateBucket; an already existing bucket that we own is fine.
    pub async fn ensure_bucket(&self, bucket: &str) -> Result<()> {
        let body = if self.creds.region == "us-east-1" {
            Bytes::new()
        } else {
            Bytes::from(format!(
                "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.creds.region
            ))
        };
        match self.send(Method::PUT, bucket, None, &[], body, None).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let msg = format!("{e:#}");
                if msg.contains("BucketAlreadyOwnedByYou") {
                    Ok(())
                } else {
                    Err(e.context(format!("creating bucket {bucket:?}")))
                }
            }
        }
    }

    /// CreateMultipartUpload, returning the UploadId.
    pub async fn create_multipart(&self, bucket: &str, key: &str) -> Result<String> {
        let reply = self
            .send(
                Method::POST,
                bucket,
                Some(key),
                &[("uploads", "")],
                Bytes::new(),
                None,
            )
            .await?;
        let text = reply.text();
        xml_tag(&text, "UploadId")
            .map(xml_unescape)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| anyhow!("CreateMultipartUpload: no UploadId in {}", snippet(&text)))
    }

    /// UploadPart, returning the part's ETag (as sent, quotes included).
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Bytes,
    ) -> Result<String> {
        let n = number.to_string();
        let reply = self
            .send(
                Method::PUT,
                bucket,
                Some(key),
                &[("partNumber", &n), ("uploadId", upload_id)],
                body,
                None,
            )
            .await?;
        reply
            .etag
            .filter(|e| !e.is_empty())
            .ok_or_else(|| anyhow!("UploadPart {number}: no ETag header in the answer"))
    }

    /// CompleteMultipartUpload, returning the object's ETag with quotes stripped.
    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<String> {
        let body = complete_body(parts);
        let reply = self
            .send(
                Method::POST,
                bucket,
                Some(key),
                &[("uploadId", upload_id)],
                Bytes::from(body),
                Some("application/xml"),
            )
            .await?;
        let text = reply.text();
        // S3 may answer 200 and still fail, with an <Error> body.
        if text.contains("<Error>") {
            bail!(
                "S3 error: CompleteMultipartUpload answered 200 with\n{}",
                snippet(&text)
            );
        }
        xml_tag(&text, "ETag")
            .map(|e| strip_quotes(&xml_unescape(e)).to_string())
            .ok_or_else(|| anyhow!("CompleteMultipartUpload: no ETag in {}", snippet(&text)))
    }

    /// One ListParts page.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        max_parts: u32,
        marker: u32,
    ) -> Result<PartsPage> {
        let max = max_parts.to_string();
        let marker = marker.to_string();
        let reply = self
            .send(
                Method::GET,
                bucket,
                Some(key),
                &[
                    ("max-parts", &max),
                    ("part-number-marker", &marker),
                    ("uploadId", upload_id),
                ],
                Bytes::new(),
                None,
            )
            .await?;
        parse_parts_page(&reply.text())
    }

    /// AbortMultipartUpload (used to clean up after a failure).
    pub async fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            bucket,
            Some(key),
            &[("uploadId", upload_id)],
            Bytes::new(),
            None,
        )
        .await
        .map(|_| ())
    }

    /// PutObject, returning the ETag (as sent, quotes included).
    pub async fn put_object(&self, bucket: &str, key: &str, body: Bytes) -> Result<String> {
        let reply = self
            .send(Method::PUT, bucket, Some(key), &[], body, None)
            .await?;
        reply
            .etag
            .filter(|e| !e.is_empty())
            .ok_or_else(|| anyhow!("PutObject {key}: no ETag header in the answer"))
    }

    /// PutBucketEncryption with SSE-S3 (`AES256`) as the bucket's default, then a small PUT
    /// to check that the server applies it (`x-amz-server-side-encryption: AES256`).
    pub async fn enable_default_sse_s3(&self, bucket: &str) -> Result<()> {
        let config = "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
        self.send(
            Method::PUT,
            bucket,
            None,
            &[("encryption", "")],
            Bytes::from_static(config.as_bytes()),
            Some("application/xml"),
        )
        .await
        .context("PutBucketEncryption")?;
        let probe = "tessera-bench/sse-probe";
        let reply = self
            .send(
                Method::PUT,
                bucket,
                Some(probe),
                &[],
                Bytes::from_static(b"probe"),
                None,
            )
            .await?;
        self.delete_object(bucket, probe).await?;
        match reply.sse.as_deref() {
            Some("AES256") => Ok(()),
            other => bail!("PutObject into {bucket} (default SSE-S3) answered x-amz-server-side-encryption {other:?}"),
        }
    }

    /// PutBucketPolicy. A 501 answer becomes [`Unsupported`], so callers can tell
    /// a server without bucket policies from a refused policy.
    pub async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<()> {
        let reply = self
            .exchange(
                Method::PUT,
                bucket,
                None,
                &[("policy", "")],
                Bytes::from(policy.to_string()),
                Some("application/json"),
                "s3",
            )
            .await?;
        if reply.status == StatusCode::NOT_IMPLEMENTED {
            return Err(Unsupported(format!(
                "the server does not implement PutBucketPolicy (PUT /{bucket}?policy -> {})",
                reply.status
            ))
            .into());
        }
        if !reply.status.is_success() {
            bail!(
                "S3 error: PutBucketPolicy on {bucket} -> {}\n{}",
                reply.status,
                snippet(reply.text().trim())
            );
        }
        Ok(())
    }

    /// DeleteBucketPolicy.
    pub async fn delete_bucket_policy(&self, bucket: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            bucket,
            None,
            &[("policy", "")],
            Bytes::new(),
            None,
        )
        .await
        .map(|_| ())
    }

    /// STS GetCallerIdentity at the same endpoint: who the credentials are.
    pub async fn caller_identity(&self) -> Result<Caller> {
        let reply = self
            .exchange(
                Method::POST,
                "",
                None,
                &[],
                Bytes::from_static(b"Action=GetCallerIdentity&Version=2011-06-15"),
                Some("application/x-www-form-urlencoded; charset=utf-8"),
                "sts",
            )
            .await?;
        let text = reply.text();
        if !reply.status.is_success() {
            bail!(
                "GetCallerIdentity -> {}\n{}",
                reply.status,
                snippet(text.trim())
            );
        }
        let field = |tag| {
            xml_tag(&text, tag)
                .map(xml_unescape)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| anyhow!("GetCallerIdentity: no {tag} in {}", snippet(&text)))
        };
        Ok(Caller {
            account: field("Account")?,
            arn: field("Arn")?,
        })
    }

    /// DeleteObject.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.send(Method::DELETE, bucket, Some(key), &[], Bytes::new(), None)
            .await
            .map(|_| ())
    }
}

/// Who signs: STS GetCallerIdentity's answer.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// The server answered 501 Not Implemented to a request the scenario needs.
#[derive(Debug)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

/// `METHOD /bucket/key?…` for error messages.
fn describe(method: &Method, bucket: &str, key: Option<&str>, query: &[(&str, &str)]) -> String {
    format!(
        "{method} /{bucket}{}{}{}",
        if key.is_some() { "/" } else { "" },
        key.unwrap_or(""),
        if query.is_empty() { "" } else { "?…" }
    )
}

/// At most the first 4000 characters of a response body, for error messages.
pub fn snippet(text: &str) -> String {
    const MAX: usize = 4000;
    match text.char_indices().nth(MAX) {
        None => text.to_string(),
        Some((i, _)) => format!("{}… ({} bytes in all)", &text[..i], text.len()),
    }
}

/// The CompleteMultipartUpload request body.
pub fn complete_body(parts: &[CompletedPart]) -> String {
    let mut body = String::with_capacity(64 + parts.len() * 80);
    body.push_str("<CompleteMultipartUpload>");
    for p in parts {
        let _ = write!(
            body,
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            p.number,
            xml_escape(&p.etag)
        );
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

/// Parses a ListPartsResult page.
pub fn parse_parts_page(text: &str) -> Result<PartsPage> {
    if text.contains("<Error>") || !text.contains("<ListParts") {
        bail!("ListParts: not a ListPartsResult: {}", snippet(text));
    }
    let part_numbers = xml_all(text, "PartNumber")
        .into_iter()
        .map(|n| {
            n.trim()
                .parse()
                .with_context(|| format!("ListParts: bad PartNumber {n:?}"))
        })
        .collect::<Result<Vec<u32>>>()?;
    let parts = xml_all(text, "Part").len();
    if parts != part_numbers.len() {
        bail!(
            "ListParts: {parts} <Part> elements but {} <PartNumber>s",
            part_numbers.len()
        );
    }
    let is_truncated = match xml_tag(text, "IsTruncated").map(str::trim) {
        Some("true") => true,
        Some("false") | None => false,
        Some(other) => bail!("ListParts: bad IsTruncated {other:?}"),
    };
    let next_marker = match xml_tag(text, "NextPartNumberMarker").map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(
            n.parse()
                .with_context(|| format!("ListParts: bad NextPartNumberMarker {n:?}"))?,
        ),
    };
    Ok(PartsPage {
        part_numbers,
        is_truncated,
        next_marker,
    })
}

/// The text of the first `<tag>…</tag>` (exact name; attributes are not
/// expected in S3 answers). `<tag/>` reads as empty.
pub fn xml_tag<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    xml_all_iter(text, tag).next()
}

/// The texts of every `<tag>…</tag>`, in order.
pub fn xml_all<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    xml_all_iter(text, tag).collect()
}

fn xml_all_iter<'a>(text: &'a str, tag: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}>");
    let empty = format!("<{tag}/>");
    let close = format!("</{tag}>");
    let mut rest = text;
    std::iter::from_fn(move || {
        let o = rest.find(&open);
        // Look for the empty form only before the next open tag: scanning the whole rest on
        // every call would make parsing a 1000-part page quadratic.
        let e = rest[..o.unwrap_or(rest.len())].find(&empty);
        match (o, e) {
            (Some(o), e) if e.is_none_or(|e| o < e) => {
                let start = o + open.len();
                let end = rest[start..].find(&close)? + start;
                let inner = &rest[start..end];
                rest = &rest[end + close.len()..];
                Some(inner)
            }
            (_, Some(e)) => {
                rest = &rest[e + empty.len()..];
                Some("")
            }
            _ => None,
        }
    })
}

/// Undoes the XML escapes S3 uses (named ones and numeric references).
pub fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let ch = match entity {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

pub fn strip_quotes(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_multipart_answer() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE&amp;x</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(
            xml_tag(text, "UploadId").map(xml_unescape).as_deref(),
            Some("VXBsb2FkIElE&x")
        );
    }

    #[test]
    fn complete_answer_etag() {
        let text = "<CompleteMultipartUploadResult><Location>http://x/b/k</Location><Bucket>b</Bucket>\
                    <Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>";
        let etag = xml_tag(text, "ETag").map(xml_unescape).unwrap();
        assert_eq!(strip_quotes(&etag), "3858f62230ac3c915f300c664312c11f-9");
        assert_eq!(strip_quotes("\"abc-2\""), "abc-2");
        assert_eq!(xml_unescape("&#34;a&#x22;&bogus;"), "\"a\"&bogus;");
    }

    #[test]
    fn list_parts_page() {
        let text = "<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>\
            <PartNumberMarker>1000</PartNumberMarker><NextPartNumberMarker>1002</NextPartNumberMarker>\
            <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>\
            <Part><PartNumber>1001</PartNumber><LastModified>x</LastModified><ETag>\"a\"</ETag><Size>1</Size></Part>\
            <Part><PartNumber>1002</PartNumber><LastModified>x</LastModified><ETag>\"b\"</ETag><Size>1</Size></Part>\
            </ListPartsResult>";
        assert_eq!(
            parse_parts_page(text).unwrap(),
            PartsPage {
                part_numbers: vec![1001, 1002],
                is_truncated: true,
                next_marker: Some(1002),
            }
        );
        let last = "<ListPartsResult><IsTruncated>false</IsTruncated><NextPartNumberMarker/></ListPartsResult>";
        assert_eq!(parse_parts_page(last).unwrap(), PartsPage::default());
        assert!(parse_parts_page("<Error><Code>NoSuchUpload</Code></Error>").is_err());
        assert!(parse_parts_page("<Whatever/>").is_err());
        assert_eq!(snippet("abc"), "abc");
        assert!(snippet(&"x".repeat(5000)).ends_with("… (5000 bytes in all)"));
    }

    #[test]
    fn complete_request_body() {
        let body = complete_body(&[
            CompletedPart {
                number: 1,
                etag: "\"aa\"".into(),
            },
            CompletedPart {
                number: 2,
                etag: "\"bb\"".into(),
            },
        ]);
        assert_eq!(
            body,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part></CompleteMultipartUpload>"
        );
    }

    #[test]
    fn endpoints() {
        let creds = Credentials {
            access_key: "a".into(),
            secret_key: "s".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let t = Duration::from_secs(1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let s3 = S3::new("http://127.0.0.1:9000/", creds.clone(), t).unwrap();
        assert_eq!(s3.host, "127.0.0.1:9000");
        assert_eq!(s3.base, "http://127.0.0.1:9000");
        assert_eq!(
            S3::new("http://localhost:80", creds.clone(), t)
                .unwrap()
                .host,
            "localhost"
        );
        assert!(S3::new("https://x", creds.clone(), t).is_err());
        assert!(S3::new("http://x/prefix", creds.clone(), t).is_err());
        assert!(S3::new("127.0.0.1:9000", creds, t).is_err());
    }
}
