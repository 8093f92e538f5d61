//! The model contract (`models/CONTRACT.md`): what a `.onnx` file must declare, checked when it
//! loads, so that a model that doesn't fit is refused with a message saying what was expected.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::encoding::EncodingSpec;

/// The contract version this build reads.
pub const CONTRACT_VERSION: &str = "1";

/// The constant output of a `pianoroll_nade` model holding the NADE's weights.
pub const NADE_WEIGHTS: &str = "nade_weights";

/// The widest state tensor a model may declare, in floats per sequence (an LSTM of 32,768
/// units has a `c` of this width). The runtime allocates states from the declared widths, so a
/// declaration of 2^40 must be refused here rather than tried.
pub const MAX_STATE_WIDTH: usize = 1 << 15;

/// The most state a model may declare in all, in floats per sequence (1 MiB): eight layers of
/// 16,384-unit LSTM cells.
pub const MAX_STATE_FLOATS: usize = 1 << 18;

/// The six model families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Melody RNN: monophonic melodies.
    Melody,
    /// Drums RNN: drum kit patterns.
    Drums,
    /// Improv RNN: melody over chords.
    Improv,
    /// Polyphony RNN: BachBot-style polyphonic event stream.
    Polyphony,
    /// Pianoroll RNN-NADE: piano-roll frames.
    Pianoroll,
    /// Performance RNN: expressive timing and dynamics.
    Performance,
}

impl Family {
    /// Every family, in the order of the README.
    pub const ALL: [Family; 6] = [
        Family::Melody,
        Family::Drums,
        Family::Improv,
        Family::Polyphony,
        Family::Pianoroll,
        Family::Performance,
    ];

    /// The family's name in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Melody => "melody",
            Self::Drums => "drums",
            Self::Improv => "improv",
            Self::Polyphony => "polyphony",
            Self::Pianoroll => "pianoroll",
            Self::Performance => "performance",
        }
    }

    /// The family of a metadata name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tensor as the graph declares it: name and dimensions (`-1` for dynamic ones).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDecl {
    /// The tensor's name in the graph.
    pub name: String,
    /// Whether its element type is float32.
    pub is_f32: bool,
    /// Its dimensions; `-1` where dynamic.
    pub dims: Vec<i64>,
}

/// Everything the runtime knows about a model that passed the contract.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Short name: the card's `name`, else the file stem.
    pub name: String,
    /// The model family.
    pub family: Family,
    /// The event encoding and its parameters.
    pub encoding: EncodingSpec,
    /// The model card (JSON object).
    pub card: Value,
    /// Width of an input row.
    pub input_size: usize,
    /// Number of output classes.
    pub classes: usize,
    /// Width of each state tensor, by index K of `state_in.K`.
    pub state_sizes: Vec<usize>,
}

/// Checks a model's metadata and graph declarations against the contract.
pub fn check(
    fallback_name: &str,
    metadata: &BTreeMap<String, String>,
    inputs: &[TensorDecl],
    outputs: &[TensorDecl],
) -> Result<ModelInfo, String> {
    let get = |key: &str| {
        metadata.get(key).ok_or_else(|| {
            format!(
                "metadata key `{key}` is missing (expected antiphon.contract, antiphon.family, \
                 antiphon.encoding, antiphon.card)"
            )
        })
    };
    let version = get("antiphon.contract")?;
    if version != CONTRACT_VERSION {
        return Err(format!(
            "contract version {version:?} is not supported (expected {CONTRACT_VERSION:?})"
        ));
    }
    let family_name = get("antiphon.family")?;
    let family = Family::parse(family_name).ok_or_else(|| {
        let names: Vec<&str> = Family::ALL.iter().map(|f| f.as_str()).collect();
        format!(
            "unknown family {family_name:?} (expected one of {})",
            names.join(", ")
        )
    })?;
    let encoding_json = get("antiphon.encoding")?;
    let encoding: EncodingSpec = serde_json::from_str(encoding_json).map_err(|e| {
        format!("antiphon.encoding {encoding_json:?} is not an encoding this build knows ({e})")
    })?;
    encoding
        .validate()
        .map_err(|e| format!("antiphon.encoding: {e}"))?;
    if encoding.family() != family {
        return Err(format!(
            "antiphon.family is {family} but encoding {} belongs to family {} (expected \
             antiphon.family {:?})",
            encoding.name(),
            encoding.family(),
            encoding.family().as_str()
        ));
    }
    let card: Value = serde_json::from_str(get("antiphon.card")?)
        .map_err(|e| format!("antiphon.card is not JSON: {e}"))?;
    if !card.is_object() {
        return Err("antiphon.card must be a JSON object".into());
    }
    let name = card
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(fallback_name)
        .to_string();

    let input = find(inputs, "inputs", "input")?;
    let input_size = last_dim(input, 3)?;
    let logits = find(outputs, "logits", "output")?;
    let classes = last_dim(logits, 3)?;
    if input_size != encoding.input_size() {
        return Err(format!(
            "input `inputs` has {input_size} features but encoding {} needs {}",
            encoding.name(),
            encoding.input_size()
        ));
    }
    if classes != encoding.num_classes() {
        return Err(format!(
            "output `logits` has {classes} classes but encoding {} has {}",
            encoding.name(),
            encoding.num_classes()
        ));
    }

    if let EncodingSpec::PianorollNade(nade) = &encoding {
        let weights = find(outputs, NADE_WEIGHTS, "output")?;
        let want = [2, i64::from(nade.num_keys), i64::from(nade.nade_hidden)];
        if !weights.is_f32 || weights.dims != want {
            return Err(format!(
                "output `{NADE_WEIGHTS}` must be float32 of shape {want:?}, found {:?}",
                weights.dims
            ));
        }
    }

    let mut state_sizes = Vec::new();
    for k in 0.. {
        let in_name = format!("state_in.{k}");
        let Some(state_in) = inputs.iter().find(|t| t.name == in_name) else {
            break;
        };
        let out_name = format!("state_out.{k}");
        let state_out = find(outputs, &out_name, "output")?;
        let n_in = last_dim(state_in, 2)?;
        let n_out = last_dim(state_out, 2)?;
        if n_in != n_out {
            return Err(format!(
                "{in_name} has width {n_in} but {out_name} has {n_out}"
            ));
        }
        if n_in > MAX_STATE_WIDTH {
            return Err(format!(
                "{in_name} has width {n_in}, more than the {MAX_STATE_WIDTH} a state may have"
            ));
        }
        state_sizes.push(n_in);
    }
    let state_floats: usize = state_sizes.iter().sum();
    if state_floats > MAX_STATE_FLOATS {
        return Err(format!(
            "the states have {state_floats} values in all, more than the {MAX_STATE_FLOATS} a \
             model may have"
        ));
    }
    let expected: Vec<String> = std::iter::once("inputs".to_string())
        .chain((0..state_sizes.len()).map(|k| format!("state_in.{k}")))
        .collect();
    if let Some(extra) = inputs.iter().find(|t| !expected.contains(&t.name)) {
        return Err(format!(
            "unexpected input `{}` (expected only {})",
            extra.name,
            expected.join(", ")
        ));
    }
    Ok(ModelInfo {
        name,
        family,
        encoding,
        card,
        input_size,
        classes,
        state_sizes,
    })
}

/// The declaration named `name`, or an error saying it is missing.
fn find<'a>(decls: &'a [TensorDecl], name: &str, what: &str) -> Result<&'a TensorDecl, String> {
    decls.iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = decls.iter().map(|t| t.name.as_str()).collect();
        format!(
            "{what} `{name}` is missing (the graph has {})",
            names.join(", ")
        )
    })
}

/// Checks a float tensor of `rank` dimensions with a fixed last dimension, and returns it.
fn last_dim(decl: &TensorDecl, rank: usize) -> Result<usize, String> {
    if !decl.is_f32 {
        return Err(format!("`{}` must be float32", decl.name));
    }
    if decl.dims.len() != rank {
        return Err(format!(
            "`{}` must have {rank} dimensions, found {:?}",
            decl.name, decl.dims
        ));
    }
    match decl.dims.last() {
        Some(&n) if n > 0 => usize::try_from(n)
            .map_err(|_| format!("`{}` has a last dimension too large: {n}", decl.name)),
        _ => Err(format!(
            "`{}` must have a fixed last dimension, found {:?}",
            decl.name, decl.dims
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, dims: &[i64]) -> TensorDecl {
        TensorDecl {
            name: name.into(),
            is_f32: true,
            dims: dims.to_vec(),
        }
    }

    fn metadata() -> BTreeMap<String, String> {
        [
            ("antiphon.contract", "1"),
            ("antiphon.family", "melody"),
            (
                "antiphon.encoding",
                r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":0}"#,
            ),
            ("antiphon.card", r#"{"name":"melody_basic"}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn graph() -> (Vec<TensorDecl>, Vec<TensorDecl>) {
        (
            vec![
                decl("inputs", &[-1, -1, 38]),
                decl("state_in.0", &[-1, 128]),
                decl("state_in.1", &[-1, 128]),
            ],
            vec![
                decl("logits", &[-1, -1, 38]),
                decl("state_out.0", &[-1, 128]),
                decl("state_out.1", &[-1, 128]),
            ],
        )
    }

    #[test]
    fn given_a_model_that_follows_the_contract_when_checked_then_its_info_comes_back() {
        let (i, o) = graph();
        let info = check("file", &metadata(), &i, &o).unwrap();
        assert_eq!(info.family, Family::Melody);
        assert_eq!(info.name, "melody_basic");
        assert_eq!(info.state_sizes, vec![128, 128]);
        assert_eq!((info.input_size, info.classes), (38, 38));
    }

    #[test]
    fn given_missing_metadata_when_checked_then_the_message_lists_the_keys() {
        let (i, o) = graph();
        let mut m = metadata();
        m.remove("antiphon.family");
        let err = check("file", &m, &i, &o).unwrap_err();
        assert!(err.contains("antiphon.family"), "{err}");
    }

    #[test]
    fn given_a_shape_that_does_not_match_the_encoding_when_checked_then_it_says_both() {
        let (mut i, o) = graph();
        i[0] = decl("inputs", &[-1, -1, 40]);
        let err = check("file", &metadata(), &i, &o).unwrap_err();
        assert!(err.contains("40") && err.contains("38"), "{err}");
    }

    #[test]
    fn given_a_state_without_its_output_when_checked_then_it_is_named() {
        let (i, mut o) = graph();
        o.pop();
        let err = check("file", &metadata(), &i, &o).unwrap_err();
        assert!(err.contains("state_out.1"), "{err}");
    }

    #[test]
    fn given_a_family_that_does_not_fit_the_encoding_when_checked_then_it_says_which_fits() {
        let (i, o) = graph();
        let mut m = metadata();
        m.insert("antiphon.family".into(), "drums".into());
        let err = check("file", &m, &i, &o).unwrap_err();
        assert!(err.contains("drums") && err.contains("\"melody\""), "{err}");
    }

    #[test]
    fn given_a_drum_kit_model_when_checked_then_it_is_a_drums_model_with_512_classes() {
        let mut m = metadata();
        m.insert("antiphon.family".into(), "drums".into());
        m.insert(
            "antiphon.encoding".into(),
            r#"{"name":"drum_kit","steps_per_quarter":4}"#.into(),
        );
        let i = vec![decl("inputs", &[-1, -1, 518]), decl("state_in.0", &[-1, 8])];
        let o = vec![
            decl("logits", &[-1, -1, 512]),
            decl("state_out.0", &[-1, 8]),
        ];
        let info = check("file", &m, &i, &o).unwrap();
        assert_eq!(
            (info.family, info.input_size, info.classes),
            (Family::Drums, 518, 512)
        );
    }

    #[test]
    fn given_a_pianoroll_model_when_checked_then_its_nade_weights_must_fit_the_encoding() {
        let mut m = metadata();
        m.insert("antiphon.family".into(), "pianoroll".into());
        m.insert(
            "antiphon.encoding".into(),
            r#"{"name":"pianoroll_nade","min_pitch":21,"num_keys":88,"nade_hidden":16,"steps_per_quarter":1}"#
                .into(),
        );
        let i = vec![decl("inputs", &[-1, -1, 88]), decl("state_in.0", &[-1, 8])];
        let mut o = vec![
            decl("logits", &[-1, -1, 104]),
            decl("state_out.0", &[-1, 8]),
        ];
        let err = check("file", &m, &i, &o).unwrap_err();
        assert!(err.contains("nade_weights"), "{err}");
        o.push(decl(NADE_WEIGHTS, &[2, 88, 15]));
        let err = check("file", &m, &i, &o).unwrap_err();
        assert!(err.contains("[2, 88, 16]"), "{err}");
        o.pop();
        o.push(decl(NADE_WEIGHTS, &[2, 88, 16]));
        let info = check("file", &m, &i, &o).unwrap();
        assert_eq!((info.family, info.classes), (Family::Pianoroll, 104));
    }

    #[test]
    fn given_an_absurd_state_width_when_checked_then_it_is_refused_before_anything_allocates() {
        let (mut i, mut o) = graph();
        i[1] = decl("state_in.0", &[-1, 1 << 40]);
        o[1] = decl("state_out.0", &[-1, 1 << 40]);
        let err = check("file", &metadata(), &i, &o).unwrap_err();
        assert!(err.contains("state_in.0") && err.contains("32768"), "{err}");
        // Many states each within the limit, too much together.
        let (mut i, mut o) = graph();
        for k in 2..12 {
            i.push(decl(&format!("state_in.{k}"), &[-1, 1 << 15]));
            o.push(decl(&format!("state_out.{k}"), &[-1, 1 << 15]));
        }
        let err = check("file", &metadata(), &i, &o).unwrap_err();
        assert!(err.contains("in all"), "{err}");
    }

    #[test]
    fn given_an_unknown_encoding_when_checked_then_it_is_refused() {
        let (i, o) = graph();
        let mut m = metadata();
        m.insert("antiphon.encoding".into(), r#"{"name":"kazoo"}"#.into());
        let err = check("file", &m, &i, &o).unwrap_err();
        assert!(err.contains("kazoo"), "{err}");
    }
}
