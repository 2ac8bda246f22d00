//! Loading NanoDet-m with tract and running it on one frame.

use crate::decode::{self, CLASSES, Detection, Level, REG_MAX};
use crate::image::{self, Rgb};
use anyhow::{anyhow, bail};
use std::sync::Arc;
use tract_onnx::prelude::*;

/// The converted model (see `models/convert-nanodet.sh`), embedded so that the component
/// is one self-contained, content-addressed file: no model input to wire in every
/// pipeline, no way to pair the plugin with a model whose outputs it misreads.
pub static NANODET_M: &[u8] = include_bytes!("../../../models/nanodet-m.onnx");

/// Smallest and largest network input side accepted; it must be a multiple of
/// [`SIZE_STEP`], the largest stride, so that every head's grid is whole.
pub const MIN_INPUT_SIZE: usize = 128;
/// See [`MIN_INPUT_SIZE`].
pub const MAX_INPUT_SIZE: usize = 640;
/// See [`MIN_INPUT_SIZE`].
pub const SIZE_STEP: usize = 32;

/// Checks a network input side: a multiple of 32 from 128 to 640.
pub fn check_input_size(size: usize) -> Result<(), String> {
    if size.is_multiple_of(SIZE_STEP) && (MIN_INPUT_SIZE..=MAX_INPUT_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(format!(
            "input_size must be a multiple of {SIZE_STEP} from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}, not {size}"
        ))
    }
}

/// Strides of the three detection heads, finest first.
const STRIDES: [usize; 3] = [8, 16, 32];

/// A NanoDet-m network prepared for one input size.
pub struct Detector {
    plan: Arc<TypedRunnableModel>,
    size: usize,
}

/// Post-processing settings.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Least person score kept.
    pub threshold: f32,
    /// NMS overlap above which the weaker box is dropped.
    pub iou: f32,
}

impl Detector {
    /// Parses and optimises the embedded model for `size` x `size` inputs.
    pub fn new(size: usize) -> TractResult<Detector> {
        Self::from_onnx(NANODET_M, size)
    }

    /// Parses and optimises an ONNX NanoDet-m for `size` x `size` inputs.
    pub fn from_onnx(bytes: &[u8], size: usize) -> TractResult<Detector> {
        if let Err(e) = check_input_size(size) {
            bail!(e);
        }
        // The graph is declared for 1x3x416x416; fixing the input fact lets tract
        // re-derive every shape for another size and fold them into constants.
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))?
            .with_input_fact(0, f32::fact([1, 3, size, size]).into())?
            .into_optimized()?
            .into_runnable()?;
        Ok(Detector { plan, size })
    }

    /// The network's input side in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Detects people in `img`; boxes are in `img`'s pixels, best first.
    pub fn detect(&self, img: &Rgb, params: Params) -> TractResult<Vec<Detection>> {
        let outputs = self.infer(img)?;
        let mut levels = Vec::with_capacity(STRIDES.len());
        for stride in STRIDES {
            let cells = (self.size / stride).pow(2);
            let find = |width: usize| {
                outputs
                    .iter()
                    .find(|t| t.shape() == [1, cells, width])
                    .ok_or_else(|| anyhow!("no [1, {cells}, {width}] output for stride {stride}"))
            };
            let scores = find(CLASSES)?.try_as_plain_ram()?.as_slice::<f32>()?;
            let boxes = find(4 * (REG_MAX + 1))?
                .try_as_plain_ram()?
                .as_slice::<f32>()?;
            levels.push(Level {
                stride,
                scores,
                boxes,
            });
        }
        let found = decode::candidates(&levels, self.size, params.threshold);
        let kept = decode::nms(found, params.iou);
        let (sx, sy) = (
            img.width as f32 / self.size as f32,
            img.height as f32 / self.size as f32,
        );
        Ok(kept.iter().map(|d| d.scaled(sx, sy)).collect())
    }

    /// Runs the network on `img` and returns its six raw outputs.
    pub fn infer(&self, img: &Rgb) -> TractResult<TVec<TValue>> {
        let input = image::to_input(img, self.size);
        let tensor = Tensor::from_shape(&[1, 3, self.size, self.size], &input)?;
        self.plan.run(tvec!(tensor.into()))
    }
}
