//! Tokens of the Python-literal subset that Dask graphs are written in.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::error::ParseError;
use crate::key::Key;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok<'a> {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Colon,
    Str(Arc<str>),
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    Ident(&'a str),
    True,
    False,
    None,
    Eof,
}

impl Tok<'_> {
    /// Whether this token is `punctuation` (a token without contents: a bracket, a comma…);
    /// cheaper than `==`, which the reader asks several times a token.
    #[inline]
    pub(crate) fn is(&self, punctuation: &Tok) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(punctuation)
    }

    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBrack => "'['".into(),
            Tok::RBrack => "']'".into(),
            Tok::Comma => "','".into(),
            Tok::Colon => "':'".into(),
            Tok::Str(_) => "a string".into(),
            Tok::Bytes(_) => "a bytes literal".into(),
            Tok::Int(_) | Tok::Float(_) => "a number".into(),
            Tok::Ident(name) => format!("the name `{name}`"),
            Tok::True | Tok::False | Tok::None => "a constant".into(),
            Tok::Eof => "the end of the input".into(),
        }
    }
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Short strings recur (key prefixes like `'x'` in a million tuple keys): share one copy.
    interned: FxHashMap<&'a str, Arc<str>>,
}

const INTERN_MAX: usize = 64;

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Lexer<'a> {
        Lexer { src, bytes: src.as_bytes(), pos: 0, interned: FxHashMap::default() }
    }

    pub(crate) fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, offset, message)
    }

    fn skip_trivia(&mut self) {
        self.pos = self.trivia_end(self.pos);
    }

    /// Where the whitespace, comments and line continuations from `pos` end.
    fn trivia_end(&self, mut pos: usize) -> usize {
        while let Some(&b) = self.bytes.get(pos) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => pos += 1,
                b'\\' if matches!(self.bytes.get(pos + 1), Some(b'\n')) => pos += 2,
                b'#' => {
                    while self.bytes.get(pos).is_some_and(|&c| c != b'\n') {
                        pos += 1;
                    }
                }
                _ => break,
            }
        }
        pos
    }

    /// Where the lexer is, to come back to with [`Lexer::rewind`].
    pub(crate) fn mark(&self) -> usize {
        self.pos
    }

    pub(crate) fn rewind(&mut self, mark: usize) {
        self.pos = mark;
    }

    /// Whether the next token is a name that is neither a constant (`None`…), a string prefix
    /// (`b'…'`) nor called (`float('nan')`): after a `(`, what starts a task.
    pub(crate) fn next_is_plain_name(&self) -> bool {
        let Some(end) = self.plain_name_end(self.trivia_end(self.pos)) else { return false };
        !matches!(self.bytes.get(end), Some(b'\'' | b'"')) && self.bytes.get(self.trivia_end(end)) != Some(&b'(')
    }

    /// Where the name starting at `start` ends, if a name starts there and is no constant
    /// (`True`, `False`, `None`).
    fn plain_name_end(&self, start: usize) -> Option<usize> {
        if !self.bytes.get(start).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') {
            return None;
        }
        let end = self.word_end(start);
        (!matches!(&self.src[start..end], "True" | "False" | "None")).then_some(end)
    }

    /// Where the word (letters, digits, `_` and `.`) starting at `start` ends.
    fn word_end(&self, mut end: usize) -> usize {
        while self.bytes.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.') {
            end += 1;
        }
        end
    }

    /// After a `(`: a tuple of plain strings and integers up to its `)` (`('x', 5)`, the keys
    /// of most large graphs, each read a million times) scanned straight from the bytes into
    /// `parts`, without making tokens. False, with nothing read and `parts` empty, for
    /// anything it does not take whole — one item without a trailing comma, escapes, string
    /// prefixes, floats, comments, line breaks — which the token reader then reads.
    pub(crate) fn plain_key_tuple(&mut self, parts: &mut SmallVec<[Key; 4]>) -> bool {
        let start = self.pos;
        let mut pos = start;
        let mut trailing = false;
        loop {
            pos = self.spaces_end(pos);
            match self.bytes.get(pos) {
                Some(b')') if parts.len() > 1 || (parts.len() == 1 && trailing) => {
                    self.pos = pos + 1;
                    return true;
                }
                Some(&quote @ (b'\'' | b'"')) => {
                    let body = pos + 1;
                    let rest = &self.bytes[body..];
                    match rest.iter().position(|&c| c == quote || c == b'\\' || c == b'\n') {
                        Some(len) if rest[len] == quote => {
                            parts.push(Key::Str(self.intern_slice(&self.src[body..body + len])));
                            pos = body + len + 1;
                        }
                        _ => break,
                    }
                }
                Some(b'0'..=b'9' | b'-') => match self.plain_int(pos) {
                    Some(Tok::Int(i)) => {
                        parts.push(Key::Int(i));
                        pos = self.pos;
                    }
                    _ => break,
                },
                _ => break,
            }
            pos = self.spaces_end(pos);
            match self.bytes.get(pos) {
                Some(b',') => {
                    trailing = true;
                    pos += 1;
                }
                Some(b')') => trailing = false,
                _ => break,
            }
        }
        parts.clear();
        self.pos = start;
        false
    }

    /// After a `(`: a task's function name and the comma after it (`(inc, `) read straight
    /// from the bytes: the name, with the lexer past the comma. `None`, with nothing read, for
    /// anything else, which the token reader then decides: a constant (`None`), a string
    /// prefix (`b'…'`), a call (`float('nan')`), `(f)`, comments or line breaks in between.
    pub(crate) fn plain_task_head(&mut self) -> Option<&'a str> {
        let start = self.spaces_end(self.pos);
        let end = self.plain_name_end(start)?;
        let comma = self.spaces_end(end);
        if self.bytes.get(comma) != Some(&b',') {
            return None;
        }
        self.pos = comma + 1;
        Some(&self.src[start..end])
    }

    /// Where the spaces from `pos` end (only spaces: the fast paths leave anything else to the
    /// token reader).
    fn spaces_end(&self, mut pos: usize) -> usize {
        while self.bytes.get(pos) == Some(&b' ') {
            pos += 1;
        }
        pos
    }

    /// The next token and the byte offset where it starts.
    pub(crate) fn next(&mut self) -> Result<(Tok<'a>, usize), ParseError> {
        self.skip_trivia();
        let start = self.pos;
        let Some(&b) = self.bytes.get(start) else {
            return Ok((Tok::Eof, start));
        };
        let single = match b {
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return Ok((tok, start));
        }
        let tok = match b {
            b'\'' | b'"' => self.string(start, false, false)?,
            b'0'..=b'9' | b'.' => self.number(start)?,
            b'-' | b'+' if self.bytes.get(start + 1).is_some_and(|c| c.is_ascii_digit() || *c == b'.') => {
                self.number(start)?
            }
            b if b.is_ascii_alphabetic() || b == b'_' => self.word(start)?,
            _ => {
                let c = self.src[start..].chars().next().unwrap_or('?');
                return Err(self.error(start, format!("unexpected character {c:?}")));
            }
        };
        Ok((tok, start))
    }

    fn word(&mut self, start: usize) -> Result<Tok<'a>, ParseError> {
        let end = self.word_end(start);
        let word = &self.src[start..end];
        if matches!(self.bytes.get(end), Some(b'\'' | b'"')) {
            let prefix = word.to_ascii_lowercase();
            let (raw, bytes) = match prefix.as_str() {
                "r" => (true, false),
                "b" => (false, true),
                "rb" | "br" => (true, true),
                "u" => (false, false),
                _ => return Err(self.error(start, format!("unsupported string prefix `{word}`"))),
            };
            self.pos = end;
            return self.string(start, raw, bytes);
        }
        self.pos = end;
        Ok(match word {
            "True" => Tok::True,
            "False" => Tok::False,
            "None" => Tok::None,
            _ => Tok::Ident(word),
        })
    }

    fn number(&mut self, start: usize) -> Result<Tok<'a>, ParseError> {
        if let Some(tok) = self.plain_int(start) {
            return Ok(tok);
        }
        let mut end = start;
        if matches!(self.bytes[end], b'-' | b'+') {
            end += 1;
        }
        let is_float = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        while let Some(&c) = self.bytes.get(end) {
            let exponent_sign =
                matches!(c, b'-' | b'+') && matches!(self.bytes[end - 1], b'e' | b'E') && !self.is_radix(start);
            if !(is_float(c) || exponent_sign) {
                break;
            }
            end += 1;
        }
        self.pos = end;
        let text: String = self.src[start..end].chars().filter(|&c| c != '_').collect();
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, &text[..]),
        };
        let lower = digits.to_ascii_lowercase();
        let radix = match lower.get(..2) {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            return parse_int(&lower[2..], radix, negative)
                .map(Tok::Int)
                .ok_or_else(|| self.error(start, format!("invalid integer literal `{}`", &self.src[start..end])));
        }
        if lower.contains(['.', 'e']) {
            if lower.contains(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | '-' | '+'))) {
                return Err(self.error(start, format!("invalid number `{}`", &self.src[start..end])));
            }
            return text
                .parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| self.error(start, format!("invalid float literal `{}`", &self.src[start..end])));
        }
        if !lower.bytes().all(|c| c.is_ascii_digit()) {
            return Err(self.error(start, format!("invalid number `{}`", &self.src[start..end])));
        }
        if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|c| c != b'0') {
            return Err(self.error(start, "leading zeros in an integer literal are not allowed (use 0o for octal)"));
        }
        parse_int(&lower, 10, negative)
            .map(Tok::Int)
            .ok_or_else(|| self.error(start, "integer literal out of range for a 64-bit int"))
    }

    /// The common case without allocating: optional `-`, decimal digits, and nothing that
    /// would make it a float, a radix literal or malformed.
    fn plain_int(&mut self, start: usize) -> Option<Tok<'a>> {
        let negative = self.bytes[start] == b'-';
        let digits_start = start + usize::from(matches!(self.bytes[start], b'-' | b'+'));
        let mut end = digits_start;
        let mut magnitude: u64 = 0;
        while let Some(&c) = self.bytes.get(end) {
            if !c.is_ascii_digit() {
                break;
            }
            magnitude = magnitude.checked_mul(10)?.checked_add((c - b'0') as u64)?;
            end += 1;
        }
        let digits = end - digits_start;
        let next_continues = self.bytes.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.');
        if digits == 0 || next_continues || (digits > 1 && self.bytes[digits_start] == b'0') {
            return None;
        }
        let value = if negative { 0i64.checked_sub_unsigned(magnitude)? } else { i64::try_from(magnitude).ok()? };
        self.pos = end;
        Some(Tok::Int(value))
    }

    fn is_radix(&self, start: usize) -> bool {
        let s = &self.bytes[start..];
        let s = if matches!(s.first(), Some(b'-' | b'+')) { &s[1..] } else { s };
        s.len() >= 2 && s[0] == b'0' && matches!(s[1], b'x' | b'X')
    }

    /// A string or bytes literal whose opening quote is at `self.pos` (`start` is where its
    /// prefix began, for messages).
    fn string(&mut self, start: usize, raw: bool, bytes: bool) -> Result<Tok<'a>, ParseError> {
        let quote = self.bytes[self.pos];
        let triple = self.bytes.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]);
        self.pos += if triple { 3 } else { 1 };
        let body_start = self.pos;
        if !triple && !bytes {
            // The common literal — one line, no escapes — is the source slice itself: no
            // buffer, no UTF-8 check (quotes and backslashes are ASCII, so it is whole text).
            let rest = &self.bytes[body_start..];
            if let Some(len) = rest.iter().position(|&c| c == quote || c == b'\\' || c == b'\n') {
                if rest[len] == quote {
                    self.pos = body_start + len + 1;
                    return Ok(Tok::Str(self.intern_slice(&self.src[body_start..body_start + len])));
                }
            }
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.bytes.get(self.pos) else {
                return Err(self.error(start, "unterminated string literal"));
            };
            if c == quote && (!triple || self.bytes.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..])) {
                self.pos += if triple { 3 } else { 1 };
                break;
            }
            if c == b'\n' && !triple {
                return Err(self.error(start, "unterminated string literal (a newline inside quotes)"));
            }
            if bytes && !c.is_ascii() {
                return Err(self.error(self.pos, "bytes literals may only contain ASCII characters"));
            }
            if c == b'\\' && !raw {
                self.escape(&mut out, bytes)?;
            } else if c == b'\\' {
                // Raw strings keep the backslash but it still protects the next character.
                out.push(c);
                self.pos += 1;
                if let Some(&n) = self.bytes.get(self.pos) {
                    out.push(n);
                    self.pos += 1;
                }
            } else {
                out.push(c);
                self.pos += 1;
            }
        }
        if bytes {
            return Ok(Tok::Bytes(out));
        }
        let text =
            String::from_utf8(out).map_err(|_| self.error(body_start, "escape sequences produced invalid UTF-8"))?;
        Ok(Tok::Str(self.intern(text)))
    }

    /// `text`, a slice of the source, shared with its other occurrences when short.
    fn intern_slice(&mut self, text: &'a str) -> Arc<str> {
        if text.len() > INTERN_MAX {
            return Arc::from(text);
        }
        self.interned.entry(text).or_insert_with(|| Arc::from(text)).clone()
    }

    fn intern(&mut self, text: String) -> Arc<str> {
        if text.len() > INTERN_MAX {
            return Arc::from(text);
        }
        // Look up by the source slice when the literal had no escapes, which is the common case.
        if let Some(a) = self.interned.get(text.as_str()) {
            return a.clone();
        }
        let arc: Arc<str> = Arc::from(text.as_str());
        // The map borrows from the source, so only text that appears there verbatim is kept.
        if let Some(slice) = self.source_slice(&text) {
            self.interned.insert(slice, arc.clone());
        }
        arc
    }

    /// A slice of the source equal to `text` just before the current position (the literal's
    /// body when it had no escapes).
    fn source_slice(&self, text: &str) -> Option<&'a str> {
        let end = self.pos.checked_sub(1)?;
        let begin = end.checked_sub(text.len())?;
        let slice = self.src.get(begin..end)?;
        (slice == text).then_some(slice)
    }

    fn escape(&mut self, out: &mut Vec<u8>, bytes: bool) -> Result<(), ParseError> {
        let at = self.pos;
        self.pos += 1; // the backslash
        let Some(&c) = self.bytes.get(self.pos) else {
            return Err(self.error(at, "unterminated string literal"));
        };
        self.pos += 1;
        let simple = match c {
            b'\n' => Some(None),
            b'\\' => Some(Some(b'\\')),
            b'\'' => Some(Some(b'\'')),
            b'"' => Some(Some(b'"')),
            b'a' => Some(Some(7)),
            b'b' => Some(Some(8)),
            b'f' => Some(Some(12)),
            b'n' => Some(Some(b'\n')),
            b'r' => Some(Some(b'\r')),
            b't' => Some(Some(b'\t')),
            b'v' => Some(Some(11)),
            _ => None,
        };
        if let Some(byte) = simple {
            out.extend(byte);
            return Ok(());
        }
        let code = match c {
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                for _ in 0..2 {
                    match self.bytes.get(self.pos) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                v
            }
            b'x' => self.hex_digits(2, at)?,
            b'u' if !bytes => self.hex_digits(4, at)?,
            b'U' if !bytes => self.hex_digits(8, at)?,
            b'N' if !bytes => return Err(self.error(at, "named unicode escapes (\\N{...}) are not supported")),
            _ => {
                // Python keeps unknown escapes as written.
                out.push(b'\\');
                self.pos -= 1;
                return Ok(());
            }
        };
        if bytes {
            out.push(u8::try_from(code).map_err(|_| self.error(at, "escape out of range for bytes"))?);
        } else {
            let ch =
                char::from_u32(code).ok_or_else(|| self.error(at, format!("invalid unicode escape U+{code:X}")))?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }

    fn hex_digits(&mut self, n: usize, at: usize) -> Result<u32, ParseError> {
        let digits = self.src.get(self.pos..self.pos + n).filter(|d| d.bytes().all(|c| c.is_ascii_hexdigit()));
        let digits = digits.ok_or_else(|| self.error(at, format!("truncated escape: expected {n} hex digits")))?;
        self.pos += n;
        u32::from_str_radix(digits, 16).map_err(|_| self.error(at, "invalid hex escape"))
    }
}

fn parse_int(digits: &str, radix: u32, negative: bool) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}
