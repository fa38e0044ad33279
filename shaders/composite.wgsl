// Composites the layers of one document tile into the composite texture: W3C compositing with
// premultiplied colour (normal, multiply, screen), layer opacity. The layers' tiles sit in an
// array texture (straight alpha, as the document stores them). The CPU reference compositor in
// app/src/document/compositor.rs computes the same; tests compare the two.

const MAX_LAYERS: u32 = 64u;

struct LayerSlot {
    // Index into the tile array, or -1 for a layer with nothing in this tile.
    slot: i32,
    // 0 normal, 1 multiply, 2 screen.
    blend: u32,
    opacity: f32,
    _padding: f32,
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
        let texel = textureLoad(tiles, local, layer.slot, 0);
        let alpha = texel.a * layer.opacity;
        if alpha <= 0.0 {
            continue;
        }
        accumulated = blend(layer.blend, vec4<f32>(texel.rgb * alpha, alpha), accumulated);
    }
    return accumulated;
}
