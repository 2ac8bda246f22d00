//! Turns a picture for display, as the container's rotation asks (players and ffmpeg do).

use crate::media::Rgb;

/// Rotates `rgb` clockwise by `degrees` (0, 90, 180 or 270; anything else is left alone).
pub fn rotate(rgb: Rgb, degrees: u32) -> Rgb {
    let (w, h) = (rgb.width as usize, rgb.height as usize);
    let src = &rgb.data;
    match degrees {
        90 | 270 => {
            let mut data = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    // Clockwise: source (x, y) lands at (h-1-y, x); counter-clockwise at (y, w-1-x).
                    let (nx, ny) = if degrees == 90 {
                        (h - 1 - y, x)
                    } else {
                        (y, w - 1 - x)
                    };
                    let d = (ny * h + nx) * 3;
                    let s = (y * w + x) * 3;
                    data[d..d + 3].copy_from_slice(&src[s..s + 3]);
                }
            }
            Rgb {
                width: rgb.height,
                height: rgb.width,
                data,
            }
        }
        180 => {
            let mut data = rgb.data;
            let pixels = w * h;
            for i in 0..pixels / 2 {
                let j = pixels - 1 - i;
                for c in 0..3 {
                    data.swap(i * 3 + c, j * 3 + c);
                }
            }
            Rgb { data, ..rgb }
        }
        _ => rgb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pic() -> Rgb {
        // 2x1: red, green.
        Rgb {
            width: 2,
            height: 1,
            data: vec![255, 0, 0, 0, 255, 0],
        }
    }

    #[test]
    fn quarter_turns() {
        let r = rotate(pic(), 90);
        assert_eq!((r.width, r.height), (1, 2));
        assert_eq!(r.data, vec![255, 0, 0, 0, 255, 0]);
        let r = rotate(pic(), 270);
        assert_eq!(r.data, vec![0, 255, 0, 255, 0, 0]);
        let r = rotate(pic(), 180);
        assert_eq!(r.data, vec![0, 255, 0, 255, 0, 0]);
    }
}
