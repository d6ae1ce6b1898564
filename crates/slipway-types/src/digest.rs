//! Content digests (`algorithm:hex`).

use std::fmt;
use std::str::FromStr;

/// A digest algorithm Slipway accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256, 64 lowercase hex digits. The default everywhere.
    Sha256,
    /// SHA-512, 128 lowercase hex digits.
    Sha512,
}

impl DigestAlgorithm {
    /// Name as it appears before the colon.
    pub const fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// Number of hex digits in an encoded digest.
    pub const fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest such as `sha256:0123…`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `algorithm:` prefix.
    #[error("`{0}` is not a digest: expected `sha256:<64 hex digits>`")]
    MissingAlgorithm(String),
    /// An algorithm other than sha256/sha512.
    #[error("`{0}` uses an unsupported digest algorithm (expected sha256 or sha512)")]
    UnsupportedAlgorithm(String),
    /// Wrong length or non-hex characters.
    #[error("`{input}` is not a valid {algorithm} digest: expected {len} lowercase hex digits")]
    BadHex {
        /// The rejected input.
        input: String,
        /// The algorithm named in it.
        algorithm: &'static str,
        /// Expected number of hex digits.
        len: usize,
    },
}

impl Digest {
    /// Builds a sha256 digest from raw hash bytes.
    pub fn sha256_from_bytes(bytes: &[u8; 32]) -> Digest {
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            hex: to_hex(bytes),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The encoded part after the colon.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The cosign tag for an artifact attached to this digest, e.g. `sha256-<hex>.sig`.
    pub fn cosign_tag(&self, suffix: &str) -> String {
        format!("{}-{}.{suffix}", self.algorithm.name(), self.hex)
    }

    /// A short form for humans: the algorithm and the first 12 hex digits.
    pub fn short(&self) -> String {
        format!("{}:{}", self.algorithm.name(), &self.hex[..12])
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingAlgorithm(s.to_owned()))?;
        let algorithm = match alg {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            _ => return Err(DigestError::UnsupportedAlgorithm(s.to_owned())),
        };
        let ok = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(DigestError::BadHex {
                input: s.to_owned(),
                algorithm: algorithm.name(),
                len: algorithm.hex_len(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

crate::string_type!(
    Digest,
    "Digest",
    "A content digest: `sha256:` + 64 or `sha512:` + 128 lowercase hex digits.",
    Some("^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
);

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_displays() {
        let d: Digest = GOOD.parse().unwrap();
        assert_eq!(d.to_string(), GOOD);
        assert_eq!(d.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(d.short(), "sha256:e3b0c44298fc");
        assert_eq!(
            d.cosign_tag("sig"),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            "e3b0".parse::<Digest>(),
            Err(DigestError::MissingAlgorithm(_))
        ));
        assert!(matches!(
            "md5:abcd".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            GOOD.to_uppercase()
                .replace("SHA256", "sha256")
                .parse::<Digest>(),
            Err(DigestError::BadHex { .. })
        ));
        assert!(matches!(
            "sha256:abc".parse::<Digest>(),
            Err(DigestError::BadHex { .. })
        ));
    }

    #[test]
    fn serde_round_trip_and_error() {
        let d: Digest = serde_json::from_str(&format!("\"{GOOD}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{GOOD}\""));
        let err = serde_json::from_str::<Digest>("\"sha256:zz\"").unwrap_err();
        assert!(
            err.to_string().contains("not a valid sha256 digest"),
            "{err}"
        );
    }

    #[test]
    fn from_bytes() {
        let d = Digest::sha256_from_bytes(&[0xab; 32]);
        assert_eq!(d.hex(), "ab".repeat(32));
    }
}
