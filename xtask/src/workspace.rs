//! Where things are: the workspace root, the invocation directory, Cargo's target directory and
//! our fixed locations under `target/`.

use anyhow::{Context, Result};
use std::path::{Component, Path, PathBuf};

/// The workspace as seen by one xtask invocation.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace root (the current directory after [`Workspace::enter`]).
    pub root: PathBuf,
    /// The directory `cargo xtask` was run from; relative user paths are relative to it.
    pub invocation_dir: PathBuf,
}

impl Workspace {
    /// Finds the workspace root the way nice-plug-xtask does and changes into it.
    pub fn enter() -> Result<Self> {
        let invocation_dir =
            std::env::current_dir().context("cannot read the current directory")?;
        nice_plug_xtask::chdir_workspace_root()?;
        let root = std::env::current_dir().context("cannot read the workspace root")?;
        Ok(Self {
            root,
            invocation_dir,
        })
    }

    /// A path given on the command line, relative to the workspace root where possible.
    pub fn user_path(&self, path: impl AsRef<Path>) -> PathBuf {
        let absolute = normalize(&self.invocation_dir.join(path));
        self.relative(&absolute).to_path_buf()
    }

    /// `path` relative to the workspace root when it lies inside it, for short messages.
    pub fn relative<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }

    /// `target/onnxruntime/` in the workspace root: the default home of the runtime library.
    pub fn ort_dir(&self) -> PathBuf {
        self.root.join("target").join("onnxruntime")
    }

    /// `target/train-venv/` in the workspace root: the Python environment for training.
    pub fn train_venv(&self) -> PathBuf {
        self.root.join("target").join("train-venv")
    }

    /// Cargo's target directory (honours `CARGO_TARGET_DIR` and `build.target-dir`), as
    /// nice-plug-xtask determines it; bundles live in its `bundled/` subdirectory.
    pub fn cargo_target_dir(&self) -> Result<PathBuf> {
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(self.root.join("Cargo.toml"))
            .no_deps()
            .exec()
            .context("could not run `cargo metadata`")?;
        Ok(metadata.target_directory.into_std_path_buf())
    }
}

/// Removes `.` and resolves `..` lexically (without touching the file system).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Lexical path normalization.

    use super::normalize;
    use std::path::Path;

    #[test]
    fn resolves_dots() {
        assert_eq!(normalize(Path::new("/a/b/./../c")), Path::new("/a/c"));
        assert_eq!(normalize(Path::new("../x")), Path::new("../x"));
    }
}
