//! Log hygiene: values that come from a request are cut before they reach a log line, so a
//! stranger cannot fill the logs (or a terminal) with megabytes of their choosing.

use std::fmt;

/// The most characters of a request value a log line shows.
pub const MAX_CHARS: usize = 200;

/// `value`, cut to [`MAX_CHARS`] characters for a log line (with the full length said).
#[must_use]
pub fn cut(value: &str) -> Cut<'_> {
    Cut(value)
}

/// A value as a log line shows it; see [`cut`].
#[derive(Clone, Copy, Debug)]
pub struct Cut<'a>(&'a str);

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_CHARS) {
            None => f.write_str(self.0),
            Some((end, _)) => write!(f, "{}… ({} bytes)", &self.0[..end], self.0.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_short_ones_kept() {
        assert_eq!(cut("short").to_string(), "short");
        let long = "支".repeat(5000);
        let shown = cut(&long).to_string();
        assert!(shown.chars().count() < MAX_CHARS + 30, "{shown}");
        assert!(shown.ends_with("(15000 bytes)"));
    }
}
