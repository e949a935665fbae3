//! The originals' rc files (`-f FILE`): one `key value` line per option, the key being the
//! option's long name, merged under the command line.
//!
//! Syntax (as otip_rproxy, namedhcp and iothradvd read them, stricter where theirs is
//! silent): blank lines and lines whose first non-blank character is `#` are skipped; a line
//! is a key of letters, digits and `_`, then blanks, then the value (the rest of the line,
//! trailing blanks removed). A key with no value is a flag (`daemon`, `verbose`). Unlike the
//! originals, leading blanks are allowed and every fault names the file and line.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use clap::Command;

/// One option from an rc file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcEntry {
    /// The line it is on (from 1).
    pub line: usize,
    /// The option's long name.
    pub key: String,
    /// Its value; empty for a flag.
    pub value: String,
}

/// Parses rc-file text; `origin` names the file in errors (`ORIGIN:LINE: problem`).
pub fn parse(text: &str, origin: &str) -> Result<Vec<RcEntry>, String> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let key_len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        if key_len == 0 {
            return Err(format!(
                "{origin}:{line}: syntax error: a line starts with an option name, found {trimmed:?}"
            ));
        }
        let (key, rest) = trimmed.split_at(key_len);
        if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
            return Err(format!(
                "{origin}:{line}: syntax error: option name {key:?} must be followed by blanks and a value"
            ));
        }
        entries.push(RcEntry {
            line,
            key: key.to_string(),
            value: rest.trim().to_string(),
        });
    }
    Ok(entries)
}

/// Reads and parses the rc file at `path` (errors name the file).
pub fn read(path: &Path) -> Result<Vec<RcEntry>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("rc file {}: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// The command line `argv` (program name first) with the options of the rc file at `path`
/// placed before the command line's own, ready for `cmd`'s parser.
///
/// Each key must be a long option of `cmd` (not the rc-file option itself); a flag takes no
/// value and an option one value, which must parse as `cmd` would parse it. Errors name the
/// file and line. Build `cmd` with `args_override_self(true)`: then the command line wins for
/// options that take one value, and repeatable options (`ArgAction::Append`) get the rc
/// file's values first, then the command line's.
pub fn merged_args(
    cmd: &Command,
    path: &Path,
    argv: Vec<OsString>,
) -> Result<Vec<OsString>, String> {
    let entries = read(path)?;
    merge_entries(cmd, &entries, &path.display().to_string(), argv)
}

/// [`merged_args`] over entries already parsed; `origin` names the file in errors.
pub fn merge_entries(
    cmd: &Command,
    entries: &[RcEntry],
    origin: &str,
    argv: Vec<OsString>,
) -> Result<Vec<OsString>, String> {
    // A copy of the command in which nothing is required, to check one option at a time.
    let mut lenient = cmd
        .clone()
        .arg_required_else_help(false)
        .mut_args(|a| a.required(false));
    let groups: Vec<String> = cmd.get_groups().map(|g| g.get_id().to_string()).collect();
    for g in groups {
        lenient = lenient.mut_group(g, |g| g.required(false));
    }
    let program = argv
        .first()
        .cloned()
        .unwrap_or_else(|| OsString::from(cmd.get_name()));
    let mut merged = vec![program.clone()];
    for entry in entries {
        let at = |problem: String| format!("{origin}:{}: {}: {problem}", entry.line, entry.key);
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(entry.key.as_str()) || has_alias(a, &entry.key))
        else {
            return Err(at("unknown option".into()));
        };
        let long = arg.get_long().unwrap_or(entry.key.as_str());
        if arg
            .get_value_names()
            .is_some_and(|v| v.iter().any(|n| n == "RCFILE"))
            || matches!(long, "rcfile")
        {
            return Err(at("an rc file cannot name another rc file".into()));
        }
        let flag = format!("--{long}");
        let takes_value = arg.get_action().takes_values();
        let one: Vec<OsString> = if takes_value {
            if entry.value.is_empty() {
                return Err(at("needs a value".into()));
            }
            vec![flag.into(), entry.value.clone().into()]
        } else {
            if !entry.value.is_empty() {
                return Err(at(format!(
                    "is a flag and takes no value (given {:?})",
                    entry.value
                )));
            }
            vec![flag.into()]
        };
        let mut probe = vec![program.clone()];
        probe.extend(one.iter().cloned());
        if let Err(e) = lenient.clone().try_get_matches_from(probe) {
            return Err(at(first_line(&e.to_string())));
        }
        merged.extend(one);
    }
    merged.extend(argv.into_iter().skip(1));
    Ok(merged)
}

/// A program's command line `argv` (program name first) parsed as `C`, with the options of
/// the rc file that `-f`/`--rcfile` names merged under it ([`merged_args`]). A fault in the rc
/// file is `Err` (`FILE:LINE: …`); a command-line fault, `--help` and `--version` end the
/// process as clap does (usage on stderr and exit 2, or the text and exit 0).
pub fn parse_args<C: clap::Parser>(argv: Vec<OsString>) -> Result<C, String> {
    let argv = match find_option(&argv, "rcfile", Some('f')) {
        Some(rc) => merged_args(&C::command(), Path::new(&rc), argv)?,
        None => argv,
    };
    Ok(C::try_parse_from(argv).unwrap_or_else(|e| e.exit()))
}

fn has_alias(arg: &clap::Arg, key: &str) -> bool {
    arg.get_all_aliases()
        .is_some_and(|aliases| aliases.contains(&key))
}

/// The first line of a clap error, without its `error: ` prefix.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text);
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// Whether `args` (no program name) hold `-f`/`--rcfile`-style option `long`/`short`, and its
/// value: a small pre-scan so that a binary finds its rc file before full parsing.
pub fn find_option(args: &[OsString], long: &str, short: Option<char>) -> Option<OsString> {
    let long_eq = format!("--{long}=");
    let long_flag = format!("--{long}");
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == long_flag {
            return it.next().cloned();
        }
        if let Some(v) = s.strip_prefix(&long_eq) {
            return Some(v.into());
        }
        if let Some(c) = short {
            let short_flag = format!("-{c}");
            if s == short_flag {
                return it.next().cloned();
            }
            if let Some(v) = s.strip_prefix(&short_flag)
                && !s.starts_with("--")
            {
                return Some(OsStr::new(v).to_os_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};
    use proptest::prelude::*;

    fn cmd() -> Command {
        Command::new("tool")
            .args_override_self(true)
            .arg(
                Arg::new("rcfile")
                    .long("rcfile")
                    .short('f')
                    .value_name("RCFILE"),
            )
            .arg(
                Arg::new("daemon")
                    .long("daemon")
                    .short('d')
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("period")
                    .long("otip_period")
                    .value_parser(clap::value_parser!(u32)),
            )
            .arg(
                Arg::new("base")
                    .long("base")
                    .alias("baseaddr")
                    .required(true),
            )
            .arg(
                Arg::new("tcp")
                    .long("tcp")
                    .short('t')
                    .action(ArgAction::Append),
            )
    }

    fn strings(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn parses_keys_values_flags_and_comments() {
        let text =
            "# a comment\n\n  daemon\nbase\tfc01::  \ntcp 22,::1,22\n   # indented comment\n";
        let e = parse(text, "rc").expect("parse");
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].line, e[0].key.as_str(), e[0].value.as_str()),
            (3, "daemon", "")
        );
        assert_eq!(
            (e[1].line, e[1].key.as_str(), e[1].value.as_str()),
            (4, "base", "fc01::")
        );
        assert_eq!(e[2].value, "22,::1,22");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("daemon\n=x\n", "f.rc").expect_err("bad");
        assert!(err.starts_with("f.rc:2: syntax error"), "{err}");
        let err = parse("otip-period 3\n", "f.rc").expect_err("bad");
        assert!(err.starts_with("f.rc:1: syntax error"), "{err}");
    }

    #[test]
    fn command_line_wins_and_repeatables_accumulate() {
        let entries = parse(
            "baseaddr fc01::\notip_period 30\ntcp 22,::1,22\ndaemon\n",
            "rc",
        )
        .expect("parse");
        let argv: Vec<OsString> = ["tool", "--otip_period", "16", "-t", "80,::1,8080"]
            .iter()
            .map(OsString::from)
            .collect();
        let merged = merge_entries(&cmd(), &entries, "rc", argv).expect("merge");
        assert_eq!(
            strings(&merged),
            [
                "tool",
                "--base",
                "fc01::",
                "--otip_period",
                "30",
                "--tcp",
                "22,::1,22",
                "--daemon",
                "--otip_period",
                "16",
                "-t",
                "80,::1,8080"
            ]
        );
        let m = cmd().try_get_matches_from(merged).expect("clap");
        assert_eq!(m.get_one::<u32>("period"), Some(&16));
        assert_eq!(
            m.get_one::<String>("base").map(String::as_str),
            Some("fc01::")
        );
        let tcp: Vec<&String> = m.get_many("tcp").expect("tcp").collect();
        assert_eq!(tcp, ["22,::1,22", "80,::1,8080"]);
        assert!(m.get_flag("daemon"));
    }

    #[test]
    fn bad_keys_and_values_name_file_line_and_option() {
        let argv = vec![OsString::from("tool")];
        let check = |text: &str, want: &str| {
            let e = parse(text, "x.rc").expect("parse");
            let err = merge_entries(&cmd(), &e, "x.rc", argv.clone()).expect_err(text);
            assert!(err.starts_with(want), "{text:?}: {err}");
        };
        check("base fc01::\nbogus 1\n", "x.rc:2: bogus: unknown option");
        check("otip_period many\n", "x.rc:1: otip_period: invalid value");
        check("daemon yes\n", "x.rc:1: daemon: is a flag");
        check("base\n", "x.rc:1: base: needs a value");
        check("rcfile other.rc\n", "x.rc:1: rcfile: an rc file cannot");
    }

    #[test]
    fn finds_the_rc_file_option_before_parsing() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            find_option(&a(&["t", "-f", "a.rc"]), "rcfile", Some('f')),
            Some("a.rc".into())
        );
        assert_eq!(
            find_option(&a(&["t", "-fa.rc"]), "rcfile", Some('f')),
            Some("a.rc".into())
        );
        assert_eq!(
            find_option(&a(&["t", "--rcfile=b"]), "rcfile", Some('f')),
            Some("b".into())
        );
        assert_eq!(
            find_option(&a(&["t", "--", "-f", "x"]), "rcfile", Some('f')),
            None
        );
        assert_eq!(find_option(&a(&["t", "-d"]), "rcfile", Some('f')), None);
    }

    proptest! {
        #[test]
        fn any_text_parses_or_names_a_line(text in "\\PC{0,200}") {
            match parse(&text, "p") {
                Ok(entries) => for e in entries {
                    prop_assert!(!e.key.is_empty());
                    prop_assert!(e.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                    prop_assert!(e.line >= 1);
                },
                Err(err) => prop_assert!(err.starts_with("p:")),
            }
        }
    }
}
