//! Start times as YouTube writes them: `90`, `90s`, `1m30s`, `1h2m3s`.

/// Parses a start time to seconds; `None` if it is not one (or overflows).
pub(crate) fn parse_start(value: &str) -> Option<u32> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok();
    }
    let mut total: u32 = 0;
    let mut rest = value;
    let mut last_unit = 0u32; // units must appear in order h, m, s, each once
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u32 = rest[..digits].parse().ok()?;
        let (unit, rank) = match rest.as_bytes().get(digits)? {
            b'h' => (3600, 3),
            b'm' => (60, 2),
            b's' => (1, 1),
            _ => return None,
        };
        if last_unit != 0 && rank >= last_unit {
            return None;
        }
        last_unit = rank;
        total = total.checked_add(number.checked_mul(unit)?)?;
        rest = &rest[digits + 1..];
    }
    (last_unit != 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_start;

    #[test]
    fn youtube_forms() {
        assert_eq!(parse_start("90"), Some(90));
        assert_eq!(parse_start("90s"), Some(90));
        assert_eq!(parse_start("1m30s"), Some(90));
        assert_eq!(parse_start("1h2m3s"), Some(3723));
        assert_eq!(parse_start("2h"), Some(7200));
        assert_eq!(parse_start("1h5s"), Some(3605));
        assert_eq!(parse_start("0"), Some(0));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "s",
            "1x",
            "1m1h",
            "1s1s",
            "1.5",
            "-5",
            "1:30",
            "4294967296",
            "1193047h",
            "m30s",
        ] {
            assert_eq!(parse_start(bad), None, "{bad:?}");
        }
    }
}
