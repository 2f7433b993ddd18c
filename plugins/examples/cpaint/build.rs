//! Compile `cpaint.c` into a shared object with the C compiler the `cc` crate finds (honours
//! `CC` and `CFLAGS`), as a plain `cc -shared -fPIC` invocation, and copy it to a stable
//! place: `<target>/<profile>/plugins/libcpaint.so`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let source = manifest.join("cpaint.c");
    let include = manifest.join("../../include");
    let header = include.join("sluice_plugin.h");
    for f in [&source, &header] {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    for v in ["CC", "CFLAGS", "TARGET_CC", "TARGET_CFLAGS"] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    let compiler = cc::Build::new().cargo_metadata(false).get_compiler();
    let so = out_dir.join("libcpaint.so");
    let mut cmd = compiler.to_command();
    cmd.args(["-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(&include)
        .arg("-o")
        .arg(&so)
        .arg(&source);
    run(cmd);

    // Tell the crate where the object is and how to compile more of them.
    println!("cargo:rustc-env=SLUICE_CPAINT_SO={}", so.display());
    println!("cargo:rustc-env=SLUICE_CPAINT_CC={}", compiler.path().display());
    let args: Vec<String> = compiler.args().iter().map(|a| a.to_string_lossy().into_owned()).collect();
    println!("cargo:rustc-env=SLUICE_CPAINT_CFLAGS={}", args.join("\u{1f}"));

    // The stable place: OUT_DIR is <target>/<profile>/build/sluice-cpaint-HASH/out.
    let profile_dir = out_dir.ancestors().nth(3).map(Path::to_path_buf);
    let layout_ok = out_dir.ancestors().nth(2).and_then(|b| b.file_name()).is_some_and(|n| n == "build");
    match profile_dir {
        Some(dir) if layout_ok => {
            let dest_dir = dir.join("plugins");
            let dest = dest_dir.join("libcpaint.so");
            std::fs::create_dir_all(&dest_dir).expect("create the plugins directory");
            // Copy to a temporary name, then rename: a running Sluice that loaded the old
            // file keeps its own private copy anyway, but readers never see half a file.
            let tmp = dest_dir.join(format!(".libcpaint.so.{}", std::process::id()));
            std::fs::copy(&so, &tmp).expect("copy the shared object");
            std::fs::rename(&tmp, &dest).expect("rename the shared object");
            println!("cargo:rerun-if-changed={}", dest.display());
        }
        _ => println!("cargo:warning=unexpected OUT_DIR layout; libcpaint.so stays in {}", out_dir.display()),
    }
}

fn run(mut cmd: Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run the C compiler ({cmd:?}): {e}"));
    assert!(status.success(), "the C compiler failed: {cmd:?}");
}
