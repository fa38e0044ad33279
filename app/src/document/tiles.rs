//! Tiled pixel storage with copy-on-write tiles.
//!
//! An image is a grid of 256×256 tiles; a tile that was never painted is absent (transparent /
//! zero). Tiles are shared through `Arc`: an undo step keeps the tiles an operation replaced, and
//! writing to a tile that is still shared copies it first, so history costs only the tiles that
//! changed and large canvases stay cheap until painted.

use std::sync::Arc;

/// Edge length of a tile, in pixels.
pub const TILE: u32 = 256;

/// A rectangle in pixels, `x0..x1 × y0..y1` (half-open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PixelRect {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl PixelRect {
    /// The rectangle `x, y, width, height`.
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Self {
            x0: x,
            y0: y,
            x1: x + width,
            y1: y + height,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x1.saturating_sub(self.x0)
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y1.saturating_sub(self.y0)
    }

    /// Width and height.
    pub fn size(&self) -> (u32, u32) {
        (self.width(), self.height())
    }

    /// Whether it covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.width() == 0 || self.height() == 0
    }

    /// The overlap of two rectangles (possibly empty).
    pub fn intersect(&self, other: &Self) -> Self {
        let x0 = self.x0.max(other.x0);
        let y0 = self.y0.max(other.y0);
        Self {
            x0,
            y0,
            x1: self.x1.min(other.x1).max(x0),
            y1: self.y1.min(other.y1).max(y0),
        }
    }

    /// The smallest rectangle covering both (an empty one covers nothing).
    pub fn union(&self, other: &Self) -> Self {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        Self {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    /// Whether the pixel lies inside.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }
}

/// One tile's pixels, `TILE × TILE × channels` bytes.
pub type Tile = Vec<u8>;

/// A tiled image with `CHANNELS` bytes per pixel (4: RGBA with straight alpha, 1: a mask).
/// Absent tiles are all zero; two images are equal when their pixels are.
#[derive(Clone, Debug)]
pub struct Tiled<const CHANNELS: usize> {
    width: u32,
    height: u32,
    tiles: Vec<Option<Arc<Tile>>>,
}

/// RGBA, straight (not premultiplied) alpha, as PNG and OpenRaster store it.
pub type RgbaTiles = Tiled<4>;
/// One byte per pixel: 0 = none, 255 = full.
pub type MaskTiles = Tiled<1>;

impl<const CHANNELS: usize> Tiled<CHANNELS> {
    /// An empty (transparent / zero) image.
    pub fn new(width: u32, height: u32) -> Self {
        let columns = width.div_ceil(TILE) as usize;
        let rows = height.div_ceil(TILE) as usize;
        Self {
            width,
            height,
            tiles: vec![None; columns * rows],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The whole image as a rectangle.
    pub fn bounds(&self) -> PixelRect {
        PixelRect::new(0, 0, self.width, self.height)
    }

    /// Tiles per row.
    pub fn columns(&self) -> u32 {
        self.width.div_ceil(TILE)
    }

    /// Tile rows.
    pub fn rows(&self) -> u32 {
        self.height.div_ceil(TILE)
    }

    /// Index of the tile at tile coordinates.
    pub fn tile_index(&self, column: u32, row: u32) -> usize {
        (row * self.columns() + column) as usize
    }

    /// The pixel rectangle of a tile (clipped to the image).
    pub fn tile_rect(&self, index: usize) -> PixelRect {
        let column = index as u32 % self.columns();
        let row = index as u32 / self.columns();
        PixelRect::new(column * TILE, row * TILE, TILE, TILE).intersect(&self.bounds())
    }

    /// Indices of the tiles a rectangle touches.
    pub fn tiles_in(&self, rect: &PixelRect) -> Vec<usize> {
        let rect = rect.intersect(&self.bounds());
        if rect.is_empty() {
            return Vec::new();
        }
        let mut indices = Vec::new();
        for row in rect.y0 / TILE..=(rect.y1 - 1) / TILE {
            for column in rect.x0 / TILE..=(rect.x1 - 1) / TILE {
                indices.push(self.tile_index(column, row));
            }
        }
        indices
    }

    /// The painted tiles a rectangle touches, each with the part of the rectangle it holds
    /// (tiles never painted are passed over).
    pub fn stored_parts(&self, rect: &PixelRect) -> impl Iterator<Item = (&Arc<Tile>, PixelRect)> {
        let rect = *rect;
        self.tiles_in(&rect).into_iter().filter_map(move |index| {
            let tile = self.tile(index)?;
            Some((tile, self.tile_rect(index).intersect(&rect)))
        })
    }

    /// The tile at an index (`None`: never painted).
    pub fn tile(&self, index: usize) -> Option<&Arc<Tile>> {
        self.tiles.get(index).and_then(Option::as_ref)
    }

    /// Replaces a tile, returning the previous one (for undo).
    pub fn replace_tile(&mut self, index: usize, tile: Option<Arc<Tile>>) -> Option<Arc<Tile>> {
        std::mem::replace(&mut self.tiles[index], tile)
    }

    /// A tile's bytes for writing: allocated if absent, copied first if shared.
    pub fn tile_mut(&mut self, index: usize) -> &mut Tile {
        let slot = &mut self.tiles[index];
        let tile = slot.get_or_insert_with(|| Arc::new(vec![0; (TILE * TILE) as usize * CHANNELS]));
        Arc::make_mut(tile)
    }

    /// Every tile slot (present or not).
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// One pixel (zeros outside the image or in an unpainted tile).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; CHANNELS] {
        let mut out = [0; CHANNELS];
        if x >= self.width || y >= self.height {
            return out;
        }
        let index = self.tile_index(x / TILE, y / TILE);
        if let Some(tile) = self.tile(index) {
            let offset = (((y % TILE) * TILE + x % TILE) as usize) * CHANNELS;
            out.copy_from_slice(&tile[offset..offset + CHANNELS]);
        }
        out
    }

    /// Writes one pixel (ignored outside the image).
    pub fn set_pixel(&mut self, x: u32, y: u32, value: [u8; CHANNELS]) {
        if x >= self.width || y >= self.height {
            return;
        }
        let index = self.tile_index(x / TILE, y / TILE);
        let offset = (((y % TILE) * TILE + x % TILE) as usize) * CHANNELS;
        self.tile_mut(index)[offset..offset + CHANNELS].copy_from_slice(&value);
    }

    /// Where the rows of `part` (a piece of one tile) lie in that tile and in a packed buffer of
    /// `rect`: byte offsets in the tile and in the buffer, and the length in bytes.
    fn row_spans(part: PixelRect, rect: PixelRect) -> impl Iterator<Item = (usize, usize, usize)> {
        let length = part.width() as usize * CHANNELS;
        (part.y0..part.y1).map(move |y| {
            let in_tile = (((y % TILE) * TILE + part.x0 % TILE) as usize) * CHANNELS;
            let in_buffer =
                (((y - rect.y0) * rect.width() + (part.x0 - rect.x0)) as usize) * CHANNELS;
            (in_tile, in_buffer, length)
        })
    }

    /// Reads a rectangle into a packed buffer (`width × height × CHANNELS`).
    pub fn read_rect(&self, rect: &PixelRect) -> Vec<u8> {
        let mut out = vec![0; rect.width() as usize * rect.height() as usize * CHANNELS];
        for (tile, part) in self.stored_parts(rect) {
            for (in_tile, in_buffer, length) in Self::row_spans(part, *rect) {
                out[in_buffer..in_buffer + length]
                    .copy_from_slice(&tile[in_tile..in_tile + length]);
            }
        }
        out
    }

    /// Writes a packed buffer (`rect.width × rect.height × CHANNELS`) into a rectangle. Tiles
    /// that end up all zero are dropped.
    pub fn write_rect(&mut self, rect: &PixelRect, data: &[u8]) {
        let clipped = rect.intersect(&self.bounds());
        for index in self.tiles_in(&clipped) {
            let part = self.tile_rect(index).intersect(&clipped);
            let tile = self.tile_mut(index);
            for (in_tile, in_buffer, length) in Self::row_spans(part, *rect) {
                tile[in_tile..in_tile + length]
                    .copy_from_slice(&data[in_buffer..in_buffer + length]);
            }
            if tile.iter().all(|&byte| byte == 0) {
                self.tiles[index] = None;
            }
        }
    }

    /// The bounding box of the non-zero pixels (of channel `channel`; empty when none).
    pub fn content_bounds(&self, channel: usize) -> PixelRect {
        let mut bounds = PixelRect::new(0, 0, 0, 0);
        for index in 0..self.tiles.len() {
            let Some(tile) = self.tile(index) else {
                continue;
            };
            let rect = self.tile_rect(index);
            for y in rect.y0..rect.y1 {
                for x in rect.x0..rect.x1 {
                    let offset = (((y % TILE) * TILE + x % TILE) as usize) * CHANNELS;
                    if tile[offset + channel] != 0 {
                        bounds = bounds.union(&PixelRect::new(x, y, 1, 1));
                    }
                }
            }
        }
        bounds
    }

    /// The image moved by `dx, dy` pixels (right and down are positive): what moves past an
    /// edge is cut off, what is uncovered is empty. Unpainted tiles cost nothing.
    pub fn translated(&self, dx: i64, dy: i64) -> Self {
        self.placed(self.width, self.height, dx, dy)
    }

    /// The image on a canvas of `width × height`, moved by `dx, dy` pixels: what lands past an
    /// edge is cut off, what is uncovered is empty.
    pub fn placed(&self, width: u32, height: u32, dx: i64, dy: i64) -> Self {
        let mut out = Self::new(width, height);
        let (width, height) = (i64::from(width), i64::from(height));
        for index in 0..self.tiles.len() {
            let Some(tile) = self.tile(index) else {
                continue;
            };
            if tile.iter().all(|&value| value == 0) {
                continue;
            }
            let source = self.tile_rect(index);
            // Where the tile lands, cut to the canvas, and the part of the tile that gets there.
            let x0 = (i64::from(source.x0) + dx).clamp(0, width);
            let x1 = (i64::from(source.x1) + dx).clamp(0, width);
            let y0 = (i64::from(source.y0) + dy).clamp(0, height);
            let y1 = (i64::from(source.y1) + dy).clamp(0, height);
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            let target = PixelRect::new(x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32);
            let from = PixelRect::new(
                (x0 - dx) as u32,
                (y0 - dy) as u32,
                target.width(),
                target.height(),
            );
            out.write_rect(&target, &self.read_rect(&from));
        }
        out
    }

    /// Bytes held by present tiles (shared tiles counted once per image).
    pub fn memory_bytes(&self) -> usize {
        self.tiles.iter().flatten().map(|tile| tile.len()).sum()
    }

    /// Whether every pixel is zero (no tile, or only cleared ones).
    pub fn is_empty(&self) -> bool {
        self.tiles
            .iter()
            .flatten()
            .all(|tile| tile.iter().all(|&value| value == 0))
    }
}

/// A small picture of an RGBA image: premultiplied RGBA8, `width × height × 4`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Premultiplied RGBA8 rows.
    pub pixels: Vec<u8>,
}

/// What a thumbnail was made from, tile by tile, so that the next one of the same image only
/// reads the tiles that changed (a tile that changed is a new allocation, or one whose earlier
/// holders were all let go — either way the kept weak reference no longer matches it).
#[derive(Debug, Default)]
pub struct ThumbnailCache {
    /// The image and thumbnail sizes it holds sums for.
    shape: Option<(u32, u32, u32, u32)>,
    /// Per tile: the tile read and its alpha-weighted sums per thumbnail pixel it reaches.
    tiles: Vec<Option<TileSums>>,
}

#[derive(Debug)]
struct TileSums {
    tile: std::sync::Weak<Tile>,
    /// The thumbnail pixels it reaches: first column and row, columns.
    origin: (usize, usize),
    columns: usize,
    sums: Vec<[u32; 4]>,
}

impl Tiled<4> {
    /// The image shrunk to fit `side × side` (aspect kept, at least 1 pixel a side). Each
    /// thumbnail pixel averages up to 2 × 2 evenly spread samples of its area, weighted by
    /// alpha: smoother than taking every n-th pixel, and cheap enough to redo for every layer
    /// on every edit (reading a big canvas is bound by memory, one cache miss a sample).
    pub fn thumbnail(&self, side: u32) -> Thumbnail {
        self.thumbnail_with(side, &mut ThumbnailCache::default())
    }

    /// [`Self::thumbnail`], reading only the tiles that changed since `cache` was filled.
    pub fn thumbnail_with(&self, side: u32, cache: &mut ThumbnailCache) -> Thumbnail {
        let side = side.max(1);
        let longest = self.width.max(self.height).max(1);
        let width = ((u64::from(self.width) * u64::from(side)) / u64::from(longest)).max(1) as u32;
        let height =
            ((u64::from(self.height) * u64::from(side)) / u64::from(longest)).max(1) as u32;
        let shape = (self.width, self.height, width, height);
        if cache.shape != Some(shape) || cache.tiles.len() != self.tiles.len() {
            cache.shape = Some(shape);
            cache.tiles = (0..self.tiles.len()).map(|_| None).collect();
        }
        // The sample positions along each axis (sorted), `samples` per thumbnail pixel, evenly
        // spread over its source span, each with the thumbnail pixel it belongs to.
        let positions = |source: u32, target: u32| -> (u32, Vec<(u32, usize)>) {
            let step = f64::from(source) / f64::from(target);
            let samples = (step.ceil() as u32).clamp(1, 2);
            let coordinates = (0..target)
                .flat_map(|t| {
                    (0..samples).map(move |s| {
                        let at = (f64::from(t) + (f64::from(s) + 0.5) / f64::from(samples)) * step;
                        ((at as u32).min(source.saturating_sub(1)), t as usize)
                    })
                })
                .collect();
            (samples, coordinates)
        };
        let (samples_x, xs) = positions(self.width, width);
        let (samples_y, ys) = positions(self.height, height);
        // The samples of one span [from, to).
        let within = |axis: &[(u32, usize)], from: u32, to: u32| {
            let start = axis.partition_point(|&(at, _)| at < from);
            let end = axis.partition_point(|&(at, _)| at < to);
            start..end
        };
        for (index, slot) in cache.tiles.iter_mut().enumerate() {
            let Some(tile) = &self.tiles[index] else {
                *slot = None;
                continue;
            };
            if slot.as_ref().is_some_and(|sums| {
                sums.tile
                    .upgrade()
                    .is_some_and(|kept| Arc::ptr_eq(&kept, tile))
            }) {
                continue;
            }
            let rect = self.tile_rect(index);
            let (xr, yr) = (within(&xs, rect.x0, rect.x1), within(&ys, rect.y0, rect.y1));
            if xr.is_empty() || yr.is_empty() {
                *slot = None;
                continue;
            }
            let origin = (xs[xr.start].1, ys[yr.start].1);
            let columns = xs[xr.end - 1].1 - origin.0 + 1;
            let rows = ys[yr.end - 1].1 - origin.1 + 1;
            let mut sums = vec![[0_u32; 4]; columns * rows];
            for &(y, ty) in &ys[yr] {
                let row_offset = ((y % TILE) * TILE) as usize;
                let out_row = (ty - origin.1) * columns;
                for &(x, tx) in &xs[xr.clone()] {
                    let offset = (row_offset + (x % TILE) as usize) * 4;
                    let [r, g, b, a] = [
                        tile[offset],
                        tile[offset + 1],
                        tile[offset + 2],
                        tile[offset + 3],
                    ]
                    .map(u32::from);
                    let sum = &mut sums[out_row + tx - origin.0];
                    sum[0] += r * a;
                    sum[1] += g * a;
                    sum[2] += b * a;
                    sum[3] += a * 255;
                }
            }
            *slot = Some(TileSums {
                tile: Arc::downgrade(tile),
                origin,
                columns,
                sums,
            });
        }
        let mut totals = vec![[0_u32; 4]; (width * height) as usize];
        for sums in cache.tiles.iter().flatten() {
            for (at, sum) in sums.sums.iter().enumerate() {
                let (tx, ty) = (
                    sums.origin.0 + at % sums.columns,
                    sums.origin.1 + at / sums.columns,
                );
                let total = &mut totals[ty * width as usize + tx];
                for channel in 0..4 {
                    total[channel] += sum[channel];
                }
            }
        }
        let count = samples_x * samples_y * 255;
        let mut pixels = vec![0u8; (width * height * 4) as usize];
        for (pixel, total) in pixels.chunks_exact_mut(4).zip(&totals) {
            for (value, sum) in pixel.iter_mut().zip(total) {
                *value = ((sum + count / 2) / count) as u8;
            }
        }
        Thumbnail {
            width,
            height,
            pixels,
        }
    }
}

impl<const CHANNELS: usize> PartialEq for Tiled<CHANNELS> {
    fn eq(&self, other: &Self) -> bool {
        self.width == other.width
            && self.height == other.height
            && self.tiles.iter().zip(&other.tiles).all(|pair| match pair {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
                (Some(tile), None) | (None, Some(tile)) => tile.iter().all(|&value| value == 0),
                (None, None) => true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_on_write_shares_until_written() {
        let mut image = RgbaTiles::new(600, 300);
        image.set_pixel(10, 10, [1, 2, 3, 4]);
        let snapshot = image.clone();
        assert!(Arc::ptr_eq(
            image.tile(0).expect("tile"),
            snapshot.tile(0).expect("tile")
        ));
        image.set_pixel(11, 10, [5, 6, 7, 8]);
        assert!(!Arc::ptr_eq(
            image.tile(0).expect("tile"),
            snapshot.tile(0).expect("tile")
        ));
        assert_eq!(snapshot.pixel(11, 10), [0, 0, 0, 0]);
        assert_eq!(image.pixel(10, 10), [1, 2, 3, 4]);
        // Only the one tile exists.
        assert_eq!(image.memory_bytes(), (TILE * TILE * 4) as usize);
    }

    #[test]
    fn rectangles_round_trip_across_tiles() {
        let mut image = MaskTiles::new(700, 520);
        let rect = PixelRect::new(250, 200, 20, 300);
        let data: Vec<u8> = (0..rect.width() * rect.height())
            .map(|v| (v % 251) as u8 + 1)
            .collect();
        image.write_rect(&rect, &data);
        assert_eq!(image.read_rect(&rect), data);
        assert_eq!(image.content_bounds(0), rect.intersect(&image.bounds()));
        // Clearing drops the tiles again.
        image.write_rect(&rect, &vec![0; data.len()]);
        assert!(image.is_empty());
    }

    #[test]
    fn a_cached_thumbnail_follows_every_change_of_its_image() {
        let mut image = RgbaTiles::new(900, 600);
        for y in 0..600 {
            image.set_pixel(y * 3 / 2, y, [200, 40, 10, 255]);
        }
        let mut cache = ThumbnailCache::default();
        assert_eq!(image.thumbnail_with(64, &mut cache), image.thumbnail(64));
        // Changed in place (the tile is held only by the image): the cache notices.
        for y in 0..256 {
            for x in 0..256 {
                image.set_pixel(x, y, [0, 90, 250, 200]);
            }
        }
        assert_eq!(image.thumbnail_with(64, &mut cache), image.thumbnail(64));
        // Changed in a copy (an undo step keeps the old tile), and a tile cleared.
        let kept = image.clone();
        image.set_pixel(700, 500, [255, 255, 255, 255]);
        image.replace_tile(1, None);
        assert_eq!(image.thumbnail_with(64, &mut cache), image.thumbnail(64));
        assert_eq!(kept.thumbnail_with(64, &mut cache), kept.thumbnail(64));
        // Another size starts over.
        assert_eq!(image.thumbnail_with(40, &mut cache), image.thumbnail(40));
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_average_premultiplied() {
        // 512 × 256, left half opaque red, right half half-transparent blue, one row of the
        // right half left unpainted (an absent tile reads as transparent).
        let mut image = RgbaTiles::new(512, 256);
        for y in 0..256 {
            for x in 0..256 {
                image.set_pixel(x, y, [255, 0, 0, 255]);
            }
        }
        for y in 0..128 {
            for x in 256..512 {
                image.set_pixel(x, y, [0, 0, 255, 128]);
            }
        }
        let thumbnail = image.thumbnail(64);
        assert_eq!((thumbnail.width, thumbnail.height), (64, 32));
        assert_eq!(thumbnail.pixels.len(), 64 * 32 * 4);
        let at = |x: u32, y: u32| {
            let offset = ((y * 64 + x) * 4) as usize;
            <[u8; 4]>::try_from(&thumbnail.pixels[offset..offset + 4]).expect("pixel")
        };
        assert_eq!(at(5, 20), [255, 0, 0, 255]);
        assert_eq!(at(40, 5), [0, 0, 128, 128], "premultiplied");
        assert_eq!(at(40, 25), [0, 0, 0, 0]);
        // A thumbnail pixel over both halves of a 2-sample span averages them.
        let mut stripes = RgbaTiles::new(4, 2);
        for x in 0..4 {
            let value = if x % 2 == 0 { 255 } else { 0 };
            stripes.set_pixel(x, 0, [value, value, value, 255]);
            stripes.set_pixel(x, 1, [value, value, value, 255]);
        }
        let grey = stripes.thumbnail(2);
        assert_eq!((grey.width, grey.height), (2, 1));
        assert_eq!(&grey.pixels[..4], &[128, 128, 128, 255]);
        // Tiny and empty images still give a pixel.
        assert_eq!(RgbaTiles::new(1, 1).thumbnail(40).width, 40);
        assert_eq!(RgbaTiles::new(3000, 2).thumbnail(40).height, 1);
    }

    #[test]
    fn translating_moves_every_pixel_and_cuts_at_the_edges() {
        let mut image = RgbaTiles::new(600, 300);
        let value = |x: u32, y: u32| [(x % 251) as u8, (y % 241) as u8, 7, 255];
        for y in 0..300 {
            for x in 0..600 {
                if (x + y) % 3 != 0 {
                    image.set_pixel(x, y, value(x, y));
                }
            }
        }
        for (dx, dy) in [(0, 0), (1, 0), (-1, 0), (257, -3), (-300, 120), (5, 299)] {
            let moved = image.translated(dx, dy);
            for y in (0..300).step_by(7) {
                for x in (0..600).step_by(5) {
                    let (sx, sy) = (x as i64 - dx, y as i64 - dy);
                    let expected = if (0..600).contains(&sx) && (0..300).contains(&sy) {
                        image.pixel(sx as u32, sy as u32)
                    } else {
                        [0; 4]
                    };
                    assert_eq!(
                        moved.pixel(x, y),
                        expected,
                        "({x}, {y}) moved by ({dx}, {dy})"
                    );
                }
            }
        }
        assert_eq!(image.translated(0, 0), image);
        assert!(image.translated(600, 0).is_empty(), "moved off the canvas");
        assert_eq!(image.translated(600, 0).memory_bytes(), 0);
    }
}
