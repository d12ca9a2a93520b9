//! One line of output: a JSON object whose fields keep the order they were added in (the order
//! of the LangGraph `bench.py`, so the two outputs read side by side), and the rounding and
//! statistics every row uses.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// An ordered JSON object. Values are kept as serialised JSON, so nested objects (a struct such
/// as the parameters, or another `Row`) keep their field order too; serde_json's own map would
/// sort keys unless its `preserve_order` feature is on, which feature unification with the other
/// workspace crates decides behind our back.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row(Vec<(String, Box<RawValue>)>);

impl Row {
    pub(crate) fn new() -> Row {
        Row::default()
    }

    /// Adds a field (or replaces its value, keeping its place).
    pub(crate) fn push(&mut self, key: &str, value: impl Serialize) {
        let value = match serde_json::value::to_raw_value(&value) {
            Ok(raw) => raw,
            Err(e) => {
                serde_json::value::to_raw_value(&format!("does not serialize: {e}")).expect("a string serializes")
            }
        };
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// The row with a field added.
    pub(crate) fn with(mut self, key: &str, value: impl Serialize) -> Row {
        self.push(key, value);
        self
    }

    pub(crate) fn extend(&mut self, other: Row) {
        for (key, value) in other.0 {
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => *slot = value,
                None => self.0.push((key, value)),
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        let (_, raw) = self.0.iter().find(|(k, _)| k == key)?;
        serde_json::from_str(raw.get()).ok()
    }

    /// The row as one line of JSON.
    pub(crate) fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\": \"row does not serialize: {e}\"}}"))
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `x` rounded to `digits` decimals (as Python's `round`, near enough for reporting).
pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Microseconds per unit, two decimals.
pub(crate) fn us(seconds: f64, units: usize) -> f64 {
    round(seconds * 1e6 / units.max(1) as f64, 2)
}

/// Milliseconds, three decimals.
pub(crate) fn ms(seconds: f64) -> f64 {
    round(seconds * 1e3, 3)
}

/// The median (mean of the middle two for an even count); 0 for no values.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The mean of each tenth of `seconds`, in microseconds with one decimal (`null` for an empty
/// tenth), cut as `bench.py` cuts them: tenth `d` is `[d*k/10, (d+1)*k/10)`.
pub(crate) fn deciles(seconds: &[f64]) -> Vec<Value> {
    let k = seconds.len();
    (0..10)
        .map(|d| {
            let chunk = &seconds[d * k / 10..(d + 1) * k / 10];
            if chunk.is_empty() {
                Value::Null
            } else {
                Value::from(round(chunk.iter().sum::<f64>() / chunk.len() as f64 * 1e6, 1))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Row, deciles, median, us};

    #[test]
    fn fields_keep_their_order_and_a_repeated_key_keeps_its_place() {
        let mut row = Row::new().with("name", "chain_nocp").with("wall_s", 1.5);
        row.push("unit", "node_step");
        row.push("wall_s", 2.0);
        assert_eq!(row.line(), r#"{"name":"chain_nocp","wall_s":2.0,"unit":"node_step"}"#);
    }

    #[test]
    fn statistics_match_bench_py() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(us(0.002, 100), 20.0);
        let steps: Vec<f64> = (0..19).map(|i| f64::from(i) * 1e-6).collect();
        // 19 steps: tenths of 1 or 2 steps, as Python's slicing cuts them.
        assert_eq!(
            json!(deciles(&steps)),
            json!([0.0, 1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5, 15.5, 17.5])
        );
        assert_eq!(
            json!(deciles(&[1e-6])),
            json!([null, null, null, null, null, null, null, null, null, 1.0])
        );
    }
}
