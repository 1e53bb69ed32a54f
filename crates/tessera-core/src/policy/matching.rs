//! Wildcard patterns (`*`, `?`) with policy variables (`${aws:username}`), compiled once at
//! parse time and matched without allocating.
//!
//! Variables: IAM User Guide, "IAM policy elements: Variables and tags" — `${key}`,
//! `${key, 'default'}`, and the escapes `${*}`, `${?}`, `${$}` for literal characters.

/// Resolves a policy variable (a lowercased condition key) to its single value.
pub(crate) trait Vars {
    fn var(&self, key: &str) -> Option<&str>;
}

/// No variables: every `${...}` is unresolvable (used at parse time).
pub(crate) struct NoVars;

impl Vars for NoVars {
    fn var(&self, _key: &str) -> Option<&str> {
        None
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(String),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, possibly empty.
    Many,
    /// `${key}` or `${key, 'default'}`: replaced by the key's value, matched literally.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A compiled pattern: literal text, wildcards and variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

/// How to read a pattern's source text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (else literal).
    pub wildcards: bool,
    /// `${...}` is a variable (Version 2012-10-17 only; else literal).
    pub variables: bool,
}

impl Pattern {
    /// Compiles `src`; never fails (an unterminated `${` is literal text, as AWS keeps it).
    pub(crate) fn compile(src: &str, syntax: Syntax) -> Pattern {
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut rest = src;
        while let Some(c) = rest.chars().next() {
            if syntax.variables && rest.starts_with("${") {
                if let Some(end) = rest.find('}') {
                    let inner = &rest[2..end];
                    rest = &rest[end + 1..];
                    match inner.trim() {
                        "*" | "?" | "$" => lit.push_str(inner.trim()),
                        body => {
                            flush(&mut lit, &mut tokens);
                            tokens.push(parse_var(body));
                        }
                    }
                    continue;
                }
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut lit, &mut tokens);
                    // Consecutive stars are one star.
                    if tokens.last() != Some(&Token::Many) {
                        tokens.push(Token::Many);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut lit, &mut tokens);
                    tokens.push(Token::One);
                }
                _ => lit.push(c),
            }
        }
        flush(&mut lit, &mut tokens);
        Pattern { tokens }
    }

    /// True when the pattern has a wildcard or a variable (its value is not fixed).
    pub(crate) fn is_fixed(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Lit(_)))
    }

    /// Matches the whole of `input`; `fold` compares ASCII letters case-insensitively.
    /// An unresolvable variable without a default matches nothing.
    pub(crate) fn matches(&self, input: &str, vars: &dyn Vars, fold: bool) -> bool {
        // Fast path for the common exact name (`s3:GetObject`): one length test, one compare.
        if let [Token::Lit(l)] = self.tokens.as_slice() {
            return l.len() == input.len() && prefix_eq(input, l, fold);
        }
        match_tokens(&self.tokens, input, vars, fold)
    }

    /// Splits at each literal `:` into ARN components (at most `n`, the last keeps its colons).
    pub(crate) fn split_colons(&self, n: usize) -> Vec<Pattern> {
        let mut parts = vec![Vec::new()];
        for t in &self.tokens {
            match t {
                Token::Lit(s) => {
                    let mut first = true;
                    for piece in s.split(':') {
                        if !first {
                            if parts.len() < n {
                                parts.push(Vec::new());
                            } else {
                                push_lit(parts.last_mut(), ":");
                            }
                        }
                        first = false;
                        if !piece.is_empty() {
                            push_lit(parts.last_mut(), piece);
                        }
                    }
                }
                other => {
                    if let Some(p) = parts.last_mut() {
                        p.push(other.clone());
                    }
                }
            }
        }
        parts.into_iter().map(|tokens| Pattern { tokens }).collect()
    }
}

fn push_lit(part: Option<&mut Vec<Token>>, s: &str) {
    if let Some(part) = part {
        if let Some(Token::Lit(l)) = part.last_mut() {
            l.push_str(s);
        } else {
            part.push(Token::Lit(s.to_string()));
        }
    }
}

fn flush(lit: &mut String, tokens: &mut Vec<Token>) {
    if !lit.is_empty() {
        tokens.push(Token::Lit(std::mem::take(lit)));
    }
}

/// `aws:username` or `aws:username, 'default'`; keys are case-insensitive.
fn parse_var(body: &str) -> Token {
    let (key, default) = match body.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .unwrap_or(d);
            (k.trim(), Some(d.to_string()))
        }
        None => (body, None),
    };
    Token::Var {
        key: key.to_ascii_lowercase(),
        default,
    }
}

fn prefix_eq(input: &str, lit: &str, fold: bool) -> bool {
    let (i, l) = (input.as_bytes(), lit.as_bytes());
    i.len() >= l.len()
        && if fold {
            i[..l.len()].eq_ignore_ascii_case(l)
        } else {
            &i[..l.len()] == l
        }
}

/// Glob matching with one backtrack point (the last `*`): O(len(input) * len(pattern)).
/// Correct because every other token consumes a length fixed once the variable is resolved.
fn match_tokens(tokens: &[Token], input: &str, vars: &dyn Vars, fold: bool) -> bool {
    let mut ti = 0;
    let mut pos = 0;
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match tokens.get(ti) {
            None if pos == input.len() => return true,
            None => false,
            Some(Token::Many) => {
                star = Some((ti + 1, pos));
                ti += 1;
                continue;
            }
            Some(Token::One) => match input[pos..].chars().next() {
                Some(c) => {
                    pos += c.len_utf8();
                    true
                }
                None => false,
            },
            Some(Token::Lit(l)) => {
                let ok = prefix_eq(&input[pos..], l, fold);
                if ok {
                    pos += l.len();
                }
                ok
            }
            Some(Token::Var { key, default }) => {
                let Some(value) = vars.var(key).or(default.as_deref()) else {
                    return false;
                };
                let ok = prefix_eq(&input[pos..], value, fold);
                if ok {
                    pos += value.len();
                }
                ok
            }
        };
        if advanced {
            ti += 1;
            continue;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        match star {
            Some((after, from)) => match input[from..].chars().next() {
                Some(c) => {
                    let next = from + c.len_utf8();
                    star = Some((after, next));
                    ti = after;
                    pos = next;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Map(&'static [(&'static str, &'static str)]);
    impl Vars for Map {
        fn var(&self, key: &str) -> Option<&str> {
            self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        }
    }

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    fn m(pat: &str, input: &str) -> bool {
        Pattern::compile(pat, GLOB).matches(input, &NoVars, false)
    }

    #[test]
    fn star_matches_any_run_including_empty_and_slashes() {
        assert!(m("*", ""));
        assert!(m("arn:aws:s3:::b/*", "arn:aws:s3:::b/"));
        assert!(m("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c"));
        assert!(!m("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
    }

    #[test]
    fn empty_pattern_matches_only_the_empty_string() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
        assert!(m("*", "anything"));
    }

    #[test]
    fn question_mark_is_exactly_one_character_even_multibyte() {
        assert!(m("k?y", "key"));
        assert!(m("k?y", "kéy"));
        assert!(!m("k?y", "ky"));
        assert!(!m("k?y", "keey"));
        assert!(m("??", "日本"));
    }

    #[test]
    fn star_backtracks_over_repeated_prefixes() {
        assert!(m("*aab", "aaaab"));
        assert!(m("*a?b*", "xxaxbyy"));
        assert!(!m("*a?b", "xxaxbyy"));
        assert!(m("**x", "abx"));
    }

    #[test]
    fn matching_is_case_sensitive_unless_folded() {
        let p = Pattern::compile("s3:Get*", GLOB);
        assert!(!p.matches("S3:GETOBJECT", &NoVars, false));
        assert!(p.matches("S3:GETOBJECT", &NoVars, true));
    }

    #[test]
    fn variables_are_replaced_and_matched_literally() {
        let vars = Map(&[("aws:username", "al*ce")]);
        let p = Pattern::compile("home/${aws:username}/*", GLOB);
        assert!(p.matches("home/al*ce/x", &vars, false));
        // The `*` from the value is literal, not a wildcard.
        assert!(!p.matches("home/alice/x", &vars, false));
    }

    #[test]
    fn variable_keys_are_case_insensitive() {
        let vars = Map(&[("aws:username", "bob")]);
        let p = Pattern::compile("${AWS:UserName}", GLOB);
        assert!(p.matches("bob", &vars, false));
    }

    #[test]
    fn unresolvable_variable_matches_nothing_but_default_applies() {
        let p = Pattern::compile("${aws:username}*", GLOB);
        assert!(!p.matches("anything", &NoVars, false));
        assert!(!p.matches("", &NoVars, false));
        let d = Pattern::compile("x/${aws:username, 'nobody'}", GLOB);
        assert!(d.matches("x/nobody", &NoVars, false));
    }

    #[test]
    fn escapes_give_literal_wildcard_characters() {
        let p = Pattern::compile("a${*}b${?}c${$}", GLOB);
        assert!(p.matches("a*b?c$", &NoVars, false));
        assert!(!p.matches("aXbYc$", &NoVars, false));
        assert!(p.is_fixed());
    }

    #[test]
    fn without_variable_syntax_dollar_braces_are_literal() {
        let p = Pattern::compile(
            "${aws:username}",
            Syntax {
                wildcards: true,
                variables: false,
            },
        );
        assert!(p.matches("${aws:username}", &NoVars, false));
    }

    #[test]
    fn without_wildcard_syntax_star_is_literal() {
        let p = Pattern::compile(
            "a*",
            Syntax {
                wildcards: false,
                variables: false,
            },
        );
        assert!(p.matches("a*", &NoVars, false));
        assert!(!p.matches("ab", &NoVars, false));
    }

    #[test]
    fn split_colons_keeps_variables_whole_and_the_last_part_intact() {
        let p = Pattern::compile("arn:aws:iam::${aws:PrincipalAccount}:user/a:b", GLOB);
        let parts = p.split_colons(6);
        assert_eq!(parts.len(), 6);
        let vars = Map(&[("aws:principalaccount", "123456789012")]);
        assert!(parts[4].matches("123456789012", &vars, false));
        assert!(parts[5].matches("user/a:b", &vars, false));
        assert!(parts[3].matches("", &vars, false));
    }
}
