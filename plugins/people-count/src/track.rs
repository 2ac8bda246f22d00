//! A simple tracker: links per-frame detections into tracks to count unique people.
//!
//! No appearance features. A detection continues the track whose last box it overlaps
//! (IoU), or whose centre it lies near once distances are measured in box heights: a
//! walking person moves about 0.8 of their height per second, so the allowed distance
//! grows with the time since the track was last seen (`gate + speed * dt`). A track that
//! has moved twice also predicts its next centre from its last velocity; the nearer of
//! the last and the predicted centre counts. Pairs are linked nearest first, each track
//! and detection used once.
//!
//! Measured on vtest.avi frames 300-340 (6 people walking, counted by eye), sampled every
//! 0.5 s: 6 unique people, where linking by IoU alone gives 11 (a walker moves more than
//! their own width in half a second). Sampled every 1 to 2 s: 5 to 7. Sparser sampling,
//! crowds and people crossing still split or merge tracks: the count is an estimate.

use crate::decode::Detection;

/// How detections are linked into tracks and which tracks count.
#[derive(Debug, Clone, Copy)]
pub struct TrackParams {
    /// Least IoU between a track's last box and a detection that links them at any distance.
    pub iou: f32,
    /// Centre distance, in box heights, always allowed.
    pub gate: f32,
    /// Further centre distance allowed per time unit (seconds when frames have times,
    /// else frames), in box heights.
    pub speed: f32,
    /// Largest ratio of box heights (either way) between a track and a detection.
    pub max_height_ratio: f32,
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
            gate: 0.5,
            speed: 1.0,
            max_height_ratio: 1.5,
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
    /// When it was last seen.
    pub time: f64,
    /// Centre velocity in pixels per time unit, once seen twice at different times.
    pub velocity: Option<(f32, f32)>,
    /// Frames the track was seen in.
    pub hits: usize,
    /// Consecutive frames since it was last seen.
    pub missed: usize,
}

impl Track {
    /// Centre distance to `det` in box heights, when `det` may continue this track at `time`.
    fn distance(&self, det: &Detection, time: f64, params: &TrackParams) -> Option<f32> {
        let ratio = det.h / self.last.h;
        if !(ratio.is_finite()
            && ratio <= params.max_height_ratio
            && ratio * params.max_height_ratio >= 1.0)
        {
            return None;
        }
        let dt = (time - self.time).max(0.0) as f32;
        let scale = (self.last.h + det.h) / 2.0;
        let (cx, cy) = det.centre();
        let (lx, ly) = self.last.centre();
        let mut distance = (cx - lx).hypot(cy - ly) / scale;
        if let Some((vx, vy)) = self.velocity {
            let predicted = (cx - lx - vx * dt).hypot(cy - ly - vy * dt) / scale;
            distance = distance.min(predicted);
        }
        let near = distance <= params.gate + params.speed * dt;
        (near || self.last.iou(det) >= params.iou).then_some(distance)
    }
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

    /// Adds one frame's detections, seen at `time` (seconds, or the frame's ordinal when
    /// times are unknown; never decreasing); returns the track id given to each, in order.
    pub fn update(&mut self, detections: &[Detection], time: f64) -> Vec<usize> {
        // Greedy global matching: nearest pairs first, each side used once.
        let mut pairs = Vec::new();
        for (t, track) in self.active.iter().enumerate() {
            for (d, det) in detections.iter().enumerate() {
                if let Some(distance) = track.distance(det, time, &self.params) {
                    pairs.push((distance, t, d));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut track_taken = vec![false; self.active.len()];
        let mut ids = vec![usize::MAX; detections.len()];
        for (_, t, d) in pairs {
            if track_taken[t] || ids[d] != usize::MAX {
                continue;
            }
            track_taken[t] = true;
            let track = &mut self.active[t];
            let det = detections[d];
            let dt = (time - track.time) as f32;
            if dt > 0.0 {
                let ((cx, cy), (lx, ly)) = (det.centre(), track.last.centre());
                track.velocity = Some(((cx - lx) / dt, (cy - ly) / dt));
            }
            track.last = det;
            track.time = time;
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
                    time,
                    velocity: None,
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

/// Unique people over a sequence of frames' detections, one time unit apart.
pub fn unique_count(frames: &[Vec<Detection>], params: TrackParams) -> usize {
    let mut tracker = Tracker::new(params);
    for (i, frame) in frames.iter().enumerate() {
        tracker.update(frame, i as f64);
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
        let a = tracker.update(&[person(0.0, 0.0), person(60.0, 0.0)], 0.0);
        // The same two people, listed in the other order and moved a little.
        let b = tracker.update(&[person(58.0, 0.0), person(2.0, 0.0)], 1.0);
        assert_eq!(a, vec![0, 1]);
        assert_eq!(b, vec![1, 0]);
    }

    /// Feeds `frames` at the given times; returns the confirmed count and the ids.
    fn run(frames: &[(f64, Vec<Detection>)]) -> (usize, Vec<Vec<usize>>) {
        let mut tracker = Tracker::new(TrackParams::default());
        let ids = frames.iter().map(|(t, f)| tracker.update(f, *t)).collect();
        (tracker.confirmed(frames.len()), ids)
    }

    #[test]
    fn walkers_sampled_sparsely_are_followed_without_overlap() {
        // 40 px (two widths) every 0.5 s: consecutive boxes do not overlap at all.
        let frames: Vec<(f64, Vec<Detection>)> = (0..8)
            .map(|i| {
                let x = 40.0 * i as f32;
                (0.5 * i as f64, vec![person(x, 0.0), person(x + 10.0, 70.0)])
            })
            .collect();
        let (count, ids) = run(&frames);
        assert_eq!(count, 2);
        assert!(ids.iter().all(|f| f == &[0, 1]), "{ids:?}");
    }

    #[test]
    fn a_jump_beyond_the_gate_is_someone_else() {
        let (count, ids) = run(&[
            (0.0, vec![person(0.0, 0.0)]),
            (1.0, vec![person(0.0, 0.0)]),
            // 6 heights away after 1 s, more than a walker covers.
            (2.0, vec![person(300.0, 0.0)]),
            (3.0, vec![person(300.0, 0.0)]),
        ]);
        assert_eq!(count, 2);
        assert_eq!(ids, [[0], [0], [1], [1]]);
    }

    #[test]
    fn a_box_of_another_size_is_someone_else() {
        let tall = Detection {
            x: -10.0,
            y: -25.0,
            w: 40.0,
            h: 100.0,
            score: 0.8,
        };
        let (_, ids) = run(&[(0.0, vec![person(0.0, 0.0)]), (0.5, vec![tall])]);
        assert_eq!(ids, [[0], [1]]);
    }

    #[test]
    fn a_runner_is_followed_through_a_missed_frame_by_prediction() {
        // 45 px (0.9 heights) per 0.5 s; the frame at 1.0 s misses them.
        let at = |t: f64| (t, vec![person(90.0 * t as f32, 0.0)]);
        let (count, ids) = run(&[at(0.0), at(0.5), (1.0, vec![]), at(1.5), at(2.0)]);
        // At 1.5 s they are 1.8 heights from where they were last seen, beyond the
        // 1.5 allowed after 1 s, but where their velocity puts them.
        assert_eq!(ids, [vec![0], vec![0], vec![], vec![0], vec![0]]);
        assert_eq!(count, 1);
    }

    #[test]
    fn the_same_frame_repeated_is_the_same_people() {
        let frame = vec![person(0.0, 0.0), person(30.0, 0.0), person(200.0, 100.0)];
        let frames: Vec<Vec<Detection>> = (0..20).map(|_| frame.clone()).collect();
        assert_eq!(unique_count(&frames, TrackParams::default()), 3);
    }
}
