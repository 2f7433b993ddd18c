//! Lexer: configuration text to tokens, each with the location of its first character.
//!
//! Follows Click's lexer: words are made of ASCII letters, digits, `_` and `@`, with `/`
//! allowed between word characters (`a/b`); `$name` is a variable; `(` starts a
//! configuration string that runs to the matching `)` and becomes one token. Comments
//! (`//`, `/* */`) and lines whose first non-blank character is `#` are skipped.

use std::sync::Arc;

use crate::error::{GraphError, Loc};

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A word: element name, class name, port number.
    Ident(String),
    /// `$name` (the name without the `$`).
    Var(String),
    /// The raw text between `(` and its matching `)`; `start` is the first character after `(`.
    Config {
        text: String,
        start: Loc,
    },
    /// A quoted string outside a configuration string (never valid there; kept for messages).
    Quoted,
    Arrow,
    /// `=>`: a many-to-many connection (Click's port and element lists).
    DoubleArrow,
    DoubleColon,
    DoubleBar,
    Ellipsis,
    Elementclass,
    Require,
    Define,
    ConnectionTunnel,
    /// Any other single character: `[ ] { } , ; |` and stray ones.
    Punct(char),
    Eof,
}

impl Tok {
    /// How the token is named in "found X" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Var(s) => format!("'${s}'"),
            Tok::Config { .. } => "'('".to_string(),
            Tok::Quoted => "a quoted string".to_string(),
            Tok::Arrow => "'->'".to_string(),
            Tok::DoubleArrow => "'=>'".to_string(),
            Tok::DoubleColon => "'::'".to_string(),
            Tok::DoubleBar => "'||'".to_string(),
            Tok::Ellipsis => "'...'".to_string(),
            Tok::Elementclass => "'elementclass'".to_string(),
            Tok::Require => "'require'".to_string(),
            Tok::Define => "'define'".to_string(),
            Tok::ConnectionTunnel => "'connectiontunnel'".to_string(),
            Tok::Punct(c) => format!("'{c}'"),
            Tok::Eof => "end of input".to_string(),
        }
    }

    /// Keywords always start a new statement, which makes them good recovery points.
    pub fn is_keyword(&self) -> bool {
        matches!(self, Tok::Elementclass | Tok::Require | Tok::Define | Tok::ConnectionTunnel)
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub loc: Loc,
    /// True when nothing but blanks and comments precede it on its line (used for error recovery).
    pub line_start: bool,
}

/// Split `text` into tokens. Always ends with one `Tok::Eof`. Lexical errors go to `errors`.
pub fn tokenize(file: &Arc<str>, text: &str, errors: &mut Vec<GraphError>) -> Vec<Token> {
    let mut lx =
        Lexer { chars: text.chars().collect(), pos: 0, line: 1, col: 1, file: file.clone(), line_start: true, errors };
    let mut out = Vec::new();
    loop {
        lx.skip_trivia();
        let line_start = lx.line_start;
        let loc = lx.loc();
        let tok = lx.next_tok();
        lx.line_start = false;
        let done = tok == Tok::Eof;
        out.push(Token { tok, loc, line_start });
        if done {
            return out;
        }
    }
}

/// ASCII letters, digits, `_` and `@`, as in Click.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '@'
}

/// Characters of a variable name after `$`.
pub fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

struct Lexer<'e> {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
    file: Arc<str>,
    line_start: bool,
    errors: &'e mut Vec<GraphError>,
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn loc(&self) -> Loc {
        Loc { file: self.file.clone(), line: self.line, col: self.col }
    }

    /// Consume one character, keeping line and column right (`\r\n` counts as one newline).
    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        let newline = c == '\n' || (c == '\r' && self.peek(0) != Some('\n'));
        if newline {
            self.line = self.line.saturating_add(1);
            self.col = 1;
            self.line_start = true;
        } else if c != '\r' {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    fn error(&mut self, loc: Loc, msg: &str) {
        self.errors.push(GraphError::new(loc, msg));
    }

    /// Skip blanks, comments and `#` lines.
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() {
                self.bump();
            } else if c == '/' && self.peek(1) == Some('/') {
                self.skip_to_eol();
            } else if c == '/' && self.peek(1) == Some('*') {
                self.skip_block_comment();
            } else if c == '#' && self.line_start {
                // `#line` and similar preprocessor leftovers: ignored.
                self.skip_to_eol();
            } else {
                break;
            }
        }
    }

    /// Stop before the newline so that the newline still marks the next line's start.
    fn skip_to_eol(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\n' || c == '\r' {
                break;
            }
            self.bump();
        }
    }

    /// At `/*`: skip to after `*/`, reporting an unterminated comment. Returns false if unterminated.
    fn skip_block_comment(&mut self) -> bool {
        let start = self.loc();
        self.bump();
        self.bump();
        loop {
            match self.peek(0) {
                None => {
                    self.error(start, "unterminated '/*' comment");
                    return false;
                }
                Some('*') if self.peek(1) == Some('/') => {
                    self.bump();
                    self.bump();
                    return true;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    fn next_tok(&mut self) -> Tok {
        let Some(c) = self.peek(0) else { return Tok::Eof };
        if is_word_char(c) {
            return self.word();
        }
        if c == '$' && self.peek(1).is_some_and(is_var_char) {
            self.bump();
            let mut name = String::new();
            while let Some(c) = self.peek(0).filter(|&c| is_var_char(c)) {
                name.push(c);
                self.bump();
            }
            return Tok::Var(name);
        }
        let two = (c, self.peek(1).unwrap_or('\0'));
        let tok = match two {
            ('-', '>') => Some(Tok::Arrow),
            ('=', '>') => Some(Tok::DoubleArrow),
            (':', ':') => Some(Tok::DoubleColon),
            ('|', '|') => Some(Tok::DoubleBar),
            _ => None,
        };
        if let Some(tok) = tok {
            self.bump();
            self.bump();
            return tok;
        }
        if c == '.' && self.peek(1) == Some('.') && self.peek(2) == Some('.') {
            for _ in 0..3 {
                self.bump();
            }
            return Tok::Ellipsis;
        }
        match c {
            '(' => self.config(),
            '"' | '\'' => {
                let start = self.loc();
                if !self.skip_quote() {
                    self.error(start, "unterminated quoted string");
                }
                Tok::Quoted
            }
            _ => {
                self.bump();
                Tok::Punct(c)
            }
        }
    }

    /// A word; `/` continues it only when a word character follows (`a/b`, not `a//comment`).
    fn word(&mut self) -> Tok {
        let mut w = String::new();
        while let Some(c) = self.peek(0) {
            let slash_inside = c == '/' && self.peek(1).is_some_and(is_word_char);
            if !is_word_char(c) && !slash_inside {
                break;
            }
            w.push(c);
            self.bump();
        }
        match w.as_str() {
            "elementclass" => Tok::Elementclass,
            "require" => Tok::Require,
            "define" => Tok::Define,
            "connectiontunnel" => Tok::ConnectionTunnel,
            _ => Tok::Ident(w),
        }
    }

    /// At a quote: skip the quoted string, copying nothing. Double quotes allow backslash
    /// escapes; single quotes do not. Returns false when the closing quote is missing.
    fn skip_quote(&mut self) -> bool {
        let q = self.bump().unwrap_or('"');
        while let Some(c) = self.bump() {
            if c == q {
                return true;
            }
            if c == '\\' && q == '"' {
                self.bump();
            }
        }
        false
    }

    /// At `(`: the configuration string up to the matching `)`, as one raw token.
    /// Parentheses inside quotes, comments and `\<...>` do not count.
    fn config(&mut self) -> Tok {
        let open = self.loc();
        self.bump();
        let start = self.loc();
        let from = self.pos;
        let mut depth = 1usize;
        loop {
            let Some(c) = self.peek(0) else {
                self.error(open, "unterminated configuration string: missing ')'");
                return self.config_tok(from, self.pos, start);
            };
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        let tok = self.config_tok(from, self.pos, start);
                        self.bump();
                        return tok;
                    }
                }
                '"' | '\'' => {
                    let qloc = self.loc();
                    if !self.skip_quote() {
                        self.error(qloc, "unterminated quoted string");
                        return self.config_tok(from, self.pos, start);
                    }
                    continue;
                }
                '/' if self.peek(1) == Some('/') => {
                    self.skip_to_eol();
                    continue;
                }
                '/' if self.peek(1) == Some('*') => {
                    if !self.skip_block_comment() {
                        return self.config_tok(from, self.pos, start);
                    }
                    continue;
                }
                '\\' if self.peek(1) == Some('<') => {
                    if !self.skip_hex() {
                        return self.config_tok(from, self.pos, start);
                    }
                    continue;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// At `\<`: Click's hex-string syntax, closed by `>`; comments are allowed inside.
    fn skip_hex(&mut self) -> bool {
        let start = self.loc();
        self.bump();
        self.bump();
        loop {
            match self.peek(0) {
                None => {
                    self.error(start, "unterminated '\\<' string: missing '>'");
                    return false;
                }
                Some('>') => {
                    self.bump();
                    return true;
                }
                Some('/') if self.peek(1) == Some('*') => {
                    if !self.skip_block_comment() {
                        return false;
                    }
                }
                Some('/') if self.peek(1) == Some('/') => self.skip_to_eol(),
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    fn config_tok(&self, from: usize, to: usize, start: Loc) -> Tok {
        let text = self.chars.get(from..to).unwrap_or(&[]).iter().collect();
        Tok::Config { text, start }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> (Vec<Token>, Vec<GraphError>) {
        let mut errs = Vec::new();
        let toks = tokenize(&Arc::from("t.graph"), text, &mut errs);
        (toks, errs)
    }

    fn kinds(text: &str) -> Vec<Tok> {
        lex(text).0.into_iter().map(|t| t.tok).collect()
    }

    fn id(s: &str) -> Tok {
        Tok::Ident(s.to_string())
    }

    fn errs(text: &str) -> Vec<String> {
        lex(text).1.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn double_arrow() {
        assert_eq!(kinds("a=>b"), vec![id("a"), Tok::DoubleArrow, id("b"), Tok::Eof]);
    }

    #[test]
    fn words_and_symbols() {
        assert_eq!(
            kinds("a/b->c::D [1]"),
            vec![
                id("a/b"),
                Tok::Arrow,
                id("c"),
                Tok::DoubleColon,
                id("D"),
                Tok::Punct('['),
                id("1"),
                Tok::Punct(']'),
                Tok::Eof
            ]
        );
        assert_eq!(kinds("x@3 || ..."), vec![id("x@3"), Tok::DoubleBar, Tok::Ellipsis, Tok::Eof]);
        assert_eq!(kinds("$n, $x_1"), vec![Tok::Var("n".into()), Tok::Punct(','), Tok::Var("x_1".into()), Tok::Eof]);
        assert_eq!(kinds("$ "), vec![Tok::Punct('$'), Tok::Eof]);
    }

    #[test]
    fn keywords() {
        assert_eq!(
            kinds("elementclass require define connectiontunnel defines"),
            vec![Tok::Elementclass, Tok::Require, Tok::Define, Tok::ConnectionTunnel, id("defines"), Tok::Eof]
        );
    }

    #[test]
    fn slash_ends_word_before_comment() {
        assert_eq!(kinds("a// c\nb/* x */c"), vec![id("a"), id("b"), id("c"), Tok::Eof]);
        assert_eq!(kinds("a/"), vec![id("a"), Tok::Punct('/'), Tok::Eof]);
    }

    #[test]
    fn locations_count_characters() {
        let (toks, _) = lex("é -> b\n\t c");
        assert_eq!(toks[0].loc.to_string(), "t.graph:1:1");
        assert_eq!(toks[1].loc.to_string(), "t.graph:1:3");
        assert_eq!(toks[2].loc.to_string(), "t.graph:1:6");
        assert_eq!(toks[3].loc.to_string(), "t.graph:2:3");
        assert!(toks[3].line_start && !toks[1].line_start);
    }

    #[test]
    fn crlf_is_one_newline() {
        let (toks, _) = lex("a\r\nb\rc");
        assert_eq!(toks[1].loc.to_string(), "t.graph:2:1");
        assert_eq!(toks[2].loc.to_string(), "t.graph:3:1");
    }

    #[test]
    fn hash_lines_are_ignored() {
        assert_eq!(kinds("#line 5 \"x\"\n  # another\na # not\n"), vec![id("a"), Tok::Punct('#'), id("not"), Tok::Eof]);
    }

    #[test]
    fn config_string_is_one_token() {
        let (toks, errs) = lex("X(a (b) \")\" ')' // )\n /* ) */ \\<0a )>) y");
        assert!(errs.is_empty(), "{errs:?}");
        match &toks[1].tok {
            Tok::Config { text, start } => {
                assert_eq!(text, "a (b) \")\" ')' // )\n /* ) */ \\<0a )>");
                assert_eq!(start.to_string(), "t.graph:1:3");
            }
            t => panic!("{t:?}"),
        }
        assert_eq!(toks[2].tok, id("y"));
    }

    #[test]
    fn escaped_quote_inside_config() {
        let (toks, errs) = lex(r#"X("a\")b")"#);
        assert!(errs.is_empty());
        assert!(matches!(&toks[1].tok, Tok::Config { text, .. } if text == r#""a\")b""#));
    }

    #[test]
    fn unterminated_config() {
        assert_eq!(errs("a :: X(1, (2)\n-> b"), vec!["t.graph:1:7: unterminated configuration string: missing ')'"]);
    }

    #[test]
    fn unterminated_comment() {
        assert_eq!(errs("a -> b\n  /* never closed"), vec!["t.graph:2:3: unterminated '/*' comment"]);
        assert_eq!(errs("X(1 /* ) "), vec!["t.graph:1:5: unterminated '/*' comment"]);
    }

    #[test]
    fn unterminated_quotes() {
        assert_eq!(errs("X(\"abc)"), vec!["t.graph:1:3: unterminated quoted string"]);
        assert_eq!(errs("X('abc)\n"), vec!["t.graph:1:3: unterminated quoted string"]);
        assert_eq!(errs("a \"x"), vec!["t.graph:1:3: unterminated quoted string"]);
        assert_eq!(errs("X(\\<00 "), vec!["t.graph:1:3: unterminated '\\<' string: missing '>'"]);
    }

    #[test]
    fn describes_tokens() {
        assert_eq!(Tok::Punct('[').describe(), "'['");
        assert_eq!(Tok::Var("x".into()).describe(), "'$x'");
        assert_eq!(Tok::Eof.describe(), "end of input");
    }
}
