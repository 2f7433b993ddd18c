//! Configuration strings: removing comments, substituting `$VARIABLES`, splitting arguments.
//!
//! Quoting follows Click: inside `"..."` a backslash escapes the next character and
//! variables are substituted; inside `'...'` nothing is special; `\<...>` is a hex string.
//! Comments are only recognised outside quotes.

use crate::error::Loc;

use super::lexer::is_var_char;

/// Configuration text without comments, remembering where each character came from,
/// so errors found later (an undefined variable, a bad define) point into the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cleaned {
    pub text: Vec<char>,
    /// Line and column of each character of `text`.
    pos: Vec<(u32, u32)>,
    /// Where the text starts (also the location used when it is empty).
    start: Loc,
}

impl Cleaned {
    /// Location of character `i` (or of the start when there is no such character).
    pub fn loc(&self, i: usize) -> Loc {
        match self.pos.get(i) {
            Some(&(line, col)) => Loc { file: self.start.file.clone(), line, col },
            None => self.start.clone(),
        }
    }

    /// Characters `from..to` as their own text (ranges past the end are clipped).
    pub fn slice(&self, from: usize, to: usize) -> Cleaned {
        let to = to.min(self.text.len());
        let from = from.min(to);
        Cleaned { text: self.text[from..to].to_vec(), pos: self.pos[from..to].to_vec(), start: self.loc(from) }
    }

    pub fn as_string(&self) -> String {
        self.text.iter().collect()
    }
}

/// Lexical state while scanning configuration text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
    Hex,
}

/// Remove `//` and `/* */` comments found outside quotes. A block comment becomes one
/// space so that the words around it stay apart.
pub fn strip_comments(raw: &str, start: &Loc) -> Cleaned {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Cleaned { text: Vec::new(), pos: Vec::new(), start: start.clone() };
    let (mut line, mut col) = (start.line, start.col);
    let mut quote = Quote::None;
    let mut i = 0;
    // Advance over chars[i], keeping line/col in step with the lexer's counting.
    let step = |i: usize, line: &mut u32, col: &mut u32| {
        let c = chars[i];
        if c == '\n' || (c == '\r' && chars.get(i + 1) != Some(&'\n')) {
            *line = line.saturating_add(1);
            *col = 1;
        } else if c != '\r' {
            *col = col.saturating_add(1);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let outside = matches!(quote, Quote::None | Quote::Hex);
        if outside && c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                step(i, &mut line, &mut col);
                i += 1;
            }
            continue;
        }
        if outside && c == '/' && next == Some('*') {
            out.text.push(' ');
            out.pos.push((line, col));
            // Skip through the closing `*/` (the lexer already reported an unclosed one).
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                .map_or(chars.len(), |j| j + 2);
            while i < end {
                step(i, &mut line, &mut col);
                i += 1;
            }
            continue;
        }
        quote = next_quote(quote, c, next);
        out.text.push(c);
        out.pos.push((line, col));
        step(i, &mut line, &mut col);
        i += 1;
        // A backslash inside double quotes protects the next character (e.g. `\"`).
        if quote == Quote::Double && c == '\\' && i < chars.len() {
            out.text.push(chars[i]);
            out.pos.push((line, col));
            step(i, &mut line, &mut col);
            i += 1;
        }
    }
    out
}

/// Quote state after character `c` (`next` follows it). Callers handle backslash escapes.
fn next_quote(q: Quote, c: char, next: Option<char>) -> Quote {
    match (q, c) {
        (Quote::None, '"') => Quote::Double,
        (Quote::None, '\'') => Quote::Single,
        (Quote::None, '\\') if next == Some('<') => Quote::Hex,
        (Quote::Double, '"') => Quote::None,
        (Quote::Single, '\'') => Quote::None,
        (Quote::Hex, '>') => Quote::None,
        (q, _) => q,
    }
}

/// Substitute `$NAME` and `${NAME}` outside single quotes, using `lookup`. An unknown
/// variable is left as written, as Click's `cp_expand` leaves it (Script elements keep
/// their own `$VAR`s that way; a typo shows up when the element reads the argument).
/// Result is trimmed.
///
/// As in Click (`cp_expand`), the braced form may also select one word of the value and
/// give a default: `${NAME[N]}` is the Nth (from 0) space-separated word of the value (empty
/// when there are fewer words), and `${NAME-TEXT}` is TEXT when NAME is not defined. Any
/// `$` inside the braces is substituted first, so `${a[$n]}` works.
pub fn substitute(c: &Cleaned, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let t = &c.text;
    let mut out = String::new();
    let mut quote = Quote::None;
    let mut i = 0;
    while i < t.len() {
        let ch = t[i];
        if ch == '$' && matches!(quote, Quote::None | Quote::Double) {
            if let Some((var, end)) = var_at(c, i, lookup) {
                match expand_var(&var, lookup) {
                    Some(v) => out.push_str(&v),
                    None => out.extend(&t[i..end]),
                }
                i = end;
                continue;
            }
        }
        out.push(ch);
        if quote == Quote::Double && ch == '\\' {
            // Escaped character: copy it as is, so `\"` and `\$` keep their meaning.
            if let Some(&n) = t.get(i + 1) {
                out.push(n);
                i += 2;
                continue;
            }
        }
        quote = next_quote(quote, ch, t.get(i + 1).copied());
        i += 1;
    }
    out.trim().to_string()
}

/// A variable reference: `$name`, or `${name}`, `${name[index]}`, `${name-default}`.
struct VarRef {
    name: String,
    index: Option<usize>,
    default: Option<String>,
}

/// The variable reference starting at `c.text[i] == '$'` and the index after it, or None
/// if the text there is not one (it then stays as written).
fn var_at(c: &Cleaned, i: usize, lookup: &dyn Fn(&str) -> Option<String>) -> Option<(VarRef, usize)> {
    let t = &c.text;
    if t.get(i + 1) == Some(&'{') {
        let close = (i + 2..t.len()).find(|&j| t[j] == '}')?;
        let inner = c.slice(i + 2, close);
        // Click expands variables inside the braces before reading them (`${a[$n]}`).
        let inner: Vec<char> =
            if inner.text.contains(&'$') { substitute(&inner, lookup).chars().collect() } else { inner.text };
        return parse_braced(&inner).map(|v| (v, close + 1));
    }
    let end = (i + 1..t.len()).find(|&j| !is_var_char(t[j])).unwrap_or(t.len());
    (end > i + 1).then(|| (VarRef { name: t[i + 1..end].iter().collect(), index: None, default: None }, end))
}

/// The inside of `${...}`: `name`, then optionally `[N]`, then optionally `-default`.
/// Spaces may surround the name and the index.
fn parse_braced(s: &[char]) -> Option<VarRef> {
    let skip = |mut k: usize| {
        while k < s.len() && s[k].is_whitespace() {
            k += 1;
        }
        k
    };
    let start = skip(0);
    let mut k = start;
    while k < s.len() && is_var_char(s[k]) {
        k += 1;
    }
    if k == start {
        return None;
    }
    let name: String = s[start..k].iter().collect();
    k = skip(k);
    let mut index = None;
    if s.get(k) == Some(&'[') {
        let close = (k..s.len()).find(|&j| s[j] == ']')?;
        let n: String = s[k + 1..close].iter().collect();
        index = Some(n.trim().parse::<usize>().ok()?);
        k = skip(close + 1);
    }
    let default = match s.get(k) {
        None => None,
        Some('-') => Some(s[k + 1..].iter().collect()),
        Some(_) => return None,
    };
    Some(VarRef { name, index, default })
}

/// The text a reference stands for, or None if its variable is undefined and it has no
/// default.
fn expand_var(v: &VarRef, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let Some(value) = lookup(&v.name) else { return v.default.clone() };
    Some(match v.index {
        Some(n) => space_words(&value).into_iter().nth(n).unwrap_or_default(),
        None => value,
    })
}

/// Words separated by blanks outside quotes, quotes kept (Click's `cp_spacevec`).
fn space_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = Quote::None;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if quote == Quote::None && ch.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(ch);
            if quote == Quote::Double && ch == '\\' {
                if let Some(&n) = chars.get(i + 1) {
                    cur.push(n);
                    i += 1;
                }
            } else {
                quote = next_quote(quote, ch, chars.get(i + 1).copied());
            }
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Split at commas outside quotes, as Click's `cp_argvec`: each argument trimmed, a
/// trailing empty argument dropped, so `""` has no arguments and `"a,"` has one.
/// Returns `(from, to)` character ranges of the trimmed arguments.
pub fn split_args(t: &[char]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut quote = Quote::None;
    let mut start = 0;
    let mut i = 0;
    while i < t.len() {
        let ch = t[i];
        if ch == ',' && quote == Quote::None {
            ranges.push(trim_range(t, start, i));
            start = i + 1;
        } else if quote == Quote::Double && ch == '\\' {
            i += 1;
        } else {
            quote = next_quote(quote, ch, t.get(i + 1).copied());
        }
        i += 1;
    }
    let last = trim_range(t, start, t.len());
    if last.0 < last.1 {
        ranges.push(last);
    }
    ranges
}

/// Split a string into its arguments (see [`split_args`]).
pub fn split_args_str(s: &str) -> Vec<String> {
    let t: Vec<char> = s.chars().collect();
    split_args(&t).into_iter().map(|(a, b)| t[a..b].iter().collect()).collect()
}

fn trim_range(t: &[char], mut a: usize, mut b: usize) -> (usize, usize) {
    while a < b && t[a].is_whitespace() {
        a += 1;
    }
    while b > a && t[b - 1].is_whitespace() {
        b -= 1;
    }
    (a, b)
}

/// Words separated by commas or blanks outside quotes, with surrounding quotes removed
/// (for `require(library "a b.so")`).
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => cur.extend(chars.next()),
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ',' || c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn start() -> Loc {
        Loc::new("c.graph", 3, 10)
    }

    fn clean(s: &str) -> String {
        strip_comments(s, &start()).as_string()
    }

    fn subst(s: &str, vars: &[(&str, &str)]) -> String {
        let map: HashMap<String, String> = vars.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        substitute(&strip_comments(s, &start()), &|n| map.get(n).cloned())
    }

    #[test]
    fn comments_removed_outside_quotes() {
        assert_eq!(clean("a // x )\nb"), "a \nb");
        assert_eq!(clean("a/*x*/b"), "a b");
        assert_eq!(clean("\"a // b\" '/* c */'"), "\"a // b\" '/* c */'");
        assert_eq!(clean("\"a\\\" // b\" // c"), "\"a\\\" // b\" ");
        assert_eq!(clean("x/**/y"), "x y");
    }

    #[test]
    fn positions_survive_comment_removal() {
        let c = strip_comments("/* c */\n  $X", &start());
        let i = c.text.iter().position(|&ch| ch == '$').unwrap();
        assert_eq!(c.loc(i).to_string(), "c.graph:4:3");
        assert_eq!(c.loc(99).to_string(), "c.graph:3:10");
    }

    #[test]
    fn substitutes_variables() {
        assert_eq!(subst("LIMIT $N, STOP true", &[("N", "10")]), "LIMIT 10, STOP true");
        assert_eq!(subst("${N}0 $N_x", &[("N", "1"), ("N_x", "2")]), "10 2");
        assert_eq!(subst("\"$N\" '$N'", &[("N", "1")]), "\"1\" '$N'");
        assert_eq!(subst("\"\\$N\" $ 5$", &[("N", "1")]), "\"\\$N\" $ 5$");
        assert_eq!(subst("  a  ", &[]), "a");
    }

    #[test]
    fn braced_variables_select_words_and_give_defaults() {
        // Click's test/compound/variables-01.testie and variableenv.cc's expand().
        let v = [("a", "A B C"), ("n", "2"), ("q", "x \"y z\" w")];
        assert_eq!(subst("${a[0]}|${a[2]}|${a[3]}|${ a [ 1 ] }", &v), "A|C||B");
        assert_eq!(subst("${a[$n]}", &v), "C");
        assert_eq!(subst("${q[1]}", &v), "\"y z\"");
        assert_eq!(subst("${zz-dflt} ${a-dflt} ${zz[1]-d}", &v), "dflt A B C d");
        assert_eq!(subst("\"${a[1]}\" '${a[1]}'", &v), "\"B\" '${a[1]}'");
        // Not a reference: kept as written.
        assert_eq!(subst("${a[x]} ${a b} ${[0]}", &v), "${a[x]} ${a b} ${[0]}");
        assert_eq!(subst("x ${zz[0]}", &[]), "x ${zz[0]}");
    }

    #[test]
    fn undefined_variables_stay_as_written() {
        // As Click's cp_expand leaves them (Script elements rely on it for their $VARs).
        assert_eq!(subst("a,\n  $Z b", &[]), "a,\n  $Z b");
        assert_eq!(subst("x ${Q} $x", &[("x", "1")]), "x ${Q} 1");
    }

    #[test]
    fn splits_arguments_like_click() {
        assert_eq!(split_args_str(""), Vec::<String>::new());
        assert_eq!(split_args_str("  "), Vec::<String>::new());
        assert_eq!(split_args_str("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(split_args_str("a,"), vec!["a"]);
        assert_eq!(split_args_str(",a"), vec!["", "a"]);
        assert_eq!(split_args_str("\"x, y\", 'p,q', z"), vec!["\"x, y\"", "'p,q'", "z"]);
        assert_eq!(split_args_str("\"a\\\",b\", c"), vec!["\"a\\\",b\"", "c"]);
    }

    #[test]
    fn splits_words() {
        assert_eq!(words("library plugins/x.so"), vec!["library", "plugins/x.so"]);
        assert_eq!(words(" package foo , bar "), vec!["package", "foo", "bar"]);
        assert_eq!(words("library \"a b.so\""), vec!["library", "a b.so"]);
    }

    #[test]
    fn never_panics_on_odd_text() {
        for s in [
            "\"", "'", "\\", "\\<", "$", "${", "${}", "${[", "${a[}", "${a[1", "${$}", "${-}", "/*", "//", "\"\\",
            "é$é", "\r", "\r\n$",
        ] {
            let _ = subst(s, &[]);
            let _ = split_args_str(s);
            let _ = words(s);
            let c = strip_comments(s, &start());
            let _ = c.slice(0, 100);
            let _ = c.slice(5, 2);
        }
    }
}
