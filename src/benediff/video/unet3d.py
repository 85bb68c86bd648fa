"""Factorised (2+1)-D video U-Net predicting ε for clips (B, C, F, H, W).

Space and time are mixed separately: spatial (1,3,3) convolutions, temporal (k,1,1)
convolutions (the paper's choice; k = 3 by default), spatial self-attention only at low
resolutions, and optional temporal self-attention (the public code's choice). Only space is
down/up-sampled, so any number of frames F works. An optional condition (B, F, cond_dim) enters through an auxiliary
convolutional head added after the first convolution (classifier-free guidance baseline).
"""

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

TEMPORAL_MAX_DISTANCE = 32


class UNetConfigError(ValueError):
    """UNet3D hyper-parameters or inputs that do not fit together."""


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=t.device) * (-math.log(10000) / (half - 1)))
        angles = t.float()[:, None] * freqs[None, :]
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


def spatial_conv(c_in, c_out, kernel=3):
    return nn.Conv3d(c_in, c_out, (1, kernel, kernel), padding=(0, kernel // 2, kernel // 2))


class Block(nn.Module):
    """Spatial conv → GroupNorm → (scale, shift) → SiLU."""

    def __init__(self, dim, dim_out, groups):
        super().__init__()
        self.conv = spatial_conv(dim, dim_out)
        self.norm = nn.GroupNorm(groups, dim_out)

    def forward(self, x, scale_shift=None):
        x = self.norm(self.conv(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return F.silu(x)


class TemporalConv(nn.Module):
    """Residual GroupNorm → SiLU → (k,1,1) conv along frames (k odd, default 3)."""

    def __init__(self, dim, groups, kernel=3):
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim)
        # a (k,1,1) Conv3d written as Conv1d over frames: the same map, several times faster on CPU
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)

    def forward(self, x):
        b, _, f, h, w = x.shape
        seq = rearrange(F.silu(self.norm(x)), "b c f h w -> (b h w) c f")
        return x + rearrange(self.conv(seq), "(b h w) c f -> b c f h w", b=b, h=h, w=w)


class ResnetBlock(nn.Module):
    """Spatial block → temporal conv (optional) → spatial block, plus a residual 1×1×1 conv."""

    def __init__(self, dim, dim_out, *, time_emb_dim, groups, temporal_conv, temporal_kernel=3):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2))
        self.block1 = Block(dim, dim_out, groups)
        self.temporal = nn.Identity()
        if temporal_conv:
            self.temporal = TemporalConv(dim_out, groups, temporal_kernel)
        self.block2 = Block(dim_out, dim_out, groups)
        self.res_conv = nn.Conv3d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, time_emb):
        scale_shift = rearrange(self.mlp(time_emb), "b c -> b c 1 1 1").chunk(2, dim=1)
        h = self.block1(x, scale_shift)
        h = self.block2(self.temporal(h))
        return h + self.res_conv(x)


class SpatialAttention(nn.Module):
    """Residual multi-head self-attention over the h·w positions of each frame."""

    def __init__(self, dim, heads, dim_head, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, dim)
        self.to_qkv = nn.Conv3d(dim, heads * dim_head * 3, 1, bias=False)
        self.to_out = nn.Conv3d(heads * dim_head, dim, 1)

    def forward(self, x):
        b, _, f, h, w = x.shape
        qkv = self.to_qkv(self.norm(x)).chunk(3, dim=1)
        q, k, v = (rearrange(t, "b (n d) f h w -> (b f) n (h w) d", n=self.heads) for t in qkv)
        out = F.scaled_dot_product_attention(q, k, v)
        out = rearrange(out, "(b f) n (h w) d -> b (n d) f h w", b=b, f=f, h=h, w=w)
        return x + self.to_out(out)


class TemporalAttention(nn.Module):
    """Residual self-attention along frames at every position, with a learned relative bias."""

    def __init__(self, dim, heads, dim_head, groups, max_distance=TEMPORAL_MAX_DISTANCE):
        super().__init__()
        self.heads, self.max_distance = heads, max_distance
        self.norm = nn.GroupNorm(groups, dim)
        self.to_qkv = nn.Linear(dim, heads * dim_head * 3, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim)
        self.rel_bias = nn.Embedding(2 * max_distance + 1, heads)

    def forward(self, x):
        b, _, f, h, w = x.shape
        tokens = rearrange(self.norm(x), "b c f h w -> (b h w) f c")
        qkv = self.to_qkv(tokens).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "s f (n d) -> s n f d", n=self.heads) for t in qkv)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self._bias(f, x.device).to(q.dtype))
        out = self.to_out(rearrange(out, "s n f d -> s f (n d)"))
        return x + rearrange(out, "(b h w) f c -> b c f h w", b=b, h=h, w=w)

    def _bias(self, frames, device):
        pos = torch.arange(frames, device=device)
        rel = (pos[None, :] - pos[:, None]).clamp(
            -self.max_distance, self.max_distance
        ) + self.max_distance
        return rearrange(self.rel_bias(rel), "i j n -> n i j")


class Downsample(nn.Module):
    """Halve h and w (rounding up) with a strided spatial conv; frames untouched."""

    def __init__(self, dim, dim_out):
        super().__init__()
        self.conv = nn.Conv3d(dim, dim_out, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest upsampling to the skip connection's h, w (so odd sizes round-trip), then conv."""

    def __init__(self, dim, dim_out):
        super().__init__()
        self.conv = spatial_conv(dim, dim_out)

    def forward(self, x, size):
        return self.conv(F.interpolate(x, size=(x.shape[2], *size), mode="nearest"))


class CondHead(nn.Module):
    """Auxiliary conv head: condition (B, F, cond_dim) → feature offset (B, dim, F, 1, 1).

    Bias-free, so a zero condition adds exactly nothing (= unconditional) unless ``indicator`` adds
    a "condition present" channel that tells a zero condition apart from a dropped one.
    """

    def __init__(self, cond_dim, dim, indicator):
        super().__init__()
        self.indicator = indicator
        c_in = cond_dim + int(indicator)
        self.net = nn.Sequential(
            nn.Conv1d(c_in, dim, 3, padding=1, bias=False),
            nn.SiLU(),
            nn.Conv1d(dim, dim, 3, padding=1, bias=False),
        )

    def forward(self, cond, keep):
        cond = cond * keep[:, None, None]
        if self.indicator:
            flag = keep[:, None, None].expand(-1, cond.shape[1], 1)
            cond = torch.cat((cond, flag), dim=-1)
        out = self.net(rearrange(cond, "b f d -> b d f"))
        return rearrange(out, "b c f -> b c f 1 1")


class UNet3D(nn.Module):
    """ε-prediction network for video clips (B, C, F, H, W).

    attn_resolutions: downsampling factors (1 = input resolution, 2, 4, …) at which spatial
    self-attention runs; the middle block always attends. temporal_attention / temporal_conv pick
    how frames are mixed (paper: conv only; public code: attention only).
    """

    def __init__(
        self,
        channels=1,
        dim=16,
        dim_mults=(1, 2),
        groups=8,
        attn_resolutions=(),
        temporal_attention=False,
        cond_dim=None,
        *,
        temporal_conv=True,
        temporal_kernel=3,
        attn_heads=4,
        attn_dim_head=32,
        cond_indicator=False,
    ):
        super().__init__()
        dims = [dim * m for m in dim_mults]
        _check_sizes(dims, groups, temporal_kernel)
        self.config = dict(
            channels=channels, dim=dim, dim_mults=list(dim_mults), groups=groups,
            attn_resolutions=list(attn_resolutions), temporal_attention=temporal_attention,
            cond_dim=cond_dim, temporal_conv=temporal_conv, temporal_kernel=temporal_kernel,
            attn_heads=attn_heads, attn_dim_head=attn_dim_head, cond_indicator=cond_indicator,
        )  # fmt: skip
        time_dim = dim * 4
        self.time_mlp = nn.Sequential(
            SinusoidalPosEmb(dim),
            nn.Linear(dim, time_dim),
            nn.GELU(),
            nn.Linear(time_dim, time_dim),
        )
        self.init_conv = spatial_conv(channels, dim, kernel=7)
        self.cond_head = CondHead(cond_dim, dim, cond_indicator) if cond_dim else None

        def resnet(a, b):
            return ResnetBlock(a, b, time_emb_dim=time_dim, groups=groups,
                               temporal_conv=temporal_conv, temporal_kernel=temporal_kernel)  # fmt: skip

        def spatial_attn(d):
            return SpatialAttention(d, attn_heads, attn_dim_head, groups)

        def temporal_attn(d):
            if not temporal_attention:
                return nn.Identity()
            return TemporalAttention(d, attn_heads, attn_dim_head, groups)

        def mixers(d, factor):
            return spatial_attn(d) if factor in attn_resolutions else nn.Identity(), temporal_attn(d)

        in_out = list(zip([dim] + dims[:-1], dims))
        self.downs, self.ups = nn.ModuleList(), nn.ModuleList()
        for level, (d_in, d_out) in enumerate(in_out):
            last = level == len(in_out) - 1
            self.downs.append(nn.ModuleList([
                resnet(d_in, d_out), resnet(d_out, d_out), *mixers(d_out, 2**level),
                nn.Identity() if last else Downsample(d_out, d_out),
            ]))  # fmt: skip
        mid = dims[-1]
        self.mid1, self.mid2 = resnet(mid, mid), resnet(mid, mid)
        self.mid_spatial, self.mid_temporal = spatial_attn(mid), temporal_attn(mid)
        for level, (d_in, d_out) in reversed(list(enumerate(in_out))):
            first = level == 0
            self.ups.append(nn.ModuleList([
                resnet(d_out * 2, d_in), resnet(d_in, d_in), *mixers(d_in, 2**level),
                nn.Identity() if first else Upsample(d_in, d_in),
            ]))  # fmt: skip
        self.final_res = resnet(dim * 2, dim)
        self.final_conv = nn.Conv3d(dim, channels, 1)

    def forward(self, x, t, cond=None, cond_keep=None):
        """x (B, C, F, H, W), t (B,) → ε (B, C, F, H, W).

        cond (B, F, cond_dim) or None (= unconditional); cond_keep (B,) 0/1 drops the condition
        per sample (classifier-free guidance training).
        """
        self._check_input(x, t, cond)
        t_emb = self.time_mlp(t)
        h = self.init_conv(x)
        if self.cond_head is not None and cond is not None:
            keep = torch.ones(len(x)) if cond_keep is None else cond_keep
            h = h + self.cond_head(cond.to(h), keep.to(h))
        stem = h
        skips = []
        for res1, res2, spatial, temporal, down in self.downs:
            h = temporal(spatial(res2(res1(h, t_emb), t_emb)))
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_temporal(self.mid_spatial(self.mid1(h, t_emb))), t_emb)
        for res1, res2, spatial, temporal, up in self.ups:
            h = torch.cat((h, skips.pop()), dim=1)
            h = temporal(spatial(res2(res1(h, t_emb), t_emb)))
            if skips:  # up to the next (shallower) skip's size, so odd sizes round-trip
                h = up(h, skips[-1].shape[-2:])
        return self.final_conv(self.final_res(torch.cat((h, stem), dim=1), t_emb))

    def _check_input(self, x, t, cond):
        channels, cond_dim = self.config["channels"], self.config["cond_dim"]
        if x.ndim != 5 or x.shape[1] != channels:
            raise UNetConfigError(
                f"UNet3D input has shape {tuple(x.shape)}; expected (batch, {channels}, frames, h, w): "
                "model channels must equal the latent channels"
            )
        if t.shape != (x.shape[0],):
            raise UNetConfigError(
                f"timesteps have shape {tuple(t.shape)}; expected ({x.shape[0]},)"
            )
        if cond is None:
            return
        if not cond_dim:
            raise UNetConfigError(
                "a condition was passed but the UNet3D has no cond_dim; set model cond_dim"
            )
        if tuple(cond.shape) != (x.shape[0], x.shape[2], cond_dim):
            raise UNetConfigError(
                f"condition has shape {tuple(cond.shape)}; expected (batch, frames, cond_dim) = "
                f"({x.shape[0]}, {x.shape[2]}, {cond_dim})"
            )


def _check_sizes(dims, groups, temporal_kernel):
    if temporal_kernel < 1 or temporal_kernel % 2 == 0:
        raise UNetConfigError(
            f"UNet3D temporal_kernel={temporal_kernel} must be an odd positive integer"
        )
    bad = [d for d in dims if d % groups]
    if bad:
        raise UNetConfigError(
            f"UNet3D channel widths {dims} are not all divisible by groups={groups}; "
            "choose dim and dim_mults so every dim·mult is a multiple of groups"
        )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
