//! Fix-ups of the HTTP responses s3s makes, where S3's wire format differs from s3s's.

/// Response type of the service.
type HttpResponse = http::Response<s3s::Body>;

/// A HEAD that serves a range answers 206, like the GET it describes; s3s answers 200.
pub fn head_partial_content(resp: &mut HttpResponse) {
    if resp.status() == http::StatusCode::OK
        && resp.headers().contains_key(http::header::CONTENT_RANGE)
    {
        *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
    }
}

/// A 304 has no body (s3s renders its error document).
pub fn empty_not_modified(resp: &mut HttpResponse) {
    if resp.status() == http::StatusCode::NOT_MODIFIED {
        *resp.body_mut() = s3s::Body::empty();
        resp.headers_mut().remove(http::header::CONTENT_LENGTH);
        resp.headers_mut().remove(http::header::CONTENT_TYPE);
    }
}

/// GetObjectAttributes answers the ETag unquoted (unlike every other S3 response); s3s always
/// quotes ETags in XML, so the quotes are taken out here.
pub fn unquote_attributes_etag(resp: &mut HttpResponse) {
    let Some(bytes) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return;
    };
    if !text.contains("<ETag>\"") {
        return;
    }
    let out = text
        .replace("<ETag>\"", "<ETag>")
        .replace("\"</ETag>", "</ETag>");
    replace_body(resp, out);
}

/// Internal header the ListObjectVersions handler sets: the kinds of its entries in listing
/// order (`v` a version, `m` a delete marker); taken off before the response leaves.
pub const VERSION_ORDER_HEADER: &str = "x-tessera-version-order";

/// ListObjectVersions lists versions and delete markers as one sequence in key then
/// newest-first order; s3s writes all `<DeleteMarker>`s then all `<Version>`s. Each list is
/// already in that order, so the elements are merged back by the handler's sequence of kinds
/// and written where the versions were.
pub fn interleave_versions(resp: &mut HttpResponse) {
    let Some(order) = resp.headers_mut().remove(VERSION_ORDER_HEADER) else {
        return;
    };
    if resp.status() != http::StatusCode::OK {
        return;
    }
    let Some(bytes) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return;
    };
    let (rest, markers) = take_elements(text, "DeleteMarker");
    let (mut rest, versions) = take_elements(&rest, "Version");
    let (mut markers, mut versions) = (markers.into_iter(), versions.into_iter());
    let mut merged = String::with_capacity(text.len());
    for kind in order.as_bytes() {
        let next = match kind {
            b'm' => markers.next(),
            _ => versions.next(),
        };
        merged.push_str(&next.unwrap_or_default());
    }
    // Anything the sequence did not account for (never expected) is kept, not lost.
    merged.extend(versions.chain(markers));
    let Some(end) = rest.rfind("</ListVersionsResult>") else {
        return;
    };
    rest.insert_str(end, &merged);
    replace_body(resp, rest);
}

/// Cuts every top-level `<name>...</name>` element out of `text`: the text without them, and
/// the elements in order.
fn take_elements(text: &str, name: &str) -> (String, Vec<String>) {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut rest = String::with_capacity(text.len());
    let mut found = Vec::new();
    let mut tail = text;
    while let Some(start) = tail.find(&open) {
        let Some(len) = tail[start..].find(&close) else {
            break;
        };
        let end = start + len + close.len();
        rest.push_str(&tail[..start]);
        found.push(tail[start..end].to_owned());
        tail = &tail[end..];
    }
    rest.push_str(tail);
    (rest, found)
}

/// Replaces a response's (in-memory) body and its Content-Length.
fn replace_body(resp: &mut HttpResponse, body: String) {
    let len = body.len();
    *resp.body_mut() = s3s::Body::from(body);
    if let Ok(v) = http::HeaderValue::from_str(&len.to_string()) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, v);
    }
}

/// Error bodies made by s3s itself may lack a `<Message>`; S3 always sends one, and SDKs
/// show it. Adds a generic one and the request id.
pub fn complete_error_body(resp: &mut HttpResponse, request_id: &str) {
    let Some(bytes) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return;
    };
    if !text.contains("<Error>") || text.contains("<RequestId>") {
        return;
    }
    let mut out = text.to_string();
    if !out.contains("<Message>") {
        if let Some(end) = out.find("</Code>") {
            let code = out[..end]
                .rsplit("<Code>")
                .next()
                .unwrap_or_default()
                .to_string();
            out.insert_str(
                end + "</Code>".len(),
                &format!("<Message>{}</Message>", default_message(&code)),
            );
        }
    }
    if let Some(end) = out.rfind("</Error>") {
        out.insert_str(end, &format!("<RequestId>{request_id}</RequestId>"));
    }
    replace_body(resp, out);
}

fn default_message(code: &str) -> &'static str {
    match code {
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "InvalidBucketName" => "The specified bucket is not valid.",
        "AccessDenied" => "Access Denied",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "RequestTimeTooSkewed" => "The difference between the request time and the current time is too large.",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidRequest" => "Invalid Request",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "InvalidRange" => "The requested range is not satisfiable",
        _ => "The request could not be processed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_markers_merged_in_listing_order() {
        let body = "<ListVersionsResult><DeleteMarker><Key>a</Key></DeleteMarker>\
                    <Name>b</Name><Version><Key>a</Key><VersionId>1</VersionId></Version>\
                    <Version><Key>b</Key></Version></ListVersionsResult>";
        let mut resp = http::Response::new(s3s::Body::from(body.to_owned()));
        resp.headers_mut()
            .insert(VERSION_ORDER_HEADER, http::HeaderValue::from_static("vmv"));
        interleave_versions(&mut resp);
        let out = resp.body().bytes().unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "<ListVersionsResult><Name>b</Name><Version><Key>a</Key><VersionId>1</VersionId>\
             </Version><DeleteMarker><Key>a</Key></DeleteMarker><Version><Key>b</Key></Version>\
             </ListVersionsResult>"
        );
        assert!(resp.headers().get(VERSION_ORDER_HEADER).is_none());
    }

    fn response(status: http::StatusCode, body: &str) -> HttpResponse {
        let mut resp = http::Response::new(s3s::Body::from(body.to_string()));
        *resp.status_mut() = status;
        resp
    }

    fn text(resp: &HttpResponse) -> String {
        let bytes = resp.body().bytes().unwrap_or_default();
        String::from_utf8(bytes.to_vec()).unwrap_or_default()
    }

    fn content_length(resp: &HttpResponse) -> Option<&str> {
        resp.headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn attributes_etag_unquoted() {
        let mut resp = response(
            http::StatusCode::OK,
            "<GetObjectAttributesResponse><ETag>\"abc\"</ETag></GetObjectAttributesResponse>",
        );
        unquote_attributes_etag(&mut resp);
        let body = text(&resp);
        assert_eq!(
            body,
            "<GetObjectAttributesResponse><ETag>abc</ETag></GetObjectAttributesResponse>"
        );
        assert_eq!(content_length(&resp), Some(body.len().to_string().as_str()));
    }

    #[test]
    fn error_body_gets_message_and_request_id() {
        let mut resp = response(
            http::StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code></Error>",
        );
        complete_error_body(&mut resp, "REQ1");
        assert_eq!(
            text(&resp),
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>REQ1</RequestId></Error>"
        );
        let mut resp = response(
            http::StatusCode::BAD_REQUEST,
            "<Error><Code>Odd</Code><Message>kept</Message></Error>",
        );
        complete_error_body(&mut resp, "REQ2");
        assert_eq!(
            text(&resp),
            "<Error><Code>Odd</Code><Message>kept</Message><RequestId>REQ2</RequestId></Error>"
        );
    }

    #[test]
    fn error_body_with_request_id_untouched() {
        let body = "<Error><Code>X</Code><RequestId>R</RequestId></Error>";
        let mut resp = response(http::StatusCode::BAD_REQUEST, body);
        complete_error_body(&mut resp, "other");
        assert_eq!(text(&resp), body);
    }

    #[test]
    fn default_messages() {
        assert_eq!(
            default_message("InvalidRange"),
            "The requested range is not satisfiable"
        );
        assert_eq!(
            default_message("Unknown"),
            "The request could not be processed."
        );
    }

    #[test]
    fn head_range_is_206() {
        let mut resp = response(http::StatusCode::OK, "");
        head_partial_content(&mut resp);
        assert_eq!(resp.status(), http::StatusCode::OK);
        resp.headers_mut().insert(
            http::header::CONTENT_RANGE,
            http::HeaderValue::from_static("bytes 0-1/5"),
        );
        head_partial_content(&mut resp);
        assert_eq!(resp.status(), http::StatusCode::PARTIAL_CONTENT);
    }

    #[test]
    fn not_modified_has_no_body() {
        let mut resp = response(http::StatusCode::NOT_MODIFIED, "<Error/>");
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
        empty_not_modified(&mut resp);
        assert_eq!(text(&resp), "");
        assert!(resp.headers().get(http::header::CONTENT_TYPE).is_none());
    }
}
