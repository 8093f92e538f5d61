//! `cargo xtask fetch-ort`: provisions the ONNX Runtime C-API shared library from the official
//! `onnxruntime` wheel on PyPI (sha256-verified), or from a local wheel named by
//! `ANTIPHON_ORT_WHEEL`.
//!
//! Layout of the destination directory (default `target/onnxruntime/`):
//! - `<library>`: the runtime, under its real name (`libonnxruntime.so.1.31.1`, …);
//! - `wheels/<wheel>`: the downloaded wheel (kept as a cache);
//! - `onnxruntime-<platform>.stamp.json`: what was extracted from which verified wheel; it makes
//!   re-runs a no-op without network.

use crate::digest::{part_path, sha256_file};
use crate::platform::Platform;
use crate::wheel::{self, WheelName};
use crate::workspace::Workspace;
use crate::{args::Args, pypi};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The ONNX Runtime version the plugin is built against (it needs at least 1.31).
pub const DEFAULT_VERSION: &str = "1.31.1";

/// Environment variable naming a local wheel to use instead of downloading one.
pub const WHEEL_ENV: &str = "ANTIPHON_ORT_WHEEL";

/// What to provision, and where.
#[derive(Debug, Clone)]
pub struct Request {
    /// The onnxruntime version, e.g. `1.31.1`.
    pub version: String,
    /// The directory that receives the library.
    pub dest: PathBuf,
    /// The platform the library is for.
    pub platform: Platform,
}

impl Request {
    /// The default request for `platform`: [`DEFAULT_VERSION`] into `target/onnxruntime/`, or
    /// `target/onnxruntime/<platform>/` when `platform` is not the host.
    pub fn default_for(ws: &Workspace, platform: Platform) -> Self {
        let mut dest = ws.ort_dir();
        if Platform::host().ok() != Some(platform) {
            dest.push(platform.slug());
        }
        Self {
            version: DEFAULT_VERSION.to_string(),
            dest,
            platform,
        }
    }
}

/// Runs `fetch-ort [--version V] [--dest DIR] [--target TRIPLE]`.
pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let mut args = Args::new(args);
    let version = args.value("--version")?;
    let dest = args.value("--dest")?;
    let target = args.value("--target")?;
    args.finish("fetch-ort [--version V] [--dest DIR] [--target TRIPLE]")?;

    let platform = match target {
        Some(triple) => Platform::from_triple(&triple)?,
        None => Platform::host()?,
    };
    let mut request = Request::default_for(ws, platform);
    if let Some(version) = version {
        request.version = version;
    }
    if let Some(dest) = dest {
        request.dest = ws.user_path(dest);
    }
    ensure(ws, &request).map(drop)
}

/// Makes sure the runtime library described by `request` is in `request.dest`; returns its path.
pub fn ensure(ws: &Workspace, request: &Request) -> Result<PathBuf> {
    let Request {
        version,
        dest,
        platform,
    } = request;
    fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let stamp_path = dest.join(format!("onnxruntime-{platform}.stamp.json"));
    let stamp = fs::read_to_string(&stamp_path)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let local_wheel = std::env::var_os(WHEEL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);

    let (wheel_path, wheel_sha256, verified) = match local_wheel {
        Some(path) => {
            let sha256 = check_local_wheel(&path, request)?;
            if let Some(library) = up_to_date(dest, stamp.as_ref(), request, Some(&sha256)) {
                say_up_to_date(ws, &library, stamp.as_ref(), request);
                return Ok(library);
            }
            println!(
                "Using the local wheel {} (from {WHEEL_ENV})",
                path.display()
            );
            println!("  not checked against PyPI; its sha256 is {sha256}");
            (path, sha256, false)
        }
        None => {
            if let Some(library) = up_to_date(dest, stamp.as_ref(), request, None) {
                say_up_to_date(ws, &library, stamp.as_ref(), request);
                return Ok(library);
            }
            let (path, sha256) = fetch_wheel(ws, request)?;
            (path, sha256, true)
        }
    };

    let library = extract_library(&wheel_path, dest, platform)?;
    let library_name = file_name(&library);
    let stamp = json!({
        "version": version,
        "platform": platform.slug(),
        "wheel": file_name(&wheel_path),
        "wheel_sha256": wheel_sha256,
        "verified_against_pypi": verified,
        "library": library_name,
        "library_sha256": sha256_file(&library)?,
    });
    fs::write(&stamp_path, serde_json::to_string_pretty(&stamp)? + "\n")
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    println!(
        "ONNX Runtime {version} for {platform}: {} ({:.1} MiB)",
        ws.relative(&library).display(),
        mib(fs::metadata(&library)?.len())
    );
    Ok(library)
}

/// Finds the wheel on PyPI, downloads it into `<dest>/wheels/` unless a verified copy is there,
/// and returns its path and (verified) sha256.
fn fetch_wheel(ws: &Workspace, request: &Request) -> Result<(PathBuf, String)> {
    let agent = pypi::agent();
    let files = pypi::release_files(&agent, &request.version)?;
    let file = wheel::choose(&files, &request.version, &request.platform)?;
    let expected = file.sha256.clone().unwrap_or_default();
    let cache_dir = request.dest.join("wheels");
    fs::create_dir_all(&cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let path = cache_dir.join(&file.filename);
    if path.is_file() && sha256_file(&path)? == expected {
        println!(
            "Using the cached wheel {} (sha256 matches PyPI)",
            ws.relative(&path).display()
        );
    } else {
        println!(
            "Downloading {} ({:.1} MiB) from {}",
            file.filename,
            mib(file.size.unwrap_or(0)),
            file.url
        );
        pypi::download_verified(&agent, file, &path)?;
        println!("  sha256 {expected} matches PyPI");
    }
    Ok((path, expected))
}

/// Checks that a local wheel exists and is onnxruntime `version` for the requested platform;
/// returns its sha256.
fn check_local_wheel(path: &Path, request: &Request) -> Result<String> {
    if !path.is_file() {
        bail!("{WHEEL_ENV}={} is not a file", path.display());
    }
    let name = file_name(path);
    let wheel = WheelName::parse(&name)
        .filter(|w| w.name == "onnxruntime")
        .with_context(|| format!("{WHEEL_ENV}: '{name}' is not an onnxruntime wheel file name"))?;
    if wheel.version != request.version {
        bail!(
            "{WHEEL_ENV}: '{name}' is onnxruntime {}, but {} is wanted",
            wheel.version,
            request.version
        );
    }
    if wheel.platform_rank(&request.platform).is_none() {
        bail!(
            "{WHEEL_ENV}: '{name}' is not a wheel for {}",
            request.platform
        );
    }
    sha256_file(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The library path when the stamp says it was extracted for this request from a PyPI-verified
/// wheel (or from the local wheel with digest `local_sha256`) and the library is unchanged.
fn up_to_date(
    dest: &Path,
    stamp: Option<&Value>,
    request: &Request,
    local_sha256: Option<&str>,
) -> Option<PathBuf> {
    let stamp = stamp?;
    let field = |key: &str| stamp[key].as_str();
    let wheel_ok = match local_sha256 {
        Some(sha256) => field("wheel_sha256") == Some(sha256),
        None => stamp["verified_against_pypi"].as_bool() == Some(true),
    };
    if !wheel_ok
        || field("version") != Some(request.version.as_str())
        || field("platform") != Some(request.platform.slug().as_str())
    {
        return None;
    }
    let library = dest.join(field("library")?);
    let unchanged = sha256_file(&library).ok()? == field("library_sha256")?;
    unchanged.then_some(library)
}

/// Reports that nothing had to be done.
fn say_up_to_date(ws: &Workspace, library: &Path, stamp: Option<&Value>, request: &Request) {
    let stamp = stamp.unwrap_or(&Value::Null);
    let how = if stamp["verified_against_pypi"].as_bool() == Some(true) {
        "sha256 verified against PyPI"
    } else {
        "local wheel, not checked against PyPI"
    };
    println!(
        "ONNX Runtime {} for {} is already at {} (from {}, {how}); nothing to do",
        request.version,
        request.platform,
        ws.relative(library).display(),
        stamp["wheel"].as_str().unwrap_or("?"),
    );
}

/// Extracts the runtime library of `platform` from `onnxruntime/capi/` in the wheel into `dest`,
/// keeping its file name; returns its path.
fn extract_library(wheel: &Path, dest: &Path, platform: &Platform) -> Result<PathBuf> {
    let file = File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a valid wheel (zip)", wheel.display()))?;
    let entry_name = zip
        .file_names()
        .filter_map(|name| name.ok())
        .filter(|name| {
            name.rsplit_once('/').is_some_and(|(dir, file)| {
                dir == "onnxruntime/capi" && platform.is_runtime_library(file)
            })
        })
        // Prefer the versioned name should a wheel ever carry several.
        .max_by_key(|name| name.len())
        .map(|name| name.into_owned())
        .with_context(|| {
            format!(
                "{} has no ONNX Runtime library for {platform} in onnxruntime/capi/",
                wheel.display()
            )
        })?;
    let library = dest.join(entry_name.rsplit('/').next().unwrap_or(&entry_name));
    let part = part_path(&library);
    let mut entry = zip.by_name(&entry_name)?;
    let mut out =
        File::create(&part).with_context(|| format!("cannot create {}", part.display()))?;
    io::copy(&mut entry, &mut out)
        .with_context(|| format!("cannot extract {entry_name} from {}", wheel.display()))?;
    drop(out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&part, fs::Permissions::from_mode(0o755))?;
    }
    fs::rename(&part, &library).with_context(|| format!("cannot write {}", library.display()))?;
    Ok(library)
}

/// The last component of a path as a string.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Bytes in MiB, for messages.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
