//! Token ids identical to the reference CLIP tokenizer (transformers' slow `CLIPTokenizer` with
//! ftfy, which is what the original CLIP does) for a varied prompt set: long prompts cut at 77,
//! punctuation, numbers, unicode, emoji, HTML entities, mojibake, full-width text, the empty
//! prompt — for the real SD 1.x vocabulary and for the fixtures' reduced one.

use std::path::PathBuf;

use pentimento_inference::tokenizer::{ClipTokenizer, TokenizerError};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Checks the tokenizer in `tokenizer_dir` against the reference's ids in `cases_file` (both
/// under tests/fixtures/); returns the number of cases.
fn check_cases(tokenizer_dir: &str, cases_file: &str) -> usize {
    let tokenizer = ClipTokenizer::from_folder(&fixtures().join(tokenizer_dir))
        .unwrap_or_else(|err| panic!("{err}"));
    let cases = std::fs::read_to_string(fixtures().join(cases_file)).expect("cases");
    let cases: serde_json::Value = serde_json::from_str(&cases).expect("json");
    let mut failures = Vec::new();
    let cases = cases["cases"].as_array().expect("cases");
    for case in cases {
        let prompt = case["prompt"].as_str().expect("prompt");
        let expected: Vec<i64> = case["slow"]["padded"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|id| id.as_i64().expect("id"))
            .collect();
        let unpadded = case["slow"]["unpadded"].as_array().expect("ids").len();
        let encoded = tokenizer.encode(prompt);
        if encoded.ids != expected {
            failures.push(format!(
                "{prompt:?}:\n  ours   {:?}\n  slow   {:?}",
                encoded.ids, expected
            ));
        }
        assert_eq!(encoded.token_count + 2, unpadded, "{prompt:?} token count");
        assert_eq!(
            encoded.truncated_tokens,
            (unpadded - 2).saturating_sub(75),
            "{prompt:?}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    cases.len()
}

#[test]
fn real_clip_vocabulary_matches_the_reference() {
    let count = check_cases("clip-tokenizer", "clip-tokenizer/cases.json");
    assert!(count >= 40);
}

#[test]
fn reduced_fixture_vocabulary_matches_the_reference() {
    let count = check_cases(
        "models/tiny-sd/tokenizer",
        "models/tiny-sd-tokenizer-cases.json",
    );
    assert!(count >= 40);
}

#[test]
fn a_photo_of_a_cat() {
    let tokenizer =
        ClipTokenizer::from_folder(&fixtures().join("clip-tokenizer")).expect("tokenizer");
    let encoded = tokenizer.encode("a photo of a cat");
    assert_eq!(encoded.ids[..7], [49406, 320, 1125, 539, 320, 2368, 49407]);
    assert_eq!(encoded.ids.len(), 77);
    assert!(encoded.ids[7..].iter().all(|&id| id == 49407));
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::copy(
        fixtures().join("clip-tokenizer/vocab.json"),
        dir.path().join("vocab.json"),
    )
    .expect("copy");
    let err = ClipTokenizer::from_folder(dir.path()).expect_err("merges.txt is missing");
    assert!(
        matches!(
            err,
            TokenizerError::MissingFile {
                file: "merges.txt",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("merges.txt is missing"), "{err}");
}
