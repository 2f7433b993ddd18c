//! The table of element classes a graph may use, by Click name.

use crate::element::ElementClass;
use std::collections::BTreeMap;

/// Element classes by name. Built from the standard library (and, later, plugins).
#[derive(Clone, Default)]
pub struct Registry {
    classes: BTreeMap<&'static str, ElementClass>,
    /// Other names of registered classes, as Click's `EXPORT_ELEMENT(Class Class-Alias)`
    /// gives them (`EtherVlanEncap` for `EtherVLANEncap`): alias to class name.
    aliases: BTreeMap<&'static str, &'static str>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Add classes; a later class with the same name replaces an earlier one.
    pub fn add_all(&mut self, classes: &[ElementClass]) {
        for c in classes {
            self.add(*c);
        }
    }

    pub fn add(&mut self, class: ElementClass) {
        self.classes.insert(class.name, class);
    }

    /// Make `alias` another name for the registered class `class` (as Click's aliases are:
    /// an element created under the alias is that class, and reports the class's own name).
    pub fn add_alias(&mut self, alias: &'static str, class: &'static str) {
        self.aliases.insert(alias, class);
    }

    /// The class named `name`: a registered one (or one an alias names), else a class of a
    /// loaded plugin library.
    pub fn get(&self, name: &str) -> Option<ElementClass> {
        let name = self.aliases.get(name).copied().unwrap_or(name);
        self.classes.get(name).copied().or_else(|| crate::plugin::class(name))
    }

    /// Whether `name` is one of the registered (built-in) classes or an alias of one.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.classes.contains_key(name) || self.aliases.get(name).is_some_and(|c| self.classes.contains_key(c))
    }

    /// All classes, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &ElementClass> {
        self.classes.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.classes.keys().copied()
    }

    /// "unknown element class 'Countr' — did you mean 'Counter'?"
    pub fn unknown_class_message(&self, name: &str) -> String {
        let plugins = crate::plugin::class_names();
        let mut all: Vec<&str> = self.names().collect();
        all.extend(plugins.iter().map(String::as_str));
        match crate::error::suggest(name, all) {
            Some(s) => format!("unknown element class '{name}' — did you mean '{s}'?"),
            None => format!("unknown element class '{name}'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::COLLECT;

    #[test]
    fn aliases_name_the_same_class() {
        let mut r = Registry::new();
        r.add(COLLECT);
        r.add_alias("Gather", COLLECT.name);
        assert_eq!(r.get("Gather").map(|c| c.name), Some(COLLECT.name));
        assert!(r.is_builtin("Gather"));
        assert!(r.get("Gathe").is_none());
        assert_eq!(r.names().collect::<Vec<_>>(), vec![COLLECT.name], "aliases are not listed as classes");
    }
}
