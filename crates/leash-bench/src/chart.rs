//! The journal curve as an SVG: one small panel per figure, journal rows on
//! a log axis, so a flat line is what we want to see.

use std::fmt::Write;

use crate::journal::JournalFigures;

const PANEL_W: f64 = 300.0;
const PANEL_H: f64 = 170.0;
const MARGIN: f64 = 42.0;
const COLUMNS: usize = 3;

type Figure = (&'static str, fn(&JournalFigures) -> f64);

const FIGURES: &[Figure] = &[
    ("call p50 (ms)", |f| f.call_p50_ms),
    ("call p99 (ms)", |f| f.call_p99_ms),
    ("log page (ms)", |f| f.log_page_ms),
    ("revert 1,000-change run (ms)", |f| f.revert_run_1000_ms),
    ("verify (s)", |f| f.verify_s),
    ("report, 30 days (ms)", |f| f.report_ms),
    ("peak RSS (MB)", |f| f.rss_mb),
];

/// Escapes text for an SVG text node.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn svg(title: &str, curve: &[JournalFigures]) -> String {
    let rows = FIGURES.len().div_ceil(COLUMNS);
    let (w, h) = (COLUMNS as f64 * PANEL_W, rows as f64 * PANEL_H + 30.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        out,
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="8" y="18" font-size="14">{}</text>"#,
        esc(title)
    );
    let xs: Vec<f64> = curve.iter().map(|f| (f.rows.max(1) as f64).log10()).collect();
    let (x_min, x_max) = bounds(&xs);
    for (i, (label, get)) in FIGURES.iter().enumerate() {
        let ox = (i % COLUMNS) as f64 * PANEL_W;
        let oy = 30.0 + (i / COLUMNS) as f64 * PANEL_H;
        let ys: Vec<f64> = curve.iter().map(get).collect();
        let y_max = ys.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.15;
        let (px0, px1) = (ox + MARGIN, ox + PANEL_W - 12.0);
        let (py0, py1) = (oy + PANEL_H - 28.0, oy + 18.0);
        let px = |x: f64| px0 + (x - x_min) / (x_max - x_min).max(1e-9) * (px1 - px0);
        let py = |y: f64| py0 - y / y_max * (py0 - py1);
        let _ = write!(out, r#"<text x="{}" y="{}">{}</text>"#, px0, oy + 12.0, esc(label));
        let _ = write!(out, "<path d=\"M{px0} {py1} L{px0} {py0} L{px1} {py0}\" fill=\"none\" stroke=\"#999\"/>");
        let _ = write!(out, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, px0 - 4.0, py1 + 4.0, short(y_max));
        let points: Vec<String> = xs.iter().zip(&ys).map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\"/>",
            points.join(" ")
        );
        for ((x, y), f) in xs.iter().zip(&ys).zip(curve) {
            let _ = write!(out, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#2563eb\"/>", px(*x), py(*y));
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                px(*x),
                py(*y) - 6.0,
                short(*y)
            );
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                px(*x),
                py0 + 14.0,
                rows_label(f.rows)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn bounds(xs: &[f64]) -> (f64, f64) {
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match (min.is_finite(), max > min) {
        (true, true) => (min, max),
        (true, false) => (min - 0.5, min + 0.5),
        _ => (0.0, 1.0),
    }
}

fn short(v: f64) -> String {
    match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

fn rows_label(rows: usize) -> String {
    match rows {
        r if r >= 1_000_000 && r % 1_000_000 == 0 => format!("{}M", r / 1_000_000),
        r if r >= 1_000 => format!("{}k", r / 1_000),
        r => r.to_string(),
    }
}
