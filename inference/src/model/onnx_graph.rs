//! Reads what ONNX Runtime's session metadata does not say from the ONNX graph itself.
//!
//! Exports from diffusers' conversion script declare the UNet input as
//! `sample: [batch, channels, height, width]` with *every* dimension dynamic, so whether a UNet
//! is an inpainting UNet (9 input channels) or an ordinary one (4) is only visible in the weights
//! of the convolution that consumes `sample`. This module walks the protobuf encoding of
//! `model.onnx` as a stream: node lists and initializer shapes are read, tensor data is skipped
//! with a seek, so a UNet with 1.7 GB of embedded weights is inspected without reading them.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

// Field numbers from onnx.proto.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_INITIALIZER: u64 = 5;
const GRAPH_INPUT: u64 = 11;
const GRAPH_OUTPUT: u64 = 12;
const VALUE_INFO_NAME: u64 = 1;
const VALUE_INFO_TYPE: u64 = 2;
const TYPE_TENSOR: u64 = 1;
const TENSOR_TYPE_ELEMENT: u64 = 1;
const TENSOR_TYPE_SHAPE: u64 = 2;
const SHAPE_DIM: u64 = 1;
const DIM_VALUE: u64 = 1;
const NODE_INPUT: u64 = 1;
const NODE_OUTPUT: u64 = 2;
const NODE_OP_TYPE: u64 = 4;
const NODE_ATTRIBUTE: u64 = 5;
const ATTRIBUTE_NAME: u64 = 1;
const ATTRIBUTE_TENSOR: u64 = 5;
const ATTRIBUTE_INTS: u64 = 8;
const TENSOR_DIMS: u64 = 1;
const TENSOR_NAME: u64 = 8;
const TENSOR_EXTERNAL_DATA: u64 = 13;
const ENTRY_KEY: u64 = 1;
const ENTRY_VALUE: u64 = 2;

/// Protobuf wire types.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LENGTH_DELIMITED: u64 = 2;
const FIXED32: u64 = 5;

/// A node of the graph, with only what the inspection needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    op_type: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    /// Shape of the `value` tensor of a `Constant` node.
    constant_dims: Option<Vec<i64>>,
    /// The `strides` attribute (convolutions).
    strides: Vec<i64>,
}

/// A declared graph input or output: its name, element type and shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueOutline {
    /// The name.
    pub name: String,
    /// ONNX's element type number (1 float32, 10 float16, 6 int32, 7 int64, …; 0 unknown).
    pub element_type: i64,
    /// Each dimension: its size, or `None` when it is named or missing.
    pub dims: Vec<Option<i64>>,
}

impl ValueOutline {
    /// Dimension `index` when it is fixed.
    pub fn dim(&self, index: usize) -> Option<i64> {
        self.dims.get(index).copied().flatten()
    }
}

/// The structure of a graph: its nodes and the shapes of its initializers.
#[derive(Clone, Debug, Default)]
pub struct GraphOutline {
    /// The graph's declared inputs.
    pub inputs: Vec<ValueOutline>,
    /// The graph's declared outputs.
    pub outputs: Vec<ValueOutline>,
    nodes: Vec<Node>,
    initializer_dims: HashMap<String, Vec<i64>>,
    external_files: std::collections::BTreeSet<String>,
}

impl GraphOutline {
    /// Reads the outline of `model.onnx` (tensor data is skipped, not read).
    pub fn read(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let length = file.metadata()?.len();
        Self::from_reader(BufReader::with_capacity(1 << 16, file), length)
    }

    /// Reads the outline of an ONNX model of `length` bytes from `reader`.
    pub fn from_reader<R: Read + Seek>(reader: R, length: u64) -> io::Result<Self> {
        let mut reader = Limited {
            inner: reader,
            remaining: length,
        };
        let mut outline = Self::default();
        while reader.remaining > 0 {
            let (field, wire_type) = read_key(&mut reader)?;
            if field == MODEL_GRAPH && wire_type == LENGTH_DELIMITED {
                let size = read_varint(&mut reader)?;
                let mut graph = reader.take_message(size)?;
                outline.read_graph(&mut graph)?;
                reader.remaining -= size;
            } else {
                skip_field(&mut reader, wire_type)?;
            }
        }
        Ok(outline)
    }

    fn read_graph<R: Read + Seek>(&mut self, reader: &mut Limited<R>) -> io::Result<()> {
        while reader.remaining > 0 {
            let (field, wire_type) = read_key(reader)?;
            match (field, wire_type) {
                (GRAPH_NODE, LENGTH_DELIMITED) => {
                    let size = read_varint(reader)?;
                    let mut message = reader.take_message(size)?;
                    self.nodes.push(read_node(&mut message)?);
                    reader.remaining -= size;
                }
                (GRAPH_INITIALIZER, LENGTH_DELIMITED) => {
                    let size = read_varint(reader)?;
                    let mut message = reader.take_message(size)?;
                    let (name, dims, location) = read_tensor_outline(&mut message)?;
                    self.initializer_dims.insert(name, dims);
                    self.external_files.extend(location);
                    reader.remaining -= size;
                }
                (GRAPH_INPUT | GRAPH_OUTPUT, LENGTH_DELIMITED) => {
                    let size = read_varint(reader)?;
                    let mut message = reader.take_message(size)?;
                    let value = read_value_info(&mut message)?;
                    if field == GRAPH_INPUT {
                        self.inputs.push(value);
                    } else {
                        self.outputs.push(value);
                    }
                    reader.remaining -= size;
                }
                _ => skip_field(reader, wire_type)?,
            }
        }
        Ok(())
    }

    /// The declared input called `name`.
    pub fn input(&self, name: &str) -> Option<&ValueOutline> {
        self.inputs.iter().find(|value| value.name == name)
    }

    /// The declared output called `name`.
    pub fn output(&self, name: &str) -> Option<&ValueOutline> {
        self.outputs.iter().find(|value| value.name == name)
    }

    /// The files (relative to the graph's folder) that hold weights outside the graph.
    pub fn external_data_files(&self) -> impl Iterator<Item = &str> {
        self.external_files.iter().map(String::as_str)
    }

    /// The number of input channels of the first convolution fed by graph input `input`
    /// (following `Cast`/`Identity` on the way), read from its weight's shape
    /// `[out_channels, in_channels, kh, kw]`.
    pub fn convolution_input_channels(&self, input: &str) -> Option<u64> {
        // Breadth-first over the value's consumers: exports also read it with `Shape` and the
        // like, which are passed over.
        let mut frontier = vec![input.to_owned()];
        for _ in 0..8 {
            let mut next = Vec::new();
            for value in &frontier {
                for node in self
                    .nodes
                    .iter()
                    .filter(|node| node.inputs.first() == Some(value))
                {
                    match node.op_type.as_str() {
                        "Conv" => {
                            let dims = self.tensor_dims(node.inputs.get(1)?)?;
                            return dims.get(1).and_then(|&c| u64::try_from(c).ok());
                        }
                        "Cast" | "Identity" => next.extend(node.outputs.first().cloned()),
                        _ => {}
                    }
                }
            }
            if next.is_empty() {
                return None;
            }
            frontier = next;
        }
        None
    }

    /// The number of output channels of the convolution that produces graph output `output`,
    /// read from its weight's shape, following back through operations that keep the channel
    /// count (casts and elementwise arithmetic). `None` when something else is in between.
    pub fn convolution_output_channels(&self, output: &str) -> Option<u64> {
        let mut name = output.to_owned();
        for _ in 0..16 {
            let producer = self
                .nodes
                .iter()
                .find(|node| node.outputs.first() == Some(&name))?;
            match producer.op_type.as_str() {
                "Conv" => {
                    let dims = self.tensor_dims(producer.inputs.get(1)?)?;
                    return dims.first().and_then(|&c| u64::try_from(c).ok());
                }
                "Cast" | "Identity" | "Add" | "Sub" | "Mul" | "Div" | "Clip" | "Tanh"
                | "Sigmoid" | "Relu" => {
                    // Of an elementwise operation's inputs, the one that is not a constant.
                    name = producer
                        .inputs
                        .iter()
                        .find(|input| self.tensor_dims(input).is_none())?
                        .clone();
                }
                _ => return None,
            }
        }
        None
    }

    /// How many convolutions halve the resolution (stride 2): a UNet with n of them needs
    /// latents divisible by 2^n.
    pub fn downsampling_convolutions(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| node.op_type == "Conv" && node.strides.contains(&2))
            .count()
    }

    /// Dimensions of an initializer or constant, following `Cast`/`Identity`/`DequantizeLinear`
    /// back to their source.
    fn tensor_dims(&self, name: &str) -> Option<Vec<i64>> {
        let mut name = name.to_owned();
        for _ in 0..8 {
            if let Some(dims) = self.initializer_dims.get(&name) {
                return Some(dims.clone());
            }
            let producer = self
                .nodes
                .iter()
                .find(|node| node.outputs.first() == Some(&name))?;
            match producer.op_type.as_str() {
                "Constant" => return producer.constant_dims.clone(),
                "Cast" | "Identity" | "DequantizeLinear" => {
                    name = producer.inputs.first()?.clone();
                }
                _ => return None,
            }
        }
        None
    }
}

/// Reads the fields of the nested message at the reader, calling `each` with the field number
/// and a reader of its contents for length-delimited fields and skipping the rest.
fn each_message<R: Read + Seek>(
    reader: &mut Limited<R>,
    mut each: impl FnMut(u64, &mut Limited<&mut R>) -> io::Result<()>,
) -> io::Result<()> {
    while reader.remaining > 0 {
        let (field, wire_type) = read_key(reader)?;
        if wire_type == LENGTH_DELIMITED {
            let size = read_varint(reader)?;
            let mut message = reader.take_message(size)?;
            each(field, &mut message)?;
            // Whatever `each` left unread is skipped.
            let left = message.remaining;
            message.skip(left)?;
            reader.remaining -= size;
        } else {
            skip_field(reader, wire_type)?;
        }
    }
    Ok(())
}

fn read_value_info<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<ValueOutline> {
    let mut value = ValueOutline::default();
    while reader.remaining > 0 {
        let (field, wire_type) = read_key(reader)?;
        match (field, wire_type) {
            (VALUE_INFO_NAME, LENGTH_DELIMITED) => value.name = read_string(reader)?,
            (VALUE_INFO_TYPE, LENGTH_DELIMITED) => {
                let size = read_varint(reader)?;
                let mut type_proto = reader.take_message(size)?;
                each_message(&mut type_proto, |field, tensor| {
                    if field != TYPE_TENSOR {
                        return Ok(());
                    }
                    while tensor.remaining > 0 {
                        let (field, wire_type) = read_key(tensor)?;
                        match (field, wire_type) {
                            (TENSOR_TYPE_ELEMENT, VARINT) => {
                                value.element_type = read_varint(tensor)? as i64;
                            }
                            (TENSOR_TYPE_SHAPE, LENGTH_DELIMITED) => {
                                let size = read_varint(tensor)?;
                                let mut shape = tensor.take_message(size)?;
                                each_message(&mut shape, |field, dim| {
                                    if field != SHAPE_DIM {
                                        return Ok(());
                                    }
                                    let mut fixed = None;
                                    while dim.remaining > 0 {
                                        let (field, wire_type) = read_key(dim)?;
                                        if (field, wire_type) == (DIM_VALUE, VARINT) {
                                            fixed = Some(read_varint(dim)? as i64);
                                        } else {
                                            skip_field(dim, wire_type)?;
                                        }
                                    }
                                    value.dims.push(fixed);
                                    Ok(())
                                })?;
                                tensor.remaining -= size;
                            }
                            _ => skip_field(tensor, wire_type)?,
                        }
                    }
                    Ok(())
                })?;
                reader.remaining -= size;
            }
            _ => skip_field(reader, wire_type)?,
        }
    }
    Ok(value)
}

fn read_node<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<Node> {
    let mut node = Node::default();
    while reader.remaining > 0 {
        let (field, wire_type) = read_key(reader)?;
        match (field, wire_type) {
            (NODE_INPUT, LENGTH_DELIMITED) => node.inputs.push(read_string(reader)?),
            (NODE_OUTPUT, LENGTH_DELIMITED) => node.outputs.push(read_string(reader)?),
            (NODE_OP_TYPE, LENGTH_DELIMITED) => node.op_type = read_string(reader)?,
            (NODE_ATTRIBUTE, LENGTH_DELIMITED) => {
                let size = read_varint(reader)?;
                let mut attribute = reader.take_message(size)?;
                match read_attribute(&mut attribute)? {
                    Attribute::Value(dims) => node.constant_dims = Some(dims),
                    Attribute::Strides(strides) => node.strides = strides,
                    Attribute::Other => {}
                }
                reader.remaining -= size;
            }
            _ => skip_field(reader, wire_type)?,
        }
    }
    Ok(node)
}

/// The attributes the inspection reads.
enum Attribute {
    /// `value`: a `Constant` node's tensor (its dims).
    Value(Vec<i64>),
    /// `strides` of a convolution.
    Strides(Vec<i64>),
    Other,
}

fn read_attribute<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<Attribute> {
    let mut name = String::new();
    let mut dims = None;
    let mut ints = Vec::new();
    while reader.remaining > 0 {
        let (field, wire_type) = read_key(reader)?;
        match (field, wire_type) {
            (ATTRIBUTE_NAME, LENGTH_DELIMITED) => name = read_string(reader)?,
            (ATTRIBUTE_TENSOR, LENGTH_DELIMITED) => {
                let size = read_varint(reader)?;
                let mut tensor = reader.take_message(size)?;
                dims = Some(read_tensor_outline(&mut tensor)?.1);
                reader.remaining -= size;
            }
            (ATTRIBUTE_INTS, VARINT) => ints.push(read_varint(reader)? as i64),
            (ATTRIBUTE_INTS, LENGTH_DELIMITED) => read_packed_varints(reader, &mut ints)?,
            _ => skip_field(reader, wire_type)?,
        }
    }
    Ok(match (name.as_str(), dims) {
        ("value", Some(dims)) => Attribute::Value(dims),
        ("strides", _) => Attribute::Strides(ints),
        _ => Attribute::Other,
    })
}

/// A tensor's name and dims; its data is skipped.
/// An initializer's name, shape and, when its data lives in another file, that file's name.
fn read_tensor_outline<R: Read + Seek>(
    reader: &mut Limited<R>,
) -> io::Result<(String, Vec<i64>, Option<String>)> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut location = None;
    while reader.remaining > 0 {
        let (field, wire_type) = read_key(reader)?;
        match (field, wire_type) {
            (TENSOR_DIMS, VARINT) => dims.push(read_varint(reader)? as i64),
            (TENSOR_DIMS, LENGTH_DELIMITED) => read_packed_varints(reader, &mut dims)?,
            (TENSOR_NAME, LENGTH_DELIMITED) => name = read_string(reader)?,
            (TENSOR_EXTERNAL_DATA, LENGTH_DELIMITED) => {
                let size = read_varint(reader)?;
                let mut entry = reader.take_message(size)?;
                let (mut key, mut value) = (String::new(), String::new());
                while entry.remaining > 0 {
                    let (field, wire_type) = read_key(&mut entry)?;
                    match (field, wire_type) {
                        (ENTRY_KEY, LENGTH_DELIMITED) => key = read_string(&mut entry)?,
                        (ENTRY_VALUE, LENGTH_DELIMITED) => value = read_string(&mut entry)?,
                        _ => skip_field(&mut entry, wire_type)?,
                    }
                }
                reader.remaining -= size;
                if key == "location" {
                    location = Some(value);
                }
            }
            _ => skip_field(reader, wire_type)?,
        }
    }
    Ok((name, dims, location))
}

/// A reader that knows how many bytes of the current message are left.
struct Limited<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read + Seek> Limited<R> {
    /// Fills `buffer` from this message (the caller has checked that it holds that much).
    fn read_exact(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buffer).map_err(|err| {
            if err.kind() == io::ErrorKind::UnexpectedEof {
                corrupt("the file ends in the middle of the graph (truncated?)")
            } else {
                err
            }
        })?;
        self.remaining -= buffer.len() as u64;
        Ok(())
    }

    /// Passes over the next `size` bytes of this message.
    fn skip(&mut self, size: u64) -> io::Result<()> {
        if size > self.remaining {
            return Err(corrupt(
                "a field runs past the end of its section (truncated?)",
            ));
        }
        if size <= 8192 {
            // Small fields are read through the buffer; seeking would discard it.
            let copied = io::copy(&mut (&mut self.inner).take(size), &mut io::sink())?;
            if copied != size {
                return Err(corrupt(
                    "the file ends in the middle of the graph (truncated?)",
                ));
            }
        } else {
            // Tensor data: skipped without reading. Every enclosing message's size was checked
            // against the file's length, so a truncated file cannot hide here.
            self.inner.seek(io::SeekFrom::Current(size as i64))?;
        }
        self.remaining -= size;
        Ok(())
    }

    /// A view of the next `size` bytes as a nested message. The caller reads it to the end and
    /// then subtracts `size` from its own `remaining`.
    fn take_message(&mut self, size: u64) -> io::Result<Limited<&mut R>> {
        if size > self.remaining {
            return Err(corrupt(
                "a section runs past the end of the file or of its enclosing section (truncated?)",
            ));
        }
        Ok(Limited {
            inner: &mut self.inner,
            remaining: size,
        })
    }
}

fn corrupt(reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a valid ONNX file: {reason}"),
    )
}

fn read_byte<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<u8> {
    if reader.remaining == 0 {
        return Err(corrupt(
            "a field runs past the end of its section (truncated?)",
        ));
    }
    let mut byte = [0_u8];
    reader.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn read_varint<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let byte = read_byte(reader)?;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(corrupt("a number is longer than ten bytes"))
}

fn read_key<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<(u64, u64)> {
    let key = read_varint(reader)?;
    Ok((key >> 3, key & 7))
}

/// A packed repeated int64 field (protobuf's default encoding of repeated scalars), appended to
/// `values`.
fn read_packed_varints<R: Read + Seek>(
    reader: &mut Limited<R>,
    values: &mut Vec<i64>,
) -> io::Result<()> {
    let size = read_varint(reader)?;
    let mut packed = reader.take_message(size)?;
    while packed.remaining > 0 {
        values.push(read_varint(&mut packed)? as i64);
    }
    reader.remaining -= size;
    Ok(())
}

fn read_string<R: Read + Seek>(reader: &mut Limited<R>) -> io::Result<String> {
    let size = read_varint(reader)?;
    if size > reader.remaining || size > 1 << 20 {
        return Err(corrupt("a name is implausibly long"));
    }
    let mut bytes = vec![0_u8; size as usize];
    reader.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| corrupt("a name is not UTF-8"))
}

fn skip_field<R: Read + Seek>(reader: &mut Limited<R>, wire_type: u64) -> io::Result<()> {
    let size = match wire_type {
        VARINT => {
            read_varint(reader)?;
            return Ok(());
        }
        FIXED64 => 8,
        LENGTH_DELIMITED => read_varint(reader)?,
        FIXED32 => 4,
        _ => return Err(corrupt("unknown protobuf wire type")),
    };
    reader.skip(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Protobuf encoding, for building small graphs by hand.
    use crate::onnx_wire::{put_bytes as field_bytes, put_varint as varint};

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for input in inputs {
            field_bytes(NODE_INPUT, input.as_bytes(), &mut out);
        }
        for output in outputs {
            field_bytes(NODE_OUTPUT, output.as_bytes(), &mut out);
        }
        field_bytes(NODE_OP_TYPE, op.as_bytes(), &mut out);
        out
    }

    fn initializer(name: &str, dims: &[u64], data_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut packed = Vec::new();
        for &dim in dims {
            varint(dim, &mut packed);
        }
        field_bytes(TENSOR_DIMS, &packed, &mut out);
        field_bytes(TENSOR_NAME, name.as_bytes(), &mut out);
        field_bytes(9, &vec![7_u8; data_len], &mut out); // raw_data
        out
    }

    fn model(graph_parts: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut graph = Vec::new();
        for (field, bytes) in graph_parts {
            field_bytes(*field, bytes, &mut graph);
        }
        let mut out = Vec::new();
        varint(1 << 3 | VARINT, &mut out); // ir_version
        varint(8, &mut out);
        field_bytes(MODEL_GRAPH, &graph, &mut out);
        out
    }

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, bytes).expect("write");
        (dir, path)
    }

    #[test]
    fn finds_input_channels_through_a_cast() {
        let bytes = model(&[
            (GRAPH_NODE, node("Shape", &["sample"], &["sample_shape"])),
            (GRAPH_NODE, node("Cast", &["sample"], &["sample_half"])),
            (
                GRAPH_NODE,
                node(
                    "Conv",
                    &["sample_half", "conv_in.weight", "conv_in.bias"],
                    &["h"],
                ),
            ),
            (GRAPH_NODE, node("Relu", &["h"], &["out"])),
            (
                GRAPH_INITIALIZER,
                initializer("conv_in.weight", &[320, 9, 3, 3], 4096),
            ),
        ]);
        let (_dir, path) = write(&bytes);
        let outline = GraphOutline::read(&path).expect("reads");
        assert_eq!(outline.convolution_input_channels("sample"), Some(9));
        assert_eq!(outline.convolution_input_channels("missing"), None);
    }

    #[test]
    fn truncated_file_is_an_error_not_a_guess() {
        let bytes = model(&[
            (GRAPH_NODE, node("Conv", &["sample", "w"], &["h"])),
            (GRAPH_INITIALIZER, initializer("w", &[8, 4, 3, 3], 10_000)),
        ]);
        let (_dir, path) = write(&bytes[..bytes.len() - 5000]);
        let err = GraphOutline::read(&path).expect_err("truncated");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
