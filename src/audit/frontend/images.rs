//! What modern formats would save on a JPEG or PNG, measured by encoding it: decoded
//! by the `image` crate, encoded by libwebp (the `webp` crate, the encoder sharp
//! wraps) as the guide's `npx sharp input.jpg -o output.webp --webp` does — lossy,
//! quality 80, method 4, sharp's defaults — and, for a PNG, losslessly too, since a
//! drawing or a screenshot may need every pixel.

use serde::{Deserialize, Serialize};

/// The formats measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    /// By the file's first bytes (its magic number), not its name.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else {
            None
        }
    }
}

/// sharp's default WebP quality.
pub const WEBP_QUALITY: f32 = 80.0;

/// One image and what it would weigh as WebP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReport {
    /// Its path on the site.
    pub path: String,
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// Its size as it is.
    pub bytes: u64,
    /// As lossy WebP, quality 80 (sharp's default, the guide's command).
    pub webp: u64,
    /// As lossless WebP (PNGs only).
    pub webp_lossless: Option<u64>,
    /// `bytes - webp` when WebP is smaller, else 0.
    pub webp_saving: u64,
    /// A page serves it through `<picture>` with a WebP or AVIF source, or a WebP of
    /// the same name sits next to it.
    pub webp_served: bool,
}

/// Why an image could not be measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageError {
    pub path: String,
    pub error: String,
}

/// Decodes `bytes` and encodes them as WebP (CPU-bound: call it from a blocking task).
pub fn measure(path: &str, bytes: &[u8], webp_served: bool) -> Result<ImageReport, ImageError> {
    let fail = |error: String| ImageError {
        path: path.to_string(),
        error,
    };
    let format = Format::sniff(bytes).ok_or_else(|| fail("neither a JPEG nor a PNG".into()))?;
    let decoded = image::load_from_memory_with_format(
        bytes,
        match format {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
        },
    )
    .map_err(|e| fail(format!("does not decode: {e}")))?;
    let (width, height) = (decoded.width(), decoded.height());
    // libwebp takes 8-bit RGB or RGBA; a PNG with alpha keeps it.
    let (pixels, has_alpha) = if decoded.color().has_alpha() {
        (decoded.to_rgba8().into_raw(), true)
    } else {
        (decoded.to_rgb8().into_raw(), false)
    };
    let encoder = match has_alpha {
        true => webp::Encoder::from_rgba(&pixels, width, height),
        false => webp::Encoder::from_rgb(&pixels, width, height),
    };
    let webp = encoder
        .encode_simple(false, WEBP_QUALITY)
        .map_err(|e| fail(format!("WebP encoding failed: {e:?}")))?
        .len() as u64;
    let webp_lossless = match format {
        Format::Png => Some(
            encoder
                .encode_simple(true, 100.0)
                .map_err(|e| fail(format!("lossless WebP encoding failed: {e:?}")))?
                .len() as u64,
        ),
        Format::Jpeg => None,
    };
    let size = bytes.len() as u64;
    Ok(ImageReport {
        path: path.to_string(),
        format,
        width,
        height,
        bytes: size,
        webp,
        webp_lossless,
        webp_saving: size.saturating_sub(webp),
        webp_served,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like picture: smooth gradients with noise, as a camera gives.
    fn photo(width: u32, height: u32) -> image::RgbImage {
        let mut state = 12345u32;
        image::RgbImage::from_fn(width, height, |x, y| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let noise = (state >> 16) as u8 % 24;
            image::Rgb([
                ((x * 255 / width) as u8).saturating_add(noise),
                ((y * 255 / height) as u8).saturating_add(noise / 2),
                (((x + y) * 127 / (width + height)) as u8).saturating_add(noise),
            ])
        })
    }

    #[test]
    fn a_photo_like_png_saves_bytes_as_webp() {
        let mut png = Vec::new();
        photo(320, 240)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let r = measure("/img/photo.png", &png, false).unwrap();
        assert_eq!((r.format, r.width, r.height), (Format::Png, 320, 240));
        assert_eq!(r.bytes, png.len() as u64);
        assert!(r.webp > 0 && r.webp < r.bytes / 2, "{r:?}");
        assert_eq!(r.webp_saving, r.bytes - r.webp);
        assert!(r.webp_lossless.is_some_and(|l| l > r.webp), "{r:?}");
    }

    #[test]
    fn what_is_no_image_is_said() {
        let e = measure("/img/x.png", b"<html>", false).unwrap_err();
        assert_eq!(e.error, "neither a JPEG nor a PNG");
        let e = measure("/img/x.png", b"\x89PNG\r\n\x1a\nbroken", false).unwrap_err();
        assert!(e.error.starts_with("does not decode"), "{e:?}");
    }
}
