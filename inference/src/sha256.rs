//! sha256 of files and streams, written as lower-case hex, as wheels, the Hub's file listings and
//! model fingerprints record it. Also compiled into the build script (with the wheel code).

use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// How much is read at a time.
const CHUNK: usize = 1 << 20;

/// Which side of a hashed copy failed.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source.
    Read(io::Error),
    /// Writing the destination.
    Write(io::Error),
}

/// Copies `reader` into `writer` a chunk at a time, telling `on_chunk` the length of each, and
/// returns the sha256 of the bytes copied.
pub fn copy(
    reader: &mut impl Read,
    writer: &mut impl Write,
    mut on_chunk: impl FnMut(usize),
) -> Result<String, CopyError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; CHUNK];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(CopyError::Read(err)),
        };
        hasher.update(&buffer[..read]);
        on_chunk(read);
        writer
            .write_all(&buffer[..read])
            .map_err(CopyError::Write)?;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The sha256 of bytes in memory.
pub fn of_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The sha256 of a file.
pub fn of_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    copy(&mut file, &mut io::sink(), |_| {}).map_err(|err| match err {
        CopyError::Read(err) | CopyError::Write(err) => err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_it_copies() {
        // sha256("abc"), FIPS 180-2 appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let mut out = Vec::new();
        let mut chunks = Vec::new();
        let digest = copy(&mut &b"abc"[..], &mut out, |n| chunks.push(n)).expect("copies");
        assert_eq!(digest, expected);
        assert_eq!(out, b"abc");
        assert_eq!(chunks, [3]);
        assert_eq!(of_bytes(b"abc"), expected);
    }
}
