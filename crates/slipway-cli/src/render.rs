//! Human and markdown renderings of the state.

use std::fmt::Write;
use std::path::Path;

use slipway_state::{State, Verdict};

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The `slipway state show` summary.
pub fn human(state: &State, path: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "State {} (format {}{})",
        path.display(),
        state.format,
        state
            .written_by
            .as_deref()
            .map(|w| format!(", written by {w}"))
            .unwrap_or_default()
    );
    if let Some(run) = &state.run {
        let mut parts = vec![format!("{:?}", run.ci).to_lowercase()];
        parts.extend(run.repository.clone());
        parts.extend(run.git_ref.clone());
        parts.extend(
            run.commit
                .as_deref()
                .map(|c| c.chars().take(12).collect::<String>()),
        );
        parts.extend(run.run_id.as_deref().map(|r| format!("run {r}")));
        let _ = writeln!(s, "Run: {}", parts.join(" "));
    }
    if state.images.is_empty() {
        let _ = writeln!(s, "Images: none");
    } else {
        let _ = writeln!(s, "Images:");
    }
    for (name, img) in &state.images {
        let head = match &img.index {
            Some(d) => format!("{} (index, {} platform(s))", d.digest, img.platforms.len()),
            None => format!("{} platform(s), no index", img.platforms.len()),
        };
        let _ = writeln!(s, "  {name}  {head}");
        if let Some(l) = &img.layout {
            let _ = writeln!(s, "    layout {l}");
        }
        if let Some(b) = &img.base {
            let _ = writeln!(
                s,
                "    base {}{}",
                b.name,
                b.digest
                    .as_ref()
                    .map(|d| format!("@{d}"))
                    .unwrap_or_default()
            );
        }
        for (p, pi) in &img.platforms {
            let _ = writeln!(
                s,
                "    {:<16} {}  {}",
                p.to_string(),
                pi.manifest.digest,
                human_size(pi.manifest.size)
            );
        }
    }
    for scan in &state.scans {
        let c = scan.counts;
        let _ = writeln!(
            s,
            "Scan {} {}: {} (critical {}, high {}, medium {}, low {}, unknown {})",
            scan.digest.short(),
            scan.scanner,
            verdict(scan.verdict),
            c.critical,
            c.high,
            c.medium,
            c.low,
            c.unknown
        );
    }
    for sig in &state.signatures {
        let _ = writeln!(
            s,
            "Signed {} ({:?}) -> {}",
            sig.digest.short(),
            sig.mode,
            sig.tag
        );
    }
    for att in &state.attestations {
        let _ = writeln!(
            s,
            "Attested {} {} -> {}",
            att.digest.short(),
            att.predicate_type,
            att.tag
        );
    }
    for v in &state.verifications {
        let _ = writeln!(
            s,
            "Verified {} at {}: {}",
            v.digest.short(),
            v.location,
            if v.verified { "ok" } else { "FAILED" }
        );
    }
    for p in &state.pushes {
        let tags: Vec<&str> = p.tags.iter().map(|t| t.as_str()).collect();
        let _ = writeln!(
            s,
            "Pushed {}@{} tags [{}]",
            p.repository,
            p.digest,
            tags.join(", ")
        );
    }
    for p in &state.promotions {
        let targets: Vec<String> = p.targets.iter().map(|t| t.repository.to_string()).collect();
        let _ = writeln!(
            s,
            "{} {} -> {}",
            if p.rollback {
                "Rolled back to"
            } else {
                "Promoted"
            },
            p.digest.short(),
            targets.join(", ")
        );
    }
    for r in &state.runners {
        let _ = writeln!(
            s,
            "Runner {} {}",
            r.fingerprint.short(),
            match r.allowed {
                Some(true) => "allowed",
                Some(false) => "NOT allowed",
                None => "(no policy)",
            }
        );
    }
    if !state.steps.is_empty() {
        let _ = writeln!(s, "Steps:");
        for st in &state.steps {
            let _ = writeln!(
                s,
                "  {:<10} {:<7} {}{}",
                st.step.name(),
                format!("{:?}", st.outcome).to_lowercase(),
                st.finished.format("%Y-%m-%dT%H:%M:%SZ"),
                st.summary
                    .as_deref()
                    .map(|x| format!("  {x}"))
                    .unwrap_or_default()
            );
        }
    }
    s.trim_end().to_owned()
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
    }
}

/// Escapes text for a markdown table cell.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

/// A markdown table of the images, under `title`.
pub fn markdown_images(state: &State, title: &str) -> String {
    let mut s = format!("### {title}\n\n");
    if state.images.is_empty() {
        s.push_str("No images.\n");
        return s;
    }
    s.push_str("| Image | Platform | Digest | Size |\n|---|---|---|---|\n");
    for (name, img) in &state.images {
        if let Some(d) = &img.index {
            let _ = writeln!(
                s,
                "| {} | index | `{}` | {} |",
                md_cell(name),
                d.digest,
                human_size(d.size)
            );
        }
        for (p, pi) in &img.platforms {
            let _ = writeln!(
                s,
                "| {} | {p} | `{}` | {} |",
                md_cell(name),
                pi.manifest.digest,
                human_size(pi.manifest.size)
            );
        }
    }
    s
}

/// The whole state as markdown (`slipway state show --summary`).
pub fn markdown(state: &State) -> String {
    let mut s = markdown_images(state, "Slipway");
    if !state.steps.is_empty() {
        s.push_str("\n| Step | Outcome | Finished | Summary |\n|---|---|---|---|\n");
        for st in &state.steps {
            let _ = writeln!(
                s,
                "| {} | {:?} | {} | {} |",
                st.step.name(),
                st.outcome,
                st.finished.format("%Y-%m-%d %H:%M:%S"),
                md_cell(st.summary.as_deref().unwrap_or(""))
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn cells() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b<br>c");
    }
}
