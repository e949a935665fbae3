//! The program's licence and the rule that decides whether a plugin may be loaded, as libioth
//! applies it: no plugin licence, or an LGPL one, always loads; otherwise the program's licence
//! must be compatible (the same, or a GPL version the plugin's `-or-later` admits).

use std::sync::RwLock;

static PROGRAM_LICENSE: RwLock<Option<String>> = RwLock::new(None);

const SPDX_PREFIX: &str = "SPDX-License-Identifier: ";

/// Declares the program's licence (an SPDX expression, optionally with the
/// `SPDX-License-Identifier: ` prefix), checked when a plugin loads. libioth's
/// `ioth_set_license`.
///
/// ```
/// ioth::set_license(Some("SPDX-License-Identifier: GPL-3.0-or-later"));
/// assert_eq!(ioth::license().as_deref(), Some("GPL-3.0-or-later"));
/// // A plugin licensed GPL-2.0-only may no longer be loaded (EPERM); LGPL ones always may.
/// ```
pub fn set_license(spdx: Option<&str>) {
    let mut slot = PROGRAM_LICENSE.write().unwrap_or_else(|e| e.into_inner());
    *slot = spdx.map(|s| strip(s).to_owned());
}

/// The program's licence, if declared.
pub fn license() -> Option<String> {
    PROGRAM_LICENSE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

fn strip(s: &str) -> &str {
    s.strip_prefix(SPDX_PREFIX).unwrap_or(s).trim()
}

/// Whether a plugin under `plugin` may be loaded into a program under `program`.
pub fn allows(program: Option<&str>, plugin: Option<&str>) -> bool {
    let Some(plugin) = plugin.map(strip) else {
        return true;
    };
    if plugin.len() >= 5 && plugin[..5].eq_ignore_ascii_case("LGPL-") {
        return true;
    }
    let Some(program) = program.map(strip) else {
        return false;
    };
    if program.eq_ignore_ascii_case(plugin) {
        return true;
    }
    let any_of = |list: &[&str]| list.iter().any(|l| program.eq_ignore_ascii_case(l));
    const GPL2_PLUS: &[&str] = &[
        "GPL-2.0-only",
        "GPL-3.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0-or-later",
    ];
    if plugin.eq_ignore_ascii_case("GPL-2.0-or-later")
        || plugin.eq_ignore_ascii_case("GPL-2.0-only OR GPL-3.0-only")
    {
        return any_of(GPL2_PLUS);
    }
    if plugin.eq_ignore_ascii_case("GPL-3.0-or-later") {
        return any_of(&["GPL-3.0-only", "GPL-3.0-or-later"]);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn licence_rule_matches_libioth() {
        assert!(allows(None, None));
        assert!(allows(
            None,
            Some("SPDX-License-Identifier: LGPL-2.1-or-later")
        ));
        assert!(!allows(None, Some("GPL-2.0-or-later")));
        assert!(allows(Some("GPL-3.0-only"), Some("GPL-2.0-or-later")));
        assert!(!allows(Some("MIT"), Some("GPL-2.0-or-later")));
        assert!(!allows(Some("GPL-2.0-only"), Some("GPL-3.0-or-later")));
        assert!(allows(Some("mit"), Some("SPDX-License-Identifier: MIT")));
        assert!(!allows(Some("MIT"), Some("Proprietary")));
    }
}
