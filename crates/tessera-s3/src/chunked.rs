//! The framing of `aws-chunked` bodies, followed alongside s3s's decoder: s3s treats a body that
//! ends where a chunk header is due as complete, so a body cut before its final zero-length
//! chunk would be stored truncated-but-consistent. S3 answers such a body with IncompleteBody.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// Longest chunk header line followed (s3s refuses longer ones itself).
const MAX_HEADER_LINE: usize = 4096;

/// Where the scanner is in the framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Reading a chunk header line (`<hex size>[;chunk-signature=...]\r\n`): its first bytes.
    Header(Vec<u8>),
    /// Skipping `left` bytes of chunk data and its trailing CRLF.
    Data { left: u64 },
    /// The final, zero-length chunk was seen: trailers (if any) follow.
    Done,
    /// The framing is broken; s3s reports that itself, this scanner stops following.
    Broken,
}

impl Default for Framing {
    fn default() -> Self {
        Self::Header(Vec::new())
    }
}

impl Framing {
    /// Advances over `data`.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self {
                Self::Done | Self::Broken => return,
                Self::Data { left } => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        *self = Self::default();
                    }
                }
                Self::Header(line) => {
                    let end = data.iter().position(|&b| b == b'\n');
                    line.extend_from_slice(&data[..end.unwrap_or(data.len())]);
                    if line.len() > MAX_HEADER_LINE {
                        *self = Self::Broken;
                        return;
                    }
                    let Some(i) = end else { return };
                    data = &data[i + 1..];
                    *self = match parse_size(line) {
                        Some(0) => Self::Done,
                        // The data, then its CRLF.
                        Some(n) => Self::Data { left: n + 2 },
                        None => Self::Broken,
                    };
                }
            }
        }
    }

    /// Whether a body may end here.
    pub fn complete(&self) -> bool {
        matches!(self, Self::Done | Self::Broken)
    }
}

/// The hex chunk size at the start of a whole header line (up to `;` or `\r`).
fn parse_size(line: &[u8]) -> Option<u64> {
    let end = line
        .iter()
        .position(|&b| b == b';' || b == b'\r')
        .unwrap_or(line.len());
    let hex = &line[..end];
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// A body cut before its final chunk.
#[derive(Debug, thiserror::Error)]
#[error("IncompleteBody: the aws-chunked body ended before its final zero-length chunk")]
pub struct MissingFinalChunk;

/// Follows the aws-chunked framing of `inner` and fails at its end if the final chunk never
/// came.
pub struct FramingCheck<B> {
    inner: B,
    framing: Framing,
}

impl<B> FramingCheck<B> {
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            framing: Framing::default(),
        }
    }
}

impl<B> Body for FramingCheck<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.framing.feed(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) if !this.framing.complete() => {
                this.framing = Framing::Broken;
                Poll::Ready(Some(Err(Box::new(MissingFinalChunk))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream() && self.framing.complete()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&[u8]], final_chunk: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(
                format!("{:x};chunk-signature={}\r\n", c.len(), "a".repeat(64)).as_bytes(),
            );
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        if final_chunk {
            out.extend_from_slice(
                format!("0;chunk-signature={}\r\n\r\n", "b".repeat(64)).as_bytes(),
            );
        }
        out
    }

    fn scan(bytes: &[u8], frame: usize) -> Framing {
        let mut f = Framing::default();
        for piece in bytes.chunks(frame) {
            f.feed(piece);
        }
        f
    }

    #[test]
    fn whole_bodies_complete_at_any_frame_size() {
        let data = vec![7u8; 70_000];
        let full = body(&[&data[..65536], &data[65536..]], true);
        for frame in [1, 2, 3, 7, 64, 1000, 65536, full.len()] {
            assert_eq!(scan(&full, frame), Framing::Done, "frame {frame}");
        }
        let trailer = [
            body(&[b"abc"], false),
            b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".to_vec(),
        ]
        .concat();
        assert_eq!(scan(&trailer, 5), Framing::Done);
    }

    #[test]
    fn a_body_without_its_final_chunk_is_incomplete() {
        let cut = body(&[b"hello", b"world"], false);
        for frame in [1, 4, 100] {
            let f = scan(&cut, frame);
            assert!(!f.complete(), "frame {frame}: {f:?}");
        }
        assert!(!scan(b"", 1).complete());
        // Cut inside a chunk's data.
        let full = body(&[b"hello"], true);
        assert!(!scan(&full[..20], 3).complete());
    }

    #[test]
    fn garbage_is_left_to_s3s() {
        assert_eq!(scan(b"zz;chunk-signature=x\r\n", 4), Framing::Broken);
        assert!(scan(&[b'1'; 5000], 100).complete());
    }
}
