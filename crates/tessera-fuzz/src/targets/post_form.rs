//! PostObject's untrusted inputs: the multipart/form-data reader (`crates/tessera-s3/src/form.rs`)
//! and the POST policy (`crates/tessera-core/src/post_policy.rs`).
//!
//! Input: line 1 the boundary, line 2 a chunk size (the "network" cuts the body into pieces of
//! it), line 3 a policy document (JSON), line 4 the bucket, then the form body.

use tessera_core::post_policy::PostPolicy;
use tessera_s3::fuzzing::read_form;

use crate::input::Input;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let boundary = input.line_str();
    let chunk = usize::try_from(input.number_line() % 64).unwrap_or(1) + 1;
    let policy = input.line().to_vec();
    let bucket = input.line_str();
    let body = input.rest();

    // The reader's answer does not depend on how the body is cut.
    let whole = read_form(body, &boundary, body.len().max(1));
    let cut = read_form(body, &boundary, chunk);
    let byte_by_byte = read_form(body, &boundary, 1);
    assert_eq!(whole, cut, "chunk size {chunk} changed the form");
    assert_eq!(whole, byte_by_byte, "byte-by-byte reading changed the form");
    if let Ok((fields, filename, file)) = &whole {
        // The file is never longer than the body; names carry no directory.
        assert!(file.len() <= body.len());
        assert!(
            !filename.contains('/') && !filename.contains('\\'),
            "{filename:?}"
        );
        assert!(fields.iter().all(|(n, _)| !n.eq_ignore_ascii_case("file")));
    }

    // A policy that parses checks the same way twice, and never after it expired.
    if let Ok(p) = PostPolicy::from_json(&policy) {
        let fields: Vec<(&str, &str)> = match &whole {
            Ok((f, _, _)) => f.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            Err(_) => Vec::new(),
        };
        let before = p.expiration.saturating_sub(1);
        let first = p.check(&fields, &bucket, before).is_ok();
        assert_eq!(first, p.check(&fields, &bucket, before).is_ok());
        assert!(
            p.check(&fields, &bucket, p.expiration).is_err(),
            "an expired policy passed"
        );
    }
}
