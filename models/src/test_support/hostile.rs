//! Hostile model files, made at test time from a real model: truncated, bit-flipped, with
//! metadata removed or lying, with tensor declarations that lie about their shapes, or with
//! nodes that compute something else than the graph declares.
//!
//! The edits go through a small protobuf reader and writer ([`Field`], [`parse_message`],
//! [`encode_message`]), not through same-length byte patches: a message is split into its
//! fields, the field on the way to the edit is parsed in turn, and everything is written back
//! with fresh lengths. Fields the edit does not touch keep their bytes.

/// The bytes of the shipped Melody RNN (the real model the hostile files are made from).
pub fn melody_basic() -> &'static [u8] {
    match crate::shipped::MELODY_BASIC {
        crate::session::ModelSource::Embedded { bytes, .. } => bytes,
        crate::session::ModelSource::File(_) => unreachable!("shipped models are embedded"),
    }
}

/// A tiny Melody RNN ([`super::MELODY_ONEHOT`]) whose state passes through, declared `width`
/// floats wide on both sides (a width of 2^40 asks a loader for 4 TiB).
pub fn tiny_melody_with_state(width: i64) -> Vec<u8> {
    let tiny = super::MELODY_ONEHOT.model_bytes("tiny");
    with_declared_last_dim(
        &with_declared_last_dim(&tiny, GraphIo::Input, "state_in.0", width),
        GraphIo::Output,
        "state_out.0",
        width,
    )
}

/// A protobuf field value, by wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Wire type 0: a varint.
    Varint(u64),
    /// Wire type 1: eight bytes.
    Fixed64([u8; 8]),
    /// Wire type 2: length-delimited bytes (a string, bytes, a message or packed values).
    Len(Vec<u8>),
    /// Wire type 5: four bytes.
    Fixed32([u8; 4]),
}

/// One field of a protobuf message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field number.
    pub number: u32,
    /// Its value.
    pub value: Wire,
}

impl Field {
    /// A length-delimited field.
    pub fn bytes(number: u32, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            number,
            value: Wire::Len(bytes.into()),
        }
    }

    /// A varint field.
    pub fn varint(number: u32, value: u64) -> Self {
        Self {
            number,
            value: Wire::Varint(value),
        }
    }

    /// The bytes of a length-delimited field; `None` for the other wire types.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Wire::Len(b) => Some(b),
            _ => None,
        }
    }
}

/// Reads a varint at `*pos`, advancing it; `None` when the bytes end inside it or it is longer
/// than ten bytes.
fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Appends a varint.
fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Splits a message into its fields; `None` when the bytes are not a well-formed message (a
/// group, a field number 0, or a field running past the end).
pub fn parse_message(bytes: &[u8]) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let key = read_varint(bytes, &mut pos)?;
        let number = u32::try_from(key >> 3).ok().filter(|&n| n > 0)?;
        let value = match key & 7 {
            0 => Wire::Varint(read_varint(bytes, &mut pos)?),
            1 => {
                let b = bytes.get(pos..pos + 8)?;
                pos += 8;
                Wire::Fixed64(b.try_into().ok()?)
            }
            2 => {
                let len = usize::try_from(read_varint(bytes, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                let b = bytes.get(pos..end)?;
                pos = end;
                Wire::Len(b.to_vec())
            }
            5 => {
                let b = bytes.get(pos..pos + 4)?;
                pos += 4;
                Wire::Fixed32(b.try_into().ok()?)
            }
            _ => return None,
        };
        fields.push(Field { number, value });
    }
    Some(fields)
}

/// Writes fields back into a message.
pub fn encode_message(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        let key = u64::from(field.number) << 3;
        match &field.value {
            Wire::Varint(v) => {
                write_varint(&mut out, key);
                write_varint(&mut out, *v);
            }
            Wire::Fixed64(b) => {
                write_varint(&mut out, key | 1);
                out.extend_from_slice(b);
            }
            Wire::Len(b) => {
                write_varint(&mut out, key | 2);
                write_varint(&mut out, b.len() as u64);
                out.extend_from_slice(b);
            }
            Wire::Fixed32(b) => {
                write_varint(&mut out, key | 5);
                out.extend_from_slice(b);
            }
        }
    }
    out
}

/// `ModelProto.graph`.
const MODEL_GRAPH: u32 = 7;
/// `ModelProto.metadata_props`.
const MODEL_METADATA: u32 = 14;
/// `GraphProto.node`.
const GRAPH_NODE: u32 = 1;
/// `GraphProto.input`.
const GRAPH_INPUT: u32 = 11;
/// `GraphProto.output`.
const GRAPH_OUTPUT: u32 = 12;
/// `NodeProto.output`.
const NODE_OUTPUT: u32 = 2;
/// `ValueInfoProto.name` (and `StringStringEntryProto.key`).
const NAME: u32 = 1;
/// `ValueInfoProto.type` (and `StringStringEntryProto.value`).
const TYPE: u32 = 2;
/// `TypeProto.tensor_type`.
const TENSOR_TYPE: u32 = 1;
/// `TypeProto.Tensor.shape`.
const SHAPE: u32 = 2;
/// `TensorShapeProto.dim`.
const DIM: u32 = 1;
/// `Dimension.dim_value`.
const DIM_VALUE: u32 = 1;

/// Rewrites every length-delimited field `number` of `message` with `edit` (which gets the
/// field's parsed fields); `None` when a message on the way is not well formed.
fn edit_fields(
    message: &[u8],
    number: u32,
    mut edit: impl FnMut(&mut Vec<Field>) -> Option<()>,
) -> Option<Vec<u8>> {
    let mut fields = parse_message(message)?;
    for field in fields.iter_mut().filter(|f| f.number == number) {
        let Wire::Len(inner) = &field.value else {
            continue;
        };
        let mut parsed = parse_message(inner)?;
        edit(&mut parsed)?;
        field.value = Wire::Len(encode_message(&parsed));
    }
    Some(encode_message(&fields))
}

/// The model's `metadata_props` as (key, value) pairs, in file order.
pub fn metadata(model: &[u8]) -> Vec<(String, String)> {
    let Some(fields) = parse_message(model) else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|f| f.number == MODEL_METADATA)
        .filter_map(|f| parse_message(f.as_bytes()?))
        .map(|entry| {
            let text = |n: u32| {
                entry
                    .iter()
                    .find(|f| f.number == n)
                    .and_then(Field::as_bytes)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default()
            };
            (text(NAME), text(TYPE))
        })
        .collect()
}

/// The model with metadata key `key` set to `value` (replacing every entry of that key, or
/// appended when there is none), or removed when `value` is `None`.
///
/// # Panics
///
/// When `model` is not a protobuf message.
pub fn with_metadata(model: &[u8], key: &str, value: Option<&str>) -> Vec<u8> {
    let mut fields = parse_message(model).expect("the model is a protobuf message");
    let is_key = |f: &Field| {
        f.number == MODEL_METADATA
            && f.as_bytes()
                .and_then(parse_message)
                .is_some_and(|e| e.contains(&Field::bytes(NAME, key.as_bytes())))
    };
    let at = fields.iter().position(is_key);
    fields.retain(|f| !is_key(f));
    if let Some(value) = value {
        let entry = encode_message(&[
            Field::bytes(NAME, key.as_bytes()),
            Field::bytes(TYPE, value.as_bytes()),
        ]);
        let field = Field::bytes(MODEL_METADATA, entry);
        match at {
            Some(i) => fields.insert(i, field),
            None => fields.push(field),
        }
    }
    encode_message(&fields)
}

/// The model with one more metadata entry `key` = `value`, after the existing ones (a key that
/// is already there is then there twice).
///
/// # Panics
///
/// When `model` is not a protobuf message.
pub fn with_extra_metadata(model: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut fields = parse_message(model).expect("the model is a protobuf message");
    fields.push(Field::bytes(
        MODEL_METADATA,
        encode_message(&[
            Field::bytes(NAME, key.as_bytes()),
            Field::bytes(TYPE, value.as_bytes()),
        ]),
    ));
    encode_message(&fields)
}

/// A graph input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphIo {
    /// `GraphProto.input`.
    Input,
    /// `GraphProto.output`.
    Output,
}

/// The model with the last declared dimension of graph input or output `tensor` set to the
/// fixed size `size` (what the graph computes stays as it was: the declaration lies).
///
/// # Panics
///
/// When the model is not well formed or has no such tensor with a shape.
pub fn with_declared_last_dim(model: &[u8], io: GraphIo, tensor: &str, size: i64) -> Vec<u8> {
    let number = match io {
        GraphIo::Input => GRAPH_INPUT,
        GraphIo::Output => GRAPH_OUTPUT,
    };
    let mut found = false;
    let edited = edit_fields(model, MODEL_GRAPH, |graph| {
        for value_info in graph.iter_mut().filter(|f| f.number == number) {
            let Wire::Len(bytes) = &value_info.value else {
                continue;
            };
            let parsed = parse_message(bytes)?;
            if !parsed.contains(&Field::bytes(NAME, tensor.as_bytes())) {
                continue;
            }
            let rewritten = edit_fields(bytes, TYPE, |type_proto| {
                let tensor_type = encode_message(type_proto);
                let tensor_type = edit_fields(&tensor_type, TENSOR_TYPE, |t| {
                    let with_shape = encode_message(t);
                    let with_shape = edit_fields(&with_shape, SHAPE, |shape| {
                        let last = shape.iter_mut().rev().find(|f| f.number == DIM)?;
                        last.value =
                            Wire::Len(encode_message(&[Field::varint(DIM_VALUE, size as u64)]));
                        found = true;
                        Some(())
                    })?;
                    *t = parse_message(&with_shape)?;
                    Some(())
                })?;
                *type_proto = parse_message(&tensor_type)?;
                Some(())
            })?;
            value_info.value = Wire::Len(rewritten);
        }
        Some(())
    })
    .expect("the model is well formed");
    assert!(found, "the graph has no {io:?} `{tensor}` with a shape");
    edited
}

/// The model with graph output `tensor` renamed to `new_name`, in the declaration and in the
/// node that computes it (the graph still works; only the name changes).
///
/// # Panics
///
/// When the model is not well formed or no node computes `tensor`.
pub fn with_output_renamed(model: &[u8], tensor: &str, new_name: &str) -> Vec<u8> {
    let mut renamed_in_node = false;
    let edited = edit_fields(model, MODEL_GRAPH, |graph| {
        for field in graph.iter_mut() {
            let Wire::Len(bytes) = &field.value else {
                continue;
            };
            let wanted_inner = match field.number {
                GRAPH_NODE => NODE_OUTPUT,
                GRAPH_OUTPUT => NAME,
                _ => continue,
            };
            let mut inner = parse_message(bytes)?;
            let mut changed = false;
            for f in inner.iter_mut().filter(|f| f.number == wanted_inner) {
                if f.as_bytes() == Some(tensor.as_bytes()) {
                    f.value = Wire::Len(new_name.as_bytes().to_vec());
                    changed = true;
                }
            }
            if changed {
                renamed_in_node |= field.number == GRAPH_NODE;
                field.value = Wire::Len(encode_message(&inner));
            }
        }
        Some(())
    })
    .expect("the model is well formed");
    assert!(renamed_in_node, "no node computes `{tensor}`");
    edited
}

/// The first `len` bytes of `bytes` (all of them when `len` is longer).
pub fn truncated(bytes: &[u8], len: usize) -> Vec<u8> {
    bytes[..len.min(bytes.len())].to_vec()
}

/// `bytes` with `flips` bits flipped at positions drawn from a generator seeded with `seed`
/// (the same flips on every run); returns the copy and the flipped bit indices.
pub fn bit_flipped(bytes: &[u8], seed: u64, flips: usize) -> (Vec<u8>, Vec<usize>) {
    let mut out = bytes.to_vec();
    let bits = bytes.len() * 8;
    let mut state = seed | 1;
    let mut flipped = Vec::with_capacity(flips);
    for _ in 0..flips {
        if bits == 0 {
            break;
        }
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bit = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % bits as u64) as usize;
        out[bit / 8] ^= 1 << (bit % 8);
        flipped.push(bit);
    }
    (out, flipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{DRUM_KIT, TinyEncoding};

    fn tiny() -> Vec<u8> {
        TinyEncoding {
            input_size: 3,
            classes: 2,
            ..DRUM_KIT
        }
        .model_bytes("tiny")
    }

    #[test]
    fn a_model_parses_into_fields_and_encodes_back_to_the_same_bytes() {
        let bytes = tiny();
        let fields = parse_message(&bytes).unwrap();
        assert!(fields.iter().any(|f| f.number == MODEL_GRAPH));
        assert_eq!(encode_message(&fields), bytes);
    }

    #[test]
    fn metadata_is_replaced_removed_and_added() {
        let bytes = tiny();
        assert_eq!(metadata(&bytes).len(), 4);
        let edited = with_metadata(&bytes, "antiphon.family", Some("melody"));
        let m = metadata(&edited);
        assert_eq!(m[1], ("antiphon.family".into(), "melody".into()));
        let removed = with_metadata(&bytes, "antiphon.card", None);
        assert!(metadata(&removed).iter().all(|(k, _)| k != "antiphon.card"));
        let added = with_metadata(&bytes, "x", Some("y"));
        assert_eq!(metadata(&added).last().unwrap(), &("x".into(), "y".into()));
        let twice = with_extra_metadata(&bytes, "antiphon.family", "drums");
        let families = metadata(&twice)
            .into_iter()
            .filter(|(k, _)| k == "antiphon.family")
            .count();
        assert_eq!(families, 2);
    }

    #[test]
    fn a_declared_dimension_is_rewritten_and_the_rest_kept() {
        let bytes = tiny();
        let edited = with_declared_last_dim(&bytes, GraphIo::Output, "logits", 77);
        assert_ne!(edited, bytes);
        assert_eq!(metadata(&edited), metadata(&bytes));
        let back = with_declared_last_dim(&edited, GraphIo::Output, "logits", 2);
        assert_eq!(back, bytes);
    }

    #[test]
    fn an_output_is_renamed_in_its_node_and_its_declaration() {
        let bytes = tiny();
        let edited = with_output_renamed(&bytes, "logits", "scores");
        let text = String::from_utf8_lossy(&edited);
        // Two names changed (the node's output and the declaration); the node keeps its own
        // name, `MatMul_logits`.
        assert_eq!(text.matches("scores").count(), 2);
        assert_eq!(text.matches("logits").count(), 1);
        assert_eq!(with_output_renamed(&edited, "scores", "logits"), bytes);
    }

    #[test]
    fn truncation_and_bit_flips_are_reproducible() {
        let bytes = tiny();
        assert_eq!(truncated(&bytes, 10).len(), 10);
        assert_eq!(truncated(&bytes, usize::MAX), bytes);
        let (a, bits) = bit_flipped(&bytes, 7, 3);
        assert_eq!((a.clone(), bits.clone()), bit_flipped(&bytes, 7, 3));
        let differing = a.iter().zip(&bytes).filter(|(x, y)| x != y).count();
        assert!((1..=3).contains(&differing), "{differing} bytes differ");
        assert_eq!(bits.len(), 3);
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert_eq!(parse_message(&[0x0a, 0x05, 1]), None, "length past the end");
        assert_eq!(parse_message(&[0x03]), None, "a group");
        assert_eq!(parse_message(&[]), Some(Vec::new()));
    }
}
