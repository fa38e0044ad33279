//! The painting app driven like an artist drives it (egui_kittest, real window code, real ONNX
//! Runtime on the tiny inpainting pipeline): paint, mask, generate, accept, reshape the edge,
//! undo and redo, cancel, save and reopen.

use std::time::Duration;

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use pentimento::PentimentoApp;
use pentimento::dialogs::DialogKind;
use pentimento::document::Document;
use pentimento::document::compositor::Provenance;
use pentimento::document::layer::LayerContent;
use pentimento::io::ora;
use pentimento_inference::LocateOptions;
use pentimento_tests::{
    Sandbox, click, click_menu, drag_through, fix_generation, fixture_model, generate_and_wait,
    open_with_shortcut, press, run_until, snapshot_options, wait_for_model, window,
};

/// Points along a line, every `step` pixels.
fn line(from: (f32, f32), to: (f32, f32), step: f32) -> Vec<(f32, f32)> {
    let length = ((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2)).sqrt();
    let count = (length / step).ceil().max(1.0) as usize;
    (0..=count)
        .map(|index| {
            let t = index as f32 / count as f32;
            (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t)
        })
        .collect()
}

fn composite(document: &Document) -> (Vec<u8>, Vec<Provenance>) {
    document.composite(&document.bounds())
}

fn pixel(rgba: &[u8], width: u32, x: u32, y: u32) -> [u8; 4] {
    let index = (y * width + x) as usize * 4;
    [
        rgba[index],
        rgba[index + 1],
        rgba[index + 2],
        rgba[index + 3],
    ]
}

/// The canvas size most flows paint on.
const SMALL_CANVAS: [u32; 2] = [512, 384];

fn small_canvas(sandbox: &Sandbox) -> pentimento::AppOptions {
    pentimento::AppOptions {
        document_size: SMALL_CANVAS,
        ..sandbox.options()
    }
}

/// The window on a small canvas, after its first frame.
fn small_window(sandbox: &Sandbox) -> Harness<'static, PentimentoApp> {
    let mut harness = window(small_canvas(sandbox));
    harness.run();
    harness
}

/// A hard mask brush `size` px wide.
fn hard_mask(harness: &mut Harness<'static, PentimentoApp>, size: f32) {
    let mask = &mut harness.state_mut().settings_mut().tools.mask;
    mask.size = size;
    mask.hardness = 1.0;
}

/// A hard 20 px brush of `color`.
fn hard_brush(harness: &mut Harness<'static, PentimentoApp>, color: [u8; 3]) {
    let brush = &mut harness.state_mut().settings_mut().tools.brush;
    brush.color = color;
    brush.size = 20.0;
    brush.hardness = 1.0;
}

#[test]
fn the_move_tool_drags_the_layer_and_undoes() {
    let sandbox = Sandbox::new();
    let mut harness = small_window(&sandbox);
    hard_brush(&mut harness, [30, 90, 200]);
    drag_through(&mut harness, &line((100.0, 200.0), (400.0, 200.0), 12.0));
    let width = harness.state().document().width();
    let painted = composite(harness.state().document()).0;

    harness.key_press(Key::V);
    harness.run();
    assert_eq!(
        harness.state().settings().tools.tool,
        pentimento::tools::Tool::Move
    );
    harness.get_by_label_contains("Drag to move the selected layer");
    // Grab the stroke and drag it 40 right and 30 down.
    drag_through(&mut harness, &line((250.0, 200.0), (290.0, 230.0), 5.0));
    let document = harness.state().document();
    assert!(!document.is_moving(), "the move ends with the drag");
    let (moved, provenance) = composite(document);
    assert_eq!(pixel(&moved, width, 290, 230), [30, 90, 200, 255]);
    assert_eq!(pixel(&moved, width, 420, 230), [30, 90, 200, 255]);
    assert_eq!(pixel(&moved, width, 120, 200), [0, 0, 0, 0], "where it was");
    assert_eq!(provenance[(230 * width + 290) as usize], Provenance::Hand);
    for y in (0..384).step_by(3) {
        for x in (0..512).step_by(3) {
            let before = (x as i64 - 40, y as i64 - 30);
            let expected = if before.0 >= 0 && before.1 >= 0 {
                pixel(&painted, width, before.0 as u32, before.1 as u32)
            } else {
                [0, 0, 0, 0]
            };
            assert_eq!(pixel(&moved, width, x, y), expected, "({x}, {y})");
        }
    }

    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(composite(harness.state().document()).0, painted, "undo");

    // Dragged past the edge, the cut-off part is announced, and undo brings it back.
    drag_through(&mut harness, &line((250.0, 200.0), (400.0, 200.0), 10.0));
    harness.get_by_label_contains("went past the canvas edge");
    assert_ne!(composite(harness.state().document()).0, painted);
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(composite(harness.state().document()).0, painted, "undo");
}

#[test]
fn a_brush_stroke_paints_the_active_layer_and_undoes() {
    let sandbox = Sandbox::new();
    let mut harness = small_window(&sandbox);
    hard_brush(&mut harness, [200, 40, 30]);
    click(&mut harness, "Brush");
    let layer = harness.state().active_layer().expect("a layer");
    // The layer panel's thumbnail (64 × 48 for this 512 × 384 canvas), premultiplied.
    let thumbnail = |harness: &Harness<'static, PentimentoApp>| {
        let thumbnail = harness.state().layer_thumbnail(layer).expect("drawn");
        assert_eq!((thumbnail.width, thumbnail.height), (64, 48));
        thumbnail.pixels.clone()
    };
    let at_stroke = |pixels: &[u8]| pixel(pixels, 64, 31, 25);
    assert!(thumbnail(&harness).iter().all(|&value| value == 0));

    drag_through(&mut harness, &line((100.0, 200.0), (400.0, 200.0), 12.0));
    assert_eq!(
        at_stroke(&thumbnail(&harness)),
        [200, 40, 30, 255],
        "the thumbnail shows the stroke"
    );

    let document = harness.state().document();
    let (rgba, provenance) = composite(document);
    let width = document.width();
    assert_eq!(
        pixel(&rgba, width, 250, 200),
        [200, 40, 30, 255],
        "the middle of the stroke has the brush colour"
    );
    assert_eq!(
        pixel(&rgba, width, 250, 150),
        [0, 0, 0, 0],
        "away from it nothing changed"
    );
    assert_eq!(
        pixel(&rgba, width, 60, 200),
        [0, 0, 0, 0],
        "before its start nothing changed"
    );
    assert_eq!(provenance[(200 * width + 250) as usize], Provenance::Hand);
    assert!(document.has_unsaved_changes());
    harness.get_by_label("unsaved changes");

    press(&mut harness, Modifiers::COMMAND, Key::Z);
    let (rgba, _) = composite(harness.state().document());
    assert!(
        rgba.iter().all(|&value| value == 0),
        "undo removes the stroke"
    );
    assert!(
        thumbnail(&harness).iter().all(|&value| value == 0),
        "and its thumbnail"
    );

    press(&mut harness, Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    let (rgba, _) = composite(harness.state().document());
    assert_eq!(
        pixel(&rgba, width, 250, 200),
        [200, 40, 30, 255],
        "redo brings it back"
    );
    assert_eq!(at_stroke(&thumbnail(&harness)), [200, 40, 30, 255]);

    // Tool keys and brush size keys.
    harness.key_press(Key::E);
    harness.run();
    assert_eq!(
        harness.state().settings().tools.tool,
        pentimento::tools::Tool::Eraser
    );
    let size = harness.state().settings().tools.eraser.size;
    harness.key_press(Key::CloseBracket);
    harness.run();
    assert!(
        harness.state().settings().tools.eraser.size > size,
        "] grows the brush"
    );
    drag_through(&mut harness, &line((250.0, 170.0), (250.0, 230.0), 6.0));
    let (rgba, _) = composite(harness.state().document());
    assert_eq!(
        pixel(&rgba, width, 250, 200)[3],
        0,
        "the eraser cleared the middle"
    );
    assert_eq!(
        pixel(&rgba, width, 150, 200),
        [200, 40, 30, 255],
        "and only the middle"
    );
}

#[test]
fn undo_and_redo_keep_a_layer_for_strokes_to_go_to() {
    let sandbox = Sandbox::new();
    let mut harness = small_window(&sandbox);
    hard_brush(&mut harness, [40, 160, 60]);
    let first = harness.state().active_layer().expect("a layer");
    click(&mut harness, "New layer");
    let added = harness.state().active_layer().expect("the new layer");
    assert_ne!(added, first);

    // Undoing the new layer hands strokes back to the layer below it, and one paints it.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(harness.state().document().layers().len(), 1);
    assert_eq!(harness.state().active_layer(), Some(first));
    drag_through(&mut harness, &line((100.0, 200.0), (400.0, 200.0), 12.0));
    assert!(
        harness
            .query_by_label_contains("no longer exists")
            .is_none(),
        "the stroke found its layer"
    );
    let document = harness.state().document();
    let width = document.width();
    assert_eq!(
        pixel(&composite(document).0, width, 250, 200),
        [40, 160, 60, 255]
    );

    // The stroke ended the redo branch; undo it, then the layer that an undone delete brings
    // back is the one strokes go to again.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    click(&mut harness, "New layer");
    let second = harness.state().active_layer().expect("the new layer");
    click(&mut harness, "Delete");
    assert_eq!(harness.state().active_layer(), Some(first), "after delete");
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(harness.state().document().layers().len(), 2);
    assert_eq!(
        harness.state().active_layer(),
        Some(second),
        "undone delete"
    );
    // Undo the add as well, and redo it: the layer comes back and is the one strokes go to.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(harness.state().active_layer(), Some(first), "undone add");
    press(&mut harness, Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    assert_eq!(harness.state().active_layer(), Some(second), "redone add");
}

#[test]
fn inpainting_adds_a_layer_and_never_touches_the_artists_pixels() {
    let sandbox = Sandbox::new();
    let saved = sandbox.path("flow.ora");
    let mut harness = window(sandbox.with_model("tiny-sd-inpaint", SMALL_CANVAS));
    fix_generation(&mut harness, 4, 3, 7);
    {
        let brush = &mut harness.state_mut().settings_mut().tools.brush;
        brush.color = [20, 90, 200];
        brush.size = 30.0;
    }
    hard_mask(&mut harness, 40.0);
    wait_for_model(&mut harness);

    // The artist's drawing: a line across the canvas.
    click(&mut harness, "Brush");
    drag_through(&mut harness, &line((40.0, 190.0), (470.0, 190.0), 10.0));
    let painted_before = harness.state().document().layers()[0]
        .pixels()
        .read_rect(&harness.state().document().bounds());
    let (before, provenance_before) = composite(harness.state().document());

    // A mask over the middle of the line.
    click(&mut harness, "Mask brush");
    drag_through(&mut harness, &line((200.0, 160.0), (300.0, 220.0), 8.0));
    let document = harness.state().document();
    let mask = document.mask().read_rect(&document.bounds());
    assert!(mask.contains(&255), "the mask was painted");
    assert!(
        mask.iter().filter(|&&value| value == 0).count() > mask.len() / 2,
        "most of the canvas is outside the mask"
    );

    click(&mut harness, "Describe what to paint");
    harness
        .get_by_label("Describe what to paint")
        .type_text("a red flower");
    harness.run();
    generate_and_wait(&mut harness);
    let staging = harness
        .state()
        .generation
        .staging
        .as_ref()
        .expect("variations are staged");
    assert_eq!(
        staging.variations.len(),
        3,
        "notices: {:?}",
        harness.state().notices()
    );
    for seed in [7, 8, 9] {
        harness.get_by_label(&format!("seed {seed}"));
    }
    assert_eq!(
        harness.state().document().layers().len(),
        1,
        "nothing is added before the artist accepts"
    );
    harness.snapshot_options("staged_variations", &snapshot_options());

    // Compare with the arrow keys, accept the second.
    harness.key_press(Key::ArrowRight);
    harness.run();
    let selected = harness
        .state()
        .generation
        .staging
        .as_ref()
        .map(|s| s.selected);
    assert_eq!(
        selected,
        Some(0),
        "Right wraps from the last variation to the first"
    );
    harness.key_press(Key::ArrowRight);
    harness.run();
    click(&mut harness, "Accept");

    let document = harness.state().document();
    assert_eq!(document.layers().len(), 2, "accepting adds one layer");
    let generated = &document.layers()[1];
    let LayerContent::Generative(generative) = &generated.content else {
        panic!("the new layer is a generative layer");
    };
    assert_eq!(generative.generation, document.generation_log[0].id);
    let record = &document.generation_log[0];
    assert_eq!(record.prompt, "a red flower");
    assert_eq!(record.seeds, vec![7, 8, 9]);
    assert_eq!(record.accepted, vec![1]);
    assert_eq!(record.mode, "inpaint");
    assert_eq!(record.outcome, "finished");
    assert!(
        record
            .model_files
            .iter()
            .any(|(file, hash)| file.contains("unet") && hash.len() == 64)
    );
    assert_eq!(
        document.layers()[0].pixels().read_rect(&document.bounds()),
        painted_before,
        "the painted layer is untouched"
    );
    let (after, provenance_after) = composite(document);
    let rendered = generated.pixels().read_rect(&document.bounds());
    let mut changed_inside = 0;
    for index in 0..mask.len() {
        let generated_alpha = rendered[index * 4 + 3];
        if mask[index] == 0 {
            assert_eq!(
                after[index * 4..index * 4 + 4],
                before[index * 4..index * 4 + 4],
                "pixel {index} outside the mask changed"
            );
            assert_eq!(provenance_after[index], provenance_before[index]);
            assert_eq!(generated_alpha, 0);
        } else {
            changed_inside +=
                usize::from(after[index * 4..index * 4 + 4] != before[index * 4..index * 4 + 4]);
        }
        let expected = if generated_alpha > 0 {
            Provenance::Generated
        } else {
            provenance_before[index]
        };
        assert_eq!(
            provenance_after[index], expected,
            "provenance of pixel {index}"
        );
    }
    assert!(
        changed_inside > 1000,
        "the generation shows inside the mask ({changed_inside} px)"
    );

    // The layer keeps the generation's other variations: Next shows the third without
    // generating again, only inside the mask, and one undo brings the accepted one back.
    assert_eq!(generative.variations.len(), 3);
    assert_eq!(generative.selected, 1);
    harness.get_by_label("2 of 3");
    click(&mut harness, "Next");
    let document = harness.state().document();
    assert_eq!(document.generation_log.len(), 1, "no new generation");
    assert_eq!(document.layers()[1].properties.name, "Gen 1 · seed 9");
    assert_eq!(document.generation_log[0].accepted, vec![1, 2]);
    let (third, third_provenance) = composite(document);
    assert_ne!(third, after, "another variation shows");
    for index in (0..mask.len()).filter(|&index| mask[index] == 0) {
        assert_eq!(
            third[index * 4..index * 4 + 4],
            before[index * 4..index * 4 + 4]
        );
        assert_eq!(third_provenance[index], provenance_before[index]);
    }
    harness.get_by_label("3 of 3");
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    let document = harness.state().document();
    assert_eq!(
        composite(document).0,
        after,
        "undo shows the accepted one again"
    );
    assert_eq!(document.layers()[1].properties.name, "Gen 1 · seed 8");

    // Feather the edge: the composite changes, nothing is generated again.
    let jobs = harness.state().document().generation_log.len();
    let feather = harness
        .get_by_role_and_label(egui::accesskit::Role::Slider, "Feather")
        .rect();
    harness.hover_at(feather.left_center() + egui::vec2(4.0, 0.0));
    harness.step();
    harness.drag_at(feather.left_center() + egui::vec2(4.0, 0.0));
    harness.step();
    harness.hover_at(feather.center());
    harness.step();
    harness.drop_at(feather.center());
    harness.run();
    let document = harness.state().document();
    let LayerContent::Generative(generative) = &document.layers()[1].content else {
        panic!("still generative");
    };
    assert!(
        generative.params.feather > 4.0,
        "feather is {}",
        generative.params.feather
    );
    assert_eq!(document.generation_log.len(), jobs, "no new generation");
    assert!(!harness.state().generation.is_running());
    let (feathered, _) = composite(document);
    assert_ne!(feathered, after, "feathering changes the composite");
    for index in 0..mask.len() {
        if painted_before[index * 4 + 3] > 0 && mask[index] == 0 {
            // Far from the mask (beyond the feather radius) nothing changes.
            let (x, y) = (
                index as u32 % document.width(),
                index as u32 / document.width(),
            );
            if !(150..=350).contains(&x) || !(110..=270).contains(&y) {
                assert_eq!(
                    feathered[index * 4..index * 4 + 4],
                    before[index * 4..index * 4 + 4]
                );
            }
        }
    }

    // Colour match is live too: Local corrects the generation where it meets the artist's
    // pixels, at once and without a new job, nothing outside where the layer shows changes,
    // and one undo takes it back.
    click(&mut harness, "Local");
    let document = harness.state().document();
    let LayerContent::Generative(generative) = &document.layers()[1].content else {
        panic!("still generative");
    };
    assert!(
        generative.can_match_colour(),
        "the layer kept what it was generated over"
    );
    assert_eq!(
        generative.params.color.mode,
        pentimento::document::color_match::ColorMatchMode::Local
    );
    assert_eq!(document.generation_log.len(), jobs, "no new generation");
    assert!(!harness.state().generation.is_running());
    let (matched, _) = composite(document);
    assert_ne!(matched, feathered, "the colours change");
    let shown = generative.rendered().read_rect(&document.bounds());
    for index in 0..mask.len() {
        if shown[index * 4 + 3] == 0 {
            assert_eq!(
                matched[index * 4..index * 4 + 4],
                feathered[index * 4..index * 4 + 4],
                "pixel {index}, where the layer does not show"
            );
        }
    }
    harness.get_by_role_and_label(egui::accesskit::Role::Slider, "Match strength");
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(
        composite(harness.state().document()).0,
        feathered,
        "undo takes the colour match back"
    );

    // The provenance overlay and the layer's panel, as the artist sees them.
    click(&mut harness, "Provenance");
    click(&mut harness, "Show on the canvas");
    harness.get_by_label("How it was made");
    harness.snapshot_options("generative_layer_with_provenance", &snapshot_options());
    click(&mut harness, "Show on the canvas");
    // The log window lists the generation with what it needs to be reproduced and proved.
    click(&mut harness, "Show log");
    harness.get_by_label("Generation log");
    harness.get_by_label_contains("Generation 1 · ");
    harness.get_by_label("Seeds: 7, 8 (taken in), 9 (taken in)");
    harness.get_by_label_contains("inpaint · tiny-sd-inpaint · 4 steps");
    click(&mut harness, "Close");
    assert!(harness.state().modal().is_none());

    // How the layer was made names its seed, whatever the layer is called.
    click(&mut harness, "How it was made");
    harness.get_by_label("Prompt: a red flower");
    harness.get_by_label("Seed: 8");
    click(&mut harness, "How it was made");

    // Undo the feather, the accept and the mask; redo them.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(
        composite(harness.state().document()).0,
        after,
        "undo restores the sharp edge"
    );
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(
        harness.state().document().layers().len(),
        1,
        "undo removes the accepted layer"
    );
    assert_eq!(composite(harness.state().document()).0, before);
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert!(
        harness.state().document().mask().is_empty(),
        "undo removes the mask stroke"
    );
    for _ in 0..3 {
        press(&mut harness, Modifiers::COMMAND, Key::Y);
    }
    let (redone, provenance_redone) = composite(harness.state().document());
    assert_eq!(redone, feathered, "redo brings back layer and feather");
    assert_eq!(harness.state().document().layers().len(), 2);

    // Save, reopen, compare everything.
    sandbox
        .dialogs
        .answer(DialogKind::SaveProject, Some(saved.clone()));
    press(&mut harness, Modifiers::COMMAND, Key::S);
    assert!(
        saved.is_file(),
        "Ctrl+S asked where and saved: {:?}",
        harness.state().notices()
    );
    assert!(!harness.state().document().has_unsaved_changes());
    let original = harness.state().document().snapshot();
    harness.state_mut().document_mut().clear_mask();
    harness.state_mut().document_mut().mark_saved();
    open_with_shortcut(&mut harness, &sandbox, saved.clone());
    let reopened = harness.state().document();
    assert_eq!(harness.state().document_path(), Some(saved.as_path()));
    pentimento_tests::assert_same_document(reopened, &original);
    let (reopened_rgba, reopened_provenance) = composite(reopened);
    assert_eq!(reopened_rgba, redone);
    assert_eq!(reopened_provenance, provenance_redone);
    assert_eq!(
        ora::saved_provenance(&saved).expect("provenance map"),
        provenance_redone
    );
}

#[test]
fn a_remembered_model_loads_on_generate_and_cancelling_keeps_the_document() {
    let sandbox = Sandbox::new();
    // The model folder of an earlier session: it is not loaded until a generation needs it.
    let folders = sandbox.folders();
    let settings = pentimento::settings::Settings {
        model_folder: Some(fixture_model("tiny-sd-inpaint")),
        ..pentimento::settings::Settings::default()
    };
    settings.save(&folders.settings_file()).expect("settings");
    let mut harness = window(pentimento::AppOptions {
        runtime: Some(LocateOptions::default()),
        ..small_canvas(&sandbox)
    });
    harness.run_steps(2);
    assert!(
        matches!(
            harness.state().model,
            pentimento::app::ModelState::Remembered(_)
        ),
        "{:?}",
        harness.state().model
    );
    harness.get_by_label("Loads when you generate.");
    {
        let settings = harness.state_mut().settings_mut();
        settings.generation.steps = 150;
        settings.generation.count = 2;
        settings.generation.mode = pentimento::region::ModeChoice::TextToImage;
    }
    harness.get_by_label("Generate").click();
    harness.step();
    assert!(
        matches!(
            harness.state().model,
            pentimento::app::ModelState::Loading { .. }
        ),
        "Generate loads the model first"
    );
    run_until(
        &mut harness,
        "the first steps",
        Duration::from_secs(120),
        |app| {
            app.generation
                .running
                .as_ref()
                .is_some_and(|running| running.progress.2 >= 2)
        },
    );
    // The canvas stays paintable while the model works.
    harness.state_mut().settings_mut().tools.brush.color = [250, 200, 0];
    drag_through(&mut harness, &line((100.0, 300.0), (300.0, 300.0), 10.0));
    assert!(harness.state().generation.is_running(), "still generating");
    let (rgba, _) = composite(harness.state().document());
    let width = harness.state().document().width();
    assert_eq!(
        pixel(&rgba, width, 200, 300),
        [250, 200, 0, 255],
        "painted meanwhile"
    );

    harness.get_by_label("Cancel");
    harness.key_press(Key::Escape);
    run_until(
        &mut harness,
        "the job to stop",
        Duration::from_secs(60),
        |app| !app.generation.is_running(),
    );
    let document = harness.state().document();
    let record = document
        .generation_log
        .last()
        .expect("logged even when cancelled");
    assert_eq!(record.outcome, "cancelled");
    assert!(
        record.seeds.is_empty(),
        "no variation finished: {:?}",
        record.seeds
    );
    assert_eq!(document.layers().len(), 1);
    let (rgba, _) = composite(document);
    assert_eq!(
        pixel(&rgba, width, 200, 300),
        [250, 200, 0, 255],
        "the stroke is kept"
    );
    assert!(!harness.state().generation.has_staging());
    // The app can generate again right away.
    assert!(
        !harness
            .get_by_label("Generate")
            .accesskit_node()
            .is_disabled()
    );
}

#[test]
fn content_aware_fill_works_with_no_model_and_is_its_own_class() {
    let sandbox = Sandbox::new();
    let mut harness = small_window(&sandbox);
    hard_mask(&mut harness, 40.0);
    // A texture of strokes, then a mask over part of it.
    hard_brush(&mut harness, [200, 60, 40]);
    click(&mut harness, "Brush");
    for row in 0..6 {
        let y = 120.0 + row as f32 * 30.0;
        drag_through(&mut harness, &line((60.0, y), (450.0, y + 20.0), 8.0));
    }
    let (before, _) = composite(harness.state().document());
    click(&mut harness, "Mask brush");
    drag_through(&mut harness, &line((230.0, 180.0), (280.0, 200.0), 6.0));
    let mask = {
        let document = harness.state().document();
        document.mask().read_rect(&document.bounds())
    };
    assert!(mask.contains(&255));

    click_menu(&mut harness, "Edit", "Content-aware fill");
    // It runs on its own thread; the window stays live meanwhile.
    run_until(&mut harness, "the fill", Duration::from_secs(120), |app| {
        app.document().layers().len() == 2
    });
    let document = harness.state().document();
    assert_eq!(document.layers().len(), 2, "a new layer, over the artist's");
    let top = &document.layers()[1];
    assert_eq!(
        top.generative_origin(),
        Some(pentimento::document::generative::Origin::Fill)
    );
    let record = document.generation_log.last().expect("logged");
    assert_eq!(record.mode, "fill");
    assert_eq!(record.model, pentimento::region::FILL_METHOD);
    assert!(record.model_files.is_empty(), "no model");
    let (after, provenance) = composite(document);
    for (index, &value) in mask.iter().enumerate() {
        if value == 0 {
            assert_eq!(
                after[index * 4..index * 4 + 4],
                before[index * 4..index * 4 + 4],
                "pixel {index} outside the mask"
            );
            assert_ne!(provenance[index], Provenance::Filled);
        } else {
            assert_eq!(provenance[index], Provenance::Filled, "pixel {index}");
        }
    }
    assert!(
        !provenance.contains(&Provenance::Generated),
        "filled is not generated"
    );
    // One undo takes it away.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(harness.state().document().layers().len(), 1);
}

#[test]
fn the_variation_brush_paints_which_variation_shows_and_undoes() {
    let sandbox = Sandbox::new();
    let mut harness = window(sandbox.with_model("tiny-sd-inpaint", SMALL_CANVAS));
    fix_generation(&mut harness, 2, 2, 3);
    hard_mask(&mut harness, 60.0);
    {
        let variation = &mut harness.state_mut().settings_mut().tools.variation;
        variation.size = 24.0;
        variation.hardness = 1.0;
    }
    wait_for_model(&mut harness);
    click(&mut harness, "Mask brush");
    drag_through(&mut harness, &line((150.0, 190.0), (350.0, 190.0), 8.0));
    generate_and_wait(&mut harness);
    click(&mut harness, "Accept");
    let (accepted, provenance_accepted) = composite(harness.state().document());
    let base = {
        let document = harness.state().document();
        let LayerContent::Generative(generative) = &document.layers()[1].content else {
            panic!("the accepted generation is a generative layer");
        };
        assert_eq!(generative.variations.len(), 2);
        generative.selected
    };
    let other = 1 - base;

    // The brush offers the layer's variations; paint the other one along the mask.
    click(&mut harness, "Variation brush");
    harness.get_by_label_contains("Paint a variation of");
    click(&mut harness, &(other + 1).to_string());
    let jobs = harness.state().document().generation_log.len();
    drag_through(&mut harness, &line((180.0, 190.0), (320.0, 190.0), 6.0));
    let document = harness.state().document();
    assert_eq!(document.generation_log.len(), jobs, "nothing is generated");
    assert!(!harness.state().generation.is_running());
    let LayerContent::Generative(generative) = &document.layers()[1].content else {
        panic!("still generative");
    };
    let region = generative.region;
    let (painted, provenance) = composite(document);
    let width = document.width();
    let (mut other_shown, mut base_shown) = (0, 0);
    for y in region.y0..region.y1 {
        for x in region.x0..region.x1 {
            let index = (y * width + x) as usize;
            let raw = |variation: usize| {
                let at = ((y - region.y0) * region.width() + (x - region.x0)) as usize * 3;
                generative.variations[variation][at..at + 3].to_vec()
            };
            let shown_alpha = generative.rendered().pixel(x, y)[3];
            if shown_alpha != 255 {
                continue;
            }
            if generative.variation_weight(other, x, y) == 255 {
                assert_eq!(painted[index * 4..index * 4 + 3], raw(other), "({x}, {y})");
                other_shown += 1;
            } else if generative.variation_weight(base, x, y) == 255 {
                assert_eq!(painted[index * 4..index * 4 + 3], raw(base), "({x}, {y})");
                base_shown += 1;
            }
        }
    }
    assert!(
        other_shown > 1000 && base_shown > 1000,
        "both variations show: {other_shown} and {base_shown} px"
    );
    assert_eq!(
        provenance, provenance_accepted,
        "still generated, pixel for pixel"
    );
    // The log says which variation shows where.
    click(&mut harness, "Provenance");
    click(&mut harness, "Show log");
    harness.get_by_label_contains(&format!("variation {} (seed", other + 1));
    click(&mut harness, "Close");

    // One undo takes the stroke back.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(composite(harness.state().document()).0, accepted);
    press(&mut harness, Modifiers::COMMAND, Key::Y);
    assert_eq!(composite(harness.state().document()).0, painted);
}

#[test]
fn canvas_size_grows_the_canvas_then_a_generation_paints_the_new_area() {
    let sandbox = Sandbox::new();
    let mut harness = window(sandbox.with_model("tiny-sd-inpaint", [256, 192]));
    {
        let settings = harness.state_mut().settings_mut();
        settings.generation.steps = 2;
        settings.generation.count = 1;
    }
    wait_for_model(&mut harness);
    hard_brush(&mut harness, [200, 60, 40]);
    click(&mut harness, "Brush");
    drag_through(&mut harness, &line((20.0, 90.0), (236.0, 110.0), 8.0));
    let (before, _) = composite(harness.state().document());
    assert!(
        before.chunks_exact(4).any(|pixel| pixel[3] == 255),
        "painted"
    );

    click_menu(&mut harness, "Edit", "Canvas size…");
    harness.get_by_label("Canvas size");
    click(&mut harness, "Anchor left");
    click(&mut harness, "+64");
    harness.get_by_label_contains("Adds 64 px on the top, 64 px on the right, 64 px on the bottom");
    click(&mut harness, "Grow canvas");
    let document = harness.state().document();
    assert_eq!((document.width(), document.height()), (320, 320));
    let picture = pentimento::document::tiles::PixelRect::new(0, 64, 256, 192);
    assert_eq!(
        document.composite(&picture).0,
        before,
        "the picture moved whole"
    );
    // The new area is masked, 32 px into the picture beside it.
    assert_eq!(document.mask().pixel(319, 100)[0], 255);
    assert_eq!(document.mask().pixel(230, 100)[0], 255);
    assert_eq!(document.mask().pixel(200, 150)[0], 0);
    assert_eq!(
        document.mask().pixel(0, 150)[0],
        0,
        "nothing added on the left"
    );

    generate_and_wait(&mut harness);
    click(&mut harness, "Accept");
    let document = harness.state().document();
    assert_eq!(document.layers().len(), 2);
    assert_eq!(document.generation_log[0].mode, "inpaint");
    let (after, provenance) = composite(document);
    for y in 0..320 {
        for x in 0..320 {
            let index = (y * 320 + x) as usize;
            let in_picture = picture.contains(x, y);
            if !in_picture {
                assert_eq!(provenance[index], Provenance::Generated, "({x}, {y})");
                assert_eq!(after[index * 4 + 3], 255, "({x}, {y}) is painted");
            } else if document.mask().pixel(x, y)[0] == 0 {
                let old = ((y - 64) * 256 + x) as usize * 4;
                assert_eq!(
                    after[index * 4..index * 4 + 4],
                    before[old..old + 4],
                    "({x}, {y})"
                );
            }
        }
    }
    // Undo the accept and the growth: the canvas is as it was.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    let document = harness.state().document();
    assert_eq!((document.width(), document.height()), (256, 192));
    assert_eq!(composite(document).0, before);
    assert!(document.mask().is_empty());
}

#[test]
fn guidance_truncation_is_opt_in_and_labelled_in_the_log() {
    let sandbox = Sandbox::new();
    let mut harness = window(sandbox.with_model("tiny-sd", SMALL_CANVAS));
    fix_generation(&mut harness, 5, 1, 3);
    wait_for_model(&mut harness);
    click(&mut harness, "Describe what to paint");
    harness
        .get_by_label("Describe what to paint")
        .type_text("a red apple");
    harness.run();
    // Off until the artist asks for it: the first generation is exact.
    assert_eq!(harness.query_all_by_label("Guided share").count(), 0);
    let exact = generate_and_wait(&mut harness);
    assert_eq!(exact.guidance_cutoff, None);
    click(&mut harness, "Discard");

    harness
        .get_by_label("Faster last steps (not exact)")
        .click();
    harness.run();
    assert!(
        harness.query_all_by_label("Guided share").count() >= 1,
        "the share shows once it is on"
    );
    let truncated = generate_and_wait(&mut harness);
    assert_eq!(truncated.guidance_cutoff, Some(0.4));
    click(&mut harness, "Accept");
    click(&mut harness, "Provenance");
    click(&mut harness, "Show log");
    harness.get_by_label_contains("Guidance truncated: the prompt alone after 40 % of the steps");
}
