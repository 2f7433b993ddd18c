//! The table of element classes a graph may use, by Click name.

use crate::element::ElementClass;
use std::collections::BTreeMap;

/// Element classes by name. Built from the standard library (and, later, plugins).
#[derive(Clone, Default)]
pub struct Registry {
    classes: BTreeMap<&'static str, ElementClass>,
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

    /// The class named `name`: a registered one, else a class of a loaded plugin library.
    pub fn get(&self, name: &str) -> Option<ElementClass> {
        self.classes.get(name).copied().or_else(|| crate::plugin::class(name))
    }

    /// Whether `name` is one of the registered (built-in) classes.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.classes.contains_key(name)
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
