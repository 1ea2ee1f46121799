//! A file's three sizes: as it is, gzipped (flate2, level 9) and brotli-compressed
//! (quality 11, window 22) — the settings rollup-plugin-visualizer (vite-bundle-
//! visualizer's engine) measures with, and those of files precompressed for a server.
//! Also the decoding of a served body, whatever `Content-Encoding` it came with.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

/// Bytes as they are and compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
}

impl Sizes {
    /// The size a budget in `compression` compares.
    pub fn get(&self, compression: super::budgets::Compression) -> u64 {
        match compression {
            super::budgets::Compression::Raw => self.raw,
            super::budgets::Compression::Gzip => self.gzip,
            super::budgets::Compression::Brotli => self.brotli,
        }
    }
}

impl std::ops::Add for Sizes {
    type Output = Sizes;
    fn add(self, o: Sizes) -> Sizes {
        Sizes {
            raw: self.raw + o.raw,
            gzip: self.gzip + o.gzip,
            brotli: self.brotli + o.brotli,
        }
    }
}

impl std::iter::Sum for Sizes {
    fn sum<I: Iterator<Item = Sizes>>(iter: I) -> Sizes {
        iter.fold(Sizes::default(), |a, b| a + b)
    }
}

/// Measures `bytes` (CPU-bound: call it from a blocking task for large inputs).
pub fn measure(bytes: &[u8]) -> Sizes {
    Sizes {
        raw: bytes.len() as u64,
        gzip: gzip(bytes).len() as u64,
        brotli: brotli(bytes).len() as u64,
    }
}

/// gzip at level 9.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// brotli at quality 11, window 22 (the encoder's defaults).
pub fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes).expect("writing to memory");
    }
    out
}

/// The body as the file is, from what a server sent under `content_encoding`
/// (`gzip`, `br`, `deflate`, or none).
pub fn decode(body: &[u8], content_encoding: Option<&str>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let result = match content_encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => return Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            flate2::read::MultiGzDecoder::new(body).read_to_end(&mut out)
        }
        Some("deflate") => flate2::read::ZlibDecoder::new(body).read_to_end(&mut out),
        Some("br") => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        Some(other) => return Err(format!("Content-Encoding `{other}` was not asked for")),
    };
    result.map(|_| out).map_err(|e| {
        format!(
            "its {} body does not decode: {e}",
            content_encoding.unwrap_or("")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_sizes_are_real_and_decode_back() {
        let text = "export const label = 'Copropriété';\n".repeat(200);
        let s = measure(text.as_bytes());
        assert_eq!(s.raw, text.len() as u64);
        assert!(s.gzip > 0 && s.gzip < s.raw / 10, "{s:?}");
        assert!(s.brotli > 0 && s.brotli <= s.gzip, "{s:?}");
        for (body, encoding) in [
            (gzip(text.as_bytes()), Some("gzip")),
            (brotli(text.as_bytes()), Some("br")),
            (text.as_bytes().to_vec(), None),
        ] {
            assert_eq!(decode(&body, encoding).unwrap(), text.as_bytes());
        }
        assert!(decode(b"not gzip", Some("gzip")).is_err());
        assert!(decode(b"x", Some("zstd")).unwrap_err().contains("zstd"));
    }
}
