//! Canonical JSON for content-addressed documents.
//!
//! A manifest's digest is the hash of its bytes, so the bytes must not depend on hash-map
//! iteration order (`oci-spec` keeps annotations in a `HashMap`). Documents are written compact,
//! with every object's keys sorted, whatever serde_json features other crates enable.

use serde::Serialize;
use serde_json::Value;

/// Serialises `value` as compact JSON with sorted object keys.
pub fn canonical(value: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    let mut out = Vec::new();
    write_sorted(&v, &mut out)?;
    Ok(out)
}

fn write_sorted(v: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_sorted(&map[k.as_str()], out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sorted_and_compact() {
        let mut m = HashMap::new();
        for k in ["zeta", "alpha", "mid", "beta", "k1", "k2", "k3"] {
            m.insert(
                k.to_owned(),
                serde_json::json!({"y": 1, "x": [2, {"b": 1, "a": "é\n"}]}),
            );
        }
        let bytes = canonical(&m).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"alpha":{"x":[2,{"a":"é\n","b":1}],"y":1},"beta""#),
            "{text}"
        );
        for _ in 0..20 {
            let again: HashMap<String, Value> = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(canonical(&again).unwrap(), bytes);
        }
    }
}
