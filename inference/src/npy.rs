//! Reading and writing NumPy `.npy` files: initial noise in, final latents out.

use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyError, ReadNpyExt as _, WriteNpyExt as _};

/// Why a `.npy` file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The file could not be opened or read.
    #[error("could not read the .npy file ({source}): {}", path.display())]
    Read {
        /// The operating system's error.
        source: std::io::Error,
        /// The file.
        path: std::path::PathBuf,
    },
    /// The file is not a valid float32/float64 `.npy` array.
    #[error(
        "this is not a usable .npy array ({reason}); save a float32 or float64 array with \
         numpy.save: {}",
        path.display()
    )]
    Invalid {
        /// What is wrong.
        reason: String,
        /// The file.
        path: std::path::PathBuf,
    },
    /// The array has the wrong shape.
    #[error("the array in this .npy file has shape {found:?}, expected {expected:?}: {}", path.display())]
    Shape {
        /// The shape needed.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
        /// The file.
        path: std::path::PathBuf,
    },
    /// The file could not be written.
    #[error("could not write the .npy file ({reason}): {}", path.display())]
    Write {
        /// What went wrong.
        reason: String,
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Reads a float array (float32, or float64 rounded to float32) of any shape.
pub fn read_f32(path: &Path) -> Result<ArrayD<f32>, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Read {
        source,
        path: path.to_path_buf(),
    })?;
    read_f32_bytes(&bytes).map_err(|reason| NpyError::Invalid {
        reason,
        path: path.to_path_buf(),
    })
}

/// Reads a float array from the bytes of a `.npy` file; the error says what is wrong. The
/// header's shape is checked against the data present before anything is allocated for it.
pub fn read_f32_bytes(bytes: &[u8]) -> Result<ArrayD<f32>, String> {
    check_declared_size(bytes)?;
    match ArrayD::<f32>::read_npy(bytes) {
        Ok(array) => Ok(array),
        Err(ReadNpyError::WrongDescriptor(_)) => ArrayD::<f64>::read_npy(bytes)
            .map(|array| array.mapv(|value| value as f32))
            .map_err(|err| err.to_string()),
        Err(err) => Err(err.to_string()),
    }
}

/// Refuses a header whose shape needs more data than the file holds.
fn check_declared_size(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (no NUMPY signature)".to_owned());
    }
    let (header_length, header_start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        version => return Err(format!("unsupported .npy version {version}")),
    };
    let header_end = header_start.saturating_add(header_length);
    let header = bytes
        .get(header_start..header_end)
        .ok_or_else(|| "the header runs past the end of the file".to_owned())?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text".to_owned())?;
    check_header_form(header)?;
    let Some(shape) = header
        .split_once("'shape':")
        .and_then(|(_, rest)| rest.split_once('('))
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside)
    else {
        return Ok(());
    };
    let mut elements: u128 = 1;
    for dimension in shape
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let dimension: u128 = dimension
            .parse()
            .map_err(|_| format!("the shape has a dimension that is not a number: {dimension}"))?;
        elements = elements.saturating_mul(dimension);
    }
    let data = (bytes.len() - header_end) as u128;
    if elements.saturating_mul(4) > data.saturating_mul(2).saturating_add(64) {
        return Err(format!(
            "the header declares {elements} values but the file holds only {data} bytes of data"
        ));
    }
    Ok(())
}

/// Refuses a header that is not the flat dictionary numpy writes
/// (`{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 64, 64), }`) before the general
/// Python-literal parser sees it: that parser backtracks, and deeply nested brackets in a
/// crafted header kept it busy for over 20 minutes.
fn check_header_form(header: &str) -> Result<(), String> {
    let refuse = |what: &str| {
        Err(format!(
            "its header is not the dictionary numpy writes ({what})"
        ))
    };
    let mut braces = 0_u32;
    let mut parentheses = 0_u32;
    let mut characters = header.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '{' if braces == 0 => braces = 1,
            '}' if braces == 1 && parentheses == 0 => braces = 0,
            '(' if braces == 1 && parentheses == 0 => parentheses = 1,
            ')' if parentheses == 1 => parentheses = 0,
            '\'' | '"' => {
                // A string without escapes, as numpy writes them.
                if !characters.by_ref().any(|inside| inside == character) {
                    return refuse("a string is not closed");
                }
            }
            ':' | ',' | '<' | '>' | '|' | '=' | '.' | '-' | '_' => {}
            character if character.is_ascii_alphanumeric() || character.is_ascii_whitespace() => {}
            '{' | '(' => return refuse("nested brackets"),
            '}' | ')' => return refuse("unbalanced brackets"),
            other => return refuse(&format!("unexpected {other:?}")),
        }
    }
    if braces != 0 || parentheses != 0 {
        return refuse("unbalanced brackets");
    }
    Ok(())
}

/// Reads a float array and checks its shape.
pub fn read_f32_shaped(path: &Path, expected: &[usize]) -> Result<ArrayD<f32>, NpyError> {
    let array = read_f32(path)?;
    if array.shape() != expected {
        return Err(NpyError::Shape {
            expected: expected.to_vec(),
            found: array.shape().to_vec(),
            path: path.to_path_buf(),
        });
    }
    if array.iter().any(|value| !value.is_finite()) {
        return Err(NpyError::Invalid {
            reason: "it contains NaN or infinite values".to_owned(),
            path: path.to_path_buf(),
        });
    }
    Ok(array)
}

/// Writes a float32 array (format 1.0, little-endian, C order), atomically: to a temporary file
/// beside the target, then renamed over it.
pub fn write_f32(path: &Path, array: &ArrayD<f32>) -> Result<(), NpyError> {
    let write_error = |reason: String| NpyError::Write {
        reason,
        path: path.to_path_buf(),
    };
    crate::atomic_file::write_with(path, |writer| {
        array
            .as_standard_layout()
            .write_npy(writer)
            .map_err(std::io::Error::other)
    })
    .map_err(|err| write_error(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::read_f32_bytes;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let padded = format!("{header:<118}\n");
        bytes.extend_from_slice(&u16::try_from(padded.len()).expect("short").to_le_bytes());
        bytes.extend_from_slice(padded.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn what_numpy_writes_is_read() {
        let data: Vec<u8> = [1.0_f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        let array = read_f32_bytes(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
            &data,
        ))
        .expect("a numpy array");
        assert_eq!(array.shape(), &[2, 2]);
        assert_eq!(
            array.iter().copied().collect::<Vec<_>>(),
            [1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn nested_brackets_in_a_header_are_refused_at_once() {
        // Found by the npy_reader fuzz target: the general parser was still busy with it after 20 minutes.
        let header = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': (1,[1, 8, {}+ ",
            "[".repeat(70)
        );
        let error = read_f32_bytes(&npy(&header, &[0; 16])).expect_err("refused");
        assert!(error.contains("not the dictionary numpy writes"), "{error}");
    }
}
