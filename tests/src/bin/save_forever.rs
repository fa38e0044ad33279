//! Saves a project over and over, alternating between two versions of a document, until it is
//! killed: the victim of the kill-during-save test (`kill_during_save.rs`).
//!
//! Usage: `save_forever PROJECT.ora`. Prints `saving` once the first save has started.

use std::io::Write as _;

fn main() {
    let path = std::path::PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: save_forever PROJECT.ora"),
    );
    let versions = [
        pentimento_tests::save_victim(0),
        pentimento_tests::save_victim(1),
    ];
    println!("saving");
    let _ = std::io::stdout().flush();
    for turn in 0.. {
        pentimento::io::ora::save(&versions[turn % 2], &path).expect("save");
    }
}
