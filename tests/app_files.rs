//! Files through the real app: opening images as documents and as layers (menu, shortcut, drag
//! and drop), damaged files explained without losing the open work, PNG export, asking before
//! closing with unsaved changes, recovering the autosave of a session that was killed, and the
//! prompt and settings kept across sessions even when the settings file is damaged; and
//! Pentimento's own file dialog, shown where the desktop cannot show the system's (no
//! xdg-desktop-portal file chooser, no zenity): a project saved through it, saved again over
//! itself after the question, and opened again, and a model folder added through it.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use pentimento::PentimentoApp;
use pentimento::app::Modal;
use pentimento::dialogs::{DialogAnswer, DialogKind};
use pentimento::document::compositor::unpremultiply;
use pentimento::settings::FileDialogChoice;
use pentimento_tests::{
    Sandbox, click, click_menu, discard_changes, open_with_shortcut, press, window as start,
};

/// A window living in `sandbox`, after its first frames.
fn started(sandbox: &Sandbox) -> Harness<'static, PentimentoApp> {
    let mut harness = start(sandbox.options());
    harness.run();
    harness
}

/// A 200×100 window whose document has one change not saved yet: a new layer named "Ink".
fn window_with_a_change(sandbox: &Sandbox) -> Harness<'static, PentimentoApp> {
    let mut harness = start(pentimento::AppOptions {
        document_size: [200, 100],
        ..sandbox.options()
    });
    harness.run();
    harness
        .state_mut()
        .document_mut()
        .add_paint_layer("Ink", None);
    harness
}

/// A straight-alpha test image with distinct pixels.
fn write_image(path: &Path, width: u32, height: u32, seed: u8) -> Vec<u8> {
    let rgba: Vec<u8> = (0..width * height)
        .flat_map(|index| {
            let (x, y) = (index % width, index / width);
            [
                (x * 4) as u8,
                (y * 5) as u8,
                seed.wrapping_mul(37),
                if x < 4 { 0 } else { 255 },
            ]
        })
        .collect();
    // Transparent pixels are stored as zero, as the app keeps them.
    let rgba: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|pixel| {
            if pixel[3] == 0 {
                [0; 4]
            } else {
                [pixel[0], pixel[1], pixel[2], pixel[3]]
            }
        })
        .collect();
    pentimento::io::write_rgba_png(path, width, height, &rgba, &[]).expect("write test image");
    rgba
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|err| err.to_string())
    }
}

#[test]
fn images_open_as_documents_and_layers_and_damaged_files_change_nothing() {
    let sandbox = Sandbox::new();
    let sketch = sandbox.path("sketch.png");
    let sketch_pixels = write_image(&sketch, 96, 64, 1);
    let texture = sandbox.path("texture.png");
    let texture_pixels = write_image(&texture, 40, 30, 2);
    let damaged = sandbox.path("damaged.png");
    std::fs::write(&damaged, b"\x89PNG\r\n\x1a\nthis is not really a png").expect("write");

    let mut harness = started(&sandbox);

    // Ctrl+O on an untouched canvas opens the image as the document.
    open_with_shortcut(&mut harness, &sandbox, sketch.clone());
    let document = harness.state().document();
    assert_eq!((document.width(), document.height()), (96, 64));
    assert_eq!(document.layers().len(), 1);
    assert_eq!(document.layers()[0].properties.name, "sketch");
    assert_eq!(
        document.layers()[0].pixels().read_rect(&document.bounds()),
        sketch_pixels
    );
    assert!(
        !document.has_unsaved_changes(),
        "an opened image starts saved"
    );
    harness.get_by_label("96 × 64 px");
    let opened = document.layers()[0].id;
    let thumbnail = harness
        .state()
        .layer_thumbnail(opened)
        .expect("the layer panel shows it");
    assert_eq!((thumbnail.width, thumbnail.height), (64, 42));
    assert!(
        thumbnail.pixels.iter().any(|&value| value != 0),
        "the thumbnail shows the opened image, not the blank canvas before it"
    );

    // Dropping an image on a document adds it as a layer on top, at the top left.
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(texture.clone())));
    harness.run();
    let document = harness.state().document();
    assert_eq!(
        document.layers().len(),
        2,
        "notices: {:?}",
        harness.state().notices()
    );
    let layer = &document.layers()[1];
    assert_eq!(layer.properties.name, "texture");
    let corner = pentimento::document::tiles::PixelRect::new(0, 0, 40, 30);
    assert_eq!(layer.pixels().read_rect(&corner), texture_pixels);
    assert!(document.has_unsaved_changes());

    // "Add image as layer…" refuses a damaged file with a sentence; nothing changes.
    sandbox
        .dialogs
        .answer(DialogKind::OpenImage, Some(damaged.clone()));
    click_menu(&mut harness, "File", "Add image as layer…");
    assert_eq!(harness.state().document().layers().len(), 2);
    let notice = pentimento_tests::last_notice(&harness);
    assert!(
        notice.contains("not a readable PNG, JPEG or WebP image"),
        "{notice}"
    );
    assert!(notice.contains("damaged.png"), "names the file: {notice}");
    harness.get_by_label(notice.as_str());

    // Opening a damaged file over unsaved work: asked first, then refused; the work stays.
    open_with_shortcut(&mut harness, &sandbox, damaged);
    discard_changes(&mut harness);
    assert!(harness.state().modal().is_none());
    assert_eq!(
        harness.state().document().layers().len(),
        2,
        "the open work is untouched"
    );

    // Export… (PNG, Settings' choices) writes the flattened image with its provenance summary.
    let exported = sandbox.path("export.png");
    sandbox
        .dialogs
        .answer(DialogKind::ExportPng, Some(exported.clone()));
    click_menu(&mut harness, "File", "Export…");
    click(&mut harness, "Export…");
    let document = harness.state().document();
    let (composite, _) = document.composite(&document.bounds());
    let decoder = png::Decoder::new(BufReader::new(
        std::fs::File::open(&exported).expect("exported"),
    ));
    let mut reader = decoder.read_info().expect("png");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut pixels).expect("frame");
    assert_eq!(pixels, unpremultiply(&composite));
    let summary = reader
        .info()
        .utf8_text
        .iter()
        .find(|chunk| chunk.keyword == "pentimento:provenance")
        .and_then(|chunk| chunk.get_text().ok())
        .expect("provenance text chunk");
    assert!(summary.starts_with("100.0% painted by hand"), "{summary}");
    // And signed Content Credentials, with the identity made at this first export.
    let read = pentimento::credentials::verify_file(&exported, None).expect("credentials");
    assert_eq!(read.state, "Valid", "{:?}", read.statuses);
    assert_eq!(
        read.digital_source_type.as_deref(),
        Some(pentimento::credentials::source_type::DIGITAL_CREATION),
        "nothing generated shows"
    );
    assert!(sandbox.path("config/identity/local-root.pem").is_file());
}

/// Closes the window the way the window manager does.
fn request_close(harness: &mut Harness<'static, PentimentoApp>) {
    harness
        .input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    harness.run();
}

#[test]
fn closing_with_unsaved_changes_asks_first() {
    let sandbox = Sandbox::new();
    let project = sandbox.path("closing.ora");
    let mut harness = window_with_a_change(&sandbox);
    harness.run();

    request_close(&mut harness);
    assert_eq!(harness.state().modal(), Some(&Modal::ConfirmQuit));
    harness.get_by_label("Save changes before closing?");
    click(&mut harness, "Cancel");
    assert!(harness.state().modal().is_none(), "Cancel keeps working");
    assert_eq!(harness.state().document().layers().len(), 2);

    request_close(&mut harness);
    sandbox
        .dialogs
        .answer(DialogKind::SaveProject, Some(project.clone()));
    click(&mut harness, "Save");
    assert!(project.is_file(), "Save wrote the project before closing");
    let saved = pentimento::io::ora::open(&project).expect("reopens");
    assert_eq!(saved.layers()[1].properties.name, "Ink");
    assert!(
        !harness.state().autosave_file().exists(),
        "a clean close leaves no autosave to recover"
    );
}

#[test]
fn a_killed_session_is_recovered_from_its_autosave() {
    let sandbox = Sandbox::new();
    let folders = sandbox.folders();
    std::fs::create_dir_all(&folders.config).expect("config folder");
    std::fs::write(folders.settings_file(), r#"{ "autosave_seconds": 5 }"#).expect("settings");

    let mut child = Command::new(env!("CARGO_BIN_EXE_autosave_child"))
        .arg(sandbox.dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the session");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "autosaved", "the session autosaved");
    // Kill it as a crash would: no chance to clean up.
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success());

    let mut harness = started(&sandbox);
    assert!(matches!(harness.state().modal(), Some(Modal::Recover(_))));
    harness.get_by_label("Recover your work?");
    click(&mut harness, "Recover");
    let document = harness.state().document();
    assert_eq!((document.width(), document.height()), (320, 240));
    let (composite, _) = document.composite(&document.bounds());
    let index = (120 * 320 + 160) * 4;
    assert_eq!(
        &composite[index..index + 4],
        &[10, 120, 60, 255],
        "the stroke is back"
    );
    assert!(
        document.has_unsaved_changes(),
        "recovered work is marked unsaved until the artist saves it"
    );

    // The recovered work is autosaved again at once; ending this session without closing
    // (another crash) offers it again, and declining keeps the file aside, not deleted.
    harness.state_mut().autosave_now();
    drop(harness);
    let mut harness = started(&sandbox);
    assert!(matches!(harness.state().modal(), Some(Modal::Recover(_))));
    click(&mut harness, "Discard");
    assert!(harness.state().modal().is_none());
    assert_eq!(harness.state().document().width(), 1024, "a fresh canvas");
    let aside =
        pentimento_tests::listing::starting_with(&folders.autosave_dir(), "declined-autosave-");
    assert_eq!(aside.len(), 1, "the declined autosave is kept aside");
    let kept = pentimento::io::ora::open(&aside[0]).expect("the kept file opens");
    assert_eq!((kept.width(), kept.height()), (320, 240));
}

#[test]
fn the_prompt_is_remembered_and_damaged_settings_are_kept_and_explained() {
    let sandbox = Sandbox::new();
    let settings_file = sandbox.folders().settings_file();
    let type_into = |harness: &mut Harness<'static, PentimentoApp>, label: &str, text: &str| {
        click(harness, label);
        harness.get_by_label(label).type_text(text);
        harness.run();
    };
    let field = |harness: &Harness<'static, PentimentoApp>, label: &str| {
        harness.get_by_label(label).value().unwrap_or_default()
    };

    // An artist writes a prompt and closes the window.
    let mut harness = started(&sandbox);
    type_into(
        &mut harness,
        "Describe what to paint",
        "a lighthouse at dusk",
    );
    type_into(&mut harness, "Negative prompt", "fog");
    request_close(&mut harness);
    drop(harness);

    // The next session starts with it.
    let harness = started(&sandbox);
    assert_eq!(
        field(&harness, "Describe what to paint"),
        "a lighthouse at dusk"
    );
    assert_eq!(field(&harness, "Negative prompt"), "fog");
    drop(harness);

    // A hand edit breaks one value: only that value is reset, the rest is kept, the app says
    // so, and the damaged file stays on disk.
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&settings_file).expect("settings")).expect("json");
    saved["generation"]["steps"] = serde_json::json!("many");
    let damaged = serde_json::to_string_pretty(&saved).expect("json");
    std::fs::write(&settings_file, &damaged).expect("write");
    let mut harness = started(&sandbox);
    harness.get_by_label_contains("could not be read and were reset: generation.steps.");
    assert_eq!(
        field(&harness, "Describe what to paint"),
        "a lighthouse at dusk"
    );
    assert_eq!(
        harness.state().settings().generation.steps,
        pentimento::settings::GenerationSettings::default().steps
    );
    let kept: Vec<PathBuf> = pentimento_tests::listing::files_under(&sandbox.folders().config)
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("settings-unreadable-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read_to_string(&kept[0]).expect("read"), damaged);
    click(&mut harness, "Dismiss");
    assert!(
        harness
            .query_by_label_contains("could not be read")
            .is_none(),
        "the notice goes when dismissed"
    );
}

#[test]
fn two_windows_never_touch_each_others_autosave() {
    let sandbox = Sandbox::new();
    let mut first = window_with_a_change(&sandbox);
    first.state_mut().autosave_now();
    let first_file = first.state().autosave_file();
    assert!(first_file.is_file(), "the first window autosaved");

    // A second window beside it has nothing to recover: the first one is still running.
    let mut second = start(sandbox.options());
    second.run();
    assert!(
        second.state().modal().is_none(),
        "{:?}",
        second.state().modal()
    );
    assert_ne!(second.state().autosave_file(), first_file);
    // Closing the second window cleanly leaves the first one's autosave alone.
    request_close(&mut second);
    drop(second);
    assert!(
        first_file.is_file(),
        "the first window's autosave is still there"
    );

    // The first window ends without closing, as in a crash: the next window offers its work.
    drop(first);
    let mut third = start(sandbox.options());
    third.run();
    match third.state().modal() {
        Some(Modal::Recover(recovery)) => assert_eq!(recovery.path, first_file),
        other => panic!("expected the first window's autosave to be offered: {other:?}"),
    }
    click(&mut third, "Recover");
    let layers = third.state().document().layers();
    assert_eq!(layers.last().expect("a layer").properties.name, "Ink");
    assert_eq!(
        third.state().autosave_file(),
        first_file,
        "the recovering window keeps the autosave where it is until the work is saved"
    );
}

#[test]
fn several_crashed_windows_are_offered_one_after_another() {
    use pentimento::autosave::Autosave;

    let sandbox = Sandbox::new();
    let root = sandbox.folders().autosave_dir();
    // Two windows autosave different documents and end without cleaning up.
    for (version, pause) in [(0, true), (1, false)] {
        let mut window = Autosave::new(root.clone(), std::time::Duration::from_secs(30));
        let document = pentimento_tests::save_victim(version);
        window.tick(&document, None, true);
        window.wait();
        assert!(window.file().is_file(), "{:?}", window.error);
        drop(window);
        if pause {
            // Their modification times order them: the newest is offered first.
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let pending = Autosave::pending_recoveries(&root);
    assert_eq!(pending.len(), 2);

    let mut harness = started(&sandbox);
    let offered = |harness: &Harness<'static, PentimentoApp>| match harness.state().modal() {
        Some(Modal::Recover(recovery)) => recovery.path.clone(),
        other => panic!("expected a recovery question: {other:?}"),
    };
    assert_eq!(offered(&harness), pending[0].path);
    click(&mut harness, "Discard");
    assert_eq!(offered(&harness), pending[1].path, "then the other one");
    click(&mut harness, "Recover");
    assert!(harness.state().modal().is_none());
    let recovered = pentimento::io::ora::open(&pending[1].path).expect("opens");
    let document = harness.state().document();
    assert_eq!(document.layers().len(), recovered.layers().len());
    assert_eq!(
        document.composite(&document.bounds()).0,
        recovered.composite(&recovered.bounds()).0
    );
}

/// Types `text` into the field labelled `label` (replacing what it holds).
fn fill(harness: &mut Harness<'static, PentimentoApp>, label: &str, text: &str) {
    click(harness, label);
    harness.get_by_label(label).set_text_value_accesskit(text);
    harness.run();
}

fn pixels(app: &PentimentoApp) -> Vec<u8> {
    let document = app.document();
    document.composite(&document.bounds()).0
}

#[test]
fn without_system_dialogs_a_project_is_saved_and_reopened_through_the_own_dialog() {
    let sandbox = Sandbox::new();
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).expect("folder");
    let mut harness = start(pentimento::AppOptions {
        document_size: [64, 48],
        ..sandbox.options()
    });
    harness.run();
    let rgba: Vec<u8> = (0..64 * 48)
        .flat_map(|index: u32| [(index % 64 * 4) as u8, (index / 64 * 5) as u8, 90, 255])
        .collect();
    harness
        .state_mut()
        .document_mut()
        .import_layer("Sketch", 64, 48, &rgba, 0, 0);
    harness.run();
    let painted = pixels(harness.state());

    // The system's dialog cannot be shown: Ctrl+S opens Pentimento's own.
    sandbox
        .dialogs
        .queue(DialogKind::SaveProject, DialogAnswer::Unavailable);
    press(&mut harness, Modifiers::COMMAND, Key::S);
    let browser = harness
        .state()
        .file_browser()
        .expect("the own dialog opened");
    assert_eq!(browser.kind(), DialogKind::SaveProject);
    harness.get_by_label("Save project");
    assert_eq!(
        harness.get_by_label("File name").value().as_deref(),
        Some("untitled.ora"),
        "the suggested name"
    );

    // A typed location, then a name without its extension.
    fill(&mut harness, "Location", &work.display().to_string());
    click(&mut harness, "Go");
    assert_eq!(
        harness.state().file_browser().expect("still open").folder(),
        work
    );
    fill(&mut harness, "File name", "sketch");
    click(&mut harness, "Save");
    let project = work.join("sketch.ora");
    assert!(project.is_file(), "saved through the own dialog");
    assert!(harness.state().file_browser().is_none(), "and it closed");
    assert_eq!(harness.state().document_path(), Some(project.as_path()));
    assert!(!harness.state().document().has_unsaved_changes());

    // Save as over the same file: the dialog starts in the project's folder with its name and
    // asks before replacing it.
    sandbox
        .dialogs
        .queue(DialogKind::SaveProject, DialogAnswer::Unavailable);
    press(&mut harness, Modifiers::COMMAND | Modifiers::SHIFT, Key::S);
    assert_eq!(harness.state().file_browser().expect("open").folder(), work);
    let before = std::fs::metadata(&project).expect("saved").modified().ok();
    click(&mut harness, "Save");
    harness.get_by_label("sketch.ora already exists. Replace it?");
    click(&mut harness, "Replace");
    assert!(harness.state().file_browser().is_none());
    assert!(
        std::fs::metadata(&project)
            .expect("still there")
            .modified()
            .ok()
            >= before
    );

    // Change the document, then open the saved project through the own dialog.
    harness
        .state_mut()
        .document_mut()
        .add_paint_layer("Scribble", None);
    harness.run();
    sandbox
        .dialogs
        .queue(DialogKind::OpenFile, DialogAnswer::Unavailable);
    press(&mut harness, Modifiers::COMMAND, Key::O);
    assert_eq!(
        harness.state().file_browser().expect("open").folder(),
        work,
        "it starts where the last file was chosen"
    );
    click(&mut harness, "🗋 sketch.ora");
    click(&mut harness, "Open");
    discard_changes(&mut harness);
    let reopened = harness.state().document();
    assert_eq!(
        reopened
            .layers()
            .iter()
            .map(|layer| layer.properties.name.as_str())
            .collect::<Vec<_>>()
            .last(),
        Some(&"Sketch")
    );
    assert_eq!(
        pixels(harness.state()),
        painted,
        "the saved pixels came back"
    );
    assert_eq!(harness.state().document_path(), Some(project.as_path()));
}

#[test]
fn cancelling_the_own_dialog_changes_nothing_and_says_so() {
    let sandbox = Sandbox::new();
    let mut harness = started(&sandbox);
    harness.state_mut().settings_mut().file_dialogs = FileDialogChoice::Pentimento;
    press(&mut harness, Modifiers::COMMAND, Key::S);
    assert!(harness.state().file_browser().is_some());
    click(&mut harness, "Cancel");
    assert!(harness.state().file_browser().is_none());
    assert!(harness.state().document_path().is_none());
    assert!(
        harness
            .state()
            .notices()
            .iter()
            .any(|notice| notice.text == "Not saved: no file was chosen."),
        "{:?}",
        harness.state().notices()
    );
    assert!(
        sandbox.dialogs.asked().is_empty(),
        "with Pentimento's own dialogs chosen the system's are never asked"
    );
}

#[test]
fn a_model_folder_is_added_through_the_own_dialog() {
    let sandbox = Sandbox::new();
    let mut harness = started(&sandbox);
    harness.state_mut().settings_mut().file_dialogs = FileDialogChoice::Pentimento;
    click(&mut harness, "Models…");
    click(&mut harness, "Add folder…");
    assert_eq!(
        harness.state().file_browser().expect("open").kind(),
        DialogKind::ModelFolder
    );
    let model = pentimento_tests::fixture_model("tiny-sd");
    fill(&mut harness, "Location", &model.display().to_string());
    click(&mut harness, "Go");
    // The folder's files are listed for orientation.
    harness.get_by_label("🗋 model_index.json");
    click(&mut harness, "Choose this folder");
    assert!(harness.state().file_browser().is_none());
    assert_eq!(
        harness.state().modal(),
        Some(&Modal::Models),
        "the manager stays open"
    );
    assert!(
        harness
            .state()
            .settings()
            .models
            .iter()
            .any(|entry| entry.path == model),
        "the model was added"
    );
    assert_eq!(
        harness
            .state()
            .settings()
            .dialog_folders
            .get("model-folder"),
        model.parent().map(Path::to_path_buf).as_ref(),
        "the next model folder dialog starts beside this one"
    );
}

#[test]
fn a_typed_path_opens_the_file_at_once() {
    let sandbox = Sandbox::new();
    let image = sandbox.path("typed.png");
    write_image(&image, 40, 30, 3);
    let mut harness = started(&sandbox);
    harness.state_mut().settings_mut().file_dialogs = FileDialogChoice::Pentimento;
    press(&mut harness, Modifiers::COMMAND, Key::O);
    fill(&mut harness, "Location", &image.display().to_string());
    click(&mut harness, "Go");
    assert!(
        harness.state().file_browser().is_none(),
        "the dialog closed"
    );
    let document = harness.state().document();
    assert_eq!(
        (document.width(), document.height()),
        (40, 30),
        "the image opened"
    );
}

#[test]
fn settings_sign_exports_in_the_artists_name_and_export_the_local_root() {
    let sandbox = Sandbox::new();
    let mut harness = started(&sandbox);
    click_menu(&mut harness, "File", "Settings…");
    harness
        .get_by_label("Your name in exports' Content Credentials")
        .click();
    harness.run();
    harness
        .get_by_label("Your name in exports' Content Credentials")
        .type_text("Ada Painter");
    harness.run();
    click(&mut harness, "Allowed");
    assert_eq!(harness.state().settings().artist_name, "Ada Painter");
    assert_eq!(
        harness.state().settings().training,
        pentimento::credentials::TrainingUse::Allowed
    );
    let root = sandbox.path("root.pem");
    sandbox
        .dialogs
        .answer(DialogKind::ExportCertificate, Some(root.clone()));
    harness
        .get_by_label("Export the local root certificate…")
        .click();
    harness.run();
    let pem = std::fs::read_to_string(&root).expect("the root was written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let identity =
        pentimento::credentials::SigningIdentity::load(&sandbox.folders().identity_dir())
            .expect("reads")
            .expect("made");
    assert_eq!(identity.signer, "Ada Painter");
    assert_eq!(identity.root_pem.as_deref(), Some(pem.as_str()));
}

#[test]
fn settings_take_the_artists_own_certificate() {
    let sandbox = Sandbox::new();
    // The artist's chain and key, as PEM files (made here the way a local identity is).
    let own = pentimento::credentials::SigningIdentity::make_local("Studio Ada").expect("made");
    let elsewhere = sandbox.path("own");
    own.save(&elsewhere).expect("saved");
    let mut harness = started(&sandbox);
    click_menu(&mut harness, "File", "Settings…");
    sandbox.dialogs.answer(
        DialogKind::OpenCertificate,
        Some(elsewhere.join("chain.pem")),
    );
    sandbox
        .dialogs
        .answer(DialogKind::OpenKey, Some(elsewhere.join("signing-key.pem")));
    click(&mut harness, "Use my own certificate…");
    let notice = pentimento_tests::last_notice(&harness);
    assert_eq!(
        notice,
        "Exports are signed with your own certificate from now on."
    );
    let identity =
        pentimento::credentials::SigningIdentity::load(&sandbox.folders().identity_dir())
            .expect("reads")
            .expect("saved");
    assert_eq!(
        identity.kind,
        pentimento::credentials::IdentityKind::Imported
    );
    assert_eq!(identity.chain_pem, own.chain_pem);
}

#[test]
fn opening_a_signed_image_shows_its_credentials() {
    let sandbox = Sandbox::new();
    let signed = sandbox.path("signed.png");
    let document = pentimento::document::Document::new(64, 48).expect("document");
    let identity =
        pentimento::credentials::SigningIdentity::make_local("Ada Painter").expect("identity");
    pentimento::credentials::export::export_png(
        &document,
        &signed,
        Some(&identity),
        &pentimento::credentials::manifest::ExportChoices::default(),
    )
    .expect("exported");
    let mut harness = started(&sandbox);
    open_with_shortcut(&mut harness, &sandbox, signed.clone());
    assert!(
        matches!(harness.state().modal(), Some(Modal::Credentials { .. })),
        "{:?}",
        harness.state().modal()
    );
    harness.get_by_label("Content Credentials");
    harness.get_by_label("signed.png");
    harness.get_by_label(
        "credentials   Valid, signer not on a trust list (a local identity reads so until its root is trusted)",
    );
    harness.get_by_label("signed by     Ada Painter");
    click(&mut harness, "Close");
    assert!(harness.state().modal().is_none());

    // An image without credentials opens without the panel.
    let plain = sandbox.path("plain.png");
    write_image(&plain, 32, 32, 3);
    open_with_shortcut(&mut harness, &sandbox, plain);
    assert!(
        harness.state().modal().is_none(),
        "{:?}",
        harness.state().modal()
    );
}

#[test]
fn the_export_dialog_chooses_format_quality_prompts_and_training_for_one_export() {
    let sandbox = Sandbox::new();
    // A project with a painted layer and a generative layer with its log.
    let project =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/ora_reader/project.ora");
    let mut options = sandbox.options();
    options.open = Some(project);
    let mut harness = start(options);
    harness.run();
    click_menu(&mut harness, "File", "Export…");
    assert!(
        matches!(harness.state().modal(), Some(Modal::Export(_))),
        "{:?}",
        harness.state().modal()
    );
    // It says what the picture is made of and who signs, before a file is chosen.
    harness.get_by_label(
        "The flattened picture: 38.1% painted by hand, 61.9% generated, 0.0% generated then painted over.",
    );
    click(&mut harness, "JPEG");
    harness.run();
    assert!(
        harness.query_all_by_label("Quality").next().is_some(),
        "JPEG offers a quality"
    );
    harness.get_by_label("Show the prompts").click();
    click(&mut harness, "Allowed");
    let exported = sandbox.path("picture.jpg");
    sandbox
        .dialogs
        .answer(DialogKind::ExportJpeg, Some(exported.clone()));
    click(&mut harness, "Export…");
    assert!(harness.state().modal().is_none());
    assert_eq!(
        pentimento_tests::last_notice(&harness),
        "Exported picture.jpg, signed as Pentimento artist."
    );
    let bytes = std::fs::read(&exported).expect("the JPEG was written");
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG");
    let read = pentimento::credentials::verify(&bytes, "image/jpeg", None).expect("credentials");
    assert_eq!(read.state, "Valid", "{:?}", read.statuses);
    assert!(
        read.training.iter().all(|(_, choice)| choice == "allowed"),
        "{:?}",
        read.training
    );
    let text = read.json.to_string();
    assert!(
        !text.contains("\"prompt\""),
        "no prompt in the credentials: {text}"
    );
    // This export's choices are its own: Settings keep theirs; the format is remembered.
    let settings = harness.state().settings();
    assert!(settings.show_prompt);
    assert_eq!(
        settings.training,
        pentimento::credentials::TrainingUse::NotAllowed
    );
    assert_eq!(settings.export.kind, pentimento::settings::ExportKind::Jpeg);

    // Without credentials, a name without an extension gets the format's.
    click_menu(&mut harness, "File", "Export…");
    click(&mut harness, "WebP (lossless)");
    click(&mut harness, "Sign Content Credentials");
    harness.get_by_label(
        "Without Content Credentials nothing in the file proves which parts you painted and which were generated.",
    );
    sandbox
        .dialogs
        .answer(DialogKind::ExportWebp, Some(sandbox.path("unsigned")));
    click(&mut harness, "Export…");
    assert_eq!(
        pentimento_tests::last_notice(&harness),
        "Exported unsigned.webp without Content Credentials."
    );
    let bytes = std::fs::read(sandbox.path("unsigned.webp")).expect("the WebP was written");
    assert_eq!(&bytes[8..12], b"WEBP");
    let read = pentimento::credentials::verify(&bytes, "image/webp", None);
    assert!(
        read.map_or(true, |read| read.json.get("active_manifest").is_none()),
        "no credentials"
    );
}
