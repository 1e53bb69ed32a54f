//! Dates for the Date* condition operators: ISO 8601 or epoch seconds, as milliseconds.
//! Own small code: the domain crate carries no date library.

use crate::records::Millis;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `2019-07-16T12:00:00Z` (seconds, no fraction), the form of aws:CurrentTime.
pub(crate) fn format_iso8601(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses epoch seconds (`1563278400`) or ISO 8601 (`2019-07-16`, `2019-07-16T12:00Z`,
/// `2019-07-16T12:00:00.5+02:00`; no zone means UTC) into epoch milliseconds.
pub(crate) fn parse_date(s: &str) -> Option<Millis> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok()?.checked_mul(1000);
    }
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    if b.len() == 10 {
        return Some(ms);
    }
    if !matches!(b.get(10), Some(b'T') | Some(b't')) {
        return None;
    }
    let (h, mi) = (num(11, 2)?, num(14, 2)?);
    if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    ms += (h * 3600 + mi * 60) * 1000;
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        let sec = num(i + 1, 2)?;
        if sec > 60 {
            return None;
        }
        ms += sec * 1000;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            let mut frac_ms = 0;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                if i - start < 3 {
                    frac_ms = frac_ms * 10 + i64::from(c - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..3 {
                frac_ms *= 10;
            }
            ms += frac_ms;
        }
    }
    match b.get(i) {
        None => Some(ms),
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => Some(ms),
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let om = match (b.get(i + 3), b.len() - i) {
                (Some(b':'), 6) => num(i + 4, 2)?,
                (_, 5) => num(i + 3, 2)?,
                (None, 3) => 0,
                _ => return None,
            };
            let offset = (oh * 3600 + om * 60) * 1000;
            Some(if sign == b'+' {
                ms - offset
            } else {
                ms + offset
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_and_iso_forms_agree() {
        let t = 1_563_278_400_000; // 2019-07-16T12:00:00Z
        assert_eq!(parse_date("1563278400"), Some(t));
        assert_eq!(parse_date("2019-07-16T12:00:00Z"), Some(t));
        assert_eq!(parse_date("2019-07-16T12:00Z"), Some(t));
        assert_eq!(parse_date("2019-07-16T12:00:00"), Some(t));
        assert_eq!(parse_date("2019-07-16T14:00:00+02:00"), Some(t));
        assert_eq!(parse_date("2019-07-16T07:30:00-0430"), Some(t));
        assert_eq!(parse_date("2019-07-16T12:00:00.250Z"), Some(t + 250));
        assert_eq!(parse_date("2019-07-16"), Some(t - 12 * 3_600_000));
    }

    #[test]
    fn invalid_dates_are_refused() {
        for s in [
            "",
            "2019-02-29",
            "2019-13-01",
            "2019-07-16T25:00Z",
            "July 16",
            "2019-07-16Tx",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
        assert!(parse_date("2020-02-29").is_some());
    }

    #[test]
    fn format_round_trips_through_parse() {
        for ms in [0, 951_782_400_000, 1_563_278_400_000, 4_102_444_799_000] {
            assert_eq!(parse_date(&format_iso8601(ms)), Some(ms));
        }
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
    }
}
