//! Release files of the `onnxruntime` PyPI project and the choice of the wheel for a platform.
//!
//! Every CPython build of a given version and platform ships the same C-API library, so any
//! CPython tag will do; the choice is only made deterministic (and free-threaded builds avoided).

use crate::platform::Platform;
use anyhow::{Result, bail};

/// One file of a PyPI release, as listed by PyPI's JSON API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    /// The file name, e.g. `onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl`.
    pub filename: String,
    /// The absolute download URL.
    pub url: String,
    /// The lowercase hex sha256 digest PyPI lists for the file, if any.
    pub sha256: Option<String>,
    /// The size in bytes PyPI lists for the file, if any.
    pub size: Option<u64>,
    /// Whether the file was yanked.
    pub yanked: bool,
}

/// The parts of a wheel file name (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName<'a> {
    /// The distribution name, e.g. `onnxruntime`.
    pub name: &'a str,
    /// The version, e.g. `1.31.1`.
    pub version: &'a str,
    /// The python tag, e.g. `cp312`.
    pub python: &'a str,
    /// The ABI tag, e.g. `cp312` or `cp313t` (free-threaded).
    pub abi: &'a str,
    /// The platform tag, possibly compound (`manylinux_2_27_x86_64.manylinux_2_28_x86_64`).
    pub platform: &'a str,
}

impl<'a> WheelName<'a> {
    /// Parses a wheel file name; `None` when it is not one.
    pub fn parse(filename: &'a str) -> Option<Self> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, rest) = match parts.as_slice() {
            [name, version, rest @ ..] if rest.len() == 3 || rest.len() == 4 => {
                (*name, *version, rest)
            }
            _ => return None,
        };
        let [python, abi, platform] = rest[rest.len() - 3..] else {
            return None;
        };
        Some(Self {
            name,
            version,
            python,
            abi,
            platform,
        })
    }

    /// How well this wheel fits `platform` (see [`Platform::rank_wheel_tag`]); `None` if not.
    pub fn platform_rank(&self, platform: &Platform) -> Option<u8> {
        self.platform
            .split('.')
            .filter_map(|tag| platform.rank_wheel_tag(tag))
            .max()
    }

    /// Whether this is a free-threaded CPython build (ABI tag like `cp313t`).
    fn free_threaded(&self) -> bool {
        self.abi.starts_with("cp") && self.abi.ends_with('t')
    }

    /// The CPython minor version of the python tag (`cp312` gives 312), 0 when unknown.
    fn cpython(&self) -> u32 {
        self.python
            .strip_prefix("cp")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Chooses the wheel of `version` for `platform` from a release's files.
///
/// Preference: the exact architecture over `universal2`, a regular over a free-threaded CPython
/// build, then the newest CPython tag; yanked files and files without a sha256 are skipped.
pub fn choose<'f>(
    files: &'f [ReleaseFile],
    version: &str,
    platform: &Platform,
) -> Result<&'f ReleaseFile> {
    let best = files
        .iter()
        .filter(|f| !f.yanked && f.sha256.is_some())
        .filter_map(|f| {
            let wheel = WheelName::parse(&f.filename)?;
            if wheel.version != version {
                return None;
            }
            let rank = wheel.platform_rank(platform)?;
            Some(((rank, !wheel.free_threaded(), wheel.cpython()), f))
        })
        .max_by(|(a, fa), (b, fb)| a.cmp(b).then_with(|| fb.filename.cmp(&fa.filename)));
    match best {
        Some((_, file)) => Ok(file),
        None => {
            let mut platforms: Vec<&str> = files
                .iter()
                .filter_map(|f| WheelName::parse(&f.filename))
                .map(|w| w.platform)
                .collect();
            platforms.sort_unstable();
            platforms.dedup();
            bail!(
                "onnxruntime {version} has no wheel for {platform} (wheels exist for: {})",
                if platforms.is_empty() {
                    "none".to_string()
                } else {
                    platforms.join(", ")
                }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    //! The wheel choice on a canned copy of the onnxruntime 1.31.1 file list.

    use super::*;
    use crate::platform::{Arch, Os};

    /// Wheel names as PyPI lists them for onnxruntime 1.31.1, plus a universal2 one and an sdist.
    const NAMES: &[&str] = &[
        "onnxruntime-1.31.1-cp311-cp311-win_arm64.whl",
        "onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        "onnxruntime-1.31.1-cp312-cp312-macosx_14_0_arm64.whl",
        "onnxruntime-1.31.1-cp313-cp313-manylinux_2_28_x86_64.whl",
        "onnxruntime-1.31.1-cp313-cp313t-manylinux_2_28_x86_64.whl",
        "onnxruntime-1.31.1-cp314-cp314t-manylinux_2_28_x86_64.whl",
        "onnxruntime-1.31.1-cp314-cp314-manylinux_2_28_aarch64.whl",
        "onnxruntime-1.31.1-cp314-cp314-macosx_14_0_arm64.whl",
        "onnxruntime-1.31.1-cp312-cp312-win_amd64.whl",
        "onnxruntime-1.31.1-cp313-cp313-win_amd64.whl",
        "onnxruntime-1.31.1-cp313-cp313-macosx_13_0_universal2.whl",
        "onnxruntime-1.31.1.tar.gz",
    ];

    /// The canned files; the cp314 x86_64 Linux wheel is yanked.
    fn files() -> Vec<ReleaseFile> {
        let mut files: Vec<ReleaseFile> = NAMES
            .iter()
            .map(|n| ReleaseFile {
                filename: n.to_string(),
                url: format!("https://files.pythonhosted.org/packages/{n}"),
                sha256: Some("00".repeat(32)),
                size: Some(1),
                yanked: false,
            })
            .collect();
        files.push(ReleaseFile {
            filename: "onnxruntime-1.31.1-cp314-cp314-manylinux_2_28_x86_64.whl".into(),
            url: String::new(),
            sha256: Some("00".repeat(32)),
            size: None,
            yanked: true,
        });
        files
    }

    /// The chosen file name for an OS and architecture.
    fn chosen(os: Os, arch: Arch) -> Result<String> {
        let files = files();
        choose(&files, "1.31.1", &Platform { os, arch }).map(|f| f.filename.clone())
    }

    #[test]
    fn picks_one_wheel_per_platform() {
        assert_eq!(
            chosen(Os::Linux, Arch::X86_64).unwrap(),
            "onnxruntime-1.31.1-cp313-cp313-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(
            chosen(Os::Linux, Arch::Aarch64).unwrap(),
            "onnxruntime-1.31.1-cp314-cp314-manylinux_2_28_aarch64.whl"
        );
        assert_eq!(
            chosen(Os::Mac, Arch::Aarch64).unwrap(),
            "onnxruntime-1.31.1-cp314-cp314-macosx_14_0_arm64.whl"
        );
        assert_eq!(
            chosen(Os::Mac, Arch::X86_64).unwrap(),
            "onnxruntime-1.31.1-cp313-cp313-macosx_13_0_universal2.whl"
        );
        assert_eq!(
            chosen(Os::Mac, Arch::Universal).unwrap(),
            "onnxruntime-1.31.1-cp313-cp313-macosx_13_0_universal2.whl"
        );
        assert_eq!(
            chosen(Os::Windows, Arch::X86_64).unwrap(),
            "onnxruntime-1.31.1-cp313-cp313-win_amd64.whl"
        );
        assert_eq!(
            chosen(Os::Windows, Arch::Aarch64).unwrap(),
            "onnxruntime-1.31.1-cp311-cp311-win_arm64.whl"
        );
    }

    #[test]
    fn explains_a_missing_platform_or_version() {
        let files: Vec<ReleaseFile> = files()
            .into_iter()
            .filter(|f| !f.filename.contains("win_arm64"))
            .collect();
        let platform = Platform {
            os: Os::Windows,
            arch: Arch::Aarch64,
        };
        let err = choose(&files, "1.31.1", &platform).unwrap_err().to_string();
        assert!(err.contains("no wheel for windows-aarch64"), "{err}");
        assert!(err.contains("win_amd64"), "{err}");
        assert!(choose(&files, "1.30.0", &platform).is_err());
    }

    #[test]
    fn parses_wheel_names() {
        let w = WheelName::parse("onnxruntime-1.31.1-1-cp312-abi3-a_x86_64.b_x86_64.whl").unwrap();
        assert_eq!(
            (w.name, w.version, w.abi),
            ("onnxruntime", "1.31.1", "abi3")
        );
        assert_eq!(w.platform, "a_x86_64.b_x86_64");
        assert_eq!(WheelName::parse("onnxruntime-1.31.1.tar.gz"), None);
    }
}
