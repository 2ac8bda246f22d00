//! The few calls of rav1d's API this plugin makes, behind two safe types.
//!
//! rav1d 1.1 offers only its dav1d-compatible `extern "C"` API (the Rust functions behind
//! it are private), so this is the one place in the plugin with `unsafe`. Results are
//! dav1d's: 0 or a negative errno of the target's libc (WASI's differ from Linux's).

use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::DAV1D_PIXEL_LAYOUT_I420;
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data,
};
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

use crate::yuv::Yuv420;

/// A failed rav1d call: a negative errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub i32);

impl Code {
    /// Whether the data uses something this build lacks (another bit depth, say).
    pub fn is_unsupported(self) -> bool {
        self.0 == -libc::ENOPROTOOPT
    }

    /// What rav1d meant, for messages.
    pub fn describe(self) -> String {
        match -self.0 {
            libc::EINVAL => "rav1d found the data invalid".into(),
            libc::ERANGE => "the frame is larger than the track declares".into(),
            libc::ENOMEM => "rav1d ran out of memory".into(),
            libc::ENOPROTOOPT => "it needs a feature this build of rav1d lacks".into(),
            e => format!("rav1d failed with error {e}"),
        }
    }
}

/// One rav1d decoder: one thread, one frame in flight, pictures out as soon as decoded.
pub struct Decoder {
    context: Option<Dav1dContext>,
}

impl Decoder {
    /// Opens a decoder that refuses frames of more than `max_pixels` pixels.
    pub fn open(max_pixels: u32) -> Result<Self, Code> {
        let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: dav1d_default_settings writes every field of the settings it is given.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::new_unchecked(settings.as_mut_ptr()));
            settings.assume_init()
        };
        // One thread (wasm has no other) means one frame context: every frame is decoded
        // inside dav1d_send_data and its picture is ready right after.
        settings.n_threads = 1;
        settings.max_frame_delay = 1;
        // Only the highest spatial layer of operating point 0, as ffmpeg's libdav1d does.
        settings.all_layers = 0;
        settings.frame_size_limit = max_pixels;
        // SAFETY: the logger is two nullable pointers, a cookie and a callback; both null
        // is dav1d's documented "no logging" (errors are reported by value).
        settings.logger = unsafe { std::mem::zeroed() };
        let mut context = None;
        // SAFETY: both pointers are valid for the call; dav1d_open writes the context.
        let code = unsafe {
            dav1d_open(
                Some(NonNull::from(&mut context)),
                Some(NonNull::from(&mut settings)),
            )
        };
        match (code.0, context) {
            (0, Some(_)) => Ok(Decoder { context }),
            (0, None) => Err(Code(-libc::ENOMEM)),
            (e, _) => Err(Code(e)),
        }
    }

    /// Decodes whole OBUs (a temporal unit, or the track's configuration OBUs) and returns
    /// the last picture they complete, if any.
    ///
    /// rav1d 1.1 aborts (panics in an `extern "C"` function) when a frame fails inside its
    /// decoder with one frame context: memorysafety/rav1d#1497. Callers check what they
    /// can first and wrap this call in a panic note.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Option<Picture>, Code> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let mut data = Dav1dData::default();
        // SAFETY: `data` is valid to write; rav1d allocates `bytes.len()` bytes for it.
        let buf = unsafe { dav1d_data_create(Some(NonNull::from(&mut data)), bytes.len()) };
        if buf.is_null() {
            return Err(Code(-libc::ENOMEM));
        }
        // SAFETY: `buf` points to `bytes.len()` writable bytes that rav1d just allocated.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
        let result = self.feed(&mut data);
        // SAFETY: `data` came from dav1d_data_create; once rav1d consumed it this is a no-op.
        unsafe { dav1d_data_unref(Some(NonNull::from(&mut data))) };
        result
    }

    fn feed(&mut self, data: &mut Dav1dData) -> Result<Option<Picture>, Code> {
        let mut last = None;
        // Each round either consumes data or drains a picture; a stuck decoder is an error.
        for _ in 0..64 {
            // SAFETY: the context is open and `data` holds what dav1d_data_create made.
            let sent = unsafe { dav1d_send_data(self.context, Some(NonNull::from(&mut *data))) };
            if sent.0 < 0 && sent.0 != -libc::EAGAIN {
                return Err(Code(sent.0));
            }
            loop {
                let mut picture = Dav1dPicture::default();
                // SAFETY: the context is open and `picture` is valid to write.
                let got =
                    unsafe { dav1d_get_picture(self.context, Some(NonNull::from(&mut picture))) };
                match got.0 {
                    // Replacing `last` unreferences the previous picture.
                    0 => last = Some(Picture(picture)),
                    e if e == -libc::EAGAIN => break,
                    e => return Err(Code(e)),
                }
            }
            if data.sz == 0 {
                return Ok(last);
            }
        }
        Err(Code(-libc::EINVAL))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from dav1d_open and is closed once; close clears it.
        unsafe { dav1d_close(Some(NonNull::from(&mut self.context))) };
    }
}

/// A decoded picture, referenced until dropped.
pub struct Picture(Dav1dPicture);

impl Picture {
    /// Bits per sample.
    pub fn bit_depth(&self) -> i32 {
        self.0.p.bpc
    }

    /// The picture as 8-bit 4:2:0 planes (None for any other format).
    pub fn planes(&self, full_range: bool) -> Option<Yuv420<'_>> {
        let p = &self.0;
        if p.p.bpc != 8 || p.p.layout != DAV1D_PIXEL_LAYOUT_I420 || p.p.w <= 0 || p.p.h <= 0 {
            return None;
        }
        let (width, height) = (p.p.w as usize, p.p.h as usize);
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let y_stride = usize::try_from(p.stride[0]).ok()?;
        let c_stride = usize::try_from(p.stride[1]).ok()?;
        if y_stride < width || c_stride < cw {
            return None;
        }
        let plane = |i: usize, stride: usize, w: usize, h: usize| -> Option<&[u8]> {
            let ptr = p.data[i]?;
            // SAFETY: rav1d allocated each plane of a picture with at least `h` rows of
            // `stride` bytes, and keeps it alive while the picture is referenced (`self`).
            Some(unsafe {
                std::slice::from_raw_parts(ptr.as_ptr().cast::<u8>(), stride * (h - 1) + w)
            })
        };
        Some(Yuv420 {
            width,
            height,
            y: plane(0, y_stride, width, height)?,
            y_stride,
            u: plane(1, c_stride, cw, ch)?,
            v: plane(2, c_stride, cw, ch)?,
            c_stride,
            full_range,
        })
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture came from dav1d_get_picture and is unreferenced once.
        unsafe { dav1d_picture_unref(Some(NonNull::from(&mut self.0))) };
    }
}
