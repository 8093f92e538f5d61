//! PyPI access over HTTPS: the release file list of `onnxruntime` from PyPI's JSON API and
//! verified downloads.
//!
//! Certificates are checked against the system's trust store (rustls platform verifier), so the
//! xtask works behind TLS-intercepting proxies whose CA the system trusts.

use crate::digest::Sha256Writer;
use crate::wheel::ReleaseFile;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::Path;
use std::time::Duration;
use ureq::tls::{RootCerts, TlsConfig};

/// The JSON API base URL of the `onnxruntime` project.
const PROJECT_URL: &str = "https://pypi.org/pypi/onnxruntime";

/// The largest JSON document we accept (the whole-project document is about 1 MiB).
const MAX_JSON_BYTES: u64 = 64 << 20;

/// Appended to network errors: how to work without network.
const OFFLINE_HINT: &str =
    "no network? set ANTIPHON_ORT_WHEEL=/path/to/onnxruntime-<version>-…whl to use a local wheel";

/// An HTTPS client for PyPI with the system trust store and generous timeouts.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .user_agent(concat!("antiphon-xtask/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// The files of onnxruntime `version` on PyPI.
///
/// Asks `/pypi/onnxruntime/<version>/json` first; when that answers 404 (some mirrors only serve
/// the project document) it falls back to `releases[<version>]` of `/pypi/onnxruntime/json`.
pub fn release_files(agent: &ureq::Agent, version: &str) -> Result<Vec<ReleaseFile>> {
    let url = format!("{PROJECT_URL}/{version}/json");
    if let Some(doc) = get_json(agent, &url)? {
        return parse_files(&doc["urls"], &url);
    }
    let url = format!("{PROJECT_URL}/json");
    let doc = get_json(agent, &url)?.with_context(|| format!("PyPI answered 404 for {url}"))?;
    match doc["releases"].get(version) {
        Some(files) => parse_files(files, &url),
        None => {
            let latest = doc["info"]["version"].as_str().unwrap_or("?");
            bail!("onnxruntime {version} is not on PyPI (latest is {latest})")
        }
    }
}

/// GETs a JSON document; `Ok(None)` on 404.
fn get_json(agent: &ureq::Agent, url: &str) -> Result<Option<Value>> {
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e} ({OFFLINE_HINT})"))?;
    match response.status().as_u16() {
        200 => {}
        404 => return Ok(None),
        status => bail!("PyPI answered HTTP {status} for {url}"),
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_JSON_BYTES)
        .read_to_string()
        .map_err(|e| anyhow::anyhow!("reading {url} failed: {e} ({OFFLINE_HINT})"))?;
    let doc = serde_json::from_str(&text).with_context(|| format!("{url} is not valid JSON"))?;
    Ok(Some(doc))
}

/// Turns a JSON array of file objects into [`ReleaseFile`]s, resolving URLs against `base`.
fn parse_files(files: &Value, base: &str) -> Result<Vec<ReleaseFile>> {
    let files = files
        .as_array()
        .with_context(|| format!("{base} lists no release files"))?;
    Ok(files
        .iter()
        .filter_map(|f| {
            Some(ReleaseFile {
                filename: f["filename"].as_str()?.to_string(),
                url: resolve_url(base, f["url"].as_str()?),
                sha256: f["digests"]["sha256"].as_str().map(str::to_ascii_lowercase),
                size: f["size"].as_u64(),
                yanked: f["yanked"].as_bool().unwrap_or(false),
            })
        })
        .collect())
}

/// Resolves a possibly relative URL reference against an absolute `https://host/path` base
/// (enough of RFC 3986 for the absolute, host-relative and `../` references PyPI mirrors use).
pub fn resolve_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(net_path) = reference.strip_prefix("//") {
        return format!("{scheme}://{net_path}");
    }
    let (host, base_path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut segments: Vec<&str> = if reference.starts_with('/') {
        Vec::new()
    } else {
        let dir = &base_path[..base_path.rfind('/').unwrap_or(0)];
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for segment in reference.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = if reference.ends_with('/') { "/" } else { "" };
    format!("{scheme}://{host}/{}{trailing}", segments.join("/"))
}

/// Downloads `file` to `dest`, verifying its size and sha256 against what PyPI lists.
///
/// Writes to a `.part` file first and renames it only after the digest matched, so `dest` never holds
/// an unverified file.
pub fn download_verified(agent: &ureq::Agent, file: &ReleaseFile, dest: &Path) -> Result<()> {
    let expected = file
        .sha256
        .as_deref()
        .with_context(|| format!("PyPI lists no sha256 for {}", file.filename))?;
    let response = agent
        .get(&file.url)
        .call()
        .map_err(|e| anyhow::anyhow!("cannot reach {}: {e} ({OFFLINE_HINT})", file.url))?;
    if response.status() != 200 {
        bail!("HTTP {} when downloading {}", response.status(), file.url);
    }
    let part = crate::digest::part_path(dest);
    let out = File::create(&part).with_context(|| format!("cannot create {}", part.display()))?;
    let mut writer = Sha256Writer::new(BufWriter::new(out));
    let copied = io::copy(&mut response.into_body().into_reader(), &mut writer);
    let (inner, actual) = writer.finish();
    let flushed = inner.into_inner().map_err(|e| e.into_error());
    if let Err(e) = copied.and(flushed.map(drop)) {
        let _ = fs::remove_file(&part);
        bail!("downloading {} failed: {e} ({OFFLINE_HINT})", file.url);
    }
    let size = fs::metadata(&part)?.len();
    if let Some(expected_size) = file.size.filter(|&s| s != size) {
        let _ = fs::remove_file(&part);
        bail!(
            "{} is {size} bytes, PyPI says {expected_size}; download truncated?",
            file.filename
        );
    }
    if actual != expected {
        let _ = fs::remove_file(&part);
        bail!(
            "sha256 mismatch for {}: PyPI lists {expected}, downloaded file has {actual}",
            file.filename
        );
    }
    fs::rename(&part, dest).with_context(|| format!("cannot move wheel to {}", dest.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! URL resolution as needed for PyPI and its mirrors, and digest checking of downloads
    //! (against a one-shot HTTP server on localhost).

    use super::{download_verified, resolve_url};
    use crate::digest::sha256_bytes;
    use crate::wheel::ReleaseFile;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves `body` once over HTTP on localhost; returns its URL.
    fn serve_once(body: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x.whl", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        });
        url
    }

    /// A plain-HTTP client that ignores any proxy settings of the environment.
    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    /// A release file at `url` with the given digest.
    fn file(url: String, sha256: String) -> ReleaseFile {
        ReleaseFile {
            filename: "x.whl".into(),
            url,
            sha256: Some(sha256),
            size: Some(5),
            yanked: false,
        }
    }

    #[test]
    fn keeps_only_verified_downloads() {
        let dir = std::env::temp_dir().join(format!("xtask-pypi-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("x.whl");

        let wrong = file(serve_once(b"hello"), "00".repeat(32));
        let err = download_verified(&agent(), &wrong, &dest).unwrap_err();
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        assert!(!dest.exists() && !crate::digest::part_path(&dest).exists());

        let right = file(serve_once(b"hello"), sha256_bytes(b"hello"));
        download_verified(&agent(), &right, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolves_relative_urls() {
        let base = "https://pypi.org/pypi/onnxruntime/json";
        assert_eq!(
            resolve_url(base, "../../packages/packages/eb/27/x.whl"),
            "https://pypi.org/packages/packages/eb/27/x.whl"
        );
        assert_eq!(
            resolve_url(base, "https://files.pythonhosted.org/packages/x.whl"),
            "https://files.pythonhosted.org/packages/x.whl"
        );
        assert_eq!(resolve_url(base, "/a/./b.whl"), "https://pypi.org/a/b.whl");
        assert_eq!(
            resolve_url(base, "//files.pythonhosted.org/x.whl"),
            "https://files.pythonhosted.org/x.whl"
        );
    }
}
