//! Writes the fuzzers' seed corpora: `fuzz-seeds DIR` makes `DIR/<target>/seed-<n>` for every
//! target in `tests/fuzz`, from real messages — what the project's virtual devices send, the
//! protocols' worked examples, a real Feig terminal's recorded messages (from the `zvt` crate's
//! source as Cargo fetched it), the seed catalog, the documented kiosk configuration. `tools/fuzz`
//! runs it before the fuzzers.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The `zvt` crate's recorded messages of a real terminal (files `*.blob`), if its source is in
/// Cargo's registry.
fn zvt_captures() -> Vec<Vec<u8>> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else { return Vec::new() };
    let mut captures = Vec::new();
    for registry in registries.flatten() {
        let Ok(crates) = std::fs::read_dir(registry.path()) else { continue };
        for source in crates.flatten().filter(|c| c.file_name().to_string_lossy().starts_with("zvt-0.")) {
            let Ok(files) = std::fs::read_dir(source.path().join("data")) else { continue };
            captures.extend(
                files.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "blob")).filter_map(|f| std::fs::read(f.path()).ok()),
            );
        }
    }
    captures
}

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::args_os().nth(1).context("usage: fuzz-seeds DIR")?);
    let mut seeds = balcao_drivers::identity_reader::icao::fuzz::seeds();
    seeds.extend(balcao_drivers::fuzz::seeds());
    seeds.extend(balcao_backend_client::fuzz::seeds());
    seeds.push(("central_answers", serde_json::to_vec(&balcao_central::seed::catalog())?));
    seeds.push(("kiosk_config", include_bytes!("../../../kiosk/kiosk.example.toml").to_vec()));
    let captures = zvt_captures();
    for capture in &captures {
        seeds.push(("zvt_messages", capture.clone()));
        seeds.push(("zvt_serial", balcao_drivers::payment_terminal::zvt::wire::frame(capture)));
    }
    let mut written = std::collections::BTreeMap::<&str, usize>::new();
    for (target, bytes) in seeds {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
        let n = written.entry(target).or_default();
        write(&folder.join(format!("seed-{n:03}")), &bytes)?;
        *n += 1;
    }
    for (target, n) in &written {
        eprintln!("fuzz-seeds: {target}: {n} seeds");
    }
    eprintln!("fuzz-seeds: {} recorded messages of a real ZVT terminal among them", captures.len());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
