//! The parts of an ONNX model a LoRA touches: which initializer holds each layer's weight, that
//! weight's data, and a copy of the model in which chosen initializers are marked as external
//! data, so that ONNX Runtime takes their merged values before it optimizes the graph.
//!
//! The exporters (torch.onnx with constant folding, optimum) keep the module path in the node
//! names — `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul` — while the
//! weight itself often has an anonymous name (`onnx::MatMul_2567`). A layer is found through its
//! node, its weight through the node's second input. Linear layers are exported as `MatMul` with
//! the weight stored transposed (`[in, out]`), or as `Gemm` (`transB` says the layout); `Conv`
//! weights keep PyTorch's `[out, in, kh, kw]`.
//!
//! The model is read whole into memory: where the weights live in other files `model.onnx` is
//! small, and where they are inside it the copy handed to ONNX Runtime is made from it anyway.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::onnx_wire::{Fields, LENGTH_DELIMITED, VARINT, packed_varints, put_bytes, put_varint};

// Field numbers from onnx.proto.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_INITIALIZER: u64 = 5;
const NODE_INPUT: u64 = 1;
const NODE_NAME: u64 = 3;
const NODE_OP_TYPE: u64 = 4;
const NODE_ATTRIBUTE: u64 = 5;
const NODE_DOMAIN: u64 = 7;
const ATTRIBUTE_NAME: u64 = 1;
const ATTRIBUTE_INT: u64 = 3;
const TENSOR_DIMS: u64 = 1;
const TENSOR_DATA_TYPE: u64 = 2;
const TENSOR_NAME: u64 = 8;
const TENSOR_RAW_DATA: u64 = 9;
const TENSOR_EXTERNAL_DATA: u64 = 13;
const TENSOR_DATA_LOCATION: u64 = 14;
/// `float_data`, `int32_data`, `string_data`, `int64_data`, `double_data`, `uint64_data`: the
/// typed ways of storing a tensor's values inline.
const TENSOR_TYPED_DATA: [u64; 6] = [4, 5, 6, 7, 10, 11];
const ENTRY_KEY: u64 = 1;
const ENTRY_VALUE: u64 = 2;
/// `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: u64 = 1;

/// ONNX element types a LoRA can be merged into.
pub const FLOAT: i32 = 1;
/// ONNX's float16.
pub const FLOAT16: i32 = 10;

/// How a layer applies its weight, which decides the weight's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightOp {
    /// `x · W` with `W` stored `[in, out]` (a Linear layer, transposed by the exporter).
    MatMul,
    /// `Gemm`: `[out, in]` when `transB` is set, `[in, out]` otherwise.
    Gemm {
        /// The `transB` attribute.
        trans_b: bool,
    },
    /// A convolution, `[out, in, kh, kw]`.
    Conv,
}

impl WeightOp {
    /// Whether the weight is stored `[in, out]` (transposed against PyTorch's `[out, in]`).
    pub fn transposed(self) -> bool {
        matches!(self, Self::MatMul | Self::Gemm { trans_b: false })
    }
}

/// One layer that has a weight a LoRA can change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// How the weight is applied.
    pub op: WeightOp,
    /// The initializer holding the weight.
    pub initializer: String,
}

/// Where an initializer's values are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensorData {
    /// In `raw_data`, at this byte range of the model file.
    Inline(Range<usize>),
    /// In another file beside the model.
    External {
        /// The file's name, relative to the model's folder.
        location: String,
        /// Where the values start in it.
        offset: u64,
        /// How many bytes they take (when the model says).
        length: Option<u64>,
    },
    /// In typed fields (`float_data`, …) or nowhere: not a form a LoRA is merged into.
    Other,
    /// At a byte range of a file Pentimento chose (not one a model names): the same values
    /// kept in the optimized-graph cache (see [`ModelWeights::take_weights_from`]).
    InFile {
        /// The file.
        path: PathBuf,
        /// Where the values start.
        offset: u64,
        /// How many bytes they take.
        length: u64,
    },
}

/// An initializer's shape, type and data location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Initializer {
    /// Its dimensions.
    pub dims: Vec<i64>,
    /// ONNX element type.
    pub data_type: i32,
    /// Where its values are.
    pub data: TensorData,
}

impl Initializer {
    /// Number of elements.
    pub fn elements(&self) -> usize {
        self.dims
            .iter()
            .try_fold(1_usize, |product, &dim| {
                product.checked_mul(dim.max(0) as usize)
            })
            .unwrap_or(usize::MAX)
    }
}

/// A model's layers by module path, read from `model.onnx`.
#[derive(Debug)]
pub struct ModelWeights {
    /// The model file's bytes (empty after [`Self::forget_bytes`]).
    pub bytes: Vec<u8>,
    /// The model file, when it was read from one.
    pub file: Option<PathBuf>,
    /// The folder external data is relative to.
    pub folder: PathBuf,
    /// Layers by module path in PyTorch's dotted form (`down_blocks.0.resnets.0.conv1`).
    pub layers: BTreeMap<String, Layer>,
    /// Initializers by name.
    pub initializers: HashMap<String, Initializer>,
    /// An operator that shows the graph was fused offline (`com.microsoft` attention, NHWC
    /// convolutions), when there is one.
    pub fused_operator: Option<String>,
    /// How many node inputs read each value (initializers included).
    pub consumers: HashMap<String, usize>,
}

impl ModelWeights {
    /// Reads `model.onnx`.
    pub fn read(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|err| format!("cannot read it ({err})"))?;
        let folder = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut weights = Self::from_bytes(bytes, folder)?;
        weights.file = Some(path.to_path_buf());
        Ok(weights)
    }

    /// Drops the file's bytes, keeping the layers and initializers: inline weights are then
    /// read from the file when needed, and the model's bytes no longer take memory.
    pub fn forget_bytes(&mut self) {
        if self.file.is_some() {
            self.bytes = Vec::new();
        }
    }

    /// A copy of the layers and initializers without the file's bytes (see
    /// [`Self::forget_bytes`]).
    pub fn outline(&self) -> Self {
        Self {
            bytes: Vec::new(),
            file: self.file.clone(),
            folder: self.folder.clone(),
            layers: self.layers.clone(),
            initializers: self.initializers.clone(),
            fused_operator: self.fused_operator.clone(),
            consumers: self.consumers.clone(),
        }
    }

    /// Reads the initializers that `graph` keeps under the same name, shape and type in an
    /// external file from there instead (the same values, when `graph` is this model as ONNX
    /// Runtime optimized it); returns their names.
    pub fn take_weights_from(&mut self, graph: &ModelWeights) -> HashSet<String> {
        let mut taken = HashSet::new();
        for (name, initializer) in &mut self.initializers {
            let Some(cached) = graph.initializers.get(name) else {
                continue;
            };
            let TensorData::External {
                location,
                offset,
                length,
            } = &cached.data
            else {
                continue;
            };
            if cached.dims != initializer.dims || cached.data_type != initializer.data_type {
                continue;
            }
            let size = match cached.data_type {
                FLOAT => 4,
                FLOAT16 => 2,
                _ => continue,
            };
            let Some(path) = inside(&graph.folder, location) else {
                continue;
            };
            initializer.data = TensorData::InFile {
                path,
                offset: *offset,
                length: length.unwrap_or((cached.elements() * size) as u64),
            };
            taken.insert(name.clone());
        }
        taken
    }

    /// Reads a model held in memory; external data is looked for in `folder`.
    pub fn from_bytes(bytes: Vec<u8>, folder: PathBuf) -> Result<Self, String> {
        let mut nodes = Vec::new();
        let mut initializers = HashMap::new();
        for field in Fields::new(&bytes, 0) {
            let field = field?;
            if field.number != MODEL_GRAPH {
                continue;
            }
            let (graph, graph_start) = field.message()?;
            for part in Fields::new(graph, graph_start) {
                let part = part?;
                match part.number {
                    GRAPH_NODE => nodes.push(read_node(part.message()?)?),
                    GRAPH_INITIALIZER => {
                        let (name, initializer) = read_initializer(part.message()?)?;
                        initializers.insert(name, initializer);
                    }
                    _ => {}
                }
            }
        }
        let fused_operator = nodes
            .iter()
            .find(|node| is_fused_offline(node))
            .map(|node| node.op_type.clone());
        let mut consumers: HashMap<String, usize> = HashMap::new();
        for input in nodes.iter().flat_map(|node| &node.inputs) {
            *consumers.entry(input.clone()).or_default() += 1;
        }
        let mut layers = BTreeMap::new();
        for node in &nodes {
            let op = match node.op_type.as_str() {
                "MatMul" => WeightOp::MatMul,
                "Gemm" => WeightOp::Gemm {
                    trans_b: node.trans_b,
                },
                "Conv" => WeightOp::Conv,
                _ => continue,
            };
            let Some(weight) = node.inputs.get(1) else {
                continue;
            };
            if !initializers.contains_key(weight) {
                // An activation times an activation (attention scores), not a layer.
                continue;
            }
            let Some(path) = module_path(&node.name) else {
                continue;
            };
            layers.entry(path).or_insert(Layer {
                op,
                initializer: weight.clone(),
            });
        }
        Ok(Self {
            bytes,
            file: None,
            folder,
            layers,
            initializers,
            fused_operator,
            consumers,
        })
    }

    /// The weight of `layer` as float32 values in the model's layout, and its initializer.
    pub fn weight(&self, layer: &Layer) -> Result<(Vec<f32>, &Initializer), String> {
        let initializer = self
            .initializers
            .get(&layer.initializer)
            .ok_or_else(|| format!("the weight {} is missing", layer.initializer))?;
        let element_size = match initializer.data_type {
            FLOAT => 4,
            FLOAT16 => 2,
            other => {
                return Err(format!(
                    "the weight {} has ONNX element type {other}; a LoRA can be merged into \
                     float32 and float16 weights only",
                    layer.initializer
                ));
            }
        };
        let expected = initializer.elements().saturating_mul(element_size);
        let bytes: std::borrow::Cow<'_, [u8]> = match &initializer.data {
            TensorData::Inline(range) if self.bytes.is_empty() => {
                let file = self.file.as_deref().unwrap_or(Path::new(""));
                std::borrow::Cow::Owned(read_range(file, range.start as u64, range.len() as u64)?)
            }
            TensorData::Inline(range) => std::borrow::Cow::Borrowed(&self.bytes[range.clone()]),
            TensorData::InFile {
                path,
                offset,
                length,
            } => std::borrow::Cow::Owned(read_range(path, *offset, *length)?),
            TensorData::External {
                location,
                offset,
                length,
            } => {
                let length = length.unwrap_or(expected as u64);
                std::borrow::Cow::Owned(read_external(&self.folder, location, *offset, length)?)
            }
            TensorData::Other => {
                return Err(format!(
                    "the weight {} is stored in typed fields, which Pentimento does not patch; \
                     re-export the model",
                    layer.initializer
                ));
            }
        };
        if bytes.len() != expected {
            return Err(format!(
                "the weight {} holds {} bytes, its shape {:?} needs {expected}",
                layer.initializer,
                bytes.len(),
                initializer.dims
            ));
        }
        let values = if initializer.data_type == FLOAT {
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect()
        };
        Ok((values, initializer))
    }

    /// Whether every named initializer already keeps its data in another file.
    pub fn all_external(&self, names: &[&str]) -> bool {
        names.iter().all(|name| {
            matches!(
                self.initializers.get(*name).map(|init| &init.data),
                Some(TensorData::External { .. })
            )
        })
    }

    /// A copy of the model in which each initializer of `moved` keeps its values in the file
    /// `location` at the given byte range instead of inline; everything else is copied as it is.
    pub fn with_external(&self, moved: &HashMap<String, Range<u64>>, location: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len());
        for field in Fields::new(&self.bytes, 0).flatten() {
            if field.number != MODEL_GRAPH || field.wire_type != LENGTH_DELIMITED {
                out.extend_from_slice(&self.bytes[field.range.clone()]);
                continue;
            }
            let (graph, graph_start) = field.payload;
            let mut new_graph = Vec::with_capacity(graph.len());
            for part in Fields::new(graph, graph_start).flatten() {
                let rewritten = (part.number == GRAPH_INITIALIZER)
                    .then(|| part.message().ok())
                    .flatten()
                    .and_then(|message| {
                        let name = tensor_name(message)?;
                        let range = moved.get(&name)?;
                        Some(external_tensor(message, location, range))
                    });
                match rewritten {
                    Some(tensor) => put_bytes(GRAPH_INITIALIZER, &tensor, &mut new_graph),
                    None => {
                        new_graph.extend_from_slice(&self.bytes[part.range.clone()]);
                    }
                }
            }
            put_bytes(MODEL_GRAPH, &new_graph, &mut out);
        }
        out
    }
}

/// ONNX Runtime's operators that take a layer's weights into another form (packed QKV
/// attention, NHWC or blocked convolutions, fused MatMul/Gemm), so that the layer's own weight
/// initializer is no longer what a LoRA would change.
fn is_fused_offline(node: &Node) -> bool {
    node.domain == "com.microsoft.nchwc"
        || (node.domain == "com.microsoft"
            && matches!(
                node.op_type.as_str(),
                "Attention"
                    | "MultiHeadAttention"
                    | "PackedAttention"
                    | "PackedMultiHeadAttention"
                    | "GroupQueryAttention"
                    | "NhwcConv"
                    | "FusedConv"
                    | "FusedMatMul"
                    | "FusedGemm"
            ))
}

/// `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul` →
/// `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`.
fn module_path(node_name: &str) -> Option<String> {
    let trimmed = node_name.strip_prefix('/')?;
    let (path, _op) = trimmed.rsplit_once('/')?;
    (!path.is_empty()).then(|| path.replace('/', "."))
}

fn read_external(
    folder: &Path,
    location: &str,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, String> {
    let path = inside(folder, location)
        .ok_or_else(|| format!("the model names external data outside its folder ({location})"))?;
    read_range(&path, offset, length)
}

/// `location` inside `folder`, unless it leads outside it.
fn inside(folder: &Path, location: &str) -> Option<PathBuf> {
    let relative = Path::new(location);
    let escapes = relative.is_absolute()
        || relative
            .components()
            .any(|part| matches!(part, std::path::Component::ParentDir));
    (!escapes).then(|| folder.join(relative))
}

fn read_range(path: &Path, offset: u64, length: u64) -> Result<Vec<u8>, String> {
    use std::io::{Read, Seek};
    let mut file = std::fs::File::open(path)
        .map_err(|err| format!("cannot open {} ({err})", path.display()))?;
    let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(format!(
            "{} ends before the weight it should hold (the model asks for bytes {offset} to \
             {offset} + {length}, the file has {size})",
            path.display()
        ));
    }
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(|err| format!("cannot read {} ({err})", path.display()))?;
    let mut data = vec![0; length as usize];
    file.read_exact(&mut data).map_err(|err| {
        format!(
            "{} ends before the weight it should hold ({err})",
            path.display()
        )
    })?;
    Ok(data)
}

/// A node as the layer lookup needs it.
#[derive(Default)]
struct Node {
    name: String,
    op_type: String,
    domain: String,
    inputs: Vec<String>,
    trans_b: bool,
}

fn read_node((bytes, start): (&[u8], usize)) -> Result<Node, String> {
    let mut node = Node::default();
    for field in Fields::new(bytes, start) {
        let field = field?;
        match field.number {
            NODE_INPUT => node.inputs.push(field.text()?),
            NODE_NAME => node.name = field.text()?,
            NODE_OP_TYPE => node.op_type = field.text()?,
            NODE_DOMAIN => node.domain = field.text()?,
            NODE_ATTRIBUTE => {
                let (name, value) = field.text_and_varint(ATTRIBUTE_NAME, ATTRIBUTE_INT)?;
                if name == "transB" {
                    node.trans_b = value != 0;
                }
            }
            _ => {}
        }
    }
    Ok(node)
}

fn read_initializer((bytes, start): (&[u8], usize)) -> Result<(String, Initializer), String> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut raw = None;
    let mut typed = false;
    let mut external = false;
    let (mut location, mut offset, mut length) = (None, 0, None);
    for field in Fields::new(bytes, start) {
        let field = field?;
        match field.number {
            TENSOR_DIMS if field.wire_type == VARINT => dims.push(field.varint as i64),
            TENSOR_DIMS => dims.extend(packed_varints(field.payload.0)?.map(|v| v as i64)),
            TENSOR_DATA_TYPE => data_type = field.varint as i32,
            TENSOR_NAME => name = field.text()?,
            TENSOR_RAW_DATA => {
                let (payload, at) = field.payload;
                raw = Some(at..at + payload.len());
            }
            TENSOR_DATA_LOCATION => external = field.varint == EXTERNAL,
            TENSOR_EXTERNAL_DATA => {
                let (mut key, mut value) = (String::new(), String::new());
                for part in Fields::new(field.message()?.0, 0) {
                    let part = part?;
                    match part.number {
                        ENTRY_KEY => key = part.text()?,
                        ENTRY_VALUE => value = part.text()?,
                        _ => {}
                    }
                }
                match key.as_str() {
                    "location" => location = Some(value),
                    "offset" => offset = value.parse().unwrap_or(0),
                    "length" => length = value.parse().ok(),
                    _ => {}
                }
            }
            number if TENSOR_TYPED_DATA.contains(&number) => typed = true,
            _ => {}
        }
    }
    let data = match (external, location, raw) {
        (true, Some(location), _) => TensorData::External {
            location,
            offset,
            length,
        },
        (false, _, Some(range)) if !typed => TensorData::Inline(range),
        _ => TensorData::Other,
    };
    Ok((
        name,
        Initializer {
            dims,
            data_type,
            data,
        },
    ))
}

fn tensor_name((bytes, start): (&[u8], usize)) -> Option<String> {
    Fields::new(bytes, start)
        .flatten()
        .find(|field| field.number == TENSOR_NAME)
        .and_then(|field| field.text().ok())
}

/// The tensor message with its values replaced by a reference to `location`.
fn external_tensor((bytes, start): (&[u8], usize), location: &str, range: &Range<u64>) -> Vec<u8> {
    let dropped: HashSet<u64> = TENSOR_TYPED_DATA
        .into_iter()
        .chain([TENSOR_RAW_DATA, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION])
        .collect();
    let mut out = Vec::new();
    for field in Fields::new(bytes, start).flatten() {
        if !dropped.contains(&field.number) {
            out.extend_from_slice(&bytes[field.range.start - start..field.range.end - start]);
        }
    }
    for (key, value) in [
        ("location", location.to_owned()),
        ("offset", range.start.to_string()),
        ("length", (range.end - range.start).to_string()),
    ] {
        let mut entry = Vec::new();
        put_bytes(ENTRY_KEY, key.as_bytes(), &mut entry);
        put_bytes(ENTRY_VALUE, value.as_bytes(), &mut entry);
        put_bytes(TENSOR_EXTERNAL_DATA, &entry, &mut out);
    }
    put_varint(TENSOR_DATA_LOCATION << 3 | VARINT, &mut out);
    put_varint(EXTERNAL, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, op: &str, domain: &str, inputs: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for input in inputs {
            put_bytes(NODE_INPUT, input.as_bytes(), &mut out);
        }
        put_bytes(NODE_NAME, name.as_bytes(), &mut out);
        put_bytes(NODE_OP_TYPE, op.as_bytes(), &mut out);
        if !domain.is_empty() {
            put_bytes(NODE_DOMAIN, domain.as_bytes(), &mut out);
        }
        out
    }

    fn initializer(name: &str, dims: &[u64], values: &[f32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &dim in dims {
            put_varint(TENSOR_DIMS << 3 | VARINT, &mut out);
            put_varint(dim, &mut out);
        }
        put_varint(TENSOR_DATA_TYPE << 3 | VARINT, &mut out);
        put_varint(FLOAT as u64, &mut out);
        put_bytes(TENSOR_NAME, name.as_bytes(), &mut out);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        put_bytes(TENSOR_RAW_DATA, &raw, &mut out);
        out
    }

    fn model(nodes: &[Vec<u8>], initializers: &[Vec<u8>]) -> Vec<u8> {
        let mut graph = Vec::new();
        for node in nodes {
            put_bytes(GRAPH_NODE, node, &mut graph);
        }
        for tensor in initializers {
            put_bytes(GRAPH_INITIALIZER, tensor, &mut graph);
        }
        let mut out = Vec::new();
        put_varint(1 << 3 | VARINT, &mut out); // ir_version
        put_varint(8, &mut out);
        put_bytes(MODEL_GRAPH, &graph, &mut out);
        out
    }

    #[test]
    fn layers_are_found_through_node_names_and_moved_out_on_request() {
        let bytes = model(
            &[
                node(
                    "/blocks.0/attn/to_q/MatMul",
                    "MatMul",
                    "",
                    &["x", "onnx::MatMul_7"],
                ),
                node("/blocks.0/attn/MatMul", "MatMul", "", &["q", "k"]),
                node(
                    "/blocks.0/conv/Conv",
                    "Conv",
                    "",
                    &["x", "blocks.0.conv.weight"],
                ),
            ],
            &[
                initializer("onnx::MatMul_7", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
                initializer("blocks.0.conv.weight", &[1, 1, 1, 1], &[0.5]),
            ],
        );
        let weights = ModelWeights::from_bytes(bytes, PathBuf::from(".")).expect("reads");
        assert_eq!(weights.fused_operator, None);
        assert_eq!(
            weights.layers.keys().collect::<Vec<_>>(),
            ["blocks.0.attn.to_q", "blocks.0.conv"],
            "the attention-score MatMul has no weight and is no layer"
        );
        let to_q = &weights.layers["blocks.0.attn.to_q"];
        assert_eq!(to_q.op, WeightOp::MatMul);
        let (values, initializer) = weights.weight(to_q).expect("reads");
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(initializer.dims, [2, 3]);

        let moved = HashMap::from([("onnx::MatMul_7".to_owned(), 64..88)]);
        let rewritten = weights.with_external(&moved, "merged.bin");
        let again = ModelWeights::from_bytes(rewritten, PathBuf::from(".")).expect("reads");
        assert_eq!(
            again.initializers["onnx::MatMul_7"].data,
            TensorData::External {
                location: "merged.bin".to_owned(),
                offset: 64,
                length: Some(24),
            }
        );
        assert_eq!(again.initializers["onnx::MatMul_7"].dims, [2, 3]);
        assert_eq!(
            again.layers, weights.layers,
            "the graph is otherwise the same"
        );
        assert!(matches!(
            again.initializers["blocks.0.conv.weight"].data,
            TensorData::Inline(_)
        ));
        assert!(again.all_external(&["onnx::MatMul_7"]));
        assert!(!again.all_external(&["onnx::MatMul_7", "blocks.0.conv.weight"]));
    }

    #[test]
    fn graphs_fused_offline_are_recognised() {
        let bytes = model(
            &[node(
                "Attention_0",
                "Attention",
                "com.microsoft",
                &["x", "qkv"],
            )],
            &[initializer("qkv", &[1, 3], &[1.0, 2.0, 3.0])],
        );
        let weights = ModelWeights::from_bytes(bytes, PathBuf::from(".")).expect("reads");
        assert_eq!(weights.fused_operator.as_deref(), Some("Attention"));
    }

    #[test]
    fn a_truncated_model_is_an_error() {
        let bytes = model(
            &[node("/a/MatMul", "MatMul", "", &["x", "w"])],
            &[initializer("w", &[4], &[1.0; 4])],
        );
        let err = ModelWeights::from_bytes(bytes[..bytes.len() - 7].to_vec(), PathBuf::from("."))
            .expect_err("truncated");
        assert!(err.contains("truncated"), "{err}");
    }
}
