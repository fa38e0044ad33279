//! Whether two documents hold the same work, for tests that save, reopen or recover one.

use pentimento::document::Document;

/// Fails the test unless `a` and `b` hold the same work: the canvas size, every layer's
/// properties and content (naming the first pixel that differs), the mask, the generation log
/// and the composite.
pub fn assert_same_document(a: &Document, b: &Document) {
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    assert_eq!(a.layers().len(), b.layers().len());
    for (left, right) in a.layers().iter().zip(b.layers()) {
        assert_eq!(left.properties, right.properties);
        let name = &left.properties.name;
        let (pixels_a, pixels_b) = (
            left.pixels().read_rect(&a.bounds()),
            right.pixels().read_rect(&b.bounds()),
        );
        if let Some(index) = (0..pixels_a.len()).find(|&index| pixels_a[index] != pixels_b[index]) {
            let pixel = index / 4 * 4..index / 4 * 4 + 4;
            panic!(
                "layer {name} differs at byte {index}: {:?} vs {:?}",
                &pixels_a[pixel.clone()],
                &pixels_b[pixel]
            );
        }
        assert!(left.content == right.content, "layer {name} differs");
    }
    assert_eq!(
        a.mask().read_rect(&a.bounds()),
        b.mask().read_rect(&b.bounds())
    );
    assert_eq!(a.generation_log, b.generation_log);
    assert_eq!(a.composite(&a.bounds()), b.composite(&b.bounds()));
}
