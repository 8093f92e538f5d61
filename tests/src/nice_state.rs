//! Reading and editing the state blob a nice-plug plugin saves through `clap.state`.
//!
//! nice-plug's CLAP wrapper writes the JSON length as a little-endian `u64`, then the JSON
//! (uncompressed without its `zstd` feature):
//!
//! ```json
//! {"version": "0.1.0", "params": {"temperature": {"F32": 1.0}, …},
//!  "fields": {"model_path": "\"/path/to/model.onnx\"", …}}
//! ```
//!
//! Persisted fields (`#[persist = "key"]`) are stored as JSON *strings* holding the field's own
//! JSON, so a `String` or `PathBuf` field holds a quoted string and `Option::None` holds `null`.

use serde_json::Value;

/// Decodes a nice-plug CLAP state blob into its JSON object.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() < 8 {
        return Err(format!(
            "state of {} bytes has no length prefix",
            bytes.len()
        ));
    }
    let (prefix, json) = bytes.split_at(8);
    let length = u64::from_le_bytes(prefix.try_into().expect("8 bytes"));
    if length != json.len() as u64 {
        return Err(format!(
            "length prefix says {length} bytes, {} follow",
            json.len()
        ));
    }
    serde_json::from_slice(json).map_err(|e| format!("state is not JSON: {e}"))
}

/// Encodes a JSON state object as a nice-plug CLAP state blob.
pub fn encode(state: &Value) -> Vec<u8> {
    let json = serde_json::to_vec(state).expect("a JSON value serialises");
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    bytes
}

/// The names of the persisted fields in a decoded state.
pub fn field_names(state: &Value) -> Vec<String> {
    state
        .get("fields")
        .and_then(Value::as_object)
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default()
}

/// The value of persisted field `key` (its inner JSON, parsed), if present.
pub fn persisted_field(state: &Value, key: &str) -> Result<Option<Value>, String> {
    let Some(raw) = state.get("fields").and_then(|f| f.get(key)) else {
        return Ok(None);
    };
    let Some(text) = raw.as_str() else {
        return Err(format!("field {key} is not stored as a JSON string: {raw}"));
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("field {key} holds no JSON ({text:?}): {e}"))
}

/// Sets persisted field `key` to `value` (stored, as nice-plug does, as a JSON string of its
/// JSON). Creates the `fields` object when missing.
pub fn set_persisted_field(state: &mut Value, key: &str, value: &Value) -> Result<(), String> {
    let object = state
        .as_object_mut()
        .ok_or_else(|| "the state is not a JSON object".to_string())?;
    let fields = object
        .entry("fields")
        .or_insert_with(|| Value::Object(Default::default()));
    let fields = fields
        .as_object_mut()
        .ok_or_else(|| "state.fields is not a JSON object".to_string())?;
    fields.insert(key.to_string(), Value::String(value.to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A blob laid out as nice-plug's `ext_state_save` writes it.
    fn sample_blob() -> Vec<u8> {
        let json = br#"{"version":"0.1.0","params":{"thru":{"Bool":true}},"fields":{"model_path":"\"/m/a.onnx\"","empty":"null"}}"#;
        let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(json);
        bytes
    }

    #[test]
    fn decodes_fields_as_inner_json() {
        let state = decode(&sample_blob()).unwrap();
        assert_eq!(state["version"], "0.1.0");
        assert_eq!(
            persisted_field(&state, "model_path").unwrap(),
            Some(json!("/m/a.onnx"))
        );
        assert_eq!(persisted_field(&state, "empty").unwrap(), Some(Value::Null));
        assert_eq!(persisted_field(&state, "absent").unwrap(), None);
        assert_eq!(field_names(&state), vec!["empty", "model_path"]);
    }

    #[test]
    fn edit_and_round_trip() {
        let mut state = decode(&sample_blob()).unwrap();
        set_persisted_field(&mut state, "model_path", &json!("/tmp/x \"y\".onnx")).unwrap();
        let bytes = encode(&state);
        let back = decode(&bytes).unwrap();
        assert_eq!(
            back["fields"]["model_path"],
            json!("\"/tmp/x \\\"y\\\".onnx\"")
        );
        assert_eq!(
            persisted_field(&back, "model_path").unwrap(),
            Some(json!("/tmp/x \"y\".onnx"))
        );
        assert_eq!(back["params"]["thru"]["Bool"], true);
    }

    #[test]
    fn rejects_bad_blobs() {
        assert!(decode(b"abc").is_err());
        let mut blob = sample_blob();
        blob.push(b' ');
        assert!(decode(&blob).unwrap_err().contains("length prefix"));
        let mut not_json = 3u64.to_le_bytes().to_vec();
        not_json.extend_from_slice(b"{{{");
        assert!(decode(&not_json).is_err());
    }
}
