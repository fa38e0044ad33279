// Composites the layers of one document tile into the composite texture: W3C compositing with
// premultiplied colour (normal, multiply, screen), layer opacity. The layers' tiles sit in an
// array texture (straight alpha, as the document stores them). A generative layer's tile comes
// unshaped — colour as generated with the mask in alpha, its distance field in a second array,
// the fully colour-matched colour in the next slot — and is shaped here exactly as
// GenerativeLayer::render_tile does on the CPU (integer arithmetic, so the bytes agree). The CPU
// reference compositor in app/src/document/compositor.rs computes the same; tests compare the
// two.

const MAX_LAYERS: u32 = 64u;

struct LayerSlot {
    // Index into the tile array, or -1 for a layer with nothing in this tile.
    slot: i32,
    // 0 normal, 1 multiply, 2 screen.
    blend: u32,
    opacity: f32,
    // 0 pixels as they are; 1 generative, the mask's own alpha; 2 generative, alpha shaped
    // from the distance field.
    kind: u32,
    // The fully matched colour's slot, or -1 when colour match does not show.
    matched_slot: i32,
    // The edge and the ramp width, in distance units (1/64 px).
    edge: i32,
    width: i32,
    // The match strength in 1/256.
    weight: u32,
};

struct TileJob {
    // Top-left of the tile in document pixels.
    origin: vec2<u32>,
    layer_count: u32,
    _padding: u32,
    layers: array<LayerSlot, MAX_LAYERS>,
};

@group(0) @binding(0) var<uniform> job: TileJob;
@group(0) @binding(1) var tiles: texture_2d_array<f32>;
@group(0) @binding(2) var distances: texture_2d_array<i32>;

// The vertex stage is shared/fullscreen.wgsl.

fn blend(mode: u32, source: vec4<f32>, backdrop: vec4<f32>) -> vec4<f32> {
    let sa = source.a;
    let ba = backdrop.a;
    var color: vec3<f32>;
    if mode == 1u {
        color = source.rgb * backdrop.rgb + source.rgb * (1.0 - ba) + backdrop.rgb * (1.0 - sa);
    } else if mode == 2u {
        color = source.rgb + backdrop.rgb - source.rgb * backdrop.rgb;
    } else {
        color = source.rgb + backdrop.rgb * (1.0 - sa);
    }
    return vec4<f32>(color, sa + ba * (1.0 - sa));
}

// A normalised texel channel back to its byte.
fn byte(value: f32) -> u32 {
    return u32(round(clamp(value, 0.0, 1.0) * 255.0));
}

// Alpha byte at signed distance d: the smooth ramp 3t² − 2t³ of t = ½ − (d − edge) / width,
// with t in 1/4096 (as Shading::alpha).
fn edge_alpha(d: i32, edge: i32, width: i32) -> u32 {
    let w = max(width, 1);
    let numerator = clamp(w - 2 * (d - edge), 0, 2 * w);
    let t = u32(numerator * 2048 / w);
    let squared = (t * t) >> 12u;
    let ramp = (squared * (12288u - 2u * t)) >> 12u;
    return (ramp * 255u + 2048u) >> 12u;
}

// A generative layer's texel, shaped: straight RGBA.
fn shaped(layer: LayerSlot, local: vec2<i32>) -> vec4<f32> {
    let texel = textureLoad(tiles, local, layer.slot, 0);
    var alpha = byte(texel.a);
    if layer.kind == 2u {
        alpha = edge_alpha(textureLoad(distances, local, layer.slot, 0).r, layer.edge, layer.width);
    }
    if alpha == 0u {
        return vec4<f32>(0.0);
    }
    var rgb = vec3<u32>(byte(texel.r), byte(texel.g), byte(texel.b));
    if layer.matched_slot >= 0 {
        let matched = textureLoad(tiles, local, layer.matched_slot, 0);
        let to = vec3<u32>(byte(matched.r), byte(matched.g), byte(matched.b));
        rgb = (rgb * (256u - layer.weight) + to * layer.weight + vec3<u32>(128u)) >> vec3<u32>(8u);
    }
    return vec4<f32>(vec3<f32>(rgb) / 255.0, f32(alpha) / 255.0);
}

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    // Position inside the tile.
    let local = vec2<i32>(floor(in.position.xy)) - vec2<i32>(job.origin);
    var accumulated = vec4<f32>(0.0);
    for (var i = 0u; i < job.layer_count; i = i + 1u) {
        let layer = job.layers[i];
        if layer.slot < 0 {
            continue;
        }
        var texel: vec4<f32>;
        if layer.kind == 0u {
            texel = textureLoad(tiles, local, layer.slot, 0);
        } else {
            texel = shaped(layer, local);
        }
        let alpha = texel.a * layer.opacity;
        if alpha <= 0.0 {
            continue;
        }
        accumulated = blend(layer.blend, vec4<f32>(texel.rgb * alpha, alpha), accumulated);
    }
    return accumulated;
}
