//! The `CPaint` example plugin, written in C (`cpaint.c` beside this crate's manifest,
//! against `plugins/include/sluice_plugin.h`).
//!
//! `build.rs` compiles it into a shared object with the C compiler the `cc` crate finds and
//! copies it to `<target>/<profile>/plugins/libcpaint.so`, so `cargo build --workspace`
//! leaves it at `target/debug/plugins/libcpaint.so` (`target/release/...` with
//! `--release`). This library says where the object is ([`LIBRARY`]) and compiles other C
//! plugins the same way ([`compile`]): the plugin tests build variants (`-DCPAINT_VERSION=2`)
//! and deliberately broken libraries with it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared object build.rs made (in this build's `OUT_DIR`).
pub const LIBRARY: &str = env!("SLUICE_CPAINT_SO");
/// The C source of the plugin.
pub const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cpaint.c");
/// The directory holding `sluice_plugin.h`.
pub const INCLUDE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../include");

/// The copy in the stable place, `<target>/<profile>/plugins/libcpaint.so`.
pub fn stable_library() -> Option<PathBuf> {
    let out = Path::new(LIBRARY).parent()?; // .../<profile>/build/sluice-cpaint-HASH/out
    Some(out.ancestors().nth(3)?.join("plugins").join("libcpaint.so"))
}

/// Compile the C file `source` into the shared object `output` (`-shared -fPIC`, with the
/// plugin header on the include path and `defines` as `-D` options, e.g. `CPAINT_VERSION=2`),
/// using the compiler and flags build.rs used. The error carries the compiler's messages.
pub fn compile(source: &Path, output: &Path, defines: &[&str]) -> Result<(), String> {
    let mut cmd = compiler();
    cmd.args(["-shared", "-fPIC"]);
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.arg("-o").arg(output).arg(source);
    run(cmd)
}

/// The C compiler build.rs used, with its flags, `-std=c11 -Wall -Wextra` and the plugin
/// header's directory on the include path: add sources, `-o` and options.
pub fn compiler() -> Command {
    let mut cmd = Command::new(env!("SLUICE_CPAINT_CC"));
    cmd.args(env!("SLUICE_CPAINT_CFLAGS").split('\u{1f}').filter(|a| !a.is_empty()));
    cmd.args(["-std=c11", "-Wall", "-Wextra"]).arg("-I").arg(INCLUDE_DIR);
    cmd
}

/// Run a compiler command; the error carries its messages.
pub fn run(mut cmd: Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run the C compiler ({cmd:?}): {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shared_object_was_built() {
        assert!(std::path::Path::new(super::LIBRARY).is_file());
        let stable = super::stable_library().expect("derived");
        assert!(stable.is_file(), "{}", stable.display());
    }
}
