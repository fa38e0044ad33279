//! Every WGSL file in `shaders/` parses and validates with naga: shared modules on their own,
//! entry-point shaders composed with the shared modules they import. A file on disk that the app
//! does not know about fails the test, so no shader escapes validation.

use std::collections::BTreeSet;
use std::path::Path;

use pentimento::shaders::{SHADERS, SHARED_MODULES};
use pentimento_tests::shaders_dir;

fn validate(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|err| panic!("{name} does not parse:\n{}", err.emit_to_string(source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|err| panic!("{name} does not validate:\n{}", err.emit_to_string(source)));
    module
}

fn wgsl_files(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("shaders/ is readable") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            wgsl_files(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".wgsl") {
            out.insert(format!("{prefix}{name}"));
        }
    }
}

#[test]
fn every_wgsl_file_is_known_and_valid() {
    let mut on_disk = BTreeSet::new();
    wgsl_files(&shaders_dir(), "", &mut on_disk);
    assert!(!on_disk.is_empty(), "shaders/ holds no WGSL files");

    let mut known = BTreeSet::new();
    for module in SHARED_MODULES {
        let disk = std::fs::read_to_string(shaders_dir().join(module.path)).expect("readable");
        assert_eq!(
            disk, module.source,
            "{} differs from the embedded copy",
            module.path
        );
        validate(module.path, module.source);
        known.insert(module.path.to_owned());
    }
    for shader in SHADERS {
        let disk = std::fs::read_to_string(shaders_dir().join(shader.path)).expect("readable");
        assert_eq!(
            disk, shader.source,
            "{} differs from the embedded copy",
            shader.path
        );
        let module = validate(shader.path, &shader.composed());
        let stages: BTreeSet<_> = module
            .entry_points
            .iter()
            .map(|entry| format!("{:?}", entry.stage))
            .collect();
        assert!(
            stages.contains("Vertex") && stages.contains("Fragment"),
            "{} must have a vertex and a fragment entry point, has {stages:?}",
            shader.path
        );
        known.insert(shader.path.to_owned());
    }
    assert_eq!(
        on_disk, known,
        "every WGSL file in shaders/ must be listed in app/src/shaders.rs"
    );
}

#[test]
fn validation_rejects_broken_wgsl() {
    // Guards the test above against a validator that accepts anything.
    let broken = "@fragment fn fs_main() -> @location(0) vec4<f32> { return undefined_name; }";
    let parsed = naga::front::wgsl::parse_str(broken);
    assert!(parsed.is_err(), "an unknown identifier must not parse");
}
