//! The doom event packet: `0` u64 ts_us · `8` u32 N = JSON length · `12..12+N` UTF-8 JSON object
//! `{timestamp, event_type, data}`. The device reads at most 4096 bytes.

use crate::wire::{WireError, le_u32, le_u64};

/// Bytes before the JSON text.
pub const EVENT_HEADER_LEN: usize = 12;
/// Largest datagram the device reads on the event port.
pub const EVENT_MAX_LEN: usize = 4096;

/// An event packet, keeping the JSON text exactly as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPacket {
    /// Sender wall clock, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// The JSON object text.
    pub json: String,
}

/// The parsed JSON object of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBody {
    /// `event_type`, e.g. `episode_end` or `training_complete`.
    pub event_type: String,
    /// `timestamp` if present and numeric (the trainer sends seconds since the epoch).
    pub timestamp: Option<f64>,
    /// `data` (JSON null if absent).
    pub data: serde_json::Value,
}

impl EventPacket {
    /// Builds a packet with the trainer's JSON shape `{timestamp, event_type, data}`.
    pub fn new(timestamp_us: u64, event_type: &str, data: serde_json::Value) -> Self {
        let obj = serde_json::json!({
            "timestamp": timestamp_us as f64 / 1e6,
            "event_type": event_type,
            "data": data,
        });
        Self {
            timestamp_us,
            json: obj.to_string(),
        }
    }

    /// Packs header + JSON. Fails if the whole packet would exceed 4096 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let len = EVENT_HEADER_LEN + self.json.len();
        if len > EVENT_MAX_LEN {
            return Err(WireError::TooLong {
                max: EVENT_MAX_LEN,
                got: len,
            });
        }
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&self.timestamp_us.to_le_bytes());
        b.extend_from_slice(&(self.json.len() as u32).to_le_bytes());
        b.extend_from_slice(self.json.as_bytes());
        Ok(b)
    }

    /// Unpacks and checks a datagram: 12 ≤ size ≤ 4096, N equal to the bytes that follow, UTF-8,
    /// a JSON object with a string `event_type`.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() < EVENT_HEADER_LEN {
            return Err(WireError::TooShort {
                min: EVENT_HEADER_LEN,
                got: bytes.len(),
            });
        }
        if bytes.len() > EVENT_MAX_LEN {
            return Err(WireError::TooLong {
                max: EVENT_MAX_LEN,
                got: bytes.len(),
            });
        }
        let declared = le_u32(bytes, 8) as usize;
        let available = bytes.len() - EVENT_HEADER_LEN;
        if declared != available {
            return Err(WireError::EventLength {
                declared,
                available,
            });
        }
        let json = std::str::from_utf8(&bytes[EVENT_HEADER_LEN..])
            .map_err(|_| WireError::Utf8)?
            .to_owned();
        let p = Self {
            timestamp_us: le_u64(bytes, 0),
            json,
        };
        p.body()?;
        Ok(p)
    }

    /// Parses the JSON object.
    pub fn body(&self) -> Result<EventBody, WireError> {
        let v: serde_json::Value =
            serde_json::from_str(&self.json).map_err(|e| WireError::Json(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| WireError::Json("not an object".into()))?;
        let event_type = obj
            .get("event_type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| WireError::Json("missing string event_type".into()))?
            .to_owned();
        Ok(EventBody {
            event_type,
            timestamp: obj.get("timestamp").and_then(|t| t.as_f64()),
            data: obj.get("data").cloned().unwrap_or(serde_json::Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let json =
            br#"{"timestamp":1.5,"event_type":"training_complete","data":{"total_episodes":3}}"#;
        let mut b = Vec::new();
        b.extend_from_slice(&[0x40, 0x42, 0x0F, 0, 0, 0, 0, 0]); // 1_000_000 µs
        b.extend_from_slice(&(json.len() as u32).to_le_bytes());
        b.extend_from_slice(json);
        let p = EventPacket::decode(&b).expect("valid event");
        assert_eq!(p.timestamp_us, 1_000_000);
        let body = p.body().expect("parses");
        assert_eq!(body.event_type, "training_complete");
        assert_eq!(body.timestamp, Some(1.5));
        assert_eq!(body.data["total_episodes"], 3);
        assert_eq!(p.encode().expect("fits"), b);
    }

    #[test]
    fn strict_lengths_and_json() {
        let p = EventPacket::new(7, "episode_end", serde_json::json!({"episode": 1}));
        let b = p.encode().expect("fits");
        assert_eq!(EventPacket::decode(&b).as_ref(), Ok(&p));
        let mut short = b.clone();
        short.pop();
        assert!(matches!(
            EventPacket::decode(&short),
            Err(WireError::EventLength { .. })
        ));
        assert!(matches!(
            EventPacket::decode(&b[..11]),
            Err(WireError::TooShort { .. })
        ));
        let mut bad = Vec::from(&b[..12]);
        bad[8..12].copy_from_slice(&2u32.to_le_bytes());
        bad.extend_from_slice(b"[]");
        assert!(matches!(EventPacket::decode(&bad), Err(WireError::Json(_))));
        bad.truncate(12);
        bad.extend_from_slice(&[0xC3, 0x28]);
        assert_eq!(EventPacket::decode(&bad), Err(WireError::Utf8));
        let huge = EventPacket {
            timestamp_us: 0,
            json: "x".repeat(4085),
        };
        assert!(matches!(
            huge.encode(),
            Err(WireError::TooLong { got: 4097, .. })
        ));
    }
}
