//! The GPU compositor: composites document tiles with `shaders/composite.wgsl` into a
//! document-sized texture, uploading only the tiles that changed. Layer tiles for a batch of
//! composite tiles go into an array texture; each composite tile is one draw. A generative
//! layer's tiles go up unshaped (colour, mask, distance field, matched colour) and the shader
//! shapes them with the layer's grow, feather and match strength, as the CPU does — so changing
//! those is a GPU pass over tiles already prepared, not a CPU re-render.

use std::sync::Arc;

use egui_wgpu::wgpu;

use crate::document::generative::{GpuTile, Shading};
use crate::document::layer::{BlendMode, Layer, LayerContent};
use crate::document::tiles::{PixelRect, TILE, Tile};
use crate::shaders;

/// Layer tiles one batch can hold.
pub const ATLAS_SLOTS: u32 = 64;
/// Most layers the GPU compositor blends (the shader's `MAX_LAYERS`).
pub const MAX_LAYERS: usize = 64;
/// Composite tiles per batch (uniform buffer size).
const JOBS_PER_BATCH: usize = 64;
/// Bytes per layer slot in the uniform buffer (the shader's `LayerSlot`).
const SLOT_SIZE: usize = 32;
/// Bytes per job in the uniform buffer: 16-byte header + 64 layer slots, rounded up to the
/// 256-byte dynamic offset alignment.
const JOB_SIZE: u64 = 16 + (SLOT_SIZE * MAX_LAYERS) as u64;
const JOB_STRIDE: u64 = JOB_SIZE.div_ceil(256) * 256;

/// What a layer gives a composite tile.
#[derive(Clone, Debug)]
pub enum TileSource {
    /// Pixels as they are (straight RGBA).
    Pixels(Arc<Tile>),
    /// A generative layer's unshaped tile and how to shape it.
    Generative {
        /// Colour, mask, distance and matched colour.
        tile: Arc<GpuTile>,
        /// Grow, feather and match strength.
        shading: Shading,
    },
}

impl TileSource {
    /// Atlas slots it takes (colour, and matched colour when shown).
    fn slots(&self) -> u32 {
        match self {
            Self::Pixels(_) => 1,
            Self::Generative { tile, shading } => {
                1 + u32::from(tile.matched.is_some() && shading.weight > 0)
            }
        }
    }
}

/// One layer's contribution to a composite tile.
#[derive(Clone, Debug)]
pub struct TileLayer {
    /// What it has there.
    pub source: TileSource,
    /// Layer opacity.
    pub opacity: f32,
    /// Blend mode.
    pub blend: BlendMode,
}

/// One composite tile to recompute.
#[derive(Clone, Debug)]
pub struct TileJob {
    /// Where it is in the document.
    pub rect: PixelRect,
    /// Visible layers, bottom to top.
    pub layers: Vec<TileLayer>,
}

impl TileJob {
    /// The job for document tile `index` of `layers`.
    pub fn for_tile(layers: &[Layer], index: usize) -> Option<Self> {
        let rect = layers.first()?.tile_rect(index);
        let layers = layers
            .iter()
            .filter(|layer| layer.properties.visible && layer.properties.opacity > 0.0)
            .filter_map(|layer| {
                let source = match &layer.content {
                    LayerContent::Paint(pixels) => TileSource::Pixels(pixels.tile(index)?.clone()),
                    LayerContent::Generative(generative) => TileSource::Generative {
                        tile: generative.gpu_tile(index)?,
                        shading: generative.shading(),
                    },
                };
                Some(TileLayer {
                    source,
                    opacity: layer.properties.opacity.clamp(0.0, 1.0),
                    blend: layer.properties.blend,
                })
            })
            .take(MAX_LAYERS)
            .collect();
        Some(Self { rect, layers })
    }
}

/// GPU objects of the compositor for one document size.
pub struct GpuCompositor {
    size: [u32; 2],
    pipeline: wgpu::RenderPipeline,
    atlas: wgpu::Texture,
    /// Generative layers' distance fields, one layer per colour slot (`R16Sint`).
    distances: wgpu::Texture,
    jobs: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    composite: wgpu::Texture,
    /// The composite, premultiplied RGBA8.
    pub composite_view: wgpu::TextureView,
    mask: wgpu::Texture,
    /// The mask, R8.
    pub mask_view: wgpu::TextureView,
    provenance: wgpu::Texture,
    /// The provenance categories, R8 (0 empty, 1 hand, 2 generated, 3 generated then painted,
    /// 4 filled, 5 filled then painted).
    pub provenance_view: wgpu::TextureView,
}

fn document_texture(
    device: &wgpu::Device,
    size: [u32; 2],
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
    label: &str,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: size[0].max(1),
            height: size[1].max(1),
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// `ATLAS_SLOTS` tile-sized layers that uploads fill and the shader reads, with its array view.
fn tile_slots(
    device: &wgpu::Device,
    label: &str,
    format: wgpu::TextureFormat,
) -> (wgpu::Texture, wgpu::TextureView) {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: TILE,
            height: TILE,
            depth_or_array_layers: ATLAS_SLOTS,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor {
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..Default::default()
    });
    (texture, view)
}

/// A fragment-stage texture binding.
pub(crate) fn texture_layout(
    binding: u32,
    dimension: wgpu::TextureViewDimension,
    filterable: bool,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable },
            view_dimension: dimension,
            multisampled: false,
        },
        count: None,
    }
}

/// A fragment-stage uniform buffer binding of `size` bytes.
pub(crate) fn uniform_layout(binding: u32, size: u64, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: wgpu::BufferSize::new(size),
        },
        count: None,
    }
}

/// A texture view bound at `binding`.
pub(crate) fn view_entry(binding: u32, view: &wgpu::TextureView) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::TextureView(view),
    }
}

impl GpuCompositor {
    /// Creates the compositor for a document size.
    pub fn new(device: &wgpu::Device, size: [u32; 2]) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("composite.wgsl"),
            source: wgpu::ShaderSource::Wgsl(shaders::COMPOSITE.composed().into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("composite"),
            entries: &[
                uniform_layout(0, JOB_SIZE, true),
                texture_layout(1, wgpu::TextureViewDimension::D2Array, false),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Sint,
                        view_dimension: wgpu::TextureViewDimension::D2Array,
                        multisampled: false,
                    },
                    count: None,
                },
            ],
        });
        let pipeline = fullscreen_pipeline(
            device,
            "composite",
            &module,
            &layout,
            wgpu::TextureFormat::Rgba8Unorm,
        );
        let (atlas, atlas_view) =
            tile_slots(device, "layer tiles", wgpu::TextureFormat::Rgba8Unorm);
        let (distances, distances_view) =
            tile_slots(device, "generative distances", wgpu::TextureFormat::R16Sint);
        let jobs = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("composite jobs"),
            size: JOB_STRIDE * JOBS_PER_BATCH as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("composite"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &jobs,
                        offset: 0,
                        size: wgpu::BufferSize::new(JOB_SIZE),
                    }),
                },
                view_entry(1, &atlas_view),
                view_entry(2, &distances_view),
            ],
        });
        let composite = document_texture(
            device,
            size,
            wgpu::TextureFormat::Rgba8Unorm,
            wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC,
            "composite",
        );
        // One byte per pixel, written from the document.
        let uploaded = |label| {
            document_texture(
                device,
                size,
                wgpu::TextureFormat::R8Unorm,
                wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                label,
            )
        };
        let mask = uploaded("mask");
        let provenance = uploaded("provenance");
        Self {
            size,
            pipeline,
            atlas,
            distances,
            jobs,
            bind_group,
            composite_view: composite.create_view(&wgpu::TextureViewDescriptor::default()),
            composite,
            mask_view: mask.create_view(&wgpu::TextureViewDescriptor::default()),
            mask,
            provenance_view: provenance.create_view(&wgpu::TextureViewDescriptor::default()),
            provenance,
        }
    }

    /// The document size it was made for.
    pub fn size(&self) -> [u32; 2] {
        self.size
    }

    /// Recomputes composite tiles. Each batch's tile uploads and draws are submitted together,
    /// so a later batch cannot overwrite tiles an earlier one still reads.
    pub fn composite_tiles(&self, device: &wgpu::Device, queue: &wgpu::Queue, jobs: &[TileJob]) {
        let mut start = 0;
        while start < jobs.len() {
            // Fill a batch up to the atlas and uniform capacity.
            let mut end = start;
            let mut slots = 0;
            while end < jobs.len() && end - start < JOBS_PER_BATCH {
                let needed: u32 = jobs[end]
                    .layers
                    .iter()
                    .map(|layer| layer.source.slots())
                    .sum();
                if slots + needed > ATLAS_SLOTS && end > start {
                    break;
                }
                slots += needed.min(ATLAS_SLOTS);
                end += 1;
            }
            self.composite_batch(device, queue, &jobs[start..end]);
            start = end;
        }
    }

    fn composite_batch(&self, device: &wgpu::Device, queue: &wgpu::Queue, jobs: &[TileJob]) {
        let mut uniforms = vec![0_u8; JOB_STRIDE as usize * jobs.len()];
        let mut slot = 0_u32;
        for (number, job) in jobs.iter().enumerate() {
            let base = number * JOB_STRIDE as usize;
            let write_u32 = |data: &mut [u8], at: usize, value: u32| {
                data[at..at + 4].copy_from_slice(&value.to_le_bytes());
            };
            write_u32(&mut uniforms, base, job.rect.x0);
            write_u32(&mut uniforms, base + 4, job.rect.y0);
            let mut count = 0_u32;
            for layer in &job.layers {
                let needed = layer.source.slots();
                if slot + needed > ATLAS_SLOTS {
                    break;
                }
                let at = base + 16 + count as usize * SLOT_SIZE;
                let colour_slot = slot;
                match &layer.source {
                    TileSource::Pixels(tile) => {
                        self.upload_slot(queue, colour_slot, tile);
                        // Kind 0: pixels as they are.
                        write_u32(&mut uniforms, at + 12, 0);
                    }
                    TileSource::Generative { tile, shading } => {
                        self.upload_slot(queue, colour_slot, &tile.colour);
                        let mut matched_slot = -1_i32;
                        if let Some(matched) = tile.matched.as_ref().filter(|_| shading.weight > 0)
                        {
                            matched_slot = (colour_slot + 1) as i32;
                            self.upload_slot(queue, colour_slot + 1, matched);
                        }
                        if shading.shaped {
                            self.upload_distance(queue, colour_slot, &tile.distance);
                        }
                        // Kind 1: the mask's own alpha; 2: shaped from the distance field.
                        write_u32(&mut uniforms, at + 12, if shading.shaped { 2 } else { 1 });
                        uniforms[at + 16..at + 20].copy_from_slice(&matched_slot.to_le_bytes());
                        uniforms[at + 20..at + 24].copy_from_slice(&shading.edge.to_le_bytes());
                        uniforms[at + 24..at + 28].copy_from_slice(&shading.width.to_le_bytes());
                        write_u32(&mut uniforms, at + 28, shading.weight);
                    }
                }
                write_u32(&mut uniforms, at, colour_slot);
                write_u32(&mut uniforms, at + 4, layer.blend.shader_index());
                uniforms[at + 8..at + 12].copy_from_slice(&layer.opacity.to_le_bytes());
                slot += needed;
                count += 1;
            }
            write_u32(&mut uniforms, base + 8, count);
        }
        queue.write_buffer(&self.jobs, 0, &uniforms);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("composite"),
        });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("composite"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.composite_view,
                    resolve_target: None,
                    depth_slice: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.pipeline);
            for (number, job) in jobs.iter().enumerate() {
                let rect = job.rect;
                if rect.is_empty() {
                    continue;
                }
                pass.set_viewport(
                    rect.x0 as f32,
                    rect.y0 as f32,
                    rect.width() as f32,
                    rect.height() as f32,
                    0.0,
                    1.0,
                );
                pass.set_scissor_rect(rect.x0, rect.y0, rect.width(), rect.height());
                pass.set_bind_group(0, &self.bind_group, &[(number as u64 * JOB_STRIDE) as u32]);
                pass.draw(0..3, 0..1);
            }
        }
        queue.submit([encoder.finish()]);
    }

    /// Uploads an RGBA8 tile into atlas slot `slot`.
    fn upload_slot(&self, queue: &wgpu::Queue, slot: u32, tile: &[u8]) {
        write_layer(queue, &self.atlas, slot, tile, 4);
    }

    /// Uploads a distance tile (`i16` little-endian) into the distance layer of `slot`.
    fn upload_distance(&self, queue: &wgpu::Queue, slot: u32, distance: &[u8]) {
        write_layer(queue, &self.distances, slot, distance, 2);
    }

    /// Uploads a single-channel document tile (mask or provenance) into its texture.
    pub fn upload_channel_tile(
        &self,
        queue: &wgpu::Queue,
        which: ChannelTexture,
        rect: PixelRect,
        tile: Option<&[u8]>,
    ) {
        if rect.is_empty() {
            return;
        }
        let zeros;
        let data = match tile {
            Some(data) => data,
            None => {
                zeros = vec![0_u8; (TILE * TILE) as usize];
                &zeros
            }
        };
        let texture = match which {
            ChannelTexture::Mask => &self.mask,
            ChannelTexture::Provenance => &self.provenance,
        };
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: rect.x0,
                    y: rect.y0,
                    z: 0,
                },
                aspect: wgpu::TextureAspect::All,
            },
            data,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(TILE),
                rows_per_image: Some(TILE),
            },
            wgpu::Extent3d {
                width: rect.width(),
                height: rect.height(),
                depth_or_array_layers: 1,
            },
        );
    }

    /// Reads the composite back (premultiplied RGBA8, row by row); for tests and exports of
    /// what is on screen.
    pub fn read_composite(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Vec<u8> {
        let [width, height] = self.size;
        let padded = (width * 4).div_ceil(256) * 256;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("composite readback"),
            size: u64::from(padded) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("readback"),
        });
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &self.composite,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        queue.submit([encoder.finish()]);
        let slice = buffer.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
        let mut out = Vec::with_capacity((width * height * 4) as usize);
        let Ok(mapped) = slice.get_mapped_range() else {
            return out;
        };
        for row in 0..height {
            let start = (row * padded) as usize;
            out.extend_from_slice(&mapped[start..start + (width * 4) as usize]);
        }
        out
    }
}

/// Writes one whole tile of `bytes_per_pixel` into layer `slot` of an array texture.
fn write_layer(
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    slot: u32,
    data: &[u8],
    bytes_per_pixel: u32,
) {
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d {
                x: 0,
                y: 0,
                z: slot,
            },
            aspect: wgpu::TextureAspect::All,
        },
        data,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(TILE * bytes_per_pixel),
            rows_per_image: Some(TILE),
        },
        wgpu::Extent3d {
            width: TILE,
            height: TILE,
            depth_or_array_layers: 1,
        },
    );
}

/// The single-channel document textures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelTexture {
    /// The inpainting mask.
    Mask,
    /// The provenance categories.
    Provenance,
}

/// A render pipeline that draws one full-screen triangle (`vs_main`) shaded by `fs_main` of
/// `module` into `format`, without blending.
pub(crate) fn fullscreen_pipeline(
    device: &wgpu::Device,
    label: &str,
    module: &wgpu::ShaderModule,
    bind_group_layout: &wgpu::BindGroupLayout,
    format: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(bind_group_layout)],
        immediate_size: 0,
    });
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("fs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}
