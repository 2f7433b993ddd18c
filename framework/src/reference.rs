//! The element reference (`docs/elements.md`), rendered from the classes' own docs.

use crate::element::ElementClass;
use crate::runtime::GENERIC_HANDLERS;
use std::fmt::Write;

/// Markdown for `classes`, sorted by name: each class's doc comment, its ports and
/// processing, and its handlers.
pub fn render(title: &str, classes: &[ElementClass]) -> String {
    let mut classes = classes.to_vec();
    classes.sort_by_key(|c| c.name);
    let mut s = format!("# {title}\n\n<!-- Generated from the element sources by `UPDATE_DOCS=1 cargo test -p sluice-elements reference`; do not edit. -->\n\n");
    for c in &classes {
        let _ = writeln!(s, "- [{}](#{}) — {}", c.name, c.name.to_lowercase(), c.summary());
    }
    let generic: Vec<&str> = GENERIC_HANDLERS.iter().map(|h| h.name).collect();
    let _ = writeln!(
        s,
        "\nEvery element also has the read handlers {}.\n",
        generic.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
    );
    for c in &classes {
        let _ = writeln!(s, "## {}\n", c.name);
        let _ = writeln!(s, "`{}` — ports `{}`, processing `{}`\n", c.synopsis(), c.ports, c.processing);
        // The doc comment minus its synopsis line, with rustdoc headings demoted one level.
        let body: Vec<String> = c
            .doc
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .skip_while(|l| l.trim().is_empty())
            .skip(1)
            .map(|l| if l.starts_with('#') { format!("##{l}") } else { l.to_string() })
            .collect();
        let _ = writeln!(s, "{}\n", body.join("\n").trim());
        if !c.handlers.is_empty() {
            let _ = writeln!(s, "| handler | access | meaning |\n|---|---|---|");
            for h in c.handlers {
                let access = match (h.read, h.write) {
                    (true, true) => "read/write",
                    (true, false) => "read",
                    _ => "write",
                };
                let _ = writeln!(s, "| `{}` | {access} | {} |", h.name, h.doc);
            }
            s.push('\n');
        }
    }
    s
}
