//! The tensors a component run takes and gives: input data in the element type each graph
//! declares (float32 or float16, int32 or int64 ids, the timestep as a vector or a scalar), the
//! same whether the component runs in ONNX Runtime here or on an inference server.

use ort::value::{DynValue, Tensor};

use crate::model::signature::{ElementType, TimestepInput};

/// The data of an input tensor, in the element type the graph wants.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit floats.
    F16(Vec<half::f16>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

/// An input tensor: data and shape (empty for a scalar).
#[derive(Clone, Debug, PartialEq)]
pub struct InputTensor {
    /// The elements, row-major.
    pub data: TensorData,
    /// The shape.
    pub shape: Vec<i64>,
}

impl InputTensor {
    fn new(data: TensorData, shape: Vec<i64>) -> Self {
        Self { data, shape }
    }

    /// The Open Inference Protocol's name of the element type (`FP32`, `FP16`, `INT32`,
    /// `INT64`).
    pub fn datatype(&self) -> &'static str {
        match self.data {
            TensorData::F32(_) => "FP32",
            TensorData::F16(_) => "FP16",
            TensorData::I32(_) => "INT32",
            TensorData::I64(_) => "INT64",
        }
    }

    /// The elements as little-endian bytes, row-major, without padding (the protocol's raw
    /// tensor contents).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &self.data {
            TensorData::F32(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::F16(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::I32(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::I64(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub(super) fn into_ort(self) -> ort::Result<DynValue> {
        let shape = self.shape;
        match self.data {
            TensorData::F32(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
            TensorData::F16(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
            TensorData::I32(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
            TensorData::I64(values) => Tensor::from_array((shape, values)).map(Tensor::into_dyn),
        }
    }
}

/// The outcome of one run: the named output as float32, or a cancellation.
pub enum RunResult {
    /// The output tensor's data and shape.
    Output(Vec<f32>, Vec<usize>),
    /// The run was terminated by the cancel token.
    Cancelled,
}

/// A float tensor in the element type the graph wants.
pub fn float_tensor(data: &[f32], shape: &[usize], element: &ElementType) -> InputTensor {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let data = match element {
        ElementType::Float16 => TensorData::F16(
            data.iter()
                .map(|&value| half::f16::from_f32(value))
                .collect(),
        ),
        _ => TensorData::F32(data.to_vec()),
    };
    InputTensor::new(data, shape)
}

/// Token ids as int32 or int64, `[batch, length]`.
pub fn id_tensor(ids: &[i64], batch: usize, element: &ElementType) -> InputTensor {
    let shape = vec![batch as i64, (ids.len() / batch) as i64];
    let data = match element {
        ElementType::Int32 => TensorData::I32(ids.iter().map(|&id| id as i32).collect()),
        _ => TensorData::I64(ids.to_vec()),
    };
    InputTensor::new(data, shape)
}

/// The UNet's timestep input in the convention the graph declares. Integer conventions
/// truncate, as numpy's `astype(int64)` does.
pub fn timestep_tensor(timestep: f32, batch: usize, convention: TimestepInput) -> InputTensor {
    let batch_shape = vec![batch as i64];
    match convention {
        TimestepInput::Float32Batch => {
            InputTensor::new(TensorData::F32(vec![timestep; batch]), batch_shape)
        }
        TimestepInput::Float32Scalar => InputTensor::new(TensorData::F32(vec![timestep]), vec![]),
        TimestepInput::Int64Batch => {
            InputTensor::new(TensorData::I64(vec![timestep as i64; batch]), batch_shape)
        }
        TimestepInput::Int64Scalar => {
            InputTensor::new(TensorData::I64(vec![timestep as i64]), vec![])
        }
        TimestepInput::Float16Batch => InputTensor::new(
            TensorData::F16(vec![half::f16::from_f32(timestep); batch]),
            batch_shape,
        ),
        TimestepInput::Float16Scalar => {
            InputTensor::new(TensorData::F16(vec![half::f16::from_f32(timestep)]), vec![])
        }
    }
}
