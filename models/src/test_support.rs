//! Tiny ONNX models for tests, written byte by byte (no ONNX tooling needed). Compiled with the
//! `test-support` feature only; the crates' tests enable it in their dev-dependencies.
//!
//! - [`TinyEncoding::model_bytes`] / [`TinyEncoding::write`]: a tiny contract model of any
//!   encoding, `logits = inputs · W` with fixed pseudo-random weights and one state passed
//!   through unchanged, so a test can load a model family through ONNX Runtime (or the plugin)
//!   before a trained model of it ships. Its answers mean nothing.
//! - [`identity_model_bytes`]: a valid ONNX model that is not an Antiphon contract model,
//!   `y = Identity(x)` with no `antiphon.*` metadata. ONNX Runtime opens it; the plugin must
//!   refuse it for what it lacks.
//! - [`hostile`]: hostile model files made from a real one (truncated, bit-flipped, metadata
//!   removed or lying, declarations that lie about shapes), for the robustness tests.
//! - [`midi`]: hostile MIDI files, and the properties every file the MIDI reader accepts must
//!   have (shared with the fuzz target in `models/fuzz`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod hostile;
pub mod midi;

/// An encoding of a tiny contract model: what its metadata says and the sizes it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TinyEncoding {
    /// `antiphon.family`.
    pub family: &'static str,
    /// `antiphon.encoding` (JSON).
    pub encoding: &'static str,
    /// Input width of the encoding.
    pub input_size: usize,
    /// Classes of the encoding.
    pub classes: usize,
}

/// Melody RNN, one-hot encoding over 48..84 (the shipped Melody RNN's), transposed to C.
pub const MELODY_ONEHOT: TinyEncoding = TinyEncoding {
    family: "melody",
    encoding: r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
    input_size: 38,
    classes: 38,
};

/// Melody RNN, lookback encoding over 48..84, transposed to C.
pub const MELODY_LOOKBACK: TinyEncoding = TinyEncoding {
    family: "melody",
    encoding: r#"{"name":"melody_lookback","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
    input_size: 121,
    classes: 40,
};

/// Melody RNN, key-melody (attention) encoding over 48..84, transposed to C.
pub const KEY_MELODY: TinyEncoding = TinyEncoding {
    family: "melody",
    encoding: r#"{"name":"key_melody","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
    input_size: 74,
    classes: 40,
};

/// Drums RNN, drum-kit encoding.
pub const DRUM_KIT: TinyEncoding = TinyEncoding {
    family: "drums",
    encoding: r#"{"name":"drum_kit","steps_per_quarter":4}"#,
    input_size: 518,
    classes: 512,
};

/// Improv RNN, pitch chords, melody 48..84 (not transposed).
pub const IMPROV_PITCH: TinyEncoding = TinyEncoding {
    family: "improv",
    encoding: r#"{"name":"chord_melody","chords":"pitch","melody":{"min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":null}}"#,
    input_size: 75,
    classes: 38,
};

/// Improv RNN, triad chords, melody 48..84 (not transposed).
pub const IMPROV_TRIAD: TinyEncoding = TinyEncoding {
    family: "improv",
    encoding: r#"{"name":"chord_melody","chords":"triad","melody":{"min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":null}}"#,
    input_size: 87,
    classes: 38,
};

impl TinyEncoding {
    /// The bytes of a tiny contract model of this encoding: `inputs` float32
    /// `[batch, time, input_size]` → `logits` `[batch, time, classes]` = `inputs · W` (fixed
    /// pseudo-random weights in −2..2), and `state_in.0` `[batch, 4]` passed to `state_out.0`;
    /// metadata `antiphon.contract` 1, `antiphon.family`, `antiphon.encoding`, and a card named
    /// `name`. `input_size` and `classes` must be those of the encoding (see
    /// models/CONTRACT.md) for the model to be accepted.
    pub fn model_bytes(&self, name: &str) -> Vec<u8> {
        let (input_size, classes) = (self.input_size, self.classes);
        let mut seed: u32 = 12_345;
        let mut raw = Vec::with_capacity(input_size * classes * 4);
        for _ in 0..input_size * classes {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let w = (seed >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0;
            raw.extend_from_slice(&w.to_le_bytes());
        }
        let mut weights = Vec::new();
        int_field(&mut weights, 1, input_size as i64);
        int_field(&mut weights, 1, classes as i64);
        int_field(&mut weights, 2, 1); // FLOAT
        bytes_field(&mut weights, 8, b"W");
        bytes_field(&mut weights, 9, &raw);

        let mut graph = Vec::new();
        bytes_field(&mut graph, 1, &node("MatMul", &["inputs", "W"], "logits"));
        bytes_field(
            &mut graph,
            1,
            &node("Identity", &["state_in.0"], "state_out.0"),
        );
        bytes_field(&mut graph, 2, b"tiny");
        bytes_field(&mut graph, 5, &weights);
        let batch_time = |last: i64| [Dim::Param("batch"), Dim::Param("time"), Dim::Fixed(last)];
        let state = || [Dim::Param("batch"), Dim::Fixed(4)];
        bytes_field(
            &mut graph,
            11,
            &float_tensor("inputs", &batch_time(input_size as i64)),
        );
        bytes_field(&mut graph, 11, &float_tensor("state_in.0", &state()));
        bytes_field(
            &mut graph,
            12,
            &float_tensor("logits", &batch_time(classes as i64)),
        );
        bytes_field(&mut graph, 12, &float_tensor("state_out.0", &state()));

        let mut model = model_proto(&graph);
        let card = format!(r#"{{"name":"{name}"}}"#);
        for (key, value) in [
            ("antiphon.contract", "1"),
            ("antiphon.family", self.family),
            ("antiphon.encoding", self.encoding),
            ("antiphon.card", card.as_str()),
        ] {
            let mut entry = Vec::new();
            bytes_field(&mut entry, 1, key.as_bytes());
            bytes_field(&mut entry, 2, value.as_bytes());
            bytes_field(&mut model, 14, &entry);
        }
        model
    }

    /// Writes [`TinyEncoding::model_bytes`] as `dir/{name}.onnx` (creating `dir`) and returns
    /// the path. The file is written beside and renamed into place, so tests running at once
    /// never read half a file.
    pub fn write(&self, dir: impl AsRef<Path>, name: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(format!("{name}.onnx"));
        let part = dir.join(format!(
            "{name}.{}.{}.part",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&part, self.model_bytes(name)).unwrap();
        std::fs::rename(&part, &path).unwrap();
        path
    }
}

/// The bytes of a model that is not a contract model: IR version 8, opset 13, one `Identity`
/// node from `x` to `y` (float32 `[4]`), producer "antiphon-tests", no metadata.
pub fn identity_model_bytes() -> Vec<u8> {
    let mut graph = Vec::new();
    bytes_field(&mut graph, 1, &node("Identity", &["x"], "y"));
    bytes_field(&mut graph, 2, b"identity");
    bytes_field(&mut graph, 11, &float_tensor("x", &[Dim::Fixed(4)]));
    bytes_field(&mut graph, 12, &float_tensor("y", &[Dim::Fixed(4)]));
    model_proto(&graph)
}

/// A `ModelProto` around `graph`: IR version 8, producer "antiphon-tests", opset 13; metadata
/// entries may follow.
fn model_proto(graph: &[u8]) -> Vec<u8> {
    let mut model = Vec::new();
    int_field(&mut model, 1, 8); // IR version 8
    bytes_field(&mut model, 2, b"antiphon-tests");
    bytes_field(&mut model, 7, graph);
    let mut opset = Vec::new();
    bytes_field(&mut opset, 1, b"");
    int_field(&mut opset, 2, 13);
    bytes_field(&mut model, 8, &opset);
    model
}

/// Appends a varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a varint field.
fn int_field(out: &mut Vec<u8>, field: u32, v: i64) {
    varint(out, u64::from(field) << 3);
    varint(out, v as u64);
}

/// Appends a length-delimited field.
fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One dimension of a tensor shape.
enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A dynamic size, by name.
    Param(&'static str),
}

/// A float32 `ValueInfoProto` of shape `dims`.
fn float_tensor(name: &str, dims: &[Dim]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d {
            Dim::Fixed(n) => int_field(&mut dim, 1, *n),
            Dim::Param(p) => bytes_field(&mut dim, 2, p.as_bytes()),
        }
        bytes_field(&mut shape, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    int_field(&mut tensor_type, 1, 1); // FLOAT
    bytes_field(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    bytes_field(&mut type_proto, 1, &tensor_type);
    let mut info = Vec::new();
    bytes_field(&mut info, 1, name.as_bytes());
    bytes_field(&mut info, 2, &type_proto);
    info
}

/// A `NodeProto` of `op` from `inputs` to `output`.
fn node(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        bytes_field(&mut n, 1, i.as_bytes());
    }
    bytes_field(&mut n, 2, output.as_bytes());
    bytes_field(&mut n, 3, format!("{op}_{output}").as_bytes());
    bytes_field(&mut n, 4, op.as_bytes());
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_model_starts_with_its_ir_version_and_names_its_op() {
        let bytes = identity_model_bytes();
        assert_eq!(&bytes[..2], &[0x08, 0x08], "field 1 (ir_version) = 8");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Identity") && !text.contains("antiphon."));
    }

    #[test]
    fn a_contract_model_carries_its_metadata_and_weights() {
        let tiny = TinyEncoding {
            input_size: 3,
            classes: 2,
            ..DRUM_KIT
        };
        let bytes = tiny.model_bytes("tiny");
        let text = String::from_utf8_lossy(&bytes);
        for needle in [
            "antiphon.family",
            "drums",
            "drum_kit",
            "state_out.0",
            "MatMul",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
        assert!(bytes.len() > 3 * 2 * 4);
    }
}
