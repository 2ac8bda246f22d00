//! Draws detection boxes on a frame and encodes it as JPEG (the `annotated.jpg` output).

use crate::decode::Detection;
use crate::image::Rgb;

/// Box colour: a saturated green, visible on both pavement and grass.
const COLOUR: [u8; 3] = [0, 255, 64];

/// Draws each detection's outline on `img`, 2 px thick (more on large frames).
pub fn draw_boxes(img: &mut Rgb, detections: &[Detection]) {
    let thickness = (img.width.max(img.height) / 400).max(2);
    for d in detections {
        let x0 = d.x.max(0.0) as usize;
        let y0 = d.y.max(0.0) as usize;
        let x1 = ((d.x + d.w).max(0.0) as usize).min(img.width.saturating_sub(1));
        let y1 = ((d.y + d.h).max(0.0) as usize).min(img.height.saturating_sub(1));
        if x0 > x1 || y0 > y1 {
            continue;
        }
        for t in 0..thickness {
            hline(img, x0, x1, (y0 + t).min(y1));
            hline(img, x0, x1, y1.saturating_sub(t).max(y0));
            vline(img, (x0 + t).min(x1), y0, y1);
            vline(img, x1.saturating_sub(t).max(x0), y0, y1);
        }
    }
}

fn hline(img: &mut Rgb, x0: usize, x1: usize, y: usize) {
    let row = y * img.width * 3;
    for px in img.data[row + x0 * 3..row + (x1 + 1) * 3].chunks_exact_mut(3) {
        px.copy_from_slice(&COLOUR);
    }
}

fn vline(img: &mut Rgb, x: usize, y0: usize, y1: usize) {
    for y in y0..=y1 {
        let p = (y * img.width + x) * 3;
        img.data[p..p + 3].copy_from_slice(&COLOUR);
    }
}

/// Encodes `img` as a baseline JPEG of the given quality (1-100).
pub fn encode_jpeg(img: &Rgb, quality: u8) -> Result<Vec<u8>, String> {
    let (Ok(w), Ok(h)) = (u16::try_from(img.width), u16::try_from(img.height)) else {
        return Err(format!(
            "{}x{} is too large for JPEG",
            img.width, img.height
        ));
    };
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&img.data, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_inside_the_frame_and_round_trips_as_jpeg() {
        let mut img = Rgb {
            width: 64,
            height: 48,
            data: vec![0; 64 * 48 * 3],
        };
        // One box inside, one hanging off the bottom-right corner.
        let boxes = [
            Detection {
                x: 10.0,
                y: 10.0,
                w: 20.0,
                h: 20.0,
                score: 0.9,
            },
            Detection {
                x: 50.0,
                y: 40.0,
                w: 100.0,
                h: 100.0,
                score: 0.5,
            },
        ];
        draw_boxes(&mut img, &boxes);
        assert_eq!(
            &img.data[(10 * 64 + 10) * 3..(10 * 64 + 10) * 3 + 3],
            &COLOUR
        );
        assert_eq!(
            &img.data[(20 * 64 + 20) * 3..(20 * 64 + 20) * 3 + 3],
            &[0, 0, 0]
        );
        let jpeg = encode_jpeg(&img, 85).unwrap();
        let back = crate::image::decode(&jpeg).unwrap();
        assert_eq!((back.width, back.height), (64, 48));
    }
}
