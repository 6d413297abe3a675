//! The type and dimensions of a generated image, read from its header (PNG, JPEG, WebP, GIF).

#[derive(Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub mime_type: &'static str,
    pub extension: &'static str,
    /// Width and height in pixels, when the header says.
    pub dimensions: Option<(u32, u32)>,
}

pub fn inspect(bytes: &[u8]) -> Option<ImageInfo> {
    let be32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le16 = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        // The IHDR chunk comes first: width and height right after its type.
        let dimensions = (bytes.get(12..16) == Some(b"IHDR"))
            .then(|| be32(16).zip(be32(20)))
            .flatten();
        return Some(ImageInfo {
            mime_type: "image/png",
            extension: "png",
            dimensions,
        });
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return Some(ImageInfo {
            mime_type: "image/jpeg",
            extension: "jpg",
            dimensions: jpeg_dimensions(bytes),
        });
    }
    if bytes.starts_with(b"GIF8") {
        return Some(ImageInfo {
            mime_type: "image/gif",
            extension: "gif",
            dimensions: le16(6).zip(le16(8)),
        });
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Some(ImageInfo {
            mime_type: "image/webp",
            extension: "webp",
            dimensions: None,
        });
    }
    None
}

/// Walks the JPEG markers to the first start-of-frame (SOF0-SOF15 but DHT, JPG and DAC).
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        let length = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let height = u16::from_be_bytes([*bytes.get(at + 5)?, *bytes.get(at + 6)?]);
            let width = u16::from_be_bytes([*bytes.get(at + 7)?, *bytes.get(at + 8)?]);
            return Some((u32::from(width), u32::from(height)));
        }
        if marker == 0xDA || length < 2 {
            return None;
        }
        at += 2 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn reads_png_dimensions() {
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
            .unwrap();
        assert_eq!(
            inspect(&png),
            Some(ImageInfo {
                mime_type: "image/png",
                extension: "png",
                dimensions: Some((1, 1))
            })
        );
    }

    #[test]
    fn reads_jpeg_dimensions_past_other_segments() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend([0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46]); // APP0, 2 bytes of payload
        jpeg.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x02, 0x58, 0x03, 0x20, 0x03]); // SOF0: 800×600
        jpeg.extend([0; 12]);
        let info = inspect(&jpeg).unwrap();
        assert_eq!(
            (info.mime_type, info.dimensions),
            ("image/jpeg", Some((800, 600)))
        );
        assert_eq!(
            inspect(&[0xFF, 0xD8, 0xFF]).unwrap().dimensions,
            None,
            "truncated"
        );
        assert_eq!(inspect(b"plain text"), None);
    }
}
