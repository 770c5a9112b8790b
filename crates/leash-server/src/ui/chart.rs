//! The actions page's activity chart: bars per day as inline SVG, no script.

/// Days the chart shows.
pub const CHART_DAYS: i64 = 14;

/// Bars per day for applied, proposed, rejected, reverted, as inline SVG.
pub(super) fn chart(days: &[leash_core::report::Day]) -> String {
    let (w, h, bar) = (14 * 4 * 7 + 20, 80, 6);
    let max =
        days.iter().map(|d| d.applied.max(d.proposed).max(d.rejected).max(d.reverted)).max().unwrap_or(0).max(1) as f64;
    let mut out = format!("<svg role=\"img\" aria-label=\"activity over the last {CHART_DAYS} days\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    for (i, d) in days.iter().enumerate() {
        for (j, (v, color)) in
            [(d.applied, "#1f883d"), (d.proposed, "#0969da"), (d.rejected, "#bc4c00"), (d.reverted, "#cf222e")]
                .iter()
                .enumerate()
        {
            let bh = ((*v as f64 / max) * (h as f64 - 14.0)).round();
            let x = i * 4 * (bar + 1) + j * (bar + 1);
            out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{bh}\" fill=\"{color}\"><title>{}: {v}</title></rect>",
                h as f64 - 12.0 - bh,
                d.date
            ));
        }
    }
    out.push_str("</svg>");
    out
}
