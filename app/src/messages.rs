//! How errors reach people: as sentences. The libraries' messages start in lower case so that
//! they can be embedded; shown on their own they start with a capital.

/// An error message as a sentence (capitalised). No full stop is added: messages end with a path,
/// and a dot would read as part of it.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
