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
        let token = match c.get_string("control.token") {
            Ok(t) => Some(t),
            Err(config::ConfigError::NotFound(_)) => None,
            Err(e) => bail!("'{}': control.token: {e}", path.display()),
        };
        Ok(Settings { token })
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
    let router = match Router::new(plan, r.threads) {
        Ok(router) => router,
        Err(e) => return report(e),
    };
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
    let settings = Settings::load(r.config.as_deref())?;
    let mut sockets = match control::element::listeners(router.plan(), settings.token.as_deref()) {
        Ok(s) => s,
        Err(e) => return report(e),
    };
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
        while !host.is_finished() {
            if signalled.load(Ordering::Relaxed) {
                host.stop();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        plane.shutdown();
        match Arc::try_unwrap(host) {
            Ok(h) => h.into_router(),
            Err(_) => bail!("the control plane still holds the router"),
        }
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
