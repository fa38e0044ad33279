//! Draws the canvas on the GPU through an egui paint callback: the document texture over a
//! checkerboard, inside the workspace, using `shaders/canvas.wgsl`.

use egui_wgpu::wgpu;
use egui_wgpu::wgpu::util::DeviceExt as _;

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
    /// Keeps the block a multiple of 16 bytes.
    pub padding: f32,
}

/// GPU objects for the canvas, kept in egui-wgpu's callback resources.
pub struct CanvasGpu {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    linear_sampler: wgpu::Sampler,
    document: DocumentTexture,
}

struct DocumentTexture {
    texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
    size: [u32; 2],
}

impl CanvasGpu {
    /// Creates the pipeline for the window's target format and registers it with egui-wgpu.
    pub fn install(render_state: &egui_wgpu::RenderState, document_size: [u32; 2]) {
        let gpu = Self::new(
            &render_state.device,
            render_state.target_format,
            document_size,
        );
        render_state.renderer.write().callback_resources.insert(gpu);
    }

    fn new(
        device: &wgpu::Device,
        target_format: wgpu::TextureFormat,
        document_size: [u32; 2],
    ) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("canvas.wgsl"),
            source: wgpu::ShaderSource::Wgsl(shaders::CANVAS.composed().into()),
        });
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("canvas"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(size_of::<CanvasUniforms>() as u64),
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("canvas"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("canvas"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("canvas uniforms"),
            contents: bytemuck::bytes_of(&<CanvasUniforms as bytemuck::Zeroable>::zeroed()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let linear_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("canvas linear"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Linear,
            ..Default::default()
        });
        let document = DocumentTexture::new(
            device,
            &bind_group_layout,
            &uniforms,
            &linear_sampler,
            document_size,
        );
        Self {
            pipeline,
            bind_group_layout,
            uniforms,
            linear_sampler,
            document,
        }
    }

    /// Replaces the document texture with an empty (transparent) one of a new size.
    pub fn resize_document(&mut self, device: &wgpu::Device, size: [u32; 2]) {
        if self.document.size != size {
            self.document = DocumentTexture::new(
                device,
                &self.bind_group_layout,
                &self.uniforms,
                &self.linear_sampler,
                size,
            );
        }
    }

    /// Uploads premultiplied RGBA8 pixels into a rectangle of the document texture.
    pub fn upload_document_region(
        &self,
        queue: &wgpu::Queue,
        origin: [u32; 2],
        size: [u32; 2],
        premultiplied_rgba: &[u8],
    ) {
        debug_assert_eq!(
            premultiplied_rgba.len(),
            size[0] as usize * size[1] as usize * 4
        );
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &self.document.texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: origin[0],
                    y: origin[1],
                    z: 0,
                },
                aspect: wgpu::TextureAspect::All,
            },
            premultiplied_rgba,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(size[0] * 4),
                rows_per_image: Some(size[1]),
            },
            wgpu::Extent3d {
                width: size[0],
                height: size[1],
                depth_or_array_layers: 1,
            },
        );
    }
}

impl DocumentTexture {
    fn new(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        uniforms: &wgpu::Buffer,
        linear_sampler: &wgpu::Sampler,
        size: [u32; 2],
    ) -> Self {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("document"),
            size: wgpu::Extent3d {
                width: size[0].max(1),
                height: size[1].max(1),
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("canvas"),
            layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniforms.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(linear_sampler),
                },
            ],
        });
        Self {
            texture,
            bind_group,
            size,
        }
    }
}

/// One frame's canvas drawing, handed to egui-wgpu.
pub struct CanvasCallback {
    /// The view transform for this frame.
    pub uniforms: CanvasUniforms,
    /// The document size this frame shows.
    pub document_size: [u32; 2],
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
        if let Some(gpu) = resources.get_mut::<CanvasGpu>() {
            gpu.resize_document(device, self.document_size);
            queue.write_buffer(&gpu.uniforms, 0, bytemuck::bytes_of(&self.uniforms));
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
        render_pass.set_pipeline(&gpu.pipeline);
        render_pass.set_bind_group(0, &gpu.document.bind_group, &[]);
        render_pass.draw(0..3, 0..1);
    }
}
