//! `Message` and `Error`: configuration-time messages and a deliberate failure.

use sluice::args::{Args, Word};
use sluice::{BuildCtx, ConfigError, Element, HandlerSpec, InitCtx};

sluice::element_class! {
    /// Message(MESSAGE [, TYPE])
    ///
    /// Prints a message on configuration.
    ///
    /// The Message element prints a message, warning, or error when configured. It can be
    /// used to provide configuration-level documentation. The MESSAGE argument is the
    /// message (a string); TYPE should be MESSAGE, WARNING, or ERROR. The default is
    /// MESSAGE. If TYPE is ERROR the router will fail to initialize: the graph is refused
    /// with the message as the element's configuration error.
    ///
    /// Messages and warnings go to standard error as `NAME: MESSAGE` and `NAME: warning:
    /// MESSAGE`, once per graph (not once per worker), whenever the graph is built
    /// (`sluice check` included).
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// - `MESSAGE` — string, mandatory, positional. The message.
    /// - `TYPE` — word, positional: `MESSAGE`, `WARNING` or `ERROR`. Default MESSAGE.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// Message("This configuration is deprecated; use test-tun.click instead.", WARNING)
    /// ```
    pub const MESSAGE = "Message" { ports: "0/0", processing: "a/a", handlers: NO_HANDLERS, build: build_message }
}

sluice::element_class! {
    /// Error(...)
    ///
    /// Always fails.
    ///
    /// The Error element always fails to initialize. It has any number of inputs and
    /// outputs, and accepts any configuration string without complaint. It is useful to
    /// prevent a router from initializing while avoiding spurious error messages about
    /// bad configuration strings or connections. `sluice check` (which builds but does not
    /// initialize) accepts it; `sluice run` refuses the graph, and a swap to Error is
    /// refused.
    ///
    /// Ports: any number of inputs and outputs, agnostic.
    ///
    /// # Keywords
    /// Any; all ignored.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// src -> Error -> Discard;   // this router never runs
    /// ```
    pub const ERROR = "Error" { ports: "-/-", processing: "a/a", handlers: NO_HANDLERS, build: build_error }
}

const NO_HANDLERS: &[HandlerSpec] = &[];

fn build_message(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let message = args.read_mp::<String>("MESSAGE")?;
    let kind = args.read_p::<Word>("TYPE")?.map_or_else(|| "MESSAGE".to_string(), |w| w.0);
    args.finish()?;
    let line = match kind.as_str() {
        "MESSAGE" => format!("{}: {message}", ctx.name),
        "WARNING" => format!("{}: warning: {message}", ctx.name),
        "ERROR" => return Err(ConfigError(message)),
        _ => return Err("unrecognized message type".into()),
    };
    if ctx.worker == 0 {
        eprintln!("{line}");
    }
    Ok(Box::new(Quiet))
}

fn build_error(_config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    // Any configuration is accepted, unread.
    Ok(Box::new(AlwaysFails))
}

/// Message's element: nothing to do once configured.
pub struct Quiet;

impl Element for Quiet {}

/// Error's element: fails in `initialize`.
pub struct AlwaysFails;

impl Element for AlwaysFails {
    fn initialize(&mut self, _ctx: &mut InitCtx) -> Result<(), String> {
        Err("Error element: always fails to initialize".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_config};

    #[test]
    fn message_types() {
        assert!(build_elem(&MESSAGE, "\"hello, world\"", 0, 0).is_ok());
        assert!(build_elem(&MESSAGE, "careful, WARNING", 0, 0).is_ok());
        assert!(build_elem(&MESSAGE, "MESSAGE note, TYPE MESSAGE", 0, 0).is_ok());
        assert_eq!(build_elem(&MESSAGE, "\"broken config\", ERROR", 0, 0).err().unwrap().0, "broken config");
        assert_eq!(build_elem(&MESSAGE, "hi, LOUD", 0, 0).err().unwrap().0, "unrecognized message type");
        assert!(build_elem(&MESSAGE, "", 0, 0).is_err());
    }

    #[test]
    fn error_accepts_anything_and_fails_to_initialize() {
        assert!(build_elem(&ERROR, "whatever, you, LIKE 3", 2, 5).is_ok());
        let classes = [crate::standard::CLASSES, &[ERROR]].concat();
        let e = run_config("Idle -> Error -> Discard;", &classes).err().unwrap();
        assert!(e.to_string().contains("always fails to initialize"), "{e}");
        // A Message of type ERROR refuses the graph with its text.
        let e = run_config(
            "Message(\"no way\", ERROR); Idle -> Discard;",
            &[MESSAGE, crate::standard::idle::IDLE, crate::standard::discard::DISCARD],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("no way"), "{e}");
        assert!(run_config(
            "Message(\"fine\"); Idle -> Discard;",
            &[MESSAGE, crate::standard::idle::IDLE, crate::standard::discard::DISCARD]
        )
        .is_ok());
    }
}
