//! Draws the canvas on the GPU through an egui paint callback: dirty document tiles are
//! composited by `shaders/composite.wgsl`, then `shaders/canvas.wgsl` shows the composite over a
//! checkerboard, inside the workspace, with the mask and provenance overlays.

use std::sync::Arc;

use egui_wgpu::wgpu;
use egui_wgpu::wgpu::util::DeviceExt as _;

use crate::canvas::compositor_gpu::{
    ChannelTexture, GpuCompositor, TileJob, fullscreen_pipeline, texture_layout, uniform_layout,
    view_entry,
};
use crate::document::tiles::{PixelRect, Tile};
use crate::shaders;

/// The uniform block of `canvas.wgsl`; field order and padding match the WGSL struct.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CanvasUniforms {
    /// Top-left corner of the document, in framebuffer pixels.
    pub origin: [f32; 2],
    /// Framebuffer pixels per document pixel.
    pub scale: f32,
    /// Checkerboard cell size, in framebuffer pixels.
    pub checker_size: f32,
    /// Document size in document pixels.
    pub document_size: [f32; 2],
    /// 1.0 for nearest-neighbour sampling, 0.0 for linear.
    pub nearest: f32,
    /// Opacity of the mask tint.
    pub mask_opacity: f32,
    /// Opacity of the provenance overlay.
    pub provenance_opacity: f32,
    /// Keeps the block a multiple of 16 bytes (WGSL's vec3 padding).
    pub padding: [f32; 7],
}

/// What changed in the document since the last frame, ready for the GPU.
#[derive(Debug, Default)]
pub struct FrameWork {
    /// Composite tiles to recompute.
    pub jobs: Vec<TileJob>,
    /// Mask tiles to upload (rect, tile).
    pub mask_tiles: Vec<(PixelRect, Option<Arc<Tile>>)>,
    /// Provenance tiles to upload (rect, 256×256 categories).
    pub provenance_tiles: Vec<(PixelRect, Vec<u8>)>,
    /// Set once the GPU has taken this work.
    pub consumed: Arc<std::sync::atomic::AtomicBool>,
}

/// The first graphics error wgpu reported, until the app shows it.
static GPU_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Takes the graphics error reported since the last call, if any.
pub fn take_gpu_error() -> Option<String> {
    GPU_ERROR.lock().ok().and_then(|mut slot| slot.take())
}

/// GPU objects for the canvas, kept in egui-wgpu's callback resources.
pub struct CanvasGpu {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    sampler: wgpu::Sampler,
    document: Option<DocumentGpu>,
}

struct DocumentGpu {
    compositor: GpuCompositor,
    bind_group: wgpu::BindGroup,
}

impl CanvasGpu {
    /// Creates the display pipeline for the window's target format and registers it.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        // wgpu's default reaction to an error nobody captured is a panic, which would take the
        // artist's window down; report it instead (the document lives on the CPU and is safe).
        render_state
            .device
            .on_uncaptured_error(Arc::new(|error: wgpu::Error| {
                eprintln!("graphics error: {error}");
                if let Ok(mut slot) = GPU_ERROR.lock() {
                    slot.get_or_insert_with(|| error.to_string());
                }
            }));
        let gpu = Self::new(&render_state.device, render_state.target_format);
        render_state.renderer.write().callback_resources.insert(gpu);
    }

    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("canvas.wgsl"),
            source: wgpu::ShaderSource::Wgsl(shaders::CANVAS.composed().into()),
        });
        let texture_entry = |binding| texture_layout(binding, wgpu::TextureViewDimension::D2, true);
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("canvas"),
            entries: &[
                uniform_layout(0, size_of::<CanvasUniforms>() as u64, false),
                texture_entry(1),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                texture_entry(3),
                texture_entry(4),
            ],
        });
        let pipeline =
            fullscreen_pipeline(device, "canvas", &module, &bind_group_layout, target_format);
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("canvas uniforms"),
            contents: bytemuck::bytes_of(&<CanvasUniforms as bytemuck::Zeroable>::zeroed()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("canvas linear"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Linear,
            ..Default::default()
        });
        Self {
            pipeline,
            bind_group_layout,
            uniforms,
            sampler,
            document: None,
        }
    }

    /// Makes sure the document textures match `size`; returns whether they were (re)created
    /// (then every tile must be uploaded again).
    fn ensure_document(&mut self, device: &wgpu::Device, size: [u32; 2]) -> bool {
        if self
            .document
            .as_ref()
            .is_some_and(|document| document.compositor.size() == size)
        {
            return false;
        }
        let compositor = GpuCompositor::new(device, size);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("canvas"),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.uniforms.as_entire_binding(),
                },
                view_entry(1, &compositor.composite_view),
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
                view_entry(3, &compositor.mask_view),
                view_entry(4, &compositor.provenance_view),
            ],
        });
        self.document = Some(DocumentGpu {
            compositor,
            bind_group,
        });
        true
    }
}

/// One frame's canvas drawing, handed to egui-wgpu.
pub struct CanvasCallback {
    /// The view transform and overlays for this frame.
    pub uniforms: CanvasUniforms,
    /// The document size this frame shows.
    pub document_size: [u32; 2],
    /// Tiles that changed since the last frame.
    pub work: Arc<FrameWork>,
    /// Set when the GPU lost its copy of the document and needs every tile again.
    pub needs_full_upload: Arc<std::sync::atomic::AtomicBool>,
}

impl egui_wgpu::CallbackTrait for CanvasCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(gpu) = resources.get_mut::<CanvasGpu>() else {
            return Vec::new();
        };
        if gpu.ensure_document(device, self.document_size) {
            // Fresh textures: this frame's work may be partial; ask for everything next frame.
            self.needs_full_upload
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        queue.write_buffer(&gpu.uniforms, 0, bytemuck::bytes_of(&self.uniforms));
        let Some(document) = gpu.document.as_ref() else {
            return Vec::new();
        };
        self.work
            .consumed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        document
            .compositor
            .composite_tiles(device, queue, &self.work.jobs);
        for (rect, tile) in &self.work.mask_tiles {
            document.compositor.upload_channel_tile(
                queue,
                ChannelTexture::Mask,
                *rect,
                tile.as_ref().map(|tile| tile.as_slice()),
            );
        }
        for (rect, tile) in &self.work.provenance_tiles {
            document.compositor.upload_channel_tile(
                queue,
                ChannelTexture::Provenance,
                *rect,
                Some(tile),
            );
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(gpu) = resources.get::<CanvasGpu>() else {
            return;
        };
        let Some(document) = gpu.document.as_ref() else {
            return;
        };
        render_pass.set_pipeline(&gpu.pipeline);
        render_pass.set_bind_group(0, &document.bind_group, &[]);
        render_pass.draw(0..3, 0..1);
    }
}
