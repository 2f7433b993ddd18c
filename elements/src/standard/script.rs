//! `Script` and `DriverManager`: Click's scripting language for controlling a router —
//! call handlers, wait for time or for stop events, stop the router.
//!
//! The interpreter follows Click's `Script::step` (elements/standard/script.cc): a script is
//! a list of instructions with an instruction pointer and a step count; blocking
//! instructions (`pause`/`wait_stop`, `wait TIME`) are passed by *steps*, which come from
//! timers, from writes to the `step` handler and, for a driver script, from the router's
//! stop events. It runs on worker 0 through the framework's script seam
//! ([`sluice::script::ScriptCtx`]).

use sluice::args::{split_args, unquote, FromArg};
use sluice::script::ScriptCtx;
use sluice::{BuildCtx, Combine, ConfigError, Element, HandlerSpec, InitCtx, TaskStatus};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

sluice::element_class! {
    /// Script(INSTRUCTIONS..., [TYPE])
    ///
    /// Scripts a Click router configuration.
    ///
    /// Implements Click's simple scripting language for controlling configurations:
    /// scripts set variables, call handlers, wait for time or for prodding, and stop the
    /// router. Each argument is an instruction; they run in order. Instruction names are
    /// checked, `goto` labels resolved, and `ELEMENT.HANDLER` names without `$`
    /// substitutions checked against the graph's elements when the graph is built, so a
    /// mistake is refused with its file:line:col before anything runs.
    ///
    /// Handler instructions (text undergoes substitutions; the `q` forms then remove a
    /// layer of quotes):
    /// - `set VAR TEXT`, `setq VAR TEXT` — sets `$VAR`.
    /// - `init VAR TEXT`, `initq`, `export`, `exportq` — sets `$VAR` once, when the script
    ///   starts.
    /// - `print [>FILE | >>FILE] [TEXT | HANDLER]`, `printq`, `printn`, `printnq` — prints
    ///   TEXT (one layer of quotes removed) or, when the argument starts with a letter,
    ///   `@` or `_`, the value of a read handler (`print c.count`), then a newline
    ///   (`printn`: none), to standard output or to FILE.
    /// - `read HANDLER [ARGS]`, `readq` — prints `NAME:` and the handler's value to
    ///   standard error.
    /// - `write HANDLER [ARGS]`, `writeq` — calls a write handler; `$?` is 0 after a
    ///   success and -22 after a failure.
    /// - `save HANDLER FILE`, `append HANDLER FILE` — writes or appends a read handler's
    ///   value to FILE (`-`: standard output).
    ///
    /// Blocking instructions:
    /// - `pause [COUNT]` (also `wait_step`, `wait_stop`, `wait` alone) — blocks until
    ///   COUNT steps (default 1).
    /// - `wait TIME` (also `wait_time`, `wait_for`) — waits TIME (`1s`, `0.5`, `100ms`)
    ///   or until a step, whichever comes first. Waiting never blocks the worker.
    ///
    /// Control instructions: `label LABEL`; `goto LABEL [CONDITION]` (CONDITION a
    /// boolean after substitution; the labels `begin`, `end`, `exit`, `error` and
    /// `stop` are predefined, the last four end the script); `loop` (to the first
    /// instruction); `end`, `exit` (end the script); `return [VALUE]`, `returnq`;
    /// `error [MSG]`, `errorq` (end with an error message); `stop` (Click's
    /// `please_stop_driver`: stops the router after draining, or is one stop event for a
    /// DriverManager). A script that executes 1000 jumps without blocking is disabled.
    ///
    /// Substitutions: `$VAR` and `${VAR}` are variables, `$?` the last write's status,
    /// `$(HANDLER [ARGS])` a read handler's value; they nest, and nothing is substituted
    /// inside single quotes. A handler name is `ELEMENT.HANDLER` (names resolve in the
    /// script's compound scope first, as in Click) or one of the script's own handlers
    /// (`$(add $x 1)`); `write stop` is Click's global `stop` handler.
    ///
    /// Scripts run on worker 0, between batches (with several workers, handler reads are
    /// combined across workers and writes go to every worker, as `sluicectl` does). An
    /// active script that is waiting for time keeps the router running; one paused for a
    /// `step` or finished does not. Sluice supports types ACTIVE (the default) and DRIVER
    /// (see DriverManager); Click's PASSIVE, PACKET, PROXY and SIGNAL scripts are refused.
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// - `TYPE` — `ACTIVE` (start when the router starts) or `DRIVER` (a DriverManager).
    ///   Default ACTIVE.
    ///
    /// # Handlers
    /// - `step` (write) — passes the current blocking instruction; a number steps that
    ///   many times.
    /// - `goto` (write) — moves the instruction pointer to a label and runs from there.
    /// - `add`, `sub`, `mul`, `div`, `idiv`, `min`, `max` (read with parameters) —
    ///   arithmetic over a space-separated list of numbers (`add 10 5 2` is `17`; `div`
    ///   gives a real number, `idiv` an integer).
    /// - `mod`, `rem`, `neg`, `abs` (read with parameters) — integer remainder, negation,
    ///   absolute value.
    /// - `eq`, `ne`, `lt`, `gt`, `le`, `ge` (read with parameters) — compare two numbers
    ///   (or, if either is not a number, two strings): `true` or `false`.
    /// - `not`, `and`, `or`, `nand`, `nor` (read with parameters) — boolean operations.
    /// - `if` (read with parameters) — `if COND A B` is A when COND is true, else B.
    /// - `in` (read with parameters) — `in X A B...` is whether X is one of A, B...
    /// - `first` (read with parameters) — the first word of its parameters.
    /// - `now` (read) — the current time, `SECONDS.NANOSECONDS` since the Unix epoch.
    ///
    /// # Example
    /// ```text
    /// Script(set x 0, label top, print $x, set x $(add $x 1), goto top $(lt $x 5));
    /// Script(wait 5s, print c.count, write c.reset, loop);
    /// ```
    pub const SCRIPT = "Script" { ports: "0/0", processing: "a/a", handlers: HANDLERS, build: build_script }
}

sluice::element_class! {
    /// DriverManager(INSTRUCTIONS...)
    ///
    /// A Script that manages driver stop events.
    ///
    /// DriverManager is a Script whose default TYPE is DRIVER; it takes the same
    /// instructions (see Script). Elements request a *driver stop event* when they are
    /// finished, usually through a `STOP true` keyword (InfiniteSource, RatedSource,
    /// FromDump...). Without a DriverManager each such request stops the router. With
    /// one, the router instead steps through the DriverManager's script: each stop event
    /// passes one `pause`/`wait_stop` (or ends a `wait TIME` early), and the router stops
    /// only when the script executes `stop`, or reaches its end (an implicit `stop`), or
    /// ends (`end`, `exit`, `error`) while handling a stop event; a script that ends
    /// between stop events stops the router at the next one. A DriverManager without
    /// instructions waits for one stop event, then stops. Stopping drains the packets
    /// already queued, as Sluice's STOP always does (at most one second).
    ///
    /// While a DriverManager runs, the router does not end by itself when its sources are
    /// done (as in Click, where only the driver stops the router). A graph has at most one
    /// driver script. It runs on worker 0; with several workers, stop events from every
    /// worker reach it, handler reads are combined across workers (counts summed) and
    /// writes go to every worker.
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// - `TYPE` — as for Script. Default DRIVER.
    ///
    /// # Handlers
    /// - As Script: `step`, `goto`, and the arithmetic and comparison handlers.
    ///
    /// # Example
    /// ```text
    /// InfiniteSource(LIMIT 10, STOP true) -> c :: Counter -> Discard;
    /// DriverManager(wait_stop, print c.count, write c.reset, wait 0.1s, stop);
    /// ```
    pub const DRIVER_MANAGER = "DriverManager" { ports: "0/0", processing: "a/a", handlers: HANDLERS, build: build_driver_manager }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::write("step", "pass the current blocking instruction (a number: that many times)"),
    HandlerSpec::write("goto", "move the instruction pointer to a label"),
    HandlerSpec::read("add", Combine::First, "sum of numbers"),
    HandlerSpec::read("sub", Combine::First, "first number minus the others"),
    HandlerSpec::read("mul", Combine::First, "product of numbers"),
    HandlerSpec::read("div", Combine::First, "first number divided by the others"),
    HandlerSpec::read("idiv", Combine::First, "integer division"),
    HandlerSpec::read("min", Combine::First, "smallest number"),
    HandlerSpec::read("max", Combine::First, "largest number"),
    HandlerSpec::read("mod", Combine::First, "integer remainder"),
    HandlerSpec::read("rem", Combine::First, "remainder"),
    HandlerSpec::read("neg", Combine::First, "negation"),
    HandlerSpec::read("abs", Combine::First, "absolute value"),
    HandlerSpec::read("eq", Combine::First, "equal"),
    HandlerSpec::read("ne", Combine::First, "not equal"),
    HandlerSpec::read("lt", Combine::First, "less than"),
    HandlerSpec::read("gt", Combine::First, "greater than"),
    HandlerSpec::read("le", Combine::First, "less than or equal"),
    HandlerSpec::read("ge", Combine::First, "greater than or equal"),
    HandlerSpec::read("not", Combine::First, "boolean negation"),
    HandlerSpec::read("and", Combine::First, "boolean and"),
    HandlerSpec::read("or", Combine::First, "boolean or"),
    HandlerSpec::read("nand", Combine::First, "boolean nand"),
    HandlerSpec::read("nor", Combine::First, "boolean nor"),
    HandlerSpec::read("if", Combine::First, "if COND A B"),
    HandlerSpec::read("in", Combine::First, "whether the first word is among the others"),
    HandlerSpec::read("first", Combine::First, "the first word"),
    HandlerSpec::read("now", Combine::First, "the current time"),
];

/// Own read handlers that take parameters (all but `now`).
fn is_own_read(name: &str) -> bool {
    HANDLERS.iter().any(|h| h.read && h.name == name)
}

/// Jumps without blocking after which a script is disabled (Click's `max_jumps`).
const MAX_JUMPS: usize = 1000;

/// `$?` after a failed write (Click's handlers fail with -EINVAL).
const WRITE_FAILED: i32 = -22;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Active,
    Driver,
}

/// Where a `goto` goes: an instruction, or the end of the script.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    At(usize),
    Finish,
}

#[derive(Clone, Debug)]
enum Insn {
    /// Click's `INSN_INITIAL`: the first step that starts a script not beginning with a wait.
    Initial {
        pending: bool,
    },
    WaitStep {
        count: u32,
        seen: u32,
    },
    WaitTime(String),
    Print {
        text: String,
        newline: bool,
        q: bool,
    },
    Read {
        text: String,
        q: bool,
    },
    Write {
        text: String,
        q: bool,
    },
    Set {
        var: String,
        text: String,
        q: bool,
    },
    Init {
        var: String,
        text: String,
        q: bool,
    },
    Return {
        text: String,
        q: bool,
    },
    Label(String),
    Goto {
        label: String,
        target: Target,
        cond: String,
    },
    Stop,
    End,
    Error {
        text: String,
        q: bool,
    },
}

/// Which kind of step drives the interpreter (Click's `STEP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Normal,
    Router,
    Timer,
    Jump,
}

/// How a run of steps ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Blocked at a wait (or parked at `return`, or disabled).
    Waiting,
    /// At `stop`.
    Stop,
    /// At `end`, `exit`, `error` or a `goto` to them.
    Finish,
}

struct Script {
    kind: Type,
    worker: usize,
    insns: Vec<Insn>,
    vars: HashMap<String, String>,
    pos: usize,
    step_count: i64,
    write_status: i32,
    /// When the current `wait TIME` ends.
    timer: Option<Instant>,
    started: bool,
    /// Driver: stop events not yet stepped through.
    router_steps: u64,
    /// Steps written to the `step` handler, not yet taken.
    pending_steps: i64,
    /// A `goto` handler write moved the instruction pointer: run from there.
    pending_jump: bool,
    /// Active: the script ended (or stopped). Driver: the router is stopping.
    finished: bool,
}

fn build_script(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    build(config, ctx, Type::Active)
}

fn build_driver_manager(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    build(config, ctx, Type::Driver)
}

/// The words of Click's instruction table, for suggestions.
const INSTRUCTIONS: &[&str] = &[
    "append",
    "end",
    "error",
    "errorq",
    "exit",
    "export",
    "exportq",
    "goto",
    "init",
    "initq",
    "label",
    "loop",
    "pause",
    "print",
    "printn",
    "printnq",
    "printq",
    "read",
    "readq",
    "return",
    "returnq",
    "save",
    "set",
    "setq",
    "stop",
    "wait",
    "wait_for",
    "wait_step",
    "wait_stop",
    "wait_time",
    "write",
    "writeq",
];

/// The TYPE a declared Script or DriverManager runs as.
fn declared_type(class: &str, config: &str) -> Option<Type> {
    let default = match class {
        "Script" => Type::Active,
        "DriverManager" => Type::Driver,
        _ => return None,
    };
    for arg in split_args(config) {
        let (w, rest) = shift_word(&arg);
        if w == "TYPE" {
            return Some(if rest.trim() == "DRIVER" { Type::Driver } else { Type::Active });
        }
    }
    Some(default)
}

fn build(config: &str, ctx: &BuildCtx, default: Type) -> Result<Box<dyn Element>, ConfigError> {
    let mut kind = default;
    let mut insns: Vec<Insn> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let add = |insns: &mut Vec<Insn>, insn: Insn| {
        // The first instruction must be a wait; otherwise start with Click's INITIAL.
        if insns.is_empty() && !matches!(insn, Insn::Initial { .. } | Insn::WaitStep { .. } | Insn::WaitTime(_)) {
            insns.push(Insn::Initial { pending: false });
        }
        insns.push(insn);
    };
    for arg in split_args(config) {
        let (word, rest) = shift_word(&arg);
        let rest = rest.to_string();
        if word.is_empty() {
            continue;
        }
        if word == "TYPE" {
            kind = match rest.trim() {
                "ACTIVE" => Type::Active,
                "DRIVER" => Type::Driver,
                t @ ("PASSIVE" | "PACKET" | "PUSH" | "PROXY") => {
                    return Err(format!("TYPE {t} is not supported by Sluice (ACTIVE and DRIVER are)").into())
                }
                t if t.starts_with("SIGNAL") => {
                    return Err("TYPE SIGNAL is not supported by Sluice (ACTIVE and DRIVER are)".into())
                }
                t => return Err(format!("bad TYPE '{t}'; expected ACTIVE or DRIVER").into()),
            };
            continue;
        }
        let syntax = |errors: &mut Vec<String>, what: &str| errors.push(format!("syntax error at '{word}': {what}"));
        let has_subst = rest.contains('$');
        match word {
            "wait" | "pause" | "wait_step" | "wait_stop" if word != "wait" || rest.is_empty() => {
                if rest.is_empty() {
                    add(&mut insns, Insn::WaitStep { count: 1, seen: 0 });
                } else {
                    match rest.trim().parse::<u32>() {
                        Ok(n) => add(&mut insns, Insn::WaitStep { count: n, seen: 0 }),
                        Err(_) => syntax(&mut errors, &format!("expected '{word} [COUNT]', found '{rest}'")),
                    }
                }
            }
            "wait" | "wait_time" | "wait_for" => {
                if !has_subst {
                    if let Err(e) = Duration::from_arg(rest.trim()) {
                        syntax(&mut errors, &format!("'{word} TIME': {e}"));
                        continue;
                    }
                }
                add(&mut insns, Insn::WaitTime(rest));
            }
            "print" | "printq" | "printn" | "printnq" | "save" | "append" => {
                let q = word.ends_with('q');
                let text = if word == "save" || word == "append" {
                    let (h, file) = shift_word(&rest);
                    if h.is_empty() {
                        syntax(&mut errors, &format!("expected '{word} HANDLER [FILE]'"));
                        continue;
                    }
                    let file = if file.trim().is_empty() { "-" } else { file.trim() };
                    format!("{}{} {}", if word == "save" { ">" } else { ">>" }, file, h)
                } else {
                    rest.clone()
                };
                let mut shown = text.as_str();
                if let Some(r) = shown.strip_prefix('>') {
                    let r = r.strip_prefix('>').unwrap_or(r);
                    shown = shift_word(r).1;
                }
                if starts_handler(shown) && !shown.contains('$') {
                    if let Err(e) = check_handler(ctx, shift_word(shown).0, false) {
                        errors.push(format!("{word}: {e}"));
                    }
                }
                add(&mut insns, Insn::Print { text, newline: !word.starts_with("printn"), q });
            }
            "read" | "readq" | "write" | "writeq" => {
                let h = shift_word(&rest).0;
                if h.is_empty() {
                    syntax(&mut errors, &format!("expected '{word} HANDLER [ARGS]'"));
                    continue;
                }
                if !h.contains('$') {
                    if let Err(e) = check_handler(ctx, h, word.starts_with("write")) {
                        errors.push(format!("{word}: {e}"));
                    }
                }
                let q = word.ends_with('q');
                add(
                    &mut insns,
                    if word.starts_with("read") { Insn::Read { text: rest, q } } else { Insn::Write { text: rest, q } },
                );
            }
            "set" | "setq" | "init" | "initq" | "export" | "exportq" => {
                let (var, text) = shift_word(&rest);
                if var.is_empty() || (word.starts_with("set") && text.is_empty()) {
                    syntax(&mut errors, &format!("expected '{word} VAR TEXT'"));
                    continue;
                }
                let (var, text, q) = (var.to_string(), text.to_string(), word.ends_with('q'));
                add(
                    &mut insns,
                    if word.starts_with("set") { Insn::Set { var, text, q } } else { Insn::Init { var, text, q } },
                );
            }
            "return" | "returnq" => add(&mut insns, Insn::Return { text: rest, q: word == "returnq" }),
            "label" => {
                let (l, more) = shift_word(&rest);
                if l.is_empty() || !more.is_empty() {
                    syntax(&mut errors, "expected 'label LABEL'");
                    continue;
                }
                add(&mut insns, Insn::Label(l.to_string()));
            }
            "goto" => {
                let (l, cond) = shift_word(&rest);
                if l.is_empty() {
                    syntax(&mut errors, "expected 'goto LABEL [CONDITION]'");
                    continue;
                }
                add(&mut insns, Insn::Goto { label: l.to_string(), target: Target::Finish, cond: cond.to_string() });
            }
            "loop" | "end" | "exit" | "stop" if !rest.is_empty() => {
                syntax(&mut errors, &format!("'{word}' takes no argument"));
            }
            "loop" => add(&mut insns, Insn::Goto { label: "begin".into(), target: Target::At(0), cond: String::new() }),
            "end" | "exit" => add(&mut insns, Insn::End),
            "stop" => add(&mut insns, Insn::Stop),
            "error" | "errorq" => add(&mut insns, Insn::Error { text: rest, q: word == "errorq" }),
            _ => {
                let hint = sluice::error::suggest(word, INSTRUCTIONS.iter().copied())
                    .map(|s| format!(" — did you mean '{s}'?"))
                    .unwrap_or_default();
                errors.push(format!("unknown instruction '{word}'{hint}"));
            }
        }
    }
    // Resolve the gotos (Click's find_label).
    let labels: Vec<(String, usize)> = insns
        .iter()
        .enumerate()
        .filter_map(|(i, x)| if let Insn::Label(l) = x { Some((l.clone(), i)) } else { None })
        .collect();
    for insn in insns.iter_mut() {
        if let Insn::Goto { label, target, .. } = insn {
            *target = match labels.iter().find(|(l, _)| l == label) {
                Some(&(_, i)) => Target::At(i),
                None => match label.as_str() {
                    "begin" | "loop" => Target::At(0),
                    "end" | "exit" | "error" | "errorq" | "stop" => Target::Finish,
                    _ => {
                        errors.push(format!("no such label '{label}'"));
                        Target::Finish
                    }
                },
            };
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; ").into());
    }
    if kind == Type::Driver {
        // Click: "router has more than one driver script".
        let first = ctx.declared_elements().iter().find(|e| declared_type(&e.class, &e.config) == Some(Type::Driver));
        if let Some(first) = first {
            if first.name != ctx.name {
                return Err(format!("router has more than one driver script (the first is '{}')", first.name).into());
            }
        }
        if insns.is_empty() {
            insns.push(Insn::WaitStep { count: 1, seen: 0 });
        }
        insns.push(Insn::Stop);
    } else {
        if insns.is_empty() {
            insns.push(Insn::Initial { pending: false });
        }
        insns.push(Insn::End);
    }
    Ok(Box::new(Script {
        kind,
        worker: ctx.worker,
        insns,
        vars: HashMap::new(),
        pos: 0,
        step_count: 0,
        write_status: 0,
        timer: None,
        started: false,
        router_steps: 0,
        pending_steps: 0,
        pending_jump: false,
        finished: false,
    }))
}

/// Whether `print`'s argument names a read handler (Click: it starts with a letter, `@` or `_`).
fn starts_handler(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '@' || c == '_')
}

/// Check a handler name written in a script against the graph when it is built.
fn check_handler(ctx: &BuildCtx, name: &str, write: bool) -> Result<(), String> {
    match name.split_once('.') {
        Some((element, _)) => {
            ctx.require_element(element).map_err(|e| e.0)?;
            Ok(())
        }
        None if write && matches!(name, "step" | "goto" | "stop") => Ok(()),
        None if !write && is_own_read(name) => Ok(()),
        None => Err(format!("no {} handler '{name}' (expected ELEMENT.HANDLER)", if write { "write" } else { "read" })),
    }
}

/// Click's `cp_shift_spacevec`: the first space-separated word (quotes kept, spaces inside
/// quotes not separating) and the rest, trimmed.
fn shift_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && !b[i].is_ascii_whitespace() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    let i = i.min(b.len());
    (&s[..i], s[i..].trim())
}

/// One layer of quotes removed; the text as is if it is not well quoted.
fn unquoted(s: &str) -> String {
    unquote(s).unwrap_or_else(|_| s.to_string())
}

fn parse_bool(s: &str) -> Option<bool> {
    bool::from_arg(s.trim()).ok()
}

/// Click's `IntArg` for script arithmetic: decimal, or `0x` hex.
fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn format_real(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{}", d as i64)
    } else {
        format!("{d}")
    }
}

fn unparse_bool(b: bool) -> String {
    if b { "true" } else { "false" }.to_string()
}

/// The script's own read handlers with parameters (Click's arithmetic handlers).
fn arithmetic(name: &str, param: &str) -> Result<String, String> {
    let mut words: Vec<&str> = Vec::new();
    let mut rest = param;
    loop {
        let (w, r) = shift_word(rest);
        if w.is_empty() {
            break;
        }
        words.push(w);
        rest = r;
    }
    match name {
        "add" | "sub" | "mul" | "div" | "idiv" | "min" | "max" => {
            let ints: Option<Vec<i64>> = words.iter().map(|w| parse_int(w)).collect();
            let use_real = matches!(name, "div" | "idiv") || ints.is_none();
            if !use_real {
                let ints = ints.unwrap_or_default();
                let mut acc = if name == "mul" { 1i64 } else { 0 };
                for (k, &x) in ints.iter().enumerate() {
                    acc = if k == 0 {
                        x
                    } else {
                        match name {
                            "add" => acc.wrapping_add(x),
                            "sub" => acc.wrapping_sub(x),
                            "mul" => acc.wrapping_mul(x),
                            "min" => acc.min(x),
                            _ => acc.max(x),
                        }
                    };
                }
                return Ok(acc.to_string());
            }
            let reals: Option<Vec<f64>> = words.iter().map(|w| w.parse::<f64>().ok()).collect();
            let reals = reals.ok_or_else(|| "expected list of numbers".to_string())?;
            let mut acc = if matches!(name, "add" | "sub") { 0.0 } else { 1.0 };
            for (k, &x) in reals.iter().enumerate() {
                acc = if k == 0 {
                    x
                } else {
                    match name {
                        "add" => acc + x,
                        "sub" => acc - x,
                        "mul" => acc * x,
                        "min" => acc.min(x),
                        "max" => acc.max(x),
                        _ => acc / x,
                    }
                };
            }
            Ok(if name == "idiv" { (acc as i64).to_string() } else { format_real(acc) })
        }
        "mod" | "rem" => {
            let [a, b] = words[..] else { return Err("expected two numbers".into()) };
            match (parse_int(a), parse_int(b)) {
                (Some(_), Some(0)) => Err("division by zero".into()),
                (Some(a), Some(b)) => Ok((a % b).to_string()),
                _ if name == "rem" => match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(a), Ok(b)) => Ok(format_real(a % b)),
                    _ => Err("expected two numbers".into()),
                },
                _ => Err("expected two numbers".into()),
            }
        }
        "neg" | "abs" => {
            let [a] = words[..] else { return Err("expected one number".into()) };
            if let Some(x) = parse_int(a) {
                return Ok(if name == "neg" { -x } else { x.abs() }.to_string());
            }
            let x = a.parse::<f64>().map_err(|_| "expected one number".to_string())?;
            Ok(format_real(if name == "neg" { -x } else { x.abs() }))
        }
        "eq" | "ne" | "lt" | "gt" | "le" | "ge" => {
            let [a, b] = words[..] else { return Err("expected two numbers".into()) };
            let ord = match (parse_int(a), parse_int(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    _ => unquoted(a).cmp(&unquoted(b)),
                },
            };
            use std::cmp::Ordering::*;
            Ok(unparse_bool(match name {
                "eq" => ord == Equal,
                "ne" => ord != Equal,
                "lt" => ord == Less,
                "gt" => ord == Greater,
                "le" => ord != Greater,
                _ => ord != Less,
            }))
        }
        "not" => parse_bool(param).map(|b| unparse_bool(!b)).ok_or_else(|| "syntax error".into()),
        "and" | "or" | "nand" | "nor" => {
            let mut v = matches!(name, "and" | "nand");
            for w in &words {
                let x = parse_bool(w).ok_or("syntax error")?;
                v = if matches!(name, "and" | "nand") { v && x } else { v || x };
            }
            Ok(unparse_bool(if name.starts_with('n') { !v } else { v }))
        }
        "if" => {
            let c = words.first().and_then(|w| parse_bool(w)).ok_or("syntax error")?;
            Ok(words.get(if c { 1 } else { 2 }).map(|s| s.to_string()).unwrap_or_default())
        }
        "in" => {
            let Some((x, rest)) = words.split_first() else { return Ok(unparse_bool(false)) };
            Ok(unparse_bool(rest.iter().any(|w| unquoted(w) == unquoted(x))))
        }
        "first" => Ok(words.first().map(|s| s.to_string()).unwrap_or_default()),
        "now" => {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            Ok(format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
        }
        _ => Err(format!("no handler '{name}'")),
    }
}

impl Script {
    fn report(&self, ctx: &ScriptCtx<'_>, message: &str) {
        eprintln!("{}: {message}", ctx.name());
    }

    /// The element and handler a name refers to; `None` element: this script itself (or a
    /// global handler).
    fn split_handler<'a>(&self, ctx: &ScriptCtx<'_>, name: &'a str) -> (Option<&'a str>, &'a str) {
        match name.split_once('.') {
            Some((e, h)) if !ctx.is_self(e) => (Some(e), h),
            Some((_, h)) => (None, h),
            None => (None, name),
        }
    }

    /// Call a read handler: `text` is `HANDLER [ARGS]`, already substituted.
    fn call_read(&mut self, text: &str, unquote_param: bool, ctx: &mut ScriptCtx<'_>) -> Result<String, String> {
        let (name, param) = shift_word(text);
        let param = if unquote_param { unquoted(param) } else { param.to_string() };
        match self.split_handler(ctx, name) {
            (Some(e), h) => ctx.read_handler(e, h, &param).map_err(|e| e.to_string()),
            (None, h) if is_own_read(h) => arithmetic(h, &param),
            (None, h) => Err(format!("no read handler '{h}'")),
        }
    }

    /// Call a write handler: `text` is `HANDLER [VALUE]`, already substituted.
    fn call_write(&mut self, text: &str, unquote_value: bool, ctx: &mut ScriptCtx<'_>) -> Result<(), String> {
        let (name, value) = shift_word(text);
        let value = if unquote_value { unquoted(value) } else { value.to_string() };
        match self.split_handler(ctx, name) {
            (Some(e), h) => ctx.write_handler(e, h, &value).map_err(|e| e.to_string()),
            (None, "stop") if !name.contains('.') => {
                // Click's global `stop` handler: please_stop_driver.
                ctx.request_stop();
                Ok(())
            }
            (None, h) => self.write_own(h, &value),
        }
    }

    /// The script's own write handlers (`step`, `goto`), from a control client or itself.
    fn write_own(&mut self, handler: &str, value: &str) -> Result<(), String> {
        match handler {
            "step" => {
                let v = value.trim();
                let n = if v.is_empty() || v == "router" {
                    1
                } else {
                    v.parse::<i64>().map_err(|_| format!("syntax error: expected a number of steps, found '{v}'"))?
                };
                self.pending_steps += n;
                Ok(())
            }
            "goto" => {
                let label = value.trim();
                let at = self
                    .insns
                    .iter()
                    .position(|x| matches!(x, Insn::Label(l) if l == label))
                    .or(if matches!(label, "begin" | "loop") { Some(0) } else { None });
                let Some(at) = at else { return Err("jump to nonexistent label".into()) };
                for x in &mut self.insns[at..] {
                    if let Insn::WaitStep { seen, .. } = x {
                        *seen = 0;
                    }
                }
                self.pos = at;
                self.pending_jump = true;
                self.finished = false;
                Ok(())
            }
            _ => Err(format!("no write handler '{handler}'")),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        match name {
            "?" => Some(self.write_status.to_string()),
            "args" => Some(String::new()),
            "#" => Some("0".into()),
            "$" => Some(std::process::id().to_string()),
            _ if name.bytes().all(|c| c.is_ascii_digit()) => Some(String::new()),
            _ => None,
        }
    }

    /// Click's `cp_expand`: `$VAR`, `${VAR}`, `$(HANDLER ARGS)`, not inside single quotes.
    fn expand(&mut self, s: &str, ctx: &mut ScriptCtx<'_>) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        let mut in_double = false;
        while i < b.len() {
            match b[i] {
                b'\'' if !in_double => {
                    let end = s[i + 1..].find('\'').map_or(b.len(), |k| i + 1 + k + 1);
                    out.push_str(&s[i..end]);
                    i = end;
                }
                b'"' => {
                    in_double = !in_double;
                    out.push('"');
                    i += 1;
                }
                b'\\' if in_double && i + 1 < b.len() && b[i + 1] != b'$' => {
                    let end = i + 1 + s[i + 1..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&s[i..end]);
                    i = end;
                }
                b'$' if i + 1 < b.len() => {
                    let next = b[i + 1];
                    if next == b'(' {
                        let Some(close) = matching_paren(b, i + 1) else {
                            out.push_str(&s[i..]);
                            break;
                        };
                        let inner = self.expand(&s[i + 2..close], ctx);
                        match self.call_read(&inner, false, ctx) {
                            Ok(v) => out.push_str(v.strip_suffix('\n').unwrap_or(&v)),
                            Err(e) => {
                                self.report(ctx, &e);
                                out.push_str(&s[i..=close]);
                            }
                        }
                        i = close + 1;
                        continue;
                    }
                    let (name, end) = if next == b'{' {
                        match s[i + 2..].find('}') {
                            Some(k) => (&s[i + 2..i + 2 + k], i + 2 + k + 1),
                            None => ("", i + 1),
                        }
                    } else if next.is_ascii_alphabetic() || next == b'_' {
                        let mut j = i + 1;
                        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                            j += 1;
                        }
                        (&s[i + 1..j], j)
                    } else if matches!(next, b'?' | b'#' | b'$') || next.is_ascii_digit() {
                        (&s[i + 1..i + 2], i + 2)
                    } else {
                        ("", i + 1)
                    };
                    match (name.is_empty(), self.var(name)) {
                        (false, Some(v)) => out.push_str(&v),
                        _ => out.push_str(&s[i..end.max(i + 1)]),
                    }
                    i = end.max(i + 1);
                }
                _ => {
                    let end = i + s[i..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&s[i..end]);
                    i = end;
                }
            }
        }
        out
    }

    fn duration(&mut self, text: &str, ctx: &mut ScriptCtx<'_>) -> Option<Duration> {
        let t = self.expand(text, ctx);
        match Duration::from_arg(t.trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report(ctx, &format!("syntax error at 'wait': {e}"));
                None
            }
        }
    }

    /// The script starts (Click's `initialize`): `init` variables, then the first wait.
    fn start(&mut self, ctx: &mut ScriptCtx<'_>) {
        for k in 0..self.insns.len() {
            if let Insn::Init { var, text, q } = self.insns[k].clone() {
                let v = self.expand(&text, ctx);
                self.vars.insert(var, if q { unquoted(&v) } else { v });
            }
        }
        match self.insns[0].clone() {
            Insn::WaitTime(text) => {
                if let Some(d) = self.duration(&text, ctx) {
                    self.timer = Some(Instant::now() + d);
                }
            }
            Insn::Initial { .. } => {
                self.insns[0] = Insn::Initial { pending: true };
                match self.kind {
                    // Click gives the driver's runcount back, so the router steps it at once.
                    Type::Driver => self.router_steps += 1,
                    Type::Active => self.timer = Some(Instant::now()),
                }
            }
            _ => {}
        }
    }

    /// Click's `Script::step`.
    fn step(&mut self, nsteps: i64, kind: Step, ctx: &mut ScriptCtx<'_>) -> Outcome {
        let nsteps = nsteps + self.step_count;
        let mut njumps = 0;
        while nsteps - self.step_count >= 0 && self.pos < self.insns.len() && njumps < MAX_JUMPS {
            let ipos = self.pos;
            self.pos += 1;
            match self.insns[ipos].clone() {
                Insn::Stop => {
                    self.step_count += 1;
                    self.pos -= 1;
                    return Outcome::Stop;
                }
                Insn::WaitStep { count, mut seen } => {
                    while self.step_count < nsteps && seen < count {
                        seen += 1;
                        self.step_count += 1;
                    }
                    self.insns[ipos] = Insn::WaitStep { count, seen };
                    if self.step_count == nsteps && seen < count {
                        self.pos -= 1;
                        break;
                    }
                }
                Insn::WaitTime(text) => {
                    if self.step_count == nsteps {
                        if let Some(d) = self.duration(&text, ctx) {
                            self.timer = Some(Instant::now() + d);
                            self.pos -= 1;
                        }
                        break;
                    }
                    self.step_count += 1;
                    self.timer = None;
                }
                Insn::Initial { pending } => {
                    if pending {
                        self.step_count += 1;
                        self.insns[ipos] = Insn::Initial { pending: false };
                    }
                }
                Insn::Print { text, newline, q } => self.print(&text, newline, q, ctx),
                Insn::Read { text, q } => {
                    let t = self.expand(&text, ctx);
                    match self.call_read(&t, q, ctx) {
                        Ok(v) => eprintln!("{}:\n{}", shift_word(&t).0, v),
                        Err(e) => self.report(ctx, &e),
                    }
                }
                Insn::Write { text, q } => {
                    let t = self.expand(&text, ctx);
                    self.write_status = match self.call_write(&t, q, ctx) {
                        Ok(()) => 0,
                        Err(e) => {
                            self.report(ctx, &e);
                            WRITE_FAILED
                        }
                    };
                }
                Insn::Set { var, text, q } => {
                    let v = self.expand(&text, ctx);
                    self.vars.insert(var, if q { unquoted(&v) } else { v });
                }
                Insn::Return { text, q } => {
                    let v = self.expand(&text, ctx);
                    self.vars.insert("_".into(), if q { unquoted(&v) } else { v });
                    if self.pos == ipos + 1 {
                        self.pos -= 1;
                        break;
                    }
                }
                Insn::Init { .. } | Insn::Label(_) => {}
                Insn::Goto { label: _, target, cond } => {
                    let c = self.expand(&cond, ctx);
                    let take = if c.trim().is_empty() {
                        true
                    } else {
                        match parse_bool(&c) {
                            Some(b) => b,
                            None => {
                                self.report(ctx, &format!("bad condition '{}'", c.trim()));
                                false
                            }
                        }
                    };
                    if take {
                        match target {
                            Target::Finish => {
                                self.pos -= 1;
                                return Outcome::Finish;
                            }
                            Target::At(t) => {
                                for x in &mut self.insns[t..ipos] {
                                    if let Insn::WaitStep { seen, .. } = x {
                                        *seen = 0;
                                    }
                                }
                                self.pos = t;
                            }
                        }
                    }
                }
                Insn::Error { text, q } => {
                    let m = self.expand(&text, ctx);
                    let m = if q { unquoted(&m) } else { m };
                    if !m.trim().is_empty() {
                        self.report(ctx, &m);
                    }
                    self.pos -= 1;
                    return Outcome::Finish;
                }
                Insn::End => {
                    self.pos -= 1;
                    return Outcome::Finish;
                }
            }
            if self.pos != ipos + 1 {
                njumps += 1;
            }
        }
        if njumps >= MAX_JUMPS {
            self.report(ctx, "too many jumps, giving up");
            self.pos = self.insns.len();
            self.timer = None;
        }
        let _ = kind;
        Outcome::Waiting
    }

    fn print(&mut self, text: &str, newline: bool, q: bool, ctx: &mut ScriptCtx<'_>) {
        let mut text = text;
        let mut file: Option<(String, bool)> = None;
        if let Some(r) = text.strip_prefix('>') {
            let (append, r) = match r.strip_prefix('>') {
                Some(r) => (true, r),
                None => (false, r),
            };
            let (name, rest) = shift_word(r);
            if !name.is_empty() && name != "-" {
                file = Some((name.to_string(), append));
            }
            text = rest;
        }
        let result = if starts_handler(text) {
            let t = self.expand(text, ctx);
            match self.call_read(&t, q, ctx) {
                Ok(v) => v,
                Err(e) => {
                    self.report(ctx, &e);
                    return;
                }
            }
        } else {
            unquoted(&self.expand(text, ctx))
        };
        let mut result = result;
        if newline && !result.ends_with('\n') {
            result.push('\n');
        }
        match file {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(result.as_bytes());
                let _ = out.flush();
            }
            Some((name, append)) => {
                let f =
                    std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(&name);
                match f.and_then(|mut f| f.write_all(result.as_bytes())) {
                    Ok(()) => {}
                    Err(e) => self.report(ctx, &format!("{name}: {e}")),
                }
            }
        }
    }

    /// What a run of steps means for the router.
    fn after(&mut self, outcome: Outcome, kind: Step, ctx: &mut ScriptCtx<'_>) {
        match (self.kind, outcome) {
            (_, Outcome::Waiting) => {}
            // A stop event that reaches `stop` or the end of the script stops the router.
            (Type::Driver, _) if kind == Step::Router => {
                ctx.stop_router();
                self.finished = true;
            }
            // `stop` reached otherwise: Click's adjust_runcount(-1), which makes the router
            // step the script again, at `stop`.
            (Type::Driver, Outcome::Stop) => self.router_steps += 1,
            // A driver script that ended between stop events stops at the next one.
            (Type::Driver, Outcome::Finish) => {}
            (Type::Active, Outcome::Stop) => {
                ctx.request_stop();
                self.finished = true;
            }
            (Type::Active, Outcome::Finish) => self.finished = true,
        }
    }
}

/// Where the `)` matching the `(` at `open` is, skipping quoted text.
fn matching_paren(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

impl Element for Script {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        match self.kind {
            Type::Driver => ctx.manage_driver(),
            Type::Active => ctx.schedule_script(),
        }
        Ok(())
    }

    fn run_script(&mut self, ctx: &mut ScriptCtx<'_>) -> TaskStatus {
        if self.worker != 0 {
            return TaskStatus::Done;
        }
        let mut worked = false;
        if !self.started {
            self.started = true;
            worked = true;
            self.start(ctx);
        }
        loop {
            let mut progressed = false;
            if self.pending_jump && !(self.finished && self.kind == Type::Driver) {
                self.pending_jump = false;
                progressed = true;
                let o = self.step(0, Step::Jump, ctx);
                self.after(o, Step::Jump, ctx);
            }
            if self.pending_steps > 0 && !(self.finished && self.kind == Type::Driver) {
                let n = std::mem::take(&mut self.pending_steps);
                progressed = true;
                let o = self.step(n, Step::Normal, ctx);
                self.after(o, Step::Normal, ctx);
            }
            if self.kind == Type::Driver {
                self.router_steps += ctx.take_stop_events();
                while self.router_steps > 0 && !self.finished {
                    self.router_steps -= 1;
                    progressed = true;
                    let o = self.step(1, Step::Router, ctx);
                    self.after(o, Step::Router, ctx);
                }
                if self.finished {
                    return TaskStatus::Done;
                }
            }
            if let Some(t) = self.timer {
                if Instant::now() >= t {
                    self.timer = None;
                    progressed = true;
                    let o = self.step(1, Step::Timer, ctx);
                    self.after(o, Step::Timer, ctx);
                }
            }
            if !progressed {
                break;
            }
            worked = true;
        }
        match self.kind {
            Type::Driver if self.finished => TaskStatus::Done,
            // A driver keeps the router running until it stops it.
            Type::Driver => {
                if worked {
                    TaskStatus::Busy
                } else {
                    TaskStatus::Idle
                }
            }
            // An active script keeps the router running only while it waits for time.
            Type::Active if self.finished || self.timer.is_none() => TaskStatus::Done,
            Type::Active if worked => TaskStatus::Busy,
            Type::Active => TaskStatus::Idle,
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "now" => arithmetic("now", "").ok(),
            _ if is_own_read(name) => arithmetic(name, "").ok(),
            _ => None,
        }
    }

    fn read_handler_with(&self, name: &str, param: &str) -> Option<Result<String, String>> {
        is_own_read(name).then(|| arithmetic(name, param))
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.write_own(name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_outside_quotes() {
        assert_eq!(shift_word("  print \"a b\" c"), ("print", "\"a b\" c"));
        assert_eq!(shift_word("'x y'z rest"), ("'x y'z", "rest"));
        assert_eq!(shift_word(""), ("", ""));
    }

    #[test]
    fn arithmetic_follows_click() {
        assert_eq!(arithmetic("add", "10 5 2").unwrap(), "17");
        assert_eq!(arithmetic("sub", "10 5 2").unwrap(), "3");
        assert_eq!(arithmetic("div", "10 4").unwrap(), "2.5");
        assert_eq!(arithmetic("idiv", "10 4").unwrap(), "2");
        assert_eq!(arithmetic("add", "1 0.5").unwrap(), "1.5");
        assert_eq!(arithmetic("eq", "10 0xA").unwrap(), "true");
        assert_eq!(arithmetic("le", "9 8").unwrap(), "false");
        assert_eq!(arithmetic("eq", "10x 10x").unwrap(), "true");
        assert_eq!(arithmetic("not", "true").unwrap(), "false");
        assert_eq!(arithmetic("if", "false a b").unwrap(), "b");
        assert_eq!(arithmetic("in", "b a b c").unwrap(), "true");
        assert!(arithmetic("add", "1 x").is_err());
    }

    fn build_err(config: &str) -> String {
        match build(config, &BuildCtx::standalone("s", 0, 0), Type::Active) {
            Ok(_) => panic!("'{config}' was accepted"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn mistakes_are_refused_when_built() {
        assert!(build_err("prnt x").contains("unknown instruction 'prnt' — did you mean 'print'?"));
        assert!(build_err("goto nowhere").contains("no such label 'nowhere'"));
        assert!(build_err("wait 1 parsec").contains("wait"));
        assert!(build_err("write nosuch.reset").contains("no element named 'nosuch'"));
        assert!(build_err("stop now").contains("takes no argument"));
        assert!(build_err("TYPE PASSIVE, print x").contains("not supported"));
    }

    use crate::standard::{counter::COUNTER, discard::DISCARD, idle::IDLE, infinite_source::INFINITE_SOURCE};
    use sluice::error::Loc;
    use sluice::graph::{Connection, ElementDecl, Graph};
    use sluice::runtime::{Router, RunOptions};
    use std::path::PathBuf;

    /// A graph built by hand (the parser is not involved, so `$x` reaches the script as
    /// Click's parser leaves it): `elements` are (name, class, config), `chains` connect
    /// element i's output 0 to element j's input 0.
    fn run(elements: &[(&str, &str, &str)], chains: &[(usize, usize)], workers: usize) -> Router {
        let loc = Loc::new("<test>", 1, 1);
        let mut g = Graph::default();
        for (name, class, config) in elements {
            g.elements.push(ElementDecl {
                name: name.to_string(),
                class: class.to_string(),
                config: config.to_string(),
                loc: loc.clone(),
                config_loc: loc.clone(),
                anonymous: false,
            });
        }
        for &(from, to) in chains {
            g.connections.push(Connection { from, from_port: 0, to, to_port: 0, loc: loc.clone() });
        }
        let classes = [INFINITE_SOURCE, COUNTER, DISCARD, IDLE, SCRIPT, DRIVER_MANAGER];
        let plan = sluice::testing::plan(g, &classes).unwrap_or_else(|e| panic!("{e}"));
        Router::new(plan, workers).unwrap_or_else(|e| panic!("{e}")).run(&RunOptions::default())
    }

    fn out_file(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("sluice-script-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn a_driver_manager_takes_the_stop_event_reads_writes_and_stops() {
        let f = out_file("driver");
        let dm = format!("wait_stop, print >{} c.count, write c.reset, stop", f.display());
        let r = run(
            &[
                ("src", "InfiniteSource", "LIMIT 10, STOP true"),
                ("c", "Counter", ""),
                ("d", "Discard", ""),
                ("dm", "DriverManager", &dm),
            ],
            &[(0, 1), (1, 2)],
            1,
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "10\n");
        assert_eq!(r.read_handler("c", "count").unwrap(), "0", "reset by the script");
        assert_eq!(r.read_handler("d", "count").unwrap(), "10");
    }

    #[test]
    fn variables_labels_and_conditional_goto() {
        let f = out_file("loop");
        let s = format!("set x 0, label top, print >>{} $x, set x $(add $x 1), goto top $(lt $x 3)", f.display());
        run(&[("s", "Script", &s)], &[], 1);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "0\n1\n2\n");
    }

    #[test]
    fn wait_stop_counts_stop_events_and_the_end_of_the_script_stops() {
        let f = out_file("two");
        let dm = format!("wait_stop 2, print >{} $(add $(a.count) $(b.count))", f.display());
        run(
            &[
                ("a", "InfiniteSource", "LIMIT 10, STOP true"),
                ("b", "InfiniteSource", "LIMIT 5, STOP true"),
                ("da", "Discard", ""),
                ("db", "Discard", ""),
                ("dm", "DriverManager", &dm),
            ],
            &[(0, 2), (1, 3)],
            1,
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "15\n");
    }

    #[test]
    fn wait_time_waits_without_a_stop_event() {
        let t = std::time::Instant::now();
        run(&[("i", "Idle", ""), ("d", "Discard", ""), ("dm", "DriverManager", "wait 0.3s, stop")], &[(0, 1)], 1);
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(300) && e < Duration::from_secs(5), "{e:?}");
    }

    #[test]
    fn a_scripts_stop_is_a_stop_event_for_the_driver_manager() {
        let f = out_file("scriptstop");
        let dm = format!("pause, print >{} c.count", f.display());
        run(
            &[
                ("src", "InfiniteSource", "LIMIT 7"),
                ("c", "Counter", ""),
                ("d", "Discard", ""),
                ("s", "Script", "wait 0.05, stop"),
                ("dm", "DriverManager", &dm),
            ],
            &[(0, 1), (1, 2)],
            1,
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "7\n");
    }

    #[test]
    fn with_two_workers_reads_combine_and_writes_reach_every_worker() {
        let f = out_file("workers");
        let dm = format!("wait_stop 2, print >{0} c.count, write c.reset, print >>{0} c.count", f.display());
        let r = run(
            &[
                ("src", "InfiniteSource", "LIMIT 10, STOP true"),
                ("c", "Counter", ""),
                ("d", "Discard", ""),
                ("dm", "DriverManager", &dm),
            ],
            &[(0, 1), (1, 2)],
            2,
        );
        // Each worker runs the source to its LIMIT and requests a stop.
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "20\n0\n");
        assert_eq!(r.read_handler("c", "count").unwrap(), "0");
    }

    #[test]
    fn a_router_has_at_most_one_driver_script() {
        let loc = Loc::new("<test>", 1, 1);
        let mut g = Graph::default();
        for (name, class, config) in [("a", "DriverManager", ""), ("b", "Script", "TYPE DRIVER, stop")] {
            g.elements.push(ElementDecl {
                name: name.into(),
                class: class.into(),
                config: config.into(),
                loc: loc.clone(),
                config_loc: loc.clone(),
                anonymous: false,
            });
        }
        let err = sluice::testing::plan(g, &[SCRIPT, DRIVER_MANAGER]).err().expect("refused").to_string();
        assert!(err.contains("more than one driver script"), "{err}");
    }

    #[test]
    fn a_driver_manager_keeps_the_router_running_until_its_stop_event() {
        // Sources done, nothing queued: without a driver the router would end at once.
        let t = std::time::Instant::now();
        let r = run(
            &[
                ("src", "InfiniteSource", "LIMIT 3"),
                ("d", "Discard", ""),
                ("s", "Script", "wait 0.2s, write stop"),
                ("dm", "DriverManager", ""),
            ],
            &[(0, 1)],
            1,
        );
        assert!(t.elapsed() >= Duration::from_millis(200), "{:?}", t.elapsed());
        assert_eq!(r.read_handler("d", "count").unwrap(), "3");

        let loc = Loc::new("<test>", 1, 1);
        let mut g = Graph::default();
        for (name, class, config) in [("i", "Idle", ""), ("d", "Discard", ""), ("dm", "DriverManager", "pause")] {
            g.elements.push(ElementDecl {
                name: name.into(),
                class: class.into(),
                config: config.into(),
                loc: loc.clone(),
                config_loc: loc.clone(),
                anonymous: false,
            });
        }
        g.connections.push(Connection { from: 0, from_port: 0, to: 1, to_port: 0, loc });
        let plan = sluice::testing::plan(g, &[IDLE, DISCARD, DRIVER_MANAGER]).unwrap();
        let running = Router::new(plan, 1).unwrap().start(&RunOptions::default());
        std::thread::sleep(Duration::from_millis(150));
        assert!(!running.is_finished(), "no stop event yet: the driver keeps the router running");
        running.stop();
        running.wait();
    }
}
