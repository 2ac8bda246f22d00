//! A simple IoU tracker: links per-frame detections into tracks to count unique people.
//!
//! No motion model and no appearance features: a detection continues the track whose last
//! box it overlaps most. That holds when frames are sampled often enough that a walking
//! person's boxes overlap between samples (about 2 fps or more for pedestrians filmed from
//! a distance); at lower rates, people are counted again each time they are sampled.

use crate::decode::Detection;

/// How detections are linked into tracks and which tracks count.
#[derive(Debug, Clone, Copy)]
pub struct TrackParams {
    /// Least IoU between a track's last box and a detection to link them.
    pub iou: f32,
    /// Frames a track may go unseen (occlusion, a missed detection) before it ends.
    pub max_missed: usize,
    /// Frames a track must be seen in to count as a person: filters one-frame false
    /// positives. Capped at the number of frames, so a single frame still counts.
    pub min_hits: usize,
}

impl Default for TrackParams {
    fn default() -> Self {
        TrackParams {
            iou: 0.3,
            max_missed: 3,
            min_hits: 2,
        }
    }
}

/// One person followed across frames.
#[derive(Debug, Clone)]
pub struct Track {
    /// Stable id, in order of creation from 0.
    pub id: usize,
    /// The last box seen.
    pub last: Detection,
    /// Frames the track was seen in.
    pub hits: usize,
    /// Consecutive frames since it was last seen.
    pub missed: usize,
}

/// Links detections frame by frame. Feed frames in order with [`Tracker::update`].
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    params: TrackParams,
    active: Vec<Track>,
    finished: Vec<Track>,
    next_id: usize,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(params: TrackParams) -> Self {
        Tracker {
            params,
            ..Default::default()
        }
    }

    /// Adds one frame's detections; returns the track id given to each, in order.
    pub fn update(&mut self, detections: &[Detection]) -> Vec<usize> {
        // Greedy global matching: best-overlapping pairs first, each side used once.
        let mut pairs = Vec::new();
        for (t, track) in self.active.iter().enumerate() {
            for (d, det) in detections.iter().enumerate() {
                let iou = track.last.iou(det);
                if iou >= self.params.iou {
                    pairs.push((iou, t, d));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_taken = vec![false; self.active.len()];
        let mut ids = vec![usize::MAX; detections.len()];
        for (_, t, d) in pairs {
            if track_taken[t] || ids[d] != usize::MAX {
                continue;
            }
            track_taken[t] = true;
            let track = &mut self.active[t];
            track.last = detections[d];
            track.hits += 1;
            track.missed = 0;
            ids[d] = track.id;
        }
        for (t, taken) in track_taken.iter().enumerate() {
            if !taken {
                self.active[t].missed += 1;
            }
        }
        let max_missed = self.params.max_missed;
        let (ended, kept): (Vec<Track>, Vec<Track>) =
            self.active.drain(..).partition(|t| t.missed > max_missed);
        self.active = kept;
        self.finished.extend(ended);
        for (d, det) in detections.iter().enumerate() {
            if ids[d] == usize::MAX {
                ids[d] = self.next_id;
                self.active.push(Track {
                    id: self.next_id,
                    last: *det,
                    hits: 1,
                    missed: 0,
                });
                self.next_id += 1;
            }
        }
        ids
    }

    /// Tracks seen in at least `min_hits` frames (capped at `frames`, the frames fed so far).
    pub fn confirmed(&self, frames: usize) -> usize {
        let need = self.params.min_hits.min(frames).max(1);
        self.active
            .iter()
            .chain(&self.finished)
            .filter(|t| t.hits >= need)
            .count()
    }
}

/// Unique people over a sequence of frames' detections.
pub fn unique_count(frames: &[Vec<Detection>], params: TrackParams) -> usize {
    let mut tracker = Tracker::new(params);
    for frame in frames {
        tracker.update(frame);
    }
    tracker.confirmed(frames.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x: f32, y: f32) -> Detection {
        Detection {
            x,
            y,
            w: 20.0,
            h: 50.0,
            score: 0.8,
        }
    }

    #[test]
    fn two_walkers_are_two_people() {
        // Two people walking right 4 px per frame, for 10 frames.
        let frames: Vec<Vec<Detection>> = (0..10)
            .map(|i| {
                vec![
                    person(4.0 * i as f32, 0.0),
                    person(100.0 + 4.0 * i as f32, 80.0),
                ]
            })
            .collect();
        assert_eq!(unique_count(&frames, TrackParams::default()), 2);
    }

    #[test]
    fn a_short_occlusion_keeps_the_track() {
        let mut frames: Vec<Vec<Detection>> =
            (0..8).map(|i| vec![person(2.0 * i as f32, 0.0)]).collect();
        frames[3].clear();
        frames[4].clear();
        assert_eq!(unique_count(&frames, TrackParams::default()), 1);
    }

    #[test]
    fn a_long_absence_starts_a_new_track() {
        let mut frames: Vec<Vec<Detection>> = (0..12).map(|_| vec![person(0.0, 0.0)]).collect();
        for f in &mut frames[2..8] {
            f.clear();
        }
        assert_eq!(unique_count(&frames, TrackParams::default()), 2);
    }

    #[test]
    fn a_one_frame_false_positive_is_not_counted() {
        let mut frames: Vec<Vec<Detection>> = (0..6).map(|_| vec![person(0.0, 0.0)]).collect();
        frames[2].push(person(300.0, 300.0));
        assert_eq!(unique_count(&frames, TrackParams::default()), 1);
    }

    #[test]
    fn a_single_frame_counts_its_detections() {
        assert_eq!(
            unique_count(
                &[vec![person(0.0, 0.0), person(50.0, 0.0)]],
                TrackParams::default()
            ),
            2
        );
        assert_eq!(unique_count(&[], TrackParams::default()), 0);
    }

    #[test]
    fn crossing_people_keep_their_ids() {
        let mut tracker = Tracker::new(TrackParams::default());
        let a = tracker.update(&[person(0.0, 0.0), person(60.0, 0.0)]);
        // The same two people, listed in the other order and moved a little.
        let b = tracker.update(&[person(58.0, 0.0), person(2.0, 0.0)]);
        assert_eq!(a, vec![0, 1]);
        assert_eq!(b, vec![1, 0]);
    }
}
