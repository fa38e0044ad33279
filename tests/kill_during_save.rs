//! Saving is atomic: a process killed at random moments while it saves a project over and over
//! (100 times) always leaves a file that opens and holds one of the two versions it was
//! writing, never a mix or a broken file.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pentimento::io::ora;

/// A small deterministic generator for the kill moments (the seed is printed for reruns).
struct Moments(u64);

impl Moments {
    fn next_millis(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn a_save_killed_at_any_moment_leaves_a_file_that_opens() {
    let folder = tempfile::tempdir().expect("folder");
    let path = folder.path().join("project.ora");
    let versions = [
        pentimento_tests::save_victim(0),
        pentimento_tests::save_victim(1),
    ];
    let composites: Vec<Vec<u8>> = versions
        .iter()
        .map(|document| document.composite(&document.bounds()).0)
        .collect();
    ora::save(&versions[0], &path).expect("first save");
    // How long one save takes here, so that kills land before, inside and after saves.
    let started = Instant::now();
    ora::save(&versions[0], &path).expect("save");
    let save_millis = (started.elapsed().as_millis() as u64).max(5);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |since| since.as_nanos() as u64);
    println!("kill moments seeded with {seed}; one save takes {save_millis} ms");
    let mut moments = Moments(seed);
    let mut seen = [0_usize; 2];
    for round in 0..100 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_save_forever"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the saving process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "saving");
        std::thread::sleep(Duration::from_millis(moments.next_millis(save_millis * 3)));
        child.kill().expect("kill");
        child.wait().expect("wait");

        let document = ora::open(&path).unwrap_or_else(|err| {
            panic!("round {round} (seed {seed}): the file does not open: {err}")
        });
        let composite = document.composite(&document.bounds()).0;
        let version = composites
            .iter()
            .position(|known| *known == composite)
            .unwrap_or_else(|| {
                panic!("round {round} (seed {seed}): the file holds neither version")
            });
        seen[version] += 1;
    }
    println!(
        "the file held version 0 {} times and version 1 {} times",
        seen[0], seen[1]
    );
}
