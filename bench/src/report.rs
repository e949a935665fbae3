//! Rows of the result table: repeated measurements summarised as min/median/max, printed as a
//! table and written as JSON.

use std::fmt::Write as _;

/// Which way a unit is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Better {
    /// Throughput, rates: more is better; ratio = ours / reference.
    Higher,
    /// Latency, memory: less is better; ratio = reference / ours.
    Lower,
}

/// The repeated samples of one measurement.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples(pub Vec<f64>);

impl Samples {
    /// A single figure (measured once, e.g. memory of 10,000 stacks).
    pub(crate) fn one(v: f64) -> Samples {
        Samples(vec![v])
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.0.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median (the mean of the middle two for an even count); NaN when empty.
    pub(crate) fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// The smallest sample; NaN when empty.
    pub(crate) fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    /// The largest sample; NaN when empty.
    pub(crate) fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    fn is_empty(&self) -> bool {
        self.sorted().is_empty()
    }
}

/// One line of the table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub name: String,
    pub ours: Samples,
    /// Empty when there is no reference (the figure alone).
    pub reference: Samples,
    pub unit: String,
    pub better: Better,
    pub note: String,
    /// The row could not be measured here; `note` says why.
    pub skipped: bool,
}

impl Row {
    /// A measured row.
    pub(crate) fn new(
        name: &str,
        unit: &str,
        better: Better,
        ours: Samples,
        reference: Samples,
        note: impl Into<String>,
    ) -> Row {
        Row {
            name: name.into(),
            ours,
            reference,
            unit: unit.into(),
            better,
            note: note.into(),
            skipped: false,
        }
    }

    /// A row that could not be measured, with the reason.
    pub(crate) fn skipped(name: &str, unit: &str, why: impl Into<String>) -> Row {
        Row {
            name: name.into(),
            ours: Samples::default(),
            reference: Samples::default(),
            unit: unit.into(),
            better: Better::Higher,
            note: format!("SKIPPED: {}", why.into()),
            skipped: true,
        }
    }

    /// Ours against the reference, oriented so that above 1 is better for us.
    pub(crate) fn ratio(&self) -> Option<f64> {
        let (o, r) = (self.ours.median(), self.reference.median());
        if !o.is_finite() || !r.is_finite() || o == 0.0 || r == 0.0 {
            return None;
        }
        Some(match self.better {
            Better::Higher => o / r,
            Better::Lower => r / o,
        })
    }

    /// The note with the ratio's orientation spelled out.
    pub(crate) fn full_note(&self) -> String {
        if self.skipped {
            return self.note.clone();
        }
        let orient = match (self.better, self.reference.is_empty()) {
            (_, true) => "no reference (figure alone)",
            (Better::Higher, false) => "ratio = ours/reference, >1 better for us",
            (Better::Lower, false) => "ratio = reference/ours (lower is better), >1 better for us",
        };
        if self.note.is_empty() {
            orient.to_owned()
        } else {
            format!("{}; {orient}", self.note)
        }
    }
}

/// A number with about four significant digits.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn spread(s: &Samples) -> String {
    if s.is_empty() {
        return "-".into();
    }
    if s.0.len() == 1 {
        return num(s.median());
    }
    format!("{} [{}–{}]", num(s.median()), num(s.min()), num(s.max()))
}

/// The table as Markdown: median with [min–max] of the repeated runs.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| row | ours: median [min–max] | reference: median [min–max] | unit | ratio | note |\n",
    );
    out.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        let ratio = r.ratio().map_or_else(|| "-".into(), |x| format!("{x:.2}"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.name,
            spread(&r.ours),
            spread(&r.reference),
            r.unit,
            ratio,
            r.full_note().replace('|', "/")
        );
    }
    out
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn json_samples(s: &Samples) -> String {
    let v: Vec<String> = s.0.iter().map(|x| json_num(*x)).collect();
    format!("[{}]", v.join(", "))
}

/// The rows as a JSON array of `{"name", "ours", "reference", "unit", "ratio", "note"}`
/// (medians; null where not measured), with the samples and their spread alongside.
pub(crate) fn json(rows: &[Row]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            out,
            "  {{\"name\": {}, \"ours\": {}, \"reference\": {}, \"unit\": {}, \"ratio\": {}, \
             \"note\": {}, \"ours_min\": {}, \"ours_max\": {}, \"reference_min\": {}, \
             \"reference_max\": {}, \"ours_samples\": {}, \"reference_samples\": {}, \
             \"skipped\": {}}}",
            json_str(&r.name),
            json_num(r.ours.median()),
            json_num(r.reference.median()),
            json_str(&r.unit),
            r.ratio().map_or_else(|| "null".into(), json_num),
            json_str(&r.full_note()),
            json_num(r.ours.min()),
            json_num(r.ours.max()),
            json_num(r.reference.min()),
            json_num(r.reference.max()),
            json_samples(&r.ours),
            json_samples(&r.reference),
            r.skipped,
        );
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread_ignore_order() {
        let s = Samples(vec![3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.min(), s.median(), s.max()), (1.0, 2.5, 10.0));
        assert!(Samples::default().median().is_nan());
    }

    #[test]
    fn ratio_is_oriented_so_that_above_one_is_better() {
        let fast = Row::new(
            "a",
            "Gbit/s",
            Better::Higher,
            Samples::one(4.0),
            Samples::one(2.0),
            "",
        );
        assert_eq!(fast.ratio(), Some(2.0));
        let slow = Row::new(
            "b",
            "µs",
            Better::Lower,
            Samples::one(40.0),
            Samples::one(20.0),
            "",
        );
        assert_eq!(slow.ratio(), Some(0.5));
        let alone = Row::new(
            "c",
            "x",
            Better::Higher,
            Samples::one(1.0),
            Samples::default(),
            "",
        );
        assert_eq!(alone.ratio(), None);
    }

    #[test]
    fn json_escapes_and_uses_null_for_missing() {
        let r = Row::skipped("x\"y", "u", "no \\ tool\n");
        let j = json(&[r]);
        assert!(j.contains(r#""name": "x\"y""#), "{j}");
        assert!(j.contains(r#""ours": null"#), "{j}");
        assert!(j.contains(r#"no \\ tool\n"#), "{j}");
    }
}
