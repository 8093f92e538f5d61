//! `cargo xtask bundle` / `bundle-universal`: nice-plug-xtask's bundling, then, when the
//! `antiphon` package was bundled, the ONNX Runtime library is put where the plugin loads it from:
//! beside `<Name>.clap` and inside `<Name>.vst3` next to the plugin binary (on macOS, where the
//! CLAP is a bundle as well, also inside `<Name>.clap/Contents/MacOS/`; both bundles are re-signed).

use crate::digest::part_path;
use crate::fetch_ort::{self, Request};
use crate::platform::{Arch, Os, Platform};
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use nice_plug_xtask::{Architecture, CompilationTarget};
use std::fs;
use std::path::{Path, PathBuf};

/// The plugin package whose bundles get the runtime library.
const PACKAGE: &str = "antiphon";

/// What a `bundle` command line asks for, as far as the post-step needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Invocation {
    /// The packages to bundle (`bundle pkg` or `bundle -p a -p b`).
    packages: Vec<String>,
    /// The `--target` triple, if any.
    target: Option<String>,
    /// Whether this is `bundle-universal` (macOS x86_64 + arm64).
    universal: bool,
}

impl Invocation {
    /// Reads the arguments the way nice-plug-xtask does (it reports malformed ones itself).
    fn parse(command: &str, args: &[String]) -> Self {
        let mut packages = Vec::new();
        let mut rest = args;
        if args.first().map(String::as_str) == Some("-p") {
            while let [flag, package, tail @ ..] = rest {
                if flag != "-p" {
                    break;
                }
                packages.push(package.clone());
                rest = tail;
            }
        } else if let [package, tail @ ..] = args {
            packages.push(package.clone());
            rest = tail;
        }
        let target = rest
            .iter()
            .enumerate()
            .find_map(|(i, arg)| match arg.as_str() {
                "--target" => rest.get(i + 1).cloned(),
                _ => arg.strip_prefix("--target=").map(str::to_string),
            });
        Self {
            packages,
            target,
            universal: command == "bundle-universal",
        }
    }

    /// The platform the bundles are built for.
    fn platform(&self) -> Result<Platform> {
        if self.universal {
            return Ok(Platform {
                os: Os::Mac,
                arch: Arch::Universal,
            });
        }
        match &self.target {
            Some(triple) => Platform::from_triple(triple),
            None => Platform::host(),
        }
    }
}

/// Runs nice-plug-xtask's `command` with `args`, then the ONNX Runtime post-step for `antiphon`.
pub fn run(ws: &Workspace, command: &str, args: &[String]) -> Result<()> {
    let invocation = Invocation::parse(command, args);
    let full_args = std::iter::once(command.to_string()).chain(args.iter().cloned());
    nice_plug_xtask::main_with_args(crate::COMMAND_NAME, full_args)?;
    if !invocation.packages.iter().any(|p| p == PACKAGE) {
        return Ok(());
    }
    let platform = invocation.platform()?;
    let bundled = ws.cargo_target_dir()?.join("bundled");
    add_runtime(ws, &bundled, &bundle_name(ws)?, platform)
}

/// Fetches the runtime library for `platform` if needed and copies it into the bundles of
/// `name` found in `bundled`.
fn add_runtime(ws: &Workspace, bundled: &Path, name: &str, platform: Platform) -> Result<()> {
    let clap = bundled.join(format!("{name}.clap"));
    let vst3 = bundled.join(format!("{name}.vst3"));
    let targets = destinations(bundled, name, platform);
    if targets.is_empty() {
        println!(
            "warning: neither {} nor {} exists, so the ONNX Runtime library was not added \
             (does the plugin export clap_entry / GetPluginFactory?)",
            ws.relative(&clap).display(),
            ws.relative(&vst3.join(vst3_binary_subdir(platform)))
                .display()
        );
        return Ok(());
    }

    let request = Request::default_for(ws, platform);
    let library = fetch_ort::ensure(ws, &request)?;
    let library_name = library.file_name().context("library path without a name")?;
    println!(
        "ONNX Runtime {} ({}) added to the {name} bundles:",
        request.version,
        library_name.to_string_lossy()
    );
    for (dir, note) in &targets {
        let dest = dir.join(library_name);
        let part = part_path(&dest);
        fs::copy(&library, &part).with_context(|| format!("cannot copy to {}", part.display()))?;
        fs::rename(&part, &dest).with_context(|| format!("cannot replace {}", dest.display()))?;
        println!("  {}  ({note})", ws.relative(&dest).display());
    }
    if platform.os == Os::Mac {
        // The bundles were signed before the library went in; sign them again.
        let target = match platform.arch {
            Arch::X86_64 => CompilationTarget::MacOS(Architecture::X86_64),
            Arch::Aarch64 => CompilationTarget::MacOS(Architecture::AArch64),
            Arch::Universal => CompilationTarget::MacOSUniversal,
        };
        for bundle in [&clap, &vst3].into_iter().filter(|b| b.is_dir()) {
            nice_plug_xtask::maybe_codesign(bundle, target);
        }
    }
    Ok(())
}

/// The directories of existing bundles of `name` in `bundled` that should get the runtime library,
/// each with a note for messages: beside `<name>.clap` (and, on macOS, inside it next to the
/// binary) and inside `<name>.vst3` next to the binary.
fn destinations(bundled: &Path, name: &str, platform: Platform) -> Vec<(PathBuf, String)> {
    let clap = bundled.join(format!("{name}.clap"));
    let vst3_binary_dir = bundled
        .join(format!("{name}.vst3"))
        .join(vst3_binary_subdir(platform));
    let mut targets = Vec::new();
    if clap.exists() {
        targets.push((bundled.to_path_buf(), format!("beside {name}.clap")));
        if platform.os == Os::Mac {
            // On macOS the CLAP is a bundle too; the plugin looks beside its own binary.
            targets.push((clap.join("Contents/MacOS"), format!("inside {name}.clap")));
        }
    }
    if vst3_binary_dir.is_dir() {
        targets.push((vst3_binary_dir, format!("inside {name}.vst3")));
    }
    targets
}

/// The bundle name of `antiphon` from `bundler.toml` (`[antiphon] name = "…"`), else `antiphon`.
fn bundle_name(ws: &Workspace) -> Result<String> {
    let path = ws.root.join("bundler.toml");
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(PACKAGE.to_string());
    };
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
    Ok(table
        .get(PACKAGE)
        .and_then(|package| package.get("name"))
        .and_then(|name| name.as_str())
        .unwrap_or(PACKAGE)
        .to_string())
}

/// Where the plugin binary sits inside a `.vst3` bundle (as nice-plug-xtask lays it out).
fn vst3_binary_subdir(platform: Platform) -> &'static str {
    match (platform.os, platform.arch) {
        (Os::Linux, Arch::Aarch64) => "Contents/aarch64-linux",
        (Os::Linux, _) => "Contents/x86_64-linux",
        (Os::Mac, _) => "Contents/MacOS",
        (Os::Windows, Arch::Aarch64) => "Contents/arm_64-win",
        (Os::Windows, _) => "Contents/x86_64-win",
    }
}

#[cfg(test)]
mod tests {
    //! Reading bundle command lines.

    use super::{Invocation, destinations};
    use crate::platform::{Arch, Os, Platform};
    use std::fs;

    /// Owned strings from literals.
    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_packages_and_target() {
        let inv = Invocation::parse("bundle", &strings(&["antiphon", "--release"]));
        assert_eq!((inv.packages, inv.target), (strings(&["antiphon"]), None));
        let args = strings(&[
            "-p",
            "a",
            "-p",
            "antiphon",
            "--target",
            "aarch64-apple-darwin",
        ]);
        let inv = Invocation::parse("bundle", &args);
        assert_eq!(inv.packages, strings(&["a", "antiphon"]));
        assert_eq!(inv.target.as_deref(), Some("aarch64-apple-darwin"));
        let inv = Invocation::parse("bundle-universal", &strings(&["antiphon"]));
        assert!(inv.universal);
    }

    #[test]
    fn finds_the_bundle_directories() {
        let bundled =
            std::env::temp_dir().join(format!("xtask-bundle-test-{}", std::process::id()));
        let platform = |os, arch| Platform { os, arch };
        let names = |os, arch| -> Vec<String> {
            destinations(&bundled, "Antiphon", platform(os, arch))
                .into_iter()
                .map(|(dir, _)| dir.strip_prefix(&bundled).unwrap().display().to_string())
                .collect()
        };
        let _ = fs::remove_dir_all(&bundled);
        fs::create_dir_all(bundled.join("Antiphon.vst3/Contents/x86_64-linux")).unwrap();
        fs::write(bundled.join("Antiphon.clap"), b"").unwrap();
        assert_eq!(
            names(Os::Linux, Arch::X86_64),
            ["", "Antiphon.vst3/Contents/x86_64-linux"]
        );
        assert_eq!(names(Os::Linux, Arch::Aarch64), [""]);

        fs::remove_file(bundled.join("Antiphon.clap")).unwrap();
        fs::create_dir_all(bundled.join("Antiphon.clap/Contents/MacOS")).unwrap();
        fs::create_dir_all(bundled.join("Antiphon.vst3/Contents/MacOS")).unwrap();
        assert_eq!(
            names(Os::Mac, Arch::Universal),
            [
                "",
                "Antiphon.clap/Contents/MacOS",
                "Antiphon.vst3/Contents/MacOS"
            ]
        );
        fs::create_dir_all(bundled.join("Antiphon.vst3/Contents/arm_64-win")).unwrap();
        assert_eq!(
            names(Os::Windows, Arch::Aarch64),
            ["", "Antiphon.vst3/Contents/arm_64-win"]
        );
        fs::remove_dir_all(&bundled).unwrap();
        assert!(names(Os::Linux, Arch::X86_64).is_empty());
    }
}
