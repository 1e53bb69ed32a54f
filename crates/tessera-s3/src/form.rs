//! A streaming reader of `multipart/form-data` bodies (RFC 7578) for POST form uploads: the
//! fields before the `file` part are read whole, within [`MAX_FIELDS_BYTES`]; the file part is
//! handed on as a stream ([`FileStream`]), never held whole in memory; what follows it is read
//! and dropped, as S3 ignores it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use memchr::memmem::Finder;
use s3s::{S3Error, S3ErrorCode};

/// Bytes of the form before the file's content (fields, their part headers, the preamble).
/// S3 refuses a form whose fields before the file pass about 20 KB.
pub(crate) const MAX_FIELDS_BYTES: usize = 20 * 1024;

/// Bytes after the file part that are read and dropped so the connection can be reused; a
/// client that sends more has its connection closed after the answer.
const MAX_TRAILING_BYTES: usize = 64 * 1024;

/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY_LEN: usize = 70;

/// What was wrong with a form.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FormError {
    #[error("The body of your POST request is not well-formed multipart/form-data.")]
    Malformed,
    #[error("Your POST request fields preceding the upload file were too large.")]
    FieldsTooLarge,
    #[error("POST requires exactly one file upload per request.")]
    NoFile,
    /// The body could not be read (client gone, timeout).
    #[error("the request body could not be read: {0}")]
    Read(#[source] s3s::StdError),
}

impl FormError {
    /// The S3 error of this failure.
    pub(crate) fn to_s3(&self) -> S3Error {
        match self {
            FormError::Malformed => {
                S3Error::with_message(S3ErrorCode::MalformedPOSTRequest, self.to_string())
            }
            FormError::FieldsTooLarge => S3Error::with_message(
                S3ErrorCode::MaxPostPreDataLengthExceededError,
                self.to_string(),
            ),
            FormError::NoFile => S3Error::with_message(
                S3ErrorCode::IncorrectNumberOfFilesInPostRequest,
                self.to_string(),
            ),
            FormError::Read(_) => S3Error::with_message(
                S3ErrorCode::IncompleteBody,
                "The request body terminated unexpectedly.",
            ),
        }
    }
}

/// The boundary of a `multipart/form-data` Content-Type; `None` if it is not one or has none.
pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty() && value.len() <= MAX_BOUNDARY_LEN).then(|| value.to_owned())
    })
}

/// One form field before the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The name as the form spelled it (S3 compares names case-insensitively).
    pub(crate) name: String,
    pub(crate) value: String,
}

/// The headers of the file part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FilePart {
    /// The `filename` parameter, without any directory a browser put before it.
    pub(crate) filename: String,
}

/// The `name` and `filename` parameters of a `Content-Disposition: form-data` header.
fn disposition(value: &str) -> Option<(String, Option<String>)> {
    let mut rest = value.trim_start();
    let kind_end = rest.find(';').unwrap_or(rest.len());
    if !rest[..kind_end].trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    rest = &rest[kind_end..];
    let (mut name, mut filename, mut filename_ext) = (None, None, None);
    while let Some(after) = rest.strip_prefix(';') {
        let after = after.trim_start();
        let eq = after.find('=')?;
        let pname = after[..eq].trim().to_ascii_lowercase();
        let after_eq = after[eq + 1..].trim_start();
        let (pvalue, next) = if let Some(quoted) = after_eq.strip_prefix('"') {
            // Browsers send a backslash as it is (a Windows path) and a quote as `%22`
            // (HTML's form encoding): the value ends at the next quote.
            let end = quoted.find('"')?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = after_eq.find(';').unwrap_or(after_eq.len());
            (after_eq[..end].trim().to_owned(), &after_eq[end..])
        };
        match pname.as_str() {
            "name" => name = Some(pvalue),
            "filename" => filename = Some(pvalue),
            // RFC 5987: `utf-8''percent%20encoded`.
            "filename*" => {
                filename_ext = pvalue.split_once("''").map(|(_, v)| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned()
                })
            }
            _ => {}
        }
        rest = next.trim_start();
    }
    if !rest.is_empty() {
        return None;
    }
    Some((name?, filename_ext.or(filename)))
}

/// Where a delimiter is in a buffer.
#[derive(Debug, PartialEq, Eq)]
enum Delimiter {
    /// A delimiter starts here (followed by `--`, or by optional blanks and CRLF).
    At(usize),
    /// `\r\n--boundary` starts here, but what follows has not arrived yet.
    Maybe(usize),
    None,
}

/// Most blanks accepted between a boundary and its line end (RFC 2046 transport padding).
const MAX_PADDING: usize = 256;

/// Finds the first delimiter in `buf`: `\r\n--boundary` (the needle of `finder`) followed by
/// `--` or by blanks and CRLF. The same bytes followed by anything else are content.
fn find_delimiter(finder: &Finder<'_>, buf: &[u8]) -> Delimiter {
    let dlen = finder.needle().len();
    let mut from = 0;
    while let Some(i) = finder.find(&buf[from..]) {
        let pos = from + i;
        let after = &buf[pos + dlen..];
        let blanks = after
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
        let rest = &after[blanks..];
        let verdict = if after.starts_with(b"--")
            || (blanks <= MAX_PADDING && rest.starts_with(b"\r\n"))
        {
            Some(true)
        } else if after == b"-" || (blanks <= MAX_PADDING && (rest.is_empty() || rest == b"\r")) {
            None
        } else {
            Some(false)
        };
        match verdict {
            Some(true) => return Delimiter::At(pos),
            None => return Delimiter::Maybe(pos),
            Some(false) => from = pos + 1,
        }
    }
    Delimiter::None
}

/// The length of the longest end of `data` that is the start of `needle` (a boundary that
/// may go on in the next chunk); 0 for most chunks.
fn boundary_prefix_len(needle: &[u8], data: &[u8]) -> usize {
    let from = data.len().saturating_sub(needle.len() - 1);
    (from..data.len())
        .find(|&i| data[i] == needle[0] && needle.starts_with(&data[i..]))
        .map_or(0, |i| data.len() - i)
}

/// The part of a file name after its last `/` or `\` (old browsers send the whole path).
fn base_name(filename: &str) -> &str {
    filename.rsplit(['/', '\\']).next().unwrap_or(filename)
}

/// Reads a form body up to the file part.
pub(crate) struct FormReader {
    body: s3s::Body,
    buf: BytesMut,
    /// `\r\n--boundary`: what ends every part (the buffer starts with `\r\n`, so the first
    /// boundary line is found the same way).
    finder: Finder<'static>,
    /// Bytes consumed from the buffer so far (the fields' budget).
    consumed: usize,
    eof: bool,
}

impl FormReader {
    pub(crate) fn new(body: s3s::Body, boundary: &str) -> FormReader {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let mut buf = BytesMut::with_capacity(16 * 1024);
        buf.extend_from_slice(b"\r\n");
        FormReader {
            body,
            buf,
            finder: Finder::new(&delimiter).into_owned(),
            consumed: 0,
            eof: false,
        }
    }

    fn delimiter_len(&self) -> usize {
        self.finder.needle().len()
    }

    /// Reads one more chunk of the body into the buffer; `false` at the end of the body.
    async fn fill(&mut self) -> Result<bool, FormError> {
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.body.next().await {
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                Some(Ok(chunk)) => {
                    self.buf.extend_from_slice(&chunk);
                    return Ok(true);
                }
                Some(Err(e)) => return Err(FormError::Read(e)),
                None => {
                    self.eof = true;
                    return Ok(false);
                }
            }
        }
    }

    /// Fills the buffer until `at` finds something in it (the field budget bounds the wait).
    async fn fill_until(
        &mut self,
        at: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<usize, FormError> {
        loop {
            if let Some(pos) = at(&self.buf) {
                if self.consumed + pos > MAX_FIELDS_BYTES {
                    return Err(FormError::FieldsTooLarge);
                }
                return Ok(pos);
            }
            if self.consumed + self.buf.len() > MAX_FIELDS_BYTES + self.delimiter_len() + 4 {
                return Err(FormError::FieldsTooLarge);
            }
            if !self.fill().await? {
                return Err(FormError::Malformed);
            }
        }
    }

    fn consume(&mut self, n: usize) -> BytesMut {
        self.consumed += n;
        self.buf.split_to(n)
    }

    /// Reads the fields up to the `file` part, whose content is next in the body. The file is
    /// the first part named `file` (any case); a form without one is `NoFile`.
    pub(crate) async fn read_fields(&mut self) -> Result<(Vec<Field>, FilePart), FormError> {
        let finder = self.finder.clone();
        let delimiter_at = |b: &[u8]| match find_delimiter(&finder, b) {
            Delimiter::At(pos) => Some(pos),
            _ => None,
        };
        // The preamble, up to the first boundary line.
        let pos = self.fill_until(delimiter_at).await?;
        self.consume(pos);
        let mut fields = Vec::new();
        loop {
            // At a delimiter: `--` ends the form; else the rest of its line, then the headers.
            let dlen = self.delimiter_len();
            self.fill_until(|b| (b.len() >= dlen + 2).then_some(0))
                .await?;
            self.consume(dlen);
            if self.buf.starts_with(b"--") {
                return Err(FormError::NoFile);
            }
            let line_end = self
                .fill_until(|b| memchr::memmem::find(b, b"\r\n"))
                .await?;
            let padding = self.consume(line_end);
            if padding.iter().any(|c| !matches!(c, b' ' | b'\t')) {
                return Err(FormError::Malformed);
            }
            // From the CRLF ending the boundary line to the blank line: the part's headers.
            let head_end = self
                .fill_until(|b| memchr::memmem::find(b, b"\r\n\r\n"))
                .await?;
            let head = self.consume(head_end + 4);
            // A part with no header at all (its blank line right after the boundary line)
            // has no Content-Disposition: malformed (found by the post_form fuzz target).
            let headers = head.get(2..head_end).ok_or(FormError::Malformed)?;
            let (name, filename) = part_headers(headers)?;
            if name.eq_ignore_ascii_case("file") {
                let filename = filename.as_deref().map(base_name).unwrap_or_default();
                return Ok((
                    fields,
                    FilePart {
                        filename: filename.to_owned(),
                    },
                ));
            }
            let value_end = self.fill_until(delimiter_at).await?;
            let value = self.consume(value_end);
            let value = String::from_utf8(value.to_vec()).map_err(|_| FormError::Malformed)?;
            fields.push(Field { name, value });
        }
    }

    /// The file's content as a stream (the reader must be just past the file part's headers,
    /// as [`FormReader::read_fields`] leaves it).
    pub(crate) fn into_file_stream(self) -> FileStream {
        FileStream {
            body: self.body,
            buf: self.buf.freeze(),
            finder: self.finder,
            eof: self.eof,
            state: FileState::Content,
            trailing: 0,
        }
    }
}

/// The `name` and `filename` of a part from its header block (lines without the final CRLF).
fn part_headers(head: &[u8]) -> Result<(String, Option<String>), FormError> {
    let text = std::str::from_utf8(head).map_err(|_| FormError::Malformed)?;
    let mut found = None;
    for line in text.split("\r\n") {
        let (hname, hvalue) = line.split_once(':').ok_or(FormError::Malformed)?;
        if hname.trim().eq_ignore_ascii_case("content-disposition") {
            if found.is_some() {
                return Err(FormError::Malformed);
            }
            found = Some(disposition(hvalue).ok_or(FormError::Malformed)?);
        }
    }
    found.ok_or(FormError::Malformed)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileState {
    /// Within the file's content.
    Content,
    /// Past the file: reading and dropping the rest of the body.
    Draining,
    Done,
}

/// The content of the file part, as it arrives. Ends without error at the part's boundary;
/// a body that ends before it fails with [`FormError::Malformed`] (a cut upload).
pub(crate) struct FileStream {
    body: s3s::Body,
    /// Received, not yet handed on: at most a chunk (sliced, not copied), or the few bytes
    /// kept back because a boundary may start in them, joined with the next chunk.
    buf: Bytes,
    finder: Finder<'static>,
    eof: bool,
    state: FileState,
    trailing: usize,
}

impl Stream for FileStream {
    type Item = Result<Bytes, FormError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match this.state {
                FileState::Done => return Poll::Ready(None),
                FileState::Content => {
                    let (emit, end) = match find_delimiter(&this.finder, &this.buf) {
                        Delimiter::At(pos) => (pos, true),
                        // A body that stops right after the last boundary still has the file.
                        Delimiter::Maybe(pos) if this.eof => (pos, true),
                        Delimiter::Maybe(pos) => (pos, false),
                        // All but what could be the start of a boundary is the file's.
                        Delimiter::None => (
                            this.buf.len() - boundary_prefix_len(this.finder.needle(), &this.buf),
                            false,
                        ),
                    };
                    let content = this.buf.split_to(emit);
                    if end {
                        this.buf = Bytes::new();
                        this.state = FileState::Draining;
                    }
                    if !content.is_empty() {
                        return Poll::Ready(Some(Ok(content)));
                    }
                    if end {
                        continue;
                    }
                    if this.eof {
                        this.state = FileState::Done;
                        return Poll::Ready(Some(Err(FormError::Malformed)));
                    }
                }
                FileState::Draining => {
                    if this.eof || this.trailing > MAX_TRAILING_BYTES {
                        this.state = FileState::Done;
                        return Poll::Ready(None);
                    }
                }
            }
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => match this.state {
                    FileState::Content if this.buf.is_empty() => this.buf = chunk,
                    FileState::Content => {
                        // Rare: only bytes that may begin a boundary were kept back.
                        let mut joined = BytesMut::with_capacity(this.buf.len() + chunk.len());
                        joined.extend_from_slice(&this.buf);
                        joined.extend_from_slice(&chunk);
                        this.buf = joined.freeze();
                    }
                    _ => this.trailing += chunk.len(),
                },
                Poll::Ready(Some(Err(e))) => {
                    if this.state == FileState::Draining {
                        // The file is whole: what comes after it does not matter.
                        this.state = FileState::Done;
                        return Poll::Ready(None);
                    }
                    this.state = FileState::Done;
                    return Poll::Ready(Some(Err(FormError::Read(e))));
                }
                Poll::Ready(None) => this.eof = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(chunks: Vec<&'static [u8]>) -> s3s::Body {
        let stream = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from_static(c)))),
        );
        s3s::Body::http_body(http_body_util::StreamBody::new(stream))
    }

    fn split_every(data: &'static [u8], n: usize) -> Vec<&'static [u8]> {
        data.chunks(n).collect()
    }

    async fn read_all(mut file: FileStream) -> Result<Vec<u8>, FormError> {
        let mut out = Vec::new();
        while let Some(chunk) = file.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    const FORM: &[u8] = b"preamble\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"key\"\r\n\r\n\
user/${filename}\r\n--XyZ  \r\n\
content-disposition: form-data; name=\"X-Amz-Meta-Tag\"\r\n\
Content-Type: text/plain\r\n\r\n\
a\r\nb--XyZ\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"File\"; filename=\"C:\\dir\\photo.jpg\"\r\n\
Content-Type: image/jpeg\r\n\r\n\
\r\n--XyZ is not the end\r\n--XyZ-\r\n--X\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--XyZ--\r\n";

    #[tokio::test]
    async fn a_part_without_headers_is_malformed() {
        let form: &'static [u8] = b"--b\r\n\r\nvalue\r\n--b--\r\n";
        for n in [1, 3, form.len()] {
            let mut reader = FormReader::new(body_of(split_every(form, n)), "b");
            assert!(matches!(
                reader.read_fields().await,
                Err(FormError::Malformed)
            ));
        }
    }

    #[tokio::test]
    async fn fields_then_the_file_in_any_chunking() {
        for n in [1, 2, 3, 7, 13, 64, FORM.len()] {
            let mut reader = FormReader::new(body_of(split_every(FORM, n)), "XyZ");
            let (fields, file) = reader.read_fields().await.unwrap();
            assert_eq!(
                fields,
                vec![
                    Field {
                        name: "key".into(),
                        value: "user/${filename}".into()
                    },
                    Field {
                        name: "X-Amz-Meta-Tag".into(),
                        value: "a\r\nb--XyZ".into()
                    },
                ],
                "chunks of {n}"
            );
            assert_eq!(file.filename, "photo.jpg");
            let content = read_all(reader.into_file_stream()).await.unwrap();
            assert_eq!(
                content, b"\r\n--XyZ is not the end\r\n--XyZ-\r\n--X",
                "chunks of {n}"
            );
        }
    }

    #[tokio::test]
    async fn a_cut_file_is_an_error() {
        let form: &[u8] = b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nsome bytes";
        let mut reader = FormReader::new(body_of(split_every(form, 5)), "b");
        reader.read_fields().await.unwrap();
        let err = read_all(reader.into_file_stream()).await.unwrap_err();
        assert!(matches!(err, FormError::Malformed));
    }

    #[tokio::test]
    async fn forms_without_a_file_or_with_bad_parts() {
        let no_file: &[u8] =
            b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n";
        let mut reader = FormReader::new(body_of(vec![no_file]), "b");
        assert!(matches!(reader.read_fields().await, Err(FormError::NoFile)));
        for bad in [
            &b"no boundary at all"[..],
            b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: attachment; name=\"k\"\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: form-data; name=\"k\"\r\nno colon\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nnever ends",
        ] {
            let mut reader = FormReader::new(body_of(vec![bad]), "b");
            assert!(
                matches!(reader.read_fields().await, Err(FormError::Malformed)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn fields_are_bounded() {
        let big: &'static [u8] = Box::leak(
            format!(
                "--b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n{}\r\n--b\r\n",
                "v".repeat(MAX_FIELDS_BYTES)
            )
            .into_bytes()
            .into_boxed_slice(),
        );
        let mut reader = FormReader::new(body_of(split_every(big, 1000)), "b");
        assert!(matches!(
            reader.read_fields().await,
            Err(FormError::FieldsTooLarge)
        ));
        // Endless header lines, with no blank line: bounded too.
        let endless: &'static [u8] = Box::leak(
            format!("--b\r\nX-A: {}", "a".repeat(3 * MAX_FIELDS_BYTES))
                .into_bytes()
                .into_boxed_slice(),
        );
        let mut reader = FormReader::new(body_of(split_every(endless, 512)), "b");
        assert!(matches!(
            reader.read_fields().await,
            Err(FormError::FieldsTooLarge)
        ));
    }

    #[test]
    fn delimiters_need_their_line_end() {
        let finder = Finder::new(b"\r\n--b");
        let find = |buf: &[u8]| find_delimiter(&finder, buf);
        assert_eq!(find(b"xx\r\n--b\r\n"), Delimiter::At(2));
        assert_eq!(find(b"xx\r\n--b--"), Delimiter::At(2));
        assert_eq!(find(b"xx\r\n--b \t \r\n"), Delimiter::At(2));
        assert_eq!(find(b"\r\n--bc\r\n--b\r\n"), Delimiter::At(6));
        assert_eq!(find(b"xx\r\n--b"), Delimiter::Maybe(2));
        assert_eq!(find(b"xx\r\n--b-"), Delimiter::Maybe(2));
        assert_eq!(find(b"xx\r\n--b  \r"), Delimiter::Maybe(2));
        assert_eq!(find(b"xx\r\n--b-x"), Delimiter::None);
        assert_eq!(find(b"xx\r\n-"), Delimiter::None);
        let padded = [&b"\r\n--b"[..], &[b' '; MAX_PADDING + 1], b"\r\n"].concat();
        assert_eq!(find(&padded), Delimiter::None);
    }

    #[test]
    fn kept_back_only_what_may_start_a_boundary() {
        let needle = b"\r\n--xyz";
        assert_eq!(boundary_prefix_len(needle, b"abcdef"), 0);
        assert_eq!(boundary_prefix_len(needle, b"abc\r"), 1);
        assert_eq!(boundary_prefix_len(needle, b"abc\r\n--x"), 5);
        assert_eq!(boundary_prefix_len(needle, b"\r\n--xy"), 6);
        assert_eq!(boundary_prefix_len(needle, b"abc\r\n-x"), 0);
        assert_eq!(boundary_prefix_len(needle, b""), 0);
    }

    #[test]
    fn boundaries_and_dispositions() {
        assert_eq!(
            boundary_of("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary_of("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary_of("multipart/form-data"), None);
        assert_eq!(boundary_of("multipart/mixed; boundary=abc"), None);
        assert_eq!(
            boundary_of(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
        assert_eq!(
            disposition(r#"form-data; name="a%22b"; filename="C:\dir\x.txt""#),
            Some(("a%22b".into(), Some("C:\\dir\\x.txt".into())))
        );
        assert_eq!(
            disposition("form-data; name=key"),
            Some(("key".into(), None))
        );
        assert_eq!(
            disposition(
                r#"form-data; name="file"; filename="a.txt"; filename*=utf-8''%C3%A9t%C3%A9.txt"#
            ),
            Some(("file".into(), Some("été.txt".into())))
        );
        assert_eq!(disposition(r#"form-data; filename="x""#), None);
        assert_eq!(disposition(r#"form-data; name="unterminated"#), None);
        assert_eq!(base_name("a/b\\c.txt"), "c.txt");
        assert_eq!(base_name("plain"), "plain");
    }
}
