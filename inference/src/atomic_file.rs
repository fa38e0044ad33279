//! Files written atomically: to a temporary file beside the target, flushed to disk and renamed
//! over it, so that a crash leaves either the old file or the new one, never a mix.

use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is renamed into place.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Writes `path` atomically with what `write` puts into the (buffered) temporary file. On an
/// error the temporary file is removed and the old file, if any, is left as it was.
pub fn write_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let temporary = partial_path(path);
    let result = (|| {
        let mut writer = BufWriter::new(File::create(&temporary)?);
        write(&mut writer)?;
        writer.flush()?;
        let file = writer.into_inner().map_err(|err| err.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // Make the rename itself durable.
        if let Some(parent) = path.parent()
            && let Ok(directory) = File::open(parent)
        {
            let _ = directory.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |writer| writer.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("picture.png");
        write(&path, b"old").expect("first write");
        let failed = write_with(&path, |writer| {
            writer.write_all(b"half of the new")?;
            Err(io::Error::other("the encoder gave up"))
        });
        assert_eq!(
            failed.expect_err("fails").to_string(),
            "the encoder gave up"
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
        assert!(!partial_path(&path).exists());
        write(&path, b"new").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
    }
}
