//! Regenerates `include/keyscope.h` with cbindgen when `KEYSCOPE_GENERATE_HEADER` is
//! set (the test command sets it and then fails on any difference); otherwise writes
//! nothing outside `OUT_DIR`.

use std::path::PathBuf;

fn main() {
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
