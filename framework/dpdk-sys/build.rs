//! Generates the DPDK bindings and compiles the C shim, both against the system's DPDK as
//! `pkg-config libdpdk` describes it.
//!
//! The *whole* cflags list goes to bindgen and to the C compiler alike: DPDK's headers need
//! `-include rte_config.h` and the `-march` the library was built for, and bindings made
//! with other flags would describe structures of another layout. Only the API Sluice uses is
//! allowlisted. The inline fast-path functions (burst RX/TX, mbuf alloc/free, `rte_errno`)
//! have no symbol in the shared libraries: `shim/shim.c` wraps them out of line.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// `pkg-config ARGS libdpdk`, split into arguments; the reason when DPDK is not there.
fn pkg_config(args: &[&str]) -> Result<Vec<String>, String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .map_err(|e| format!("cannot run pkg-config ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "`pkg-config {} libdpdk` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect())
}

/// Without DPDK (or without libclang for bindgen) the crate builds empty, so that a
/// workspace build works anywhere; `AVAILABLE` is false and says why, and Sluice's `dpdk`
/// feature refuses to build on it with that reason.
fn unavailable(reason: &str) {
    println!("cargo:warning=dpdk-sys: building without DPDK: {reason}. Install DPDK's development files, pkg-config and libclang (Debian: apt-get install libdpdk-dev pkg-config libclang-dev) to use it.");
    println!("cargo:rustc-cfg=dpdk_unavailable");
    println!("cargo:rustc-env=DPDK_SYS_UNAVAILABLE={}", reason.replace('\n', " "));
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    println!("cargo::rustc-check-cfg=cfg(dpdk_unavailable)");

    let found = pkg_config(&["--modversion"]).and_then(|v| {
        let version = v.join("");
        let major: u32 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        if major < 22 {
            return Err(format!("DPDK 22.11 or newer is needed, found {version}"));
        }
        Ok((version, pkg_config(&["--cflags"])?, pkg_config(&["--libs"])?))
    });
    let (version, cflags, libs) = match found {
        Ok(f) => f,
        Err(reason) => return unavailable(&reason),
    };

    // Bindings first: without libclang there is nothing to link the shim for.
    let bindings = match bindings(&cflags) {
        Ok(b) => b,
        Err(reason) => return unavailable(&reason),
    };
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(&out).expect("writing bindings.rs");

    // The shim first, so that the linker sees its references before the DPDK libraries.
    let mut cc = cc::Build::new();
    cc.file("shim/shim.c").include("shim").opt_level(3).warnings(false);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("sluice_dpdk_shim");

    for l in &libs {
        if let Some(name) = l.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={name}");
        } else if let Some(dir) = l.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        }
        // Other flags (-Wl,--as-needed, -pthread) are what rustc does already.
    }

    println!("cargo:version={version}");
}

/// Generate the allowlisted bindings with DPDK's cflags.
fn bindings(cflags: &[String]) -> Result<bindgen::Bindings, String> {
    let functions = [
        // EAL
        "rte_eal_init",
        "rte_eal_cleanup",
        "rte_eal_process_type",
        "rte_strerror",
        "rte_version",
        "rte_openlog_stream",
        "rte_thread_register",
        "rte_thread_unregister",
        "rte_socket_id",
        "rte_dev_probe",
        // mempool / mbuf
        "rte_pktmbuf_pool_create",
        "rte_mempool_lookup",
        "rte_mempool_avail_count",
        "rte_mempool_in_use_count",
        "rte_pktmbuf_free_bulk",
        // ethdev
        "rte_eth_dev_count_avail",
        "rte_eth_find_next_owned_by",
        "rte_eth_dev_is_valid_port",
        "rte_eth_dev_get_port_by_name",
        "rte_eth_dev_get_name_by_port",
        "rte_eth_dev_socket_id",
        "rte_eth_dev_info_get",
        "rte_eth_dev_configure",
        "rte_eth_dev_adjust_nb_rx_tx_desc",
        "rte_eth_rx_queue_setup",
        "rte_eth_tx_queue_setup",
        "rte_eth_dev_start",
        "rte_eth_dev_stop",
        "rte_eth_promiscuous_enable",
        "rte_eth_promiscuous_disable",
        "rte_eth_promiscuous_get",
        "rte_eth_stats_get",
        "rte_eth_stats_reset",
        "rte_eth_macaddr_get",
        "rte_eth_link_get_nowait",
        // the shim
        "sluice_.*",
    ];
    let vars = [
        "RTE_MAX_ETHPORTS",
        "RTE_MAX_LCORE",
        "RTE_ETH_DEV_NO_OWNER",
        "RTE_PKTMBUF_HEADROOM",
        "RTE_MBUF_DEFAULT_BUF_SIZE",
        "RTE_MBUF_DEFAULT_DATAROOM",
        "RTE_MEMPOOL_CACHE_MAX_SIZE",
        "RTE_ETH_MQ_RX_.*",
        "RTE_ETH_RSS_IP",
        "RTE_ETH_RSS_TCP",
        "RTE_ETH_RSS_UDP",
        "RTE_ETH_LINK_.*",
        "RTE_ETH_NAME_MAX_LEN",
        "SOCKET_ID_ANY",
        "LCORE_ID_ANY",
    ];

    let mut b = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_args(cflags)
        .clang_arg("-Ishim")
        .allowlist_function(functions.join("|"))
        .allowlist_var(vars.join("|"))
        .allowlist_type("rte_mbuf|rte_mempool|rte_eth_conf|rte_eth_dev_info|rte_eth_stats|rte_eth_link|rte_ether_addr|rte_proc_type_t")
        .derive_default(true)
        .derive_debug(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    // Opaque where Sluice never looks inside (keeps the bindings small and layout-safe).
    for t in ["rte_mempool_cache", "rte_mempool_memhdr_list", "rte_mempool_objhdr_list", "rte_eth_fp_ops"] {
        b = b.opaque_type(t);
    }
    // bindgen panics when libclang cannot be loaded: report that as a reason.
    let generated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || b.generate()));
    match generated {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(format!("bindgen failed on the DPDK headers: {e}")),
        Err(_) => Err("bindgen could not run (is libclang installed?)".to_string()),
    }
}
