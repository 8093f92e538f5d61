//! A host window on the X server of `DISPLAY` for a plugin's editor to live in, and the pixels
//! it shows, as an [`Image`] that can be checked and written as a PNG.
//!
//! Under Xvfb (`xvfb-run -a -s "-screen 0 1280x1024x24" …`) nothing is on screen, but the server
//! keeps every window's pixels, so [`HostWindow::capture`] reads what the editor drew.
//!
//! Keep one [`XServer`] connection for a whole test, as a host keeps its own: an X server resets
//! when its last client leaves, and a client that connects during the reset is turned away
//! (XOpenDisplay fails), which is what a test that closes every window between openings would
//! otherwise see.

use std::path::Path;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, ConnectionExt as _, CreateWindowAux,
    EventMask, ImageFormat, ImageOrder, MOTION_NOTIFY_EVENT, PropMode, Window, WindowClass,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The host's connection to the X server of `DISPLAY`.
pub struct XServer {
    /// The connection.
    conn: RustConnection,
    /// Index of the default screen.
    screen: usize,
}

impl XServer {
    /// Connects to the X server `DISPLAY` names.
    pub fn connect() -> Result<Self, String> {
        let (conn, screen) =
            x11rb::connect(None).map_err(|e| format!("cannot connect to the X server: {e}"))?;
        Ok(Self { conn, screen })
    }

    /// Maps a `width` × `height` top-level window titled `title`.
    pub fn open_window(
        &self,
        width: u32,
        height: u32,
        title: &str,
    ) -> Result<HostWindow<'_>, String> {
        HostWindow::open(self, width, height, title)
    }
}

/// A top-level X11 window the test owns; the plugin's editor becomes its child.
pub struct HostWindow<'s> {
    /// The connection to the X server.
    conn: &'s RustConnection,
    /// Index of the screen the window is on.
    screen: usize,
    /// The window.
    window: Window,
}

impl<'s> HostWindow<'s> {
    /// Maps a `width` × `height` window titled `title` on `server`.
    fn open(server: &'s XServer, width: u32, height: u32, title: &str) -> Result<Self, String> {
        let (conn, screen) = (&server.conn, server.screen);
        let window = conn
            .generate_id()
            .map_err(|e| format!("no X id for a window: {e}"))?;
        let root = &conn.setup().roots[screen];
        let size = |n: u32| u16::try_from(n.max(1)).unwrap_or(u16::MAX);
        let aux = CreateWindowAux::new()
            .background_pixel(root.black_pixel)
            .event_mask(EventMask::STRUCTURE_NOTIFY | EventMask::EXPOSURE);
        let x11_error = |e: x11rb::errors::ConnectionError| format!("X11: {e}");
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            root.root,
            0,
            0,
            size(width),
            size(height),
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &aux,
        )
        .map_err(x11_error)?;
        conn.change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_NAME,
            AtomEnum::STRING,
            title.as_bytes(),
        )
        .map_err(x11_error)?;
        conn.map_window(window).map_err(x11_error)?;
        // A round trip: the server has made the window before the plugin's own connection asks
        // for it (the server orders no requests across connections).
        conn.sync()
            .map_err(|e| format!("X11 round trip after creating the window: {e}"))?;
        Ok(Self {
            conn,
            screen,
            window,
        })
    }

    /// The window's X11 id (what `clap_window.x11` takes).
    pub fn id(&self) -> u32 {
        self.window
    }

    /// Reads and drops the events the server sent this window; returns how many there were.
    pub fn pump(&self) -> usize {
        let mut events = 0;
        while let Ok(Some(_)) = self.conn.poll_for_event() {
            events += 1;
        }
        events
    }

    /// Moves the pointer to (`x`, `y`) of this window and presses (`down`) or releases the
    /// left button there, through the XTEST extension, as a person would.
    pub fn left_button(&self, x: i16, y: i16, down: bool) -> Result<(), String> {
        let root = self.conn.setup().roots[self.screen].root;
        let at = self
            .conn
            .translate_coordinates(self.window, root, x, y)
            .map_err(|e| format!("X11: {e}"))?
            .reply()
            .map_err(|e| format!("translate_coordinates: {e}"))?;
        let x11_error = |e: x11rb::errors::ConnectionError| format!("XTEST: {e}");
        self.conn
            .xtest_fake_input(MOTION_NOTIFY_EVENT, 0, 0, root, at.dst_x, at.dst_y, 0)
            .map_err(x11_error)?;
        let kind = if down {
            BUTTON_PRESS_EVENT
        } else {
            BUTTON_RELEASE_EVENT
        };
        self.conn
            .xtest_fake_input(kind, 1, 0, root, at.dst_x, at.dst_y, 0)
            .map_err(x11_error)?;
        self.conn
            .sync()
            .map_err(|e| format!("X11 round trip after XTEST input: {e}"))
    }

    /// The window's child windows (the plugin's editor, once it is parented), bottom first.
    pub fn children(&self) -> Result<Vec<Window>, String> {
        let tree = self
            .conn
            .query_tree(self.window)
            .map_err(|e| format!("X11: {e}"))?
            .reply()
            .map_err(|e| format!("query_tree: {e}"))?;
        Ok(tree.children)
    }

    /// The pixels the editor shows: the window's last child (the editor) when it has one,
    /// else the window itself.
    pub fn capture(&self) -> Result<Image, String> {
        let target = self.children()?.last().copied().unwrap_or(self.window);
        self.capture_window(target)
    }

    /// The pixels of `window` (viewable, on this window's screen).
    fn capture_window(&self, window: Window) -> Result<Image, String> {
        let geometry = self
            .conn
            .get_geometry(window)
            .map_err(|e| format!("X11: {e}"))?
            .reply()
            .map_err(|e| format!("get_geometry: {e}"))?;
        let image = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                window,
                0,
                0,
                geometry.width,
                geometry.height,
                u32::MAX,
            )
            .map_err(|e| format!("X11: {e}"))?
            .reply()
            .map_err(|e| format!("get_image of window {window:#x}: {e}"))?;
        let setup = self.conn.setup();
        let format = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == image.depth)
            .ok_or_else(|| format!("the server has no pixmap format of depth {}", image.depth))?;
        let visual = setup.roots[self.screen]
            .allowed_depths
            .iter()
            .flat_map(|d| &d.visuals)
            .find(|v| v.visual_id == image.visual)
            .ok_or_else(|| format!("window {window:#x} has an unknown visual"))?;
        let layout = PixelLayout {
            bytes_per_pixel: usize::from(format.bits_per_pixel / 8),
            stride_bytes: stride_bytes(
                u32::from(geometry.width),
                format.bits_per_pixel,
                format.scanline_pad,
            ),
            lsb_first: setup.image_byte_order == ImageOrder::LSB_FIRST,
            masks: [visual.red_mask, visual.green_mask, visual.blue_mask],
        };
        let (width, height) = (u32::from(geometry.width), u32::from(geometry.height));
        let rgb = layout.decode_rgb(&image.data, width, height)?;
        Ok(Image { width, height, rgb })
    }
}

impl Drop for HostWindow<'_> {
    fn drop(&mut self) {
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.flush();
    }
}

/// Bytes per scanline of a `width`-pixel image of `bits_per_pixel`, padded to `pad_bits`.
fn stride_bytes(width: u32, bits_per_pixel: u8, pad_bits: u8) -> usize {
    let bits = width as usize * usize::from(bits_per_pixel);
    let pad = usize::from(pad_bits.max(8));
    bits.div_ceil(pad) * pad / 8
}

/// How a Z-pixmap image's pixels are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PixelLayout {
    /// Bytes per pixel (3 or 4 for true colour).
    bytes_per_pixel: usize,
    /// Bytes per scanline.
    stride_bytes: usize,
    /// Least significant byte first.
    lsb_first: bool,
    /// The visual's red, green and blue masks.
    masks: [u32; 3],
}

impl PixelLayout {
    /// The image as 8-bit RGB rows.
    fn decode_rgb(&self, data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
        let (width, height) = (width as usize, height as usize);
        if !(1..=4).contains(&self.bytes_per_pixel) {
            return Err(format!("{} bytes per pixel", self.bytes_per_pixel));
        }
        if data.len() < self.stride_bytes * height
            || self.stride_bytes < width * self.bytes_per_pixel
        {
            return Err(format!(
                "{} bytes for {width}x{height} pixels of {} bytes, {} per row",
                data.len(),
                self.bytes_per_pixel,
                self.stride_bytes
            ));
        }
        let mut rgb = Vec::with_capacity(width * height * 3);
        for row in data.chunks(self.stride_bytes).take(height) {
            for bytes in row.chunks(self.bytes_per_pixel).take(width) {
                let pixel = bytes.iter().enumerate().fold(0u32, |acc, (i, &b)| {
                    let shift = if self.lsb_first {
                        8 * i
                    } else {
                        8 * (bytes.len() - 1 - i)
                    };
                    acc | (u32::from(b) << shift)
                });
                rgb.extend(self.masks.map(|mask| channel(pixel, mask)));
            }
        }
        Ok(rgb)
    }
}

/// The channel of `pixel` under `mask`, scaled to 8 bits.
fn channel(pixel: u32, mask: u32) -> u8 {
    if mask == 0 {
        return 0;
    }
    let value = (pixel & mask) >> mask.trailing_zeros();
    let max = mask >> mask.trailing_zeros();
    ((u64::from(value) * 255 + u64::from(max) / 2) / u64::from(max)) as u8
}

/// An RGB image, 8 bits per channel, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` RGB triples.
    pub rgb: Vec<u8>,
}

impl Image {
    /// How many pixels are within `tolerance` of `colour` in every channel.
    pub fn count_near(&self, colour: [u8; 3], tolerance: u8) -> usize {
        self.rgb
            .chunks_exact(3)
            .filter(|p| {
                p.iter()
                    .zip(colour)
                    .all(|(&a, b)| a.abs_diff(b) <= tolerance)
            })
            .count()
    }

    /// How many different colours the image has.
    pub fn distinct_colours(&self) -> usize {
        let mut colours: Vec<[u8; 3]> = self
            .rgb
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        colours.sort_unstable();
        colours.dedup();
        colours.len()
    }

    /// Writes the image as an 8-bit RGB PNG (creating the parent folder).
    pub fn write_png(&self, path: &Path) -> Result<(), String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let file =
            std::fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder
            .write_header()
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        writer
            .write_image_data(&self.rgb)
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_scanline_padding_when_computing_the_stride_then_rows_round_up() {
        assert_eq!(stride_bytes(3, 32, 32), 12);
        assert_eq!(stride_bytes(3, 24, 32), 12);
        assert_eq!(stride_bytes(5, 24, 32), 16);
        assert_eq!(stride_bytes(5, 8, 8), 5);
    }

    #[test]
    fn given_bgrx_pixels_when_decoded_then_they_read_as_rgb() {
        // Two rows of two 32-bit pixels, least significant byte first (B, G, R, X).
        let data = [
            30, 20, 10, 0, 255, 0, 0, 0, //
            0, 255, 0, 0, 0, 0, 255, 0,
        ];
        let layout = PixelLayout {
            bytes_per_pixel: 4,
            stride_bytes: 8,
            lsb_first: true,
            masks: [0xff0000, 0x00ff00, 0x0000ff],
        };
        let rgb = layout.decode_rgb(&data, 2, 2).unwrap();
        assert_eq!(rgb, vec![10, 20, 30, 0, 0, 255, 0, 255, 0, 255, 0, 0]);
        assert!(layout.decode_rgb(&data[..12], 2, 2).is_err());
    }

    #[test]
    fn given_a_five_bit_mask_when_a_channel_is_read_then_it_is_scaled_to_eight_bits() {
        assert_eq!(channel(0b11111 << 11, 0b11111 << 11), 255);
        assert_eq!(channel(0, 0b11111 << 11), 0);
        assert_eq!(channel(0xff, 0), 0);
    }

    #[test]
    fn given_an_image_when_counting_colours_then_tolerance_applies_per_channel() {
        let image = Image {
            width: 3,
            height: 1,
            rgb: vec![70, 150, 255, 72, 148, 250, 0, 0, 0],
        };
        assert_eq!(image.count_near([70, 150, 255], 0), 1);
        assert_eq!(image.count_near([70, 150, 255], 5), 2);
        assert_eq!(image.distinct_colours(), 3);
    }

    #[test]
    fn given_an_image_when_written_then_the_png_reads_back_the_same() {
        let dir = crate::util::TempDir::new("png").unwrap();
        let path = dir.path().join("sub").join("x.png");
        let image = Image {
            width: 2,
            height: 1,
            rgb: vec![1, 2, 3, 250, 251, 252],
        };
        image.write_png(&path).unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 1));
        assert_eq!(&buf[..info.buffer_size()], &image.rgb[..]);
    }
}
