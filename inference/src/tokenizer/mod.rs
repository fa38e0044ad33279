//! The CLIP tokenizer of Stable Diffusion, on the `tokenizers` crate.
//!
//! Built from the model's `tokenizer/vocab.json` and `merges.txt` (or `tokenizer.json` when
//! present) with the same pipeline transformers uses for CLIP: split into words, letters, digits
//! and punctuation, byte-level BPE with `</w>` marking word ends. The text is cleaned first as
//! the original CLIP tokenizer cleans it (see [`clean`]), so ids match the reference slow
//! tokenizer, not just the fast one. Sequences are `<|startoftext|>`, at most
//! `model_max_length − 2` tokens, `<|endoftext|>`, then padding.

pub mod clean;

use std::path::{Path, PathBuf};

use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{NFC, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

const START_OF_TEXT: &str = "<|startoftext|>";
const END_OF_TEXT: &str = "<|endoftext|>";
/// CLIP's word pattern (transformers' `CLIPTokenizer.pat`, without the special tokens, which
/// the added-token matcher handles).
const CLIP_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// Why the tokenizer cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizerError {
    /// A required file is missing.
    #[error(
        "the tokenizer is incomplete: {file} is missing; copy the model's whole tokenizer/ \
         folder (vocab.json and merges.txt, or tokenizer.json): {}",
        folder.display()
    )]
    MissingFile {
        /// The missing file's name.
        file: &'static str,
        /// The tokenizer folder.
        folder: PathBuf,
    },
    /// A file is present but unusable.
    #[error("the tokenizer file is not valid ({reason}): {}", path.display())]
    Invalid {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
}

/// A tokenized prompt, padded to the model's sequence length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenizedPrompt {
    /// `model_max_length` ids: start, tokens, end, padding.
    pub ids: Vec<i64>,
    /// How many tokens the prompt has (without start and end markers).
    pub token_count: usize,
    /// How many tokens were cut because the prompt is longer than the model reads.
    pub truncated_tokens: usize,
}

/// Stable Diffusion's CLIP tokenizer.
#[derive(derive_more::Debug)]
pub struct ClipTokenizer {
    #[debug(skip)]
    tokenizer: Tokenizer,
    start_id: u32,
    end_id: u32,
    pad_id: u32,
    max_length: usize,
}

impl ClipTokenizer {
    /// Loads the tokenizer from a model's `tokenizer/` folder.
    pub fn from_folder(folder: &Path) -> Result<Self, TokenizerError> {
        let config = read_json_if_present(&folder.join("tokenizer_config.json"))?;
        let special = read_json_if_present(&folder.join("special_tokens_map.json"))?;
        let token_named = |key: &str| -> Option<String> {
            [config.as_ref(), special.as_ref()]
                .into_iter()
                .flatten()
                .find_map(|json| match json.get(key)? {
                    serde_json::Value::String(text) => Some(text.clone()),
                    serde_json::Value::Object(object) => {
                        object.get("content")?.as_str().map(str::to_owned)
                    }
                    _ => None,
                })
        };
        let max_length = config
            .as_ref()
            .and_then(|json| json.get("model_max_length")?.as_u64())
            .filter(|&length| (3..=4096).contains(&length))
            .unwrap_or(77) as usize;

        let tokenizer_json = folder.join("tokenizer.json");
        let mut tokenizer = if tokenizer_json.is_file() {
            Tokenizer::from_file(&tokenizer_json).map_err(|err| TokenizerError::Invalid {
                reason: err.to_string(),
                path: tokenizer_json.clone(),
            })?
        } else {
            Self::from_vocab_and_merges(folder)?
        };
        tokenizer.with_post_processor(None::<tokenizers::processors::PostProcessorWrapper>);
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|err| TokenizerError::Invalid {
                reason: err.to_string(),
                path: folder.to_path_buf(),
            })?;
        tokenizer
            .add_special_tokens([
                AddedToken::from(START_OF_TEXT, true),
                AddedToken::from(END_OF_TEXT, true),
            ])
            .map_err(|err| TokenizerError::Invalid {
                reason: err.to_string(),
                path: folder.to_path_buf(),
            })?;

        let id_of = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| TokenizerError::Invalid {
                    reason: format!("the vocabulary has no {token}"),
                    path: folder.to_path_buf(),
                })
        };
        let start_id = id_of(START_OF_TEXT)?;
        let end_id = id_of(END_OF_TEXT)?;
        let pad_token = token_named("pad_token").unwrap_or_else(|| END_OF_TEXT.to_owned());
        let pad_id = id_of(&pad_token)?;
        Ok(Self {
            tokenizer,
            start_id,
            end_id,
            pad_id,
            max_length,
        })
    }

    fn from_vocab_and_merges(folder: &Path) -> Result<Tokenizer, TokenizerError> {
        let vocab = folder.join("vocab.json");
        let merges = folder.join("merges.txt");
        for (file, path) in [("vocab.json", &vocab), ("merges.txt", &merges)] {
            if !path.is_file() {
                return Err(TokenizerError::MissingFile {
                    file,
                    folder: folder.to_path_buf(),
                });
            }
        }
        let invalid = |reason: String| TokenizerError::Invalid {
            reason,
            path: vocab.clone(),
        };
        let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix("</w>".to_owned())
            .unk_token(END_OF_TEXT.to_owned())
            .build()
            .map_err(|err| invalid(err.to_string()))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer
            .with_normalizer(Some(NormalizerSequence::new(vec![NFC.into()])))
            .map_err(|err| invalid(err.to_string()))?;
        let split = Split::new(
            SplitPattern::Regex(CLIP_PATTERN.to_owned()),
            SplitDelimiterBehavior::Removed,
            true,
        )
        .map_err(|err| invalid(err.to_string()))?;
        tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(vec![
            split.into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        Ok(tokenizer)
    }

    /// The sequence length the text encoder takes (77 for Stable Diffusion).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The tokens of `text` without start/end markers, padding or truncation.
    pub fn tokens(&self, text: &str) -> Vec<u32> {
        let cleaned = clean::clean_prompt(text);
        match self.tokenizer.encode(cleaned.as_str(), false) {
            Ok(encoding) => encoding.get_ids().to_vec(),
            // The pipeline above cannot fail on a valid string; an empty prompt is the safe
            // answer if it ever does.
            Err(_) => Vec::new(),
        }
    }

    /// Tokenizes a prompt as Stable Diffusion's pipelines do: start, at most
    /// `max_length − 2` tokens, end, padding to `max_length`.
    pub fn encode(&self, text: &str) -> TokenizedPrompt {
        let tokens = self.tokens(text);
        let room = self.max_length - 2;
        let kept = tokens.len().min(room);
        let mut ids = Vec::with_capacity(self.max_length);
        ids.push(i64::from(self.start_id));
        ids.extend(tokens[..kept].iter().map(|&id| i64::from(id)));
        ids.push(i64::from(self.end_id));
        ids.resize(self.max_length, i64::from(self.pad_id));
        TokenizedPrompt {
            ids,
            token_count: tokens.len(),
            truncated_tokens: tokens.len() - kept,
        }
    }

    /// The text of token ids (for telling the artist what was cut off).
    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer
            .decode(ids, true)
            .unwrap_or_default()
            .replace("</w>", " ")
            .trim()
            .to_owned()
    }
}

fn read_json_if_present(path: &Path) -> Result<Option<serde_json::Value>, TokenizerError> {
    crate::json_file::read_if_present(path).map_err(|err| TokenizerError::Invalid {
        reason: err.to_string(),
        path: path.to_path_buf(),
    })
}
