//! Exact time text from integer ticks (no float accumulation).

/// `ticks / timescale` as a decimal with up to 6 fraction digits, rounded
/// half-up at the microsecond, trailing zeros kept to 3 (`6.000`, `5.9935`).
pub fn seconds_text(ticks: u64, timescale: u32) -> String {
    let ts = u128::from(timescale.max(1));
    let micros = (u128::from(ticks) * 1_000_000 + ts / 2) / ts;
    let whole = micros / 1_000_000;
    let mut frac = format!("{:06}", micros % 1_000_000);
    while frac.len() > 3 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{whole}.{frac}")
}

/// An ISO 8601 duration for MPD attributes: `PT20.000S`, `PT1H2M3.5S`.
pub fn iso8601_duration(ticks: u64, timescale: u32) -> String {
    let ts = u64::from(timescale.max(1));
    let whole = ticks / ts;
    let (h, m) = (whole / 3600, (whole % 3600) / 60);
    let rest = ticks - (h * 3600 + m * 60) * ts;
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}M"));
    }
    out.push_str(&seconds_text(rest, timescale));
    out.push('S');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(seconds_text(288_000, 48_000), "6.000");
        assert_eq!(seconds_text(287_688, 48_000), "5.9935");
        assert_eq!(seconds_text(1, 48_000), "0.000021");
        assert_eq!(seconds_text(44_100 * 3 + 1, 44_100), "3.000023");
    }

    #[test]
    fn iso() {
        assert_eq!(iso8601_duration(960_000, 48_000), "PT20.000S");
        assert_eq!(
            iso8601_duration(48_000 * 3723 + 24_000, 48_000),
            "PT1H2M3.500S"
        );
        assert_eq!(iso8601_duration(48_000 * 120, 48_000), "PT2M0.000S");
    }
}
