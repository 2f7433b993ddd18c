//! Removing one level of quoting (Click's `cp_unquote`), as bytes or as text.

use super::split::{char_end, skip_comment};

/// Removes one level of Click quoting from `s`, producing raw bytes.
///
/// `"..."` segments expand backslash escapes, `'...'` segments are literal,
/// `\<hex digits>` expands to bytes outside quotes too, and other text is kept
/// as is. Adjacent segments concatenate: `"a"'b'c` is `abc`. Unlike Click, an
/// unterminated quote or a malformed escape is an error rather than guessed at.
pub fn unquote_bytes(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = double_quoted(bytes, i + 1, &mut out)?,
            b'\'' => i = single_quoted(bytes, i + 1, &mut out)?,
            b'\\' if bytes.get(i + 1) == Some(&b'<') => i = hex_block(bytes, i + 2, &mut out)?,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Like [`unquote_bytes`], but the result must be valid UTF-8 text.
pub fn unquote(s: &str) -> Result<String, String> {
    String::from_utf8(unquote_bytes(s)?)
        .map_err(|_| "string is not valid UTF-8 (binary data needs a Bytes argument)".to_string())
}

/// Reads a double-quoted segment whose body starts at `i`; returns the index after the closing quote.
fn double_quoted(bytes: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Ok(i + 1),
            b'\\' => i = escape(bytes, i + 1, out)?,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Err("unterminated double quote".to_string())
}

/// Reads a single-quoted segment (no escapes at all, as in Click).
fn single_quoted(bytes: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    match bytes[i..].iter().position(|&b| b == b'\'') {
        Some(k) => {
            out.extend_from_slice(&bytes[i..i + k]);
            Ok(i + k + 1)
        }
        None => Err("unterminated single quote".to_string()),
    }
}

/// Expands the escape whose character after the backslash is at `i`; returns the index after it.
fn escape(bytes: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    let Some(&c) = bytes.get(i) else {
        return Err("unterminated double quote".to_string());
    };
    let simple = match c {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Ok(i + 1);
    }
    match c {
        // Backslash-newline is a line continuation and produces nothing.
        b'\n' => Ok(i + 1),
        b'\r' => Ok(if bytes.get(i + 1) == Some(&b'\n') { i + 2 } else { i + 1 }),
        b'0'..=b'7' => octal_escape(bytes, i, out),
        b'x' => hex_escape(bytes, i + 1, out),
        b'<' => hex_block(bytes, i + 1, out),
        // Anything else (\\ \" \' \$ \, ...) stands for itself; keep multi-byte characters whole.
        _ => {
            let end = char_end(bytes, i);
            out.extend_from_slice(&bytes[i..end]);
            Ok(end)
        }
    }
}

/// `\ooo`: one to three octal digits.
fn octal_escape(bytes: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    let digits = bytes[i..].iter().take(3).take_while(|b| (b'0'..=b'7').contains(b)).count();
    let value = bytes[i..i + digits].iter().fold(0u32, |v, &b| v * 8 + u32::from(b - b'0'));
    let byte = u8::try_from(value).map_err(|_| format!("octal escape \\{:o} is larger than \\377", value))?;
    out.push(byte);
    Ok(i + digits)
}

/// `\xHH`: one or two hex digits (Click reads any number and truncates; we stop at two).
fn hex_escape(bytes: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    let digits = bytes[i..].iter().take(2).take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err("\\x escape needs hex digits".to_string());
    }
    let value = bytes[i..i + digits].iter().fold(0u8, |v, &b| v * 16 + hex_value(b));
    out.push(value);
    Ok(i + digits)
}

/// `\<...>` whose body starts at `i`: pairs of hex digits; spaces and comments are ignored.
fn hex_block(bytes: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    let mut high: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'>' {
            if high.is_some() {
                return Err("odd number of hex digits in \\<...>".to_string());
            }
            return Ok(i + 1);
        } else if b.is_ascii_hexdigit() {
            match high.take() {
                Some(h) => out.push(h * 16 + hex_value(b)),
                None => high = Some(hex_value(b)),
            }
            i += 1;
        } else if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'/' && matches!(bytes.get(i + 1), Some(b'/') | Some(b'*')) {
            i = skip_comment(bytes, i);
        } else {
            let end = char_end(bytes, i);
            let shown = String::from_utf8_lossy(&bytes[i..end]);
            return Err(format!("invalid character '{shown}' in \\<...> hex data"));
        }
    }
    Err("unterminated \\<...> hex data (missing '>')".to_string())
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_segments() {
        assert_eq!(unquote("abc def").unwrap(), "abc def");
        assert_eq!(unquote(r#""a"'b'c"#).unwrap(), "abc");
        assert_eq!(unquote(r#""x y.pcap""#).unwrap(), "x y.pcap");
        assert_eq!(unquote("''").unwrap(), "");
        assert_eq!(unquote(r#""""#).unwrap(), "");
        // Backslashes outside quotes are literal, except \<...>.
        assert_eq!(unquote(r"a\nb").unwrap(), r"a\nb");
        assert_eq!(unquote(r"'a\nb'").unwrap(), r"a\nb");
        assert_eq!(unquote("\"é\"ü").unwrap(), "éü");
    }

    #[test]
    fn escapes_in_double_quotes() {
        assert_eq!(unquote(r#""\n\t\\\"\'\$\,""#).unwrap(), "\n\t\\\"'$,");
        assert_eq!(unquote(r#""\a\b\f\r\v""#).unwrap(), "\x07\x08\x0c\r\x0b");
        assert_eq!(unquote(r#""\x41\x4a\x7""#).unwrap(), "AJ\x07");
        assert_eq!(unquote(r#""\101\0\12""#).unwrap(), "A\0\n");
        assert_eq!(unquote(r#""\1012""#).unwrap(), "A2");
        assert_eq!(unquote(r#""\<48 65 6c6C 6f>!""#).unwrap(), "Hello!");
        assert_eq!(unquote("\"a\\\nb\"").unwrap(), "ab");
        assert_eq!(unquote("\"\\é\"").unwrap(), "é");
    }

    #[test]
    fn hex_data() {
        assert_eq!(unquote_bytes(r"\<00 11 22>").unwrap(), [0x00, 0x11, 0x22]);
        assert_eq!(unquote_bytes(r"\<0a0B cc>").unwrap(), [0x0a, 0x0b, 0xcc]);
        assert_eq!(unquote_bytes(r"\<48656c6C 6f 2 /* And finally */ 1>").unwrap(), b"Hello!");
        assert_eq!(unquote_bytes(r"ab\<00>cd").unwrap(), b"ab\0cd");
        assert_eq!(unquote_bytes(r"\<>").unwrap(), b"");
        assert_eq!(unquote_bytes(r#""\xff""#).unwrap(), [0xff]);
        assert!(unquote(r#""\xff""#).is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(unquote(r#""abc"#).unwrap_err(), "unterminated double quote");
        assert_eq!(unquote(r#""abc\"#).unwrap_err(), "unterminated double quote");
        assert_eq!(unquote("'abc").unwrap_err(), "unterminated single quote");
        assert!(unquote(r"\<00 1>").unwrap_err().contains("odd number"));
        assert!(unquote(r"\<00 zz>").unwrap_err().contains("invalid character 'z'"));
        assert!(unquote(r"\<00 é>").unwrap_err().contains("invalid character 'é'"));
        assert!(unquote(r"\<00").unwrap_err().contains("unterminated"));
        assert!(unquote(r#""\xg""#).unwrap_err().contains("\\x"));
        assert!(unquote(r#""\777""#).unwrap_err().contains("octal"));
    }
}
