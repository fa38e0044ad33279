//! Every WGSL file in `shaders/` parses and validates with naga: shared modules on their own,
//! entry-point shaders composed with the shared modules they import. A file on disk that the app
//! does not know about fails the test, so no shader escapes validation. Each entry-point shader is
//! also translated to the language of every wgpu backend (SPIR-V for Vulkan, GLSL ES for OpenGL,
//! MSL for Metal, HLSL for DirectX), because each has limits of its own: OpenGL, for one, cannot
//! pair a texture with two samplers.

use std::collections::BTreeSet;
use std::path::Path;

use pentimento::shaders::{SHADERS, SHARED_MODULES};
use pentimento_tests::shaders_dir;

fn validate(name: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|err| panic!("{name} does not parse:\n{}", err.emit_to_string(source)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|err| panic!("{name} does not validate:\n{}", err.emit_to_string(source)));
    (module, info)
}

/// Translates every entry point for every wgpu backend; returns the first failure.
fn translate_for_all_backends(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
) -> Result<(), String> {
    naga::back::spv::write_vec(module, info, &naga::back::spv::Options::default(), None)
        .map_err(|err| format!("SPIR-V (Vulkan): {err}"))?;
    naga::back::msl::write_string(
        module,
        info,
        &naga::back::msl::Options::default(),
        &naga::back::msl::PipelineOptions::default(),
    )
    .map_err(|err| format!("MSL (Metal): {err}"))?;
    let hlsl_options = naga::back::hlsl::Options::default();
    let hlsl_pipeline = naga::back::hlsl::PipelineOptions::default();
    naga::back::hlsl::Writer::new(String::new(), &hlsl_options, &hlsl_pipeline)
        .write(module, info, None)
        .map_err(|err| format!("HLSL (DirectX 12): {err}"))?;
    for entry_point in &module.entry_points {
        let options = naga::back::glsl::Options {
            version: naga::back::glsl::Version::new_gles(300),
            ..naga::back::glsl::Options::default()
        };
        let pipeline = naga::back::glsl::PipelineOptions {
            shader_stage: entry_point.stage,
            entry_point: entry_point.name.clone(),
            multiview: None,
        };
        let mut out = String::new();
        naga::back::glsl::Writer::new(
            &mut out,
            module,
            info,
            &options,
            &pipeline,
            naga::proc::BoundsCheckPolicies::default(),
        )
        .and_then(|mut writer| writer.write())
        .map_err(|err| format!("GLSL ES 3.0 (OpenGL), {}: {err}", entry_point.name))?;
    }
    Ok(())
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

/// The source compiled into the binary is the file under shaders/.
fn embedded_copy_matches_disk(path: &str, embedded: &str) {
    let disk = std::fs::read_to_string(shaders_dir().join(path)).expect("readable");
    assert_eq!(disk, embedded, "{path} differs from the embedded copy");
}

#[test]
fn every_wgsl_file_is_known_and_valid() {
    let mut on_disk = BTreeSet::new();
    wgsl_files(&shaders_dir(), "", &mut on_disk);
    assert!(!on_disk.is_empty(), "shaders/ holds no WGSL files");

    let mut known = BTreeSet::new();
    for module in SHARED_MODULES {
        embedded_copy_matches_disk(module.path, module.source);
        validate(module.path, module.source);
        known.insert(module.path.to_owned());
    }
    for shader in SHADERS {
        embedded_copy_matches_disk(shader.path, shader.source);
        let (module, info) = validate(shader.path, &shader.composed());
        if let Err(err) = translate_for_all_backends(&module, &info) {
            panic!("{} does not translate: {err}", shader.path);
        }
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
fn translation_rejects_what_opengl_cannot_do() {
    // Guards the backend check above: a texture read through two samplers validates as WGSL but
    // cannot be expressed in GLSL.
    let two_samplers = "
        @group(0) @binding(0) var image: texture_2d<f32>;
        @group(0) @binding(1) var first: sampler;
        @group(0) @binding(2) var second: sampler;
        @fragment fn fs_main(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
            return textureSampleLevel(image, first, p.xy, 0.0)
                + textureSampleLevel(image, second, p.xy, 0.0);
        }";
    let (module, info) = validate("two samplers", two_samplers);
    let err = translate_for_all_backends(&module, &info).expect_err("GLSL must refuse it");
    assert!(err.starts_with("GLSL"), "{err}");
}

#[test]
fn validation_rejects_broken_wgsl() {
    // Guards the test above against a validator that accepts anything.
    let broken = "@fragment fn fs_main() -> @location(0) vec4<f32> { return undefined_name; }";
    let parsed = naga::front::wgsl::parse_str(broken);
    assert!(parsed.is_err(), "an unknown identifier must not parse");
}
