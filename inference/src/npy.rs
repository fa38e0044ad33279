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
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|source| NpyError::Read {
                source,
                path: path.to_path_buf(),
            })
    };
    let invalid = |err: ReadNpyError| NpyError::Invalid {
        reason: err.to_string(),
        path: path.to_path_buf(),
    };
    match ArrayD::<f32>::read_npy(open()?) {
        Ok(array) => Ok(array),
        Err(ReadNpyError::WrongDescriptor(_)) => ArrayD::<f64>::read_npy(open()?)
            .map(|array| array.mapv(|value| value as f32))
            .map_err(invalid),
        Err(err) => Err(invalid(err)),
    }
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
    let temporary = path.with_extension("npy.partial");
    let file = std::fs::File::create(&temporary).map_err(|err| write_error(err.to_string()))?;
    let mut writer = std::io::BufWriter::new(file);
    array
        .as_standard_layout()
        .write_npy(&mut writer)
        .map_err(|err| write_error(err.to_string()))?;
    let file = writer
        .into_inner()
        .map_err(|err| write_error(err.to_string()))?;
    file.sync_all()
        .map_err(|err| write_error(err.to_string()))?;
    std::fs::rename(&temporary, path).map_err(|err| write_error(err.to_string()))
}
