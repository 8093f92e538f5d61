//! A tiny reader for our subcommands' `--name VALUE` / `--name=VALUE` options.
//!
//! Options are only looked for before a `--` separator; everything after it is left verbatim.

use anyhow::{Result, bail};

/// Command-line arguments from which options are taken one by one.
#[derive(Debug, Clone)]
pub struct Args {
    /// Arguments before `--` that were not taken yet.
    before: Vec<String>,
    /// Arguments after `--` (the separator itself excluded).
    after: Vec<String>,
}

impl Args {
    /// Wraps a subcommand's arguments (without the subcommand name).
    pub fn new(args: &[String]) -> Self {
        let split = args.iter().position(|a| a == "--");
        let (before, after) = match split {
            Some(i) => (args[..i].to_vec(), args[i + 1..].to_vec()),
            None => (args.to_vec(), Vec::new()),
        };
        Self { before, after }
    }

    /// Takes every `--name VALUE` / `--name=VALUE`; returns the last value, if any.
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        let mut found = None;
        let mut i = 0;
        while i < self.before.len() {
            if self.before[i] == name {
                if i + 1 >= self.before.len() {
                    bail!("{name} needs a value");
                }
                found = Some(self.before.remove(i + 1));
                self.before.remove(i);
            } else if let Some(value) = self.before[i].strip_prefix(&prefix) {
                found = Some(value.to_string());
                self.before.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(found)
    }

    /// Everything not taken: remaining arguments, then those after `--`.
    pub fn into_rest(self) -> Vec<String> {
        self.before.into_iter().chain(self.after).collect()
    }

    /// Fails when arguments are left over.
    pub fn finish(self, usage: &str) -> Result<()> {
        let rest = self.into_rest();
        if let Some(first) = rest.first() {
            bail!("unexpected argument '{first}'; usage: cargo xtask {usage}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Option taking and pass-through.

    use super::Args;

    /// Owned strings from literals.
    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn takes_options_and_keeps_the_rest() {
        let mut args = Args::new(&strings(&[
            "--out",
            "a.onnx",
            "--epochs=3",
            "--data=d",
            "--",
            "--out",
            "x",
        ]));
        assert_eq!(args.value("--out").unwrap().as_deref(), Some("a.onnx"));
        assert_eq!(args.value("--data").unwrap().as_deref(), Some("d"));
        assert_eq!(args.value("--family").unwrap(), None);
        assert_eq!(args.into_rest(), strings(&["--epochs=3", "--out", "x"]));
        assert!(Args::new(&strings(&["--out"])).value("--out").is_err());
    }
}
