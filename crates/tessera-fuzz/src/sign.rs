//! Just enough SigV4 (and SigV2) signing for the harnesses to send requests s3s accepts, so
//! that the fuzzer reaches the code behind the signature checks. Written from the AWS
//! documentation; s3s checks every signature made here.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const REGION: &str = "us-east-1";

fn hmac256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `YYYYMMDDTHHMMSSZ` of now (s3s refuses dates more than 15 minutes off).
pub fn amz_date_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The signing context for now, derived again only when the second changes.
pub fn v4_now() -> std::rc::Rc<V4> {
    thread_local! {
        static CURRENT: std::cell::RefCell<Option<std::rc::Rc<V4>>> = const { std::cell::RefCell::new(None) };
    }
    let date = amz_date_now();
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        match &*c {
            Some(v4) if v4.amz_date == date => v4.clone(),
            _ => {
                let v4 = std::rc::Rc::new(V4::new(date));
                *c = Some(v4.clone());
                v4
            }
        }
    })
}

/// A SigV4 signing context for one request time.
pub struct V4 {
    pub amz_date: String,
    key: [u8; 32],
}

impl V4 {
    pub fn new(amz_date: String) -> Self {
        let k = hmac256(
            format!("AWS4{SECRET_KEY}").as_bytes(),
            &amz_date.as_bytes()[..8],
        );
        let k = hmac256(&k, REGION.as_bytes());
        let k = hmac256(&k, b"s3");
        let key = hmac256(&k, b"aws4_request");
        Self { amz_date, key }
    }

    pub fn scope(&self) -> String {
        format!("{}/{REGION}/s3/aws4_request", &self.amz_date[..8])
    }

    fn sign(&self, kind: &str, tail: &str) -> String {
        let sts = format!("{kind}\n{}\n{}\n{tail}", self.amz_date, self.scope());
        hex::encode(hmac256(&self.key, sts.as_bytes()))
    }

    /// Signature of a canonical request.
    pub fn request(&self, canonical_request: &str) -> String {
        self.sign(
            "AWS4-HMAC-SHA256",
            &sha256_hex(canonical_request.as_bytes()),
        )
    }

    /// Signature of one aws-chunked chunk.
    pub fn chunk(&self, prev: &str, data: &[u8]) -> String {
        self.sign(
            "AWS4-HMAC-SHA256-PAYLOAD",
            &format!("{prev}\n{}\n{}", sha256_hex(b""), sha256_hex(data)),
        )
    }

    /// Signature of the trailer block (`name:value\n` lines, sorted).
    pub fn trailer(&self, prev: &str, canonical_trailers: &[u8]) -> String {
        self.sign(
            "AWS4-HMAC-SHA256-TRAILER",
            &format!("{prev}\n{}", sha256_hex(canonical_trailers)),
        )
    }

    /// `Authorization` header value.
    pub fn authorization(&self, signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.scope()
        )
    }
}

/// Base64 HMAC-SHA1, SigV2's signature.
pub fn v2_signature(string_to_sign: &str) -> String {
    use base64::Engine as _;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(SECRET_KEY.as_bytes()).expect("key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
