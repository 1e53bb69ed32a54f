//! The response side: IAM and STS answers and errors in the Query API's XML.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::model::{AccessKey, AccessKeyLastUsed, Caller, Page, User, UserPolicy};
use crate::request::Service;

/// A small XML writer: elements and escaped text, nothing else.
pub(crate) struct Xml {
    out: String,
}

impl Xml {
    pub(crate) fn new() -> Self {
        Xml { out: String::new() }
    }

    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>text</tag>`, the text escaped.
    pub(crate) fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.out, text);
        self.close(tag)
    }

    /// A leaf that IAM omits when empty (the root's UserName and Path).
    fn leaf_nonempty(&mut self, tag: &str, text: &str) -> &mut Self {
        if !text.is_empty() {
            self.leaf(tag, text);
        }
        self
    }

    fn date(&mut self, tag: &str, t: SystemTime) -> &mut Self {
        self.leaf(tag, &iso8601(t))
    }

    pub(crate) fn into_string(self) -> String {
        self.out
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters, not even as references.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// ISO 8601 in UTC to the second (`2026-12-01T10:52:12Z`), as IAM writes dates.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|dt| dt.format(&format).ok())
        // Only a date beyond year 9999 gets here: clamp rather than fail the answer.
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned())
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (botocore `unquote`s it).
const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A policy document as IAM returns it: URL-encoded JSON.
pub(crate) fn encode_policy(document: &str) -> String {
    utf8_percent_encode(document, POLICY_ENCODE).to_string()
}

pub(crate) fn user(x: &mut Xml, tag: &str, u: &User) {
    x.open(tag)
        .leaf_nonempty("Path", &u.path)
        .leaf_nonempty("UserName", &u.user_name)
        .leaf("UserId", &u.user_id)
        .leaf("Arn", &u.arn)
        .date("CreateDate", u.create_date)
        .close(tag);
}

pub(crate) fn access_key(x: &mut Xml, tag: &str, k: &AccessKey) {
    x.open(tag)
        .leaf_nonempty("UserName", &k.user_name)
        .leaf("AccessKeyId", &k.access_key_id)
        .leaf("Status", k.status.as_str());
    if let Some(secret) = &k.secret {
        x.leaf("SecretAccessKey", secret);
    }
    x.date("CreateDate", k.create_date).close(tag);
}

fn paging<T>(x: &mut Xml, page: &Page<T>) {
    match &page.next_marker {
        Some(marker) => {
            x.leaf("IsTruncated", "true").leaf("Marker", marker);
        }
        None => {
            x.leaf("IsTruncated", "false");
        }
    }
}

/// The `<XResult>` body of each action with an output.
pub(crate) fn list_users(page: &Page<User>) -> String {
    let mut x = Xml::new();
    x.open("Users");
    for u in &page.items {
        user(&mut x, "member", u);
    }
    x.close("Users");
    paging(&mut x, page);
    x.into_string()
}

pub(crate) fn list_access_keys(page: &Page<AccessKey>) -> String {
    let mut x = Xml::new();
    x.open("AccessKeyMetadata");
    for k in &page.items {
        // A listing never carries a secret, whatever the backend put there.
        let k = AccessKey {
            secret: None,
            ..k.clone()
        };
        access_key(&mut x, "member", &k);
    }
    x.close("AccessKeyMetadata");
    paging(&mut x, page);
    x.into_string()
}

pub(crate) fn access_key_last_used(last: &AccessKeyLastUsed) -> String {
    let mut x = Xml::new();
    x.leaf_nonempty("UserName", &last.user_name)
        .open("AccessKeyLastUsed");
    if let Some(date) = last.last_used_date {
        x.date("LastUsedDate", date);
    }
    x.leaf("ServiceName", last.service_name.as_deref().unwrap_or("N/A"))
        .leaf("Region", last.region.as_deref().unwrap_or("N/A"))
        .close("AccessKeyLastUsed");
    x.into_string()
}

pub(crate) fn user_policy(p: &UserPolicy) -> String {
    let mut x = Xml::new();
    x.leaf("UserName", &p.user_name)
        .leaf("PolicyName", &p.policy_name)
        .leaf("PolicyDocument", &encode_policy(&p.policy_document));
    x.into_string()
}

pub(crate) fn list_user_policies(page: &Page<String>) -> String {
    let mut x = Xml::new();
    x.open("PolicyNames");
    for name in &page.items {
        x.leaf("member", name);
    }
    x.close("PolicyNames");
    paging(&mut x, page);
    x.into_string()
}

/// The answer of a listing of entities Tessera does not have: `<{list}/>`, then
/// `<IsTruncated>false</IsTruncated>` when the action pages (all but ListOpenIDConnectProviders).
pub(crate) fn empty_listing(list: &str, paged: bool) -> String {
    let mut out = format!("<{list}/>");
    if paged {
        let mut x = Xml::new();
        x.leaf("IsTruncated", "false");
        out.push_str(&x.into_string());
    }
    out
}

pub(crate) fn caller_identity(c: &Caller) -> String {
    let mut x = Xml::new();
    x.leaf("Arn", &c.arn)
        .leaf("UserId", &c.user_id)
        .leaf("Account", &c.account_id);
    x.into_string()
}

/// `<{Action}Response xmlns=..>[<{Action}Result>..</{Action}Result>]<ResponseMetadata>..`.
pub(crate) fn success(
    service: Service,
    action: &str,
    result: Option<&str>,
    request_id: &str,
) -> http::Response<Bytes> {
    let mut out = String::with_capacity(256 + result.map_or(0, str::len));
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(&format!(
        r#"<{action}Response xmlns="{}">"#,
        service.namespace()
    ));
    if let Some(result) = result {
        out.push_str(&format!("<{action}Result>{result}</{action}Result>"));
    }
    let mut x = Xml::new();
    x.open("ResponseMetadata")
        .leaf("RequestId", request_id)
        .close("ResponseMetadata");
    out.push_str(&x.into_string());
    out.push_str(&format!("</{action}Response>"));
    respond(http::StatusCode::OK, out, request_id)
}

/// `<ErrorResponse xmlns=..><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub(crate) fn error(
    service: Service,
    status: http::StatusCode,
    sender_fault: bool,
    code: &str,
    message: &str,
    request_id: &str,
) -> http::Response<Bytes> {
    let mut x = Xml::new();
    x.open("Error")
        .leaf("Type", if sender_fault { "Sender" } else { "Receiver" })
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .leaf("RequestId", request_id);
    let out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="{}">{}</ErrorResponse>"#,
        service.namespace(),
        x.into_string()
    );
    respond(status, out, request_id)
}

fn respond(status: http::StatusCode, body: String, request_id: &str) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    if let Ok(id) = http::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccessKeyStatus;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates_are_iso8601_utc_to_the_second() {
        assert_eq!(iso8601(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso8601(at(1_336_519_641) + Duration::from_millis(999)),
            "2012-05-08T23:27:21Z"
        );
    }

    #[test]
    fn text_is_escaped() {
        let mut x = Xml::new();
        x.leaf("M", "a<b>&\"c'\u{1}");
        assert_eq!(
            x.into_string(),
            "<M>a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}</M>"
        );
    }

    #[test]
    fn policy_documents_are_percent_encoded() {
        let doc = "{\"Version\": \"2012-10-17\", \"Statement\": []}\n~é";
        let encoded = encode_policy(doc);
        assert_eq!(
            encoded,
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D%0A~%C3%A9"
        );
        let decoded = percent_encoding::percent_decode_str(&encoded)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, doc);
    }

    #[test]
    fn create_user_answer() {
        let u = User {
            path: "/ops/".into(),
            user_name: "alice".into(),
            user_id: "AIDAEXAMPLE000000001".into(),
            arn: "arn:aws:iam::123456789012:user/ops/alice".into(),
            create_date: at(0),
        };
        let mut x = Xml::new();
        user(&mut x, "User", &u);
        let resp = success(Service::Iam, "CreateUser", Some(&x.into_string()), "rid-1");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/xml");
        assert_eq!(resp.headers()["x-amzn-requestid"], "rid-1");
        assert_eq!(
            std::str::from_utf8(resp.body()).unwrap(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#,
                "<CreateUserResult><User><Path>/ops/</Path><UserName>alice</UserName>",
                "<UserId>AIDAEXAMPLE000000001</UserId><Arn>arn:aws:iam::123456789012:user/ops/alice</Arn>",
                "<CreateDate>1970-01-01T00:00:00Z</CreateDate></User></CreateUserResult>",
                "<ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></CreateUserResponse>"
            )
        );
    }

    #[test]
    fn root_user_omits_name_and_path() {
        let u = User {
            path: String::new(),
            user_name: String::new(),
            user_id: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:root".into(),
            create_date: at(0),
        };
        let mut x = Xml::new();
        user(&mut x, "User", &u);
        assert_eq!(
            x.into_string(),
            "<User><UserId>123456789012</UserId><Arn>arn:aws:iam::123456789012:root</Arn>\
             <CreateDate>1970-01-01T00:00:00Z</CreateDate></User>"
        );
    }

    #[test]
    fn answers_without_output_have_no_result_element() {
        let resp = success(Service::Iam, "DeleteUser", None, "r");
        assert_eq!(
            std::str::from_utf8(resp.body()).unwrap(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#,
                "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
            )
        );
    }

    #[test]
    fn listings_page_with_is_truncated_and_marker() {
        let page = Page {
            items: vec!["a".to_owned(), "b".to_owned()],
            next_marker: Some("b".to_owned()),
        };
        assert_eq!(
            list_user_policies(&page),
            "<PolicyNames><member>a</member><member>b</member></PolicyNames>\
             <IsTruncated>true</IsTruncated><Marker>b</Marker>"
        );
        let last: Page<String> = Page {
            items: vec![],
            next_marker: None,
        };
        assert_eq!(
            list_user_policies(&last),
            "<PolicyNames></PolicyNames><IsTruncated>false</IsTruncated>"
        );
    }

    #[test]
    fn empty_listings_as_iam_shapes_them() {
        assert_eq!(
            empty_listing("Groups", true),
            "<Groups/><IsTruncated>false</IsTruncated>"
        );
        assert_eq!(
            empty_listing("OpenIDConnectProviderList", false),
            "<OpenIDConnectProviderList/>"
        );
        let resp = success(
            Service::Iam,
            "ListRoles",
            Some(&empty_listing("Roles", true)),
            "r",
        );
        assert_eq!(
            std::str::from_utf8(resp.body()).unwrap(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#,
                "<ListRolesResult><Roles/><IsTruncated>false</IsTruncated></ListRolesResult>",
                "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListRolesResponse>"
            )
        );
    }

    #[test]
    fn key_listing_never_carries_a_secret() {
        let page = Page {
            items: vec![AccessKey {
                user_name: "alice".into(),
                access_key_id: "AKIAEXAMPLE000000001".into(),
                status: AccessKeyStatus::Active,
                secret: Some("s3cr3t".into()),
                create_date: at(0),
            }],
            next_marker: None,
        };
        let xml = list_access_keys(&page);
        assert!(!xml.contains("s3cr3t"));
        assert_eq!(
            xml,
            "<AccessKeyMetadata><member><UserName>alice</UserName><AccessKeyId>AKIAEXAMPLE000000001</AccessKeyId>\
             <Status>Active</Status><CreateDate>1970-01-01T00:00:00Z</CreateDate></member></AccessKeyMetadata>\
             <IsTruncated>false</IsTruncated>"
        );
        assert!(!format!("{:?}", page.items[0]).contains("s3cr3t"));
    }

    #[test]
    fn never_used_key_reports_n_a() {
        let xml = access_key_last_used(&AccessKeyLastUsed {
            user_name: "alice".into(),
            ..Default::default()
        });
        assert_eq!(
            xml,
            "<UserName>alice</UserName><AccessKeyLastUsed><ServiceName>N/A</ServiceName>\
             <Region>N/A</Region></AccessKeyLastUsed>"
        );
    }

    #[test]
    fn error_answer() {
        let resp = error(
            Service::Sts,
            http::StatusCode::FORBIDDEN,
            true,
            "AccessDenied",
            "no <way>",
            "rid",
        );
        assert_eq!(resp.status(), 403);
        assert_eq!(
            std::str::from_utf8(resp.body()).unwrap(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">"#,
                "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no &lt;way&gt;</Message></Error>",
                "<RequestId>rid</RequestId></ErrorResponse>"
            )
        );
    }
}
