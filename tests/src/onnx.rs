//! A valid ONNX model that is not an Antiphon contract model, written byte by byte (no ONNX
//! tooling needed): `y = Identity(x)` on a float vector, with no `antiphon.*` metadata. ONNX
//! Runtime opens it; the plugin must refuse it for what it lacks.

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

/// A float32 `ValueInfoProto` of shape `[width]`.
fn float_vector(name: &str, width: i64) -> Vec<u8> {
    let mut dim = Vec::new();
    int_field(&mut dim, 1, width);
    let mut shape = Vec::new();
    bytes_field(&mut shape, 1, &dim);
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

/// The bytes of the model: IR version 8, opset 13, one `Identity` node from `x` to `y`
/// (float32 `[4]`), producer "antiphon-tests", no metadata.
pub fn identity_model_bytes() -> Vec<u8> {
    let mut node = Vec::new();
    bytes_field(&mut node, 1, b"x");
    bytes_field(&mut node, 2, b"y");
    bytes_field(&mut node, 3, b"identity");
    bytes_field(&mut node, 4, b"Identity");
    let mut graph = Vec::new();
    bytes_field(&mut graph, 1, &node);
    bytes_field(&mut graph, 2, b"identity");
    bytes_field(&mut graph, 11, &float_vector("x", 4));
    bytes_field(&mut graph, 12, &float_vector("y", 4));
    let mut model = Vec::new();
    int_field(&mut model, 1, 8);
    bytes_field(&mut model, 2, b"antiphon-tests");
    bytes_field(&mut model, 7, &graph);
    let mut opset = Vec::new();
    bytes_field(&mut opset, 1, b"");
    int_field(&mut opset, 2, 13);
    bytes_field(&mut model, 8, &opset);
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_starts_with_its_ir_version_and_names_its_op() {
        let bytes = identity_model_bytes();
        assert_eq!(&bytes[..2], &[0x08, 0x08], "field 1 (ir_version) = 8");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Identity") && !text.contains("antiphon."));
    }
}
