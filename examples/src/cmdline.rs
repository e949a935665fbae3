//! A small command-line reader: `--help`/`-h`, `--name VALUE` / `--name=VALUE` options and
//! positional arguments, with errors that name the offending argument.

use std::fmt::Display;
use std::str::FromStr;

use crate::failure::Failure;

/// The arguments of a program, consumed option by option.
#[derive(Debug, Clone)]
pub struct CmdLine {
    args: Vec<String>,
}

impl CmdLine {
    /// Reads the process arguments. On `-h` or `--help` anywhere it prints `usage` to stdout
    /// and exits with status 0.
    pub fn from_env(usage: &str) -> CmdLine {
        let cmd = CmdLine::from_args(std::env::args().skip(1));
        if cmd.wants_help() {
            println!("{}", usage.trim_end());
            std::process::exit(0);
        }
        cmd
    }

    /// Wraps the given arguments (the program name excluded).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> CmdLine {
        CmdLine {
            args: args.into_iter().collect(),
        }
    }

    /// Whether `-h` or `--help` was given (before a `--`).
    pub fn wants_help(&self) -> bool {
        self.args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "-h" || a == "--help")
    }

    /// Takes option `name` (e.g. `"--count"`) given as `--count 3` or `--count=3`, parsed as
    /// `T`. `Ok(None)` if absent; the last one wins if repeated; a missing or unparsable
    /// value is a usage error naming the option and the value.
    pub fn value<T>(&mut self, name: &str) -> Result<Option<T>, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        let mut found = None;
        let mut i = 0;
        while i < self.args.len() && self.args[i] != "--" {
            let arg = &self.args[i];
            let text = if *arg == name {
                if i + 1 >= self.args.len() {
                    return Err(Failure::usage(format!("option {name} needs a value")));
                }
                let v = self.args.remove(i + 1);
                self.args.remove(i);
                v
            } else if let Some(v) = arg
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                let v = v.to_owned();
                self.args.remove(i);
                v
            } else {
                i += 1;
                continue;
            };
            let parsed = text
                .parse::<T>()
                .map_err(|e| Failure::usage(format!("bad value {text:?} for {name}: {e}")))?;
            found = Some(parsed);
        }
        Ok(found)
    }

    /// Takes flag `name` (e.g. `"--verbose"`); true if it was given.
    pub fn flag(&mut self, name: &str) -> bool {
        let end = self
            .args
            .iter()
            .position(|a| a == "--")
            .unwrap_or(self.args.len());
        let before = self.args.len();
        let mut i = 0;
        let mut end = end;
        while i < end {
            if self.args[i] == name {
                self.args.remove(i);
                end -= 1;
            } else {
                i += 1;
            }
        }
        self.args.len() != before
    }

    /// Ends option parsing: returns the positional arguments left (a `--` ends options), or
    /// a usage error for an unknown option or more than `max` positional arguments.
    pub fn finish(self, max: usize) -> Result<Vec<String>, Failure> {
        let mut positional = Vec::new();
        let mut options_done = false;
        for arg in self.args {
            if !options_done && arg == "--" {
                options_done = true;
            } else if !options_done && arg.starts_with('-') && arg.len() > 1 {
                return Err(Failure::usage(format!("unknown option {arg:?}")));
            } else {
                positional.push(arg);
            }
        }
        if positional.len() > max {
            return Err(Failure::usage(format!(
                "unexpected argument {:?}",
                positional[max]
            )));
        }
        Ok(positional)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> CmdLine {
        CmdLine::from_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_flags_and_positionals() {
        let mut c = cmd(&["hub://@x", "--count", "3", "--size=9", "-v"]);
        assert_eq!(c.value::<u32>("--count").unwrap(), Some(3));
        assert_eq!(c.value::<u32>("--size").unwrap(), Some(9));
        assert_eq!(c.value::<u32>("--missing").unwrap(), None);
        assert!(c.flag("-v"));
        assert_eq!(c.finish(1).unwrap(), vec!["hub://@x".to_string()]);
    }

    #[test]
    fn errors_name_the_argument() {
        let e = cmd(&["--count", "many"])
            .value::<u32>("--count")
            .unwrap_err();
        assert!(e.to_string().contains("\"many\"") && e.to_string().contains("--count"));
        let e = cmd(&["--count"]).value::<u32>("--count").unwrap_err();
        assert!(e.to_string().contains("needs a value"));
        let e = cmd(&["--bogus"]).finish(1).unwrap_err();
        assert!(e.to_string().contains("--bogus"));
        let e = cmd(&["a", "b"]).finish(1).unwrap_err();
        assert!(e.to_string().contains("\"b\""));
    }

    #[test]
    fn help_and_double_dash() {
        assert!(cmd(&["x", "-h"]).wants_help());
        assert!(!cmd(&["--", "--help"]).wants_help());
        assert_eq!(
            cmd(&["--", "-weird"]).finish(1).unwrap(),
            vec!["-weird".to_string()]
        );
    }
}
