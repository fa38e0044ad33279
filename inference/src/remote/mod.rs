//! Running the components on a pool of inference servers that speak the Open Inference Protocol
//! (KServe v2) over gRPC, such as NVIDIA Triton Inference Server.
//!
//! Only the network calls leave the computer: the text encoder, UNet and VAE calls. The
//! denoising loop, the schedulers and the random numbers stay in [`crate::pipeline`], so a remote
//! generation is the same computation as a local one and every seed reproduces. The server's
//! dynamic batcher joins the UNet calls of artists who generate at the same time.
//!
//! - [`config`]: `remote.json`, the file that turns a folder with a tokenizer and a scheduler
//!   into a remote model (which servers, which model name, token, certificate, signatures).
//! - [`pool`]: the servers, their health, the choice of a server per call and the failover.
//! - [`repository`]: writing a Triton model repository and its client folder for a model
//!   folder (`pentimento serve-repo`).

pub mod config;
pub mod pool;
pub mod repository;

/// The protocol's messages and client, generated at build time from
/// `inference/proto/open_inference.proto`.
#[allow(missing_docs, unused_qualifications, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("inference");
}

pub use crate::error::RemoteError;
pub use config::{REMOTE_FILE, RemoteConfig, TensorDescription};
pub use pool::{Pool, ServerState, ServerStatus};

/// The shape to send for a tensor of shape `ours` to an input the server declares as
/// `declared` (`-1` for any size): ours when the ranks agree, else ours with trailing 1s
/// appended when that is what the server declares (Triton's reshape of a `[batch]` input).
pub fn server_shape(declared: &[i64], ours: &[i64]) -> Vec<i64> {
    if declared.len() > ours.len() && declared[ours.len()..].iter().all(|&d| d == 1) {
        let mut shape = ours.to_vec();
        shape.resize(declared.len(), 1);
        shape
    } else {
        ours.to_vec()
    }
}

/// Raw output contents as float32: little-endian FP32 or FP16; `None` for another datatype or
/// a length that does not fit.
pub fn decode_floats(datatype: &str, bytes: &[u8]) -> Option<Vec<f32>> {
    match datatype {
        "FP32" if bytes.len().is_multiple_of(4) => Some(
            bytes
                .chunks_exact(4)
                .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
                .collect(),
        ),
        "FP16" if bytes.len().is_multiple_of(2) => Some(
            bytes
                .chunks_exact(2)
                .map(|chunk| half::f16::from_le_bytes([chunk[0], chunk[1]]).to_f32())
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batched_timestep_is_sent_with_the_trailing_axis_the_server_declares() {
        assert_eq!(server_shape(&[-1, 1], &[2]), vec![2, 1]);
        assert_eq!(
            server_shape(&[-1, 4, -1, -1], &[2, 4, 8, 8]),
            vec![2, 4, 8, 8]
        );
        assert_eq!(server_shape(&[], &[]), Vec::<i64>::new());
        assert_eq!(server_shape(&[-1, 3], &[2]), vec![2]);
    }

    #[test]
    fn raw_outputs_decode_from_little_endian_fp32_and_fp16() {
        let values = [1.5f32, -2.25, 0.0];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(decode_floats("FP32", &bytes), Some(values.to_vec()));
        let halves: Vec<u8> = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        assert_eq!(decode_floats("FP16", &halves), Some(values.to_vec()));
        assert_eq!(decode_floats("FP32", &bytes[..5]), None);
        assert_eq!(decode_floats("INT64", &bytes), None);
    }
}
