//! `leash normalize`: try a format or a mechanical-change rule by hand before
//! trusting it in a policy.

use anyhow::{anyhow, Result};
use leash_core::format::{self, address, DateOrder, Format, FormatOptions};

use crate::cli::Cli;
use crate::{EXIT_DECIDED, EXIT_ERROR, EXIT_REJECTED};

pub fn run(
    cli: &Cli,
    format: &str,
    value: Option<&str>,
    pair: Option<(&str, &str)>,
    (order, region): (Option<&str>, Option<&str>),
) -> Result<u8> {
    let fmt = Format::parse(format)
        .ok_or_else(|| anyhow!("unknown format `{format}`; use one of: {}", Format::NAMES.join(", ")))?;
    let order =
        order.map(|o| DateOrder::parse(o).ok_or_else(|| anyhow!("date order must be mdy or dmy"))).transpose()?;
    let region = region
        .map(|r| {
            let r = r.trim().to_ascii_uppercase();
            match format::phone_region_known(&r) {
                true => Ok(r),
                false => Err(anyhow!(
                    "`{r}` is not a region; use a two-letter country code such as US, DE or GB (the United Kingdom)"
                )),
            }
        })
        .transpose()?;
    let opts = FormatOptions { date_order: order, region: region.as_deref() };
    if let Some((old, new)) = pair {
        let flags = format::mechanical_flags(fmt, "value", old, new, &opts);
        let mechanical = flags.is_empty();
        if cli.json {
            let reasons: Vec<&str> = flags.iter().map(|f| f.reason.as_str()).collect();
            let notes: Vec<&str> = flags.iter().map(|f| f.note.as_str()).collect();
            println!(
                "{}",
                serde_json::json!({"format": fmt, "old": old, "new": new, "mechanical": mechanical,
                    "old_canonical": format::canonical_of(fmt, old, &opts),
                    "new_canonical": format::canonical_of(fmt, new, &opts),
                    "reasons": reasons, "notes": notes})
            );
        } else if mechanical {
            println!("mechanical: the same {} written differently — a direct write", fmt.noun());
        } else {
            println!("review: not a mechanical rewrite");
            for f in &flags {
                println!("  {}: {}", f.reason.as_str(), f.note);
            }
        }
        return Ok(if mechanical { EXIT_DECIDED } else { EXIT_REJECTED });
    }
    let value = value.unwrap_or_default();
    let canonical = format::canonical_in(fmt, value, &opts);
    let parsed = (fmt == Format::UsAddress).then(|| address::parse(value).ok()).flatten();
    if cli.json {
        let zip_states = parsed.as_ref().and_then(|a| a.zip.as_deref()).map(address::zip_states);
        println!(
            "{}",
            serde_json::json!({"format": fmt, "input": value, "canonical": canonical.as_ref().ok(),
                "error": canonical.as_ref().err(), "parse": parsed, "zip_states": zip_states})
        );
    } else {
        match &canonical {
            Ok(c) => println!("{c}"),
            Err(why) => println!("cannot read `{value}` as {}: {why}", fmt.a_value()),
        }
        if let Some(a) = &parsed {
            print_parts(a);
        }
    }
    Ok(if canonical.is_ok() { EXIT_DECIDED } else { EXIT_ERROR })
}

/// Every part the parser read, one line each: both units of `Bldg 3 Rm 101`
/// and the box line of a military or rural address too.
fn print_parts(a: &address::Address) {
    let show = |label: &str, v: Option<String>| {
        if let Some(v) = v {
            println!("  {label:<9} {v}");
        }
    };
    show("number", a.number.clone());
    show("po box", a.po_box.clone());
    show("box line", a.box_line.as_ref().map(|b| b.display()));
    show("predir", a.predir.clone());
    show("street", Some(a.street.join(" ")).filter(|s| !s.is_empty()));
    show("suffix", a.suffix.clone());
    show("postdir", a.postdir.clone());
    for unit in a.units() {
        show("unit", Some(unit.display()));
    }
    show("city", a.city.clone());
    show("state", a.state.clone());
    show(
        "zip",
        a.zip.clone().map(|z| match &a.zip4 {
            Some(p) => format!("{z}-{p} (prefix used by {})", address::zip_states(&z).join("/")),
            None => format!("{z} (prefix used by {})", address::zip_states(&z).join("/")),
        }),
    );
}
