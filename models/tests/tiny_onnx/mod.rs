//! Tiny ONNX models that follow the model contract, written byte by byte (no ONNX tooling
//! needed): `logits = inputs · W` with fixed pseudo-random weights, and one state passed through
//! unchanged. They let the tests load every encoding through ONNX Runtime.

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// A dimension: a fixed size, or a named dynamic one.
enum Dim {
    /// Fixed.
    Fixed(i64),
    /// Dynamic, by name.
    Param(&'static str),
}

/// A float32 `ValueInfoProto`.
fn value_info(name: &str, dims: &[Dim]) -> Vec<u8> {
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

/// A `NodeProto`.
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

/// The bytes of a contract model: `input_size` features, `classes` logits, one state of width
/// `state_width`, and the given metadata (family, encoding JSON, card name).
pub fn model_bytes(
    family: &str,
    encoding: &str,
    name: &str,
    input_size: usize,
    classes: usize,
    state_width: usize,
) -> Vec<u8> {
    // Weights: a fixed pseudo-random sequence in [-2, 2).
    let mut seed: u32 = 12345;
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
    let (batch, time) = (Dim::Param("batch"), Dim::Param("time"));
    bytes_field(
        &mut graph,
        11,
        &value_info("inputs", &[batch, time, Dim::Fixed(input_size as i64)]),
    );
    bytes_field(
        &mut graph,
        11,
        &value_info(
            "state_in.0",
            &[Dim::Param("batch"), Dim::Fixed(state_width as i64)],
        ),
    );
    bytes_field(
        &mut graph,
        12,
        &value_info(
            "logits",
            &[
                Dim::Param("batch"),
                Dim::Param("time"),
                Dim::Fixed(classes as i64),
            ],
        ),
    );
    bytes_field(
        &mut graph,
        12,
        &value_info(
            "state_out.0",
            &[Dim::Param("batch"), Dim::Fixed(state_width as i64)],
        ),
    );

    let mut model = Vec::new();
    int_field(&mut model, 1, 8); // IR version 8
    bytes_field(&mut model, 2, b"antiphon-tests");
    bytes_field(&mut model, 7, &graph);
    let mut opset = Vec::new();
    bytes_field(&mut opset, 1, b"");
    int_field(&mut opset, 2, 13);
    bytes_field(&mut model, 8, &opset);
    let card = format!(r#"{{"name":"{name}"}}"#);
    for (key, value) in [
        ("antiphon.contract", "1"),
        ("antiphon.family", family),
        ("antiphon.encoding", encoding),
        ("antiphon.card", card.as_str()),
    ] {
        let mut entry = Vec::new();
        bytes_field(&mut entry, 1, key.as_bytes());
        bytes_field(&mut entry, 2, value.as_bytes());
        bytes_field(&mut model, 14, &entry);
    }
    model
}

/// Writes a tiny model (4 state floats) into the test binary's temporary folder and returns its
/// path. The file is written beside and renamed into place, so tests running at once never read
/// half a file.
pub fn write_model(
    family: &str,
    encoding: &str,
    name: &str,
    input_size: usize,
    classes: usize,
) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.onnx"));
    let part = dir.join(format!(
        "{name}.{}.{}.part",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(
        &part,
        model_bytes(family, encoding, name, input_size, classes, 4),
    )
    .unwrap();
    std::fs::rename(&part, &path).unwrap();
    path
}
