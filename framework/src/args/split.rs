//! Splitting a configuration string into arguments (Click's `cp_argvec`).

/// Splits a raw configuration string into arguments.
///
/// Splits at commas that are not inside `"..."`, `'...'`, `\<...>` or any
/// `()`, `[]`, `{}` nesting. Comments (`//` to end of line, `/* */`) outside
/// quotes are removed; a comment and the space around it become one space.
/// Each argument is trimmed. As in Click, a final empty argument is dropped, so
/// `""` gives no arguments, `"a,"` gives `["a"]` and `"a,,b"` gives `["a", "", "b"]`.
pub fn split_args(config: &str) -> Vec<String> {
    let bytes = config.as_bytes();
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    // Set after a comment: the next text is separated from earlier text by one space.
    let mut after_comment = false;
    let mut i = 0;
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        let end = match bytes[i] {
            b'"' => skip_double_quote(bytes, i),
            b'\'' => skip_single_quote(bytes, i),
            b'\\' if next == Some(b'<') => skip_hex_block(bytes, i),
            b'/' if next == Some(b'/') || next == Some(b'*') => {
                i = skip_comment(bytes, i);
                after_comment = true;
                continue;
            }
            b',' if depth == 0 => {
                args.push(cur.trim().to_string());
                cur.clear();
                after_comment = false;
                i += 1;
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                i + 1
            }
            // Unbalanced closers are kept as text; they must not make depth wrap.
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i + 1
            }
            _ => char_end(bytes, i),
        };
        let piece = &config[i..end];
        i = end;
        if after_comment {
            if piece.trim().is_empty() {
                continue;
            }
            let kept = cur.trim_end().len();
            cur.truncate(kept);
            if !cur.is_empty() {
                cur.push(' ');
            }
            after_comment = false;
        }
        cur.push_str(piece);
    }
    let last = cur.trim();
    // Click's rule: the last argument is kept only if nonempty (so "a," is one argument).
    if !last.is_empty() {
        args.push(last.to_string());
    }
    args
}

/// Index just past the UTF-8 character starting at `i`.
pub(crate) fn char_end(bytes: &[u8], i: usize) -> usize {
    let width = match bytes[i] {
        b if b < 0x80 => 1,
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        b if b >= 0xC0 => 2,
        _ => 1,
    };
    (i + width).min(bytes.len())
}

/// Index just past a `"..."` string starting at `i` (or the end, if unterminated).
pub(crate) fn skip_double_quote(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => return j + 1,
            b'\\' if bytes.get(j + 1) == Some(&b'<') => j = skip_hex_block(bytes, j),
            // Skip the escaped character whole, so a multi-byte one is not split.
            b'\\' if j + 1 < bytes.len() => j = char_end(bytes, j + 1),
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Index just past a `'...'` string starting at `i` (or the end, if unterminated).
pub(crate) fn skip_single_quote(bytes: &[u8], i: usize) -> usize {
    match bytes[i + 1..].iter().position(|&b| b == b'\'') {
        Some(k) => i + 1 + k + 1,
        None => bytes.len(),
    }
}

/// Index just past a `\<...>` block starting at `i` (comments inside may hide a `>`).
pub(crate) fn skip_hex_block(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 2;
    while j < bytes.len() {
        match bytes[j] {
            b'>' => return j + 1,
            b'/' if matches!(bytes.get(j + 1), Some(b'/') | Some(b'*')) => j = skip_comment(bytes, j),
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Index just past a `//` or `/* */` comment starting at `i`.
pub(crate) fn skip_comment(bytes: &[u8], i: usize) -> usize {
    if bytes[i + 1] == b'/' {
        match bytes[i..].iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(k) => i + k + 1,
            None => bytes.len(),
        }
    } else {
        match bytes[i + 2..].windows(2).position(|w| w == b"*/") {
            Some(k) => i + 2 + k + 2,
            None => bytes.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_args(s)
    }

    #[test]
    fn empty_and_trailing() {
        assert!(split("").is_empty());
        assert!(split("   ").is_empty());
        assert_eq!(split("a,"), ["a"]);
        assert_eq!(split("a, "), ["a"]);
        assert_eq!(split(","), [""]);
        assert_eq!(split("a,,b"), ["a", "", "b"]);
        assert_eq!(split(" a , b ,c"), ["a", "b", "c"]);
    }

    #[test]
    fn quotes_and_nesting_protect_commas() {
        assert_eq!(split(r#""x, y", 'a,b', c"#), [r#""x, y""#, "'a,b'", "c"]);
        assert_eq!(split(r#""a\", b", c"#), [r#""a\", b""#, "c"]);
        assert_eq!(split("f(a, b), [1,2], {x,y}, z"), ["f(a, b)", "[1,2]", "{x,y}", "z"]);
        assert_eq!(split(r"DATA \<00, 11>, LIMIT 1"), [r"DATA \<00, 11>", "LIMIT 1"]);
        assert_eq!(split("a), b"), ["a)", "b"]);
    }

    #[test]
    fn comments() {
        assert_eq!(split("a /* c, d */ b, e // f, g\n, h"), ["a b", "e", "h"]);
        assert_eq!(split("  a /*?*/ b,  c, "), ["a b", "c"]);
        assert_eq!(split(r#""x, y" // ?"#), [r#""x, y""#]);
        assert_eq!(split(r#""/* kept */", '// kept'"#), [r#""/* kept */""#, "'// kept'"]);
        assert_eq!(split("a   b"), ["a   b"]);
        assert_eq!(split("/* only */"), Vec::<String>::new());
        assert_eq!(split("a/**/b"), ["a b"]);
    }

    #[test]
    fn unbalanced_input_does_not_panic() {
        assert_eq!(split(r#""abc, def"#), [r#""abc, def"#]);
        assert_eq!(split("'abc, def"), ["'abc, def"]);
        assert_eq!(split("(a, b"), ["(a, b"]);
        assert_eq!(split("a /* never closed, b"), ["a"]);
        assert_eq!(split(r"\<00 11, 22"), [r"\<00 11, 22"]);
        for s in ["\"", "'", "\\", "\\<", "/", "/*", "//", "\"\\", "\"\\é", "é,ü", ",,,", "\"é"] {
            let _ = split(s);
        }
        assert_eq!(split("é, ü"), ["é", "ü"]);
    }
}
