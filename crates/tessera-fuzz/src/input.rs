//! Reading structured values out of a fuzzer's byte string.

/// A cursor over the input bytes. Reading past the end yields zeros / empty slices, so every
/// byte string is a valid input.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 at the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// The bytes up to the next `\n` (consumed, not returned), or the rest.
    pub fn line(&mut self) -> &'a [u8] {
        match self.data.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &self.data[..i];
                self.data = &self.data[i + 1..];
                line
            }
            None => self.rest(),
        }
    }

    /// [`Self::line`] as text (lossy).
    pub fn line_str(&mut self) -> String {
        String::from_utf8_lossy(self.line()).into_owned()
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// A number from the next line: decimal if it is one, else the line's bytes little-endian.
    pub fn number_line(&mut self) -> u64 {
        let line = self.line();
        if let Some(n) = std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            return n;
        }
        let mut buf = [0u8; 8];
        let n = line.len().min(8);
        buf[..n].copy_from_slice(&line[..n]);
        u64::from_le_bytes(buf)
    }
}

/// `name: value` (or `name:value`) lines into a header map; lines that are not valid HTTP
/// header names / values are skipped, as hyper would refuse them before Tessera sees them.
pub fn header_lines(input: &mut Input<'_>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    while !input.is_empty() {
        let line = input.line();
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}
