//! Builds the worker with worker-build, pointed at local binaries instead of the downloads it
//! would otherwise attempt (this machine reaches package registries only).

use std::process::Command;

use anyhow::Result;

use crate::install::cargo_bin;
use crate::{repo_root, run};

/// Set by `dev`/`test` for the build wrangler runs: skips wasm-opt (3 s instead of 13 s).
pub const FAST_BUILD_ENV: &str = "XTASK_FAST_WORKER_BUILD";

pub fn build(optimize: bool) -> Result<()> {
    let root = repo_root();
    let mut command = Command::new(cargo_bin("worker-build"));
    command
        .current_dir(root.join("functions"))
        .arg("--release")
        .env("WASM_BINDGEN_BIN", cargo_bin("wasm-bindgen"))
        .env(
            "WASM_OPT_BIN",
            root.join("node_modules/binaryen/bin/wasm-opt"),
        )
        .env(
            "ESBUILD_BIN",
            root.join("node_modules/@esbuild/linux-x64/bin/esbuild"),
        );
    if !optimize {
        command.arg("--no-opt");
    }
    run(&mut command)?;
    if optimize {
        strip_function_names()?;
    }
    Ok(())
}

/// Where the optimized module is kept with its function names, for reading a production stack
/// trace (`wasm-function[N]` is function N of this module).
pub fn named_wasm_path() -> std::path::PathBuf {
    repo_root().join("functions/build/index_bg.named.wasm")
}

/// worker-build keeps the `name` section (wasm-opt `--debuginfo`): about a ninth of the gzipped
/// module, which every cold start loads. The module that ships goes without it; the named one
/// stays beside it (not uploaded: only what the shim imports is).
fn strip_function_names() -> Result<()> {
    let named = std::fs::read(wasm_path())?;
    let stripped = without_custom_section(&named, "name")?;
    std::fs::write(named_wasm_path(), &named)?;
    std::fs::write(wasm_path(), stripped)?;
    Ok(())
}

/// The module without its custom sections called `name` (section id 0, then the name).
fn without_custom_section(module: &[u8], name: &str) -> Result<Vec<u8>> {
    const HEADER: usize = 8;
    anyhow::ensure!(module.starts_with(b"\0asm"), "not a wasm module");
    let mut kept = module[..HEADER].to_vec();
    let mut at = HEADER;
    while at < module.len() {
        let id = module[at];
        let (size, body_start) = leb128(module, at + 1)?;
        let end = body_start + size;
        anyhow::ensure!(end <= module.len(), "a section runs past the module's end");
        let body = &module[body_start..end];
        let is_named = id == 0 && {
            let (length, name_start) = leb128(body, 0)?;
            body.get(name_start..name_start + length) == Some(name.as_bytes())
        };
        if !is_named {
            kept.extend_from_slice(&module[at..end]);
        }
        at = end;
    }
    Ok(kept)
}

/// An unsigned LEB128 number at `at`: its value and where what follows it starts.
fn leb128(bytes: &[u8], mut at: usize) -> Result<(usize, usize)> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(at)
            .ok_or_else(|| anyhow::anyhow!("a number runs past the end"))?;
        at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((value, at));
        }
    }
    anyhow::bail!("a number longer than 32 bits")
}

/// The built module: what Cloudflare stores and loads on a cold start.
pub fn wasm_path() -> std::path::PathBuf {
    repo_root().join("functions/build/index_bg.wasm")
}

/// Whether the built module is newer than every input of the worker crate.
pub fn is_up_to_date() -> Result<bool> {
    let Ok(built) = std::fs::metadata(wasm_path()).and_then(|m| m.modified()) else {
        return Ok(false);
    };
    let root = repo_root();
    let mut inputs = vec![
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join("functions/Cargo.toml"),
        root.join("functions/openapi.json"),
    ];
    let mut dirs = vec![root.join("functions/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path)
            } else {
                inputs.push(path)
            }
        }
    }
    for input in inputs {
        if std::fs::metadata(&input)?.modified()? > built {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_custom_section_is_dropped() {
        let custom = |name: &str, body: &[u8]| {
            let mut section = vec![0, (1 + name.len() + body.len()) as u8, name.len() as u8];
            section.extend_from_slice(name.as_bytes());
            section.extend_from_slice(body);
            section
        };
        let header = b"\0asm\x01\0\0\0".to_vec();
        let types = vec![1, 1, 0];
        let module = [
            header.clone(),
            types.clone(),
            custom("name", &[1, 2, 3]),
            custom("producers", &[4]),
        ]
        .concat();
        assert_eq!(
            without_custom_section(&module, "name").unwrap(),
            [header, types, custom("producers", &[4])].concat()
        );
        assert!(without_custom_section(&module[..module.len() - 1], "name").is_err());
    }
}
