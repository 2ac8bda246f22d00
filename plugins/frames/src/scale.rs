//! Downscaling to a maximum width, keeping the aspect ratio.
//!
//! An area filter (each output pixel averages the source pixels it covers, with
//! fractional edges), done separably in fixed point: sharp enough for previews and
//! detectors, no ringing, and no allocation beyond one intermediate picture.

use crate::media::Rgb;

/// Scales `rgb` down so its width is at most `max_width`; narrower pictures are returned as is.
pub fn fit_width(rgb: Rgb, max_width: u32) -> Rgb {
    if max_width == 0 || rgb.width <= max_width {
        return rgb;
    }
    let new_w = max_width;
    let new_h = ((u64::from(rgb.height) * u64::from(new_w) + u64::from(rgb.width) / 2)
        / u64::from(rgb.width))
    .max(1) as u32;
    resize(&rgb, new_w, new_h)
}

/// For each output position: the first source index and its 16.16 weights.
fn taps(src: u32, dst: u32) -> Vec<(usize, Vec<u32>)> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|i| {
            let start = f64::from(i) * scale;
            let end = (start + scale).min(f64::from(src));
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(src as usize).max(first + 1);
            let mut weights: Vec<u32> = (first..last)
                .map(|s| {
                    let cover = (end.min(s as f64 + 1.0) - start.max(s as f64)).max(0.0);
                    (cover / (end - start) * 65536.0).round() as u32
                })
                .collect();
            // Make the weights sum to exactly 1.0 so flat areas stay flat.
            let sum: u32 = weights.iter().sum();
            if let Some(w) = weights.iter_mut().max() {
                *w = (*w + 65536).saturating_sub(sum);
            }
            (first, weights)
        })
        .collect()
}

fn resize(rgb: &Rgb, new_w: u32, new_h: u32) -> Rgb {
    let (w, h) = (rgb.width as usize, rgb.height as usize);
    let (nw, nh) = (new_w as usize, new_h as usize);
    // Horizontal pass: h rows of nw pixels.
    let xt = taps(rgb.width, new_w);
    let mut mid = vec![0u8; nw * h * 3];
    for y in 0..h {
        let row = &rgb.data[y * w * 3..(y + 1) * w * 3];
        let out = &mut mid[y * nw * 3..(y + 1) * nw * 3];
        for (x, (first, weights)) in xt.iter().enumerate() {
            let mut acc = [1u32 << 15; 3];
            for (k, &wt) in weights.iter().enumerate() {
                let p = &row[(first + k) * 3..(first + k) * 3 + 3];
                for c in 0..3 {
                    acc[c] += u32::from(p[c]) * wt;
                }
            }
            for c in 0..3 {
                out[x * 3 + c] = (acc[c] >> 16).min(255) as u8;
            }
        }
    }
    // Vertical pass.
    let yt = taps(rgb.height, new_h);
    let mut data = vec![0u8; nw * nh * 3];
    let stride = nw * 3;
    for (y, (first, weights)) in yt.iter().enumerate() {
        let out = &mut data[y * stride..(y + 1) * stride];
        let mut acc = vec![1u32 << 15; stride];
        for (k, &wt) in weights.iter().enumerate() {
            let row = &mid[(first + k) * stride..(first + k + 1) * stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += u32::from(p) * wt;
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = (a >> 16).min(255) as u8;
        }
    }
    Rgb {
        width: new_w,
        height: new_h,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_and_keeps_flat_colour() {
        let rgb = Rgb {
            width: 4,
            height: 2,
            data: [10u8, 200, 30].repeat(8),
        };
        let out = fit_width(rgb, 2);
        assert_eq!((out.width, out.height), (2, 1));
        assert_eq!(out.data, [10u8, 200, 30].repeat(2));
    }

    #[test]
    fn averages_and_keeps_aspect() {
        let rgb = Rgb {
            width: 3,
            height: 3,
            data: (0..27).map(|i| (i * 9) as u8).collect(),
        };
        let out = fit_width(rgb, 2);
        assert_eq!((out.width, out.height), (2, 2));
        let narrow = Rgb {
            width: 2,
            height: 2,
            data: vec![0; 12],
        };
        assert_eq!(fit_width(narrow.clone(), 10), narrow);
    }
}
