//! A small deterministic mutator for the bounded runs of `cargo test` (the real fuzzing is
//! libFuzzer's, see FUZZING.md): byte flips, inserts, deletes, duplications, splices with other
//! corpus entries and insertion of tokens the parsers care about.

/// xorshift64*: deterministic for a given seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b":",
    b"=",
    b"&",
    b"?",
    b"/",
    b"%",
    b"%2F",
    b"+",
    b",",
    b";",
    b"-",
    b" ",
    b"0",
    b"1",
    b"9",
    b"ff",
    b"bytes=",
    b"18446744073709551615",
    b"9223372036854775807",
    b"<",
    b">",
    b"</",
    b"/>",
    b"<![CDATA[",
    b"&amp;",
    b"SIGN",
    b"x-amz-",
    b"AWS ",
    b"AWS4-",
    b"Signature=",
    b"SignedHeaders=",
    b"Credential=",
    b"Expires=",
    b"X-Amz-Expires=",
    b";chunk-signature=",
    b"\xff",
    b"\xc3\xa9",
    b"==",
];

/// One mutated input from `base` (and maybe another corpus entry), at most `max_len` bytes.
pub fn mutate(rng: &mut Rng, base: &[u8], corpus: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut out = base.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next_u64() as u8);
            }
            3 if !out.is_empty() => {
                let i = rng.below(out.len());
                let n = 1 + rng.below((out.len() - i).min(16));
                out.drain(i..i + n);
            }
            4 if !out.is_empty() => {
                let i = rng.below(out.len());
                let n = 1 + rng.below((out.len() - i).min(32));
                let piece = out[i..i + n].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, piece);
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(out.len() + 1);
                out.splice(i..i, token.iter().copied());
            }
        }
    }
    out.truncate(max_len);
    out
}
