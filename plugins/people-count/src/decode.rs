//! NanoDet post-processing: per-stride score and distance maps to person boxes, then NMS.
//!
//! NanoDet-m (GFL head) emits, for each stride 8, 16 and 32, a score map `[1, N, 80]`
//! (COCO classes, already through a sigmoid) and a box map `[1, N, 4 * (REG_MAX + 1)]`:
//! for each of the left, top, right and bottom distances a discrete distribution over
//! 0..=REG_MAX (logits). The distance is the distribution's expectation times the stride,
//! measured from the cell centre `((col + 0.5) * stride, (row + 0.5) * stride)`, as in
//! NanoDet's reference decoders.

/// Largest distance bin of the box distributions (NanoDet-m: 10, so 11 bins per side).
pub const REG_MAX: usize = 10;
/// Bins per side.
const BINS: usize = REG_MAX + 1;
/// COCO class index of "person".
pub const PERSON: usize = 0;
/// Classes in a score map.
pub const CLASSES: usize = 80;

/// A box in some pixel space, with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// Person score in 0..1.
    pub score: f32,
}

impl Detection {
    /// Intersection over union with `other` (0 when either box is empty).
    pub fn iou(&self, other: &Detection) -> f32 {
        let ix = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let iy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        let union = self.w * self.h + other.w * other.h - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The smallest box holding both (score: the lower of the two).
    pub fn union_box(&self, other: &Detection) -> Detection {
        let (x0, y0) = (self.x.min(other.x), self.y.min(other.y));
        let x1 = (self.x + self.w).max(other.x + other.w);
        let y1 = (self.y + self.h).max(other.y + other.h);
        Detection {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
            score: self.score.min(other.score),
        }
    }

    /// Centre point.
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// The same box with its coordinates multiplied by `sx`, `sy`.
    pub fn scaled(&self, sx: f32, sy: f32) -> Detection {
        Detection {
            x: self.x * sx,
            y: self.y * sy,
            w: self.w * sx,
            h: self.h * sy,
            score: self.score,
        }
    }
}

/// One stride's outputs, flattened (batch dimension dropped).
pub struct Level<'a> {
    /// Pixels per cell in the network input: 8, 16 or 32.
    pub stride: usize,
    /// `N * CLASSES` scores.
    pub scores: &'a [f32],
    /// `N * 4 * BINS` distance logits.
    pub boxes: &'a [f32],
}

/// Decodes all levels into person candidates scoring at least `threshold`, in the
/// `input_size` x `input_size` space of the network input, before NMS.
pub fn candidates(levels: &[Level<'_>], input_size: usize, threshold: f32) -> Vec<Detection> {
    let mut out = Vec::new();
    for level in levels {
        let cols = input_size / level.stride;
        let cells = level.scores.len() / CLASSES;
        for cell in 0..cells {
            let score = level.scores[cell * CLASSES + PERSON];
            if score < threshold {
                continue;
            }
            let dist = &level.boxes[cell * 4 * BINS..(cell + 1) * 4 * BINS];
            let [l, t, r, b] = [0, 1, 2, 3].map(|side| {
                expectation(&dist[side * BINS..(side + 1) * BINS]) * level.stride as f32
            });
            let cx = ((cell % cols) as f32 + 0.5) * level.stride as f32;
            let cy = ((cell / cols) as f32 + 0.5) * level.stride as f32;
            let size = input_size as f32;
            let (x0, y0) = ((cx - l).max(0.0), (cy - t).max(0.0));
            let (x1, y1) = ((cx + r).min(size), (cy + b).min(size));
            if x1 > x0 && y1 > y0 {
                out.push(Detection {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                    score,
                });
            }
        }
    }
    out
}

/// Expected bin index of a softmax over `logits`.
fn expectation(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0f32, 0f32);
    for (i, &v) in logits.iter().enumerate() {
        let e = (v - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    weighted / sum
}

/// Overlap with the union of two kept boxes above which a weaker box is taken for a box
/// around that pair rather than a third person (see [`nms`]).
pub const GROUP_IOU: f32 = 0.7;

/// Greedy non-maximum suppression: keeps the best box, drops those overlapping it by more
/// than `iou`, repeats. Returns the kept boxes, best first.
///
/// It also drops a box that covers two kept (better) boxes together: NanoDet sometimes
/// scores a box around two people walking side by side, which overlaps each of them by
/// less than `iou` (about 0.47 on vtest.avi) but matches their joint extent
/// (IoU about 0.86). A third person standing behind two others has a box of their own
/// size, far from the pair's extent.
pub fn nms(mut boxes: Vec<Detection>, iou: f32) -> Vec<Detection> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for candidate in boxes {
        if kept.iter().all(|k| k.iou(&candidate) <= iou) && !covers_a_pair(&candidate, &kept) {
            kept.push(candidate);
        }
    }
    kept
}

/// True when `candidate` matches the joint extent of two of `kept`.
fn covers_a_pair(candidate: &Detection, kept: &[Detection]) -> bool {
    let near: Vec<&Detection> = kept.iter().filter(|k| k.iou(candidate) > 0.0).collect();
    near.iter().enumerate().any(|(i, a)| {
        near[i + 1..]
            .iter()
            .any(|b| a.union_box(b).iou(candidate) >= GROUP_IOU)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, w: f32, h: f32, score: f32) -> Detection {
        Detection { x, y, w, h, score }
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = det(0.0, 0.0, 10.0, 10.0, 1.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&det(20.0, 0.0, 10.0, 10.0, 1.0)), 0.0);
        let half = a.iou(&det(5.0, 0.0, 10.0, 10.0, 1.0));
        assert!((half - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = nms(
            vec![
                det(0.0, 0.0, 10.0, 10.0, 0.6),
                det(1.0, 0.0, 10.0, 10.0, 0.9),
                det(50.0, 50.0, 10.0, 10.0, 0.5),
            ],
            0.5,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].x, 50.0);
    }

    #[test]
    fn nms_drops_a_box_around_two_people() {
        // Two people side by side and a weaker box around both (from vtest.avi frame 320).
        let a = det(596.0, 182.0, 31.0, 83.0, 0.83);
        let b = det(627.0, 183.0, 29.0, 81.0, 0.78);
        let pair = det(600.0, 183.0, 53.0, 83.0, 0.55);
        assert!(pair.iou(&a) < 0.5 && pair.iou(&b) < 0.5);
        let kept = nms(vec![pair, b, a], 0.5);
        assert_eq!(kept, vec![a, b]);
        // A person behind two others, of their own size, is kept; so is a large box
        // (someone near the camera) holding two small distant people.
        let behind = det(610.0, 170.0, 30.0, 75.0, 0.5);
        assert_eq!(nms(vec![a, b, behind], 0.5).len(), 3);
        let near = det(560.0, 100.0, 150.0, 400.0, 0.5);
        assert_eq!(nms(vec![a, b, near], 0.5).len(), 3);
    }

    #[test]
    fn decodes_a_single_cell() {
        // 2x2 cells at stride 16 over a 32 px input; only cell (col 1, row 0) scores.
        let mut scores = vec![0f32; 4 * CLASSES];
        scores[CLASSES + PERSON] = 0.8;
        scores[2 * CLASSES + 3] = 0.9; // another class: ignored.
        // Every side's distribution peaks hard at bin 1: distance 1 * 16.
        let mut boxes = vec![0f32; 4 * 4 * BINS];
        for side in 0..4 {
            boxes[4 * BINS + side * BINS + 1] = 50.0;
        }
        let found = candidates(
            &[Level {
                stride: 16,
                scores: &scores,
                boxes: &boxes,
            }],
            32,
            0.5,
        );
        assert_eq!(found.len(), 1);
        let d = found[0];
        // Centre (24, 8); the box is clipped to the 32x32 input.
        assert!(
            (d.x - 8.0).abs() < 1e-3
                && d.y == 0.0
                && (d.w - 24.0).abs() < 1e-3
                && (d.h - 24.0).abs() < 1e-3
        );
        assert_eq!(d.score, 0.8);
    }
}
