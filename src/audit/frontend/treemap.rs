//! The squarified treemap layout (Bruls, Huizing and van Wijk, 2000), the one the
//! bundle visualizers draw: rectangles whose areas are the weights, laid row by row
//! along the shorter side so that they stay close to squares.

/// A rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn area(&self) -> f64 {
        self.w * self.h
    }

    /// Shrunk by `top` at the top and `pad` on every side (never below zero).
    pub fn inset(&self, top: f64, pad: f64) -> Rect {
        Rect {
            x: self.x + pad,
            y: self.y + top + pad,
            w: (self.w - 2.0 * pad).max(0.0),
            h: (self.h - top - 2.0 * pad).max(0.0),
        }
    }
}

/// The worst aspect ratio of a row of `areas` laid along a side of length `side`.
fn worst(areas: &[f64], side: f64) -> f64 {
    let sum: f64 = areas.iter().sum();
    let (min, max) = areas.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &a| {
        (lo.min(a), hi.max(a))
    });
    if sum <= 0.0 || min <= 0.0 {
        return f64::INFINITY;
    }
    let (s2, w2) = (sum * sum, side * side);
    (w2 * max / s2).max(s2 / (w2 * min))
}

/// Lays a row of `areas` along the shorter side of `free`; returns the rectangles and
/// what is left of `free`.
fn lay_row(areas: &[f64], free: Rect) -> (Vec<Rect>, Rect) {
    let sum: f64 = areas.iter().sum();
    let mut out = Vec::with_capacity(areas.len());
    if free.w >= free.h {
        // A column on the left, as wide as its share.
        let width = if free.h > 0.0 { sum / free.h } else { 0.0 };
        let mut y = free.y;
        for a in areas {
            let h = if width > 0.0 { a / width } else { 0.0 };
            out.push(Rect {
                x: free.x,
                y,
                w: width,
                h,
            });
            y += h;
        }
        let rest = Rect {
            x: free.x + width,
            w: (free.w - width).max(0.0),
            ..free
        };
        (out, rest)
    } else {
        let height = if free.w > 0.0 { sum / free.w } else { 0.0 };
        let mut x = free.x;
        for a in areas {
            let w = if height > 0.0 { a / height } else { 0.0 };
            out.push(Rect {
                x,
                y: free.y,
                w,
                h: height,
            });
            x += w;
        }
        let rest = Rect {
            y: free.y + height,
            h: (free.h - height).max(0.0),
            ..free
        };
        (out, rest)
    }
}

/// One rectangle per weight, in the order given, their areas proportional to the
/// weights and together filling `area` (a weight of zero gets an empty rectangle).
pub fn squarify(weights: &[f64], area: Rect) -> Vec<Rect> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    let empty = Rect {
        w: 0.0,
        h: 0.0,
        ..area
    };
    let mut out = vec![empty; weights.len()];
    if total <= 0.0 || area.area() <= 0.0 {
        return out;
    }
    let scale = area.area() / total;
    let mut order: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0.0).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    let mut free = area;
    let mut row: Vec<usize> = Vec::new();
    let areas = |row: &[usize]| row.iter().map(|&i| weights[i] * scale).collect::<Vec<_>>();
    for &i in &order {
        let side = free.w.min(free.h);
        let mut with = row.clone();
        with.push(i);
        if row.is_empty() || worst(&areas(&with), side) <= worst(&areas(&row), side) {
            row = with;
            continue;
        }
        let (rects, rest) = lay_row(&areas(&row), free);
        for (&j, r) in row.iter().zip(rects) {
            out[j] = r;
        }
        free = rest;
        row = vec![i];
    }
    if !row.is_empty() {
        let (rects, _) = lay_row(&areas(&row), free);
        for (&j, r) in row.iter().zip(rects) {
            out[j] = r;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_the_weights_and_fill_the_rectangle() {
        let area = Rect {
            x: 0.0,
            y: 0.0,
            w: 600.0,
            h: 400.0,
        };
        let weights = [6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0, 0.0];
        let rects = squarify(&weights, area);
        let total: f64 = weights.iter().sum();
        for (w, r) in weights.iter().zip(&rects) {
            let expected = w / total * area.area();
            assert!((r.area() - expected).abs() < 1e-6, "{w}: {r:?}");
            assert!(r.x >= -1e-9 && r.y >= -1e-9, "{r:?}");
            assert!(
                r.x + r.w <= 600.0 + 1e-6 && r.y + r.h <= 400.0 + 1e-6,
                "{r:?}"
            );
        }
        // No two overlap.
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let overlap_w = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
                let overlap_h = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
                assert!(overlap_w <= 1e-6 || overlap_h <= 1e-6, "{a:?} and {b:?}");
            }
        }
        // Squarified: the paper's example keeps every ratio under 3.
        for r in rects.iter().filter(|r| r.area() > 0.0) {
            assert!(r.w.max(r.h) / r.w.min(r.h) < 3.0, "{r:?}");
        }
    }

    #[test]
    fn nothing_to_lay_is_empty() {
        let area = Rect {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        assert!(squarify(&[0.0, 0.0], area).iter().all(|r| r.area() == 0.0));
        assert!(squarify(&[], area).is_empty());
    }
}
