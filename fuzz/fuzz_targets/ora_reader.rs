//! OpenRaster projects from anywhere: reading must return a document or an error, never panic,
//! hang or allocate without bound.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(document) = pentimento::io::ora::read(std::io::Cursor::new(data)) {
        // What opening does next: composite a little of it.
        let bounds = document.bounds();
        let corner = pentimento::document::tiles::PixelRect::new(
            0,
            0,
            bounds.width().min(64),
            bounds.height().min(64),
        );
        let _ = document.composite(&corner);
    }
});
