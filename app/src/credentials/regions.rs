//! Regions of an exported picture as C2PA shapes: the exact outline of a set of pixels, traced
//! along pixel edges into polygons.
//!
//! Each 4-connected part of the set becomes one polygon. Its holes are joined to it by a
//! zero-width cut (a "keyhole"), so every polygon is one ring whose even-odd (or non-zero)
//! filling at pixel centres is exactly the part's pixels, and a reader needs no notion of holes.
//! Each polygon is its own region in an action's `changes`, so the regions' union is the set
//! whatever a reader assumes about several ranges in one region. A polygon that is an
//! axis-aligned rectangle is written as a C2PA rectangle.
//!
//! Outlines have two vertices per step of a staircase edge; when a set's outline would need
//! more than a budget of vertices it is traced on a coarser grid (cells of 2, 4, 8 … pixels; a
//! cell is in when any of its pixels is), which never leaves a pixel of the set out.
//! [`Traced::closeness`] measures what the shapes cover against the set itself.

use std::collections::HashMap;

/// Most vertices one set's outline may have before it is traced on a coarser grid.
pub const VERTEX_BUDGET: usize = 4096;

/// A closed ring of `(x, y)` vertices in pixels (the last joins the first).
pub type Ring = Vec<(f64, f64)>;

/// How close shapes are to the set they describe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Closeness {
    /// Share of the set's pixels inside the shapes (1: none left out).
    pub recall: f64,
    /// Share of the pixels inside the shapes that are the set's (1: nothing claimed in excess).
    pub precision: f64,
}

impl Closeness {
    /// Whether the shapes are exactly the set.
    pub fn is_exact(&self) -> bool {
        self.recall == 1.0 && self.precision == 1.0
    }
}

/// A set of pixels as polygons.
#[derive(Clone, Debug, PartialEq)]
pub struct Traced {
    /// One ring per 4-connected part (holes joined in).
    pub polygons: Vec<Ring>,
    /// The grid the outline follows, in pixels (1: pixel edges).
    pub cell: u32,
    /// The set's pixel count.
    pub pixels: u64,
    /// How close the polygons are to the set.
    pub closeness: Closeness,
}

impl Traced {
    /// Traces the pixels of a `width × height` picture where `inside` holds, at the finest grid
    /// whose outline fits in `budget` vertices.
    pub fn of(width: u32, height: u32, inside: impl Fn(u32, u32) -> bool, budget: usize) -> Self {
        let set: Vec<bool> = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| inside(x, y))
            .collect();
        let pixels = set.iter().filter(|&&inside| inside).count() as u64;
        let mut cell = 1;
        let polygons = loop {
            let polygons = trace_cells(&set, width, height, cell);
            let vertices: usize = polygons.iter().map(Vec::len).sum();
            if vertices <= budget || cell >= width.max(height) {
                break polygons;
            }
            cell *= 2;
        };
        let closeness = closeness(&set, width, height, &polygons);
        Self {
            polygons,
            cell,
            pixels,
            closeness,
        }
    }

    /// The vertex count of every polygon together.
    pub fn vertices(&self) -> usize {
        self.polygons.iter().map(Vec::len).sum()
    }

    /// As C2PA `changes`: one region per polygon (a rectangle when it is one).
    pub fn changes(&self, description: &str) -> serde_json::Value {
        let changes: Vec<serde_json::Value> = self
            .polygons
            .iter()
            .map(|ring| {
                serde_json::json!({
                    "region": [{ "type": "spatial", "shape": shape(ring) }],
                    "description": description,
                })
            })
            .collect();
        serde_json::Value::Array(changes)
    }
}

/// A ring as a C2PA shape.
fn shape(ring: &Ring) -> serde_json::Value {
    let (x0, y0, x1, y1) = ring.iter().fold(
        (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
        |(x0, y0, x1, y1), &(x, y)| (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
    );
    let is_rectangle = ring.len() == 4
        && ring
            .iter()
            .all(|&(x, y)| (x == x0 || x == x1) && (y == y0 || y == y1));
    if is_rectangle {
        serde_json::json!({
            "type": "rectangle",
            "unit": "pixel",
            "origin": { "x": x0, "y": y0 },
            "width": x1 - x0,
            "height": y1 - y0,
        })
    } else {
        serde_json::json!({
            "type": "polygon",
            "unit": "pixel",
            "origin": { "x": x0, "y": y0 },
            "vertices": ring.iter().map(|&(x, y)| serde_json::json!({ "x": x, "y": y })).collect::<Vec<_>>(),
        })
    }
}

/// The outline of the set on a grid of `cell`-pixel cells, as keyhole rings in pixels.
fn trace_cells(set: &[bool], width: u32, height: u32, cell: u32) -> Vec<Ring> {
    let (columns, rows) = (width.div_ceil(cell), height.div_ceil(cell));
    let mut cells = vec![false; columns as usize * rows as usize];
    for y in 0..height {
        for x in 0..width {
            if set[(y * width + x) as usize] {
                cells[((y / cell) * columns + x / cell) as usize] = true;
            }
        }
    }
    // Cuts run along the middle of a row of cells, never the last one (a hole has set cells
    // below it), so clamping to the picture only moves the outline of partial cells.
    let scale = |v: f64, limit: u32| (v * f64::from(cell)).min(f64::from(limit));
    trace(&cells, columns, rows)
        .into_iter()
        .map(|ring| {
            ring.into_iter()
                .map(|(x, y)| (scale(x, width), scale(y, height)))
                .collect()
        })
        .collect()
}

/// Directed pixel edges with the set on their right (y grows downwards), linked into rings,
/// with holes joined to the ring around them. Coordinates are pixel corners, and half-integer
/// rows for the cuts.
fn trace(cells: &[bool], columns: u32, rows: u32) -> Vec<Ring> {
    let at = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < i64::from(columns)
            && y < i64::from(rows)
            && cells[(y * i64::from(columns) + x) as usize]
    };
    type Point = (i64, i64);
    let mut edges: Vec<(Point, Point)> = Vec::new();
    for y in 0..i64::from(rows) {
        for x in 0..i64::from(columns) {
            if !at(x, y) {
                continue;
            }
            if !at(x, y - 1) {
                edges.push(((x, y), (x + 1, y)));
            }
            if !at(x + 1, y) {
                edges.push(((x + 1, y), (x + 1, y + 1)));
            }
            if !at(x, y + 1) {
                edges.push(((x + 1, y + 1), (x, y + 1)));
            }
            if !at(x - 1, y) {
                edges.push(((x, y + 1), (x, y)));
            }
        }
    }
    let mut starting: HashMap<Point, Vec<usize>> = HashMap::with_capacity(edges.len());
    for (index, &(start, _)) in edges.iter().enumerate() {
        starting.entry(start).or_default().push(index);
    }
    let mut used = vec![false; edges.len()];
    let mut rings: Vec<Vec<Point>> = Vec::new();
    for first in 0..edges.len() {
        if used[first] {
            continue;
        }
        let mut ring: Vec<Point> = Vec::new();
        let mut current = first;
        loop {
            used[current] = true;
            let (start, end) = edges[current];
            let direction = (end.0 - start.0, end.1 - start.1);
            let candidates: Vec<usize> = starting
                .get(&end)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&next| !used[next] || next == first)
                .collect();
            // Where two parts touch at a corner, turn right: parts that only touch diagonally
            // stay apart (4-connectivity).
            let right = (-direction.1, direction.0);
            let next = candidates
                .iter()
                .copied()
                .find(|&next| {
                    let (s, e) = edges[next];
                    (e.0 - s.0, e.1 - s.1) == right
                })
                .or_else(|| candidates.first().copied());
            let Some(next) = next else { break };
            let (next_start, next_end) = edges[next];
            let next_direction = (next_end.0 - next_start.0, next_end.1 - next_start.1);
            if next_direction != direction {
                ring.push(end);
            }
            if next == first {
                break;
            }
            current = next;
        }
        if ring.len() >= 4 {
            rings.push(ring);
        }
    }
    let rings: Vec<Ring> = rings
        .into_iter()
        .map(|ring| {
            ring.into_iter()
                .map(|(x, y)| (x as f64, y as f64))
                .collect()
        })
        .collect();
    join_holes(rings)
}

/// Twice the signed area (positive for outlines, negative for holes).
fn signed_area(ring: &Ring) -> f64 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

/// Joins every hole to the ring just left of its top-left corner with a zero-width cut along
/// the middle of that pixel row, so that each outline becomes one ring.
fn join_holes(rings: Vec<Ring>) -> Vec<Ring> {
    let (mut outlines, holes): (Vec<Ring>, Vec<Ring>) =
        rings.into_iter().partition(|ring| signed_area(ring) > 0.0);
    let mut holes: Vec<Option<Ring>> = holes.into_iter().map(Some).collect();
    // Joined in order of their leftmost corner: the ring a cut meets is then an outline or a
    // hole already joined to one, or a hole joined later (which carries this one with it).
    let corner = |ring: &Ring| {
        ring.iter()
            .copied()
            .enumerate()
            .min_by(|(_, a), (_, b)| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .unwrap_or((0, (0.0, 0.0)))
    };
    let mut order: Vec<usize> = (0..holes.len()).collect();
    order.sort_by(|&a, &b| {
        let (_, pa) = corner(holes[a].as_ref().expect("not joined yet"));
        let (_, pb) = corner(holes[b].as_ref().expect("not joined yet"));
        pa.0.total_cmp(&pb.0).then(pa.1.total_cmp(&pb.1))
    });
    for index in order {
        let Some(hole) = holes[index].take() else {
            continue;
        };
        let (at, (hx, hy)) = corner(&hole);
        let row = hy + 0.5;
        // The nearest upward edge left of the corner crossing the row: the left side of the
        // run of set pixels the cut goes through.
        let mut best: Option<(bool, usize, usize, f64)> = None; // (in outlines, ring, edge, x)
        let mut consider = |in_outlines: bool, ring_index: usize, ring: &Ring| {
            for i in 0..ring.len() {
                let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                if a.0 == b.0 && a.1 > b.1 && b.1 <= row && row < a.1 && a.0 < hx {
                    let better = best.is_none_or(|(_, _, _, x)| a.0 > x);
                    if better {
                        best = Some((in_outlines, ring_index, i, a.0));
                    }
                }
            }
        };
        for (ring_index, ring) in outlines.iter().enumerate() {
            consider(true, ring_index, ring);
        }
        for (ring_index, ring) in holes.iter().enumerate() {
            if let Some(ring) = ring {
                consider(false, ring_index, ring);
            }
        }
        let Some((in_outlines, ring_index, edge, x)) = best else {
            // A hole with nothing around it cannot be: leave it out rather than claim it.
            continue;
        };
        let cut = (x, row);
        let corner_cut = (hx, row);
        // The hole from its corner: corner, down its left side, around, back to the corner.
        let mut spliced: Ring = vec![cut, corner_cut];
        spliced.extend(hole[at + 1..].iter().copied());
        spliced.extend(hole[..=at].iter().copied());
        spliced.push(corner_cut);
        spliced.push(cut);
        let target = if in_outlines {
            &mut outlines[ring_index]
        } else {
            holes[ring_index].as_mut().expect("checked above")
        };
        target.splice(edge + 1..edge + 1, spliced);
    }
    outlines
}

/// Whether pixel centres are inside the rings (even-odd), for a `width × height` picture.
pub fn rasterize(width: u32, height: u32, polygons: &[Ring]) -> Vec<bool> {
    let mut inside = vec![false; width as usize * height as usize];
    let mut crossings = Vec::new();
    for y in 0..height {
        let scan = f64::from(y) + 0.5;
        crossings.clear();
        for ring in polygons {
            for i in 0..ring.len() {
                let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                if (a.1 <= scan) != (b.1 <= scan) {
                    crossings.push(a.0 + (scan - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
        }
        crossings.sort_by(f64::total_cmp);
        for pair in crossings.chunks_exact(2) {
            let start = (pair[0] - 0.5).ceil().max(0.0) as u32;
            let end = ((pair[1] - 0.5).ceil().max(0.0) as u32).min(width);
            for x in start..end {
                let index = (y * width + x) as usize;
                inside[index] = !inside[index];
            }
        }
    }
    inside
}

fn closeness(set: &[bool], width: u32, height: u32, polygons: &[Ring]) -> Closeness {
    let shapes = rasterize(width, height, polygons);
    let (mut both, mut in_set, mut in_shapes) = (0_u64, 0_u64, 0_u64);
    for (&a, &b) in set.iter().zip(&shapes) {
        in_set += u64::from(a);
        in_shapes += u64::from(b);
        both += u64::from(a && b);
    }
    let share = |part: u64, whole: u64| {
        if whole == 0 {
            1.0
        } else {
            part as f64 / whole as f64
        }
    };
    Closeness {
        recall: share(both, in_set),
        precision: share(both, in_shapes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Traces `set` and checks that the polygons filled at pixel centres are exactly it.
    fn exact(width: u32, height: u32, inside: impl Fn(u32, u32) -> bool) -> Traced {
        let traced = Traced::of(width, height, &inside, usize::MAX);
        let filled = rasterize(width, height, &traced.polygons);
        for y in 0..height {
            for x in 0..width {
                assert_eq!(
                    filled[(y * width + x) as usize],
                    inside(x, y),
                    "pixel ({x}, {y})"
                );
            }
        }
        assert!(traced.closeness.is_exact(), "{:?}", traced.closeness);
        assert_eq!(traced.cell, 1);
        traced
    }

    #[test]
    fn a_rectangle_is_one_rectangle() {
        let traced = exact(64, 48, |x, y| (8..40).contains(&x) && (16..32).contains(&y));
        assert_eq!(
            traced.polygons,
            [vec![(40.0, 16.0), (40.0, 32.0), (8.0, 32.0), (8.0, 16.0)]]
        );
        let changes = traced.changes("generated");
        assert_eq!(changes[0]["region"][0]["shape"]["type"], "rectangle");
        assert_eq!(changes[0]["region"][0]["shape"]["width"], 32.0);
        assert!(Traced::of(10, 10, |_, _| false, 100).polygons.is_empty());
    }

    #[test]
    fn holes_are_joined_and_filled_exactly() {
        // A disc with two holes, one of them holding an island, and a part that touches the
        // disc only at a corner.
        let traced = exact(80, 64, |x, y| {
            let d = |cx: f64, cy: f64| (f64::from(x) + 0.5 - cx).hypot(f64::from(y) + 0.5 - cy);
            let disc = d(32.0, 32.0) <= 28.0;
            let hole = d(22.0, 30.0) <= 7.0 || (36..48).contains(&x) && (36..44).contains(&y);
            let island = (40..43).contains(&x) && (38..41).contains(&y);
            let corner = x == 61 && y == 33;
            (disc && !hole) || island || corner
        });
        // Disc (with its holes joined in), island, the corner pixel: three rings.
        assert_eq!(traced.polygons.len(), 3);
        let changes = traced.changes("generated");
        assert_eq!(changes.as_array().map(Vec::len), Some(3));
        assert!(
            changes
                .as_array()
                .into_iter()
                .flatten()
                .any(|change| change["region"][0]["shape"]["type"] == "polygon")
        );
    }

    #[test]
    fn noise_and_checkerboards_trace_exactly() {
        // Diagonal touches everywhere, holes inside holes' neighbours.
        exact(17, 13, |x, y| (x + y) % 2 == 0);
        let mut state = 0x2545_f491_u32;
        let noise: Vec<bool> = (0..40 * 30)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                !state.is_multiple_of(3)
            })
            .collect();
        exact(40, 30, |x, y| noise[(y * 40 + x) as usize]);
    }

    #[test]
    fn past_the_budget_a_coarser_grid_leaves_no_pixel_out() {
        let inside = |x: u32, y: u32| (x * 7 + y * 3).is_multiple_of(5);
        let traced = Traced::of(64, 64, inside, 200);
        assert!(traced.cell > 1);
        assert!(traced.vertices() <= 200 || traced.cell >= 64);
        assert_eq!(traced.closeness.recall, 1.0);
        assert!(traced.closeness.precision < 1.0);
        // The precision is what the filled shapes say it is.
        let filled = rasterize(64, 64, &traced.polygons);
        let claimed = filled.iter().filter(|&&inside| inside).count() as f64;
        assert!((traced.closeness.precision - traced.pixels as f64 / claimed).abs() < 1e-12);
    }
}
