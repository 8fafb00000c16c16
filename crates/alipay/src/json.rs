//! `biz_content` as JSON text, in either of the two spellings Alipay's clients send.
//!
//! Alipay parses the JSON, so both are accepted; but the text is what gets signed, so a merchant
//! comparing its output with another SDK's needs the same spelling: the official Node and Java
//! SDKs write raw UTF-8, python-alipay-sdk writes Python's `json.dumps` default
//! (`ensure_ascii=True`): every character outside printable ASCII as `\uXXXX`.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// How `biz_content` spells characters outside printable ASCII.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonText {
    /// Raw UTF-8, as the official SDKs write it (the default).
    #[default]
    Utf8,
    /// `\uXXXX` escapes (surrogate pairs beyond the BMP, DEL included), as python-alipay-sdk writes
    /// it.
    Ascii,
}

/// Compact JSON (no spaces), spelled as `text` says.
pub fn to_string<T: Serialize + ?Sized>(value: &T, text: JsonText) -> serde_json::Result<String> {
    match text {
        JsonText::Utf8 => serde_json::to_string(value),
        JsonText::Ascii => {
            let mut out = Vec::with_capacity(128);
            value.serialize(&mut Serializer::with_formatter(&mut out, AsciiFormatter))?;
            // Only ASCII was written.
            Ok(String::from_utf8(out).expect("ASCII JSON"))
        }
    }
}

/// serde_json's compact output (the trait's defaults), with non-ASCII string content escaped as Python escapes it.
struct AsciiFormatter;

impl Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_matches_pythons_json_dumps() {
        // python3 -c 'import json; print(json.dumps({"n": [1, 2], "s": "课程 a/b \"q\" \\ \x7f\n😀"}, separators=(",", ":")))'
        let value = serde_json::json!({"n": [1, 2], "s": "课程 a/b \"q\" \\ \u{7f}\n😀"});
        assert_eq!(
            to_string(&value, JsonText::Ascii).unwrap(),
            r#"{"n":[1,2],"s":"\u8bfe\u7a0b a/b \"q\" \\ \u007f\n\ud83d\ude00"}"#
        );
        assert_eq!(
            to_string(&value, JsonText::Utf8).unwrap(),
            "{\"n\":[1,2],\"s\":\"课程 a/b \\\"q\\\" \\\\ \u{7f}\\n😀\"}"
        );
    }
}
