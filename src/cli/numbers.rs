//! Value parsers for numeric options that refuse a bad value in words a user reads at a glance
//! (`--batch`: "must be at least 1"), instead of the parser's internals ("0 is not in
//! 1..=256", "number would be zero for non-zero type").

use std::num::NonZeroU32;

/// A whole number from `min` to `max`, as an option of type `T`.
pub fn whole<T>(min: u64, max: u64) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync
where
    T: TryFrom<u64>,
{
    move |text: &str| {
        let number = parse_whole(text, min, max)?;
        T::try_from(number).map_err(|_| format!("must be at most {max}"))
    }
}

/// A positive number of requests or tokens per minute.
pub fn per_minute(text: &str) -> Result<NonZeroU32, String> {
    let number = parse_whole(text, 1, u64::from(u32::MAX))?;
    Ok(u32::try_from(number)
        .ok()
        .and_then(NonZeroU32::new)
        .expect("checked to be from 1 to u32::MAX"))
}

fn parse_whole(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let digits = text.trim();
    let number = match digits.parse::<u64>() {
        Ok(number) => number,
        Err(_) if digits.starts_with('-') && digits[1..].parse::<u64>().is_ok() => {
            return Err(match min {
                0 => "must not be negative".to_string(),
                min => format!("must be at least {min}"),
            });
        }
        Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format!("must be at most {max}"));
        }
        Err(_) => return Err("not a whole number".to_string()),
    };
    if number < min {
        return Err(format!("must be at least {min}"));
    }
    if number > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_in_words() {
        let batch = whole::<u64>(1, 256);
        assert_eq!(batch("16"), Ok(16));
        assert_eq!(batch("0").unwrap_err(), "must be at least 1");
        assert_eq!(batch("-3").unwrap_err(), "must be at least 1");
        assert_eq!(batch("999").unwrap_err(), "must be at most 256");
        assert_eq!(
            batch("99999999999999999999999").unwrap_err(),
            "must be at most 256"
        );
        assert_eq!(batch("abc").unwrap_err(), "not a whole number");
        assert_eq!(batch("1.5").unwrap_err(), "not a whole number");
        let port = whole::<u16>(0, u64::from(u16::MAX));
        assert_eq!(port("70000").unwrap_err(), "must be at most 65535");
        assert_eq!(per_minute("0").unwrap_err(), "must be at least 1");
        assert_eq!(
            whole::<u32>(0, 10)("-1").unwrap_err(),
            "must not be negative"
        );
        assert_eq!(per_minute("50").unwrap().get(), 50);
    }
}
