//! The operating system and CPU a plugin is built for, and what that means for ONNX Runtime:
//! which wheel platform tags fit it and what the runtime library inside the wheel is called.

use anyhow::{Result, bail};
use std::fmt;

/// An operating system that ONNX Runtime publishes wheels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// glibc-based Linux (`manylinux` wheels).
    Linux,
    /// macOS (`macosx` wheels).
    Mac,
    /// Windows (`win` wheels).
    Windows,
}

/// A CPU architecture, or a macOS universal (x86_64 + arm64) binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 / amd64.
    X86_64,
    /// aarch64 / arm64.
    Aarch64,
    /// A macOS `universal2` fat binary (only meaningful with [`Os::Mac`]).
    Universal,
}

/// The platform a runtime library is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The operating system.
    pub os: Os,
    /// The CPU architecture.
    pub arch: Arch,
}

impl Platform {
    /// The platform this xtask binary was compiled for, i.e. the host.
    pub fn host() -> Result<Self> {
        let os = match std::env::consts::OS {
            "linux" => Os::Linux,
            "macos" => Os::Mac,
            "windows" => Os::Windows,
            other => bail!("ONNX Runtime publishes no wheels for the OS '{other}'"),
        };
        Ok(Self {
            os,
            arch: parse_arch(std::env::consts::ARCH)?,
        })
    }

    /// The platform of a Rust target triple such as `aarch64-apple-darwin`.
    pub fn from_triple(triple: &str) -> Result<Self> {
        let arch = parse_arch(triple.split('-').next().unwrap_or_default())?;
        let os = if triple.contains("-linux-") {
            if triple.contains("musl") {
                bail!("ONNX Runtime publishes only glibc (manylinux) wheels, not for '{triple}'");
            }
            Os::Linux
        } else if triple.contains("-apple-darwin") {
            Os::Mac
        } else if triple.contains("-windows-") {
            Os::Windows
        } else {
            bail!("ONNX Runtime publishes no wheels for the target '{triple}'");
        };
        Ok(Self { os, arch })
    }

    /// A short name such as `linux-x86_64`, used in messages and file names.
    pub fn slug(&self) -> String {
        self.to_string()
    }

    /// Ranks a wheel platform tag (one `.`-separated component, e.g. `manylinux_2_28_x86_64`)
    /// for this platform: `None` when the tag does not fit, otherwise higher is better (an exact
    /// architecture beats `universal2`).
    pub fn rank_wheel_tag(&self, tag: &str) -> Option<u8> {
        match (self.os, self.arch) {
            (Os::Linux, Arch::X86_64) => {
                (tag.starts_with("manylinux") && tag.ends_with("_x86_64")).then_some(2)
            }
            (Os::Linux, Arch::Aarch64) => {
                (tag.starts_with("manylinux") && tag.ends_with("_aarch64")).then_some(2)
            }
            (Os::Mac, arch) if tag.starts_with("macosx_") => {
                let exact = match arch {
                    Arch::X86_64 => tag.ends_with("_x86_64"),
                    Arch::Aarch64 => tag.ends_with("_arm64"),
                    Arch::Universal => false,
                };
                if exact {
                    Some(2)
                } else {
                    tag.ends_with("_universal2").then_some(1)
                }
            }
            (Os::Windows, Arch::X86_64) => (tag == "win_amd64").then_some(2),
            (Os::Windows, Arch::Aarch64) => (tag == "win_arm64").then_some(2),
            _ => None,
        }
    }

    /// Whether `file_name` (no directories) is the ONNX Runtime C-API library of this OS:
    /// `libonnxruntime.so.<version>` on Linux, `libonnxruntime.<version>.dylib` on macOS and
    /// `onnxruntime.dll` on Windows (as found in `onnxruntime/capi/` of the official wheels).
    pub fn is_runtime_library(&self, file_name: &str) -> bool {
        match self.os {
            Os::Linux => file_name.starts_with("libonnxruntime.so"),
            Os::Mac => file_name.starts_with("libonnxruntime.") && file_name.ends_with(".dylib"),
            Os::Windows => file_name.eq_ignore_ascii_case("onnxruntime.dll"),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = match self.os {
            Os::Linux => "linux",
            Os::Mac => "macos",
            Os::Windows => "windows",
        };
        let arch = match self.arch {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Universal => "universal",
        };
        write!(f, "{os}-{arch}")
    }
}

/// Parses the architecture part of a target triple or `std::env::consts::ARCH`.
fn parse_arch(arch: &str) -> Result<Arch> {
    match arch {
        "x86_64" => Ok(Arch::X86_64),
        "aarch64" | "arm64" => Ok(Arch::Aarch64),
        other => bail!("ONNX Runtime publishes wheels only for x86_64 and aarch64, not '{other}'"),
    }
}
