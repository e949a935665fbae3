//! The search list: which absolute names a name given by a user stands for, in order.

use hickory_proto::rr::Name;

/// `name` made absolute (fully qualified).
pub(crate) fn absolute(name: &Name) -> Name {
    let mut n = name.clone();
    n.set_fqdn(true);
    n
}

/// The absolute names to try for `name`, in order (glibc's rules): a trailing dot means the
/// name only; with at least `ndots` dots the name first, then with each search domain; with
/// fewer, the search domains first, then the name. An error says why `name` is no name.
pub(crate) fn candidates(name: &str, search: &[Name], ndots: u8) -> Result<Vec<Name>, String> {
    if name.is_empty() || name == "." {
        return Err("empty name".into());
    }
    let parsed = Name::from_utf8(name).map_err(|e| e.to_string())?;
    if parsed.is_fqdn() {
        return Ok(vec![parsed]);
    }
    let as_given = absolute(&parsed);
    let dots = name.matches('.').count();
    let mut out = Vec::new();
    if dots >= usize::from(ndots) {
        out.push(as_given.clone());
    }
    for domain in search {
        if let Ok(n) = parsed.clone().append_domain(domain)
            && !out.contains(&n)
        {
            out.push(absolute(&n));
        }
    }
    if !out.contains(&as_given) {
        out.push(as_given);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("valid")
    }

    fn texts(v: Vec<Name>) -> Vec<String> {
        v.iter().map(Name::to_ascii).collect()
    }

    #[test]
    fn search_list_follows_ndots_and_the_trailing_dot() {
        let search = [n("a.test."), n("b.test.")];
        assert_eq!(
            texts(candidates("web", &search, 1).expect("valid")),
            ["web.a.test.", "web.b.test.", "web."]
        );
        assert_eq!(
            texts(candidates("web.x", &search, 1).expect("valid")),
            ["web.x.", "web.x.a.test.", "web.x.b.test."]
        );
        assert_eq!(
            texts(candidates("web.x", &search, 2).expect("valid")),
            ["web.x.a.test.", "web.x.b.test.", "web.x."]
        );
        assert_eq!(
            texts(candidates("web.", &search, 1).expect("valid")),
            ["web."]
        );
        assert!(candidates("", &search, 1).is_err());
        assert!(candidates("a..b", &search, 1).is_err());
    }
}
