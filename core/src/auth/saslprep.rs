//! SASLprep (RFC 4013, the stringprep profile of RFC 3454) with the Unicode
//! normalisation supplied by the host.
//!
//! The `saslprep` cargo feature does SASLprep with the `stringprep` crate,
//! whose NFKC and bidirectional-class tables are over 100 KB of a `.wasm`.
//! Every JS runtime already carries NFKC (`String.prototype.normalize`), so
//! the npm package's wasm build leaves the feature out and installs the JS
//! normaliser here ([`set_nfkc`]); this module keeps only the small parts of
//! the profile: the mapping (§2.1), the prohibited output (§2.3), the
//! bidirectional rule (§2.4) and the unassigned code points (§2.5), with the
//! sets in `saslprep_tables`. The result is the `stringprep` crate's, for
//! every password (tests: `matches_stringprep_*`), as long as the host's NFKC
//! is Unicode's (it is the same function; only a character that is newer
//! than the host's Unicode version and has a compatibility decomposition
//! could normalise differently).

use std::sync::OnceLock;

use super::saslprep_tables::{L_CAT, RAND_AL_CAT, UNASSIGNED};

/// A Unicode NFKC normaliser (`fn(s) -> NFKC(s)`).
pub type Nfkc = fn(&str) -> String;

static NFKC: OnceLock<Nfkc> = OnceLock::new();

/// Installs the host's NFKC normaliser for SCRAM passwords (the wasm crate
/// installs JS's `normalize("NFKC")`). The first one installed stays; returns
/// whether this one was installed. Without one (and without the `saslprep`
/// feature) a non-ASCII password is used as its raw UTF-8 bytes.
pub fn set_nfkc(nfkc: Nfkc) -> bool {
    NFKC.set(nfkc).is_ok()
}

/// SASLprep of `s` with the installed normaliser: `None` when SASLprep fails
/// (prohibited output, bidirectional rule, unassigned code point) or when `s`
/// is not ASCII and no normaliser is installed; the caller then uses the raw
/// bytes, as PostgreSQL does.
#[cfg_attr(feature = "saslprep", allow(dead_code))]
pub(crate) fn saslprep(s: &str) -> Option<String> {
    if let Some(ascii) = ascii_fast_path(s) {
        return ascii;
    }
    saslprep_with(s, *NFKC.get()?)
}

/// ASCII needs no tables: unchanged unless it has a control character.
fn ascii_fast_path(s: &str) -> Option<Option<String>> {
    if !s.is_ascii() {
        return None;
    }
    Some(if s.bytes().any(|b| b < 0x20 || b == 0x7f) { None } else { Some(s.to_owned()) })
}

/// The profile with a given normaliser (the steps of RFC 4013 §2, in order).
#[cfg_attr(feature = "saslprep", allow(dead_code))]
pub(crate) fn saslprep_with(s: &str, nfkc: Nfkc) -> Option<String> {
    if let Some(ascii) = ascii_fast_path(s) {
        return ascii;
    }
    // 2.1 Mapping: non-ASCII spaces to SPACE, table B.1 to nothing. U+200B
    // is in both tables: it becomes a SPACE, as in PostgreSQL and `stringprep`.
    let mapped: String =
        s.chars().map(|c| if non_ascii_space(c) { ' ' } else { c }).filter(|&c| !mapped_to_nothing(c)).collect();
    // 2.2 Normalisation.
    let normalized = nfkc(&mapped);
    // 2.3 Prohibited output.
    if normalized.chars().any(prohibited) {
        return None;
    }
    // 2.4 Bidirectional characters (RFC 3454 §6): with any RandALCat, no LCat,
    // and RandALCat first and last.
    if normalized.chars().any(rand_al_cat) {
        let first = normalized.chars().next().is_some_and(rand_al_cat);
        let last = normalized.chars().next_back().is_some_and(rand_al_cat);
        if normalized.chars().any(l_cat) || !first || !last {
            return None;
        }
    }
    // 2.5 Unassigned code points (stored strings: prohibited).
    if normalized.chars().any(unassigned) {
        return None;
    }
    Some(normalized)
}

/// Table B.1: commonly mapped to nothing.
fn mapped_to_nothing(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{34F}' | '\u{1806}' | '\u{180B}'..='\u{180D}' | '\u{200B}'..='\u{200D}' | '\u{2060}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}')
}

/// Table C.1.2: non-ASCII space characters.
fn non_ascii_space(c: char) -> bool {
    matches!(c, '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200B}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

/// RFC 4013 §2.3: tables C.1.2, C.2.1, C.2.2, C.3, C.4, C.5 (no `char` is a
/// surrogate), C.6, C.7, C.8 and C.9.
fn prohibited(c: char) -> bool {
    non_ascii_space(c)
        || matches!(c,
            // C.2.1 and C.2.2: control characters.
            '\0'..='\u{1F}' | '\u{7F}'..='\u{9F}' | '\u{6DD}' | '\u{70F}' | '\u{180E}' | '\u{200C}' | '\u{200D}'
            | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2063}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFC}' | '\u{1D173}'..='\u{1D17A}'
            // C.3: private use.
            | '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}'
            // C.6 (the rest of it), C.7 and C.8.
            | '\u{FFFD}' | '\u{2FF0}'..='\u{2FFB}' | '\u{340}' | '\u{341}' | '\u{200E}' | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            // C.9: tagging characters.
            | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
        // C.4: non-characters (U+FDD0..U+FDEF and the last two of every plane).
        || matches!(c, '\u{FDD0}'..='\u{FDEF}')
        || (c as u32) & 0xFFFE == 0xFFFE
}

/// Whether `c` is in the set whose boundaries `deltas` describes (see
/// `saslprep_tables`). A linear walk: a password is short, a table < 800 entries.
fn in_set(deltas: &[u16], c: char) -> bool {
    let (mut at, mut inside) = (0u32, false);
    for &d in deltas {
        at += u32::from(d);
        if at > c as u32 {
            break;
        }
        inside = !inside;
    }
    inside
}

fn unassigned(c: char) -> bool {
    in_set(&UNASSIGNED, c)
}

fn rand_al_cat(c: char) -> bool {
    in_set(&RAND_AL_CAT, c)
}

fn l_cat(c: char) -> bool {
    in_set(&L_CAT, c)
}

#[cfg(all(test, feature = "saslprep"))]
mod tests {
    use super::*;
    use stringprep::tables as t;
    use unicode_normalization::UnicodeNormalization;

    fn nfkc(s: &str) -> String {
        s.nfkc().collect()
    }

    fn reference(s: &str) -> Option<String> {
        stringprep::saslprep(s).ok().map(|c| c.into_owned())
    }

    fn stringprep_prohibited(c: char) -> bool {
        t::non_ascii_space_character(c)
            || t::ascii_control_character(c)
            || t::non_ascii_control_character(c)
            || t::private_use(c)
            || t::non_character_code_point(c)
            || t::inappropriate_for_plain_text(c)
            || t::inappropriate_for_canonical_representation(c)
            || t::change_display_properties_or_deprecated(c)
            || t::tagging_character(c)
    }

    fn all_chars() -> impl Iterator<Item = char> {
        (0..=0x10FFFFu32).filter_map(char::from_u32)
    }

    #[test]
    fn tables_match_stringprep() {
        for c in all_chars() {
            assert_eq!(mapped_to_nothing(c), t::commonly_mapped_to_nothing(c), "B.1 {c:?}");
            assert_eq!(non_ascii_space(c), t::non_ascii_space_character(c), "C.1.2 {c:?}");
            let p = stringprep_prohibited(c);
            assert_eq!(prohibited(c), p, "prohibited {c:?}");
            if p {
                continue; // don't care: the string fails whatever the tables say
            }
            assert_eq!(unassigned(c), t::unassigned_code_point(c), "A.1 {c:?}");
            if t::unassigned_code_point(c) {
                continue;
            }
            assert_eq!(rand_al_cat(c), t::bidi_r_or_al(c), "D.1 {c:?}");
            assert_eq!(l_cat(c), t::bidi_l(c), "D.2 {c:?}");
        }
    }

    /// Passwords where SASLprep maps, normalises, rejects or keeps.
    const INTERESTING: &[&str] = &[
        "",
        "pencil",
        "p a=s,s~!",
        "a\u{7}b",                // ASCII control: prohibited
        "\u{7f}",                 // DEL: prohibited
        "pen\u{AD}cil",           // soft hyphen: mapped to nothing
        "I\u{AD}X",               // RFC 4013's example: "IX"
        "\u{2168}",               // ROMAN NUMERAL NINE → "IX"
        "\u{AA}",                 // FEMININE ORDINAL → "a"
        "user\u{A0}name",         // NO-BREAK SPACE → " "
        "a\u{3000}b\u{2003}c",    // ideographic and em spaces
        "x\u{200B}y",             // ZERO WIDTH SPACE: a space (in C.1.2 and B.1)
        "\u{FB01}ne",             // "ﬁ" ligature → "fi"
        "ｐａｓｓ１２３",         // fullwidth → ASCII
        "pässwörd",               // precomposed: unchanged
        "pa\u{308}sswo\u{308}rd", // decomposed: composed by NFKC
        "Ångström ℃ ㎏",
        "日本語のパスワード",
        "ﾊﾟｽﾜｰﾄﾞ",                  // halfwidth katakana → composed fullwidth
        "한국어\u{1100}\u{1161}", // Hangul syllables and jamo
        "пароль",
        "ελληνικά",
        "\u{5D0}\u{5D1}\u{5D2}",        // Hebrew: RandALCat only
        "\u{5D0}a\u{5D1}",              // RandALCat with LCat: prohibited
        "\u{5D0}1",                     // RandALCat not last: prohibited
        "1\u{5D0}",                     // RandALCat not first: prohibited
        "\u{627}\u{644}\u{633}\u{631}", // Arabic
        "\u{627}1\u{628}",              // Arabic, digit inside
        "\u{1}\u{5D0}",
        "\u{E000}",  // private use: prohibited
        "a\u{FFFD}", // replacement character: prohibited
        "\u{FDD0}",  // non-character
        "\u{1FFFE}",
        "\u{E0041}",          // tag character
        "a\u{221}",           // unassigned in Unicode 3.2
        "\u{1F600}",          // emoji: unassigned in Unicode 3.2
        "\u{1D400}\u{1D41A}", // mathematical bold: → "Aa"
        "\u{2FF0}",           // ideographic description: prohibited
        "\u{340}a",           // deprecated combining mark
        "\u{301}a",           // leading combining mark: allowed by SASLprep
        "\u{200E}abc",        // LRM: prohibited
        "\u{2126}",           // OHM SIGN → Ω
        "\u{1E9B}\u{323}",    // the Unicode NFKC test's long s with dots
        "x\u{FE0F}",          // variation selector: mapped to nothing
        "a\u{2060}b",         // WORD JOINER: mapped to nothing
        "\u{2000}",           // only a space
        "\u{20000}\u{2F800}", // CJK extension B and compatibility ideograph
    ];

    #[test]
    fn matches_stringprep_on_interesting_passwords() {
        for s in INTERESTING {
            assert_eq!(saslprep_with(s, nfkc), reference(s), "{s:?}");
        }
        // A sample of the outcomes, so the comparison is not vacuous.
        assert_eq!(saslprep_with("I\u{AD}X", nfkc).as_deref(), Some("IX"));
        assert_eq!(saslprep_with("\u{2168}", nfkc).as_deref(), Some("IX"));
        assert_eq!(saslprep_with("user\u{A0}name", nfkc).as_deref(), Some("user name"));
        assert_eq!(saslprep_with("\u{5D0}a\u{5D1}", nfkc), None);
        assert_eq!(saslprep_with("a\u{221}", nfkc), None);
    }

    #[test]
    fn matches_stringprep_on_every_code_point_in_context() {
        // Every scalar value after an LCat letter and before a RandALCat one:
        // exercises each table entry, the mapping and normalisation of every
        // character, and both halves of the bidirectional rule.
        let mut s = String::new();
        for c in all_chars() {
            for (pre, post) in [("a", ""), ("", "\u{5D0}")] {
                s.clear();
                s.push_str(pre);
                s.push(c);
                s.push_str(post);
                assert_eq!(saslprep_with(&s, nfkc), reference(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn without_a_normaliser_non_ascii_is_not_prepared() {
        // No test installs one. ASCII needs none; anything else is left alone
        // (the caller then uses the raw bytes).
        assert_eq!(saslprep("pencil").as_deref(), Some("pencil"));
        assert_eq!(saslprep("a\u{7}b"), None);
        assert_eq!(saslprep("pen\u{AD}cil"), None);
    }

    /// Prints `saslprep_tables.rs`'s sets from the `stringprep` crate:
    /// `cargo test -p edgepg-core --lib print_tables -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn print_tables() {
        fn bounds(f: impl Fn(char) -> Option<bool>) -> Vec<u32> {
            let (mut out, mut inside) = (Vec::new(), false);
            for c in all_chars() {
                if let Some(v) = f(c) {
                    if v != inside {
                        out.push(c as u32);
                        inside = v;
                    }
                }
            }
            out
        }
        let dont_care = |c: char| stringprep_prohibited(c) || t::unassigned_code_point(c);
        let sets = [
            ("UNASSIGNED", bounds(|c| (!stringprep_prohibited(c)).then(|| t::unassigned_code_point(c)))),
            ("RAND_AL_CAT", bounds(|c| (!dont_care(c)).then(|| t::bidi_r_or_al(c)))),
            ("L_CAT", bounds(|c| (!dont_care(c)).then(|| t::bidi_l(c)))),
        ];
        for (name, b) in sets {
            let deltas: Vec<u32> = b.iter().scan(0, |prev, &x| Some(x - std::mem::replace(prev, x))).collect();
            assert!(deltas.iter().all(|&d| d <= 0xFFFF), "{name}: a distance does not fit 16 bits");
            println!("pub(super) const {name}: [u16; {}] = [", deltas.len());
            for chunk in deltas.chunks(16) {
                let line: Vec<String> = chunk.iter().map(|x| x.to_string()).collect();
                println!("    {},", line.join(", "));
            }
            println!("];");
        }
    }
}
