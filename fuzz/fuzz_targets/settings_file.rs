//! `settings.json` as Pentimento finds it at start, perhaps edited by hand or cut short: read
//! with every part that still reads kept. Whatever the text, reading must not panic or hang,
//! and the settings it gives must save and read back whole and unchanged.
#![no_main]

use pentimento::settings::Settings;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (settings, _) = Settings::read_text(data);
    let saved = serde_json::to_vec(&settings).expect("settings always serialize");
    let (again, problem) = Settings::read_text(&saved);
    assert_eq!(problem, None, "saved settings read back whole");
    assert_eq!(again, settings, "saved settings read back unchanged");
});
