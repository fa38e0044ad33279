// Draws the document: the composite (premultiplied) over a transparency checkerboard, inside
// the workspace, with the inpainting mask as a tinted overlay and, when asked, the provenance
// overlay (generated areas blue, generated-then-painted violet, hand-painted green). One
// triangle covers the canvas area; the fragment stage maps each screen pixel back to a document
// pixel. Uses shared/checkerboard.wgsl.

struct CanvasUniforms {
    // Top-left corner of the document, in framebuffer pixels.
    origin: vec2<f32>,
    // Framebuffer pixels per document pixel (zoom × display scale).
    scale: f32,
    // Size of a checkerboard cell, in framebuffer pixels.
    checker_size: f32,
    // Document size in document pixels.
    document_size: vec2<f32>,
    // 1.0 to read the document with nearest-neighbour (zoomed in), 0.0 for linear filtering.
    nearest: f32,
    // Opacity of the mask tint (0 hides the mask).
    mask_opacity: f32,
    // Opacity of the provenance overlay (0 hides it).
    provenance_opacity: f32,
    _padding: vec3<f32>,
};

@group(0) @binding(0) var<uniform> canvas: CanvasUniforms;
@group(0) @binding(1) var composite_texture: texture_2d<f32>;
// One sampler only: OpenGL backends cannot pair a texture with two samplers. Nearest-neighbour
// reads use textureLoad instead.
@group(0) @binding(2) var linear_sampler: sampler;
@group(0) @binding(3) var mask_texture: texture_2d<f32>;
@group(0) @binding(4) var provenance_texture: texture_2d<f32>;

const MASK_TINT: vec3<f32> = vec3<f32>(1.0, 0.24, 0.47);

// The vertex stage is shared/fullscreen.wgsl.

fn provenance_tint(category: u32) -> vec4<f32> {
    if category == 2u {
        return vec4<f32>(0.16, 0.45, 1.0, 1.0);
    } else if category == 3u {
        return vec4<f32>(0.62, 0.3, 0.95, 1.0);
    } else if category == 1u {
        return vec4<f32>(0.25, 0.8, 0.35, 1.0);
    } else if category == 4u {
        return vec4<f32>(0.95, 0.65, 0.15, 1.0);
    } else if category == 5u {
        return vec4<f32>(0.75, 0.45, 0.25, 1.0);
    }
    return vec4<f32>(0.0);
}

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    let from_origin = in.position.xy - canvas.origin;
    let document_position = from_origin / canvas.scale;
    let uv = document_position / canvas.document_size;

    // Sampled unconditionally: texture sampling must stay in uniform control flow.
    let smooth_texel = textureSampleLevel(composite_texture, linear_sampler, uv, 0.0);
    let last_texel = vec2<i32>(canvas.document_size) - vec2<i32>(1);
    let texel_index = clamp(vec2<i32>(floor(document_position)), vec2<i32>(0), last_texel);
    let sharp_texel = textureLoad(composite_texture, texel_index, 0);
    let texel = select(smooth_texel, sharp_texel, canvas.nearest > 0.5);
    let mask = textureLoad(mask_texture, texel_index, 0).r;
    let category = u32(round(textureLoad(provenance_texture, texel_index, 0).r * 255.0));

    let inside = all(document_position >= vec2<f32>(0.0)) && all(document_position < canvas.document_size);
    var color = over_opaque(texel, checkerboard(from_origin, canvas.checker_size));
    let tint = provenance_tint(category);
    color = mix(color, tint.rgb, tint.a * canvas.provenance_opacity);
    color = mix(color, MASK_TINT, mask * canvas.mask_opacity);
    return vec4<f32>(select(WORKSPACE_COLOR, color, inside), 1.0);
}
