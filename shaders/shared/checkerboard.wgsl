// Colours shared by the canvas shaders. Everything here is in the display's gamma space, the
// space egui paints in, so the canvas and the panels around it match.

// The grey of the workspace around the canvas.
const WORKSPACE_COLOR: vec3<f32> = vec3<f32>(0.157, 0.161, 0.173);

// The two greys of the transparency checkerboard.
const CHECKER_LIGHT: vec3<f32> = vec3<f32>(0.800, 0.800, 0.800);
const CHECKER_DARK: vec3<f32> = vec3<f32>(0.600, 0.600, 0.600);

// The checkerboard colour at `position` (in screen pixels from the canvas origin), with square
// cells of `cell_size` screen pixels, so it stays the same size whatever the zoom.
fn checkerboard(position: vec2<f32>, cell_size: f32) -> vec3<f32> {
    let cell = floor(position / cell_size);
    let parity = (cell.x + cell.y) - 2.0 * floor((cell.x + cell.y) * 0.5);
    return select(CHECKER_LIGHT, CHECKER_DARK, parity > 0.5);
}

// Premultiplied `color` over an opaque `background`.
fn over_opaque(color: vec4<f32>, background: vec3<f32>) -> vec3<f32> {
    return color.rgb + background * (1.0 - color.a);
}
