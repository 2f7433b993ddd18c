//! Reading element configuration arguments, the Sluice version of Click's `Args`.
//!
//! An element's configuration is the raw text between the parentheses in the graph.
//! [`split_args`] cuts it into arguments at commas that are not inside `"..."`,
//! `'...'`, `\<...>` or any `()`, `[]`, `{}` nesting; comments (`//`, `/* */`) outside
//! quotes are removed and every argument is trimmed; as in Click's `cp_argvec`, a final
//! empty argument is dropped, so `""` has no arguments and `a,` has one. Values are
//! parsed by [`FromArg`] types. String-like types ([`String`], [`Bytes`], [`Word`])
//! remove one level of quoting like Click's `cp_unquote`: `"..."` expands backslash
//! escapes (`\n \t \\ \" \xHH \ooo \<hex>`), `'...'` is literal, `\<00 11 22>` is hex
//! data anywhere, other text is kept as is, and adjacent pieces concatenate. Other types
//! (numbers, addresses, times) read the text unquoted, as Click does.
//!
//! An argument whose first word is an uppercase identifier (`[A-Z][A-Z0-9_]*`) followed
//! by whitespace, like `LIMIT 10`, is a keyword argument, whatever names the element
//! reads; it is never taken as a positional value (quote such a value: `Print("HI there")`).
//! An uppercase identifier standing alone, like `STOP`, is a flag (keyword with empty
//! value, which only flag types such as `bool`, meaning `true`, accept) if the element
//! reads that name, and otherwise a positional value (`Print(RX)`); if it was already
//! taken as a positional value when the element asks for the keyword, that keyword read
//! fails rather than guess. Positional arguments come first and are handed out in the
//! order of [`Args::read_p`]/[`Args::read_mp`] calls; any of them may also be given by
//! keyword (the keyword wins, and the positional slot is still used up). Keywords may
//! come in any order, a repeated keyword's last value wins, and an empty positional
//! argument counts as absent. [`Args::finish`] rejects whatever was not read.
//!
//! Address types also accept the names `AddressInfo` elements declare ([`names`]), while
//! an element is being built.

pub mod names;
mod net;
mod quote;
mod split;
mod values;

pub use net::{EtherAddr, Ipv4Prefix, Ipv6Prefix};
pub use quote::{unquote, unquote_bytes};
pub use split::split_args;
pub use values::{Bytes, Word};

/// A configuration error: one sentence, e.g. `LIMIT: expected integer, found 'ten'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArgError {
    pub message: String,
}

impl ArgError {
    pub fn new(message: impl Into<String>) -> Self {
        ArgError { message: message.into() }
    }
}

/// A type that can be read from one configuration argument.
pub trait FromArg: Sized {
    /// What a value looks like, for messages: "integer", "IPv4 address".
    const DESCRIPTION: &'static str;

    /// Parses the value text (keyword already removed, comments gone, still quoted).
    /// The error is a phrase without the argument name, e.g. `expected integer, found 'x'`.
    fn from_arg(s: &str) -> Result<Self, String>;

    /// The value of a keyword written alone (`STOP`); `None` if a value is required.
    fn flag() -> Option<Self> {
        None
    }
}

/// The standard mismatch phrase for [`FromArg`] implementations: `expected integer, found 'ten'`.
pub fn expected(what: &str, found: &str) -> String {
    format!("expected {what}, found {}", shown(found))
}

/// `'text'` for messages, with control characters escaped and long text cut short.
pub(crate) fn shown(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut out = String::from("'");
    for (k, c) in s.chars().enumerate() {
        if k == MAX_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// How the text of one argument looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A positional value.
    Plain,
    /// `NAME value`: the name ends at `name_end`, the value starts at `value_start`.
    Keyword { name_end: usize, value_start: usize },
    /// `NAME` alone: a flag if the element reads NAME, else a positional value.
    Bare,
}

/// What an argument has been used for so far.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Use {
    Unused,
    /// Taken as the positional argument with this name.
    Positional(String),
    Keyword,
    Rest,
}

#[derive(Debug, Clone)]
struct Arg {
    text: String,
    kind: Kind,
    used: Use,
}

impl Arg {
    fn new(text: String) -> Self {
        let kind = classify(&text);
        Arg { text, kind, used: Use::Unused }
    }

    /// The keyword name, for keyword-shaped arguments.
    fn keyword(&self) -> Option<&str> {
        match self.kind {
            Kind::Plain => None,
            Kind::Keyword { name_end, .. } => Some(&self.text[..name_end]),
            Kind::Bare => Some(&self.text),
        }
    }
}

fn is_keyword_name(word: &str) -> bool {
    let mut bytes = word.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase())
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn classify(text: &str) -> Kind {
    let name_end = text.find(char::is_whitespace).unwrap_or(text.len());
    if !is_keyword_name(&text[..name_end]) {
        Kind::Plain
    } else if name_end == text.len() {
        Kind::Bare
    } else {
        let value_start = text.len() - text[name_end..].trim_start().len();
        Kind::Keyword { name_end, value_start }
    }
}

/// The arguments of one element, read by name and position.
///
/// ```
/// use sluice::args::{Args, Bytes};
/// let mut args = Args::new(r"DATA \<00 11 22>, LIMIT 10, STOP true");
/// let data: Bytes = args.read_mp("DATA").unwrap();
/// let limit: Option<u64> = args.read_p("LIMIT").unwrap();
/// let stop = args.read_kw::<bool>("STOP").unwrap().unwrap_or(false);
/// args.finish().unwrap();
/// assert_eq!((data.0, limit, stop), (vec![0, 0x11, 0x22], Some(10), true));
/// ```
#[derive(Debug, Clone)]
pub struct Args {
    args: Vec<Arg>,
    /// Index of the next positional argument.
    cursor: usize,
    /// Every name asked for, for suggestions in error messages.
    requested: Vec<String>,
}

impl Args {
    /// Splits `config` with [`split_args`].
    pub fn new(config: &str) -> Args {
        Args::from_args(split_args(config))
    }

    /// Uses already split arguments.
    pub fn from_args(args: Vec<String>) -> Args {
        Args { args: args.into_iter().map(Arg::new).collect(), cursor: 0, requested: Vec::new() }
    }

    /// Mandatory positional argument (also accepted as keyword `NAME value`).
    pub fn read_mp<T: FromArg>(&mut self, name: &str) -> Result<T, ArgError> {
        self.read(name, true)?.ok_or_else(|| self.missing(name))
    }

    /// Optional positional argument (or keyword `NAME value`).
    pub fn read_p<T: FromArg>(&mut self, name: &str) -> Result<Option<T>, ArgError> {
        self.read(name, true)
    }

    /// Optional keyword argument `NAME value` (or `NAME` alone, for flag types).
    pub fn read_kw<T: FromArg>(&mut self, name: &str) -> Result<Option<T>, ArgError> {
        self.read(name, false)
    }

    /// Mandatory keyword argument.
    pub fn read_mk<T: FromArg>(&mut self, name: &str) -> Result<T, ArgError> {
        self.read(name, false)?.ok_or_else(|| self.missing(name))
    }

    /// All arguments not read yet, raw and in order (for elements like Classifier that
    /// take N patterns). Call it after reading any keywords.
    pub fn rest(&mut self) -> Vec<String> {
        self.cursor = self.args.len();
        self.args
            .iter_mut()
            .filter(|a| a.used == Use::Unused)
            .map(|a| {
                a.used = Use::Rest;
                a.text.clone()
            })
            .collect()
    }

    /// Fails if any nonempty argument was not read.
    pub fn finish(self) -> Result<(), ArgError> {
        let unused: Vec<&Arg> = self.args.iter().filter(|a| a.used == Use::Unused && !a.text.is_empty()).collect();
        let Some(first) = unused.first() else {
            return Ok(());
        };
        if let Some(message) = self.unknown_keyword(first) {
            return Err(ArgError::new(message));
        }
        let extra: Vec<String> = unused.iter().map(|a| shown(&a.text)).collect();
        Err(ArgError::new(format!("too many arguments: {}", extra.join(", "))))
    }

    fn read<T: FromArg>(&mut self, name: &str, positional: bool) -> Result<Option<T>, ArgError> {
        if !self.requested.iter().any(|r| r == name) {
            self.requested.push(name.to_string());
        }
        let keyword = self.take_keyword(name)?;
        let position = if positional { self.take_positional(name) } else { None };
        // Positionals come first, so a keyword is always the later, winning, value.
        if let Some(index) = keyword {
            self.parse_keyword(name, index)
        } else if let Some(index) = position {
            self.parse_positional(name, index)
        } else {
            Ok(None)
        }
    }

    /// Marks every `NAME ...` argument used and returns the last.
    fn take_keyword(&mut self, name: &str) -> Result<Option<usize>, ArgError> {
        let mut found = None;
        for (index, arg) in self.args.iter_mut().enumerate() {
            if arg.used == Use::Unused && arg.keyword() == Some(name) {
                arg.used = Use::Keyword;
                found = Some(index);
            }
        }
        if found.is_none() {
            // A lone `NAME` already handed out as a value: refuse to guess which was meant.
            let taken = self.args.iter().find_map(|a| match &a.used {
                Use::Positional(p) if a.kind == Kind::Bare && a.text == name => Some(p),
                _ => None,
            });
            if let Some(p) = taken {
                return Err(ArgError::new(format!(
                    "'{name}' was read as positional argument {p}, so it cannot also be keyword {name}; \
                     write '{name} true' for the keyword or '\"{name}\"' for the value"
                )));
            }
        }
        Ok(found)
    }

    /// Takes the next positional argument, if the positional arguments have not ended.
    fn take_positional(&mut self, name: &str) -> Option<usize> {
        let index = self.cursor;
        let arg = self.args.get_mut(index)?;
        let is_value = match arg.kind {
            Kind::Plain => true,
            Kind::Keyword { .. } => false,
            Kind::Bare => !self.requested.contains(&arg.text),
        };
        if arg.used != Use::Unused || !is_value {
            return None;
        }
        arg.used = Use::Positional(name.to_string());
        self.cursor += 1;
        Some(index)
    }

    fn parse_keyword<T: FromArg>(&self, name: &str, index: usize) -> Result<Option<T>, ArgError> {
        let arg = &self.args[index];
        match arg.kind {
            Kind::Keyword { value_start, .. } => parse_named(name, &arg.text[value_start..]).map(Some),
            _ => T::flag()
                .map(Some)
                .ok_or_else(|| ArgError::new(format!("{name}: missing value (expected {})", T::DESCRIPTION))),
        }
    }

    fn parse_positional<T: FromArg>(&self, name: &str, index: usize) -> Result<Option<T>, ArgError> {
        let text = &self.args[index].text;
        if text.is_empty() {
            return Ok(None);
        }
        parse_named(name, text).map(Some)
    }

    fn missing(&self, name: &str) -> ArgError {
        let typo =
            self.args.iter().filter(|a| a.used == Use::Unused).filter_map(Arg::keyword).find(|k| is_close(k, name));
        match typo {
            Some(k) => ArgError::new(format!("missing mandatory argument {name} (is '{k}' a misspelling?)")),
            None => ArgError::new(format!("missing mandatory argument {name}")),
        }
    }

    /// The message for an unread argument that looks like a keyword, if it does.
    fn unknown_keyword(&self, arg: &Arg) -> Option<String> {
        let suggestion = |word: &str| {
            self.requested
                .iter()
                .filter(|r| is_close(word, r))
                .min_by_key(|r| strsim::osa_distance(word, r))
                .map(|r| format!(" (did you mean '{r}'?)"))
        };
        match arg.kind {
            Kind::Keyword { .. } => {
                let word = arg.keyword().unwrap_or_default();
                let hint = suggestion(word).unwrap_or_else(|| self.known_keywords());
                Some(format!("unknown keyword '{word}'{hint}"))
            }
            Kind::Bare => suggestion(&arg.text).map(|hint| format!("unknown keyword '{}'{hint}", arg.text)),
            // `stop true`: keywords are uppercase, and a lowercase one is an easy slip.
            Kind::Plain => {
                let word = arg.text.split_whitespace().next().unwrap_or_default();
                let upper = word.to_ascii_uppercase();
                let is_name = word.len() < arg.text.len() && self.requested.contains(&upper);
                is_name.then(|| format!("unknown keyword '{word}' (did you mean '{upper}'?)"))
            }
        }
    }

    fn known_keywords(&self) -> String {
        if self.requested.is_empty() {
            " (this element takes no keywords)".to_string()
        } else {
            format!(" (known keywords: {})", self.requested.join(", "))
        }
    }
}

/// Parses a value, prefixing any error with the argument name.
fn parse_named<T: FromArg>(name: &str, value: &str) -> Result<T, ArgError> {
    T::from_arg(value).map_err(|e| ArgError::new(format!("{name}: {e}")))
}

/// Whether `word` is plausibly a misspelling of keyword `name`.
fn is_close(word: &str, name: &str) -> bool {
    let allowed = match name.len() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    word != name && strsim::osa_distance(word, name) <= allowed
}

#[cfg(test)]
mod tests;
