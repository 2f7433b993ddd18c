//! Syntax tree of a configuration, exactly as written: no names resolved, nothing expanded.

use crate::error::Loc;

/// A word from the source and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub loc: Loc,
}

/// Raw text between `(` and `)` (comments and `$VARS` still in it); `loc` is the first character after `(`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigText {
    pub raw: String,
    pub loc: Loc,
}

/// One statement of a configuration or of an element class body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// A declaration or a chain of connections (a lone declaration is a one-link chain).
    Chain(Chain),
    /// `elementclass Name { ... }` or `elementclass Name Other;`.
    ElementClass { name: Ident, def: ClassDef },
    /// `require(...)`; `loc` is the keyword.
    Require { config: ConfigText, loc: Loc },
    /// `define(...)`; `loc` is the keyword.
    Define { config: ConfigText, loc: Loc },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassDef {
    Body(ClassBody),
    /// `elementclass A B`: A is another name for B.
    Synonym(Ident),
}

/// `{ formals | statements || formals | statements ... }`: one or more overloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassBody {
    /// Location of `{`.
    pub loc: Loc,
    pub overloads: Vec<Overload>,
    /// `|| ...` ended the body (at this location): arguments no overload takes go to the
    /// class's previous definition (Click's class extension).
    pub extends: Option<Loc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overload {
    pub formals: Vec<Formal>,
    pub stmts: Vec<Stmt>,
}

/// `$name` (positional) or `KEYWORD $name`; the keyword `__REST__` collects extra arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Formal {
    pub name: String,
    pub keyword: Option<String>,
    pub loc: Loc,
}

/// `a [1] -> [0] b -> c`: elements joined by arrows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub links: Vec<Link>,
}

/// One element of a chain with its ports. `arrow` is the `->` or `=>` before it (None for
/// the first element and for the later members of an element list).
///
/// Click connects lists of elements: in `a, b -> c`, or `x [0, 1] => y, z`, the elements
/// joined by commas form one *set*, and each arrow connects the set before it to the set
/// after it. A link with `joined` set belongs to the same set as the link before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub in_port: Option<Port>,
    pub elem: ElemRef,
    pub out_port: Option<Port>,
    pub arrow: Option<Loc>,
    /// The arrow before this link is `=>`.
    pub double_arrow: bool,
    /// Joined to the previous link by `,` (same element set).
    pub joined: bool,
}

/// `[N]`, or a port list `[N, M, ...]`; `[N, ]` and `[]` are expandable (N, N+1, ... as
/// many as the other side of the connection needs; `[]` starts at 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The first port listed.
    pub n: usize,
    pub loc: Loc,
    /// The ports after the first.
    pub more: Vec<usize>,
    pub expandable: bool,
}

impl Port {
    /// Every port listed, in order.
    pub fn list(&self) -> Vec<usize> {
        std::iter::once(self.n).chain(self.more.iter().copied()).collect()
    }
}

/// How a chain names an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElemRef {
    /// A bare word: an element declared earlier, or else (Click's rule) a new anonymous
    /// element of the class with that name.
    Name(Ident),
    /// `Class(config)` or `{ ... }(config)`: always a new anonymous element.
    Anon { class: ClassRef, config: Option<ConfigText> },
    /// `a, b :: Class(config)`: new named elements; the chain continues from the first.
    Decl { names: Vec<Ident>, class: ClassRef, config: Option<ConfigText> },
}

impl ElemRef {
    /// Where the reference is written (for messages about it).
    pub fn loc(&self) -> &Loc {
        match self {
            ElemRef::Name(id) => &id.loc,
            ElemRef::Anon { class, .. } => class.loc(),
            ElemRef::Decl { names, class, .. } => names.first().map_or(class.loc(), |n| &n.loc),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassRef {
    Named(Ident),
    /// An anonymous element class written in place.
    Inline(ClassBody),
}

impl ClassRef {
    pub fn loc(&self) -> &Loc {
        match self {
            ClassRef::Named(id) => &id.loc,
            ClassRef::Inline(body) => &body.loc,
        }
    }
}
