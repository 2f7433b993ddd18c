//! `sluice`: run, check and draw graphs written in Click's configuration language.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use sluice::check::Plan;
use sluice::control::{self, ControlPlane, Endpoint, ListenerSpec, RouterHost};
use sluice::error::GraphErrors;
use sluice::load::{plan_file, plan_str};
use sluice::registry::Registry;
use sluice::runtime::{Router, RunOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "sluice", version, about = "Run packet-processing graphs written in Click's configuration language")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a graph until its sources are done, it stops itself, or SIGINT/SIGTERM.
    Run(RunArgs),
    /// Parse and check a graph without running it.
    Check(GraphArgs),
    /// Print a graph in Graphviz dot syntax.
    Dot(GraphArgs),
    /// List the element classes with their one-line descriptions.
    Elements,
    /// Write a ready-to-build plugin crate in ./NAME (see docs/plugins.md).
    NewPlugin(NewPluginArgs),
}

#[derive(Args)]
struct NewPluginArgs {
    /// The crate's name, and the directory to create (a path: its last component names the
    /// crate). Letters, digits, '-' and '_', starting with a letter.
    #[arg(value_name = "NAME")]
    name: PathBuf,
    /// The element class to define (default: NAME in CamelCase).
    #[arg(long = "class", value_name = "CLASS")]
    class: Option<String>,
    /// The sluice-plugins SDK directory to depend on (default: this Sluice's source tree when
    /// it is there, else the published version).
    #[arg(long = "sdk", value_name = "PATH")]
    sdk: Option<PathBuf>,
}

#[derive(Args)]
struct GraphArgs {
    /// Configuration given on the command line instead of a file.
    #[arg(short = 'e', long = "expr", value_name = "CONFIG")]
    expr: Option<String>,
    /// The graph file, then NAME=value assignments for `define`d variables.
    #[arg(value_name = "FILE | NAME=value")]
    rest: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    /// Print a handler's value after the run (`-h c.count`); may be repeated.
    #[arg(short = 'H', long = "handler", value_name = "ELEM.HANDLER")]
    handlers: Vec<String>,
    /// Number of worker threads, each with its own instance of the graph.
    #[arg(short = 'j', long = "threads", default_value_t = 1)]
    threads: usize,
    /// Pin worker i to CPU i (each busy-polling worker owns a core).
    #[arg(long = "pin")]
    pin: bool,
    /// DPDK EAL arguments (default: [dpdk] eal in sluice.toml, else
    /// `-l 0 --no-huge --no-pci --no-shconf --no-telemetry -m 512`).
    #[arg(long = "eal", value_name = "ARGS", allow_hyphen_values = true)]
    eal: Option<String>,
    /// Open a control socket (Unix domain, mode 0600) at PATH; the graph then keeps running
    /// until stopped (SIGINT, or `sluicectl write stop`).
    #[arg(long = "control", value_name = "PATH")]
    control: Option<PathBuf>,
    /// Settings file (default: ./sluice.toml when it exists); `[control] token` is the token
    /// TCP control sockets require.
    #[arg(long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    graph: GraphArgs,
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    // Click spells the handler flag `-h`; clap reserves `-h` for help, so accept both
    // `-h X` and `-H X` by rewriting `-h` when it is followed by a value after `run`.
    let args = rewrite_handler_flag(std::env::args().collect());
    let cli = Cli::parse_from(args);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sluice: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// In `sluice run`, `-h ELEM.HANDLER` means a handler (as in Click), not help.
fn rewrite_handler_flag(mut args: Vec<String>) -> Vec<String> {
    if args.get(1).map(String::as_str) == Some("run") {
        for i in 2..args.len() {
            if args[i] == "-h" && i + 1 < args.len() && !args[i + 1].starts_with('-') {
                args[i] = "-H".to_string();
            }
        }
    }
    args
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let registry = sluice_elements::registry();
    match cli.command {
        Command::Elements => {
            for c in registry.iter() {
                println!("{:<16} {}", c.name, c.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(g) => match load(&g, &registry)? {
            Ok(plan) => {
                println!(
                    "{}: ok ({} elements, {} connections)",
                    source_name(&g),
                    plan.len(),
                    plan.graph.connections.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => report(e),
        },
        Command::Dot(g) => match load(&g, &registry)? {
            Ok(plan) => {
                print!("{}", sluice::dot::to_dot(&plan));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => report(e),
        },
        Command::Run(r) => run(r, &registry),
        Command::NewPlugin(a) => new_plugin(a, &registry),
    }
}

fn report(e: GraphErrors) -> Result<ExitCode> {
    eprintln!("{e}");
    let n = e.len();
    eprintln!("sluice: {n} error{} — nothing was run", if n == 1 { "" } else { "s" });
    Ok(ExitCode::from(1))
}

fn source_name(g: &GraphArgs) -> String {
    if g.expr.is_some() {
        "<expr>".into()
    } else {
        g.rest.first().cloned().unwrap_or_default()
    }
}

/// `NAME=value` assignments from the command line.
type Defines = Vec<(String, String)>;

/// Split the positional words into the graph file (unless `-e`) and NAME=value defines.
fn split_rest(g: &GraphArgs) -> Result<(Option<PathBuf>, Defines)> {
    let mut file = None;
    let mut defines = Vec::new();
    for w in &g.rest {
        match w.split_once('=') {
            Some((k, v)) if is_identifier(k) => defines.push((k.to_string(), v.to_string())),
            _ if file.is_none() && g.expr.is_none() => file = Some(PathBuf::from(w)),
            _ => bail!("unexpected argument '{w}' (expected NAME=value)"),
        }
    }
    if file.is_none() && g.expr.is_none() {
        bail!("no graph given: name a FILE or use -e 'CONFIG'");
    }
    Ok((file, defines))
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Outer error: usage problems. Inner error: the graph's own errors.
fn load(g: &GraphArgs, registry: &Registry) -> Result<Result<Plan, GraphErrors>> {
    let (file, defines) = split_rest(g)?;
    Ok(match (&g.expr, file) {
        (Some(text), _) => plan_str("<expr>", text, &defines, registry, Path::new(".")),
        (None, Some(path)) => plan_file(&path, &defines, registry),
        (None, None) => unreachable!("split_rest checks"),
    })
}

/// The configuration text and the name it goes by (for hot-swap messages and `config`).
fn graph_text(g: &GraphArgs) -> Result<(String, String)> {
    let (file, _) = split_rest(g)?;
    Ok(match (&g.expr, file) {
        (Some(text), _) => (text.clone(), "<expr>".into()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading '{}'", path.display()))?;
            (text, path.display().to_string())
        }
        (None, None) => unreachable!("split_rest checks"),
    })
}

/// Settings from `sluice.toml`.
#[derive(Default)]
struct Settings {
    token: Option<String>,
    eal: Option<String>,
}

impl Settings {
    fn load(path: Option<&Path>) -> Result<Settings> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("sluice.toml"), false),
        };
        if !required && !path.exists() {
            return Ok(Settings::default());
        }
        let c = config::Config::builder()
            .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml).required(required))
            .build()
            .with_context(|| format!("reading settings from '{}'", path.display()))?;
        let get = |key: &str| match c.get_string(key) {
            Ok(t) => Ok(Some(t)),
            Err(config::ConfigError::NotFound(_)) => Ok(None),
            Err(e) => Err(anyhow::anyhow!("'{}': {key}: {e}", path.display())),
        };
        Ok(Settings { token: get("control.token")?, eal: get("dpdk.eal")? })
    }
}

fn run(r: RunArgs, registry: &Registry) -> Result<ExitCode> {
    let plan = match load(&r.graph, registry)? {
        Ok(p) => p,
        Err(e) => return report(e),
    };
    // Check the requested handlers before running, so a typo does not cost a whole run.
    let wanted: Vec<(String, String)> = r
        .handlers
        .iter()
        .map(|h| {
            h.rsplit_once('.')
                .map(|(e, n)| (e.to_string(), n.to_string()))
                .with_context(|| format!("'{h}' is not ELEMENT.HANDLER"))
        })
        .collect::<Result<_>>()?;
    let settings = Settings::load(r.config.as_deref())?;
    // DPDK devices start the EAL when the graph is built: its arguments come first.
    if let Some(eal) = r.eal.as_ref().or(settings.eal.as_ref()) {
        sluice_elements::io::set_dpdk_eal_args(eal).map_err(anyhow::Error::msg)?;
    }
    let mut router = match Router::new(plan, r.threads) {
        Ok(router) => router,
        Err(e) => return report(e),
    };
    if r.pin {
        router.pin_workers((0..r.threads).collect());
    }
    for (e, h) in &wanted {
        // Validates names without running: generic handlers answer on a built router.
        router.read_handler(e, "name").map_err(anyhow::Error::msg)?;
        if let Err(err) = router.read_handler(e, h) {
            bail!("{err}");
        }
    }

    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, signalled.clone()).context("installing signal handlers")?;
    }
    let graph_sockets = match control::element::listeners(router.plan(), settings.token.as_deref()) {
        Ok(s) => s,
        Err(e) => return report(e),
    };
    let mut sockets = graph_sockets.clone();
    if let Some(path) = &r.control {
        sockets.push(ListenerSpec { endpoint: Endpoint::Unix(path.clone()), access: Default::default() });
    }
    let router = if sockets.is_empty() {
        let running = router.start(&RunOptions { workers: r.threads, keep_running: false });
        while !running.is_finished() {
            if signalled.load(Ordering::Relaxed) {
                running.stop();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        running.wait()
    } else {
        // With a control socket the graph runs until told to stop, as in Click.
        let opts = RunOptions { workers: r.threads, keep_running: true };
        let (text, name) = graph_text(&r.graph)?;
        let host = Arc::new(RouterHost::from_router(router, text, name, registry.clone(), opts));
        let plane = ControlPlane::start(host.clone(), sockets)?;
        plane.follow_hotswaps(&host, &graph_sockets, settings.token.clone());
        while !host.is_finished() {
            if signalled.load(Ordering::Relaxed) {
                host.stop();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        plane.shutdown();
        host.take_router().context("the router was already taken")?
    };

    let mut status = ExitCode::SUCCESS;
    let single = wanted.len() == 1;
    for (e, h) in &wanted {
        match router.read_handler(e, h) {
            Ok(v) if single => println!("{v}"),
            Ok(v) => println!("{e}.{h}: {v}"),
            Err(err) => {
                eprintln!("sluice: {err}");
                status = ExitCode::from(1);
            }
        }
    }
    Ok(status)
}

/// `sluice new-plugin NAME`: a plugin crate template, ready for `cargo build`.
fn new_plugin(a: NewPluginArgs, registry: &Registry) -> Result<ExitCode> {
    let dir = a.name;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut chars = name.chars();
    if !(chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        bail!("'{name}' is not a crate name: use letters, digits, '-' and '_', starting with a letter");
    }
    let class = match a.class {
        Some(c) => c,
        None => name
            .split(['-', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            })
            .collect(),
    };
    if !(class.starts_with(|c: char| c.is_ascii_alphabetic())
        && class.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        bail!("'{class}' is not a class name: use letters, digits and '_', starting with a letter");
    }
    if registry.is_builtin(&class) {
        bail!("'{class}' is the name of a built-in class: choose another with --class");
    }
    if dir.exists() {
        bail!("'{}' already exists", dir.display());
    }
    // The SDK: the given directory, else this Sluice's source tree, else the published crate.
    let sdk = match a.sdk {
        Some(p) => Some(std::fs::canonicalize(&p).with_context(|| format!("--sdk '{}'", p.display()))?),
        None => std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins"))
            .ok()
            .filter(|p| p.join("src/abi.rs").is_file()),
    };
    let dependency = match &sdk {
        Some(p) => format!("sluice-plugins = {{ path = {:?} }}", p.display().to_string()),
        None => format!("sluice-plugins = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let lib = name.replace('-', "_");
    let fill = |t: &str| {
        t.replace("@NAME@", &name).replace("@LIB@", &lib).replace("@CLASS@", &class).replace("@SDK@", &dependency)
    };
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("creating '{}'", dir.display()))?;
    for (file, template) in [
        ("Cargo.toml", PLUGIN_CARGO_TOML),
        ("src/lib.rs", PLUGIN_LIB_RS),
        ("README.md", PLUGIN_README),
        ("example.graph", PLUGIN_GRAPH),
        (".gitignore", "/target\n/Cargo.lock\n"),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, fill(template)).with_context(|| format!("writing '{}'", path.display()))?;
    }
    println!("Created plugin crate '{name}' in {} (class {class}). Next:", dir.display());
    println!("  cd {} && cargo build --release", dir.display());
    println!("  sluice run -h x.count example.graph");
    println!("  # or in a running Sluice: sluicectl load $PWD/target/release/lib{lib}.so; sluicectl swap ELEMENT '{class}(60)'");
    Ok(ExitCode::SUCCESS)
}

const PLUGIN_CARGO_TOML: &str = r#"[package]
name = "@NAME@"
version = "0.1.0"
edition = "2021"
publish = false

# A Sluice plugin is a C-compatible shared library: target/release/lib@LIB@.so.
[lib]
crate-type = ["cdylib"]

[dependencies]
@SDK@

# The plugin is a workspace of its own, wherever it lives.
[workspace]

[profile.release]
# Panics must unwind: the SDK catches them at the plugin boundary and Sluice disables the
# element. With panic = "abort" a panic would stop the whole router.
panic = "unwind"
"#;

const PLUGIN_LIB_RS: &str = r#"//! @NAME@: a Sluice plugin defining the element class `@CLASS@`.
//!
//! Build with `cargo build --release`; the library is `target/release/lib@LIB@.so`. Use it
//! in a graph with `require(library PATH)`, or load it into a running Sluice with
//! `sluicectl load PATH` and swap it in with `sluicectl swap ELEMENT '@CLASS@(60)'`.
//! See README.md, and docs/plugins.md in Sluice's source tree.

use sluice_plugins::abi::{HANDLER_READ, HANDLER_WRITE};
use sluice_plugins::{export_plugin, BuildInfo, Packet, PluginElement, VERDICT_DROP};

/// `@CLASS@([MIN])`: counts packets, and drops those shorter than MIN bytes (default 0).
///
/// Sluice makes one instance per worker thread and never calls one instance from two
/// threads at once, so the element needs no locks. Do the allocating in `create`: `push`
/// runs for every batch of up to 64 packets.
pub struct @CLASS@ {
    min: usize,
    count: u64,
    short: u64,
}

fn parse_min(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let text = text.strip_prefix("MIN").map(str::trim).unwrap_or(text);
    if text.is_empty() {
        return Ok(0);
    }
    text.parse().map_err(|_| format!("MIN: expected a length in bytes, found '{text}'"))
}

impl PluginElement for @CLASS@ {
    /// The class name graphs use: `x :: @CLASS@(60)`. It may not be a built-in's name.
    const CLASS: &'static str = "@CLASS@";
    /// Port counts in Click's notation, e.g. "1/1" or "1/1-2". Plugin ports are push ports,
    /// with at most 8 outputs.
    const PORTS: &'static str = "1/1";
    /// Documentation in Click's shape: synopsis, blank line, one-line summary, details.
    const DOC: &'static str = "@CLASS@([MIN])

Counts packets and drops those shorter than MIN bytes.

Handlers: count (read), short (read), min (read/write), reset (write).";
    /// Handlers: name and flags. Sluice adds `drops` and `drop_details` itself, counting
    /// every packet this element drops.
    const HANDLERS: &'static [(&'static str, u32)] = &[
        ("count", HANDLER_READ),
        ("short", HANDLER_READ),
        ("min", HANDLER_READ | HANDLER_WRITE),
        ("reset", HANDLER_WRITE),
    ];

    /// Parse the configuration (the text between the parentheses) and make an instance;
    /// an `Err` is shown to the user with the element's place in the graph.
    fn create(config: &str, _info: &BuildInfo) -> Result<Self, String> {
        Ok(@CLASS@ { min: parse_min(config)?, count: 0, short: 0 })
    }

    /// Decide the packets of one batch: `verdicts[i]` is the output port of `pkts[i]`
    /// (preset to 0) or `VERDICT_DROP`. Packets may be changed in place (`data_mut`),
    /// shortened or extended (`pull`, `push`, `take`, `put`) and annotated (`anno_mut`).
    /// Never keep a packet or its bytes after returning: they are Sluice's.
    fn push(&mut self, _port: u32, pkts: &mut [Packet], verdicts: &mut [u16]) {
        self.count += pkts.len() as u64;
        for (p, v) in pkts.iter().zip(verdicts.iter_mut()) {
            if p.len() < self.min {
                *v = VERDICT_DROP;
                self.short += 1;
            }
        }
    }

    /// Read handlers: `None` for a name this element does not have.
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(self.count.to_string()),
            "short" => Some(self.short.to_string()),
            "min" => Some(self.min.to_string()),
            _ => None,
        }
    }

    /// Write handlers: an `Err` is shown to the user.
    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "min" => self.min = parse_min(value)?,
            "reset" => (self.count, self.short) = (0, 0),
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }

    /// State for a replacement of the same class name in a swap (this or a newer version
    /// of the plugin), in a format of your choosing: tag it with a version.
    fn save_state(&self) -> Vec<u8> {
        let mut v = b"@CLASS@/1".to_vec();
        v.extend_from_slice(&self.count.to_le_bytes());
        v.extend_from_slice(&self.short.to_le_bytes());
        v
    }

    /// Take over a predecessor's state; ignore what you do not understand.
    fn restore_state(&mut self, state: &[u8]) {
        let tag = b"@CLASS@/1";
        if state.len() == tag.len() + 16 && state.starts_with(tag) {
            let n = |i: usize| u64::from_le_bytes(state[i..i + 8].try_into().unwrap());
            self.count += n(tag.len());
            self.short += n(tag.len() + 8);
        }
    }
}

// The library's entry point: plugin name, version, and its classes.
export_plugin!("@NAME@", "0.1.0", @CLASS@);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations() {
        assert_eq!(parse_min(""), Ok(0));
        assert_eq!(parse_min("60"), Ok(60));
        assert_eq!(parse_min("MIN 14"), Ok(14));
        assert!(parse_min("long").is_err());
    }
}
"#;

const PLUGIN_README: &str = r#"# @NAME@

A Sluice plugin defining the element class `@CLASS@` (see `src/lib.rs`).

Build it, then run the example graph, which loads the library with `require(library ...)`:

    cargo build --release
    sluice run -h x.count -h x.drops example.graph

Or load it into a running Sluice (started with `sluice run --control /tmp/sluice.sock ...`)
and swap it in for an element, while packets flow:

    sluicectl load $PWD/target/release/lib@LIB@.so
    sluicectl swap ELEMENT '@CLASS@(60)'

After a change, build again and load the new file the same way: new elements use the new
code, elements made before keep theirs until they are swapped. docs/plugins.md in Sluice's
source tree has the whole story.
"#;

const PLUGIN_GRAPH: &str = r#"// Run with: sluice run -h x.count -h x.drops example.graph
require(library target/release/lib@LIB@.so);

InfiniteSource(LIMIT 1000, LENGTH 64, BURST 32) -> x :: @CLASS@(60) -> c :: Counter -> Discard;
InfiniteSource(LIMIT 500, LENGTH 40, BURST 32) -> x;
"#;
