//! Text cleanup before CLIP tokenization, matching what the original CLIP tokenizer (and
//! transformers' slow `CLIPTokenizer`) does with `ftfy.fix_text`: HTML entities decoded,
//! mojibake repaired, C1 controls and ligatures replaced, full-width forms narrowed, curly
//! quotes straightened, line breaks unified, control characters removed, NFC — repeated until
//! nothing changes — then whitespace collapsed and the text lower-cased.
//!
//! This implements the fixes ftfy applies to prompts people actually type; ftfy's statistical
//! mojibake detector is reduced to its common case (UTF-8 read as Windows-1252).

use unicode_normalization::UnicodeNormalization as _;

/// Cleans `text` the way CLIP's tokenizer does before splitting it into words.
pub fn clean_prompt(text: &str) -> String {
    // ftfy works line by line and skips HTML unescaping in lines that contain '<'.
    let mut fixed = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        fixed.push_str(&fix_line(line));
    }
    let collapsed = fixed.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.to_lowercase()
}

fn fix_line(line: &str) -> String {
    let unescape = !line.contains('<');
    let mut text = line.to_owned();
    // Each pass may expose more to fix (`&amp;amp;` → `&amp;` → `&`).
    for _ in 0..16 {
        let before = text.clone();
        if unescape {
            text = unescape_html(&text);
        }
        text = fix_mojibake(&text);
        text = fix_c1_controls(&text);
        text = text.chars().flat_map(ligature).collect();
        text = text.chars().flat_map(narrow_width).collect();
        text = text.chars().map(uncurl_quote).collect();
        text = fix_line_breaks(&text);
        text = remove_terminal_escapes(&text);
        text = text.chars().filter(|&c| !is_control(c)).collect();
        text = text.nfc().collect();
        if text == before {
            break;
        }
    }
    text
}

/// Decodes semicolon-terminated HTML entities and character references (`&amp;`, `&#39;`,
/// `&#x2019;`); entities without a semicolon are left alone, as ftfy leaves them.
fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            .char_indices()
            .skip(1)
            .take(40)
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|(index, c)| (index, c == ';'));
        match end {
            Some((index, true)) if index > 1 => {
                let entity = &candidate[..=index];
                let decoded = htmlize::unescape(entity);
                out.push_str(&decoded);
                rest = &candidate[index + 1..];
            }
            _ => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Windows-1252's characters for bytes 0x80–0x9F (None where it has none).
const CP1252_HIGH: [Option<char>; 32] = [
    Some('€'),
    None,
    Some('‚'),
    Some('ƒ'),
    Some('„'),
    Some('…'),
    Some('†'),
    Some('‡'),
    Some('ˆ'),
    Some('‰'),
    Some('Š'),
    Some('‹'),
    Some('Œ'),
    None,
    Some('Ž'),
    None,
    None,
    Some('‘'),
    Some('’'),
    Some('“'),
    Some('”'),
    Some('•'),
    Some('–'),
    Some('—'),
    Some('˜'),
    Some('™'),
    Some('š'),
    Some('›'),
    Some('œ'),
    None,
    Some('ž'),
    Some('Ÿ'),
];

/// The byte a character has in "sloppy" Windows-1252 (undefined bytes map to C1 controls).
fn sloppy_cp1252_byte(c: char) -> Option<u8> {
    let code = c as u32;
    if code < 0x80 || (0xA0..=0xFF).contains(&code) {
        return Some(code as u8);
    }
    if (0x80..0xA0).contains(&code) {
        // A C1 control stands for its own byte where Windows-1252 has no character there.
        let index = (code - 0x80) as usize;
        return CP1252_HIGH[index].is_none().then_some(code as u8);
    }
    CP1252_HIGH
        .iter()
        .position(|&mapped| mapped == Some(c))
        .map(|index| 0x80 + index as u8)
}

/// Repairs UTF-8 text that was decoded as Windows-1252 ("cafÃ©" → "café"): the text is
/// re-encoded and decoded again when that is possible and yields multi-byte characters.
fn fix_mojibake(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let Some(bytes) = text
        .chars()
        .map(sloppy_cp1252_byte)
        .collect::<Option<Vec<u8>>>()
    else {
        return text.to_owned();
    };
    match String::from_utf8(bytes) {
        Ok(decoded) if decoded != text => decoded,
        _ => text.to_owned(),
    }
}

/// C1 control characters read as Windows-1252, as browsers do.
fn fix_c1_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            let code = c as u32;
            if (0x80..0xA0).contains(&code) {
                CP1252_HIGH[(code - 0x80) as usize].unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn ligature(c: char) -> Vec<char> {
    let replacement = match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return vec![c],
    };
    replacement.chars().collect()
}

/// Full-width and half-width forms (U+FF01–U+FFEF) to their usual width, and the ideographic
/// space to a space.
fn narrow_width(c: char) -> Vec<char> {
    match c as u32 {
        0x3000 => vec![' '],
        0xFF01..=0xFFEF => std::iter::once(c).nfkc().collect(),
        _ => vec![c],
    }
}

fn uncurl_quote(c: char) -> char {
    match c {
        '\u{02bc}' | '\u{2018}'..='\u{201b}' => '\'',
        '\u{201c}'..='\u{201f}' => '"',
        _ => c,
    }
}

fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace(['\r', '\u{2028}', '\u{2029}', '\u{0085}'], "\n")
}

/// Removes ANSI terminal escapes (`ESC [ digits/semicolons letter`).
fn remove_terminal_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if c == '\u{1b}' && text[index + 1..].starts_with('[') {
            let tail = &text[index + 2..];
            let body = tail
                .find(|c: char| !(c.is_ascii_digit() || c == ';'))
                .unwrap_or(tail.len());
            if tail[body..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                let skip_to = index + 2 + body + 1;
                while chars.peek().is_some_and(|&(next, _)| next < skip_to) {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The control characters ftfy removes (tab, line feed, form feed and carriage return stay).
fn is_control(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F | 0x206A..=0x206F | 0xFEFF | 0xFFF9..=0xFFFC)
}

#[cfg(test)]
mod tests {
    use super::clean_prompt;

    #[test]
    fn fixes_what_ftfy_fixes() {
        assert_eq!(clean_prompt("salt &amp; pepper"), "salt & pepper");
        assert_eq!(clean_prompt("&amp;amp; &lt;b&gt;"), "& <b>");
        assert_eq!(clean_prompt("cafÃ© â€œquotedâ€\u{9d}"), "café \"quoted\"");
        assert_eq!(clean_prompt("ＦＵＬＬ　ｗｉｄｔｈ"), "full width");
        assert_eq!(clean_prompt("line\u{b}endings\u{c}and"), "lineendings and");
        assert_eq!(clean_prompt("ﬁne  \t café"), "fine café");
        assert_eq!(clean_prompt("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(clean_prompt("keep &not that"), "keep &not that");
    }
}
