//! Regenerates `include/keyscope.h` with cbindgen when `KEYSCOPE_GENERATE_HEADER` is
//! set (the test command sets it and then fails on any difference); otherwise writes
//! nothing outside `OUT_DIR`. On Linux it also gives `libkeyscope.so` its SONAME.

use std::path::PathBuf;

fn main() {
    soname();
    println!("cargo:rerun-if-env-changed=KEYSCOPE_GENERATE_HEADER");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    if std::env::var_os("KEYSCOPE_GENERATE_HEADER").is_none() {
        return;
    }
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let parts: Vec<&str> = version.split(['.', '-']).collect();
    config.after_includes = Some(format!(
        "\n#define KEYSCOPE_VERSION \"{version}\"\n#define KEYSCOPE_VERSION_MAJOR {}\n#define KEYSCOPE_VERSION_MINOR {}\n#define KEYSCOPE_VERSION_PATCH {}\n\n\
         /** Marks calls whose keyscope_status must be checked. */\n\
         #if defined(__GNUC__) || defined(__clang__)\n\
         #define KEYSCOPE_MUST_USE __attribute__((warn_unused_result))\n\
         #else\n\
         #define KEYSCOPE_MUST_USE\n\
         #endif\n",
        parts[0], parts[1], parts[2]
    ));
    let header = crate_dir.join("../../include/keyscope.h");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(header);
}

/// The shared library's SONAME on Linux: `libkeyscope.so.<major>` from 1.0 on, and
/// `libkeyscope.so.0.<minor>` before (where a minor release may break the ABI, as
/// Cargo's version rules say). `make install` names the file and its links after it.
fn soname() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets it");
    let level = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkeyscope.so.{level}");
}
