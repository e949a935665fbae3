//! A small command-line reader: `--help`/`-h`, `--name VALUE` / `--name=VALUE` options and
//! positional arguments, with errors that name the offending argument.
//!
//! Arguments are taken as the system gives them ([`OsString`]): one that is not UTF-8 is a
//! usage error naming it, never a panic.

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::os::unix::ffi::OsStrExt;
use std::str::FromStr;

use crate::failure::Failure;

/// The arguments of a program, consumed option by option.
#[derive(Debug, Clone)]
pub struct CmdLine {
    args: Vec<OsString>,
}

/// Whether a separate argument looks like an option rather than an option's value: `--`, or
/// `--` followed by a name. (`-1` stays a value, so that a negative number is reported as a
/// bad value of its option.)
fn looks_like_option(arg: &OsStr) -> bool {
    arg.as_bytes().starts_with(b"--")
}

impl CmdLine {
    /// Reads the process arguments (non-UTF-8 ones included). On `-h` or `--help` anywhere it
    /// prints `usage` to stdout and exits with status 0.
    pub fn from_env(usage: &str) -> CmdLine {
        let cmd = CmdLine::from_args(std::env::args_os().skip(1));
        if cmd.wants_help() {
            println!("{}", usage.trim_end());
            std::process::exit(0);
        }
        cmd
    }

    /// Wraps the given arguments (the program name excluded).
    pub fn from_args<S: Into<OsString>>(args: impl IntoIterator<Item = S>) -> CmdLine {
        CmdLine {
            args: args.into_iter().map(Into::into).collect(),
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
    /// `T`. `Ok(None)` if absent; the last one wins if repeated. A usage error names the
    /// option and the value when the value is missing (the option ends the command line, or
    /// is followed by `--` or another `--option`: write `--name=--value` for such a value),
    /// is not UTF-8, or does not parse.
    pub fn value<T>(&mut self, name: &str) -> Result<Option<T>, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        let mut found = None;
        let mut i = 0;
        while i < self.args.len() && self.args[i] != "--" {
            let arg = &self.args[i];
            let text = if *arg == *name {
                let Some(next) = self.args.get(i + 1) else {
                    return Err(Failure::usage(format!("option {name} needs a value")));
                };
                if looks_like_option(next) {
                    return Err(Failure::usage(format!(
                        "option {name} needs a value, but {next:?} follows it (write \
                         {name}={} if that is the value)",
                        next.to_string_lossy()
                    )));
                }
                let v = self.args.remove(i + 1);
                self.args.remove(i);
                v
            } else if let Some(v) = arg
                .as_bytes()
                .strip_prefix(name.as_bytes())
                .and_then(|rest| rest.strip_prefix(b"="))
            {
                let v = OsStr::from_bytes(v).to_owned();
                self.args.remove(i);
                v
            } else {
                i += 1;
                continue;
            };
            let text = text.into_string().map_err(|bad| {
                Failure::usage(format!("bad value {bad:?} for {name}: not valid UTF-8"))
            })?;
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
            if self.args[i] == *name {
                self.args.remove(i);
                end -= 1;
            } else {
                i += 1;
            }
        }
        self.args.len() != before
    }

    /// Ends option parsing: returns the positional arguments left (a `--` ends options), or
    /// a usage error for an unknown option, a positional argument that is not UTF-8, or more
    /// than `max` positional arguments.
    pub fn finish(self, max: usize) -> Result<Vec<String>, Failure> {
        let mut positional = Vec::new();
        let mut options_done = false;
        for arg in self.args {
            if !options_done && arg == "--" {
                options_done = true;
            } else if !options_done && arg.as_bytes().starts_with(b"-") && arg.len() > 1 {
                return Err(Failure::usage(format!("unknown option {arg:?}")));
            } else if positional.len() >= max {
                return Err(Failure::usage(format!("unexpected argument {arg:?}")));
            } else {
                positional.push(arg.into_string().map_err(|bad| {
                    Failure::usage(format!("bad argument {bad:?}: not valid UTF-8"))
                })?);
            }
        }
        Ok(positional)
    }
}

/// A port to listen on or send to: 1..=65535 (port 0 would let the stack pick one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

impl FromStr for Port {
    type Err = String;
    fn from_str(s: &str) -> Result<Port, String> {
        match s.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{s:?} is not a port number 1..=65535")),
            Ok(p) => Ok(Port(p)),
        }
    }
}

/// A count that must be at least 1 (`--count 0` is a usage error, not "do nothing").
pub fn at_least_one(name: &str, n: Option<usize>) -> Result<Option<usize>, Failure> {
    if n == Some(0) {
        return Err(Failure::usage(format!("{name} 0: must be at least 1")));
    }
    Ok(n)
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
    fn non_utf8_and_missing_values_are_usage_errors() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0xff, 0xfe]);
        let mut eq = OsString::from("--name=");
        eq.push(bad());
        for args in [vec![OsString::from("--name"), bad()], vec![eq]] {
            let e = CmdLine::from_args(args)
                .value::<String>("--name")
                .unwrap_err();
            assert!(matches!(e, Failure::Usage(_)), "{e}");
            assert!(
                e.to_string().contains("--name") && e.to_string().contains(r"\xFF\xFE"),
                "{e}"
            );
        }
        let e = CmdLine::from_args([bad()]).finish(1).unwrap_err();
        assert!(e.to_string().contains(r"\xFF\xFE"), "{e}");
        let e = cmd(&["--name", "--port", "5000"])
            .value::<String>("--name")
            .unwrap_err();
        assert!(
            e.to_string().contains("--name needs a value") && e.to_string().contains("--port"),
            "{e}"
        );
        assert_eq!(
            cmd(&["--name=--port"]).value::<String>("--name").unwrap(),
            Some("--port".to_string())
        );
        let e = cmd(&["--port", "0"]).value::<Port>("--port").unwrap_err();
        assert!(e.to_string().contains("\"0\" is not a port"), "{e}");
        assert_eq!(
            cmd(&["--port", "65535"]).value::<Port>("--port").unwrap(),
            Some(Port(65535))
        );
        assert!(cmd(&["--port=70000"]).value::<Port>("--port").is_err());
        assert!(at_least_one("--count", Some(0)).is_err());
        assert_eq!(at_least_one("--count", Some(2)).unwrap(), Some(2));
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
