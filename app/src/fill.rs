//! Content-aware fill with no model: PatchMatch (Barnes, Shechtman, Finkelstein and Goldman,
//! 2009) inside the multi-scale, voting completion of Wexler, Shechtman and Irani (2007).
//!
//! The hole is filled with the picture's own texture. At each scale, from coarse to fine, every
//! patch that touches the hole looks for the most similar patch wholly outside it (its nearest
//! neighbour, found by PatchMatch: good matches spread to neighbours — propagation — and each is
//! tried against random ones at shrinking distances — random search); then every hole pixel
//! becomes the weighted vote of the patches that cover it, weighted by how well each matched.
//! The next finer scale starts from this one's matches and colours. Pixels outside the hole are
//! never changed.

use rayon::prelude::*;

/// Patch half-size: patches are `2 r + 1` pixels square.
const RADIUS: i32 = 3;
/// The coarsest scale has the hole at most this many pixels across (or the picture 32 px).
const COARSEST_HOLE: usize = 12;

/// Fills the `hole` pixels (`true` = fill) of an RGB picture `width × height`; returns the
/// picture with only them changed. Deterministic for a given `seed`.
pub fn fill(rgb: &[u8], width: usize, height: usize, hole: &[bool], seed: u64) -> Vec<u8> {
    assert_eq!(rgb.len(), width * height * 3, "an RGB picture");
    assert_eq!(hole.len(), width * height, "a hole flag per pixel");
    if !hole.iter().any(|&h| h) || hole.iter().all(|&h| h) {
        return rgb.to_vec();
    }
    // The pyramid, finest first.
    let mut levels = vec![Level::from_bytes(rgb, width, height, hole)];
    loop {
        let last = levels.last().expect("one level");
        let extent = last.hole_extent();
        if extent <= COARSEST_HOLE || last.width.min(last.height) <= 32 {
            break;
        }
        let coarser = last.downsampled();
        if !coarser.has_source() {
            break;
        }
        levels.push(coarser);
    }
    if !levels[0].has_source() {
        // No patch lies wholly outside the hole: the colours around it, spread inwards.
        let finest = &mut levels[0];
        finest.diffuse_into_hole();
        return finest.bytes_where(rgb, hole);
    }
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let count = levels.len();
    let mut nnf: Option<Nnf> = None;
    let mut colours: Option<Vec<[f32; 3]>> = None;
    for (step, level) in levels.iter_mut().rev().enumerate() {
        match (&nnf, &colours) {
            (Some(coarse_nnf), Some(coarse_colours)) => {
                level.take_coarse_colours(coarse_colours);
                nnf = Some(coarse_nnf.upsampled(level, &mut rng));
            }
            _ => {
                level.diffuse_into_hole();
                nnf = Some(Nnf::random(level, &mut rng));
            }
        }
        let field = nnf.as_mut().expect("set above");
        // More rounds where they are cheap (coarse), fewer at the finest scales.
        let rounds = if step + 1 == count {
            2
        } else if step + 2 >= count {
            3
        } else {
            6
        };
        for round in 0..rounds {
            field.improve(level, round, &mut rng);
            level.vote(field);
        }
        colours = Some(level.colours.clone());
    }
    levels[0].bytes_where(rgb, hole)
}

/// A small, fast, seeded generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..bound` (bound > 0).
    fn below(&mut self, bound: usize) -> usize {
        ((self.next() >> 11) % bound as u64) as usize
    }
}

/// One scale of the picture.
struct Level {
    width: usize,
    height: usize,
    colours: Vec<[f32; 3]>,
    hole: Vec<bool>,
    /// Whether a patch centred here lies wholly inside the picture and outside the hole.
    source: Vec<bool>,
    /// The valid source positions, for random picks.
    sources: Vec<u32>,
    /// Whether a patch centred here touches the hole (these look for matches).
    target: Vec<bool>,
}

impl Level {
    /// The positions to fill, in scan order.
    fn targets(&self) -> Vec<u32> {
        (0..(self.width * self.height) as u32)
            .filter(|&p| self.target[p as usize])
            .collect()
    }

    fn from_bytes(rgb: &[u8], width: usize, height: usize, hole: &[bool]) -> Self {
        let colours = rgb
            .chunks_exact(3)
            .map(|p| [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])])
            .collect();
        Self::new(width, height, colours, hole.to_vec())
    }

    fn new(width: usize, height: usize, colours: Vec<[f32; 3]>, hole: Vec<bool>) -> Self {
        // Pixels within RADIUS (square) of the hole: separable max filter.
        let r = RADIUS as usize;
        let dilate = |set: &[bool]| -> Vec<bool> {
            let mut rows = vec![false; width * height];
            for y in 0..height {
                for x in 0..width {
                    let (x0, x1) = (x.saturating_sub(r), (x + r).min(width - 1));
                    rows[y * width + x] = (x0..=x1).any(|xx| set[y * width + xx]);
                }
            }
            let mut out = vec![false; width * height];
            for y in 0..height {
                let (y0, y1) = (y.saturating_sub(r), (y + r).min(height - 1));
                for x in 0..width {
                    out[y * width + x] = (y0..=y1).any(|yy| rows[yy * width + x]);
                }
            }
            out
        };
        let near_hole = dilate(&hole);
        let source: Vec<bool> = (0..width * height)
            .map(|index| {
                let (x, y) = (index % width, index / width);
                x >= r && y >= r && x + r < width && y + r < height && !near_hole[index]
            })
            .collect();
        let sources = source
            .iter()
            .enumerate()
            .filter(|&(_, &s)| s)
            .map(|(index, _)| index as u32)
            .collect();
        Self {
            width,
            height,
            colours,
            hole,
            source,
            sources,
            target: near_hole,
        }
    }

    /// `rgb` with the `hole` pixels taken from this level's colours.
    fn bytes_where(&self, rgb: &[u8], hole: &[bool]) -> Vec<u8> {
        let mut out = rgb.to_vec();
        for (index, &is_hole) in hole.iter().enumerate() {
            if is_hole {
                let c = self.colours[index];
                for k in 0..3 {
                    out[index * 3 + k] = (c[k] + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
        out
    }

    fn has_source(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The hole's larger side (bounding box).
    fn hole_extent(&self) -> usize {
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for (index, _) in self.hole.iter().enumerate().filter(|&(_, &h)| h) {
            let (x, y) = (index % self.width, index / self.width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        if x0 == usize::MAX {
            0
        } else {
            (x1 - x0 + 1).max(y1 - y0 + 1)
        }
    }

    /// Half the size: known colours averaged (hole pixels left out); a pixel is in the hole
    /// when any of its four is.
    fn downsampled(&self) -> Self {
        let (width, height) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut colours = vec![[0.0; 3]; width * height];
        let mut hole = vec![false; width * height];
        for y in 0..height {
            for x in 0..width {
                let mut sum = [0.0; 3];
                let mut count = 0.0;
                let mut any_hole = false;
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (fx, fy) = (x * 2 + dx, y * 2 + dy);
                    if fx >= self.width || fy >= self.height {
                        continue;
                    }
                    let index = fy * self.width + fx;
                    if self.hole[index] {
                        any_hole = true;
                    } else {
                        add_weighted(&mut sum, self.colours[index], 1.0);
                        count += 1.0;
                    }
                }
                let index = y * width + x;
                hole[index] = any_hole;
                if count > 0.0 {
                    colours[index] = sum.map(|s| s / count);
                }
            }
        }
        Self::new(width, height, colours, hole)
    }

    /// A first guess for the coarsest hole: the known colours spread inwards, ring by ring.
    fn diffuse_into_hole(&mut self) {
        let mut known: Vec<bool> = self.hole.iter().map(|&h| !h).collect();
        loop {
            let mut next = Vec::new();
            for index in 0..self.width * self.height {
                if known[index] {
                    continue;
                }
                let (x, y) = (index % self.width, index / self.width);
                let mut sum = [0.0; 3];
                let mut count = 0.0;
                for (nx, ny) in neighbours(x, y, self.width, self.height) {
                    let n = ny * self.width + nx;
                    if known[n] {
                        add_weighted(&mut sum, self.colours[n], 1.0);
                        count += 1.0;
                    }
                }
                if count > 0.0 {
                    next.push((index, sum.map(|s| s / count)));
                }
            }
            if next.is_empty() {
                break;
            }
            for (index, colour) in next {
                self.colours[index] = colour;
                known[index] = true;
            }
        }
    }

    /// Takes the coarser scale's hole colours (nearest) as this scale's starting point.
    fn take_coarse_colours(&mut self, coarse: &[[f32; 3]]) {
        let coarse_width = self.width.div_ceil(2);
        for index in 0..self.width * self.height {
            if self.hole[index] {
                let (x, y) = (index % self.width, index / self.width);
                self.colours[index] = coarse[(y / 2) * coarse_width + x / 2];
            }
        }
    }

    /// Squared colour distance between the patches at `p` and source `q`, over the part of
    /// `p`'s patch inside the picture, per pixel; stops early above `limit`.
    fn distance(&self, p: usize, q: usize, limit: f32) -> f32 {
        let (px, py) = ((p % self.width) as i32, (p / self.width) as i32);
        let (qx, qy) = ((q % self.width) as i32, (q / self.width) as i32);
        let mut total = 0.0;
        let mut count = 0.0;
        let limit_total = limit * ((2 * RADIUS + 1) * (2 * RADIUS + 1)) as f32;
        for dy in -RADIUS..=RADIUS {
            let (y, sy) = (py + dy, qy + dy);
            if y < 0 || y >= self.height as i32 {
                continue;
            }
            for dx in -RADIUS..=RADIUS {
                let x = px + dx;
                if x < 0 || x >= self.width as i32 {
                    continue;
                }
                let a = self.colours[y as usize * self.width + x as usize];
                let b = self.colours[sy as usize * self.width + (qx + dx) as usize];
                total += (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
                count += 1.0;
            }
            if total > limit_total {
                return f32::MAX;
            }
        }
        total / count
    }

    /// Each hole pixel: the vote of the patches covering it, weighted by their match.
    fn vote(&mut self, nnf: &Nnf) {
        // σ² from the spread of match distances (their 75th percentile), as Wexler et al.
        let mut distances: Vec<f32> = nnf
            .targets
            .iter()
            .map(|&p| nnf.distance[p as usize])
            .filter(|d| d.is_finite() && *d < f32::MAX)
            .collect();
        let sigma2 = if distances.is_empty() {
            1.0
        } else {
            let at = distances.len() * 3 / 4;
            let (_, value, _) = distances.select_nth_unstable_by(at, f32::total_cmp);
            value.max(1.0)
        };
        let (width, height) = (self.width, self.height);
        let colours = &self.colours;
        let hole = &self.hole;
        let target = &self.target;
        let new: Vec<(usize, [f32; 3])> = (0..height)
            .into_par_iter()
            .flat_map_iter(|y| {
                (0..width).filter_map(move |x| {
                    let index = y * width + x;
                    if !hole[index] {
                        return None;
                    }
                    let mut sum = [0.0_f32; 3];
                    let mut weights = 0.0_f32;
                    for dy in -RADIUS..=RADIUS {
                        let py = y as i32 - dy;
                        if py < 0 || py >= height as i32 {
                            continue;
                        }
                        for dx in -RADIUS..=RADIUS {
                            let px = x as i32 - dx;
                            if px < 0 || px >= width as i32 {
                                continue;
                            }
                            let p = py as usize * width + px as usize;
                            if !target[p] {
                                continue;
                            }
                            let q = nnf.source[p] as usize;
                            let (qx, qy) = ((q % width) as i32 + dx, (q / width) as i32 + dy);
                            let weight = (-nnf.distance[p] / (2.0 * sigma2)).exp().max(1e-12);
                            let c = colours[qy as usize * width + qx as usize];
                            add_weighted(&mut sum, c, weight);
                            weights += weight;
                        }
                    }
                    (weights > 0.0).then(|| (index, sum.map(|s| s / weights)))
                })
            })
            .collect();
        for (index, colour) in new {
            self.colours[index] = colour;
        }
    }
}

/// `sum += colour · weight`, per channel.
fn add_weighted(sum: &mut [f32; 3], colour: [f32; 3], weight: f32) {
    for (total, value) in sum.iter_mut().zip(colour) {
        *total += value * weight;
    }
}

fn neighbours(
    x: usize,
    y: usize,
    width: usize,
    height: usize,
) -> impl Iterator<Item = (usize, usize)> {
    [
        (x.wrapping_sub(1), y),
        (x + 1, y),
        (x, y.wrapping_sub(1)),
        (x, y + 1),
    ]
    .into_iter()
    .filter(move |&(nx, ny)| nx < width && ny < height)
}

/// The nearest-neighbour field: for each target position, its best source and their distance.
struct Nnf {
    source: Vec<u32>,
    distance: Vec<f32>,
    /// The target positions, in scan order.
    targets: Vec<u32>,
}

impl Nnf {
    fn random(level: &Level, rng: &mut Rng) -> Self {
        let n = level.width * level.height;
        let targets = level.targets();
        let mut source = vec![0_u32; n];
        let mut distance = vec![f32::MAX; n];
        for &p in &targets {
            let q = level.sources[rng.below(level.sources.len())];
            source[p as usize] = q;
            distance[p as usize] = level.distance(p as usize, q as usize, f32::MAX);
        }
        Self {
            source,
            distance,
            targets,
        }
    }

    /// The coarser field scaled up to `level` (a source that is not valid here is replaced by a
    /// random one).
    fn upsampled(&self, level: &Level, rng: &mut Rng) -> Self {
        let n = level.width * level.height;
        let coarse_width = level.width.div_ceil(2);
        let targets = level.targets();
        let mut source = vec![0_u32; n];
        let mut distance = vec![f32::MAX; n];
        for &p in &targets {
            let (x, y) = (p as usize % level.width, p as usize / level.width);
            let coarse = (y / 2) * coarse_width + x / 2;
            let q = self.source.get(coarse).copied().unwrap_or(0) as usize;
            let (qx, qy) = (
                (q % coarse_width) * 2 + x % 2,
                (q / coarse_width) * 2 + y % 2,
            );
            let mut candidate = if qx < level.width && qy < level.height {
                qy * level.width + qx
            } else {
                usize::MAX
            };
            if candidate == usize::MAX || !level.source[candidate] {
                candidate = level.sources[rng.below(level.sources.len())] as usize;
            }
            source[p as usize] = candidate as u32;
            distance[p as usize] = level.distance(p as usize, candidate, f32::MAX);
        }
        Self {
            source,
            distance,
            targets,
        }
    }

    /// Re-measures every match against the current colours, then one pass of propagation and
    /// random search (forwards on even rounds, backwards on odd ones).
    fn improve(&mut self, level: &Level, round: usize, rng: &mut Rng) {
        for &p in &self.targets {
            let p = p as usize;
            self.distance[p] = level.distance(p, self.source[p] as usize, f32::MAX);
        }
        let (width, height) = (level.width as i32, level.height as i32);
        let forwards = round.is_multiple_of(2);
        let step: i32 = if forwards { -1 } else { 1 };
        let count = self.targets.len();
        for i in 0..count {
            let p = self.targets[if forwards { i } else { count - 1 - i }] as usize;
            let (px, py) = ((p % level.width) as i32, (p / level.width) as i32);
            // Propagation: the left (or right) and upper (or lower) neighbour's match, shifted.
            for (nx, ny) in [(px + step, py), (px, py + step)] {
                if nx < 0 || ny < 0 || nx >= width || ny >= height {
                    continue;
                }
                let n = (ny * width + nx) as usize;
                if !level.target[n] {
                    continue;
                }
                let q = self.source[n] as usize;
                let (qx, qy) = (
                    (q % level.width) as i32 + (px - nx),
                    (q / level.width) as i32 + (py - ny),
                );
                if qx < 0 || qy < 0 || qx >= width || qy >= height {
                    continue;
                }
                let candidate = (qy * width + qx) as usize;
                if level.source[candidate] {
                    self.try_source(level, p, candidate);
                }
            }
            // Random search around the current match, halving the radius.
            let mut radius = width.max(height);
            while radius >= 1 {
                let q = self.source[p] as usize;
                let (qx, qy) = ((q % level.width) as i32, (q / level.width) as i32);
                let span = 2 * radius as usize + 1;
                let (cx, cy) = (
                    qx - radius + rng.below(span) as i32,
                    qy - radius + rng.below(span) as i32,
                );
                if cx >= 0 && cy >= 0 && cx < width && cy < height {
                    let candidate = (cy * width + cx) as usize;
                    if level.source[candidate] {
                        self.try_source(level, p, candidate);
                    }
                }
                radius /= 2;
            }
        }
    }

    fn try_source(&mut self, level: &Level, p: usize, q: usize) {
        if self.source[p] as usize == q {
            return;
        }
        let d = level.distance(p, q, self.distance[p]);
        if d < self.distance[p] {
            self.distance[p] = d;
            self.source[p] = q as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripes 9 px wide in two colours, diagonal: a texture with one right answer.
    fn stripes(side: usize) -> Vec<u8> {
        (0..side * side)
            .flat_map(|i| {
                let (x, y) = (i % side, i / side);
                if ((x + 2 * y) / 9) % 2 == 0 {
                    [200, 60, 40]
                } else {
                    [30, 90, 180]
                }
            })
            .collect()
    }

    fn square_hole(side: usize, from: usize, to: usize) -> Vec<bool> {
        (0..side * side)
            .map(|i| (from..to).contains(&(i % side)) && (from..to).contains(&(i / side)))
            .collect()
    }

    /// Stripes of `side`², the square hole `from..to` in both directions, and the stripes with
    /// the hole's pixels painted `colour`.
    fn striped_with_hole(
        side: usize,
        from: usize,
        to: usize,
        colour: [u8; 3],
    ) -> (Vec<u8>, Vec<bool>, Vec<u8>) {
        let truth = stripes(side);
        let hole = square_hole(side, from, to);
        let mut damaged = truth.clone();
        for (pixel, _) in damaged.chunks_exact_mut(3).zip(&hole).filter(|&(_, &h)| h) {
            pixel.copy_from_slice(&colour);
        }
        (truth, hole, damaged)
    }

    #[test]
    fn only_the_hole_changes_and_the_same_seed_fills_the_same() {
        let side = 64;
        let (_, hole, damaged) = striped_with_hole(side, 20, 40, [255, 255, 255]);
        let filled = fill(&damaged, side, side, &hole, 1);
        for (index, &h) in hole.iter().enumerate() {
            if !h {
                assert_eq!(
                    filled[index * 3..index * 3 + 3],
                    damaged[index * 3..index * 3 + 3]
                );
            }
        }
        assert_eq!(filled, fill(&damaged, side, side, &hole, 1));
    }

    #[test]
    fn a_striped_texture_continues_through_the_hole() {
        let side = 96;
        let (truth, hole, damaged) = striped_with_hole(side, 30, 62, [0, 0, 0]);
        let filled = fill(&damaged, side, side, &hole, 7);
        // Most hole pixels get the truth's colour exactly or nearly: the stripes continue.
        let close = hole
            .iter()
            .enumerate()
            .filter(|&(_, &h)| h)
            .filter(|(index, _)| {
                (0..3).all(|k| filled[index * 3 + k].abs_diff(truth[index * 3 + k]) <= 24)
            })
            .count();
        let holes = hole.iter().filter(|&&h| h).count();
        assert!(
            close * 10 >= holes * 8,
            "{close} of {holes} pixels continue the stripes"
        );
    }

    #[test]
    fn nothing_to_fill_or_nothing_to_fill_from_returns_the_picture() {
        let picture = vec![7_u8; 8 * 8 * 3];
        assert_eq!(fill(&picture, 8, 8, &[false; 64], 0), picture);
        assert_eq!(fill(&picture, 8, 8, &[true; 64], 0), picture);
    }
}
