//! Rewrites the attention of exported UNets and VAEs into ONNX Runtime's fused
//! `com.microsoft.MultiHeadAttention`.
//!
//! torch.onnx exports `scaled_dot_product_attention` (opset 14, what diffusers' conversion script
//! writes) as plain operators:
//!
//! ```text
//! q ─ Reshape [B,-1,H,d] ─ Transpose 0213 ─ Mul √s ─┐
//! k ─ Reshape [B,-1,H,d] ─ Transpose 0231 ─ Mul √s ─ MatMul ─ Softmax ─ MatMul ─ Transpose 0213 ─ Reshape [B,-1,H·d]
//! v ─ Reshape [B,-1,H,d] ─ Transpose 0213 ──────────────────────────────┘
//! ```
//!
//! which materialises the whole `[B, H, S, S]` score tensor — 1 GiB per self-attention of an
//! SD 1.5 UNet at 64² latents. MultiHeadAttention takes `q`, `k` and `v` as `[B, S, H·d]` and
//! computes the same softmax(q·kᵀ·s)·v in tiles on the CPU. The rewrite replaces the chain from
//! the three projections to the final Reshape with one node and removes what only the chain
//! used. A chain is rewritten only when every step matches exactly: the permutations, the
//! reshape targets (same batch, `-1`, the same head count, the same head size for q, k and v, and
//! their product on the way back), the single uses of the scores and the probabilities, and a
//! scale that is either the default `1/√d` computed from the query's shape or a constant.
//! Anything else is left as it was, with the reason in [`Fusion::skipped`].
//!
//! The file is walked in protobuf's wire format (see `onnx_wire`): every field the rewrite does
//! not touch — weights, metadata, fields newer than this code — is copied byte for byte.

use std::collections::{HashMap, HashSet};

use crate::onnx_wire::{FIXED32, Fields, LENGTH_DELIMITED, VARINT, put_bytes, put_varint};

// Field numbers from onnx.proto.
const MODEL_GRAPH: u64 = 7;
const MODEL_OPSET_IMPORT: u64 = 8;
const OPSET_DOMAIN: u64 = 1;
const OPSET_VERSION: u64 = 2;
const GRAPH_NODE: u64 = 1;
const GRAPH_OUTPUT: u64 = 12;
const GRAPH_VALUE_INFO: u64 = 13;
const VALUE_INFO_NAME: u64 = 1;
const NODE_INPUT: u64 = 1;
const NODE_OUTPUT: u64 = 2;
const NODE_NAME: u64 = 3;
const NODE_OP_TYPE: u64 = 4;
const NODE_ATTRIBUTE: u64 = 5;
const NODE_DOMAIN: u64 = 7;
const ATTRIBUTE_NAME: u64 = 1;
const ATTRIBUTE_FLOAT: u64 = 2;
const ATTRIBUTE_INT: u64 = 3;
const ATTRIBUTE_TENSOR: u64 = 5;
const ATTRIBUTE_GRAPH: u64 = 6;
const ATTRIBUTE_INTS: u64 = 8;
const ATTRIBUTE_GRAPHS: u64 = 10;
const ATTRIBUTE_TYPE: u64 = 20;
const TENSOR_DIMS: u64 = 1;
const TENSOR_DATA_TYPE: u64 = 2;
const TENSOR_FLOAT_DATA: u64 = 4;
const TENSOR_INT64_DATA: u64 = 7;
const TENSOR_RAW_DATA: u64 = 9;
/// `AttributeProto.AttributeType`.
const TYPE_FLOAT: u64 = 1;
const TYPE_INT: u64 = 2;
/// `TensorProto.DataType`.
const DATA_FLOAT: u64 = 1;
const DATA_INT64: u64 = 7;

/// The domain of ONNX Runtime's contributed operators.
pub const MICROSOFT_DOMAIN: &str = "com.microsoft";

/// A model with its attention rewritten.
#[derive(Debug)]
pub struct Fusion {
    /// The rewritten `model.onnx`; `None` when nothing matched and the model is best used as
    /// it is.
    pub model: Option<Vec<u8>>,
    /// How many attention blocks became MultiHeadAttention.
    pub fused: usize,
    /// Softmax nodes left alone, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Rewrites every attention of `model` (the bytes of a `model.onnx`) that matches exactly.
pub fn fuse_attention(model: &[u8]) -> Result<Fusion, String> {
    let unchanged = |reason: &str| Fusion {
        model: None,
        fused: 0,
        skipped: vec![(String::new(), reason.to_owned())],
    };
    let mut graph_field = None;
    let mut default_opset = 1;
    for field in Fields::new(model, 0) {
        let field = field?;
        match field.number {
            MODEL_GRAPH => graph_field = Some(field.message()?),
            MODEL_OPSET_IMPORT => {
                let (domain, version) = field.text_and_varint(OPSET_DOMAIN, OPSET_VERSION)?;
                if domain.is_empty() || domain == "ai.onnx" {
                    default_opset = version;
                }
                if domain == MICROSOFT_DOMAIN {
                    return Ok(unchanged(
                        "the model was already optimized for ONNX Runtime",
                    ));
                }
            }
            _ => {}
        }
    }
    let (graph_bytes, _) = graph_field.ok_or("the model has no graph")?;
    let graph = Graph::read(graph_bytes)?;
    if graph.nodes.iter().any(|node| node.has_subgraph) {
        return Ok(unchanged("the model has subgraphs"));
    }
    let mut replaced: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut skipped = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        if node.op_type != "Softmax" || !node.domain.is_empty() {
            continue;
        }
        match graph.match_attention(index, default_opset) {
            Ok(found) => {
                replaced.insert(found.output_node, found.node_bytes(&graph));
            }
            Err(reason) => skipped.push((node.name.clone(), reason.to_owned())),
        }
    }
    if replaced.is_empty() {
        return Ok(Fusion {
            model: None,
            fused: 0,
            skipped,
        });
    }
    let fused = replaced.len();
    let rewritten = graph.rewrite(graph_bytes, &replaced)?;
    let mut out = Vec::with_capacity(model.len());
    let mut graph_written = false;
    for field in Fields::new(model, 0) {
        let field = field?;
        if field.number == MODEL_GRAPH {
            if !graph_written {
                put_bytes(MODEL_GRAPH, &rewritten, &mut out);
                graph_written = true;
            }
        } else {
            out.extend_from_slice(&model[field.range.clone()]);
        }
    }
    let mut opset = Vec::new();
    put_bytes(OPSET_DOMAIN, MICROSOFT_DOMAIN.as_bytes(), &mut opset);
    put_varint(OPSET_VERSION << 3 | VARINT, &mut opset);
    put_varint(1, &mut opset);
    put_bytes(MODEL_OPSET_IMPORT, &opset, &mut out);
    Ok(Fusion {
        model: Some(out),
        fused,
        skipped,
    })
}

/// A small constant tensor's values.
#[derive(Clone, Debug, PartialEq)]
enum Constant {
    Ints(Vec<i64>),
    Floats(Vec<f32>),
}

#[derive(Debug, Default)]
struct Node<'a> {
    raw: &'a [u8],
    name: String,
    op_type: String,
    domain: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    ints: HashMap<String, Vec<i64>>,
    has_subgraph: bool,
    /// The value of a `Constant` node.
    constant: Option<Constant>,
}

impl Node<'_> {
    fn int(&self, name: &str) -> Option<i64> {
        self.ints
            .get(name)
            .and_then(|values| values.first().copied())
    }

    /// Whether this is `op_type` of the default domain, with at least the inputs and the
    /// output the matcher reads (a malformed node matches nothing).
    fn is(&self, op_type: &str) -> bool {
        let inputs = match op_type {
            "MatMul" | "Mul" | "Div" | "Reshape" => 2,
            "Slice" => 3,
            "Constant" => 0,
            _ => 1,
        };
        self.op_type == op_type
            && self.domain.is_empty()
            && self.inputs.len() >= inputs
            && !self.outputs.is_empty()
    }
}

struct Graph<'a> {
    nodes: Vec<Node<'a>>,
    producer: HashMap<String, usize>,
    consumers: HashMap<String, Vec<usize>>,
    outputs: HashSet<String>,
}

/// One attention chain that matched.
struct Attention {
    /// The final Reshape, whose place the fused node takes.
    output_node: usize,
    query: String,
    key: String,
    value: String,
    heads: i64,
    /// `None` for the default `1/√d`.
    scale: Option<f32>,
}

impl Attention {
    fn node_bytes(&self, graph: &Graph<'_>) -> Vec<u8> {
        let reshape = &graph.nodes[self.output_node];
        let prefix = reshape
            .name
            .rsplit_once('/')
            .map_or(reshape.name.as_str(), |(prefix, _)| prefix);
        let mut node = Vec::new();
        for input in [&self.query, &self.key, &self.value] {
            put_bytes(NODE_INPUT, input.as_bytes(), &mut node);
        }
        put_bytes(NODE_OUTPUT, reshape.outputs[0].as_bytes(), &mut node);
        put_bytes(
            NODE_NAME,
            format!("{prefix}/MultiHeadAttention").as_bytes(),
            &mut node,
        );
        put_bytes(NODE_OP_TYPE, b"MultiHeadAttention", &mut node);
        let mut heads = Vec::new();
        put_bytes(ATTRIBUTE_NAME, b"num_heads", &mut heads);
        put_varint(ATTRIBUTE_INT << 3 | VARINT, &mut heads);
        put_varint(self.heads as u64, &mut heads);
        put_varint(ATTRIBUTE_TYPE << 3 | VARINT, &mut heads);
        put_varint(TYPE_INT, &mut heads);
        put_bytes(NODE_ATTRIBUTE, &heads, &mut node);
        if let Some(scale) = self.scale {
            let mut attribute = Vec::new();
            put_bytes(ATTRIBUTE_NAME, b"scale", &mut attribute);
            put_varint(ATTRIBUTE_FLOAT << 3 | FIXED32, &mut attribute);
            attribute.extend_from_slice(&scale.to_le_bytes());
            put_varint(ATTRIBUTE_TYPE << 3 | VARINT, &mut attribute);
            put_varint(TYPE_FLOAT, &mut attribute);
            put_bytes(NODE_ATTRIBUTE, &attribute, &mut node);
        }
        put_bytes(NODE_DOMAIN, MICROSOFT_DOMAIN.as_bytes(), &mut node);
        node
    }
}

/// Shorthand for a failed match.
type Matched<T> = Result<T, &'static str>;

impl<'a> Graph<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, String> {
        let mut nodes = Vec::new();
        let mut outputs = HashSet::new();
        for field in Fields::new(bytes, 0) {
            let field = field?;
            match field.number {
                GRAPH_NODE => nodes.push(read_node(field.message()?.0)?),
                GRAPH_OUTPUT => {
                    if let Some(name) = value_info_name(field.message()?.0)? {
                        outputs.insert(name);
                    }
                }
                _ => {}
            }
        }
        let mut producer = HashMap::new();
        let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, node) in nodes.iter().enumerate() {
            for output in &node.outputs {
                producer.insert(output.clone(), index);
            }
            for input in node.inputs.iter().filter(|input| !input.is_empty()) {
                consumers.entry(input.clone()).or_default().push(index);
            }
        }
        Ok(Self {
            nodes,
            producer,
            consumers,
            outputs,
        })
    }

    /// The node that produces `name`, when it is the operator `op_type`.
    fn made_by(&self, name: &str, op_type: &str) -> Matched<&Node<'a>> {
        self.producer
            .get(name)
            .map(|&index| &self.nodes[index])
            .filter(|node| node.is(op_type))
            .ok_or("a step of the chain is another operator")
    }

    /// Passes over `Cast` nodes to float.
    fn through_float_casts<'n>(&'n self, mut name: &'n str) -> &'n str {
        while let Ok(cast) = self.made_by(name, "Cast") {
            if cast.int("to") != Some(DATA_FLOAT as i64) {
                break;
            }
            name = &cast.inputs[0];
        }
        name
    }

    /// The only node that reads `name`.
    fn single_use(&self, name: &str, op_type: &str) -> Matched<(usize, &Node<'a>)> {
        if self.outputs.contains(name) {
            return Err("an intermediate is also a graph output");
        }
        match self.consumers.get(name).map(Vec::as_slice) {
            Some([index]) if self.nodes[*index].is(op_type) => Ok((*index, &self.nodes[*index])),
            Some([_]) => Err("a step of the chain is another operator"),
            _ => Err("an intermediate has other uses"),
        }
    }

    fn constant(&self, name: &str) -> Option<&Constant> {
        self.made_by(name, "Constant").ok()?.constant.as_ref()
    }

    fn transpose_of(&self, name: &str, perm: &[i64]) -> Matched<&Node<'a>> {
        let node = self.made_by(name, "Transpose")?;
        if node.ints.get("perm").map(Vec::as_slice) == Some(perm) {
            Ok(node)
        } else {
            Err("a transpose has another permutation")
        }
    }

    /// The scalar inside `Unsqueeze(x, axes=[0])`.
    fn unsqueezed(&self, name: &str) -> Matched<&str> {
        let node = self.made_by(name, "Unsqueeze")?;
        let axes = match node.inputs.get(1) {
            Some(axes) => self.constant(axes).cloned(),
            None => node.ints.get("axes").cloned().map(Constant::Ints),
        };
        if axes == Some(Constant::Ints(vec![0])) {
            Ok(&node.inputs[0])
        } else {
            Err("a reshape target is built another way")
        }
    }

    /// The parts of a `Reshape(x, Concat(Unsqueeze(b), [-1], [H], Unsqueeze(d)))` that splits the
    /// heads: `(x, b, H, d)`.
    fn head_split<'s>(
        &'s self,
        reshape: &'s Node<'a>,
    ) -> Matched<(&'s str, &'s str, i64, &'s str)> {
        if reshape.int("allowzero").unwrap_or(0) != 0 {
            return Err("a reshape allows zeros");
        }
        let concat = self.made_by(&reshape.inputs[1], "Concat")?;
        let [batch, rest, heads, size] = concat.inputs.as_slice() else {
            return Err("a reshape target has another rank");
        };
        if concat.int("axis") != Some(0) || self.constant(rest) != Some(&Constant::Ints(vec![-1])) {
            return Err("a reshape target is built another way");
        }
        let Some(Constant::Ints(heads)) = self.constant(heads) else {
            return Err("the head count is not a constant");
        };
        let [heads] = heads.as_slice() else {
            return Err("the head count is not a constant");
        };
        if *heads < 1 {
            return Err("the head count is not positive");
        }
        Ok((
            reshape.inputs[0].as_str(),
            self.unsqueezed(batch)?,
            *heads,
            self.unsqueezed(size)?,
        ))
    }

    fn match_attention(&self, softmax_index: usize, default_opset: u64) -> Matched<Attention> {
        let softmax = &self.nodes[softmax_index];
        match softmax.int("axis") {
            Some(-1 | 3) => {}
            None if default_opset >= 13 => {}
            _ => return Err("the softmax runs over another axis"),
        }
        let scores = self.made_by(&softmax.inputs[0], "MatMul")?;
        self.single_use(&scores.outputs[0], "Softmax")?;
        let (query, query_heads, query_scale) = self.scaled(&scores.inputs[0], &[0, 2, 1, 3])?;
        let (key, _, key_scale) = self.scaled(&scores.inputs[1], &[0, 2, 3, 1])?;
        // torch computes the default scale once, from the query split into heads.
        let query_scale = self.scale(query_scale, query_heads)?;
        let key_scale = self.scale(key_scale, query_heads)?;
        let (_, mix) = self.single_use(&softmax.outputs[0], "MatMul")?;
        if mix.inputs[0] != softmax.outputs[0] {
            return Err("the probabilities are the second factor");
        }
        let value = self.transpose_of(&mix.inputs[1], &[0, 2, 1, 3])?;
        let value = self.made_by(&value.inputs[0], "Reshape")?;
        let (_, merge) = self.single_use(&mix.outputs[0], "Transpose")?;
        if merge.ints.get("perm").map(Vec::as_slice) != Some(&[0, 2, 1, 3]) {
            return Err("a transpose has another permutation");
        }
        let (output_node, back) = self.single_use(&merge.outputs[0], "Reshape")?;
        if back.inputs[0] != merge.outputs[0] {
            return Err("the heads are merged another way");
        }

        let (q, q_batch, heads, q_size) = self.head_split(query)?;
        let (k, k_batch, k_heads, k_size) = self.head_split(key)?;
        let (v, v_batch, v_heads, v_size) = self.head_split(value)?;
        if [k_heads, v_heads] != [heads, heads]
            || [k_batch, v_batch] != [q_batch, q_batch]
            || [k_size, v_size] != [q_size, q_size]
        {
            return Err("q, k and v are split into heads differently");
        }
        // The way back: Reshape(x, Concat(Unsqueeze(b), [-1], Unsqueeze(d·H))).
        if back.int("allowzero").unwrap_or(0) != 0 {
            return Err("a reshape allows zeros");
        }
        let concat = self.made_by(&back.inputs[1], "Concat")?;
        let [batch, rest, width] = concat.inputs.as_slice() else {
            return Err("the heads are merged another way");
        };
        if concat.int("axis") != Some(0)
            || self.constant(rest) != Some(&Constant::Ints(vec![-1]))
            || self.unsqueezed(batch)? != q_batch
        {
            return Err("the heads are merged another way");
        }
        let width = self.unsqueezed(width)?;
        let merged_width = if width == q_size {
            heads == 1
        } else if let Ok(product) = self.made_by(width, "Mul") {
            let factors = [product.inputs[0].as_str(), product.inputs[1].as_str()];
            let heads_constant = |name: &str| matches!(self.constant(name), Some(Constant::Ints(values)) if values.as_slice() == [heads]);
            (factors[0] == q_size && heads_constant(factors[1]))
                || (factors[1] == q_size && heads_constant(factors[0]))
        } else {
            false
        };
        if !merged_width {
            return Err("the heads are merged to another width");
        }

        let scale = match (query_scale, key_scale) {
            (Scale::Default, Scale::Default) => None,
            (Scale::Constant(a), Scale::Constant(b)) => Some(a * b),
            _ => return Err("q and k are scaled differently"),
        };
        Ok(Attention {
            output_node,
            query: q.to_owned(),
            key: k.to_owned(),
            value: v.to_owned(),
            heads,
            scale,
        })
    }

    /// `Mul(Transpose(Reshape(..), perm), factor)`: the Reshape, the Transpose's output and the
    /// factor.
    fn scaled(&self, name: &str, perm: &[i64]) -> Matched<(&Node<'a>, &str, &str)> {
        let product = self.made_by(name, "Mul")?;
        for (tensor, factor) in [(0, 1), (1, 0)] {
            let Ok(transpose) = self.transpose_of(&product.inputs[tensor], perm) else {
                continue;
            };
            let reshape = self.made_by(&transpose.inputs[0], "Reshape")?;
            return Ok((reshape, &transpose.outputs[0], &product.inputs[factor]));
        }
        Err("q or k is not a scaled transpose")
    }

    /// A factor that is `√(1/√d)` with `d` the last dimension of `heads` (what torch exports for
    /// the default scale), or a float constant.
    fn scale(&self, name: &str, heads: &str) -> Matched<Scale> {
        if let Some(Constant::Floats(values)) = self.constant(name) {
            return match values.as_slice() {
                [value] => Ok(Scale::Constant(*value)),
                _ => Err("the scale is not a scalar"),
            };
        }
        let root = self.made_by(name, "Sqrt")?;
        let ratio = self.made_by(self.through_float_casts(&root.inputs[0]), "Div")?;
        if self.constant(&ratio.inputs[0]) != Some(&Constant::Floats(vec![1.0])) {
            return Err("the scale is not 1/√d");
        }
        let size_root = self.made_by(&ratio.inputs[1], "Sqrt")?;
        let slice = self.made_by(self.through_float_casts(&size_root.inputs[0]), "Slice")?;
        let shape = self.made_by(&slice.inputs[0], "Shape")?;
        let starts = slice.inputs.get(1).and_then(|name| self.constant(name));
        let ends = slice.inputs.get(2).and_then(|name| self.constant(name));
        let axes = slice.inputs.get(3).filter(|name| !name.is_empty());
        let steps = slice.inputs.get(4).filter(|name| !name.is_empty());
        let last_only = starts == Some(&Constant::Ints(vec![-1]))
            && matches!(ends, Some(Constant::Ints(ends)) if ends.len() == 1 && ends[0] >= i64::from(i32::MAX))
            && axes.is_none_or(|axes| self.constant(axes) == Some(&Constant::Ints(vec![0])))
            && steps.is_none_or(|steps| self.constant(steps) == Some(&Constant::Ints(vec![1])));
        if shape.inputs[0] != heads || !last_only || !shape.ints.is_empty() {
            return Err("the scale is not 1/√d of the head size");
        }
        Ok(Scale::Default)
    }

    /// The graph's bytes with the replacements made and every node no output needs any more
    /// removed.
    fn rewrite(&self, bytes: &[u8], replaced: &HashMap<usize, Vec<u8>>) -> Result<Vec<u8>, String> {
        // Liveness, from the graph outputs backwards (nodes are in topological order).
        let mut needed: HashSet<&str> = self.outputs.iter().map(String::as_str).collect();
        let mut keep = vec![false; self.nodes.len()];
        let fused_inputs: HashMap<usize, Vec<String>> = replaced
            .iter()
            .map(|(&index, node)| (index, inputs_of(node)))
            .collect();
        for (index, node) in self.nodes.iter().enumerate().rev() {
            let live = node.outputs.is_empty()
                || node
                    .outputs
                    .iter()
                    .any(|output| needed.contains(output.as_str()));
            if !live {
                continue;
            }
            keep[index] = true;
            let inputs = fused_inputs.get(&index).unwrap_or(&node.inputs);
            for input in inputs {
                needed.insert(input.as_str());
            }
        }
        let produced: HashSet<&str> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(index, _)| keep[*index])
            .flat_map(|(_, node)| node.outputs.iter().map(String::as_str))
            .collect();
        let all_produced: HashSet<&str> = self
            .nodes
            .iter()
            .flat_map(|node| node.outputs.iter().map(String::as_str))
            .collect();
        let mut out = Vec::with_capacity(bytes.len());
        let mut nodes_written = false;
        for field in Fields::new(bytes, 0) {
            let field = field?;
            match field.number {
                GRAPH_NODE => {
                    if nodes_written {
                        continue;
                    }
                    nodes_written = true;
                    for (index, node) in self.nodes.iter().enumerate() {
                        if !keep[index] {
                            continue;
                        }
                        match replaced.get(&index) {
                            Some(fused) => put_bytes(GRAPH_NODE, fused, &mut out),
                            None => put_bytes(GRAPH_NODE, node.raw, &mut out),
                        }
                    }
                }
                GRAPH_VALUE_INFO => {
                    // Shapes recorded for tensors that no longer exist would confuse readers.
                    let name = value_info_name(field.message()?.0)?.unwrap_or_default();
                    if !all_produced.contains(name.as_str()) || produced.contains(name.as_str()) {
                        out.extend_from_slice(&bytes[field.range.clone()]);
                    }
                }
                _ => out.extend_from_slice(&bytes[field.range.clone()]),
            }
        }
        Ok(out)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scale {
    Default,
    Constant(f32),
}

fn inputs_of(node: &[u8]) -> Vec<String> {
    Fields::new(node, 0)
        .flatten()
        .filter(|field| field.number == NODE_INPUT)
        .filter_map(|field| field.text().ok())
        .collect()
}

fn value_info_name(bytes: &[u8]) -> Result<Option<String>, String> {
    for field in Fields::new(bytes, 0) {
        let field = field?;
        if field.number == VALUE_INFO_NAME {
            return Ok(Some(field.text()?));
        }
    }
    Ok(None)
}

fn read_node(bytes: &[u8]) -> Result<Node<'_>, String> {
    let mut node = Node {
        raw: bytes,
        ..Node::default()
    };
    for field in Fields::new(bytes, 0) {
        let field = field?;
        match field.number {
            NODE_INPUT => node.inputs.push(field.text()?),
            NODE_OUTPUT => node.outputs.push(field.text()?),
            NODE_NAME => node.name = field.text()?,
            NODE_OP_TYPE => node.op_type = field.text()?,
            NODE_DOMAIN => node.domain = field.text()?,
            NODE_ATTRIBUTE => {
                let mut name = String::new();
                let mut ints = Vec::new();
                let mut tensor = None;
                for part in Fields::new(field.message()?.0, 0) {
                    let part = part?;
                    match (part.number, part.wire_type) {
                        (ATTRIBUTE_NAME, _) => name = part.text()?,
                        (ATTRIBUTE_INT, VARINT) | (ATTRIBUTE_INTS, VARINT) => {
                            ints.push(part.varint as i64);
                        }
                        (ATTRIBUTE_INTS, LENGTH_DELIMITED) => ints.extend(
                            crate::onnx_wire::packed_varints(part.payload.0)?.map(|v| v as i64),
                        ),
                        (ATTRIBUTE_TENSOR, _) => tensor = Some(read_constant(part.message()?.0)?),
                        (ATTRIBUTE_GRAPH | ATTRIBUTE_GRAPHS, _) => node.has_subgraph = true,
                        _ => {}
                    }
                }
                if name == "value" {
                    node.constant = tensor.flatten();
                } else if !ints.is_empty() {
                    node.ints.insert(name, ints);
                }
            }
            _ => {}
        }
    }
    // Domain "ai.onnx" is the default domain under its long name.
    if node.domain == "ai.onnx" {
        node.domain.clear();
    }
    Ok(node)
}

/// The values of a small int64 or float tensor; `None` for other types and for large tensors.
fn read_constant(bytes: &[u8]) -> Result<Option<Constant>, String> {
    const SMALL: usize = 16;
    let mut data_type = 0;
    let mut count = 1_usize;
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    let mut raw: Option<&[u8]> = None;
    for field in Fields::new(bytes, 0) {
        let field = field?;
        match (field.number, field.wire_type) {
            (TENSOR_DIMS, VARINT) => count = count.saturating_mul(field.varint as usize),
            (TENSOR_DIMS, LENGTH_DELIMITED) => {
                for dim in crate::onnx_wire::packed_varints(field.payload.0)? {
                    count = count.saturating_mul(dim as usize);
                }
            }
            (TENSOR_DATA_TYPE, _) => data_type = field.varint,
            (TENSOR_INT64_DATA, VARINT) => ints.push(field.varint as i64),
            (TENSOR_INT64_DATA, LENGTH_DELIMITED) => {
                ints.extend(crate::onnx_wire::packed_varints(field.payload.0)?.map(|v| v as i64));
            }
            (TENSOR_FLOAT_DATA, LENGTH_DELIMITED) => floats.extend(
                field
                    .payload
                    .0
                    .chunks_exact(4)
                    .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])),
            ),
            (TENSOR_RAW_DATA, _) => raw = Some(field.payload.0),
            _ => {}
        }
    }
    if count > SMALL {
        return Ok(None);
    }
    Ok(match (data_type, raw) {
        (DATA_INT64, Some(raw)) => Some(Constant::Ints(
            raw.chunks_exact(8)
                .map(|chunk| i64::from_le_bytes(chunk.try_into().unwrap_or_default()))
                .collect(),
        )),
        (DATA_INT64, None) => Some(Constant::Ints(ints)),
        (DATA_FLOAT, Some(raw)) => Some(Constant::Floats(
            raw.chunks_exact(4)
                .map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap_or_default()))
                .collect(),
        )),
        (DATA_FLOAT, None) => Some(Constant::Floats(floats)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(model: &str, component: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/models")
            .join(model)
            .join(component)
            .join("model.onnx");
        std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    fn count_ops(model: &[u8], op_type: &str) -> usize {
        let graph = Fields::new(model, 0)
            .flatten()
            .find(|field| field.number == MODEL_GRAPH)
            .expect("a graph");
        Graph::read(graph.payload.0)
            .expect("readable")
            .nodes
            .iter()
            .filter(|node| node.op_type == op_type)
            .count()
    }

    #[test]
    fn every_attention_of_the_exported_unet_and_vae_is_fused() {
        for model in ["tiny-sd", "tiny-sd-inpaint"] {
            for (component, expected) in [("unet", 8), ("vae_decoder", 1), ("vae_encoder", 1)] {
                let original = fixture(model, component);
                let softmaxes = count_ops(&original, "Softmax");
                let fusion = fuse_attention(&original).expect("readable");
                assert_eq!(
                    fusion.fused, expected,
                    "{model}/{component}: {:?}",
                    fusion.skipped
                );
                assert_eq!(softmaxes, expected);
                assert!(fusion.skipped.is_empty(), "{:?}", fusion.skipped);
                let fused = fusion.model.expect("a rewritten model");
                assert_eq!(count_ops(&fused, "Softmax"), 0);
                assert_eq!(count_ops(&fused, "MultiHeadAttention"), expected);
                // A fused model is not rewritten again.
                assert!(fuse_attention(&fused).expect("readable").model.is_none());
            }
        }
    }

    #[test]
    fn the_optimum_exports_fuse_and_a_float16_export_is_left_alone() {
        for model in ["tiny-sd-optimum", "tiny-sd-inpaint-optimum"] {
            for (component, expected) in [("unet", 8), ("vae_decoder", 1), ("vae_encoder", 1)] {
                let fusion = fuse_attention(&fixture(model, component)).expect("readable");
                assert_eq!(
                    fusion.fused, expected,
                    "{model}/{component}: {:?}",
                    fusion.skipped
                );
            }
        }
        // Its chain has casts between the steps; the matcher does not take them apart.
        for component in ["unet", "vae_decoder", "vae_encoder"] {
            let fusion =
                fuse_attention(&fixture("tiny-sd-inpaint-fp16", component)).expect("readable");
            assert!(fusion.model.is_none(), "{component}");
            assert!(!fusion.skipped.is_empty());
        }
    }

    #[test]
    fn an_attention_with_a_mask_is_left_alone() {
        // CLIP's causal attention adds a mask between the scores and the softmax.
        let text_encoder = fixture("tiny-sd", "text_encoder");
        assert!(count_ops(&text_encoder, "Softmax") > 0);
        let fusion = fuse_attention(&text_encoder).expect("readable");
        assert!(fusion.model.is_none());
        assert_eq!(fusion.fused, 0);
        assert_eq!(fusion.skipped.len(), count_ops(&text_encoder, "Softmax"));
    }
}
